//! secp256k1 operations on derived keys, shared by the native `Lit.Actions` functions and the
//! host functions behind the ethers bundle: RFC 6979 signatures normalised to low-s with their
//! recovery id, EIP-191 personal messages, public-key conversions, recovery, point addition and
//! ECDH. Results are byte-identical to ethers v5 (elliptic with `canonical: true`).

use alloy::primitives::{keccak256, Address, B256};
use k256::elliptic_curve::ops::Reduce;
use k256::elliptic_curve::sec1::ToEncodedPoint;
use k256::{ProjectivePoint, PublicKey, SecretKey};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EcdsaError {
    #[error("invalid private key")]
    InvalidPrivateKey,
    #[error("invalid public key")]
    InvalidPublicKey,
    #[error("invalid digest length: expected 32 bytes, got {0}")]
    InvalidDigest(usize),
    #[error("invalid signature")]
    InvalidSignature,
    #[error("the sum of the points is the point at infinity")]
    PointAtInfinity,
}

/// A recoverable signature: `r ‖ s ‖ recovery id (0 or 1)`, s in the lower half of the order.
pub fn sign_digest(key: &SecretKey, digest: &[u8]) -> Result<[u8; 65], EcdsaError> {
    if digest.len() != 32 {
        return Err(EcdsaError::InvalidDigest(digest.len()));
    }
    // elliptic (ethers) reduces the digest mod n before deriving the RFC 6979 nonce;
    // libsecp256k1 (like k256) feeds it unreduced. Reducing first gives identical signatures for
    // digests ≥ n too (the signed value z is the same either way).
    let reduced = <k256::Scalar as Reduce<k256::U256>>::reduce_bytes(digest.into());
    // libsecp256k1 signs in about half the time of k256 (a signature is most of the cost of a
    // native signMessage); it too derives the nonce by RFC 6979 with HMAC-SHA256, returns low-s,
    // and numbers the recovery id the same way (bit 0: R.y odd, bit 1: R.x ≥ n).
    let bytes = zeroize::Zeroizing::new(<[u8; 32]>::from(key.to_bytes()));
    let mut secret =
        secp256k1::SecretKey::from_byte_array(*bytes).map_err(|_| EcdsaError::InvalidPrivateKey)?;
    let message = secp256k1::Message::from_digest(reduced.to_bytes().into());
    let signature = SIGNER.sign_ecdsa_recoverable(message, &secret);
    secret.non_secure_erase();
    let (recovery, compact) = signature.serialize_compact();
    let mut out = [0u8; 65];
    out[..64].copy_from_slice(&compact);
    out[64] = u8::try_from(i32::from(recovery)).map_err(|_| EcdsaError::InvalidSignature)?;
    Ok(out)
}

/// libsecp256k1's context (signing and recovery; built once). libsecp256k1 does the operations
/// the ethers bundle calls most (sign, public key, recover) in about half the time of k256.
static SIGNER: std::sync::LazyLock<secp256k1::Secp256k1<secp256k1::All>> =
    std::sync::LazyLock::new(secp256k1::Secp256k1::new);

/// Like [`sign_digest`] with the recovery id as Ethereum's v (27 or 28).
pub fn sign_digest_ethereum(key: &SecretKey, digest: &[u8]) -> Result<[u8; 65], EcdsaError> {
    let mut signature = sign_digest(key, digest)?;
    signature[64] += 27;
    Ok(signature)
}

/// The EIP-191 personal-message digest: keccak256("\x19Ethereum Signed Message:\n" ‖ len ‖ m).
pub fn eip191_digest(message: &[u8]) -> B256 {
    let mut data = format!("\x19Ethereum Signed Message:\n{}", message.len()).into_bytes();
    data.extend_from_slice(message);
    keccak256(&data)
}

/// `personal_sign` of `message`, as ethers v5 `wallet.signMessage` returns it.
pub fn sign_message(key: &SecretKey, message: &[u8]) -> [u8; 65] {
    sign_digest_ethereum(key, eip191_digest(message).as_slice())
        .expect("a keccak256 digest is 32 bytes")
}

pub fn secret_key(bytes: &[u8]) -> Result<SecretKey, EcdsaError> {
    SecretKey::from_slice(bytes).map_err(|_| EcdsaError::InvalidPrivateKey)
}

fn public_key(bytes: &[u8]) -> Result<PublicKey, EcdsaError> {
    match bytes.len() {
        32 => Ok(secret_key(bytes)?.public_key()),
        33 | 65 => PublicKey::from_sec1_bytes(bytes).map_err(|_| EcdsaError::InvalidPublicKey),
        _ => Err(EcdsaError::InvalidPublicKey),
    }
}

/// SEC1 encoding of the public key of `key`, which is a 32-byte private key or a 33/65-byte
/// public key (to convert between the compressed and uncompressed forms).
pub fn public_key_bytes(key: &[u8], compressed: bool) -> Result<Vec<u8>, EcdsaError> {
    if let Ok(bytes) = <[u8; 32]>::try_from(key).map(zeroize::Zeroizing::new) {
        let mut secret = secp256k1::SecretKey::from_byte_array(*bytes)
            .map_err(|_| EcdsaError::InvalidPrivateKey)?;
        let public = secp256k1::PublicKey::from_secret_key(&SIGNER, &secret);
        secret.non_secure_erase();
        return Ok(if compressed {
            public.serialize().to_vec()
        } else {
            public.serialize_uncompressed().to_vec()
        });
    }
    Ok(public_key(key)?
        .to_encoded_point(compressed)
        .as_bytes()
        .to_vec())
}

/// The uncompressed public key that signed `digest` with `rs` and `recovery_id`.
pub fn recover(digest: &[u8], rs: &[u8], recovery_id: u8) -> Result<[u8; 65], EcdsaError> {
    if digest.len() != 32 {
        return Err(EcdsaError::InvalidDigest(digest.len()));
    }
    let invalid = |_| EcdsaError::InvalidSignature;
    let recovery =
        secp256k1::ecdsa::RecoveryId::try_from(i32::from(recovery_id)).map_err(invalid)?;
    if rs.len() != 64 {
        return Err(EcdsaError::InvalidSignature);
    }
    let signature =
        secp256k1::ecdsa::RecoverableSignature::from_compact(rs, recovery).map_err(invalid)?;
    let mut message = [0u8; 32];
    message.copy_from_slice(digest);
    let key = SIGNER
        .recover_ecdsa(secp256k1::Message::from_digest(message), &signature)
        .map_err(invalid)?;
    Ok(key.serialize_uncompressed())
}

/// A + B for two public keys.
pub fn add_points(a: &[u8], b: &[u8], compressed: bool) -> Result<Vec<u8>, EcdsaError> {
    let sum = public_key(a)?.to_projective() + public_key(b)?.to_projective();
    if sum == ProjectivePoint::IDENTITY {
        return Err(EcdsaError::PointAtInfinity);
    }
    let sum = PublicKey::from_affine(sum.to_affine()).map_err(|_| EcdsaError::PointAtInfinity)?;
    Ok(sum.to_encoded_point(compressed).as_bytes().to_vec())
}

/// The x coordinate of `private · public` (ECDH shared secret as ethers computes it).
pub fn ecdh(private: &[u8], public: &[u8]) -> Result<[u8; 32], EcdsaError> {
    let secret = secret_key(private)?;
    let shared =
        k256::ecdh::diffie_hellman(secret.to_nonzero_scalar(), public_key(public)?.as_affine());
    let mut out = [0u8; 32];
    out.copy_from_slice(shared.raw_secret_bytes());
    Ok(out)
}

/// The Ethereum address of a public key (any SEC1 form) or private key.
pub fn address_of_key(key: &[u8]) -> Result<Address, EcdsaError> {
    Ok(Address::from_public_key(&public_key(key)?.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one() -> SecretKey {
        let mut bytes = [0u8; 32];
        bytes[31] = 1;
        SecretKey::from_slice(&bytes).unwrap()
    }

    #[test]
    fn sign_message_matches_the_ethers_v5_vector() {
        // From spec/actions.md: ethers v5 `new Wallet("0x00…01").signMessage("Chipotle Rocks!")`.
        let signature = sign_message(&one(), b"Chipotle Rocks!");
        assert_eq!(
            hex::encode(signature),
            "32f33b786e068af9852b348d79b0470dcfc0d7e0de6ed92a2e0070c84f44f68454e37318ad9f80cc81f613217ed49de72012bf6cf02a3fef039ec234c5f35d151c"
        );
    }

    #[test]
    fn signatures_are_low_s_and_recover_to_the_signer() {
        let key = one();
        for i in 0u32..64 {
            let digest = keccak256(i.to_be_bytes());
            let signature = sign_digest(&key, digest.as_slice()).unwrap();
            let s = k256::U256::from_be_slice(&signature[32..64]);
            let half = k256::U256::from_be_hex(
                "7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0",
            );
            assert!(s <= half, "high s for digest {i}");
            let recovered = recover(digest.as_slice(), &signature[..64], signature[64]).unwrap();
            assert_eq!(
                recovered.to_vec(),
                public_key_bytes(&key.to_bytes(), false).unwrap()
            );
        }
    }

    #[test]
    fn signatures_equal_k256_rfc6979_for_random_keys_and_digests() {
        // libsecp256k1 signs; k256 (an independent RFC 6979 implementation, the one ethers'
        // vectors were first checked against) must give the same bytes and recovery id.
        use k256::ecdsa::hazmat::SignPrimitive;
        use rand::RngCore;
        let mut rng = rand::rngs::OsRng;
        for _ in 0..300 {
            let key = SecretKey::random(&mut rng);
            let mut digest = [0u8; 32];
            rng.fill_bytes(&mut digest);
            let reduced = <k256::Scalar as Reduce<k256::U256>>::reduce_bytes(&digest.into());
            let (expected, recovery) = key
                .to_nonzero_scalar()
                .try_sign_prehashed_rfc6979::<sha2::Sha256>(&reduced.to_bytes(), &[])
                .unwrap();
            let ours = sign_digest(&key, &digest).unwrap();
            assert_eq!(ours[..64], expected.to_bytes()[..]);
            assert_eq!(ours[64], recovery.unwrap().to_byte());
        }
    }

    #[test]
    fn public_keys_and_recovery_equal_k256() {
        // libsecp256k1 computes public keys and recovers; k256 must agree, for digests ≥ n,
        // recovery ids 2 and 3 and invalid input too (high s: see below).
        use k256::ecdsa::{RecoveryId, Signature, VerifyingKey};
        use rand::RngCore;
        let mut rng = rand::rngs::OsRng;
        let k256_recover = |digest: &[u8], rs: &[u8], id: u8| -> Option<Vec<u8>> {
            let signature = Signature::from_slice(rs).ok()?;
            let key =
                VerifyingKey::recover_from_prehash(digest, &signature, RecoveryId::from_byte(id)?)
                    .ok()?;
            Some(key.to_encoded_point(false).as_bytes().to_vec())
        };
        for round in 0..200 {
            let key = SecretKey::random(&mut rng);
            for compressed in [false, true] {
                assert_eq!(
                    public_key_bytes(&key.to_bytes(), compressed).unwrap(),
                    key.public_key().to_encoded_point(compressed).as_bytes()
                );
            }
            let mut digest = [0u8; 32];
            rng.fill_bytes(&mut digest);
            if round % 10 == 0 {
                digest = [0xff; 32];
            }
            let signature = sign_digest(&key, &digest).unwrap();
            let mut rs = signature[..64].to_vec();
            if round % 2 == 1 {
                // The high-s twin: n - s.
                let mut s_bytes = [0u8; 32];
                s_bytes.copy_from_slice(&rs[32..]);
                let s = <k256::Scalar as Reduce<k256::U256>>::reduce_bytes(&s_bytes.into());
                rs[32..].copy_from_slice(&(-s).to_bytes());
            }
            for id in 0..4u8 {
                let ours = recover(&digest, &rs, id).ok().map(|k| k.to_vec());
                // k256 refuses high s; elliptic (ethers) and libsecp256k1 recover it as the low-s
                // twin with the other y parity.
                let expected = if round % 2 == 1 {
                    k256_recover(&digest, &signature[..64], id ^ 1)
                } else {
                    k256_recover(&digest, &rs, id)
                };
                assert_eq!(ours, expected, "round {round} id {id}");
            }
            let mut garbage = [0u8; 64];
            rng.fill_bytes(&mut garbage);
            garbage[32] &= 0x3f; // low s, which k256 requires
            assert_eq!(
                recover(&digest, &garbage, 0).ok().map(|k| k.to_vec()),
                k256_recover(&digest, &garbage, 0)
            );
        }
        assert_eq!(
            recover(&[0u8; 32], &[0u8; 64], 0),
            Err(EcdsaError::InvalidSignature)
        );
        assert_eq!(
            recover(&[0u8; 32], &[1u8; 64], 4),
            Err(EcdsaError::InvalidSignature)
        );
        assert_eq!(
            public_key_bytes(&[0u8; 32], true),
            Err(EcdsaError::InvalidPrivateKey)
        );
    }

    #[test]
    fn digests_above_the_order_sign_like_elliptic() {
        use k256::elliptic_curve::bigint::Encoding;
        // A digest ≥ n signs exactly like its reduction (as elliptic/ethers do) and verifies.
        let key = one();
        let high = [0xffu8; 32];
        let n_minus = k256::U256::from_be_hex(
            "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141",
        );
        let reduced = k256::U256::from_be_slice(&high).wrapping_sub(&n_minus);
        let reduced: [u8; 32] = reduced.to_be_bytes();
        assert_eq!(
            sign_digest(&key, &high).unwrap(),
            sign_digest(&key, &reduced).unwrap()
        );
        let signature = sign_digest(&key, &high).unwrap();
        let recovered = recover(&high, &signature[..64], signature[64]).unwrap();
        assert_eq!(
            recovered.to_vec(),
            public_key_bytes(&key.to_bytes(), false).unwrap()
        );
    }

    #[test]
    fn conversions_points_and_ecdh_agree() {
        let a = one();
        let mut two = [0u8; 32];
        two[31] = 2;
        let compressed = public_key_bytes(&a.to_bytes(), true).unwrap();
        let uncompressed = public_key_bytes(&compressed, false).unwrap();
        assert_eq!(compressed.len(), 33);
        assert_eq!(uncompressed.len(), 65);
        // G + G = 2G.
        let doubled = add_points(&compressed, &uncompressed, true).unwrap();
        assert_eq!(doubled, public_key_bytes(&two, true).unwrap());
        // ECDH is symmetric: 1·(2G) = 2·(1G) = x(2G).
        let ab = ecdh(&a.to_bytes(), &public_key_bytes(&two, true).unwrap()).unwrap();
        let ba = ecdh(&two, &compressed).unwrap();
        assert_eq!(ab, ba);
        assert_eq!(ab.to_vec(), doubled[1..].to_vec());
        assert_eq!(secret_key(&[0u8; 32]), Err(EcdsaError::InvalidPrivateKey));
        assert_eq!(
            sign_digest(&a, &[1u8; 31]),
            Err(EcdsaError::InvalidDigest(31))
        );
    }
}
