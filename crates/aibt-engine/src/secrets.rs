//! API keys at rest. `ai_configs.local_ai_api_key` never holds a key in the clear: it holds
//! `enc:v1:<base64 of nonce ‖ ciphertext>` (XChaCha20-Poly1305), or `env:VAR` for a key read
//! from the environment when it is used, or nothing. A value in none of these forms was written
//! by the original system, which stored keys in the clear; it is read as such.
//!
//! The encryption key comes from `AIBT_SECRET_KEY` (32 bytes as 64 hex digits or base64), or
//! from a key file (`AIBT_SECRET_KEY_FILE`, default `~/.config/aibt/secret.key`) created with
//! mode 0600 on first use. Workers on several hosts sharing one database need the same key.

use std::path::PathBuf;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20poly1305::aead::{Aead, KeyInit, OsRng};
use chacha20poly1305::{AeadCore, XChaCha20Poly1305, XNonce};

/// Why a key could not be stored or read.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("AIBT_SECRET_KEY must be 32 bytes as 64 hex digits or base64")]
    BadKey,
    #[error("the secret key file {path}: {reason}")]
    KeyFile { path: PathBuf, reason: String },
    #[error(
        "the stored API key cannot be decrypted with this secret key (was it encrypted with another AIBT_SECRET_KEY?)"
    )]
    Undecryptable,
    #[error("the API key is read from ${0}, which is not set")]
    MissingEnv(String),
}

fn decode_key(text: &str) -> Result<[u8; 32], SecretError> {
    let text = text.trim();
    let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        (0..32)
            .map(|i| {
                u8::from_str_radix(&text[2 * i..2 * i + 2], 16).map_err(|_| SecretError::BadKey)
            })
            .collect::<Result<Vec<u8>, _>>()?
    } else {
        BASE64.decode(text).map_err(|_| SecretError::BadKey)?
    };
    bytes.try_into().map_err(|_| SecretError::BadKey)
}

fn key_file() -> PathBuf {
    if let Ok(path) = std::env::var("AIBT_SECRET_KEY_FILE") {
        return PathBuf::from(path);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".config").join("aibt").join("secret.key")
}

/// The encryption key: from the environment, else from the key file (created if absent).
fn secret_key() -> Result<[u8; 32], SecretError> {
    if let Ok(text) = std::env::var("AIBT_SECRET_KEY") {
        return decode_key(&text);
    }
    let path = key_file();
    let failure = |reason: String| SecretError::KeyFile {
        path: path.clone(),
        reason,
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => decode_key(&text),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let key = XChaCha20Poly1305::generate_key(&mut OsRng);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|e| failure(e.to_string()))?;
            }
            write_private(&path, &BASE64.encode(key)).map_err(|e| failure(e.to_string()))?;
            let mut out = [0u8; 32];
            out.copy_from_slice(&key);
            Ok(out)
        }
        Err(error) => Err(failure(error.to_string())),
    }
}

/// Creates a file readable by its owner only, failing if it already exists (another process
/// may have created it first; then its key is the one to use).
fn write_private(path: &std::path::Path, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(mut file) => file.write_all(content.as_bytes()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(error),
    }
}

const ENCRYPTED: &str = "enc:v1:";
const FROM_ENV: &str = "env:";

/// The stored form of an API key typed by a user.
pub fn seal_api_key(key: &str) -> Result<String, SecretError> {
    if key.is_empty() {
        return Ok(String::new());
    }
    let cipher = XChaCha20Poly1305::new(&secret_key()?.into());
    let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
    let sealed = cipher
        .encrypt(&nonce, key.as_bytes())
        .map_err(|_| SecretError::Undecryptable)?;
    let mut bytes = nonce.to_vec();
    bytes.extend_from_slice(&sealed);
    Ok(format!("{ENCRYPTED}{}", BASE64.encode(bytes)))
}

/// The stored form of a key read from an environment variable when used.
pub fn env_api_key(variable: &str) -> String {
    format!("{FROM_ENV}{variable}")
}

/// The key a stored value stands for (`None`: no key).
pub fn open_api_key(stored: &str) -> Result<Option<String>, SecretError> {
    if stored.is_empty() {
        return Ok(None);
    }
    if let Some(variable) = stored.strip_prefix(FROM_ENV) {
        return std::env::var(variable)
            .map(Some)
            .map_err(|_| SecretError::MissingEnv(variable.to_string()));
    }
    let Some(encoded) = stored.strip_prefix(ENCRYPTED) else {
        return Ok(Some(stored.to_string()));
    };
    let bytes = BASE64
        .decode(encoded)
        .map_err(|_| SecretError::Undecryptable)?;
    if bytes.len() < 24 {
        return Err(SecretError::Undecryptable);
    }
    let (nonce, sealed) = bytes.split_at(24);
    let cipher = XChaCha20Poly1305::new(&secret_key()?.into());
    let plain = cipher
        .decrypt(XNonce::from_slice(nonce), sealed)
        .map_err(|_| SecretError::Undecryptable)?;
    String::from_utf8(plain)
        .map(Some)
        .map_err(|_| SecretError::Undecryptable)
}

/// How a stored key is shown: never the key, at most its form and last four characters.
pub fn mask_api_key(stored: &str) -> String {
    if stored.is_empty() {
        return String::new();
    }
    if let Some(variable) = stored.strip_prefix(FROM_ENV) {
        return format!("${variable}");
    }
    match open_api_key(stored) {
        Ok(Some(key)) if key.chars().count() > 8 => {
            let tail: String = key
                .chars()
                .rev()
                .take(4)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            format!("****{tail}")
        }
        _ => "****".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The tests share the process environment; one test holds every case.
    #[test]
    fn keys_are_sealed_opened_and_masked() {
        let dir = std::env::temp_dir().join(format!("aibt-secret-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        // SAFETY: this is the only test that touches the environment.
        unsafe {
            std::env::remove_var("AIBT_SECRET_KEY");
            std::env::set_var("AIBT_SECRET_KEY_FILE", dir.join("secret.key"));
        }
        let sealed = seal_api_key("sk-test-1234567890").unwrap();
        assert!(sealed.starts_with("enc:v1:"));
        assert!(!sealed.contains("sk-test"));
        assert_eq!(
            open_api_key(&sealed).unwrap().as_deref(),
            Some("sk-test-1234567890")
        );
        assert_eq!(mask_api_key(&sealed), "****7890");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join("secret.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // A different key cannot open it.
        unsafe {
            std::env::set_var("AIBT_SECRET_KEY", "00".repeat(32));
        }
        assert!(matches!(
            open_api_key(&sealed),
            Err(SecretError::Undecryptable)
        ));
        unsafe {
            std::env::set_var("AIBT_SECRET_KEY", "not a key");
        }
        assert!(matches!(seal_api_key("x"), Err(SecretError::BadKey)));
        unsafe {
            std::env::remove_var("AIBT_SECRET_KEY");
            std::env::set_var("AIBT_TEST_KEY_VAR", "from-env");
        }
        assert_eq!(
            open_api_key(&env_api_key("AIBT_TEST_KEY_VAR"))
                .unwrap()
                .as_deref(),
            Some("from-env")
        );
        assert_eq!(
            mask_api_key(&env_api_key("AIBT_TEST_KEY_VAR")),
            "$AIBT_TEST_KEY_VAR"
        );
        assert!(matches!(
            open_api_key("env:AIBT_NO_SUCH_VAR"),
            Err(SecretError::MissingEnv(_))
        ));
        assert_eq!(open_api_key("").unwrap(), None);
        assert_eq!(
            open_api_key("legacy-plaintext").unwrap().as_deref(),
            Some("legacy-plaintext")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
