// Web classes for Lit Actions (TextEncoder/TextDecoder, URL/URLSearchParams, Headers, Request,
// Response, Blob, DOMException, Event/EventTarget, AbortController/AbortSignal), kept out of the prelude: compiled once per process and loaded into a run's context
// only when the action first touches one of them (see `web` in prelude.js), so actions that
// never do pay nothing. Its value is a function of the prelude's shared helpers (`host` is the
// utils group of natives: UTF-8 and URL functions; `timers` the prelude's own timer functions;
// `reportError` ends the run with an error an event listener threw, as an uncaught exception would).
(function (host, toUint8, jsonStringify, jsonParse, PromiseCtor, timers, reportError) {
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
  // ---------------------------------------------------------------- DOMException
  const legacyCodes = {
    IndexSizeError: 1, HierarchyRequestError: 3, WrongDocumentError: 4, InvalidCharacterError: 5,
    NoModificationAllowedError: 7, NotFoundError: 8, NotSupportedError: 9, InvalidStateError: 11,
    SyntaxError: 12, InvalidModificationError: 13, NamespaceError: 14, InvalidAccessError: 15,
    TypeMismatchError: 17, SecurityError: 18, NetworkError: 19, AbortError: 20, URLMismatchError: 21,
    QuotaExceededError: 22, TimeoutError: 23, InvalidNodeTypeError: 24, DataCloneError: 25,
  };
  class DOMException extends Error {
    #name;
    constructor(message = "", options = "Error") {
      super(String(message));
      this.#name = options !== null && typeof options === "object" ? String(options.name === undefined ? "Error" : options.name) : String(options);
      if (options !== null && typeof options === "object" && "cause" in options) defineProperty(this, "cause", { value: options.cause, writable: true, configurable: true });
    }
    get name() { return this.#name; }
    get code() { return legacyCodes[this.#name] || 0; }
    get [Symbol.toStringTag]() { return "DOMException"; }
  }
  for (const [name, code] of Object.entries(legacyCodes)) {
    const constant = name.replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase().replace(/_ERROR$/, "_ERR");
    defineProperty(DOMException, constant, { value: code, enumerable: true });
  }

  // ---------------------------------------------------------------- Event, EventTarget
  class Event {
    #type; #cancelable; #canceled = false; #target = null;
    constructor(type, options = {}) {
      if (arguments.length === 0) throw new TypeError("The \"type\" argument must be specified");
      this.#type = String(type);
      this.#cancelable = !!(options && options.cancelable);
      this.bubbles = !!(options && options.bubbles);
      this.composed = !!(options && options.composed);
      this.timeStamp = timers.now();
      this.isTrusted = false;
    }
    get type() { return this.#type; }
    get cancelable() { return this.#cancelable; }
    get defaultPrevented() { return this.#canceled; }
    get target() { return this.#target; }
    get currentTarget() { return this.#target; }
    get srcElement() { return this.#target; }
    preventDefault() { if (this.#cancelable) this.#canceled = true; }
    stopPropagation() {}
    stopImmediatePropagation() { this._stopped = true; }
    composedPath() { return this.#target ? [this.#target] : []; }
    static _dispatching(event, target) { event.#target = target; }
    get [Symbol.toStringTag]() { return "Event"; }
  }
  class EventTarget {
    #listeners = new Map();
    addEventListener(type, listener, options) {
      if (listener === null || listener === undefined) return;
      const once = !!(options && typeof options === "object" && options.once);
      const signal = options && typeof options === "object" ? options.signal : undefined;
      if (signal && signal.aborted) return;
      const list = this.#listeners.get(String(type)) || [];
      if (list.some((l) => l.listener === listener)) return;
      const entry = { listener, once };
      list.push(entry);
      this.#listeners.set(String(type), list);
      if (signal) signal.addEventListener("abort", () => this.removeEventListener(type, listener), { once: true });
    }
    removeEventListener(type, listener) {
      const list = this.#listeners.get(String(type));
      if (!list) return;
      const kept = list.filter((l) => l.listener !== listener);
      if (kept.length) this.#listeners.set(String(type), kept); else this.#listeners.delete(String(type));
    }
    dispatchEvent(event) {
      if (!(event instanceof Event)) throw new TypeError("The \"event\" argument must be an instance of Event");
      Event._dispatching(event, this);
      const handler = this["on" + event.type];
      const list = (this.#listeners.get(event.type) || []).slice();
      if (typeof handler === "function") list.unshift({ listener: handler, once: false, property: true });
      for (const entry of list) {
        if (entry.once) this.removeEventListener(event.type, entry.listener);
        try {
          if (typeof entry.listener === "function") entry.listener.call(this, event);
          else if (entry.listener && typeof entry.listener.handleEvent === "function") entry.listener.handleEvent(event);
        } catch (error) {
          reportError(error);
        }
        if (event._stopped) break;
      }
      return !event.defaultPrevented;
    }
    get [Symbol.toStringTag]() { return "EventTarget"; }
  }

  // ---------------------------------------------------------------- AbortController, AbortSignal
  let makingSignal = false;
  class AbortSignal extends EventTarget {
    #aborted = false;
    #reason = undefined;
    constructor() {
      if (!makingSignal) throw new TypeError("Illegal constructor");
      super();
      this.onabort = null;
    }
    static _make() { makingSignal = true; try { return new AbortSignal(); } finally { makingSignal = false; } }
    static _abort(signal, reason) {
      if (signal.#aborted) return;
      signal.#aborted = true;
      signal.#reason = reason === undefined ? new DOMException("This operation was aborted", "AbortError") : reason;
      signal.dispatchEvent(new Event("abort"));
    }
    get aborted() { return this.#aborted; }
    get reason() { return this.#reason; }
    throwIfAborted() { if (this.#aborted) throw this.#reason; }
    static abort(reason) { const signal = AbortSignal._make(); AbortSignal._abort(signal, reason); return signal; }
    // As in Node and browsers, a pending timeout does not keep a finished run alive.
    static timeout(ms) {
      const delay = Number(ms);
      if (!(delay >= 0 && delay <= Number.MAX_SAFE_INTEGER)) throw new TypeError("The \"delay\" argument must be a non-negative number");
      const signal = AbortSignal._make();
      timers.background(() => AbortSignal._abort(signal, new DOMException("The operation was aborted due to timeout", "TimeoutError")), delay);
      return signal;
    }
    static any(signals) {
      const signal = AbortSignal._make();
      const list = Array.from(signals);
      for (const s of list) if (!(s instanceof AbortSignal)) throw new TypeError("signals must be AbortSignals");
      const done = list.find((s) => s.aborted);
      if (done) { AbortSignal._abort(signal, done.reason); return signal; }
      for (const s of list) s.addEventListener("abort", () => AbortSignal._abort(signal, s.reason), { once: true });
      return signal;
    }
    get [Symbol.toStringTag]() { return "AbortSignal"; }
  }
  class AbortController {
    #signal = AbortSignal._make();
    get signal() { return this.#signal; }
    abort(reason) { AbortSignal._abort(this.#signal, reason); }
    get [Symbol.toStringTag]() { return "AbortController"; }
  }

  // ---------------------------------------------------------------- Blob
  const blobType = (type) => {
    const text = type === undefined ? "" : String(type);
    return /^[\x20-\x7e]*$/.test(text) ? text.toLowerCase() : "";
  };
  class Blob {
    #bytes;
    #type;
    constructor(parts = [], options = {}) {
      if (parts === null || typeof parts !== "object" || typeof parts[Symbol.iterator] !== "function") {
        throw new TypeError("The \"blobParts\" argument must be a sequence");
      }
      const chunks = [];
      let size = 0;
      for (const part of parts) {
        const bytes = part instanceof Blob ? part.#bytes
          : ArrayBuffer.isView(part) || part instanceof ArrayBuffer ? toUint8(part, "blob part")
          : host.utf8Encode(String(part));
        chunks.push(bytes);
        size += bytes.length;
      }
      const all = new Uint8Array(size);
      let at = 0;
      for (const chunk of chunks) { all.set(chunk, at); at += chunk.length; }
      this.#bytes = all;
      this.#type = blobType(options && options.type);
    }
    static _bytes(blob) { return blob.#bytes; }
    get size() { return this.#bytes.length; }
    get type() { return this.#type; }
    slice(start = 0, end = this.#bytes.length, type = "") {
      const size = this.#bytes.length;
      const clamp = (n) => { n = Math.trunc(Number(n)) || 0; return n < 0 ? Math.max(size + n, 0) : Math.min(n, size); };
      const from = clamp(start);
      const to = Math.max(clamp(end), from);
      return new Blob([this.#bytes.subarray(from, to)], { type });
    }
    text() { return PromiseCtor.resolve(host.utf8Decode(this.#bytes, false)); }
    arrayBuffer() { return PromiseCtor.resolve(this.#bytes.slice().buffer); }
    bytes() { return PromiseCtor.resolve(this.#bytes.slice()); }
    get [Symbol.toStringTag]() { return "Blob"; }
  }
  const headerName = (name) => {
    const n = String(name).toLowerCase();
    if (!/^[!#$%&'*+\-.^_`|~0-9a-z]+$/.test(n)) throw new TypeError(`Invalid header name: ${name}`);
    return n;
  };
  class Headers {
    #map = new Map();
    #immutable = false;
    // Headers nobody may change (`Lit.Headers`): the mutators throw, as for a fetch Response's.
    static _immutable(init) { const h = new Headers(init); h.#immutable = true; return h; }
    #check() { if (this.#immutable) throw new TypeError("Headers are immutable"); }
    constructor(init) {
      if (init instanceof Headers) init.forEach((v, k) => this.append(k, v));
      else if (Array.isArray(init)) for (const [k, v] of init) this.append(k, v);
      else if (init && typeof init === "object") for (const k of objectKeys(init)) this.append(k, init[k]);
    }
    append(k, v) { this.#check(); const n = headerName(k); const value = String(v).trim(); this.#map.set(n, this.#map.has(n) ? `${this.#map.get(n)}, ${value}` : value); }
    set(k, v) { this.#check(); this.#map.set(headerName(k), String(v).trim()); }
    get(k) { const n = headerName(k); return this.#map.has(n) ? this.#map.get(n) : null; }
    has(k) { return this.#map.has(headerName(k)); }
    delete(k) { this.#check(); this.#map.delete(headerName(k)); }
    forEach(fn, thisArg) { for (const [k, v] of this.entries()) fn.call(thisArg, v, k, this); }
    *entries() { yield* Array.from(this.#map).sort((a, b) => (a[0] < b[0] ? -1 : 1)); }
    *keys() { for (const [k] of this.entries()) yield k; }
    *values() { for (const [, v] of this.entries()) yield v; }
    [Symbol.iterator]() { return this.entries(); }
    get [Symbol.toStringTag]() { return "Headers"; }
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
    if (body instanceof Blob) {
      if (!headers.has("content-type") && body.type) headers.set("content-type", body.type);
      return Blob._bytes(body).slice();
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
    blob() {
      const type = this.headers ? this.headers.get("content-type") || "" : "";
      return this.#take().then((b) => new Blob([b], { type }));
    }
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
      this.signal = init.signal !== undefined ? init.signal : from ? from.signal : null;
      if (this.signal !== null && !(this.signal instanceof AbortSignal)) throw new TypeError("signal must be an AbortSignal");
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
  return {
    TextEncoder, TextDecoder, URLSearchParams, URL, Headers, Request, Response,
    Blob, DOMException, Event, EventTarget, AbortController, AbortSignal,
  };
})
