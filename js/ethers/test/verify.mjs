// Proves the QuickJS ethers bundle (js/ethers/build.mjs) behaves byte for byte like the real
// ethers@5.7.2 under Node. Run by script/test.sh:
//
//   node js/ethers/test/verify.mjs [bundle.js]     (without an argument it builds to a temp file)
//
// The bundle is evaluated in a fresh `vm` context holding only what lit-node's QuickJS contexts
// provide (JS builtins, console, atob/btoa, crypto.getRandomValues; no require, process, Buffer,
// TextEncoder, window, timers), is handed the reference native interface of ./native-node.mjs, and
// every case below runs against both it and `require("ethers")`; results (values or thrown errors)
// must serialise identically. Also checked: the script's completion value is the factory function,
// loading it writes nothing to globalThis and logs nothing, the ENS tables are decoded lazily (once,
// on first use), every native function is really used, and modules are initialised lazily with
// real ethers' keys (./lazy.mjs). Exits non-zero on any failure.
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import vm from "node:vm";
import { BANNER, FOOTER, build, toolsModules } from "../build.mjs";
import { makeContext } from "./context.mjs";
import { checkLazy } from "./lazy.mjs";
import { createNodeNative } from "./native-node.mjs";

const require = createRequire(path.join(toolsModules, "noop.js"));
const R = require("ethers"); // the real ethers@5.7.2 (CommonJS build for Node)
if (R.version !== "ethers/5.7.2") {
    throw new Error(`expected ethers/5.7.2 in .tools, found ${R.version}`);
}

let failures = 0;
let checks = 0;
function fail(name, detail) {
    failures++;
    console.error(`FAIL ${name}: ${detail}`);
}
function assert(cond, name, detail = "") {
    checks++;
    if (!cond) {
        fail(name, detail || "assertion failed");
    }
}

// ---------------------------------------------------------------------------------------------------
// Bundle: build (or take) it, load it into a QuickJS-like context.

let bundlePath = process.argv[2];
let tmpDir = null;
let builtInputs = null;
if (!bundlePath) {
    tmpDir = mkdtempSync(path.join(os.tmpdir(), "lit-ethers-"));
    bundlePath = path.join(tmpDir, "ethers.js");
    const t = performance.now();
    ({ inputs: builtInputs } = await build(bundlePath));
    console.log(`built ${bundlePath} in ${(performance.now() - t).toFixed(0)} ms`);
}
const code = readFileSync(bundlePath, "utf8");
if (tmpDir) {
    rmSync(tmpDir, { recursive: true, force: true });
}
console.log(`bundle size: ${code.length} bytes (${(code.length / 1024).toFixed(0)} KiB)`);
assert(code.startsWith(BANNER) && code.trimEnd().endsWith(FOOTER), "bundle wrapper", "missing banner/footer");
// secp256k1's generator x coordinate: present iff elliptic's curve presets got bundled.
assert(!code.includes("79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"), "no elliptic in bundle");

const ENS_PAYLOAD_MIN = 10000; // base64 chars; the ENS tables are ~14.7k, nothing else comes close

function loadBundle() {
    const env = makeContext();
    const missing = vm.runInContext(
        "['require','process','Buffer','TextEncoder','TextDecoder','window','self','global','setTimeout','module','exports','ethers'].filter((n) => typeof globalThis[n] !== 'undefined')",
        env.ctx,
    );
    assert(missing.length === 0, "context is QuickJS-like", `context unexpectedly has ${missing}`);
    const before = env.globals();
    const { native, calls } = createNodeNative(vm.runInContext("Uint8Array", env.ctx));
    const t0 = performance.now();
    const factory = vm.runInContext(code, env.ctx, { filename: "lit-ethers.js" });
    const t1 = performance.now();
    if (typeof factory !== "function") {
        throw new Error(`bundle completion value is ${typeof factory}, expected a function`);
    }
    const ethers = factory(native);
    const t2 = performance.now();
    // Before anything touches the exports (a module initialised on first use may call natives).
    const callsAtLoad = { ...calls };
    return { ...env, ethers, native, calls, callsAtLoad, before, evalMs: t1 - t0, loadMs: t2 - t0 };
}

const loads = [];
const first = loadBundle();
loads.push(first.loadMs);
for (let i = 0; i < 4; i++) {
    loads.push(loadBundle().loadMs);
}
const B = first.ethers;
console.log(
    `load in a fresh vm context: first ${first.loadMs.toFixed(1)} ms (evaluate ${first.evalMs.toFixed(1)} ms + factory call), ` +
        `later contexts ${loads.slice(1).map((ms) => ms.toFixed(1)).join(" / ")} ms`,
);

assert(B && B.version === "ethers/5.7.2" && typeof B.Wallet === "function" && B.ethers && B.ethers.Wallet === B.Wallet, "bundle exports ethers");
assert(first.globals() === first.before, "nothing added to globalThis by loading", `before: ${first.before}\nafter: ${first.globals()}`);
assert(first.logs.length === 0, "nothing logged while loading", first.logs.join("\n"));
assert(!first.atobSizes.some((n) => n >= ENS_PAYLOAD_MIN), "ENS tables not decoded at load", `atob sizes: ${first.atobSizes}`);
assert(Object.values(first.callsAtLoad).every((n) => n === 0), "no native calls at load", JSON.stringify(first.callsAtLoad));

// ethers' own UMD build in the same kind of context, for comparison only.
try {
    const umd = readFileSync(path.join(toolsModules, "ethers", "dist", "ethers.umd.min.js"), "utf8");
    const env = makeContext();
    const t = performance.now();
    vm.runInContext(umd, env.ctx);
    console.log(`(for comparison: ethers' own UMD, ${umd.length} bytes, loads in ${(performance.now() - t).toFixed(1)} ms, decoding the ENS tables eagerly: ${env.atobSizes.some((n) => n >= ENS_PAYLOAD_MIN)})`);
} catch (err) {
    console.log(`(ethers' UMD did not load for comparison: ${err.message})`);
}

// ---------------------------------------------------------------------------------------------------
// Comparison machinery: run the same function against both libraries, compare canonical forms.

function canon(v, depth = 0) {
    if (depth > 12) {
        return "<deep>";
    }
    if (v === null) {
        return null;
    }
    switch (typeof v) {
        case "undefined":
            return { undefined: true };
        case "string":
        case "boolean":
        case "number":
            return v;
        case "bigint":
            return { bigint: v.toString() };
        case "function":
            return { function: v.name };
    }
    if (v._isBigNumber) {
        return { BigNumber: v.toHexString() };
    }
    if (v._isFixedNumber) {
        return { FixedNumber: v.toString(), format: v.format.name };
    }
    const tag = Object.prototype.toString.call(v);
    if (tag === "[object Uint8Array]") {
        return { bytes: Buffer.from(v).toString("hex") };
    }
    if (tag === "[object Error]") {
        return canonError(v);
    }
    const out = {};
    for (const key of Object.keys(v).sort()) {
        out[key] = canon(v[key], depth + 1);
    }
    return Array.isArray(v) ? { array: out, length: v.length } : out;
}

function canonError(err) {
    const out = { error: String(err && err.message), name: String(err && err.name) };
    for (const key of ["code", "reason", "argument", "value", "operation", "fault", "count", "expectedCount"]) {
        if (err && err[key] !== undefined) {
            out[key] = canon(err[key], 1);
        }
    }
    return out;
}

async function outcome(f, lib) {
    try {
        return { value: canon(await f(lib)) };
    } catch (err) {
        return { threw: canonError(err) };
    }
}

const show = (o) => {
    const s = JSON.stringify(o);
    return s.length > 600 ? s.slice(0, 600) + "..." : s;
};

// Both libraries must return the same value or throw the same error.
async function same(name, f, { allowTypeError = false } = {}) {
    checks++;
    const [b, r] = await Promise.all([outcome(f, B), outcome(f, R)]);
    const sb = JSON.stringify(b);
    const sr = JSON.stringify(r);
    if (sb !== sr) {
        fail(name, `\n  bundle: ${show(b)}\n  ethers: ${show(r)}`);
    } else if (b.threw && (b.threw.name === "TypeError" || b.threw.name === "ReferenceError") && !allowTypeError) {
        // Both failing with a TypeError usually means the case itself is broken (e.g. a typo).
        fail(name, `both threw a ${b.threw.name}: ${show(b)}`);
    }
    return b;
}

// Both must throw (used where ethers fails with an engine-specific TypeError from elliptic, or with
// an elliptic error message, and the bundle with the host's error instead).
async function bothThrow(name, f) {
    checks++;
    const [b, r] = await Promise.all([outcome(f, B), outcome(f, R)]);
    if (!b.threw || !r.threw) {
        fail(name, `expected both to throw\n  bundle: ${show(b)}\n  ethers: ${show(r)}`);
    }
}

async function expectValue(name, f, expected) {
    for (const [label, lib] of [["bundle", B], ["ethers", R]]) {
        checks++;
        const got = await outcome(f, lib);
        if (JSON.stringify(got) !== JSON.stringify({ value: expected })) {
            fail(`${name} (${label})`, `got ${show(got)}, expected ${JSON.stringify(expected)}`);
        }
    }
}

const hex = (bytes) => "0x" + Buffer.from(bytes).toString("hex");
const rand = (n) => hex(randomBytes(n));
const N_HEX = "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141";
const N = BigInt("0x" + N_HEX);
const pad32 = (v) => "0x" + v.toString(16).padStart(64, "0");
const PK1 = pad32(1n);
const KEYS = [
    PK1,
    pad32(2n),
    "0x0123456789012345678901234567890123456789012345678901234567890123",
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    pad32(N - 1n),
    pad32(N + 1n), // elliptic reduces keys mod n
    "0x" + "ff".repeat(32),
    rand(32),
];
const MNEMONIC = "test test test test test test test test test test test junk";

// ---------------------------------------------------------------------------------------------------
// Cases.

const t0 = performance.now();
let randomMs = 0;
try {

await expectValue(
    "signMessage vector",
    (e) => new e.Wallet(PK1).signMessage("Chipotle Rocks!"),
    "0x32f33b786e068af9852b348d79b0470dcfc0d7e0de6ed92a2e0070c84f44f68454e37318ad9f80cc81f613217ed49de72012bf6cf02a3fef039ec234c5f35d151c",
);
await expectValue("address of key 1", (e) => new e.Wallet(PK1).address, "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf");

// Wallets and signing keys.
for (const k of KEYS) {
    await same(`Wallet(${k.slice(0, 10)}…)`, (e) => {
        const w = new e.Wallet(k);
        const sk = w._signingKey();
        return [w.address, w.publicKey, w.privateKey, sk.compressedPublicKey, sk.curve, Object.keys(sk), Object.keys(w)];
    });
    await same(`signMessage string ${k.slice(0, 10)}`, (e) => new e.Wallet(k).signMessage("hello world"));
    await same(`signMessage bytes ${k.slice(0, 10)}`, (e) => new e.Wallet(k).signMessage(new Uint8Array([0, 1, 2, 255])));
    await same(`SigningKey(Uint8Array) ${k.slice(0, 10)}`, (e) => new e.utils.SigningKey(R.utils.arrayify(k)));
}
await same("signMessage empty", (e) => new e.Wallet(KEYS[2]).signMessage(""));
await same("signMessage unicode", (e) => new e.Wallet(KEYS[2]).signMessage("héllo 🌍 \u0000 ünïcode"));
await same("signMessage hex-looking string", (e) => new e.Wallet(KEYS[2]).signMessage("0x1234"));
await same("signMessage large", (e) => new e.Wallet(KEYS[2]).signMessage("x".repeat(100000)));
await same("Wallet.connect/getAddress", (e) => new e.Wallet(KEYS[3]).getAddress());
await same("Wallet from SigningKey", (e) => new e.Wallet(new e.utils.SigningKey(KEYS[3])).address);
await same("Wallet from object", (e) => new e.Wallet({ privateKey: KEYS[3], address: R.utils.computeAddress(KEYS[3]) }).address);
await same("Wallet from object with wrong address", (e) => new e.Wallet({ privateKey: KEYS[3], address: R.utils.computeAddress(KEYS[2]) }).address);

// Invalid private keys: same Logger errors.
for (const bad of ["0x1234", "hello", "0x" + "ff".repeat(33), "0x" + "00".repeat(31), "", "0x", 12, null]) {
    await same(`Wallet(${JSON.stringify(bad)}) error`, (e) => new e.Wallet(bad).address, { allowTypeError: bad === null });
    await same(`SigningKey(${JSON.stringify(bad)}) error`, (e) => new e.utils.SigningKey(bad).publicKey, { allowTypeError: bad === null });
}
// Zero mod n: ethers fails inside elliptic with a TypeError; the bundle throws "invalid private key".
for (const bad of [pad32(0n), pad32(N)]) {
    await bothThrow(`Wallet(${bad.slice(0, 12)}…) throws`, (e) => new e.Wallet(bad).address);
}

// verifyMessage / recoverAddress.
{
    const w = new R.Wallet(KEYS[3]);
    const sig = await w.signMessage("verify me");
    const split = R.utils.splitSignature(sig);
    await same("verifyMessage", (e) => e.utils.verifyMessage("verify me", sig));
    await same("verifyMessage other message", (e) => e.utils.verifyMessage("verify me!", sig));
    await same("verifyMessage split sig", (e) => e.utils.verifyMessage("verify me", split));
    await same("verifyMessage flipped v", (e) => e.utils.verifyMessage("verify me", { r: split.r, s: split.s, v: split.v ^ 1 }));
    await same("verifyMessage bytes", (e) => e.utils.verifyMessage(new Uint8Array([1, 2, 3]), sig));
    await same("verifyMessage bad length", (e) => e.utils.verifyMessage("verify me", sig.slice(0, -2)));
    await same("recoverAddress", (e) => e.utils.recoverAddress(R.utils.hashMessage("verify me"), sig));
    await same("recoverPublicKey", (e) => e.utils.recoverPublicKey(R.utils.hashMessage("verify me"), sig));
    await same("recoverPublicKey 20-byte digest", (e) => e.utils.recoverPublicKey("0x" + "ab".repeat(20), sig));
    await same("recoverPublicKey 40-byte digest", (e) => e.utils.recoverPublicKey("0x" + "cd".repeat(40), sig));
    await same("recoverPublicKey empty digest", (e) => e.utils.recoverPublicKey("0x", sig));
    await same("recoverPublicKey digest >= n", (e) => e.utils.recoverPublicKey("0x" + "ff".repeat(32), sig));
    await same("recoverPublicKey bytes", (e) => e.utils.recoverPublicKey(R.utils.arrayify(R.utils.id("x")), R.utils.arrayify(sig)));
    await same("recoverPublicKey bad digest", (e) => e.utils.recoverPublicKey("nothex", sig));
    await same("recoverPublicKey bad signature", (e) => e.utils.recoverPublicKey(R.utils.id("x"), "0x1234"));
    // r = 0 cannot be recovered: elliptic and the host fail with different messages.
    await bothThrow("recoverPublicKey r=0", (e) => e.utils.recoverPublicKey(R.utils.id("x"), { r: pad32(0n), s: split.s, v: 27 }));
}

// Digests.
for (const [label, digest] of [["zero", pad32(0n)], ["ff", "0x" + "ff".repeat(32)], ["n", pad32(N)], ["n-1", pad32(N - 1n)], ["random", rand(32)]]) {
    await same(`signDigest ${label}`, (e) => new e.utils.SigningKey(KEYS[2]).signDigest(digest));
    await same(`signDigest ${label} as bytes`, (e) => new e.utils.SigningKey(KEYS[4]).signDigest(R.utils.arrayify(digest)));
}
for (const bad of ["0x1234", "0x" + "00".repeat(33), "", "zz", [1, 2, 3]]) {
    await same(`signDigest bad ${String(bad).slice(0, 12)}`, (e) => new e.utils.SigningKey(KEYS[2]).signDigest(bad));
}
// Made in each library's own realm: Logger prints `value=Uint8Array(0x…)` only for its own Uint8Array.
await same("signDigest bad Uint8Array", (e) => new e.utils.SigningKey(KEYS[2]).signDigest(e.utils.arrayify("0x" + "00".repeat(31))));

// Public keys.
{
    const priv = KEYS[3];
    const compressed = R.utils.computePublicKey(priv, true);
    const uncompressed = R.utils.computePublicKey(priv, false);
    for (const [label, key] of [["private", priv], ["compressed", compressed], ["uncompressed", uncompressed], ["private bytes", R.utils.arrayify(priv)]]) {
        for (const c of [true, false, undefined]) {
            await same(`computePublicKey(${label}, ${c})`, (e) => e.utils.computePublicKey(key, c));
        }
    }
    for (const bad of ["0x1234", "0x" + "02".repeat(34), "nothex"]) {
        await same(`computePublicKey bad ${bad.slice(0, 10)}`, (e) => e.utils.computePublicKey(bad, true));
    }
    // Zero private key: TypeError inside elliptic in ethers, "invalid private key" in the bundle.
    await bothThrow("computePublicKey zero key", (e) => e.utils.computePublicKey(pad32(0n), true));
    // Not on the curve (x = 5 has no y): elliptic and the host fail with different messages.
    await bothThrow("computePublicKey invalid point", (e) => e.utils.computePublicKey("0x02" + "00".repeat(31) + "05", false));
    await same("computeAddress(private)", (e) => e.utils.computeAddress(priv));
    await same("computeAddress(compressed)", (e) => e.utils.computeAddress(compressed));
    await same("computeAddress(uncompressed)", (e) => e.utils.computeAddress(uncompressed));
    await same("_addPoint compressed", (e) => new e.utils.SigningKey(KEYS[2])._addPoint(compressed));
    await same("_addPoint uncompressed", (e) => new e.utils.SigningKey(KEYS[2])._addPoint(uncompressed));
    await same("_addPoint self (doubling)", (e) => new e.utils.SigningKey(priv)._addPoint(compressed));
    for (const [label, other] of [["private", KEYS[2]], ["compressed", R.utils.computePublicKey(KEYS[2], true)], ["uncompressed", R.utils.computePublicKey(KEYS[2])]]) {
        await same(`computeSharedSecret(${label})`, (e) => new e.utils.SigningKey(priv).computeSharedSecret(other));
    }
    await same("computeSharedSecret symmetric", (e) => new e.utils.SigningKey(KEYS[2]).computeSharedSecret(priv));
    await same("computeSharedSecret bad key", (e) => new e.utils.SigningKey(priv).computeSharedSecret("0x1234"));
    await same("SigningKey.isSigningKey", (e) => [e.utils.SigningKey.isSigningKey(new e.utils.SigningKey(priv)), e.utils.SigningKey.isSigningKey({}), e.utils.SigningKey.isSigningKey(null)]);
}

// Transactions.
{
    const base = { to: "0x8ba1f109551bD432803012645Ac136ddd64DBA72", nonce: 7, gasLimit: 21000, value: R.utils.parseEther("1.25"), data: "0x1234abcd" };
    const txs = {
        "legacy (no chainId)": { ...base, gasPrice: R.utils.parseUnits("20", "gwei") },
        "legacy EIP-155 chainId 1": { ...base, gasPrice: 1000000000, chainId: 1 },
        "legacy EIP-155 chainId 175188": { ...base, gasPrice: 1000000000, chainId: 175188 },
        "EIP-2930": { ...base, type: 1, chainId: 5, gasPrice: 7, accessList: [{ address: base.to, storageKeys: [pad32(1n), pad32(2n)] }] },
        "EIP-1559": { ...base, type: 2, chainId: 1, maxFeePerGas: R.utils.parseUnits("100", "gwei"), maxPriorityFeePerGas: R.utils.parseUnits("2", "gwei"), accessList: [] },
        "EIP-1559 with access list": { ...base, type: 2, chainId: 137, maxFeePerGas: 100, maxPriorityFeePerGas: 2, accessList: [[base.to, [pad32(3n)]]] },
        "contract creation": { nonce: 0, gasLimit: 1000000, gasPrice: 1, data: "0x6080604052", chainId: 1 },
    };
    for (const [label, tx] of Object.entries(txs)) {
        for (const k of [KEYS[0], KEYS[3], KEYS[6]]) {
            const signed = await same(`signTransaction ${label} ${k.slice(0, 8)}`, (e) => new e.Wallet(k).signTransaction(tx));
            if (signed.value) {
                await same(`parseTransaction ${label} ${k.slice(0, 8)}`, (e) => e.utils.parseTransaction(signed.value));
            }
        }
        await same(`serializeTransaction ${label}`, (e) => e.utils.serializeTransaction(tx));
    }
    await same("signTransaction from mismatch", (e) => new e.Wallet(KEYS[0]).signTransaction({ ...txs["EIP-1559"], from: "0x8ba1f109551bD432803012645Ac136ddd64DBA72" }));
    await same("signTransaction bad field", (e) => new e.Wallet(KEYS[0]).signTransaction({ ...txs["EIP-1559"], bogus: 1 }));
}

// EIP-712.
{
    const domain = { name: "Ether Mail", version: "1", chainId: 1, verifyingContract: "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC" };
    const types = {
        Person: [{ name: "name", type: "string" }, { name: "wallet", type: "address" }],
        Mail: [{ name: "from", type: "Person" }, { name: "to", type: "Person" }, { name: "contents", type: "string" }],
    };
    const value = {
        from: { name: "Cow", wallet: "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826" },
        to: { name: "Bob", wallet: "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB" },
        contents: "Hello, Bob!",
    };
    await expectValue(
        "EIP-712 Mail hash",
        (e) => e.utils._TypedDataEncoder.hash(domain, types, value),
        "0xbe609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2",
    );
    for (const k of KEYS.slice(0, 4)) {
        const sig = await same(`_signTypedData ${k.slice(0, 8)}`, (e) => new e.Wallet(k)._signTypedData(domain, types, value));
        if (sig.value) {
            await same(`verifyTypedData ${k.slice(0, 8)}`, (e) => e.utils.verifyTypedData(domain, types, value, sig.value));
        }
    }
    await same("_signTypedData bad value", (e) => new e.Wallet(PK1)._signTypedData(domain, types, { ...value, contents: 5 }));
    await same("TypedDataEncoder.getPayload", (e) => e.utils._TypedDataEncoder.getPayload(domain, types, value));
}

// Hashes.
const hashInputs = ["0x", "0x1234", new Uint8Array([1, 2, 3]), [4, 5, 6], rand(200), R.utils.toUtf8Bytes("The quick brown fox")];
for (const [i, input] of hashInputs.entries()) {
    for (const fn of ["keccak256", "sha256", "sha512", "ripemd160"]) {
        await same(`${fn} #${i}`, (e) => e.utils[fn](input));
    }
}
for (const bad of ["nothex", "0x123", 5, { length: 2 }]) {
    for (const fn of ["keccak256", "sha256", "sha512", "ripemd160"]) {
        await same(`${fn} bad ${JSON.stringify(bad)}`, (e) => e.utils[fn](bad));
    }
}
await expectValue("keccak256 empty", (e) => e.utils.keccak256("0x"), "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
await expectValue("sha256 empty", (e) => e.utils.sha256("0x"), "0xe3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
for (const keyLen of [0, 20, 64, 65, 128, 129, 300]) {
    for (const alg of ["sha256", "sha512"]) {
        const key = rand(keyLen);
        const data = rand(keyLen % 7 === 0 ? 0 : 77);
        await same(`computeHmac ${alg} key ${keyLen}`, (e) => e.utils.computeHmac(alg, key, data));
    }
}
await same("computeHmac via SupportedAlgorithm", (e) => e.utils.computeHmac(e.utils.SupportedAlgorithm.sha512, "0x01", "0x02"));
// ethers' Node build (lib/sha2.js, used by require("ethers")) words this error differently from its
// browser build (lib.esm/sha2.js, what the UMD and this bundle contain); the bundle keeps the latter.
checks++;
try {
    B.utils.computeHmac("md5", "0x01", "0x02");
    fail("computeHmac md5", "did not throw");
} catch (err) {
    const want = 'unsupported algorithm md5 (operation="hmac", algorithm="md5", code=UNSUPPORTED_OPERATION, version=sha2/5.7.0)';
    if (err.message !== want || err.code !== "UNSUPPORTED_OPERATION" || err.operation !== "hmac") {
        fail("computeHmac md5", `threw ${JSON.stringify(canonError(err))}`);
    }
}
await bothThrow("computeHmac md5 throws", (e) => e.utils.computeHmac("md5", "0x01", "0x02"));
await same("computeHmac bad key", (e) => e.utils.computeHmac("sha256", "nothex", "0x02"));
await same("SupportedAlgorithm", (e) => e.utils.SupportedAlgorithm);
await same("id", (e) => [e.utils.id("hello"), e.utils.id(""), e.utils.id("transfer(address,uint256)")]);
await same("hashMessage", (e) => [e.utils.hashMessage("hello"), e.utils.hashMessage(new Uint8Array([1]))]);
await same("solidityKeccak256", (e) =>
    e.utils.solidityKeccak256(["uint256", "address", "string", "bytes32", "int8", "bool", "bytes"], [123, KEYS[0].slice(0, 42), "hi", pad32(5n), -3, true, "0xdead"]),
);
await same("soliditySha256", (e) => e.utils.soliditySha256(["uint256", "string"], [1, "x"]));
await same("solidityPack", (e) => e.utils.solidityPack(["uint16[]", "address"], [[1, 2], "0x8ba1f109551bD432803012645Ac136ddd64DBA72"]));
await same("solidityKeccak256 bad", (e) => e.utils.solidityKeccak256(["uint8"], [256]));

// ENS (first use decodes the tables).
{
    const tEns = performance.now();
    const atobBefore = first.atobSizes.filter((n) => n >= ENS_PAYLOAD_MIN).length;
    const bundleNamehash = B.utils.namehash("vitalik.eth");
    const ensMs = performance.now() - tEns;
    const atobAfter = first.atobSizes.filter((n) => n >= ENS_PAYLOAD_MIN).length;
    assert(atobBefore === 0 && atobAfter === 1, "ENS tables decoded on first namehash", `${atobBefore} -> ${atobAfter}`);
    console.log(`first namehash in the bundle (decodes the ENS tables): ${ensMs.toFixed(1)} ms`);
    await expectValue("namehash vitalik.eth", (e) => e.utils.namehash("vitalik.eth"), "0xee6c4522aab0003e8d14cd40a6af439055fd2577951148c14b6cea9a53475835");
    assert(bundleNamehash === "0xee6c4522aab0003e8d14cd40a6af439055fd2577951148c14b6cea9a53475835", "first namehash value");
    for (const name of ["", "eth", "Vitalik.ETH", "🚀.eth", "ünïcødé.eth", "a.b.c.d.e", "xn--bcher-kva.eth", "_under.eth", "💩💩💩.eth", "ＡＢＣ.eth", "a\u200db.eth"]) {
        await same(`namehash ${JSON.stringify(name)}`, (e) => e.utils.namehash(name));
        await same(`isValidName ${JSON.stringify(name)}`, (e) => e.utils.isValidName(name));
        await same(`dnsEncode ${JSON.stringify(name)}`, (e) => e.utils.dnsEncode(name));
    }
    for (const bad of ["a..b", ".eth", "bad\u0000name.eth", "a_b.eth", "ab--cd.eth", "x\u0600y.eth", 5]) {
        await same(`namehash bad ${JSON.stringify(bad)}`, (e) => e.utils.namehash(bad));
    }
    assert(first.atobSizes.filter((n) => n >= ENS_PAYLOAD_MIN).length === 1, "ENS tables decoded only once");
}

// HD wallets.
await same("Wallet.fromMnemonic", (e) => {
    const w = e.Wallet.fromMnemonic(MNEMONIC);
    return [w.address, w.privateKey, w.publicKey, w.mnemonic];
});
await expectValue("Wallet.fromMnemonic address", (e) => e.Wallet.fromMnemonic(MNEMONIC).address, "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
await same("Wallet.fromMnemonic path", (e) => e.Wallet.fromMnemonic(MNEMONIC, "m/44'/60'/0'/0/7").address);
await same("HDNode.fromMnemonic password + derivePath", (e) => {
    const node = e.utils.HDNode.fromMnemonic(MNEMONIC, "pässword");
    const child = node.derivePath("m/44'/60'/0'/0/1");
    return [node.extendedKey, node.fingerprint, child.extendedKey, child.neuter().extendedKey, child.address, child.privateKey, child.publicKey, child.parentFingerprint, child.depth, child.index, child.path];
});
await same("HDNode public derivation", (e) => {
    const xpub = e.utils.HDNode.fromMnemonic(MNEMONIC).derivePath("m/44'/60'/0'").neuter();
    const a = xpub.derivePath("0/5");
    const b = e.utils.HDNode.fromExtendedKey(xpub.extendedKey).derivePath("1/2");
    return [xpub.extendedKey, a.address, a.publicKey, a.extendedKey, b.address, b.fingerprint];
});
await same("HDNode neutered hardened derive error", (e) => e.utils.HDNode.fromMnemonic(MNEMONIC).neuter().derivePath("0'"));
await expectValue(
    "BIP32 test vector 1",
    (e) => e.utils.HDNode.fromSeed("0x000102030405060708090a0b0c0d0e0f").derivePath("m/0'/1/2'/2/1000000000").extendedKey,
    "xprvA41z7zogVVwxVSgdKUHDy1SKmdb533PjDz7J6N6mV6uS3ze1ai8FHa8kmHScGpWmj4WggLyQjgPie1rFSruoUihUZREPSL39UNdE3BBDu76",
);
await same("HDNode.fromExtendedKey xprv", (e) => e.utils.HDNode.fromExtendedKey("xprv9s21ZrQH143K3QTDL4LXw2F7HEK3wJUD2nW2nRk4stbPy6cq3jPPqjiChkVvvNKmPGJxWUtg6LnF5kejMRNNU3TGtRBeJgk33yuGBxrMPHi").derivePath("0'/1").address);
await same("HDNode.fromExtendedKey bad", (e) => e.utils.HDNode.fromExtendedKey("xprv9s21ZrQH143K3QTDL4LXw2F7HEK3wJUD2nW2nRk4stbPy6cq3jPPqjiChkVvvNKmPGJxWUtg6LnF5kejMRNNU3TGtRBeJgk33yuGBxrMPHj"));
await same("mnemonicToSeed", (e) => [e.utils.mnemonicToSeed(MNEMONIC), e.utils.mnemonicToSeed(MNEMONIC, "pw")]);
await same("mnemonic/entropy", (e) => {
    const entropy = "0x" + "a5".repeat(16);
    const m = e.utils.entropyToMnemonic(entropy);
    return [m, e.utils.mnemonicToEntropy(m), e.utils.isValidMnemonic(m), e.utils.isValidMnemonic(MNEMONIC.replace("junk", "test")), e.utils.entropyToMnemonic("0x" + "00".repeat(32))];
});
await same("invalid mnemonic", (e) => e.Wallet.fromMnemonic("test test test").address);
await same("getAccountPath", (e) => e.utils.defaultPath + e.utils.getAccountPath(3));

// Random wallets (crypto.getRandomValues in the context) are self-consistent under real ethers.
try {
    const w = B.Wallet.createRandom();
    assert(new R.Wallet(w.privateKey).address === w.address, "createRandom address");
    assert(R.Wallet.fromMnemonic(w.mnemonic.phrase).privateKey === w.privateKey, "createRandom mnemonic");
    const bytes = B.utils.randomBytes(32);
    assert(bytes.length === 32 && !bytes.every((b) => b === 0), "randomBytes");
} catch (err) {
    fail("createRandom", String(err && err.message));
}

// Encrypted JSON wallets (scrypt kept small to stay fast). Only the synchronous API: the async one
// (fromEncryptedJson, encrypt) makes scrypt-js yield with setTimeout, which the context lacks.
{
    const json = await new R.Wallet(KEYS[3]).encrypt("pw", { scrypt: { N: 1 << 10 } });
    await same("Wallet.fromEncryptedJsonSync", (e) => e.Wallet.fromEncryptedJsonSync(json, "pw").address);
    await same("Wallet.fromEncryptedJsonSync wrong password", (e) => e.Wallet.fromEncryptedJsonSync(json, "nope").address);
    await same("Wallet.fromEncryptedJsonSync bad json", (e) => e.Wallet.fromEncryptedJsonSync("{}", "pw").address);
    await same("getJsonWalletAddress", (e) => e.utils.getJsonWalletAddress(json));
}

// ABI.
{
    const types = ["uint256", "address", "bytes", "string", "tuple(uint8 a, bool b)[]", "int256", "bytes32[2]"];
    const values = [R.BigNumber.from("123456789012345678901234567890"), "0x8ba1f109551bD432803012645Ac136ddd64DBA72", "0xdeadbeef", "hi ✓", [{ a: 1, b: true }, { a: 255, b: false }], -42, [pad32(1n), pad32(2n)]];
    const encoded = await same("abi encode", (e) => e.utils.defaultAbiCoder.encode(types, values));
    await same("abi decode", (e) => e.utils.defaultAbiCoder.decode(types, encoded.value));
    await same("abi encode bad", (e) => e.utils.defaultAbiCoder.encode(["uint8"], [256]));
    await same("abi decode bad", (e) => e.utils.defaultAbiCoder.decode(["uint256"], "0x1234"));
    const abi = [
        "function transfer(address to, uint256 amount) returns (bool)",
        "function balanceOf(address owner) view returns (uint256)",
        "event Transfer(address indexed from, address indexed to, uint256 value)",
        "error Insufficient(uint256 available, uint256 required)",
        "constructor(string name)",
    ];
    await same("Interface", (e) => {
        const iface = new e.utils.Interface(abi);
        const data = iface.encodeFunctionData("transfer", ["0x8ba1f109551bD432803012645Ac136ddd64DBA72", 1000]);
        const log = iface.encodeEventLog(iface.getEvent("Transfer"), ["0x8ba1f109551bD432803012645Ac136ddd64DBA72", "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826", 5]);
        return [
            data,
            iface.decodeFunctionData("transfer", data),
            iface.getSighash("balanceOf"),
            iface.getEventTopic("Transfer"),
            iface.parseLog(log).args,
            iface.encodeDeploy(["x"]),
            iface.encodeFunctionResult("balanceOf", [77]),
            iface.decodeFunctionResult("transfer", pad32(1n)),
            iface.encodeErrorResult("Insufficient", [1, 2]),
            iface.format(e.utils.FormatTypes.json),
            iface.format(e.utils.FormatTypes.full),
        ];
    });
    await same("Interface error", (e) => new e.utils.Interface(abi).encodeFunctionData("nope", []));
}

// BigNumber, units, bytes, strings, addresses, RLP, base58/64.
await same("BigNumber math", (e) => {
    const a = e.BigNumber.from("0x1234567890abcdef1234567890abcdef");
    const b = e.BigNumber.from(-98765);
    return [a.add(b), a.sub(b), a.mul(b), a.div(b), a.mod(777), a.pow(3), a.abs(), b.abs(), a.shl(7), a.shr(9), a.mask(33), b.toTwos(256), b.toTwos(256).fromTwos(256), a.toString(), b.toHexString(), a.eq(a), a.lt(b), a.gte(b), a.isZero(), b.isNegative(), a.toJSON()];
});
await same("BigNumber errors", (e) => [e.BigNumber.from(1).div(0)]);
await same("BigNumber.from bad", (e) => e.BigNumber.from("abc"));
await same("BigNumber toNumber overflow", (e) => e.BigNumber.from(2).pow(60).toNumber());
await same("units", (e) => [e.utils.formatEther("1234567890123456789"), e.utils.parseEther("3.14159"), e.utils.formatUnits(123456, 6), e.utils.parseUnits("1.5", "gwei"), e.utils.commify("1234567.891")]);
await same("parseEther bad", (e) => e.utils.parseEther("1.2.3"));
await same("FixedNumber", (e) => {
    const x = e.FixedNumber.from("1.5");
    return [x.addUnsafe(e.FixedNumber.from("2.25")).toString(), x.mulUnsafe(x).toString(), x.divUnsafe(e.FixedNumber.from(3)).toString(), x.round(0).toString(), e.FixedNumber.fromString("3.333", "fixed128x2").toString()];
});
// floor, ceiling and round use FixedNumber's ONE and BUMP, which the bundle creates on first use.
await same("FixedNumber floor/ceiling/round", (e) =>
    ["1.5", "-1.5", "2", "-2", "0.25", "-0.75", "12.345"].map((v) => {
        const x = e.FixedNumber.from(v);
        return [x.floor().toString(), x.ceiling().toString(), x.round(0).toString(), x.round(1).toString(), x.round(2).toString()];
    }),
);
await same("bytes helpers", (e) => {
    const u = e.utils;
    return [u.hexlify(255), u.hexZeroPad("0x12", 8), u.zeroPad("0x12", 4), u.hexDataSlice("0x11223344", 1, 3), u.concat(["0x12", [0x34]]), u.stripZeros("0x000102"), u.hexStripZeros("0x000102"), u.isHexString("0x12", 1), u.hexValue(0), u.joinSignature(u.splitSignature("0x" + "11".repeat(32) + "22".repeat(32) + "1b")), u.splitSignature("0x" + "11".repeat(32) + "22".repeat(32))];
});
await same("strings", (e) => {
    const u = e.utils;
    return [u.toUtf8Bytes("héllo 🌍"), u.toUtf8String([0x68, 0xc3, 0xa9]), u.toUtf8CodePoints("a🌍"), u.formatBytes32String("hello"), u.parseBytes32String(u.formatBytes32String("hello")), u.toUtf8Bytes("é", u.UnicodeNormalizationForm.NFD), u._toEscapedUtf8String("\u0000x"), u.nameprep("Straße.ExAmPlE")];
});
await same("toUtf8String bad", (e) => e.utils.toUtf8String([0xff]));
await same("addresses", (e) => {
    const u = e.utils;
    const a = "0x8ba1f109551bd432803012645ac136ddd64dba72";
    return [u.getAddress(a), u.getIcapAddress(a), u.getAddress(u.getIcapAddress(a)), u.isAddress(a), u.isAddress("0x8Ba1f109551bD432803012645Ac136ddd64DBA72"), u.getContractAddress({ from: a, nonce: 5 }), u.getCreate2Address(a, pad32(7n), u.keccak256("0x6080"))];
});
await same("getAddress bad checksum", (e) => e.utils.getAddress("0x8Ba1f109551bD432803012645Ac136ddd64DBA72"));
await same("RLP", (e) => {
    const enc = e.utils.RLP.encode(["0x12", ["0x", "0x3456"], "0x" + "ab".repeat(60)]);
    return [enc, e.utils.RLP.decode(enc)];
});
await same("base58/base64", (e) => [e.utils.base58.encode("0x0001020304ff"), e.utils.base58.decode("1Ldp"), e.utils.base64.encode("0x0001fffe"), e.utils.base64.decode("AAH//g==")]);
await same("constants", (e) => [e.constants.AddressZero, e.constants.HashZero, e.constants.MaxUint256, e.constants.EtherSymbol, e.constants.WeiPerEther]);
await same("Logger errors enum", (e) => [e.errors, e.utils.Logger.errors.INVALID_ARGUMENT]);
// Order included (test/lazy.mjs checks more). ethers.wordlists has only English, as in ethers'
// browser build.
await same("export names", (e) => [Object.keys(e), Object.keys(e.utils), Object.keys(e.ethers), Object.keys(e.constants), Object.keys(e.providers), Object.keys(e.errors)]);
await same("ethers.logger", (e) => [e.logger.version, e.version, e.logger.makeError("boom", e.errors.SERVER_ERROR, { x: 1 })]);

// Random keys × messages.
const tRandom = performance.now();
for (let i = 0; i < 200; i++) {
    const k = rand(32);
    const other = rand(32);
    const message = i % 2 ? randomBytes(i % 97) : randomBytes(i % 61).toString("base64") + "✓".repeat(i % 3);
    const digest = rand(32);
    await same(`random key #${i}`, async (e) => {
        const w = new e.Wallet(k);
        const sk = new e.utils.SigningKey(k);
        const sig = await w.signMessage(message);
        const digestSig = sk.signDigest(digest);
        const out = [w.address, w.publicKey, sk.compressedPublicKey, sig, digestSig, e.utils.verifyMessage(message, sig), e.utils.recoverPublicKey(digest, digestSig)];
        if (i % 10 === 0) {
            out.push(sk.computeSharedSecret(other), sk._addPoint(e.utils.computePublicKey(other, true)), e.utils.computePublicKey(sk.compressedPublicKey, false));
        }
        if (i % 25 === 0) {
            out.push(await w.signTransaction({ type: 2, chainId: 1, nonce: i, to: w.address, maxFeePerGas: 10, maxPriorityFeePerGas: 1, gasLimit: 21000 }));
        }
        return out;
    });
}
randomMs = performance.now() - tRandom;

// Timing of signMessage in the bundle (Node vm + reference native; informational only).
{
    const w = new B.Wallet(KEYS[3]);
    const t = performance.now();
    for (let i = 0; i < 100; i++) {
        await w.signMessage("timing " + i);
    }
    console.log(`signMessage in the bundle: ${((performance.now() - t) / 100).toFixed(3)} ms each (V8 JIT + reference native; not QuickJS)`);
}

} catch (err) {
    // A case outside same()/bothThrow() blew up; report it without dumping the minified bundle line.
    fail("unexpected exception", String((err && err.stack) || err).slice(0, 3000));
}

// Lazy initialisation (test/lazy.mjs): what the factory and common paths initialise, and the shape
// of the lazy objects.
{
    const lazy = await checkLazy({ code, inputs: builtInputs });
    console.log(lazy.lines.join("\n"));
    checks += lazy.checks;
    for (const [name, detail] of lazy.failures) {
        fail(`lazy: ${name}`, detail);
    }
}

// Every native function is really used, and nothing leaked onto globalThis after all of the above.
for (const [name, count] of Object.entries(first.calls)) {
    assert(count > 0, `native ${name} used`, `${name} was never called`);
}
console.log(`native calls: ${JSON.stringify(first.calls)}`);
assert(first.globals() === first.before, "nothing added to globalThis by use", `after: ${first.globals()}`);
const noisy = first.logs.filter((l) => !l.startsWith("warn: WARNING: Missing strong random number source"));
if (noisy.length) {
    console.log(`bundle console output during the cases:\n  ${noisy.join("\n  ")}`);
}

console.log(`cases ran in ${((performance.now() - t0) / 1000).toFixed(1)} s (200 random keys: ${(randomMs / 1000).toFixed(1)} s)`);
if (failures) {
    console.error(`ethers bundle: ${failures} of ${checks} checks FAILED`);
    process.exit(1);
}
console.log(`ethers bundle: all ${checks} checks passed`);
