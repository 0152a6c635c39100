//! Exact money handling: ClickBank decimal strings to integer minor units and back.
//!
//! No floating point is involved anywhere: amounts are validated decimal text
//! ([`Amount`]) and converted to `i64` minor units using the ISO-4217 exponent
//! of the currency ([`currency_exponent`]).

use std::fmt;

use serde::{Serialize, Serializer};

/// Why a decimal amount could not be read exactly.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// The text is not a plain decimal number such as `11.94` or `-5`.
    #[error("`{0}` is not a decimal amount")]
    Malformed(String),
    /// The amount has more (non-zero) decimals than the currency allows.
    #[error("`{amount}` has more decimals than {currency} allows ({exponent})")]
    TooPrecise {
        /// The amount as written.
        amount: String,
        /// The currency code.
        currency: String,
        /// Decimals the currency allows.
        exponent: u32,
    },
    /// The amount does not fit in 64-bit minor units.
    #[error("`{0}` is too large")]
    Overflow(String),
}

/// Number of decimals of a currency's minor unit (ISO 4217). Unknown codes use 2.
pub fn currency_exponent(currency: &str) -> u32 {
    let code = currency.trim();
    const ZERO: &[&str] = &[
        "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV",
        "XAF", "XOF", "XPF",
    ];
    const THREE: &[&str] = &["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"];
    const FOUR: &[&str] = &["CLF", "UYW"];
    if ZERO.iter().any(|c| c.eq_ignore_ascii_case(code)) {
        0
    } else if THREE.iter().any(|c| c.eq_ignore_ascii_case(code)) {
        3
    } else if FOUR.iter().any(|c| c.eq_ignore_ascii_case(code)) {
        4
    } else {
        2
    }
}

/// Split a decimal text into (negative, integer digits, fraction digits), validating it.
fn split_decimal(text: &str) -> Result<(bool, &str, &str), MoneyError> {
    let malformed = || MoneyError::Malformed(text.to_string());
    let s = text.trim();
    let (negative, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        Some(_) => (false, s),
        None => return Err(malformed()),
    };
    let (int, frac) = match rest.find('.') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, ""),
    };
    if int.is_empty() && frac.is_empty() {
        return Err(malformed());
    }
    if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed());
    }
    Ok((negative, int, frac))
}

/// Parse a decimal string such as `"11.94"` into minor units of `currency` (1194 for USD).
///
/// Trailing zero decimals beyond the currency's exponent are accepted (`"1000.00"` JPY),
/// non-zero ones are rejected rather than rounded.
pub fn parse_minor(text: &str, currency: &str) -> Result<i64, MoneyError> {
    let (negative, int, frac) = split_decimal(text)?;
    let exponent = currency_exponent(currency);
    let exp = exponent as usize;
    let (kept, dropped) = if frac.len() > exp {
        frac.split_at(exp)
    } else {
        (frac, "")
    };
    if dropped.bytes().any(|b| b != b'0') {
        return Err(MoneyError::TooPrecise {
            amount: text.trim().to_string(),
            currency: currency.trim().to_string(),
            exponent,
        });
    }
    let overflow = || MoneyError::Overflow(text.trim().to_string());
    let mut value: i64 = 0;
    let digits = int
        .bytes()
        .chain(kept.bytes())
        .chain(std::iter::repeat_n(b'0', exp - kept.len()));
    for b in digits {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(i64::from(b - b'0')))
            .ok_or_else(overflow)?;
    }
    Ok(if negative { -value } else { value })
}

/// Format minor units as a decimal string with the currency's exponent: 1194 USD -> `"11.94"`.
pub fn format_minor(minor: i64, currency: &str) -> String {
    let exp = currency_exponent(currency) as usize;
    let sign = if minor < 0 { "-" } else { "" };
    let digits = minor.unsigned_abs().to_string();
    if exp == 0 {
        return format!("{sign}{digits}");
    }
    let padded = if digits.len() <= exp {
        format!("{}{}", "0".repeat(exp + 1 - digits.len()), digits)
    } else {
        digits
    };
    let (int, frac) = padded.split_at(padded.len() - exp);
    format!("{sign}{int}.{frac}")
}

/// An amount as people read it in the portal: thousands grouped, the currency's decimals and
/// its code (`117,496.76 USD`, `1,200 JPY`). Pages only: CSV, JSON and the house API keep
/// [`format_minor`]'s plain decimal. Takes values or references (of any depth), so templates
/// call it as `crate::clickbank::money::display(o.total_minor, o.currency)`.
pub fn display(minor: impl MinorUnits, currency: impl AsRef<str>) -> String {
    let currency = currency.as_ref();
    let plain = format_minor(minor.units(), currency);
    let (sign, rest) = match plain.strip_prefix('-') {
        Some(r) => ("-", r),
        None => ("", plain.as_str()),
    };
    let (int, frac) = match rest.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (rest, None),
    };
    let mut grouped = String::with_capacity(int.len() + int.len() / 3);
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    match frac {
        Some(f) => format!("{sign}{grouped}.{f} {}", currency.trim()),
        None => format!("{sign}{grouped} {}", currency.trim()),
    }
}

/// An amount in minor units, or a reference to one (what template bindings hand over).
pub trait MinorUnits {
    fn units(&self) -> i64;
}

impl MinorUnits for i64 {
    fn units(&self) -> i64 {
        *self
    }
}

impl<T: MinorUnits + ?Sized> MinorUnits for &T {
    fn units(&self) -> i64 {
        (**self).units()
    }
}

/// An exact decimal amount as ClickBank wrote it (`"11.94"`, `"-5.00"`, `1.00`).
///
/// The text is validated on construction; convert with [`Amount::to_minor`] once the
/// currency is known.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Amount(String);

impl Amount {
    /// Validate decimal text.
    pub fn parse(text: &str) -> Result<Self, MoneyError> {
        split_decimal(text)?;
        Ok(Amount(text.trim().to_string()))
    }

    /// Build an amount from minor units of a currency.
    pub fn from_minor(minor: i64, currency: &str) -> Self {
        Amount(format_minor(minor, currency))
    }

    /// The decimal text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Minor units in `currency`.
    pub fn to_minor(&self, currency: &str) -> Result<i64, MoneyError> {
        parse_minor(&self.0, currency)
    }

    /// True when the amount is below zero (refunds and chargebacks).
    pub fn is_negative(&self) -> bool {
        self.0.starts_with('-') && self.0.bytes().any(|b| (b'1'..=b'9').contains(&b))
    }
}

impl fmt::Debug for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Amount({})", self.0)
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for Amount {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Amount::parse(s)
    }
}

impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_two_decimal_currencies_exactly() {
        assert_eq!(parse_minor("11.94", "USD"), Ok(1194));
        assert_eq!(parse_minor("0.0", "USD"), Ok(0));
        assert_eq!(parse_minor("9.06", "EUR"), Ok(906));
        assert_eq!(parse_minor("10", "GBP"), Ok(1000));
        assert_eq!(parse_minor("10.5", "CAD"), Ok(1050));
        assert_eq!(parse_minor("-45.03", "USD"), Ok(-4503));
        assert_eq!(parse_minor("+1.00", "AUD"), Ok(100));
        assert_eq!(parse_minor(".5", "USD"), Ok(50));
        assert_eq!(parse_minor("5.", "USD"), Ok(500));
        assert_eq!(parse_minor(" 0.10 ", "USD"), Ok(10));
        // The classic float trap: 0.1 + 0.2 and 1.005 are exact here.
        assert_eq!(parse_minor("1.005", "BHD"), Ok(1005));
        assert_eq!(parse_minor("19.99", "USD"), Ok(1999));
    }

    #[test]
    fn uses_iso_exponents() {
        assert_eq!(parse_minor("4980", "JPY"), Ok(4980));
        assert_eq!(parse_minor("4980.00", "JPY"), Ok(4980));
        assert_eq!(parse_minor("1500", "krw"), Ok(1500));
        assert_eq!(parse_minor("1.234", "KWD"), Ok(1234));
        assert_eq!(parse_minor("1.2", "TND"), Ok(1200));
        assert_eq!(currency_exponent("OMR"), 3);
        assert_eq!(currency_exponent("JOD"), 3);
        assert_eq!(currency_exponent("USD"), 2);
        assert_eq!(currency_exponent("XYZ"), 2);
    }

    #[test]
    fn rejects_malformed_and_too_precise() {
        for bad in ["", "-", ".", "1.2.3", "1,00", "abc", "1e3", "--1", "1 000", "NaN"] {
            assert!(
                matches!(parse_minor(bad, "USD"), Err(MoneyError::Malformed(_))),
                "{bad:?} should be malformed"
            );
        }
        assert!(matches!(
            parse_minor("4980.5", "JPY"),
            Err(MoneyError::TooPrecise { .. })
        ));
        assert!(matches!(
            parse_minor("1.999", "USD"),
            Err(MoneyError::TooPrecise { .. })
        ));
        assert!(matches!(
            parse_minor("99999999999999999999", "USD"),
            Err(MoneyError::Overflow(_))
        ));
    }

    #[test]
    fn formats_back() {
        assert_eq!(format_minor(1194, "USD"), "11.94");
        assert_eq!(format_minor(5, "USD"), "0.05");
        assert_eq!(format_minor(0, "USD"), "0.00");
        assert_eq!(format_minor(-4503, "USD"), "-45.03");
        assert_eq!(format_minor(-5, "EUR"), "-0.05");
        assert_eq!(format_minor(4980, "JPY"), "4980");
        assert_eq!(format_minor(1234, "KWD"), "1.234");
        assert_eq!(format_minor(7, "BHD"), "0.007");
        for (m, c) in [(1, "USD"), (123456789, "GBP"), (-1, "OMR"), (42, "KRW")] {
            assert_eq!(parse_minor(&format_minor(m, c), c), Ok(m));
        }
    }

    #[test]
    fn amount_keeps_text_and_sign() {
        let a = Amount::parse("-11.94").unwrap();
        assert!(a.is_negative());
        assert_eq!(a.to_minor("USD"), Ok(-1194));
        assert_eq!(a.as_str(), "-11.94");
        assert!(!Amount::parse("-0.00").unwrap().is_negative());
        assert_eq!(Amount::from_minor(906, "USD").as_str(), "9.06");
        assert!(Amount::parse("x").is_err());
    }

    #[test]
    fn display_groups_thousands_and_keeps_the_raw_format_apart() {
        assert_eq!(display(11749676, "USD"), "117,496.76 USD");
        assert_eq!(display(&-123456789, "USD".to_string()), "-1,234,567.89 USD");
        assert_eq!(display(5, "USD"), "0.05 USD");
        assert_eq!(display(120000, "JPY"), "120,000 JPY");
        assert_eq!(display(1234567, "KWD"), "1,234.567 KWD");
        assert_eq!(display(99900, "EUR"), "999.00 EUR");
        assert_eq!(
            format_minor(11749676, "USD"),
            "117496.76",
            "the raw decimal is unchanged"
        );
    }
}
