//! argon2id password hashing with the crate's default (OWASP) parameters. Blocking:
//! callers run these on a blocking thread.

use argon2::password_hash::{
    rand_core::OsRng, Output, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::{Algorithm, Argon2, Block, Params, Version};

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

/// The most argon2 memory a stored hash may ask for (the default asks for 19 MiB).
const MAX_BLOCKS: usize = 256 * 1024;

/// Grows `memory` to `params`' block count (it is kept by the caller and reused).
fn memory_for<'m>(memory: &'m mut Vec<Block>, params: &Params) -> Option<&'m mut [Block]> {
    let need = params.block_count();
    if need > MAX_BLOCKS {
        return None;
    }
    if memory.len() < need {
        memory.resize(need, Block::default());
    }
    Some(&mut memory[..need])
}

/// [`hash`], filling the caller's argon2 memory instead of allocating it.
pub fn hash_in(password: &str, memory: &mut Vec<Block>) -> Result<String, AppError> {
    let fail = |e: &dyn std::fmt::Display| AppError::Internal(format!("password hashing failed: {e}"));
    let salt = SaltString::generate(&mut OsRng);
    let params = Params::default();
    let mut salt_bytes = [0u8; 64];
    let raw_salt = salt.as_salt().decode_b64(&mut salt_bytes).map_err(|e| fail(&e))?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    let blocks = memory_for(memory, &params).ok_or_else(|| fail(&"too much memory"))?;
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(password.as_bytes(), raw_salt, &mut out, blocks)
        .map_err(|e| fail(&e))?;
    let output = Output::new(&out).map_err(|e| fail(&e))?;
    Ok(format!(
        "$argon2id$v=19$m={},t={},p={}${}${output}",
        params.m_cost(),
        params.t_cost(),
        params.p_cost(),
        salt.as_str()
    ))
}

/// [`verify`], filling the caller's argon2 memory instead of allocating it.
pub fn verify_in(password: &str, hash: &str, memory: &mut Vec<Block>) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(params), Some(salt), Some(expected)) = (
        Algorithm::try_from(parsed.algorithm),
        Params::try_from(&parsed),
        parsed.salt,
        parsed.hash,
    ) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from) {
        None => Version::V0x13,
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(raw_salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    let Some(blocks) = memory_for(memory, &params) else {
        return false;
    };
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password.as_bytes(), raw_salt, &mut out, blocks)
        .is_ok()
        && Output::new(&out).is_ok_and(|o| o == expected)
}

/// Hashes on an argon2 thread, under the process's argon2 bound.
pub async fn hash_async(password: String) -> Result<String, AppError> {
    validate(&password)?;
    super::password_gate::run(move |m| hash_in(&password, m)).await?
}

/// Verifies on an argon2 thread, under the process's argon2 bound (503 when it is full).
pub async fn verify_async(password: String, hash: String) -> Result<bool, AppError> {
    super::password_gate::run(move |m| verify_in(&password, &hash, m)).await
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
    fn hashing_in_kept_memory_matches_the_crates_own() {
        let mut memory = Vec::new();
        let h = hash_in("correct horse battery", &mut memory).unwrap();
        assert!(verify("correct horse battery", &h), "{h}");
        assert!(!verify("correct horse batterY", &h));
        let theirs = hash("another long password").unwrap();
        assert!(verify_in("another long password", &theirs, &mut memory));
        assert!(!verify_in("another long passworD", &theirs, &mut memory));
        assert!(!verify_in("anything", "not a hash", &mut memory));
        assert_eq!(
            memory.len(),
            Params::default().block_count(),
            "memory is reused, not grown"
        );
    }

    #[test]
    fn short_passwords_are_refused() {
        assert!(validate("elevenchars").is_err());
        assert!(validate("twelve chars").is_ok());
    }
}
