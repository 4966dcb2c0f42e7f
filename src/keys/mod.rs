//! Key material: the root secret and everything derived from it with HKDF-SHA256.
//!
//! Nothing derived here is ever stored or logged. Every purpose has its own documented `info`
//! label (see [`derive`]), so keys for different purposes never share bytes even when their inputs
//! coincide. Nodes that share a root secret derive identical keys.

pub mod derive;

pub mod root_secret;

pub use derive::{KeyDeriver, KeyPurpose};
pub use root_secret::{RootSecret, RootSecretError};

pub mod aead;
pub mod ecdsa;
