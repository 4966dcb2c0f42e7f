//! The 32-byte root secret: loading from a file (mode 0600) or the environment, and creating one.
//!
//! File format: 64 hex characters (optionally `0x`-prefixed), surrounding whitespace ignored.
//! The secret's bytes never appear in `Debug` output, logs or errors.

use std::fmt;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rand::RngCore;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Failure to load or create the root secret. Messages name the file, never the secret.
#[derive(Debug, thiserror::Error)]
pub enum RootSecretError {
    #[error("cannot read root secret file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot create root secret file {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "root secret file {path} is readable by other users (mode {mode:o}); run `chmod 600 {path}`"
    )]
    TooOpen { path: PathBuf, mode: u32 },
    #[error("root secret from {origin} is not 32 bytes of hex (expected 64 hex characters)")]
    Malformed { origin: String },
}

/// The node's root secret. Zeroed on drop; `Debug` prints a placeholder.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct RootSecret([u8; 32]);

impl fmt::Debug for RootSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RootSecret(<redacted>)")
    }
}

impl RootSecret {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }

    /// Parses 64 hex characters (optional `0x`, surrounding whitespace ignored).
    pub fn from_hex(text: &str, origin: &str) -> Result<Self, RootSecretError> {
        let trimmed = text.trim();
        let digits = trimmed.strip_prefix("0x").unwrap_or(trimmed);
        // Decoded in place, so no other copy of the bytes is left behind (a failed parse drops,
        // and so wipes, the partly filled secret).
        let mut secret = Self([0u8; 32]);
        hex::decode_to_slice(digits, &mut secret.0).map_err(|_| RootSecretError::Malformed {
            origin: origin.to_string(),
        })?;
        Ok(secret)
    }

    /// Takes the secret out of the environment variable `name` (`LIT_NODE_ROOT_SECRET`): reads it,
    /// overwrites its value where the process keeps it (so `/proc/<pid>/environ` no longer shows
    /// it) and removes the variable (so no child process inherits it). `Ok(None)` when unset; the
    /// variable is removed even when its value is malformed.
    ///
    /// # Safety
    ///
    /// Call while the process has a single thread (at the top of a synchronous `main`, before any
    /// async runtime starts): changing the environment is unsound while another thread may read
    /// it.
    pub unsafe fn take_from_env(name: &str) -> Result<Option<Self>, RootSecretError> {
        use std::os::unix::ffi::OsStringExt;
        let Some(value) = std::env::var_os(name) else {
            return Ok(None);
        };
        let value = zeroize::Zeroizing::new(value.into_vec());
        // SAFETY: single-threaded, by this function's contract.
        unsafe { wipe_env_value(name) };
        std::env::remove_var(name);
        let malformed = || RootSecretError::Malformed {
            origin: name.to_string(),
        };
        let text = std::str::from_utf8(&value).map_err(|_| malformed())?;
        Self::from_hex(text, name).map(Some)
    }

    /// Loads the secret from `path`, refusing files that group or others can read.
    pub fn load(path: &Path) -> Result<Self, RootSecretError> {
        let read_err = |source| RootSecretError::Read {
            path: path.to_path_buf(),
            source,
        };
        let mode = std::fs::metadata(path)
            .map_err(read_err)?
            .permissions()
            .mode()
            & 0o777;
        if mode & 0o077 != 0 {
            return Err(RootSecretError::TooOpen {
                path: path.to_path_buf(),
                mode,
            });
        }
        let mut text = std::fs::read_to_string(path).map_err(read_err)?;
        let secret = Self::from_hex(&text, &path.display().to_string());
        text.zeroize();
        secret
    }

    /// Loads the secret from `path`, creating a fresh random one (mode 0600) if the file is absent.
    pub fn load_or_create(path: &Path) -> Result<Self, RootSecretError> {
        if path.exists() {
            return Self::load(path);
        }
        let mut secret = Self([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(&mut secret.0);
        let create_err = |source| RootSecretError::Create {
            path: path.to_path_buf(),
            source,
        };
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(create_err)?;
        let mut text = zeroize::Zeroizing::new([b'\n'; 65]);
        hex::encode_to_slice(secret.0, &mut text[..64]).expect("64 digits for 32 bytes");
        file.write_all(text.as_ref())
            .and_then(|_| file.sync_all())
            .map_err(create_err)?;
        Ok(secret)
    }
}

/// Overwrites the value of the environment variable `name` in place, where `getenv` finds it: in
/// the environment block the kernel gave the process (which `/proc/<pid>/environ` shows) or in
/// the copy `setenv` made.
///
/// # Safety
///
/// No other thread may read or change the environment meanwhile.
unsafe fn wipe_env_value(name: &str) {
    let Ok(name) = std::ffi::CString::new(name) else {
        return;
    };
    // SAFETY: `getenv` returns null or a pointer to the variable's NUL-terminated value, which
    // stays valid and writable (it lives in the process's own stack or heap) until the
    // environment changes; nothing else touches it meanwhile (single thread). Only the
    // `strlen` bytes before the terminator are overwritten.
    unsafe {
        let value = libc::getenv(name.as_ptr());
        if !value.is_null() {
            std::slice::from_raw_parts_mut(value.cast::<u8>(), libc::strlen(value)).zeroize();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_file_is_private_and_reloads_to_the_same_secret() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("root-secret");
        let created = RootSecret::load_or_create(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let loaded = RootSecret::load_or_create(&path).unwrap();
        assert_eq!(created.expose(), loaded.expose());
    }

    #[test]
    fn world_readable_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("root-secret");
        std::fs::write(&path, "11".repeat(32)).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = RootSecret::load(&path).unwrap_err();
        assert!(
            matches!(err, RootSecretError::TooOpen { mode: 0o644, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("chmod 600"));
    }

    #[test]
    fn malformed_secret_is_refused_without_echoing_it() {
        let err = RootSecret::from_hex("0xnot-hex-at-all", "LIT_NODE_ROOT_SECRET").unwrap_err();
        let message = err.to_string();
        assert!(message.contains("LIT_NODE_ROOT_SECRET"));
        assert!(!message.contains("not-hex"));
        assert!(RootSecret::from_hex(&"ab".repeat(31), "x").is_err());
        let ok = RootSecret::from_hex(&format!("0x{}\n", "ab".repeat(32)), "x").unwrap();
        assert_eq!(ok.expose(), &[0xab; 32]);
    }

    #[test]
    fn debug_output_redacts_the_secret() {
        let secret = RootSecret::from_bytes([0x42; 32]);
        let shown = format!("{secret:?}");
        assert!(!shown.contains("42"));
        assert!(shown.contains("redacted"));
    }
}
