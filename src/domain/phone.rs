//! Phone numbers as the search finds them: by their digits, from the end. ClickBank sends a
//! phone as the buyer typed it ("+1 470 657 5528", "(470) 657-5528"); staff type it any way
//! too. `customers.phone_digits_rev` (and `partials.phone_digits_rev`) hold the digits last
//! first, so "the number ends with these digits" is a prefix, an index seek. Migration 000017
//! fills the rows written before it with the same rule in SQL.

use crate::error::AppError;

/// A phone search needs at least this many digits (fewer would match a crowd).
pub const MIN_DIGITS: usize = 4;

/// The digits of `phone`, last first: the stored search column.
pub fn digits_reversed(phone: &str) -> String {
    phone.chars().rev().filter(char::is_ascii_digit).collect()
}

/// The prefix of `digits_reversed` that a search for `typed` looks for: the phones ending
/// with the digits typed, whatever the separators on either side.
pub fn search_prefix(typed: &str) -> Result<String, AppError> {
    let rev = digits_reversed(typed);
    if rev.len() < MIN_DIGITS {
        return Err(AppError::Validation(format!(
            "Phone: type at least {MIN_DIGITS} digits of the number (its last digits are enough); `{}` has {}.",
            typed.trim(),
            rev.len()
        )));
    }
    Ok(rev)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digits_of_any_format_reversed() {
        assert_eq!(digits_reversed("+1 470 657 5528"), "82557560741");
        assert_eq!(digits_reversed("+1 (470) 657-5528"), "82557560741");
        assert_eq!(digits_reversed(""), "");
        assert!("82557560741".starts_with(&search_prefix("657 5528").unwrap()));
        assert!("82557560741".starts_with(&search_prefix("4706575528").unwrap()));
        assert!(search_prefix("5 5 2").is_err());
        assert_eq!(search_prefix("5528").unwrap(), "8255");
    }
}
