//! Secrets at rest (ClickBank API keys, secret keys, house API keys): AES-256-GCM with the
//! portal's master key, a fresh 96-bit nonce per value, stored as `v1:<base64(nonce|ct)>`.
//! Pages show only [`mask`]ed values.

use aes_gcm::aead::{Aead, KeyInit, OsRng};
use aes_gcm::{AeadCore, Aes256Gcm, Key, Nonce};
use base64::Engine;

use crate::error::AppError;

const PREFIX: &str = "v1:";

/// Seals and opens secrets with the master key.
#[derive(Clone)]
pub struct SecretBox {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(..)")
    }
}

impl SecretBox {
    pub fn new(master_key: &[u8]) -> Result<Self, AppError> {
        if master_key.len() != 32 {
            return Err(AppError::Config(format!(
                "the master key must be 32 bytes, got {}",
                master_key.len()
            )));
        }
        Ok(SecretBox {
            cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(master_key)),
        })
    }

    pub fn seal(&self, plaintext: &str) -> Result<String, AppError> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let ct = self
            .cipher
            .encrypt(&nonce, plaintext.as_bytes())
            .map_err(|_| AppError::Internal("could not encrypt a secret".into()))?;
        let mut raw = nonce.to_vec();
        raw.extend_from_slice(&ct);
        Ok(format!(
            "{PREFIX}{}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        ))
    }

    pub fn open(&self, sealed: &str) -> Result<String, AppError> {
        let bad = || {
            AppError::Internal(
                "a stored secret cannot be decrypted: was the master key (MERCHANT_CRM_MASTER_KEY or \
                 <data dir>/master.key) changed?"
                    .into(),
            )
        };
        let b64 = sealed.strip_prefix(PREFIX).ok_or_else(bad)?;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| bad())?;
        if raw.len() < 12 + 16 {
            return Err(bad());
        }
        let (nonce, ct) = raw.split_at(12);
        let pt = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), ct)
            .map_err(|_| bad())?;
        String::from_utf8(pt).map_err(|_| bad())
    }
}

/// `••••••••WXYZ`: enough to recognise a key, never enough to use it.
pub fn mask(secret: &str) -> String {
    let n = secret.chars().count();
    if n <= 4 {
        return "•".repeat(n.max(4));
    }
    let tail: String = secret.chars().skip(n - 4).collect();
    format!("{}{tail}", "•".repeat(8))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_with_fresh_nonces() {
        let b = SecretBox::new(&[7u8; 32]).unwrap();
        let a1 = b.seal("API-ABCDEF").unwrap();
        let a2 = b.seal("API-ABCDEF").unwrap();
        assert_ne!(a1, a2, "a new nonce each time");
        assert!(!a1.contains("ABCDEF"));
        assert_eq!(b.open(&a1).unwrap(), "API-ABCDEF");
    }

    #[test]
    fn a_wrong_key_or_tampering_is_detected() {
        let b = SecretBox::new(&[7u8; 32]).unwrap();
        let other = SecretBox::new(&[8u8; 32]).unwrap();
        let s = b.seal("secret").unwrap();
        assert!(other.open(&s).unwrap_err().to_string().contains("master key"));
        let mut t = s.clone().into_bytes();
        let last = t.len() - 2;
        t[last] = if t[last] == b'A' { b'B' } else { b'A' };
        assert!(b.open(&String::from_utf8(t).unwrap()).is_err());
        assert!(b.open("plain").is_err());
    }

    #[test]
    fn masks_keep_only_the_last_four() {
        assert_eq!(mask("API-1234567890WXYZ"), "••••••••WXYZ");
        assert_eq!(mask("ab"), "••••");
    }
}
