// Conformance cases for the web APIs of Lit Actions, run unchanged by Node (js/webapi/node.mjs)
// and by lit-node's QuickJS runtime (tests/web_api_conformance.rs), whose results must be equal:
// crypto.subtle (digest, importKey/exportKey raw and jwk, generateKey, HMAC, ECDSA P-256, AES-GCM),
// setInterval/clearInterval, AbortController/AbortSignal (also as fetch's signal), Blob,
// DOMException, Event/EventTarget and performance.now().
//
// A classic script: it defines `webApiCases(options)`, which answers
// { cases: {...deterministic results...}, exchange: {...signatures for the other side...} }.
// options: { slowUrl?: a URL that answers late (fetch abort), peer?: the other side's exchange,
//            platform: "node" | "lit" }.
// ECDSA signatures are random (Node) or deterministic (lit-node), so they are not compared: each
// side verifies the other's instead (`peerVerifies`).

// Fixed test keys (made once with Node's crypto.generateKeyPairSync).
const P256_JWK = { kty: "EC", crv: "P-256", x: "LR2LO0JSVzTuuAMB4LXulS7cwlAhFgQrlVIUs3k1lyA", y: "-KwMEdkID8ky0eWSwOeEWi4cMVi42ahN3cB1mrt81DE", d: "bW0Y6Zt03x9uxGVgWPOOY8WpMaL3It00TcQ0ZaKJ0Mk" };
const K256_JWK = { kty: "EC", crv: "secp256k1", x: "Yt8ety80heYahNUq9rqvriLKPTBPKSPiIrowlLAyAyY", y: "h4xbGQGaBwc6aEnlJwCTS05AgOqZCiNIeMQCvntxqeo", d: "qvYqGTUi0nThnYVO9t-j1nWMnBoeT9LRF-Ogm-80egY" };
const MESSAGE = "Lit Actions sign what they fetch";

async function webApiCases(options) {
  const opts = options || {};
  const peer = opts.peer || {};
  const enc = (text) => new TextEncoder().encode(text);
  const hex = (buffer) => Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
  const unhex = (text) => Uint8Array.from(text.match(/../g) || [], (h) => parseInt(h, 16));
  const sorted = (value) => {
    if (Array.isArray(value)) return value.map(sorted);
    if (value && typeof value === "object") return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sorted(value[k])]));
    return value;
  };
  // The error's class name and DOMException name, or "ok" and the value.
  const outcome = async (fn) => {
    try {
      const value = await fn();
      return { ok: value instanceof ArrayBuffer ? hex(value) : value };
    } catch (error) {
      return { error: error && error.name, isDOMException: error instanceof DOMException };
    }
  };
  const keyInfo = (key) => sorted({ type: key.type, extractable: key.extractable, algorithm: key.algorithm, usages: key.usages, tag: Object.prototype.toString.call(key) });
  const subtle = crypto.subtle;
  const cases = {};
  const exchange = {};

  // ------------------------------------------------------------ digest
  cases.digest = {
    sha256: hex(await subtle.digest("SHA-256", enc("abc"))),
    sha384: hex(await subtle.digest({ name: "sha-384" }, enc("abc"))),
    sha512: hex(await subtle.digest("SHA-512", enc("abc").buffer)),
    md5: await outcome(() => subtle.digest("MD5", enc("abc"))),
    sha1OfView: hex(await subtle.digest("SHA-256", new DataView(enc("xabcx").buffer, 1, 3))),
  };

  // ------------------------------------------------------------ HMAC
  cases.hmac = {};
  for (const hash of ["SHA-256", "SHA-384", "SHA-512"]) {
    const key = await subtle.importKey("raw", enc("a secret key"), { name: "HMAC", hash }, true, ["sign", "verify"]);
    const signature = await subtle.sign("HMAC", key, enc(MESSAGE));
    const tampered = new Uint8Array(signature).slice();
    tampered[0] ^= 1;
    const jwk = await subtle.exportKey("jwk", key);
    const fromJwk = await subtle.importKey("jwk", jwk, { name: "HMAC", hash }, false, ["sign"]);
    cases.hmac[hash] = {
      key: keyInfo(key),
      signature: hex(signature),
      verifies: await subtle.verify("HMAC", key, signature, enc(MESSAGE)),
      tamperedVerifies: await subtle.verify({ name: "HMAC" }, key, tampered, enc(MESSAGE)),
      shortVerifies: await subtle.verify("HMAC", key, signature.slice(0, 8), enc(MESSAGE)),
      jwk: sorted(jwk),
      raw: hex(await subtle.exportKey("raw", key)),
      jwkSignature: hex(await subtle.sign("HMAC", fromJwk, enc(MESSAGE))),
      jwkKey: keyInfo(fromJwk),
    };
  }
  const hmacKey = await subtle.importKey("raw", enc("k"), { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
  cases.hmacErrors = {
    emptyKey: await outcome(() => subtle.importKey("raw", new Uint8Array(0), { name: "HMAC", hash: "SHA-256" }, false, ["sign"])),
    noHash: await outcome(() => subtle.importKey("raw", enc("k"), { name: "HMAC" }, false, ["sign"])),
    badUsage: await outcome(() => subtle.importKey("raw", enc("k"), { name: "HMAC", hash: "SHA-256" }, false, ["encrypt"])),
    noUsages: await outcome(() => subtle.importKey("raw", enc("k"), { name: "HMAC", hash: "SHA-256" }, false, [])),
    signWithVerifyKey: await outcome(() => subtle.sign("HMAC", hmacKey, enc("x"))),
    exportUnextractable: await outcome(() => subtle.exportKey("raw", hmacKey)),
    jwkWrongAlg: await outcome(() => subtle.importKey("jwk", { kty: "oct", k: "a2V5", alg: "HS512" }, { name: "HMAC", hash: "SHA-256" }, false, ["sign"])),
    jwkWrongKty: await outcome(() => subtle.importKey("jwk", { kty: "EC", k: "a2V5" }, { name: "HMAC", hash: "SHA-256" }, false, ["sign"])),
    unknownAlgorithm: await outcome(() => subtle.importKey("raw", enc("k"), { name: "HMAC-XYZ", hash: "SHA-256" }, false, ["sign"])),
    withLength: keyInfo(await subtle.importKey("raw", enc("kk"), { name: "HMAC", hash: "SHA-256", length: 16 }, false, ["sign"])),
    tooLong: await outcome(() => subtle.importKey("raw", enc("kk"), { name: "HMAC", hash: "SHA-256", length: 24 }, false, ["sign"])),
  };
  const generatedHmac = await subtle.generateKey({ name: "HMAC", hash: "SHA-384" }, true, ["sign", "verify"]);
  cases.hmacGenerated = {
    key: keyInfo(generatedHmac),
    rawLength: (await subtle.exportKey("raw", generatedHmac)).byteLength,
    roundTrip: await subtle.verify("HMAC", generatedHmac, await subtle.sign("HMAC", generatedHmac, enc("x")), enc("x")),
  };

  // ------------------------------------------------------------ AES-GCM
  cases.aesGcm = {};
  const iv = unhex("000102030405060708090a0b");
  for (const bytes of [16, 24, 32]) {
    const raw = Uint8Array.from({ length: bytes }, (_, i) => i * 7);
    const key = await subtle.importKey("raw", raw, "AES-GCM", true, ["encrypt", "decrypt"]);
    const sealed = await subtle.encrypt({ name: "AES-GCM", iv, additionalData: enc("header") }, key, enc(MESSAGE));
    const tampered = new Uint8Array(sealed).slice();
    tampered[3] ^= 1;
    const jwk = await subtle.exportKey("jwk", key);
    const fromJwk = await subtle.importKey("jwk", jwk, { name: "AES-GCM" }, false, ["decrypt"]);
    cases.aesGcm[bytes] = {
      key: keyInfo(key),
      sealed: hex(sealed),
      opened: new TextDecoder().decode(await subtle.decrypt({ name: "AES-GCM", iv, additionalData: enc("header") }, key, sealed)),
      openedFromJwk: new TextDecoder().decode(await subtle.decrypt({ name: "AES-GCM", iv, additionalData: enc("header") }, fromJwk, sealed)),
      tampered: await outcome(() => subtle.decrypt({ name: "AES-GCM", iv, additionalData: enc("header") }, key, tampered)),
      wrongAad: await outcome(() => subtle.decrypt({ name: "AES-GCM", iv }, key, sealed)),
      jwk: sorted(jwk),
      iv16: hex(await subtle.encrypt({ name: "AES-GCM", iv: new Uint8Array(16) }, key, enc("x"))),
    };
  }
  const aesKey = await subtle.importKey("raw", new Uint8Array(16), "AES-GCM", false, ["encrypt"]);
  cases.aesErrors = {
    badLength: await outcome(() => subtle.importKey("raw", new Uint8Array(20), "AES-GCM", false, ["encrypt"])),
    noIv: await outcome(() => subtle.encrypt({ name: "AES-GCM" }, aesKey, enc("x"))),
    decryptWithEncryptKey: await outcome(() => subtle.decrypt({ name: "AES-GCM", iv }, aesKey, new Uint8Array(32))),
    signUsage: await outcome(() => subtle.importKey("raw", new Uint8Array(16), "AES-GCM", false, ["sign"])),
    tooShort: await outcome(async () => subtle.decrypt({ name: "AES-GCM", iv }, await subtle.importKey("raw", new Uint8Array(16), "AES-GCM", false, ["decrypt"]), new Uint8Array(5))),
    hmacKeyForAes: await outcome(() => subtle.encrypt({ name: "AES-GCM", iv }, hmacKey, enc("x"))),
  };
  const generatedAes = await subtle.generateKey({ name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
  cases.aesGenerated = {
    key: keyInfo(generatedAes),
    roundTrip: new TextDecoder().decode(await subtle.decrypt({ name: "AES-GCM", iv }, generatedAes, await subtle.encrypt({ name: "AES-GCM", iv }, generatedAes, enc("round trip")))),
    badLength: await outcome(() => subtle.generateKey({ name: "AES-GCM", length: 100 }, false, ["encrypt"])),
  };

  // ------------------------------------------------------------ ECDSA P-256
  const ecdsa = { name: "ECDSA", namedCurve: "P-256" };
  const privateKey = await subtle.importKey("jwk", P256_JWK, ecdsa, true, ["sign"]);
  const { d, ...publicJwk } = P256_JWK;
  const publicKey = await subtle.importKey("jwk", publicJwk, ecdsa, true, ["verify"]);
  const rawPublic = await subtle.exportKey("raw", publicKey);
  const rawKey = await subtle.importKey("raw", rawPublic, ecdsa, true, ["verify"]);
  const signature = await subtle.sign({ name: "ECDSA", hash: "SHA-256" }, privateKey, enc(MESSAGE));
  exchange.p256 = hex(signature);
  const flipped = new Uint8Array(signature).slice();
  flipped[10] ^= 1;
  cases.p256 = {
    privateKey: keyInfo(privateKey),
    publicKey: keyInfo(publicKey),
    signatureLength: signature.byteLength,
    verifies: await subtle.verify({ name: "ECDSA", hash: "SHA-256" }, publicKey, signature, enc(MESSAGE)),
    rawKeyVerifies: await subtle.verify({ name: "ECDSA", hash: "SHA-256" }, rawKey, signature, enc(MESSAGE)),
    otherMessage: await subtle.verify({ name: "ECDSA", hash: "SHA-256" }, publicKey, signature, enc("other")),
    otherHash: await subtle.verify({ name: "ECDSA", hash: "SHA-384" }, publicKey, signature, enc(MESSAGE)),
    flipped: await subtle.verify({ name: "ECDSA", hash: "SHA-256" }, publicKey, flipped, enc(MESSAGE)),
    peerVerifies: peer.p256 ? await subtle.verify({ name: "ECDSA", hash: "SHA-256" }, publicKey, unhex(peer.p256), enc(MESSAGE)) : null,
    rawPublic: hex(rawPublic),
    privateJwk: sorted(await subtle.exportKey("jwk", privateKey)),
    publicJwk: sorted(await subtle.exportKey("jwk", publicKey)),
    sha512: await subtle.verify({ name: "ECDSA", hash: "SHA-512" }, publicKey, await subtle.sign({ name: "ECDSA", hash: "SHA-512" }, privateKey, enc(MESSAGE)), enc(MESSAGE)),
  };
  cases.p256Errors = {
    wrongD: await outcome(() => subtle.importKey("jwk", { ...P256_JWK, d: publicJwk.x }, ecdsa, false, ["sign"])),
    rawWithSign: await outcome(() => subtle.importKey("raw", rawPublic, ecdsa, false, ["sign"])),
    notOnCurve: await outcome(() => subtle.importKey("raw", new Uint8Array(65).fill(4), ecdsa, false, ["verify"])),
    wrongCurve: await outcome(() => subtle.importKey("jwk", publicJwk, { name: "ECDSA", namedCurve: "P-384" }, false, ["verify"])),
    p384Roundtrip: await outcome(async () => {
      const p384 = await subtle.generateKey({ name: "ECDSA", namedCurve: "P-384" }, true, ["sign", "verify"]);
      const sig = await subtle.sign({ name: "ECDSA", hash: "SHA-384" }, p384.privateKey, enc("x"));
      const jwk = await subtle.exportKey("jwk", p384.publicKey);
      const back = await subtle.importKey("jwk", jwk, { name: "ECDSA", namedCurve: "P-384" }, false, ["verify"]);
      return [sig.byteLength, jwk.crv, jwk.x.length, (await subtle.exportKey("raw", p384.publicKey)).byteLength, await subtle.verify({ name: "ECDSA", hash: "SHA-384" }, back, sig, enc("x"))];
    }),
    unknownCurve: await outcome(() => subtle.importKey("jwk", publicJwk, { name: "ECDSA", namedCurve: "P-999" }, false, ["verify"])),
    rawPrivate: await outcome(() => subtle.exportKey("raw", privateKey)),
    signWithPublic: await outcome(() => subtle.sign({ name: "ECDSA", hash: "SHA-256" }, publicKey, enc("x"))),
    noHash: await outcome(() => subtle.sign({ name: "ECDSA" }, privateKey, enc("x"))),
  };
  const pair = await subtle.generateKey(ecdsa, false, ["sign", "verify"]);
  cases.p256Generated = {
    publicKey: keyInfo(pair.publicKey),
    privateKey: keyInfo(pair.privateKey),
    roundTrip: await subtle.verify({ name: "ECDSA", hash: "SHA-256" }, pair.publicKey, await subtle.sign({ name: "ECDSA", hash: "SHA-256" }, pair.privateKey, enc("x")), enc("x")),
  };
  cases.cryptoKey = {
    illegal: await outcome(() => new CryptoKey()),
    instance: privateKey instanceof CryptoKey,
    subtleTag: Object.prototype.toString.call(crypto.subtle),
  };

  // ------------------------------------------------------------ secp256k1 (not in Node's WebCrypto)
  // lit-node signs and verifies with namedCurve "K-256"; Node's side (node.mjs) does the same
  // with node:crypto, so both sides verify each other's signatures.
  if (opts.platform === "lit") {
    const k256 = { name: "ECDSA", namedCurve: "K-256" };
    const kPrivate = await subtle.importKey("jwk", K256_JWK, k256, false, ["sign"]);
    const { d: _d, ...kPublicJwk } = K256_JWK;
    const kPublic = await subtle.importKey("jwk", kPublicJwk, { name: "ECDSA", namedCurve: "secp256k1" }, true, ["verify"]);
    const kSignature = await subtle.sign({ name: "ECDSA", hash: "SHA-256" }, kPrivate, enc(MESSAGE));
    exchange.k256 = hex(kSignature);
    cases.k256 = {
      verifies: await subtle.verify({ name: "ECDSA", hash: "SHA-256" }, kPublic, kSignature, enc(MESSAGE)),
      peerVerifies: peer.k256 ? await subtle.verify({ name: "ECDSA", hash: "SHA-256" }, kPublic, unhex(peer.k256), enc(MESSAGE)) : null,
    };
  }

  // ------------------------------------------------------------ timers
  const order = [];
  await new Promise((resolve) => {
    let ticks = 0;
    const interval = setInterval((tag) => {
      ticks += 1;
      order.push(`${tag}${ticks}`);
      if (ticks === 3) { clearInterval(interval); setTimeout(resolve, 30); }
    }, 20, "i");
    setTimeout(() => order.push("t"), 50);
    const cleared = setInterval(() => order.push("never"), 5);
    clearInterval(cleared);
    const viaTimeout = setInterval(() => order.push("never2"), 5);
    clearTimeout(viaTimeout);
  });
  cases.timers = { order };

  // ------------------------------------------------------------ AbortController / AbortSignal
  const controller = new AbortController();
  const seen = [];
  controller.signal.onabort = (event) => seen.push(`onabort:${event.type}`);
  controller.signal.addEventListener("abort", (event) => seen.push(`listener:${event.type}:${event.target === controller.signal}`));
  controller.signal.addEventListener("abort", () => seen.push("once"), { once: true });
  const before = controller.signal.aborted;
  controller.abort();
  controller.abort("again");
  const custom = new AbortController();
  custom.abort("my reason");
  const timeoutSignal = AbortSignal.timeout(10);
  await new Promise((resolve) => setTimeout(resolve, 40));
  const anySignal = AbortSignal.any([new AbortController().signal, AbortSignal.abort("first")]);
  cases.abort = {
    before,
    after: controller.signal.aborted,
    seen,
    reason: { name: controller.signal.reason.name, message: controller.signal.reason.message, code: controller.signal.reason.code },
    custom: custom.signal.reason,
    throwIfAborted: await outcome(() => controller.signal.throwIfAborted()),
    throwIfAbortedCustom: (() => { try { custom.signal.throwIfAborted(); return "no"; } catch (e) { return e; } })(),
    staticAbort: AbortSignal.abort().reason.name,
    timeout: { aborted: timeoutSignal.aborted, name: timeoutSignal.reason && timeoutSignal.reason.name },
    any: { aborted: anySignal.aborted, reason: anySignal.reason },
    illegal: await outcome(() => new AbortSignal()),
    tag: Object.prototype.toString.call(controller.signal),
    preAbortedFetch: await outcome(() => fetch("http://127.0.0.1:9/", { signal: AbortSignal.abort() })),
    preAbortedCustom: await fetch("http://127.0.0.1:9/", { signal: AbortSignal.abort("stop") }).catch((e) => e),
  };
  if (opts.slowUrl) {
    const slow = new AbortController();
    const started = Date.now();
    setTimeout(() => slow.abort(), 50);
    const result = await outcome(() => fetch(opts.slowUrl, { signal: slow.signal }));
    cases.abort.inFlightFetch = { ...result, quick: Date.now() - started < 2000 };
    const viaTimeout = await outcome(() => fetch(opts.slowUrl, { signal: AbortSignal.timeout(50) }));
    cases.abort.fetchTimeout = viaTimeout;
  }

  // ------------------------------------------------------------ Blob
  const blob = new Blob(["héllo ", enc("wörld"), new Blob(["!"])], { type: "Text/Plain" });
  const response = new Response(blob);
  cases.blob = {
    size: blob.size,
    type: blob.type,
    text: await blob.text(),
    bytes: hex(await blob.arrayBuffer()),
    slice: await blob.slice(1, 4).text(),
    negative: await blob.slice(-3).text(),
    sliceType: blob.slice(0, 1, "application/x-thing").type,
    empty: new Blob().size,
    badType: new Blob([], { type: "ünicode" }).type,
    responseType: response.headers.get("content-type"),
    responseText: await response.text(),
    fromResponse: await (async () => { const b = await new Response("abc", { headers: { "content-type": "text/x-abc" } }).blob(); return [b.size, b.type, await b.text()]; })(),
    notSequence: await outcome(() => new Blob("abc")),
    tag: Object.prototype.toString.call(blob),
  };

  // ------------------------------------------------------------ DOMException
  const exception = new DOMException("went wrong", "NotFoundError");
  cases.domException = {
    name: exception.name,
    message: exception.message,
    code: exception.code,
    isError: exception instanceof Error,
    text: String(exception),
    defaults: [new DOMException().name, new DOMException().message, new DOMException().code],
    abortConstant: DOMException.ABORT_ERR,
    timeoutConstant: DOMException.TIMEOUT_ERR,
    options: new DOMException("m", { name: "DataError" }).name,
  };

  // ------------------------------------------------------------ Event / EventTarget
  const target = new EventTarget();
  const events = [];
  const handler = { handleEvent: (e) => events.push(`object:${e.type}`) };
  target.addEventListener("ping", (e) => events.push(`fn:${e.type}:${e.cancelable}`));
  target.addEventListener("ping", handler);
  target.addEventListener("ping", handler);
  target.addEventListener("ping", (e) => { events.push("prevent"); e.preventDefault(); }, { once: true });
  const first = target.dispatchEvent(new Event("ping", { cancelable: true }));
  const second = target.dispatchEvent(new Event("ping", { cancelable: true }));
  target.removeEventListener("ping", handler);
  target.dispatchEvent(new Event("ping"));
  cases.events = { events, first, second, noType: await outcome(() => new Event()) };

  // ------------------------------------------------------------ performance
  const t0 = performance.now();
  await new Promise((resolve) => setTimeout(resolve, 25));
  const t1 = performance.now();
  cases.performance = {
    type: typeof t0,
    monotonic: t1 >= t0,
    waited: t1 - t0 >= 20,
    origin: Math.abs(performance.timeOrigin + performance.now() - Date.now()) < 1000,
  };

  return { cases, exchange };
}
