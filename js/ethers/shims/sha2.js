// Drop-in replacement for @ethersproject/sha2@5.7.0 inside the QuickJS ethers bundle: same exports
// (computeHmac, ripemd160, sha256, sha512, SupportedAlgorithm) and Logger errors. sha256/sha512 are
// computed by the host (`__litNative`, the bundle's wrapper parameter); HMAC is built here on top of
// them (so pbkdf2 for mnemonics is fast too); ripemd160 stays in JS (hash.js), it is rarely hot.
import { ripemd160 as RIPEMD160 } from "hash.js/lib/hash/ripemd.js";
import { arrayify } from "@ethersproject/bytes";
import { Logger } from "@ethersproject/logger";
import { version } from "@ethersproject/sha2/lib.esm/_version.js";
import { SupportedAlgorithm } from "@ethersproject/sha2/lib.esm/types.js";

const logger = new Logger(version);

export function ripemd160(data) {
    return "0x" + RIPEMD160().update(arrayify(data)).digest("hex");
}

export function sha256(data) {
    return __litNative.sha256(arrayify(data));
}

export function sha512(data) {
    return __litNative.sha512(arrayify(data));
}

// RFC 2104 HMAC, as hash.js computes it: keys longer than the block are hashed first, then padded
// with zeros to the block size.
function hmac(hash, blockSize, key, data) {
    if (key.length > blockSize) {
        key = arrayify(hash(key));
    }
    const inner = new Uint8Array(blockSize + data.length);
    const outer = new Uint8Array(blockSize + (blockSize === 128 ? 64 : 32));
    for (let i = 0; i < blockSize; i++) {
        const k = i < key.length ? key[i] : 0;
        inner[i] = k ^ 0x36;
        outer[i] = k ^ 0x5c;
    }
    inner.set(data, blockSize);
    outer.set(arrayify(hash(inner)), blockSize);
    return hash(outer);
}

export function computeHmac(algorithm, key, data) {
    if (!SupportedAlgorithm[algorithm] || (algorithm !== "sha256" && algorithm !== "sha512")) {
        logger.throwError("unsupported algorithm " + algorithm, Logger.errors.UNSUPPORTED_OPERATION, {
            operation: "hmac",
            algorithm: algorithm
        });
    }
    const keyBytes = arrayify(key);
    const dataBytes = arrayify(data);
    if (algorithm === "sha256") {
        return hmac((bytes) => __litNative.sha256(bytes), 64, keyBytes, dataBytes);
    }
    return hmac((bytes) => __litNative.sha512(bytes), 128, keyBytes, dataBytes);
}

export { SupportedAlgorithm };
