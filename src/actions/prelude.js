// The JavaScript half of the Lit Actions runtime (spec/actions.md, "What the action sees").
// Evaluated once in every fresh context before the action's code. Its completion value is a
// function that receives `host` (native functions implemented in Rust, see src/actions/host.rs),
// installs the globals, and returns the `driver` the Rust event loop uses to call `main`, fire
// timers and deliver fetch results. `host` itself never becomes reachable from the action.
(function (host) {
  "use strict";
  const G = globalThis;
  const { defineProperty, freeze, keys: objectKeys } = Object;
  const jsonStringify = JSON.stringify;
  const jsonParse = JSON.parse;
  const PromiseCtor = Promise;
  const FunctionPrototype = Function.prototype;
  const once = (make) => {
    let value;
    return () => (value === undefined ? (value = make()) : value);
  };
  const toUint8 = (data, what) => {
    if (data instanceof Uint8Array) return data;
    if (data instanceof ArrayBuffer) return new Uint8Array(data);
    if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    if (Array.isArray(data)) return Uint8Array.from(data);
    throw new TypeError(`${what} must be a Uint8Array, ArrayBuffer or typed array`);
  };

  // ---------------------------------------------------------------- console
  const inspect = (value, depth, seen) => {
    switch (typeof value) {
      case "string": return depth === 0 ? value : `'${value}'`;
      case "undefined": return "undefined";
      case "bigint": return `${value}n`;
      case "symbol": return value.toString();
      case "function": return `[Function: ${value.name || "(anonymous)"}]`;
      case "number": case "boolean": return String(value);
    }
    if (value === null) return "null";
    if (value instanceof Error) return value.stack ? `${value.name}: ${value.message}\n${value.stack}`.trimEnd() : String(value);
    if (seen.includes(value)) return "[Circular]";
    if (depth > 4) return Array.isArray(value) ? "[Array]" : "[Object]";
    const next = seen.concat([value]);
    if (Array.isArray(value)) return `[ ${value.map((v) => inspect(v, depth + 1, next)).join(", ")} ]`.replace("[  ]", "[]");
    if (value instanceof Uint8Array) return `Uint8Array(${value.length}) [ ${Array.from(value).join(", ")} ]`;
    if (value instanceof Map) return `Map(${value.size}) { ${Array.from(value, ([k, v]) => `${inspect(k, depth + 1, next)} => ${inspect(v, depth + 1, next)}`).join(", ")} }`;
    if (value instanceof Set) return `Set(${value.size}) { ${Array.from(value, (v) => inspect(v, depth + 1, next)).join(", ")} }`;
    if (value instanceof Date) return value.toISOString();
    if (value instanceof PromiseCtor) return "Promise { <pending> }";
    const entries = objectKeys(value).map((k) => `${/^[A-Za-z_$][\w$]*$/.test(k) ? k : `'${k}'`}: ${inspect(value[k], depth + 1, next)}`);
    return entries.length ? `{ ${entries.join(", ")} }` : "{}";
  };
  const logLine = (...args) => host.log(args.map((a) => inspect(a, 0, [])).join(" ") + "\n");
  const console = freeze({
    log: logLine, info: logLine, warn: logLine, error: logLine, debug: logLine, trace: logLine,
  });

  // ---------------------------------------------------------------- encoding (classes are created on first use: most actions never touch them)
  const encodingClasses = once(() => {
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
    return { TextEncoder, TextDecoder };
  });

  // ---------------------------------------------------------------- crypto
  const digestNames = { "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512" };
  const crypto = freeze({
    getRandomValues(array) {
      if (!ArrayBuffer.isView(array) || array instanceof Float32Array || array instanceof Float64Array || array instanceof DataView) {
        throw new TypeError("crypto.getRandomValues: argument must be an integer typed array");
      }
      if (array.byteLength > 65536) throw new RangeError("crypto.getRandomValues: at most 65536 bytes per call");
      new Uint8Array(array.buffer, array.byteOffset, array.byteLength).set(host.randomBytes(array.byteLength));
      return array;
    },
    randomUUID() {
      const b = host.randomBytes(16);
      b[6] = (b[6] & 0x0f) | 0x40;
      b[8] = (b[8] & 0x3f) | 0x80;
      const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
      return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
    },
    subtle: freeze({
      async digest(algorithm, data) {
        const name = String(typeof algorithm === "object" && algorithm !== null ? algorithm.name : algorithm).toUpperCase();
        const which = digestNames[name];
        if (!which) throw new Error(`crypto.subtle.digest: unsupported algorithm ${name}`);
        const out = host.digest(which, toUint8(data, "crypto.subtle.digest data"));
        return out.buffer;
      },
    }),
  });

  // ---------------------------------------------------------------- URL
  const urlClasses = once(() => {
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
    return { URLSearchParams, URL };
  });

  // ---------------------------------------------------------------- fetch
  const fetchClasses = once(() => {
    const { URL, URLSearchParams } = urlClasses();
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
    return { Headers, Request, Response };
  });
  const pendingFetches = new Map();
  function fetch(input, init) {
    return new PromiseCtor((resolve, reject) => {
      const request = new (fetchClasses().Request)(input, init);
      const id = host.fetchStart(request.method, request.url, Array.from(request.headers.entries()), request._peek().length ? request._peek() : null);
      pendingFetches.set(id, { resolve, reject, url: request.url });
    });
  }

  // ---------------------------------------------------------------- timers
  const timers = new Map();
  let nextTimerId = 1;
  function setTimeout(callback, delay = 0, ...args) {
    if (typeof callback !== "function") throw new TypeError("setTimeout: callback must be a function");
    const id = nextTimerId++;
    const ms = Math.max(0, Number(delay) || 0);
    timers.set(id, { due: host.now() + ms, callback, args });
    return id;
  }
  function clearTimeout(id) { timers.delete(id); }

  // ---------------------------------------------------------------- structuredClone
  const cloneValue = (value, seen) => {
    if (typeof value === "function" || typeof value === "symbol") throw new Error(`${String(value)} could not be cloned.`);
    if (value === null || typeof value !== "object") return value;
    if (seen.has(value)) return seen.get(value);
    let out;
    if (Array.isArray(value)) { out = []; seen.set(value, out); value.forEach((v, i) => { out[i] = cloneValue(v, seen); }); return out; }
    if (value instanceof Date) return new Date(value.getTime());
    if (value instanceof RegExp) return new RegExp(value.source, value.flags);
    if (value instanceof ArrayBuffer) return value.slice(0);
    if (ArrayBuffer.isView(value)) return new value.constructor(value);
    if (value instanceof Map) { out = new Map(); seen.set(value, out); value.forEach((v, k) => out.set(cloneValue(k, seen), cloneValue(v, seen))); return out; }
    if (value instanceof Set) { out = new Set(); seen.set(value, out); value.forEach((v) => out.add(cloneValue(v, seen))); return out; }
    if (value instanceof Error) { out = new value.constructor(value.message); seen.set(value, out); return out; }
    out = {};
    seen.set(value, out);
    for (const k of objectKeys(value)) out[k] = cloneValue(value[k], seen);
    return out;
  };
  const structuredClone = (value) => cloneValue(value, new Map());

  // ---------------------------------------------------------------- Lit
  const wallet = (params, fn) => {
    if (params === null || typeof params !== "object") throw new TypeError(`Lit.Actions.${fn} expects an object argument, e.g. {pkpId}`);
    const id = params.pkpId;
    if (id === undefined || id === null || String(id).trim() === "") throw new RangeError("pkpId must not be blank");
    return String(id).trim();
  };
  const actions = {
    setResponse(params) {
      const response = params && typeof params === "object" && "response" in params ? params.response : params;
      host.setResponse(typeof response === "string" ? response : jsonStringify(response === undefined ? null : response), typeof response === "string");
    },
    async getPrivateKey(params) { return host.getPrivateKey(wallet(params, "getPrivateKey")); },
    async getLitActionPrivateKey() { return host.getLitActionPrivateKey(); },
    async getLitActionPublicKey(params) { return host.getLitActionPublicKey(String((params && params.ipfsId) || "")); },
    async getLitActionWalletAddress(params) { return host.getLitActionWalletAddress(String((params && params.ipfsId) || "")); },
    async Encrypt(params) {
      const id = wallet(params, "Encrypt");
      const message = params.message;
      if (message === undefined || message === null || String(message) === "") throw new RangeError("message must not be blank");
      return host.encrypt(id, typeof message === "string" ? host.utf8Encode(message) : toUint8(message, "message"));
    },
    async Decrypt(params) {
      const id = wallet(params, "Decrypt");
      if (typeof params.ciphertext !== "string" || params.ciphertext.trim() === "") throw new RangeError("ciphertext must not be blank");
      return host.decrypt(id, params.ciphertext);
    },
    showImportDetails() { return []; },
    async signEcdsa(params) {
      const id = wallet(params, "signEcdsa");
      const toSign = params.toSign;
      const digest = typeof toSign === "string" ? toSign : toUint8(toSign, "toSign");
      return host.signEcdsa(id, digest);
    },
    async signMessage(params) {
      const id = wallet(params, "signMessage");
      const message = params.message;
      if (message === undefined || message === null) throw new TypeError("message is required");
      return host.signMessage(id, typeof message === "string" ? host.utf8Encode(message) : toUint8(message, "message"));
    },
    async getPublicKey(params) { return host.getPublicKey(wallet(params, "getPublicKey")); },
    async getWalletAddress(params) { return host.getWalletAddress(wallet(params, "getWalletAddress")); },
  };
  const litActions = freeze(actions);
  const litHeaders = freeze(host.requestHeaders());
  const lit = freeze({ Actions: litActions, Auth: freeze([]), Headers: litHeaders });

  // ---------------------------------------------------------------- install
  const fixed = (name, value) => defineProperty(G, name, { value, writable: false, enumerable: false, configurable: false });
  const plain = (name, value) => defineProperty(G, name, { value, writable: true, enumerable: false, configurable: true });
  fixed("Lit", lit);
  fixed("LitActions", litActions);
  fixed("LitHeaders", litHeaders);
  plain("global", G);
  plain("console", console);
  plain("crypto", crypto);
  const lazy = (name, make) => {
    let value;
    defineProperty(G, name, {
      get() { return value === undefined ? (value = make()) : value; },
      set(replacement) { value = replacement; },
      enumerable: false,
      configurable: true,
    });
  };
  lazy("TextEncoder", () => encodingClasses().TextEncoder);
  lazy("TextDecoder", () => encodingClasses().TextDecoder);
  lazy("URL", () => urlClasses().URL);
  lazy("URLSearchParams", () => urlClasses().URLSearchParams);
  lazy("Headers", () => fetchClasses().Headers);
  lazy("Request", () => fetchClasses().Request);
  lazy("Response", () => fetchClasses().Response);
  plain("fetch", fetch);
  plain("setTimeout", setTimeout);
  plain("clearTimeout", clearTimeout);
  plain("structuredClone", structuredClone);
  if (typeof G.queueMicrotask !== "function") plain("queueMicrotask", (fn) => { PromiseCtor.resolve().then(fn); });
  let ethers;
  defineProperty(G, "ethers", {
    get() {
      if (ethers === undefined) ethers = host.loadEthers();
      return ethers;
    },
    set(value) { ethers = value; },
    enumerable: false,
    configurable: false,
  });

  // No code from strings: eval and every Function constructor throw.
  const refuse = function () { throw new EvalError("Code generation from strings is not allowed in Lit Actions"); };
  const neuter = (prototype) => defineProperty(prototype, "constructor", { value: refuse, writable: false, configurable: false });
  refuse.prototype = FunctionPrototype;
  for (const sample of [function () {}, async function () {}, function* () {}, async function* () {}]) {
    neuter(Object.getPrototypeOf(sample));
  }
  fixed("eval", refuse);
  fixed("Function", refuse);

  // ---------------------------------------------------------------- driver (used by Rust only)
  const describeError = (error) => {
    if (error instanceof Error) {
      try { return `${error.name}: ${error.message}`; } catch { return "Error"; }
    }
    if (typeof error === "string") return error;
    try { return inspect(error, 1, []); } catch { return String(error); }
  };
  const state = { settled: false, failed: false, error: "", value: undefined };
  const fail = (error) => {
    if (!state.failed) { state.failed = true; state.error = describeError(error); }
    state.settled = true;
  };
  return {
    run(main, paramsJson) {
      const params = paramsJson === undefined ? null : jsonParse(paramsJson);
      let result;
      try {
        result = main(params);
      } catch (error) {
        fail(error);
        return;
      }
      PromiseCtor.resolve(result).then(
        (value) => { state.value = value; state.settled = true; },
        (error) => fail(error),
      );
    },
    fail(message) { fail(message); },
    describe(error) { return describeError(error); },
    settled() { return state.settled; },
    failed() { return state.failed; },
    error() { return state.error; },
    // {isString, text} of main's return value, or undefined when it returned undefined.
    returned() {
      const value = state.value;
      if (value === undefined) return undefined;
      if (typeof value === "string") return { isString: true, text: value };
      const text = jsonStringify(value);
      return { isString: false, text: text === undefined ? "null" : text };
    },
    nextTimer() {
      let due = -1;
      for (const timer of timers.values()) if (due < 0 || timer.due < due) due = timer.due;
      return due;
    },
    fireTimers(now) {
      const ready = Array.from(timers).filter(([, t]) => t.due <= now).sort((a, b) => a[1].due - b[1].due || a[0] - b[0]);
      for (const [id, timer] of ready) {
        if (!timers.has(id)) continue;
        timers.delete(id);
        try { timer.callback(...timer.args); } catch (error) { fail(error); }
      }
    },
    pendingFetches() { return pendingFetches.size; },
    fetchDone(id, outcome) {
      const pending = pendingFetches.get(id);
      if (!pending) return;
      pendingFetches.delete(id);
      if (typeof outcome === "string") {
        pending.reject(new TypeError(`fetch failed: ${outcome}`));
        return;
      }
      pending.resolve(new (fetchClasses().Response)(outcome.body, { status: outcome.status, statusText: outcome.statusText, headers: outcome.headers, url: outcome.url, redirected: outcome.redirected }));
    },
  };
})
