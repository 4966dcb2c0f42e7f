// Drop-in replacement for @ethersproject/keccak256@5.7.0 inside the QuickJS ethers bundle: same
// export and input handling (arrayify, with its Logger errors), but the hash is computed by the host
// (`__litNative.keccak256`, the bundle's wrapper parameter) instead of js-sha3.
import { arrayify } from "@ethersproject/bytes";

export function keccak256(data) {
    return __litNative.keccak256(arrayify(data));
}
