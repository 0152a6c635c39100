//! argon2id password hashing with the crate's default (OWASP) parameters. Blocking:
//! callers run these on a blocking thread.

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

use crate::error::AppError;

pub const MIN_LEN: usize = 12;
pub const MAX_LEN: usize = 1024;

/// The rule for every password a person chooses.
pub fn validate(password: &str) -> Result<(), AppError> {
    let n = password.chars().count();
    if n < MIN_LEN {
        return Err(AppError::Validation(format!(
            "The password is too short: use at least {MIN_LEN} characters (a few words make a good one)."
        )));
    }
    if n > MAX_LEN {
        return Err(AppError::Validation(format!(
            "The password is too long: at most {MAX_LEN} characters."
        )));
    }
    Ok(())
}

pub fn hash(password: &str) -> Result<String, AppError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(format!("password hashing failed: {e}")))
}

/// True when `password` matches `hash`; a malformed hash never matches.
pub fn verify(password: &str, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A valid hash of a random password, verified against when an account does not exist so
/// that a wrong email costs the same time as a wrong password.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash("not-a-real-password-0000").unwrap_or_default())
}

/// Hashes on the blocking pool.
pub async fn hash_async(password: String) -> Result<String, AppError> {
    validate(&password)?;
    actix_web::web::block(move || hash(&password))
        .await
        .map_err(|e| AppError::Internal(format!("blocking task failed: {e}")))?
}

/// Verifies on the blocking pool.
pub async fn verify_async(password: String, hash: String) -> bool {
    actix_web::web::block(move || verify(&password, &hash))
        .await
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_and_verify() {
        let h = hash("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify("correct horse battery", &h));
        assert!(!verify("correct horse batterY", &h));
        assert!(!verify("anything", "not a hash"));
    }

    #[test]
    fn short_passwords_are_refused() {
        assert!(validate("elevenchars").is_err());
        assert!(validate("twelve chars").is_ok());
    }
}
