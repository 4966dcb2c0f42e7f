//! The native half of `crypto.subtle` (`subtle.js` holds the WebCrypto API itself): HMAC,
//! ECDSA on P-256, P-384 and secp256k1, and AES-GCM over raw key bytes. Every function answers `None`
//! (`undefined` in JS) for input it cannot use, and the JS side turns that into the DOMException
//! WebCrypto names (DataError, OperationError, …), so no message here reaches an action.

use hmac::{Hmac, Mac};
use rquickjs::{Ctx, Object, TypedArray, Value};
use sha2::{Digest, Sha256, Sha384, Sha512};

use crate::actions::js_bytes::{bytes_of, uint8_array};

/// A WebCrypto hash name as `subtle.js` passes it: "SHA-256", "SHA-384" or "SHA-512".
fn digest(hash: &str, data: &[u8]) -> Option<Vec<u8>> {
    match hash {
        "SHA-256" => Some(Sha256::digest(data).to_vec()),
        "SHA-384" => Some(Sha384::digest(data).to_vec()),
        "SHA-512" => Some(Sha512::digest(data).to_vec()),
        _ => None,
    }
}

fn hmac_tag(hash: &str, key: &[u8], data: &[u8]) -> Option<Vec<u8>> {
    fn tag<M: Mac + hmac::digest::KeyInit>(key: &[u8], data: &[u8]) -> Option<Vec<u8>> {
        let mut mac = <M as hmac::digest::KeyInit>::new_from_slice(key).ok()?;
        mac.update(data);
        Some(mac.finalize().into_bytes().to_vec())
    }
    match hash {
        "SHA-256" => tag::<Hmac<Sha256>>(key, data),
        "SHA-384" => tag::<Hmac<Sha384>>(key, data),
        "SHA-512" => tag::<Hmac<Sha512>>(key, data),
        _ => None,
    }
}

/// Compares a presented HMAC with the right one in constant time.
fn hmac_matches(hash: &str, key: &[u8], data: &[u8], signature: &[u8]) -> Option<bool> {
    use subtle_eq::ConstantTimeEq;
    let expected = hmac_tag(hash, key, data)?;
    Some(expected.len() == signature.len() && bool::from(expected.ct_eq(signature)))
}

mod subtle_eq {
    pub use k256::elliptic_curve::subtle::ConstantTimeEq;
}

/// ECDSA on the curves actions may name: "P-256", "P-384" or "K-256" (secp256k1). Signatures are
/// WebCrypto's IEEE P1363 form, r ‖ s (twice the curve's field size).
mod ecdsa_curves {
    use k256::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};

    macro_rules! curve {
        ($module:ident, $krate:ident) => {
            pub mod $module {
                use super::*;
                use $krate::ecdsa::{Signature, SigningKey, VerifyingKey};

                pub fn public_key(secret: &[u8]) -> Option<Vec<u8>> {
                    let key = SigningKey::from_slice(secret).ok()?;
                    Some(
                        key.verifying_key()
                            .to_encoded_point(false)
                            .as_bytes()
                            .to_vec(),
                    )
                }

                /// A SEC1 point (compressed or not) checked to be on the curve, uncompressed.
                pub fn point(sec1: &[u8]) -> Option<Vec<u8>> {
                    let key = VerifyingKey::from_sec1_bytes(sec1).ok()?;
                    Some(key.to_encoded_point(false).as_bytes().to_vec())
                }

                pub fn sign(secret: &[u8], prehash: &[u8]) -> Option<Vec<u8>> {
                    let key = SigningKey::from_slice(secret).ok()?;
                    let signature: Signature = key.sign_prehash(prehash).ok()?;
                    Some(signature.to_bytes().to_vec())
                }

                pub fn verify(sec1: &[u8], prehash: &[u8], signature: &[u8]) -> bool {
                    let (Ok(key), Ok(signature)) = (
                        VerifyingKey::from_sec1_bytes(sec1),
                        Signature::from_slice(signature),
                    ) else {
                        return false;
                    };
                    // Either s is accepted, as WebCrypto and OpenSSL do (k256 alone insists on
                    // the low one).
                    let signature = signature.normalize_s().unwrap_or(signature);
                    key.verify_prehash(prehash, &signature).is_ok()
                }

                pub fn generate() -> Vec<u8> {
                    SigningKey::random(&mut rand::rngs::OsRng)
                        .to_bytes()
                        .to_vec()
                }
            }
        };
    }
    curve!(p256_curve, p256);
    curve!(p384_curve, p384);
    curve!(k256_curve, k256);
}

fn ec_public_key(curve: &str, secret: &[u8]) -> Option<Vec<u8>> {
    match curve {
        "P-256" => ecdsa_curves::p256_curve::public_key(secret),

        "P-384" => ecdsa_curves::p384_curve::public_key(secret),
        "K-256" => ecdsa_curves::k256_curve::public_key(secret),
        _ => None,
    }
}

fn ec_point(curve: &str, sec1: &[u8]) -> Option<Vec<u8>> {
    match curve {
        "P-256" => ecdsa_curves::p256_curve::point(sec1),

        "P-384" => ecdsa_curves::p384_curve::point(sec1),
        "K-256" => ecdsa_curves::k256_curve::point(sec1),
        _ => None,
    }
}

fn ecdsa_sign(curve: &str, hash: &str, secret: &[u8], data: &[u8]) -> Option<Vec<u8>> {
    let prehash = digest(hash, data)?;
    match curve {
        "P-256" => ecdsa_curves::p256_curve::sign(secret, &prehash),

        "P-384" => ecdsa_curves::p384_curve::sign(secret, &prehash),
        "K-256" => ecdsa_curves::k256_curve::sign(secret, &prehash),
        _ => None,
    }
}

fn ecdsa_verify(curve: &str, hash: &str, sec1: &[u8], data: &[u8], sig: &[u8]) -> Option<bool> {
    let prehash = digest(hash, data)?;
    match curve {
        "P-256" => Some(ecdsa_curves::p256_curve::verify(sec1, &prehash, sig)),

        "P-384" => Some(ecdsa_curves::p384_curve::verify(sec1, &prehash, sig)),
        "K-256" => Some(ecdsa_curves::k256_curve::verify(sec1, &prehash, sig)),
        _ => None,
    }
}

fn ec_generate(curve: &str) -> Option<Vec<u8>> {
    match curve {
        "P-256" => Some(ecdsa_curves::p256_curve::generate()),

        "P-384" => Some(ecdsa_curves::p384_curve::generate()),
        "K-256" => Some(ecdsa_curves::k256_curve::generate()),
        _ => None,
    }
}

/// AES-GCM with a 128-bit tag: `sealed` is ciphertext ‖ tag, as WebCrypto returns it. Keys of
/// 16, 24 or 32 bytes; IVs of 12 bytes (the standard size) or 16. `None`: sizes not supported,
/// or (opening) the tag does not match.
fn aes_gcm(seal: bool, key: &[u8], iv: &[u8], data: &[u8], aad: &[u8]) -> Option<Vec<u8>> {
    use aes_gcm::aead::consts::{U12, U16};
    use aes_gcm::aead::{Aead, Payload};
    use aes_gcm::{AesGcm, KeyInit};

    fn run<C: Aead + KeyInit>(
        seal: bool,
        key: &[u8],
        iv: &[u8],
        data: &[u8],
        aad: &[u8],
    ) -> Option<Vec<u8>> {
        let cipher = C::new_from_slice(key).ok()?;
        let mut nonce = aes_gcm::aead::Nonce::<C>::default();
        if nonce.len() != iv.len() {
            return None;
        }
        nonce.copy_from_slice(iv);
        let payload = Payload { msg: data, aad };
        if seal {
            cipher.encrypt(&nonce, payload).ok()
        } else {
            cipher.decrypt(&nonce, payload).ok()
        }
    }
    macro_rules! with_nonce {
        ($nonce:ty) => {
            match key.len() {
                16 => run::<AesGcm<aes::Aes128, $nonce>>(seal, key, iv, data, aad),
                24 => run::<AesGcm<aes::Aes192, $nonce>>(seal, key, iv, data, aad),
                32 => run::<AesGcm<aes::Aes256, $nonce>>(seal, key, iv, data, aad),
                _ => None,
            }
        };
    }
    match iv.len() {
        12 => with_nonce!(U12),
        16 => with_nonce!(U16),
        _ => None,
    }
}

fn bytes_or_undefined<'js>(ctx: &Ctx<'js>, bytes: Option<Vec<u8>>) -> rquickjs::Result<Value<'js>> {
    match bytes {
        Some(bytes) => uint8_array(ctx, bytes),
        None => Ok(Value::new_undefined(ctx.clone())),
    }
}

/// The natives of `crypto.subtle`, created when an action first uses it.
pub(super) fn subtle_natives<'js>(ctx: &Ctx<'js>) -> rquickjs::Result<Object<'js>> {
    type Bytes<'js> = TypedArray<'js, u8>;
    let object = Object::new(ctx.clone())?;
    native!(
        object,
        ctx,
        "hmacSign",
        |ctx: Ctx<'js>, hash: String, key: Bytes<'js>, data: Bytes<'js>| {
            bytes_or_undefined(&ctx, hmac_tag(&hash, &bytes_of(&key), &bytes_of(&data)))
        }
    );
    native!(
        object,
        ctx,
        "hmacVerify",
        |_ctx: Ctx<'js>, hash: String, key: Bytes<'js>, data: Bytes<'js>, signature: Bytes<'js>| {
            Ok::<_, rquickjs::Error>(hmac_matches(
                &hash,
                &bytes_of(&key),
                &bytes_of(&data),
                &bytes_of(&signature),
            ))
        }
    );
    native!(
        object,
        ctx,
        "ecPublicKey",
        |ctx: Ctx<'js>, curve: String, secret: Bytes<'js>| {
            bytes_or_undefined(&ctx, ec_public_key(&curve, &bytes_of(&secret)))
        }
    );
    native!(
        object,
        ctx,
        "ecPoint",
        |ctx: Ctx<'js>, curve: String, point: Bytes<'js>| {
            bytes_or_undefined(&ctx, ec_point(&curve, &bytes_of(&point)))
        }
    );
    native!(object, ctx, "ecGenerate", |ctx: Ctx<'js>, curve: String| {
        bytes_or_undefined(&ctx, ec_generate(&curve))
    });
    native!(
        object,
        ctx,
        "ecdsaSign",
        |ctx: Ctx<'js>, curve: String, hash: String, secret: Bytes<'js>, data: Bytes<'js>| {
            bytes_or_undefined(
                &ctx,
                ecdsa_sign(&curve, &hash, &bytes_of(&secret), &bytes_of(&data)),
            )
        }
    );
    native!(
        object,
        ctx,
        "ecdsaVerify",
        |_ctx: Ctx<'js>,
         curve: String,
         hash: String,
         point: Bytes<'js>,
         data: Bytes<'js>,
         signature: Bytes<'js>| {
            Ok::<_, rquickjs::Error>(ecdsa_verify(
                &curve,
                &hash,
                &bytes_of(&point),
                &bytes_of(&data),
                &bytes_of(&signature),
            ))
        }
    );
    native!(
        object,
        ctx,
        "aesGcm",
        |ctx: Ctx<'js>,
         seal: bool,
         key: Bytes<'js>,
         iv: Bytes<'js>,
         data: Bytes<'js>,
         aad: Bytes<'js>| {
            bytes_or_undefined(
                &ctx,
                aes_gcm(
                    seal,
                    &bytes_of(&key),
                    &bytes_of(&iv),
                    &bytes_of(&data),
                    &bytes_of(&aad),
                ),
            )
        }
    );
    Ok(object)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        let tag = hmac_tag("SHA-256", b"Jefe", b"what do ya want for nothing?").unwrap();
        assert_eq!(
            hex::encode(&tag),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hmac_matches("SHA-256", b"Jefe", b"what do ya want for nothing?", &tag),
            Some(true)
        );
        let mut wrong = tag.clone();
        wrong[0] ^= 1;
        assert_eq!(
            hmac_matches("SHA-256", b"Jefe", b"what do ya want for nothing?", &wrong),
            Some(false)
        );
        assert_eq!(
            hmac_matches(
                "SHA-256",
                b"Jefe",
                b"what do ya want for nothing?",
                &tag[..31]
            ),
            Some(false)
        );
        assert_eq!(hmac_tag("MD5", b"k", b"d"), None);
    }

    #[test]
    fn ecdsa_signs_and_verifies_on_every_curve() {
        for curve in ["P-256", "P-384", "K-256"] {
            let secret = ec_generate(curve).unwrap();
            let point = ec_public_key(curve, &secret).unwrap();
            let size = if curve == "P-384" { 48 } else { 32 };
            assert_eq!(point.len(), 1 + 2 * size);
            let signature = ecdsa_sign(curve, "SHA-256", &secret, b"lit").unwrap();
            assert_eq!(signature.len(), 2 * size);
            assert_eq!(
                ecdsa_verify(curve, "SHA-256", &point, b"lit", &signature),
                Some(true)
            );
            assert_eq!(
                ecdsa_verify(curve, "SHA-256", &point, b"lot", &signature),
                Some(false)
            );
            assert_eq!(
                ecdsa_verify(curve, "SHA-384", &point, b"lit", &signature),
                Some(false)
            );
            let short = &signature[..signature.len() - 1];
            assert_eq!(
                ecdsa_verify(curve, "SHA-256", &point, b"lit", short),
                Some(false)
            );
            // compressed points are read too
            let mut compressed = vec![2 + (point[2 * size] & 1)];
            compressed.extend_from_slice(&point[1..=size]);
            assert_eq!(ec_point(curve, &compressed), Some(point.clone()));
        }
        // secp256k1 signatures verify with either s (k256 alone would insist on the low one).
        let secret = ec_generate("K-256").unwrap();
        let point = ec_public_key("K-256", &secret).unwrap();
        let low = k256::ecdsa::Signature::from_slice(
            &ecdsa_sign("K-256", "SHA-256", &secret, b"s").unwrap(),
        )
        .unwrap();
        let (r, s) = low.split_scalars();
        let high = k256::ecdsa::Signature::from_scalars(r, -*s).unwrap();
        assert!(
            high.normalize_s().is_some(),
            "the flipped s is the high one"
        );
        assert_eq!(
            ecdsa_verify("K-256", "SHA-256", &point, b"s", &high.to_bytes()),
            Some(true)
        );
        assert_eq!(
            ec_public_key("P-256", &[0u8; 32]),
            None,
            "zero is not a key"
        );
        assert_eq!(ec_point("P-256", &[4u8; 65]), None, "not on the curve");
    }

    #[test]
    fn aes_gcm_matches_the_gcm_spec_test_case_3_and_refuses_a_changed_tag() {
        // McGrew & Viega, "The Galois/Counter Mode of Operation", test case 3.
        let key = hex::decode("feffe9928665731c6d6a8f9467308308").unwrap();
        let iv = hex::decode("cafebabefacedbaddecaf888").unwrap();
        let plain = hex::decode("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255").unwrap();
        let sealed = aes_gcm(true, &key, &iv, &plain, b"").unwrap();
        assert_eq!(
            hex::encode(&sealed[plain.len()..]),
            "4d5c2af327cd64a62cf35abd2ba6fab4"
        );
        assert_eq!(aes_gcm(false, &key, &iv, &sealed, b""), Some(plain));
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert_eq!(aes_gcm(false, &key, &iv, &tampered, b""), None);
        assert_eq!(
            aes_gcm(true, &key, &iv[..8], b"x", b""),
            None,
            "IV size not supported"
        );
        assert_eq!(aes_gcm(true, &key[..10], &iv, b"x", b""), None, "key size");
    }
}
