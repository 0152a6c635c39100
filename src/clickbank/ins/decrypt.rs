//! Decrypting INS 6.0+ envelopes.

use std::borrow::Cow;

use aes::Aes256;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use cbc::cipher::block_padding::NoPadding;
use cbc::cipher::{BlockDecryptMut, KeyIvInit};
use serde::Deserialize;
use sha1::{Digest, Sha1};

use super::error::InsError;
use super::notification::{parse_notification, Notification};

/// Standard base64, padding optional (senders differ).
pub(crate) const B64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The AES-256 key of a secret key: the first 32 characters of the lowercase hex SHA-1
/// of the secret key, used as 32 ASCII bytes.
pub fn derive_key(secret_key: &str) -> [u8; 32] {
    let digest = Sha1::digest(secret_key.trim().as_bytes());
    let hex = hex::encode(digest);
    let mut key = [0u8; 32];
    key.copy_from_slice(&hex.as_bytes()[..32]);
    key
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    notification: Cow<'a, str>,
    #[serde(borrow)]
    iv: Cow<'a, str>,
}

fn decode_b64(text: &str, field: &'static str) -> Result<Vec<u8>, InsError> {
    let result = if text.bytes().any(|b| b.is_ascii_whitespace()) {
        let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        B64.decode(compact)
    } else {
        B64.decode(text)
    };
    result.map_err(|_| InsError::BadBase64 { field })
}

/// Remove PKCS#7 padding, or old senders' trailing NUL/control bytes.
/// Returns the text and whether any padding was recognised.
fn unpad(buf: &[u8]) -> (&[u8], bool) {
    if let Some(&n) = buf.last() {
        let n = usize::from(n);
        if (1..=16).contains(&n)
            && n <= buf.len()
            && buf[buf.len() - n..].iter().all(|&b| usize::from(b) == n)
        {
            return (&buf[..buf.len() - n], true);
        }
    }
    let end = buf.iter().rposition(|&b| b >= 0x20).map_or(0, |i| i + 1);
    (&buf[..end], end < buf.len())
}

/// Plain text that looks like a JSON document (UTF-8, no control characters).
fn plausible_text(bytes: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(bytes).ok()?;
    if text
        .bytes()
        .any(|b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r'))
    {
        return None;
    }
    Some(text)
}

/// Decrypts INS bodies with one secret key (the key derivation is done once).
#[derive(Clone)]
pub struct InsDecoder {
    key: [u8; 32],
}

impl std::fmt::Debug for InsDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InsDecoder { key: *** }")
    }
}

impl InsDecoder {
    /// A decoder for this secret key.
    pub fn new(secret_key: &str) -> Self {
        InsDecoder {
            key: derive_key(secret_key),
        }
    }

    /// Decrypt an envelope to its plaintext JSON text (not yet parsed).
    pub fn decrypt(&self, body: &[u8]) -> Result<String, InsError> {
        let (text, _) = self.decrypt_inner(body)?;
        Ok(text)
    }

    /// Returns the plaintext and whether its padding was intact.
    fn decrypt_inner(&self, body: &[u8]) -> Result<(String, bool), InsError> {
        let envelope: Envelope = serde_json::from_slice(body).map_err(|_| InsError::NotEnvelope)?;
        let iv = decode_b64(&envelope.iv, "iv")?;
        let iv: [u8; 16] = iv
            .as_slice()
            .try_into()
            .map_err(|_| InsError::BadIv { len: iv.len() })?;
        let mut buf = decode_b64(&envelope.notification, "notification")?;
        if buf.is_empty() || buf.len() % 16 != 0 {
            return Err(InsError::CiphertextLength { len: buf.len() });
        }
        let plain = cbc::Decryptor::<Aes256>::new(&self.key.into(), &iv.into())
            .decrypt_padded_mut::<NoPadding>(&mut buf)
            .map_err(|_| InsError::WrongKeyOrDamaged)?;
        let (unpadded, padded) = unpad(plain);
        let text = plausible_text(unpadded).ok_or(InsError::WrongKeyOrDamaged)?;
        Ok((text.to_string(), padded))
    }

    /// Decrypt and parse into a typed [`Notification`].
    pub fn decode(&self, body: &[u8]) -> Result<Notification, InsError> {
        let (text, padded) = self.decrypt_inner(body)?;
        match parse_notification(text.as_bytes()) {
            // Without intact padding a parse failure means a cut or altered ciphertext.
            Err(InsError::NotJson { .. }) if !padded => Err(InsError::WrongKeyOrDamaged),
            other => other,
        }
    }

    /// Decrypt to a generic JSON value (every field, typed or not).
    pub fn decode_value(&self, body: &[u8]) -> Result<serde_json::Value, InsError> {
        let (text, padded) = self.decrypt_inner(body)?;
        serde_json::from_str(&text).map_err(|e| {
            if padded {
                InsError::NotJson {
                    detail: e.to_string(),
                }
            } else {
                InsError::WrongKeyOrDamaged
            }
        })
    }
}

/// For `merchant-crm clickbank decrypt-ins`: decrypt a body and pretty-print its JSON.
pub fn decrypt_ins_to_pretty_json(secret_key: &str, body: &[u8]) -> Result<String, InsError> {
    let value = InsDecoder::new(secret_key).decode_value(body)?;
    serde_json::to_string_pretty(&value).map_err(|e| InsError::NotJson {
        detail: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derives_the_documented_key() {
        assert_eq!(
            &derive_key("G3B7H7T87J2E0VFN"),
            b"5c4cb16b116f92f7f500caa4774103d8"
        );
    }

    #[test]
    fn unpads_pkcs7_and_control_bytes() {
        assert_eq!(unpad(b"{}\x02\x02"), (&b"{}"[..], true));
        assert_eq!(unpad(b"{}\0\0\0"), (&b"{}"[..], true));
        assert_eq!(unpad(b"{}"), (&b"{}"[..], false));
        // A wrong PKCS#7 run falls back to stripping control bytes.
        assert_eq!(unpad(b"{}\x01\x03"), (&b"{}"[..], true));
    }
}
