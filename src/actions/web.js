// Web classes for Lit Actions (TextEncoder/TextDecoder, URL/URLSearchParams, Headers, Request,
// Response), kept out of the prelude: compiled once per process and loaded into a run's context
// only when the action first touches one of them (see `web` in prelude.js), so actions that
// never do pay nothing. Its value is a function of the prelude's shared helpers (`host` is the
// utils group of natives: UTF-8 and URL functions).
(function (host, toUint8, jsonStringify, jsonParse, PromiseCtor) {
  "use strict";
  const { defineProperty, keys: objectKeys } = Object;
  class TextEncoder {
    get encoding() { return "utf-8"; }
    encode(input = "") { return host.utf8Encode(String(input)); }
    encodeInto(input, destination) {
      const bytes = host.utf8Encode(String(input));
      const written = Math.min(bytes.length, destination.length);
      destination.set(bytes.subarray(0, written));
      return { read: String(input).length, written };
    }
  }
  class TextDecoder {
    constructor(label = "utf-8", options = {}) {
      const name = String(label).trim().toLowerCase();
      if (name !== "utf-8" && name !== "utf8" && name !== "unicode-1-1-utf-8") {
        throw new RangeError(`The encoding label provided ('${label}') is not supported`);
      }
      this.fatal = !!options.fatal;
      this.ignoreBOM = !!options.ignoreBOM;
    }
    get encoding() { return "utf-8"; }
    decode(input) {
      if (input === undefined) return "";
      let text = host.utf8Decode(toUint8(input, "TextDecoder.decode input"), this.fatal);
      if (!this.ignoreBOM && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      return text;
    }
  }
  const formEncode = (s) => encodeURIComponent(s).replace(/%20/g, "+").replace(/[!'()~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  const formDecode = (s) => {
    const text = s.replace(/\+/g, " ");
    try { return decodeURIComponent(text); } catch { return text; }
  };
  class URLSearchParams {
    #list = [];
    #url = null;
    constructor(init = "") {
      if (typeof init === "string") {
        this.#parse(init);
      } else if (init instanceof URLSearchParams) {
        this.#list = init.#list.map(([k, v]) => [k, v]);
      } else if (init && typeof init[Symbol.iterator] === "function") {
        for (const pair of init) {
          const [k, v] = Array.from(pair);
          this.#list.push([String(k), String(v)]);
        }
      } else if (init && typeof init === "object") {
        for (const k of objectKeys(init)) this.#list.push([k, String(init[k])]);
      }
    }
    #parse(text) {
      this.#list = [];
      for (const part of String(text).replace(/^\?/, "").split("&")) {
        if (!part) continue;
        const at = part.indexOf("=");
        this.#list.push(at < 0 ? [formDecode(part), ""] : [formDecode(part.slice(0, at)), formDecode(part.slice(at + 1))]);
      }
    }
    static _bind(params, url, search) { params.#url = url; params.#parse(search); }
    static _reparse(params, search) { params.#parse(search); }
    #update() { if (this.#url) this.#url._setSearchFromParams(this.toString()); }
    get size() { return this.#list.length; }
    append(k, v) { this.#list.push([String(k), String(v)]); this.#update(); }
    delete(k, v) { k = String(k); this.#list = this.#list.filter(([a, b]) => a !== k || (v !== undefined && b !== String(v))); this.#update(); }
    get(k) { k = String(k); const hit = this.#list.find(([a]) => a === k); return hit ? hit[1] : null; }
    getAll(k) { k = String(k); return this.#list.filter(([a]) => a === k).map(([, b]) => b); }
    has(k, v) { k = String(k); return this.#list.some(([a, b]) => a === k && (v === undefined || b === String(v))); }
    set(k, v) {
      k = String(k); v = String(v);
      const at = this.#list.findIndex(([a]) => a === k);
      if (at < 0) this.#list.push([k, v]);
      else this.#list = this.#list.filter(([a], i) => a !== k || i === at).map((p, i) => (p[0] === k ? [k, v] : p));
      this.#update();
    }
    sort() { this.#list.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)); this.#update(); }
    forEach(fn, thisArg) { for (const [k, v] of this.#list) fn.call(thisArg, v, k, this); }
    *entries() { yield* this.#list.map(([k, v]) => [k, v]); }
    *keys() { for (const [k] of this.#list) yield k; }
    *values() { for (const [, v] of this.#list) yield v; }
    [Symbol.iterator]() { return this.entries(); }
    toString() { return this.#list.map(([k, v]) => `${formEncode(k)}=${formEncode(v)}`).join("&"); }
  }
  const urlParts = ["href", "origin", "protocol", "username", "password", "host", "hostname", "port", "pathname", "search", "hash"];
  class URL {
    #parts;
    #params;
    constructor(url, base) {
      this.#parts = host.parseUrl(String(url), base === undefined ? undefined : String(base));
      this.#params = new URLSearchParams();
      URLSearchParams._bind(this.#params, this, this.#parts.search);
    }
    static canParse(url, base) { try { new URL(url, base); return true; } catch { return false; } }
    // Setters go through the host: the `url` crate applies the WHATWG setter rules.
    static #set(url, name, value) {
      url.#parts = host.setUrlPart(url.#parts.href, name, String(value));
      URLSearchParams._reparse(url.#params, url.#parts.search);
    }
    static {
      for (const name of urlParts) {
        defineProperty(URL.prototype, name, {
          get() { return this.#parts[name]; },
          set: name === "origin" ? undefined : function (value) { URL.#set(this, name, value); },
          configurable: true,
          enumerable: true,
        });
      }
    }
    _setSearchFromParams(query) { this.#parts = host.setUrlPart(this.#parts.href, "search", query); }
    get searchParams() { return this.#params; }
    toString() { return this.#parts.href; }
    toJSON() { return this.#parts.href; }
  }
  const headerName = (name) => {
    const n = String(name).toLowerCase();
    if (!/^[!#$%&'*+\-.^_`|~0-9a-z]+$/.test(n)) throw new TypeError(`Invalid header name: ${name}`);
    return n;
  };
  class Headers {
    #map = new Map();
    constructor(init) {
      if (init instanceof Headers) init.forEach((v, k) => this.append(k, v));
      else if (Array.isArray(init)) for (const [k, v] of init) this.append(k, v);
      else if (init && typeof init === "object") for (const k of objectKeys(init)) this.append(k, init[k]);
    }
    append(k, v) { const n = headerName(k); const value = String(v).trim(); this.#map.set(n, this.#map.has(n) ? `${this.#map.get(n)}, ${value}` : value); }
    set(k, v) { this.#map.set(headerName(k), String(v).trim()); }
    get(k) { const n = headerName(k); return this.#map.has(n) ? this.#map.get(n) : null; }
    has(k) { return this.#map.has(headerName(k)); }
    delete(k) { this.#map.delete(headerName(k)); }
    forEach(fn, thisArg) { for (const [k, v] of this.entries()) fn.call(thisArg, v, k, this); }
    *entries() { yield* Array.from(this.#map).sort((a, b) => (a[0] < b[0] ? -1 : 1)); }
    *keys() { for (const [k] of this.entries()) yield k; }
    *values() { for (const [, v] of this.entries()) yield v; }
    [Symbol.iterator]() { return this.entries(); }
  }
  const bodyBytes = (body, headers) => {
    if (body === undefined || body === null) return null;
    if (typeof body === "string") {
      if (!headers.has("content-type")) headers.set("content-type", "text/plain;charset=UTF-8");
      return host.utf8Encode(body);
    }
    if (body instanceof URLSearchParams) {
      if (!headers.has("content-type")) headers.set("content-type", "application/x-www-form-urlencoded;charset=UTF-8");
      return host.utf8Encode(body.toString());
    }
    return new Uint8Array(toUint8(body, "body"));
  };
  class Body {
    #bytes;
    #used = false;
    constructor(bytes) { this.#bytes = bytes || new Uint8Array(0); }
    get bodyUsed() { return this.#used; }
    #take() {
      if (this.#used) return PromiseCtor.reject(new TypeError("Body has already been consumed"));
      this.#used = true;
      return PromiseCtor.resolve(this.#bytes);
    }
    _peek() { return this.#bytes; }
    arrayBuffer() { return this.#take().then((b) => b.slice().buffer); }
    bytes() { return this.#take().then((b) => b.slice()); }
    text() { return this.#take().then((b) => host.utf8Decode(b, false)); }
    json() { return this.text().then((t) => jsonParse(t)); }
  }
  class Request extends Body {
    constructor(input, init = {}) {
      const from = input instanceof Request ? input : null;
      const headers = new Headers(init.headers !== undefined ? init.headers : from ? from.headers : undefined);
      const body = init.body !== undefined ? bodyBytes(init.body, headers) : from ? from._peek() : null;
      super(body);
      this.url = from ? from.url : new URL(String(input)).href;
      this.method = String(init.method || (from ? from.method : "GET")).toUpperCase();
      this.headers = headers;
      if ((this.method === "GET" || this.method === "HEAD") && body && body.length) {
        throw new TypeError("Request with GET/HEAD method cannot have body.");
      }
    }
  }
  class Response extends Body {
    constructor(body, init = {}) {
      const headers = new Headers(init.headers);
      super(bodyBytes(body, headers));
      this.status = init.status === undefined ? 200 : init.status;
      this.statusText = init.statusText || "";
      this.headers = headers;
      this.url = init.url || "";
      this.redirected = !!init.redirected;
      this.type = "basic";
    }
    get ok() { return this.status >= 200 && this.status < 300; }
    clone() { return new Response(this._peek().slice(), { status: this.status, statusText: this.statusText, headers: this.headers, url: this.url }); }
    static json(data, init = {}) {
      const headers = new Headers(init.headers);
      if (!headers.has("content-type")) headers.set("content-type", "application/json");
      return new Response(jsonStringify(data), { ...init, headers });
    }
  }
  return { TextEncoder, TextDecoder, URLSearchParams, URL, Headers, Request, Response };
})
