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
  // The built-in kind of an object ("Error", "Uint8Array", "Map", ...). Unlike instanceof it also
  // recognises objects of the worker's shared ethers realm (src/actions/realm.rs).
  const objectToString = Object.prototype.toString;
  const kind = (value) => objectToString.call(value).slice(8, -1);
  const isError = (value) => value instanceof Error || kind(value) === "Error";
  const errorTypes = { Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError };
  const once = (make) => {
    let value;
    return () => (value === undefined ? (value = make()) : value);
  };
  // Native groups created on first use (see host_object in host.rs).
  const utils = once(() => host.utils());
  const keys = once(() => host.keys());
  const web = once(() => host.loadWeb()(utils(), toUint8, jsonStringify, jsonParse, PromiseCtor));
  const toUint8 = (data, what) => {
    if (data instanceof Uint8Array) return data;
    if (data instanceof ArrayBuffer || kind(data) === "ArrayBuffer") return new Uint8Array(data);
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
    if (isError(value)) return value.stack ? `${value.name}: ${value.message}\n${value.stack}`.trimEnd() : String(value);
    if (seen.includes(value)) return "[Circular]";
    if (depth > 4) return Array.isArray(value) ? "[Array]" : "[Object]";
    const next = seen.concat([value]);
    if (Array.isArray(value)) return `[ ${value.map((v) => inspect(v, depth + 1, next)).join(", ")} ]`.replace("[  ]", "[]");
    const k = kind(value);
    if (k === "Uint8Array") return `Uint8Array(${value.length}) [ ${Array.from(value).join(", ")} ]`;
    if (k === "Map") return `Map(${value.size}) { ${Array.from(value, ([k, v]) => `${inspect(k, depth + 1, next)} => ${inspect(v, depth + 1, next)}`).join(", ")} }`;
    if (k === "Set") return `Set(${value.size}) { ${Array.from(value, (v) => inspect(v, depth + 1, next)).join(", ")} }`;
    if (k === "Date") return value.toISOString();
    if (k === "Promise") return "Promise { <pending> }";
    const entries = objectKeys(value).map((k) => `${/^[A-Za-z_$][\w$]*$/.test(k) ? k : `'${k}'`}: ${inspect(value[k], depth + 1, next)}`);
    return entries.length ? `{ ${entries.join(", ")} }` : "{}";
  };
  const logLine = (...args) => host.log(args.map((a) => inspect(a, 0, [])).join(" ") + "\n");
  const console = freeze({
    log: logLine, info: logLine, warn: logLine, error: logLine, debug: logLine, trace: logLine,
  });

  // ---------------------------------------------------------------- crypto
  const digestNames = { "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512" };
  const crypto = freeze({
    getRandomValues(array) {
      if (!ArrayBuffer.isView(array) || array instanceof Float32Array || array instanceof Float64Array || array instanceof DataView) {
        throw new TypeError("crypto.getRandomValues: argument must be an integer typed array");
      }
      if (array.byteLength > 65536) throw new RangeError("crypto.getRandomValues: at most 65536 bytes per call");
      new Uint8Array(array.buffer, array.byteOffset, array.byteLength).set(utils().randomBytes(array.byteLength));
      return array;
    },
    randomUUID() {
      const b = utils().randomBytes(16);
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
        const out = utils().digest(which, toUint8(data, "crypto.subtle.digest data"));
        return out.buffer;
      },
    }),
  });

  // ---------------------------------------------------------------- fetch (the classes live in web.js)
  const pendingFetches = new Map();
  function fetch(input, init) {
    return new PromiseCtor((resolve, reject) => {
      const request = new (web().Request)(input, init);
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
    const k = kind(value);
    if (k === "Date") return new Date(value.getTime());
    if (k === "RegExp") return new RegExp(value.source, value.flags);
    if (k === "ArrayBuffer") return new Uint8Array(value).slice(0).buffer;
    if (ArrayBuffer.isView(value)) return typeof G[k] === "function" && k !== "DataView" ? new G[k](value) : new value.constructor(value);
    if (k === "Map") { out = new Map(); seen.set(value, out); value.forEach((v, k) => out.set(cloneValue(k, seen), cloneValue(v, seen))); return out; }
    if (k === "Set") { out = new Set(); seen.set(value, out); value.forEach((v) => out.add(cloneValue(v, seen))); return out; }
    if (isError(value)) { out = new (errorTypes[value.name] || Error)(value.message); seen.set(value, out); return out; }
    out = {};
    seen.set(value, out);
    for (const k of objectKeys(value)) out[k] = cloneValue(value[k], seen);
    return out;
  };
  const structuredClone = (value) => cloneValue(value, new Map());

  // ---------------------------------------------------------------- Lit
  // Built on first use: a run that never touches Lit creates none of it.
  const litObjects = once(() => {
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
      async getPrivateKey(params) { return keys().getPrivateKey(wallet(params, "getPrivateKey")); },
      async getLitActionPrivateKey() { return keys().getLitActionPrivateKey(); },
      async getLitActionPublicKey(params) { return keys().getLitActionPublicKey(String((params && params.ipfsId) || "")); },
      async getLitActionWalletAddress(params) { return keys().getLitActionWalletAddress(String((params && params.ipfsId) || "")); },
      async Encrypt(params) {
        const id = wallet(params, "Encrypt");
        const message = params.message;
        if (message === undefined || message === null || String(message) === "") throw new RangeError("message must not be blank");
        return keys().encrypt(id, typeof message === "string" ? utils().utf8Encode(message) : toUint8(message, "message"));
      },
      async Decrypt(params) {
        const id = wallet(params, "Decrypt");
        if (typeof params.ciphertext !== "string" || params.ciphertext.trim() === "") throw new RangeError("ciphertext must not be blank");
        return keys().decrypt(id, params.ciphertext);
      },
      showImportDetails() { return []; },
      async signEcdsa(params) {
        const id = wallet(params, "signEcdsa");
        const toSign = params.toSign;
        const digest = typeof toSign === "string" ? toSign : toUint8(toSign, "toSign");
        return keys().signEcdsa(id, digest);
      },
      async signMessage(params) {
        const id = wallet(params, "signMessage");
        const message = params.message;
        if (message === undefined || message === null) throw new TypeError("message is required");
        return keys().signMessage(id, typeof message === "string" ? utils().utf8Encode(message) : toUint8(message, "message"));
      },
      async getPublicKey(params) { return keys().getPublicKey(wallet(params, "getPublicKey")); },
      async getWalletAddress(params) { return keys().getWalletAddress(wallet(params, "getWalletAddress")); },
    };
    const litActions = freeze(actions);
    const litHeaders = freeze(host.requestHeaders());
    const lit = freeze({ Actions: litActions, Auth: freeze([]), Headers: litHeaders });
    return { lit, litActions, litHeaders };
  });

  // ---------------------------------------------------------------- install
  const fixed = (name, value) => defineProperty(G, name, { value, writable: false, enumerable: false, configurable: false });
  const plain = (name, value) => defineProperty(G, name, { value, writable: true, enumerable: false, configurable: true });
  const fixedLazy = (name, get) => defineProperty(G, name, { get, enumerable: false, configurable: false });
  fixedLazy("Lit", () => litObjects().lit);
  fixedLazy("LitActions", () => litObjects().litActions);
  fixedLazy("LitHeaders", () => litObjects().litHeaders);
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
  lazy("TextEncoder", () => web().TextEncoder);
  lazy("TextDecoder", () => web().TextDecoder);
  lazy("URL", () => web().URL);
  lazy("URLSearchParams", () => web().URLSearchParams);
  lazy("Headers", () => web().Headers);
  lazy("Request", () => web().Request);
  lazy("Response", () => web().Response);
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

  // The worker's runtime outlives the run (src/actions/engine.rs): a finaliser registered here
  // would run this action's code during a later run.
  delete G.FinalizationRegistry;

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
    if (isError(error)) {
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
      pending.resolve(new (web().Response)(outcome.body, { status: outcome.status, statusText: outcome.statusText, headers: outcome.headers, url: outcome.url, redirected: outcome.redirected }));
    },
  };
})
