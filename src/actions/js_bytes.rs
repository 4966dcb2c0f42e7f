//! Moving bytes and text between Rust and the engine: Uint8Arrays in and out (copied, so they
//! count against the run's memory limit), random bytes, `0x` hex and JS strings. Shared by the
//! host object, the ethers natives and the ethers realm.

use rquickjs::{Ctx, TypedArray, Value};

/// Copies a Uint8Array's bytes out of the engine.
pub fn bytes_of(array: &TypedArray<'_, u8>) -> Vec<u8> {
    // SAFETY: the slice is copied before any JavaScript runs again.
    unsafe { array.as_bytes() }
        .map(<[u8]>::to_vec)
        .unwrap_or_default()
}

/// The bytes are copied into memory QuickJS allocates, so they count against the run's memory
/// limit (a buffer handed over by ownership would live outside it until collected).
pub fn uint8_array<'js>(ctx: &Ctx<'js>, bytes: impl AsRef<[u8]>) -> rquickjs::Result<Value<'js>> {
    Ok(TypedArray::<u8>::new_copy(ctx.clone(), bytes)?.into_value())
}

/// A fresh `Uint8Array` of `len` (at most 65,536) bytes from the OS's random source.
pub fn random_uint8_array<'js>(ctx: &Ctx<'js>, len: usize) -> rquickjs::Result<Value<'js>> {
    use rand::RngCore;
    let mut bytes = vec![0u8; len.min(65536)];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    uint8_array(ctx, bytes)
}

pub fn prefixed_hex(bytes: impl AsRef<[u8]>) -> String {
    format!("0x{}", hex::encode(bytes))
}

/// A JavaScript string of `text` (copied into the engine; `text` stays the caller's to wipe).
pub fn js_string<'js>(ctx: &Ctx<'js>, text: &str) -> rquickjs::Result<rquickjs::String<'js>> {
    rquickjs::String::from_str(ctx.clone(), text)
}
