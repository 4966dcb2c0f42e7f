// Drop-in replacement for @ethersproject/signing-key@5.7.0 inside the QuickJS ethers bundle: same
// exports (SigningKey, recoverPublicKey, computePublicKey), same properties and Logger errors, but
// the secp256k1 work is done by the host through the free identifier `__litNative` (the bundle's
// wrapper parameter) instead of the bundled elliptic/bn.js, which are far too slow without a JIT.
import { arrayify, concat, hexDataLength, hexlify, splitSignature } from "@ethersproject/bytes";
import { defineReadOnly } from "@ethersproject/properties";
import { Logger } from "@ethersproject/logger";
import { version } from "@ethersproject/signing-key/lib.esm/_version.js";
import { compressUncompressed, digestTo32, isZero, reduce32 } from "./secp256k1-util.js";

const logger = new Logger(version);

// The private key as the host wants it: 32 bytes in [1, n). elliptic reduces keys modulo n, so a key
// in [n, 2^256) behaves as key - n in ethers; keep that. A key that is 0 mod n has no public key
// (ethers 5.7.2 fails there with a TypeError from elliptic; this reports it as an invalid key).
function privateScalar(privateKeyHex) {
    const scalar = reduce32(arrayify(privateKeyHex));
    if (isZero(scalar)) {
        logger.throwArgumentError("invalid private key", "privateKey", "[[ REDACTED ]]");
    }
    return scalar;
}

export class SigningKey {
    constructor(privateKey) {
        defineReadOnly(this, "curve", "secp256k1");
        defineReadOnly(this, "privateKey", hexlify(privateKey));
        if (hexDataLength(this.privateKey) !== 32) {
            logger.throwArgumentError("invalid private key", "privateKey", "[[ REDACTED ]]");
        }
        const publicKey = __litNative.secp256k1PublicKey(privateScalar(this.privateKey), false);
        defineReadOnly(this, "publicKey", hexlify(publicKey));
        defineReadOnly(this, "compressedPublicKey", hexlify(compressUncompressed(publicKey)));
        defineReadOnly(this, "_isSigningKey", true);
    }
    _addPoint(other) {
        const p0 = arrayify(this.publicKey);
        const p1 = arrayify(other);
        return hexlify(__litNative.secp256k1AddPoints(p0, p1, true));
    }
    signDigest(digest) {
        const scalar = privateScalar(this.privateKey);
        const digestBytes = arrayify(digest);
        if (digestBytes.length !== 32) {
            logger.throwArgumentError("bad digest length", "digest", digest);
        }
        // Reduced mod n here, as elliptic does before deriving the RFC 6979 nonce (k256 0.13 feeds
        // the unreduced digest to its nonce derivation, which differs for digests >= n).
        const signature = __litNative.secp256k1Sign(scalar, reduce32(digestBytes));
        return splitSignature({
            recoveryParam: signature[64],
            r: hexlify(signature.subarray(0, 32)),
            s: hexlify(signature.subarray(32, 64)),
        });
    }
    computeSharedSecret(otherKey) {
        const scalar = privateScalar(this.privateKey);
        const otherPublicKey = arrayify(computePublicKey(otherKey));
        return hexlify(__litNative.secp256k1Ecdh(scalar, otherPublicKey));
    }
    static isSigningKey(value) {
        return !!(value && value._isSigningKey);
    }
}

export function recoverPublicKey(digest, signature) {
    const sig = splitSignature(signature);
    const rs = arrayify(concat([sig.r, sig.s]));
    const digest32 = reduce32(digestTo32(arrayify(digest)));
    return hexlify(__litNative.secp256k1Recover(digest32, rs, sig.recoveryParam));
}

export function computePublicKey(key, compressed) {
    const bytes = arrayify(key);
    if (bytes.length === 32) {
        const signingKey = new SigningKey(bytes);
        if (compressed) {
            return signingKey.compressedPublicKey;
        }
        return signingKey.publicKey;
    }
    else if (bytes.length === 33) {
        if (compressed) {
            return hexlify(bytes);
        }
        return hexlify(__litNative.secp256k1PublicKey(bytes, false));
    }
    else if (bytes.length === 65) {
        if (!compressed) {
            return hexlify(bytes);
        }
        return hexlify(__litNative.secp256k1PublicKey(bytes, true));
    }
    return logger.throwArgumentError("invalid public or private key", "key", "[REDACTED]");
}
