//! Encrypting INS envelopes exactly as ClickBank does (for the sandbox and tests).

use aes::Aes256;
use base64::Engine;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockEncryptMut, KeyIvInit};
use rand::Rng;

use super::decrypt::{derive_key, B64};

/// A fresh IV shaped like ClickBank's: the base64 text of 10 upper-case hex digits,
/// i.e. 16 printable ASCII bytes (the public vector's IV is `M0EwQTZDMjlBRQ==`).
pub fn clickbank_iv() -> [u8; 16] {
    let random: [u8; 5] = rand::thread_rng().gen();
    let hex = hex::encode_upper(random);
    let text = B64.encode(hex.as_bytes());
    let mut iv = [0u8; 16];
    iv.copy_from_slice(&text.as_bytes()[..16]);
    iv
}

/// Encrypts INS plaintexts with one secret key.
#[derive(Clone)]
pub struct InsEncoder {
    key: [u8; 32],
}

impl std::fmt::Debug for InsEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InsEncoder { key: *** }")
    }
}

impl InsEncoder {
    /// An encoder for this secret key.
    pub fn new(secret_key: &str) -> Self {
        InsEncoder {
            key: derive_key(secret_key),
        }
    }

    /// The envelope body `{"notification":"..","iv":".."}` for `plaintext` with a given IV.
    pub fn encrypt_with_iv(&self, plaintext: &[u8], iv: &[u8; 16]) -> String {
        let ciphertext = cbc::Encryptor::<Aes256>::new(&self.key.into(), iv.into())
            .encrypt_padded_vec_mut::<Pkcs7>(plaintext);
        let envelope = serde_json::json!({
            "notification": B64.encode(ciphertext),
            "iv": B64.encode(iv),
        });
        envelope.to_string()
    }

    /// The envelope body with a fresh ClickBank-style IV.
    pub fn encrypt(&self, plaintext: &[u8]) -> String {
        self.encrypt_with_iv(plaintext, &clickbank_iv())
    }
}

/// Encrypt one plaintext JSON notification into an envelope body.
pub fn encrypt_notification(secret_key: &str, plaintext: &[u8]) -> String {
    InsEncoder::new(secret_key).encrypt(plaintext)
}
