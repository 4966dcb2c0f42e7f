//! The key operations of `Lit.Actions` for one run: which wallet a key may use in this action
//! (checked on every call, from the mirror), wallet and action keys derived on demand and kept
//! only in the run's memory, and the natives that sign, encrypt and show keys.

use std::rc::Rc;

use alloy::primitives::{Address, B256};
use rquickjs::{Ctx, Object, TypedArray, Value};
use zeroize::Zeroizing;

use super::{Host, HostResult, Thrown, NOT_PERMITTED};
use crate::actions::js_bytes::{bytes_of, js_string, prefixed_hex};
use crate::keys::{aead, ecdsa};

impl Host {
    /// The wallet and its derivation id, if this key may use it in this action. The permission
    /// is checked on every call; the derivation id is remembered for the rest of the run.
    fn permitted_wallet(&self, pkp_id: &str) -> HostResult<(Address, B256)> {
        let hex = pkp_id
            .strip_prefix("0x")
            .or_else(|| pkp_id.strip_prefix("0X"))
            .unwrap_or(pkp_id);
        let wallet: Address = (hex.len() == 40)
            .then(|| hex.parse().ok())
            .flatten()
            .ok_or_else(|| {
                Thrown::Error(format!(
                    "Invalid pkpId {pkp_id:?}: expected a wallet address, 0x followed by 40 hex digits"
                ))
            })?;
        let internal = |e: crate::store::StoreError| {
            tracing::error!(error = %e, "mirror read failed during a Lit Action");
            Thrown::Error("internal error reading the node's chain mirror".into())
        };
        let services = &self.services;
        let input = &self.input;
        if !services
            .permissions
            .can_use_wallet(&input.key_hash, &input.cid_hash, &wallet)
            .map_err(internal)?
        {
            return Err(Thrown::Error(NOT_PERMITTED.into()));
        }
        if let Some(id) = self.derivation_ids.borrow().get(&wallet) {
            return Ok((wallet, *id));
        }
        let record = services
            .store
            .wallet(&wallet)
            .map_err(internal)?
            .ok_or_else(|| Thrown::Error(NOT_PERMITTED.into()))?;
        // Never use a key for a wallet whose registered derivation does not derive its address
        // (the registry only accepts derivations the node minted, but the key is never trusted
        // to the chain alone).
        let key = services.keys.wallet_signing_key(&record.derivation_id.0);
        if !derivation_verified(wallet, record.derivation_id, &key) {
            tracing::error!(%wallet, "a registered wallet's derivation id does not derive its address");
            return Err(Thrown::Error(format!(
                "wallet {wallet:#x} cannot be used: its registered derivation does not derive its address"
            )));
        }
        self.signing_keys.borrow_mut().insert(wallet, key);
        self.derivation_ids
            .borrow_mut()
            .insert(wallet, record.derivation_id);
        Ok((wallet, record.derivation_id))
    }

    /// The wallet's signing key. Derived once per run and wallet, kept only in this run's memory
    /// (zeroised when the run ends); every call is still permission-checked and counted.
    fn wallet_signing_key(&self, pkp_id: &str) -> HostResult<k256::SecretKey> {
        self.count_key_op()?;
        let (wallet, id) = self.permitted_wallet(pkp_id)?;
        if let Some(key) = self.signing_keys.borrow().get(&wallet) {
            return Ok(key.clone());
        }
        let key = self.services.keys.wallet_signing_key(&id.0);
        self.signing_keys.borrow_mut().insert(wallet, key.clone());
        Ok(key)
    }

    fn wallet_encryption_key(&self, pkp_id: &str) -> HostResult<zeroize::Zeroizing<[u8; 32]>> {
        self.count_key_op()?;
        let (_, id) = self.permitted_wallet(pkp_id)?;
        Ok(self.services.keys.wallet_encryption_key(&id.0))
    }

    fn action_key(&self, ipfs_id: Option<&str>) -> HostResult<k256::SecretKey> {
        self.count_key_op()?;
        let cid = match ipfs_id {
            None => self.input.cid.as_str(),
            Some(id) => {
                let id = id.trim();
                if id.is_empty() {
                    return Err(Thrown::Range("ipfsId must not be blank".into()));
                }
                if cid::Cid::try_from(id).is_err() {
                    return Err(Thrown::Error(format!(
                        "Invalid ipfsId {id:?}: expected an IPFS CID such as Qm…"
                    )));
                }
                id
            }
        };
        Ok(self.services.keys.action_signing_key(cid))
    }
}

/// A 32-byte digest given as hex (optional `0x`) or as bytes.
fn digest_arg(value: &Value<'_>) -> HostResult<Vec<u8>> {
    let bytes = if let Some(text) = value.as_string() {
        let text = text
            .to_string()
            .map_err(|_| Thrown::Type("toSign must be a string or bytes".into()))?;
        let text = text.trim();
        hex::decode(text.strip_prefix("0x").unwrap_or(text)).map_err(|_| {
            Thrown::Error("toSign must be a 32-byte digest: 64 hex digits or 32 bytes".into())
        })?
    } else if let Ok(array) = TypedArray::<u8>::from_value(value.clone()) {
        bytes_of(&array)
    } else {
        return Err(Thrown::Type(
            "toSign must be a hex string or a Uint8Array".into(),
        ));
    };
    if bytes.len() != 32 {
        return Err(Thrown::Error(format!(
            "toSign must be a 32-byte digest: 64 hex digits or 32 bytes, got {} bytes",
            bytes.len()
        )));
    }
    Ok(bytes)
}

/// The private key as `0x` hex, for `getPrivateKey`. Every copy this side of the engine is wiped
/// (the engine's own string is the action's to keep).
fn private_key_hex(key: &k256::SecretKey) -> Zeroizing<String> {
    let bytes = Zeroizing::new(<[u8; 32]>::from(key.to_bytes()));
    let mut text =
        Zeroizing::new(*b"0x0000000000000000000000000000000000000000000000000000000000000000");
    hex::encode_to_slice(bytes.as_ref(), &mut text[2..]).expect("64 digits for 32 bytes");
    Zeroizing::new(String::from(
        std::str::from_utf8(text.as_ref()).expect("hex digits are ASCII"),
    ))
}

fn public_key_hex(key: &k256::SecretKey, compressed: bool) -> Zeroizing<String> {
    let bytes = Zeroizing::new(<[u8; 32]>::from(key.to_bytes()));
    Zeroizing::new(prefixed_hex(
        ecdsa::public_key_bytes(bytes.as_ref(), compressed)
            .expect("a derived key is a valid private key"),
    ))
}

fn compressed_public_key_hex(key: &k256::SecretKey) -> Zeroizing<String> {
    public_key_hex(key, true)
}

fn uncompressed_public_key_hex(key: &k256::SecretKey) -> Zeroizing<String> {
    public_key_hex(key, false)
}

/// Lowercase `0x` address.
fn address_hex(key: &k256::SecretKey) -> Zeroizing<String> {
    Zeroizing::new(format!("{:#x}", crate::keys::derive::address_of(key)))
}

/// Wallet ↔ derivation pairs whose key was seen to derive the wallet's address (checked once per
/// process, not per run: the check costs a public-key computation). Bounded: cleared when full.
static VERIFIED_DERIVATIONS: std::sync::LazyLock<
    std::sync::Mutex<std::collections::HashSet<(Address, B256)>>,
> = std::sync::LazyLock::new(Default::default);
const MAX_VERIFIED_DERIVATIONS: usize = 100_000;

/// Whether `key` (derived from `derivation_id`) is the key of `wallet`.
fn derivation_verified(wallet: Address, derivation_id: B256, key: &k256::SecretKey) -> bool {
    let lock = || {
        VERIFIED_DERIVATIONS
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    };
    if lock().contains(&(wallet, derivation_id)) {
        return true;
    }
    if crate::keys::derive::address_of(key) != wallet {
        return false;
    }
    let mut verified = lock();
    if verified.len() >= MAX_VERIFIED_DERIVATIONS {
        verified.clear();
    }
    verified.insert((wallet, derivation_id));
    true
}

/// How a key function finds its key from its string argument.
type KeyLookup = fn(&Host, &str) -> HostResult<k256::SecretKey>;

/// The wallet's signing key for `pkpId` (permission-checked and counted).
fn wallet_key(host: &Host, pkp_id: &str) -> HostResult<k256::SecretKey> {
    host.wallet_signing_key(pkp_id)
}

/// The action key of the CID `ipfsId` (counted).
fn action_key_of(host: &Host, ipfs_id: &str) -> HostResult<k256::SecretKey> {
    host.action_key(Some(ipfs_id))
}

/// Registers `name(argument)`: the key `lookup` finds for the argument, shown with `present`.
fn key_fn<'js>(
    object: &Object<'js>,
    ctx: &Ctx<'js>,
    host: &Rc<Host>,
    name: &'static str,
    lookup: KeyLookup,
    present: fn(&k256::SecretKey) -> Zeroizing<String>,
) -> rquickjs::Result<()> {
    let h = host.clone();
    native!(object, ctx, name, move |ctx: Ctx<'js>, argument: String| {
        lookup(&h, &argument)
            .map_err(|e| e.throw(&ctx))
            .and_then(|key| js_string(&ctx, &present(&key)))
    });
    Ok(())
}

/// The key operations of `Lit.Actions` for this run.
pub(super) fn key_natives<'js>(ctx: &Ctx<'js>, host: &Rc<Host>) -> rquickjs::Result<Object<'js>> {
    let object = Object::new(ctx.clone())?;
    for (name, present) in [
        (
            "getPrivateKey",
            private_key_hex as fn(&k256::SecretKey) -> Zeroizing<String>,
        ),
        ("getPublicKey", uncompressed_public_key_hex),
        ("getWalletAddress", address_hex),
    ] {
        key_fn(&object, ctx, host, name, wallet_key, present)?;
    }
    let h = host.clone();
    native!(object, ctx, "getLitActionPrivateKey", move |ctx: Ctx<
        'js,
    >| {
        h.action_key(None)
            .map_err(|e| e.throw(&ctx))
            .and_then(|key| js_string(&ctx, &private_key_hex(&key)))
    });
    key_fn(
        &object,
        ctx,
        host,
        "getLitActionPublicKey",
        action_key_of,
        compressed_public_key_hex,
    )?;
    key_fn(
        &object,
        ctx,
        host,
        "getLitActionWalletAddress",
        action_key_of,
        address_hex,
    )?;
    let h = host.clone();
    native!(
        object,
        ctx,
        "signEcdsa",
        move |ctx: Ctx<'js>, pkp_id: String, to_sign: Value<'js>| {
            let run = || -> HostResult<String> {
                let digest = digest_arg(&to_sign)?;
                let key = h.wallet_signing_key(&pkp_id)?;
                let signature = ecdsa::sign_digest_ethereum(&key, &digest)
                    .map_err(|e| Thrown::Error(e.to_string()))?;
                Ok(prefixed_hex(signature))
            };
            run().map_err(|e| e.throw(&ctx))
        }
    );
    let h = host.clone();
    native!(object, ctx, "signMessage", move |ctx: Ctx<'js>,
                                              pkp_id: String,
                                              message: TypedArray<
        'js,
        u8,
    >| {
        let message = bytes_of(&message);
        h.wallet_signing_key(&pkp_id)
            .map(|key| prefixed_hex(ecdsa::sign_message(&key, &message)))
            .map_err(|e| e.throw(&ctx))
    });
    let h = host.clone();
    native!(object, ctx, "encrypt", move |ctx: Ctx<'js>,
                                          pkp_id: String,
                                          message: TypedArray<
        'js,
        u8,
    >| {
        let message = bytes_of(&message);
        h.wallet_encryption_key(&pkp_id)
            .map(|key| aead::encrypt(&key, &message))
            .map_err(|e| e.throw(&ctx))
    });
    let h = host.clone();
    native!(
        object,
        ctx,
        "decrypt",
        move |ctx: Ctx<'js>, pkp_id: String, ciphertext: String| {
            let run = || -> HostResult<String> {
                let key = h.wallet_encryption_key(&pkp_id)?;
                let plain =
                    aead::decrypt(&key, &ciphertext).map_err(|e| Thrown::Error(e.to_string()))?;
                Ok(String::from_utf8_lossy(&plain).into_owned())
            };
            run().map_err(|e| e.throw(&ctx))
        }
    );

    Ok(object)
}
