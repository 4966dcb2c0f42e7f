// Globals of Lit Actions built on first use (console, crypto, structuredClone and the `Lit`
// objects), kept out of the prelude: compiled once per process and loaded into a run's context
// only when the action first touches one of them (see `globals` in prelude.js), so a run that
// never does (a hello-world) does not read their bytecode. Its value is a function of `host` (the
// run's natives, see host.rs) and the prelude's shared helpers.
(function (host, shared) {
  "use strict";
  const { utils, keys, web, toUint8, kind, isError, jsonStringify, PromiseCtor } = shared;
  const { freeze, keys: objectKeys } = Object;
  const G = globalThis;
  const errorTypes = { Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError };
  const once = (make) => {
    let value;
    return () => (value === undefined ? (value = make()) : value);
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
  // crypto.subtle (subtle.js) is loaded when an action first reads it.
  const subtleChunk = once(() => host.load("subtle")(host.subtle(), utils, toUint8, web().DOMException, PromiseCtor));
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
    get subtle() { return subtleChunk().subtle; },
    get [Symbol.toStringTag]() { return "Crypto"; },
  });

  // ---------------------------------------------------------------- performance
  // Milliseconds since the run started, to the microsecond (Node counts from its process start).
  const now = () => Math.round(host.now() * 1000) / 1000;
  const timeOrigin = Date.now() - now();
  const performance = freeze({
    now,
    timeOrigin,
    toJSON() { return { timeOrigin }; },
    get [Symbol.toStringTag]() { return "Performance"; },
  });

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
      // What this run imported: [{url, sha384, size, from: "cache" | "network"}].
      showImportDetails() { return host.importDetails(); },
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
    // A Headers instance (`Lit.Headers.get("x-request-id")`) nobody can change, whose headers
    // are also its own fields (`Lit.Headers["x-request-id"]`), as they were before it was one.
    const requestHeaders = host.requestHeaders();
    const litHeaders = web().Headers._immutable(requestHeaders);
    for (const name of objectKeys(requestHeaders)) {
      Object.defineProperty(litHeaders, name, { value: requestHeaders[name], enumerable: true });
    }
    freeze(litHeaders);
    const lit = freeze({ Actions: litActions, Auth: freeze([]), Headers: litHeaders });
    return { lit, litActions, litHeaders };
  });


  return {
    console, inspect, crypto, performance, structuredClone, litObjects,
    get CryptoKey() { return subtleChunk().CryptoKey; },
    get SubtleCrypto() { return subtleChunk().SubtleCrypto; },
  };
})
