// Reference implementation, for Node, of the native interface (`__litNative`) that the QuickJS
// ethers bundle calls; lit-node's Rust host implements the same contract with k256/sha3/sha2. Used
// only by js/ethers/test/verify.mjs. It is deliberately independent of the code ethers bundles:
// Node's crypto for SHA-2, the standalone `js-sha3` and `elliptic` packages for keccak and secp256k1.
// It is also deliberately strict, like the Rust host: arguments must be Uint8Arrays of the contract
// lengths, scalars must be in [1, n), digests < n, points must be valid SEC1 encodings of points on
// the curve (no hybrid 0x06/0x07 prefixes, coordinates < p); anything else throws.
import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const require = createRequire(path.join(repoRoot, ".tools", "node_modules", "noop.js"));
const { keccak_256 } = require("js-sha3");
const EC = require("elliptic").ec;
const BN = require("bn.js");

const ec = new EC("secp256k1");
const N = ec.curve.n;
const P = ec.curve.p;

function bytesArg(value, name, lengths) {
    // Cross-realm safe (the bundle runs in a vm context with its own Uint8Array).
    if (Object.prototype.toString.call(value) !== "[object Uint8Array]") {
        throw new TypeError(`${name}: expected a Uint8Array`);
    }
    if (lengths && !lengths.includes(value.length)) {
        throw new TypeError(`${name}: expected ${lengths.join(" or ")} bytes, got ${value.length}`);
    }
    return Uint8Array.from(value);
}

function boolArg(value, name) {
    if (typeof value !== "boolean") {
        throw new TypeError(`${name}: expected a boolean`);
    }
    return value;
}

function scalarArg(value, name) {
    const k = new BN(bytesArg(value, name, [32]));
    if (k.isZero() || k.cmp(N) >= 0) {
        throw new Error(`${name}: not a valid secp256k1 scalar`);
    }
    return k;
}

// Digests: exactly 32 bytes, already reduced mod n by the shim (k256 would otherwise derive the
// RFC 6979 nonce from the unreduced value and differ from elliptic for digests >= n).
function digestArg(value, name) {
    const bytes = bytesArg(value, name, [32]);
    if (new BN(bytes).cmp(N) >= 0) {
        throw new Error(`${name}: not reduced mod n`);
    }
    return bytes;
}

function pointArg(value, name) {
    const bytes = bytesArg(value, name, [33, 65]);
    const prefix = bytes[0];
    const ok = bytes.length === 33 ? prefix === 2 || prefix === 3 : prefix === 4;
    if (!ok) {
        throw new Error(`${name}: not a SEC1 public key`);
    }
    if (new BN(bytes.subarray(1, 33)).cmp(P) >= 0 || (bytes.length === 65 && new BN(bytes.subarray(33)).cmp(P) >= 0)) {
        throw new Error(`${name}: coordinate out of range`);
    }
    let point;
    try {
        point = ec.curve.decodePoint(Array.from(bytes));
    } catch (err) {
        throw new Error(`${name}: not a point on secp256k1`);
    }
    if (point.isInfinity() || !point.validate()) {
        throw new Error(`${name}: not a point on secp256k1`);
    }
    return point;
}

// `U8` is the Uint8Array constructor results are made with (pass the vm context's own, so results look
// exactly like what a host creating them inside the QuickJS context would return).
export function createNodeNative(U8 = Uint8Array) {
    const calls = {};
    const out = (arr) => U8.from(arr);
    const encodePoint = (point, compressed) => {
        if (point.isInfinity()) {
            throw new Error("result is the point at infinity");
        }
        return out(point.encode("array", compressed));
    };
    const fns = {
        hexToBytes(hex) {
            if (typeof hex !== "string" || !/^([0-9A-Fa-f]{2})*$/.test(hex)) {
                throw new Error("hexToBytes: expected an even number of hex digits without 0x");
            }
            return out(Buffer.from(hex, "hex"));
        },
        bytesToHex(data) {
            return "0x" + Buffer.from(bytesArg(data, "data")).toString("hex");
        },
        checksumAddress(digits) {
            if (typeof digits !== "string" || !/^[0-9a-f]{40}$/.test(digits)) {
                throw new Error("checksumAddress: expected 40 lower-case hex digits without 0x");
            }
            const hash = keccak_256(Buffer.from(digits, "ascii"));
            let out = "0x";
            for (let i = 0; i < 40; i++) {
                const nibble = parseInt(hash[i], 16);
                out += nibble >= 8 ? digits[i].toUpperCase() : digits[i];
            }
            return out;
        },
        utf8Encode(text) {
            if (typeof text !== "string" || /[\ud800-\udfff]/.test(text)) {
                throw new Error("utf8Encode: expected a string without surrogates");
            }
            return out(Buffer.from(text, "utf8"));
        },
        keccak256(data) {
            return "0x" + keccak_256(bytesArg(data, "data"));
        },
        sha256(data) {
            return "0x" + createHash("sha256").update(bytesArg(data, "data")).digest("hex");
        },
        sha512(data) {
            return "0x" + createHash("sha512").update(bytesArg(data, "data")).digest("hex");
        },
        secp256k1Sign(privateKey, digest) {
            const k = scalarArg(privateKey, "privateKey");
            const d = digestArg(digest, "digest");
            // RFC 6979 nonce (HMAC-SHA256), low-s with the recovery id flipped accordingly.
            const sig = ec.keyFromPrivate(k).sign(Array.from(d), { canonical: true });
            return out([...sig.r.toArray("be", 32), ...sig.s.toArray("be", 32), sig.recoveryParam]);
        },
        secp256k1PublicKey(key, compressed) {
            compressed = boolArg(compressed, "compressed");
            bytesArg(key, "key", [32, 33, 65]);
            const point = key.length === 32 ? ec.g.mul(scalarArg(key, "key")) : pointArg(key, "key");
            return encodePoint(point, compressed);
        },
        secp256k1Recover(digest, rs, recoveryId) {
            const d = digestArg(digest, "digest");
            const sig = bytesArg(rs, "rs", [64]);
            if (!Number.isInteger(recoveryId) || recoveryId < 0 || recoveryId > 3) {
                throw new TypeError("recoveryId: expected 0, 1, 2 or 3");
            }
            const r = scalarArg(sig.subarray(0, 32), "r");
            const s = scalarArg(sig.subarray(32), "s");
            let point;
            try {
                point = ec.recoverPubKey(Array.from(d), { r, s }, recoveryId);
            } catch (err) {
                throw new Error("signature is not recoverable");
            }
            return encodePoint(point, false);
        },
        secp256k1AddPoints(pubA, pubB, compressed) {
            compressed = boolArg(compressed, "compressed");
            return encodePoint(pointArg(pubA, "pubA").add(pointArg(pubB, "pubB")), compressed);
        },
        secp256k1Ecdh(privateKey, publicKey) {
            const k = scalarArg(privateKey, "privateKey");
            const shared = pointArg(publicKey, "publicKey").mul(k);
            if (shared.isInfinity()) {
                throw new Error("result is the point at infinity");
            }
            return out(shared.getX().toArray("be", 32));
        },
    };
    const native = {};
    for (const [name, fn] of Object.entries(fns)) {
        calls[name] = 0;
        native[name] = function (...args) {
            calls[name]++;
            return fn(...args);
        };
    }
    return { native, calls };
}
