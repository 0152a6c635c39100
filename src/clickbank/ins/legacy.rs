//! Legacy INS (4.0 and older): unencrypted form posts signed by `cverify`.
//!
//! The signature: every field except `cverify`, sorted by name, each value followed by
//! `|`, then the secret key; SHA-1 of that; the first 8 hex characters, upper case.

use std::collections::BTreeMap;

use sha1::{Digest, Sha1};

use super::error::InsError;

/// The `cverify` value of a set of fields (any `cverify` among them is ignored).
pub fn cverify<'a, I>(fields: I, secret_key: &str) -> String
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    let sorted: BTreeMap<&str, &str> = fields.into_iter().filter(|(k, _)| *k != "cverify").collect();
    let mut hasher = Sha1::new();
    for value in sorted.values() {
        hasher.update(value.as_bytes());
        hasher.update(b"|");
    }
    hasher.update(secret_key.trim().as_bytes());
    hex::encode_upper(hasher.finalize())[..8].to_string()
}

/// Parse a legacy form post (`application/x-www-form-urlencoded`) and verify its
/// `cverify`. Returns the fields (without `cverify`) when it matches.
pub fn verify_form(body: &[u8], secret_key: &str) -> Result<BTreeMap<String, String>, InsError> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_bytes(body).map_err(|e| InsError::LegacyForm {
            detail: e.to_string(),
        })?;
    // Later duplicates win, as in the PHP reference code.
    let mut fields: BTreeMap<String, String> = pairs.into_iter().collect();
    let given = fields.remove("cverify").ok_or(InsError::MissingCverify)?;
    let expected = cverify(fields.iter().map(|(k, v)| (k.as_str(), v.as_str())), secret_key);
    if given.trim().eq_ignore_ascii_case(&expected) {
        Ok(fields)
    } else {
        Err(InsError::CverifyMismatch)
    }
}

/// Build a signed legacy form body (for the sandbox and tests).
pub fn sign_form(fields: &BTreeMap<String, String>, secret_key: &str) -> String {
    let code = cverify(fields.iter().map(|(k, v)| (k.as_str(), v.as_str())), secret_key);
    let mut all: Vec<(&str, &str)> = fields
        .iter()
        .filter(|(k, _)| k.as_str() != "cverify")
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    all.push(("cverify", code.as_str()));
    serde_urlencoded::to_string(all).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_sorted_values_then_key() {
        // Values sorted by field name (caffitid < ctransreceipt), each followed by "|".
        let fields = [
            ("ctransreceipt", "ABC"),
            ("caffitid", "x"),
            ("cverify", "ignored"),
        ];
        let mut h = Sha1::new();
        h.update(b"x|ABC|SECRET");
        let expected = hex::encode_upper(h.finalize())[..8].to_string();
        assert_eq!(cverify(fields, "SECRET"), expected);
    }
}
