// `crypto.subtle` for Lit Actions (WebCrypto, as in browsers, Deno and Node): digest, importKey
// and exportKey (raw, jwk), generateKey, sign/verify (HMAC with SHA-256/384/512; ECDSA on P-256,
// P-384, and on secp256k1 as namedCurve "K-256"), encrypt/decrypt (AES-GCM). Compiled once per process
// and loaded into a run's context when the action first reads `crypto.subtle`. The arithmetic is
// native (`natives`, see host/subtle.rs); this file checks arguments the way WebCrypto does and
// throws its DOMExceptions (NotSupportedError, DataError, InvalidAccessError, OperationError,
// SyntaxError). Conformance with Node's implementation: js/webapi/ and tests/web_api_conformance.rs.
(function (natives, utils, toUint8, DOMException, PromiseCtor) {
  "use strict";
  const { freeze, defineProperty } = Object;
  const fail = (name, message) => { throw new DOMException(message, name); };
  const hashes = { "SHA-256": 256, "SHA-384": 384, "SHA-512": 512 };
  const hashBlockBits = { "SHA-256": 512, "SHA-384": 1024, "SHA-512": 1024 };
  const algorithms = { HMAC: "HMAC", ECDSA: "ECDSA", "AES-GCM": "AES-GCM", "SHA-256": "SHA-256", "SHA-384": "SHA-384", "SHA-512": "SHA-512" };
  // Field size in bytes of each curve (JWK x, y and d; half a signature).
  const curveBytes = { "P-256": 32, "P-384": 48, "K-256": 32 };

  // A BufferSource's bytes, copied (WebCrypto copies its inputs before doing anything).
  const bytesOf = (data, what) => {
    if (!(ArrayBuffer.isView(data) || data instanceof ArrayBuffer || Object.prototype.toString.call(data) === "[object ArrayBuffer]")) {
      throw new TypeError(`${what} must be an ArrayBuffer, a TypedArray or a DataView`);
    }
    return new Uint8Array(toUint8(data, what));
  };
  const buffer = (bytes) => bytes.slice().buffer;

  const normalize = (algorithm) => {
    const raw = typeof algorithm === "string" ? { name: algorithm } : algorithm;
    if (raw === null || typeof raw !== "object") throw new TypeError("algorithm must be a string or an object with a name");
    if (raw.name === undefined) throw new TypeError("algorithm: name is required");
    const name = algorithms[String(raw.name).toUpperCase()];
    if (!name) fail("NotSupportedError", "Unrecognized algorithm name");
    return { ...raw, name };
  };
  const hashOf = (hash) => {
    if (hash === undefined) throw new TypeError("algorithm: hash is required");
    const name = normalize(hash).name;
    if (!hashes[name]) fail("NotSupportedError", "Unrecognized algorithm name");
    return name;
  };

  // ---------------------------------------------------------------- keys
  const material = new WeakMap();
  let constructing = false;
  class CryptoKey {
    #type; #extractable; #algorithm; #usages;
    constructor(type, extractable, algorithm, usages, data) {
      if (!constructing) throw new TypeError("Illegal constructor");
      this.#type = type;
      this.#extractable = extractable;
      this.#algorithm = freeze(algorithm);
      this.#usages = freeze(usages.slice());
      material.set(this, data);
    }
    get type() { return this.#type; }
    get extractable() { return this.#extractable; }
    get algorithm() { return this.#algorithm; }
    get usages() { return this.#usages; }
    get [Symbol.toStringTag]() { return "CryptoKey"; }
  }
  const makeKey = (type, extractable, algorithm, usages, data) => {
    constructing = true;
    try { return new CryptoKey(type, !!extractable, algorithm, usages, data); } finally { constructing = false; }
  };
  const keyData = (key) => {
    const data = material.get(key);
    if (!data) throw new TypeError("key must be a CryptoKey");
    return data;
  };
  const order = ["encrypt", "decrypt", "sign", "verify", "deriveKey", "deriveBits", "wrapKey", "unwrapKey"];
  const checkUsages = (usages, allowed) => {
    if (!Array.isArray(usages)) throw new TypeError("keyUsages must be an array");
    const list = usages.map(String);
    for (const usage of list) if (!allowed.includes(usage)) fail("SyntaxError", `Unsupported key usage for this key: ${usage}`);
    return order.filter((u) => list.includes(u));
  };
  const requireUsages = (usages) => {
    if (usages.length === 0) fail("SyntaxError", "Usages cannot be empty when creating a key.");
    return usages;
  };

  const b64url = (bytes) => btoa(Array.from(bytes, (b) => String.fromCharCode(b)).join("")).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  const unb64url = (text, what) => {
    if (typeof text !== "string" || !/^[A-Za-z0-9_-]*$/.test(text)) fail("DataError", `Invalid JWK: ${what} is not base64url`);
    const padded = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
    let binary;
    try { binary = atob(padded); } catch { fail("DataError", `Invalid JWK: ${what} is not base64url`); }
    return Uint8Array.from(binary, (c) => c.charCodeAt(0));
  };
  const checkJwk = (jwk, kty, alg, usages, extractable) => {
    if (jwk === null || typeof jwk !== "object") throw new TypeError("keyData must be a JsonWebKey object");
    if (jwk.kty !== kty) fail("DataError", `Invalid JWK "kty" Parameter`);
    if (jwk.alg !== undefined && alg !== undefined && jwk.alg !== alg) fail("DataError", `JWK "alg" does not match the requested algorithm`);
    if (jwk.use !== undefined && usages.length && jwk.use !== (usages.some((u) => u === "encrypt" || u === "decrypt") ? "enc" : "sig")) {
      fail("DataError", `Invalid JWK "use" Parameter`);
    }
    if (jwk.key_ops !== undefined) {
      if (!Array.isArray(jwk.key_ops)) fail("DataError", `Invalid JWK "key_ops" Parameter`);
      for (const usage of usages) if (!jwk.key_ops.includes(usage)) fail("DataError", "Key operations and usage mismatch");
    }
    if (jwk.ext === false && extractable) fail("DataError", "JWK \"ext\" Parameter and extractable mismatch");
  };
  const hmacAlg = (hash) => `HS${hash.slice(4)}`;
  const aesAlg = (bits) => `A${bits}GCM`;

  function importHmac(format, keyData, algorithm, extractable, usages) {
    const hash = hashOf(algorithm.hash);
    usages = requireUsages(checkUsages(usages, ["sign", "verify"]));
    let bytes;
    if (format === "raw") bytes = bytesOf(keyData, "keyData");
    else if (format === "jwk") {
      checkJwk(keyData, "oct", hmacAlg(hash), usages, extractable);
      bytes = unb64url(keyData.k, "k");
    } else fail("NotSupportedError", `Unable to import HMAC key with format ${format}`);
    if (bytes.length === 0) fail("DataError", "Zero-length key is not supported");
    let length = bytes.length * 8;
    if (algorithm.length !== undefined) {
      const wanted = Number(algorithm.length);
      if (wanted > length || wanted <= length - 8) fail("DataError", "Invalid key length");
      length = wanted;
    }
    return makeKey("secret", extractable, { name: "HMAC", length, hash: { name: hash } }, usages, { bytes });
  }

  function importAes(format, keyData, algorithm, extractable, usages) {
    usages = requireUsages(checkUsages(usages, ["encrypt", "decrypt", "wrapKey", "unwrapKey"]));
    let bytes;
    if (format === "raw") bytes = bytesOf(keyData, "keyData");
    else if (format === "jwk") {
      checkJwk(keyData, "oct", undefined, usages, extractable);
      bytes = unb64url(keyData.k, "k");
      if (keyData.alg !== undefined && keyData.alg !== aesAlg(bytes.length * 8)) fail("DataError", `JWK "alg" does not match the key length`);
    } else fail("NotSupportedError", `Unable to import AES-GCM key with format ${format}`);
    if (![16, 24, 32].includes(bytes.length)) fail("DataError", "Invalid key length");
    return makeKey("secret", extractable, { name: "AES-GCM", length: bytes.length * 8 }, usages, { bytes });
  }

  // secp256k1 has no WebCrypto name: "K-256" (as other WebCrypto libraries call it) or
  // "secp256k1" (its JWK "crv", RFC 8812) are both accepted and reported as "K-256".
  function curveOf(algorithm) {
    const curve = algorithm.namedCurve === "secp256k1" ? "K-256" : algorithm.namedCurve;
    if (curve === undefined) throw new TypeError("algorithm: namedCurve is required");
    if (!(curve in curveBytes)) fail("NotSupportedError", `Unsupported namedCurve ${curve}`);
    return curve;
  }
  const jwkCurve = (curve) => (curve === "K-256" ? "secp256k1" : curve);

  function importEc(format, keyData, algorithm, extractable, usages) {
    const curve = curveOf(algorithm);
    const ecAlgorithm = { name: "ECDSA", namedCurve: curve };
    if (format === "raw") {
      usages = checkUsages(usages, ["verify"]);
      const point = natives.ecPoint(curve, bytesOf(keyData, "keyData"));
      if (point === undefined) fail("DataError", "Invalid keyData");
      return makeKey("public", extractable, ecAlgorithm, usages, { point });
    }
    if (format !== "jwk") fail("NotSupportedError", `Unable to import ECDSA key with format ${format}`);
    const isPrivate = keyData !== null && typeof keyData === "object" && keyData.d !== undefined;
    usages = checkUsages(usages, isPrivate ? ["sign"] : ["verify"]);
    if (isPrivate) requireUsages(usages);
    checkJwk(keyData, "EC", undefined, usages, extractable);
    if (keyData.crv !== jwkCurve(curve) && keyData.crv !== curve) fail("DataError", "JWK \"crv\" does not match the requested algorithm");
    const size = curveBytes[curve];
    const x = unb64url(keyData.x, "x");
    const y = unb64url(keyData.y, "y");
    if (x.length !== size || y.length !== size) fail("DataError", `Invalid JWK: x and y must be ${size} bytes`);
    const sec1 = new Uint8Array(1 + 2 * size);
    sec1[0] = 4; sec1.set(x, 1); sec1.set(y, 1 + size);
    const point = natives.ecPoint(curve, sec1);
    if (point === undefined) fail("DataError", "Invalid keyData");
    if (!isPrivate) return makeKey("public", extractable, ecAlgorithm, usages, { point });
    const secret = unb64url(keyData.d, "d");
    const derived = secret.length === size ? natives.ecPublicKey(curve, secret) : undefined;
    if (derived === undefined || b64url(derived) !== b64url(point)) fail("DataError", "Invalid keyData");
    return makeKey("private", extractable, ecAlgorithm, usages, { point, secret });
  }

  function exportKey(format, key) {
    const data = keyData(key);
    if (!key.extractable) fail("InvalidAccessError", "key is not extractable");
    const { name } = key.algorithm;
    if (format === "raw") {
      if (key.type === "secret") return buffer(data.bytes);
      if (key.type === "public") return buffer(data.point);
      fail("InvalidAccessError", "Unable to export a raw private key");
    }
    if (format !== "jwk") fail("NotSupportedError", `Unable to export a key with format ${format}`);
    const jwk = { key_ops: key.usages.slice(), ext: true };
    if (name === "HMAC") Object.assign(jwk, { kty: "oct", k: b64url(data.bytes), alg: hmacAlg(key.algorithm.hash.name) });
    else if (name === "AES-GCM") Object.assign(jwk, { kty: "oct", k: b64url(data.bytes), alg: aesAlg(key.algorithm.length) });
    else {
      Object.assign(jwk, { kty: "EC", crv: jwkCurve(key.algorithm.namedCurve), x: b64url(data.point.subarray(1, 1 + curveBytes[key.algorithm.namedCurve])), y: b64url(data.point.subarray(1 + curveBytes[key.algorithm.namedCurve])) });
      if (key.type === "private") jwk.d = b64url(data.secret);
    }
    return jwk;
  }

  function generateKey(algorithm, extractable, usages) {
    const alg = normalize(algorithm);
    if (alg.name === "HMAC") {
      const hash = hashOf(alg.hash);
      const bits = alg.length === undefined ? hashBlockBits[hash] : Number(alg.length);
      if (!(bits > 0)) fail("OperationError", "Invalid key length");
      const bytes = utils().randomBytes(Math.ceil(bits / 8));
      return importHmac("raw", bytes, { hash, length: bits }, extractable, usages);
    }
    if (alg.name === "AES-GCM") {
      const bits = Number(alg.length);
      if (![128, 192, 256].includes(bits)) fail("OperationError", "AES key length must be 128, 192 or 256 bits");
      return importAes("raw", utils().randomBytes(bits / 8), alg, extractable, usages);
    }
    if (alg.name === "ECDSA") {
      const curve = curveOf(alg);
      const list = checkUsages(usages, ["sign", "verify"]);
      const privateUsages = list.filter((u) => u === "sign");
      requireUsages(privateUsages);
      const secret = natives.ecGenerate(curve);
      const point = natives.ecPublicKey(curve, secret);
      const ecAlgorithm = { name: "ECDSA", namedCurve: curve };
      return {
        publicKey: makeKey("public", true, ecAlgorithm, list.filter((u) => u === "verify"), { point }),
        privateKey: makeKey("private", extractable, ecAlgorithm, privateUsages, { point, secret }),
      };
    }
    fail("NotSupportedError", `Unable to generate a key for ${alg.name}`);
  }

  // The key may be used for `usage` with `alg`.
  const checkKey = (alg, key, usage) => {
    keyData(key);
    if (key.algorithm.name !== alg.name) fail("InvalidAccessError", "The requested operation is not valid for the provided key");
    if (!key.usages.includes(usage)) fail("InvalidAccessError", "The requested operation is not valid for the provided key");
  };

  function sign(algorithm, key, data) {
    const alg = normalize(algorithm);
    const bytes = bytesOf(data, "data");
    checkKey(alg, key, "sign");
    if (alg.name === "HMAC") return buffer(natives.hmacSign(key.algorithm.hash.name, keyData(key).bytes, bytes));
    if (alg.name === "ECDSA") {
      const hash = hashOf(alg.hash);
      const signature = natives.ecdsaSign(key.algorithm.namedCurve, hash, keyData(key).secret, bytes);
      if (signature === undefined) fail("OperationError", "The operation failed for an operation-specific reason");
      return buffer(signature);
    }
    fail("NotSupportedError", `${alg.name} cannot sign`);
  }

  function verify(algorithm, key, signature, data) {
    const alg = normalize(algorithm);
    const sig = bytesOf(signature, "signature");
    const bytes = bytesOf(data, "data");
    checkKey(alg, key, "verify");
    if (alg.name === "HMAC") return natives.hmacVerify(key.algorithm.hash.name, keyData(key).bytes, bytes, sig);
    if (alg.name === "ECDSA") return natives.ecdsaVerify(key.algorithm.namedCurve, hashOf(alg.hash), keyData(key).point, bytes, sig);
    fail("NotSupportedError", `${alg.name} cannot verify`);
  }

  function aesGcm(seal, algorithm, key, data) {
    const alg = normalize(algorithm);
    const bytes = bytesOf(data, "data");
    checkKey(alg, key, seal ? "encrypt" : "decrypt");
    if (alg.name !== "AES-GCM") fail("NotSupportedError", `${alg.name} cannot ${seal ? "encrypt" : "decrypt"}`);
    if (alg.iv === undefined) throw new TypeError("algorithm: iv is required");
    const iv = bytesOf(alg.iv, "iv");
    const aad = alg.additionalData === undefined ? new Uint8Array(0) : bytesOf(alg.additionalData, "additionalData");
    if (alg.tagLength !== undefined && Number(alg.tagLength) !== 128) fail("NotSupportedError", "Only 128-bit AES-GCM tags are supported");
    if (iv.length !== 12 && iv.length !== 16) fail("NotSupportedError", "AES-GCM IVs of 12 or 16 bytes are supported");
    if (!seal && bytes.length < 16) fail("OperationError", "The provided data is too small.");
    const out = natives.aesGcm(seal, keyData(key).bytes, iv, bytes, aad);
    if (out === undefined) fail("OperationError", "The operation failed for an operation-specific reason");
    return buffer(out);
  }

  function importKey(format, keyData, algorithm, extractable, usages) {
    const alg = normalize(algorithm);
    switch (alg.name) {
      case "HMAC": return importHmac(format, keyData, alg, extractable, usages);
      case "AES-GCM": return importAes(format, keyData, alg, extractable, usages);
      case "ECDSA": return importEc(format, keyData, alg, extractable, usages);
      default: fail("NotSupportedError", `Unable to import a ${alg.name} key`);
    }
  }

  function digest(algorithm, data) {
    const name = normalize(algorithm).name;
    if (!hashes[name]) fail("NotSupportedError", "Unrecognized algorithm name");
    return utils().digest(`sha${name.slice(4)}`, bytesOf(data, "data")).buffer;
  }

  // Every method answers a promise and rejects (never throws), as WebCrypto does.
  const promised = (fn) => function (...args) {
    try { return PromiseCtor.resolve(fn(...args)); } catch (error) { return PromiseCtor.reject(error); }
  };
  class SubtleCrypto {
    constructor() { if (!constructing) throw new TypeError("Illegal constructor"); }
    get [Symbol.toStringTag]() { return "SubtleCrypto"; }
  }
  const methods = { digest, importKey, exportKey, generateKey, sign, verify, encrypt: (a, k, d) => aesGcm(true, a, k, d), decrypt: (a, k, d) => aesGcm(false, a, k, d) };
  for (const name of Object.keys(methods)) {
    const method = promised(methods[name]);
    defineProperty(method, "name", { value: name });
    defineProperty(SubtleCrypto.prototype, name, { value: method, writable: true, configurable: true });
  }
  constructing = true;
  const subtle = new SubtleCrypto();
  constructing = false;
  return { subtle: freeze(subtle), CryptoKey, SubtleCrypto };
})
