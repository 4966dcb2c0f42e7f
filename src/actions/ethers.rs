//! ethers v5 for actions: the bundle built from npm `ethers@5.7.2` by `js/ethers/build.mjs`
//! (during `cargo build`, see build.rs) with its crypto hot paths routed to the native functions
//! below (keccak256, sha2, secp256k1 via k256). It is compiled once per process to stripped
//! QuickJS bytecode and loaded into a context only when an action first touches `ethers`.
//! The native interface is documented in `js/ethers/README.md`.

use alloy::primitives::keccak256;
use rquickjs::{Ctx, Exception, Object, TypedArray, Value};

use super::bytecode::{compile_script, load_script};
use sha2::Digest;

use super::js_bytes::{bytes_of, uint8_array};
use crate::keys::ecdsa;
use zeroize::Zeroizing;

/// The bundle's source: a script whose value is `function(__litNative) → ethers`.
pub(crate) const BUNDLE: &str = include_str!(concat!(env!("OUT_DIR"), "/ethers.bundle.js"));
const MODULE_NAME: &str = "lit:ethers";

/// Compiles the bundle to bytecode for this build's QuickJS. Takes a few tens of milliseconds;
/// done once at node start.
pub fn compile() -> Result<Vec<u8>, String> {
    compile_script(MODULE_NAME, BUNDLE)
}

/// Loads the compiled bundle into `ctx` and returns the `ethers` object.
pub fn load<'js>(ctx: &Ctx<'js>, bytecode: &[u8]) -> rquickjs::Result<Value<'js>> {
    load_script(ctx, bytecode)?.call((native(ctx)?,))
}

fn fail(ctx: &Ctx<'_>, error: ecdsa::EcdsaError) -> rquickjs::Error {
    Exception::throw_message(ctx, &error.to_string())
}

/// The `__litNative` object the bundle's shims call.
pub(crate) fn native<'js>(ctx: &Ctx<'js>) -> rquickjs::Result<Object<'js>> {
    let object = Object::new(ctx.clone())?;
    native!(
        object,
        ctx,
        "hexToBytes",
        |ctx: Ctx<'js>, digits: String| {
            let bytes = hex::decode(&digits).map_err(|_| {
                Exception::throw_message(
                    &ctx,
                    "hexToBytes: expected an even number of hex digits without 0x",
                )
            })?;
            uint8_array(&ctx, bytes)
        }
    );
    native!(
        object,
        ctx,
        "bytesToHex",
        |_ctx: Ctx<'js>, data: TypedArray<'js, u8>| Ok(format!(
            "0x{}",
            hex::encode(bytes_of(&data))
        ))
    );
    native!(
        object,
        ctx,
        "checksumAddress",
        |ctx: Ctx<'js>, digits: String| checksum_address(&digits).ok_or_else(|| {
            Exception::throw_message(
                &ctx,
                "checksumAddress: expected 40 lower-case hex digits without 0x",
            )
        })
    );
    native!(object, ctx, "utf8Encode", |ctx: Ctx<'js>, text: String| {
        uint8_array(&ctx, text.into_bytes())
    });
    native!(
        object,
        ctx,
        "keccak256",
        |_ctx: Ctx<'js>, data: TypedArray<'js, u8>| Ok(format!(
            "0x{}",
            hex::encode(keccak256(bytes_of(&data)))
        ))
    );
    native!(
        object,
        ctx,
        "sha256",
        |_ctx: Ctx<'js>, data: TypedArray<'js, u8>| Ok(format!(
            "0x{}",
            hex::encode(sha2::Sha256::digest(bytes_of(&data)))
        ))
    );
    native!(
        object,
        ctx,
        "sha512",
        |_ctx: Ctx<'js>, data: TypedArray<'js, u8>| Ok(format!(
            "0x{}",
            hex::encode(sha2::Sha512::digest(bytes_of(&data)))
        ))
    );
    native!(object, ctx, "secp256k1Sign", |ctx: Ctx<'js>,
                                           key: TypedArray<'js, u8>,
                                           digest: TypedArray<
        'js,
        u8,
    >| {
        // Private keys copied out of the engine are wiped after use.
        let key = ecdsa::secret_key(&Zeroizing::new(bytes_of(&key))).map_err(|e| fail(&ctx, e))?;
        let signature = ecdsa::sign_digest(&key, &bytes_of(&digest)).map_err(|e| fail(&ctx, e))?;
        uint8_array(&ctx, signature)
    });
    native!(
        object,
        ctx,
        "secp256k1PublicKey",
        |ctx: Ctx<'js>, key: TypedArray<'js, u8>, compressed: bool| {
            let public = ecdsa::public_key_bytes(&Zeroizing::new(bytes_of(&key)), compressed)
                .map_err(|e| fail(&ctx, e))?;
            uint8_array(&ctx, public)
        }
    );
    native!(
        object,
        ctx,
        "secp256k1Recover",
        |ctx: Ctx<'js>, digest: TypedArray<'js, u8>, rs: TypedArray<'js, u8>, recovery: u8| {
            let public = ecdsa::recover(&bytes_of(&digest), &bytes_of(&rs), recovery)
                .map_err(|e| fail(&ctx, e))?;
            uint8_array(&ctx, public)
        }
    );
    native!(
        object,
        ctx,
        "secp256k1AddPoints",
        |ctx: Ctx<'js>, a: TypedArray<'js, u8>, b: TypedArray<'js, u8>, compressed: bool| {
            let sum = ecdsa::add_points(&bytes_of(&a), &bytes_of(&b), compressed)
                .map_err(|e| fail(&ctx, e))?;
            uint8_array(&ctx, sum)
        }
    );
    native!(object, ctx, "secp256k1Ecdh", |ctx: Ctx<'js>,
                                           key: TypedArray<'js, u8>,
                                           public: TypedArray<
        'js,
        u8,
    >| {
        let shared = ecdsa::ecdh(&Zeroizing::new(bytes_of(&key)), &bytes_of(&public))
            .map_err(|e| fail(&ctx, e))?;
        uint8_array(&ctx, shared)
    });
    Ok(object)
}

/// The EIP-55 mixed-case form of an address given as 40 lower-case hex digits: a letter is
/// upper-cased where the matching nibble of keccak256(digits as ASCII) is 8 or more. `None` for
/// anything else.
fn checksum_address(digits: &str) -> Option<String> {
    let valid = |c: u8| c.is_ascii_digit() || (b'a'..=b'f').contains(&c);
    if digits.len() != 40 || !digits.bytes().all(valid) {
        return None;
    }
    let hash = keccak256(digits.as_bytes());
    let mut out = String::with_capacity(42);
    out.push_str("0x");
    for (i, c) in digits.bytes().enumerate() {
        let nibble = if i % 2 == 0 {
            hash[i / 2] >> 4
        } else {
            hash[i / 2] & 0x0f
        };
        out.push(if nibble >= 8 {
            c.to_ascii_uppercase()
        } else {
            c
        } as char);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::checksum_address;

    #[test]
    fn checksum_matches_eip55_vectors() {
        // From EIP-55.
        for address in [
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
            "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
            "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
        ] {
            let lower = address[2..].to_lowercase();
            assert_eq!(checksum_address(&lower).as_deref(), Some(address));
        }
        for bad in [
            "",
            "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed",
            "5AAEB6053F3E94C9B9A09F33669435E7EF1BEAED",
            "5aaeb6053f3e94c9b9a09f33669435e7ef1beae",
        ] {
            assert_eq!(checksum_address(bad), None, "{bad}");
        }
    }
}
