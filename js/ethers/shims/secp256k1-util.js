// Small byte helpers shared by the signing-key shim: reproduces elliptic's "reduce modulo the curve
// order" behaviour for private keys and digests (ethers 5.7.2 relies on it) so the native host only
// ever sees canonical 32-byte values, and compresses an uncompressed SEC1 key without a host call.

// Order n of secp256k1, big-endian.
const ORDER = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
    0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41,
];
const ORDER_BIGINT = BigInt("0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141");

// 32-byte big-endian value -> value mod n as fresh 32 bytes (used for private keys and digests). Since 2^256 < 2n, one conditional
// subtraction is enough (elliptic's keyFromPrivate does `priv.umod(n)`).
export function reduce32(bytes) {
    const out = new Uint8Array(32);
    out.set(bytes);
    let geq = true;
    for (let i = 0; i < 32; i++) {
        if (out[i] !== ORDER[i]) {
            geq = out[i] > ORDER[i];
            break;
        }
    }
    if (geq) {
        let borrow = 0;
        for (let i = 31; i >= 0; i--) {
            let v = out[i] - ORDER[i] - borrow;
            borrow = v < 0 ? 1 : 0;
            out[i] = v & 0xff;
        }
    }
    return out;
}

export function isZero(bytes) {
    for (let i = 0; i < bytes.length; i++) {
        if (bytes[i] !== 0) {
            return false;
        }
    }
    return true;
}

// Any-length big-endian integer -> 32 bytes with the same value mod n (not necessarily < n; pass it
// through reduce32 for that). elliptic's recoverPubKey uses the whole digest as an integer modulo n,
// whatever its length; the host wants exactly 32 bytes.
export function digestTo32(bytes) {
    if (bytes.length === 32) {
        return bytes;
    }
    if (bytes.length < 32) {
        const out = new Uint8Array(32);
        out.set(bytes, 32 - bytes.length);
        return out;
    }
    let hex = "";
    for (let i = 0; i < bytes.length; i++) {
        hex += (bytes[i] < 16 ? "0" : "") + bytes[i].toString(16);
    }
    let v = BigInt("0x" + hex) % ORDER_BIGINT;
    const out = new Uint8Array(32);
    for (let i = 31; i >= 0; i--) {
        out[i] = Number(v & BigInt(0xff));
        v >>= BigInt(8);
    }
    return out;
}

// 65-byte uncompressed SEC1 key (0x04 || x || y) -> 33-byte compressed key (0x02/0x03 || x).
export function compressUncompressed(pub65) {
    const out = new Uint8Array(33);
    out[0] = (pub65[64] & 1) ? 0x03 : 0x02;
    out.set(pub65.subarray(1, 33), 1);
    return out;
}
