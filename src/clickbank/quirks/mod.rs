//! Serde helpers for ClickBank's JSON quirks.
//!
//! The REST API writes every scalar as a string (`"11.94"`, `"true"`), null as the
//! object `{"@nil":"true"}` (for any field, enums included) and a one-element array as
//! the bare element. INS uses real JSON types. Every helper here accepts all of these
//! shapes, so one set of types reads both.
//!
//! Use them with `#[serde(default, deserialize_with = "...")]`. Here: scalars (strings,
//! booleans, numbers, amounts, times, enums) and `string_enum!`; `objects`: arrays, objects
//! and name/value maps.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::money::Amount;
use super::time::parse_time;

mod objects;
pub use objects::{lenient_string, one_or_many, opt_object, string_map};

/// A scalar as it arrived, before conversion.
enum Scalar {
    Str(String),
    Bool(bool),
    Int(i128),
    Float(f64),
    Nil,
}

/// Drain a map whose first key was already read; true when that key was `@nil`.
fn drain_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string, number, boolean, null or {\"@nil\":\"true\"}")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
        Ok(Scalar::Str(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Scalar, E> {
        Ok(Scalar::Str(v))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
        Ok(Scalar::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
        Ok(Scalar::Int(i128::from(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
        Ok(Scalar::Int(i128::from(v)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
        Ok(Scalar::Float(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Scalar, E> {
        Ok(Scalar::Nil)
    }
    fn visit_none<E: de::Error>(self) -> Result<Scalar, E> {
        Ok(Scalar::Nil)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Scalar, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar, A::Error> {
        match map.next_key::<String>()? {
            Some(k) if k == "@nil" => {
                map.next_value::<IgnoredAny>()?;
                drain_map(map)?;
                Ok(Scalar::Nil)
            }
            // An empty object carries no value either.
            None => Ok(Scalar::Nil),
            Some(k) => Err(de::Error::custom(format!(
                "expected a scalar value, found an object with key `{k}`"
            ))),
        }
    }
}

fn scalar<'de, D: Deserializer<'de>>(d: D) -> Result<Scalar, D::Error> {
    d.deserialize_any(ScalarVisitor)
}

fn scalar_to_string(s: Scalar) -> Option<String> {
    match s {
        Scalar::Str(s) if s.trim().is_empty() => None,
        Scalar::Str(s) => Some(s),
        Scalar::Bool(b) => Some(b.to_string()),
        Scalar::Int(i) => Some(i.to_string()),
        Scalar::Float(f) => Some(f.to_string()),
        Scalar::Nil => None,
    }
}

/// `Option<String>` from a string, number, boolean, null or `@nil`; empty strings are `None`.
pub fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(scalar_to_string(scalar(d)?))
}

/// A required string (numbers are accepted and written in decimal).
pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    opt_string(d)?.ok_or_else(|| de::Error::custom("missing required text value"))
}

/// A string that may be missing, null or `@nil` (read as "").
pub fn string_or_empty<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(opt_string(d)?.unwrap_or_default())
}

/// `Option<bool>` from `true`, `"true"`, `"1"`, `1`, `"yes"` (and their negatives), null or `@nil`.
pub fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    match scalar(d)? {
        Scalar::Bool(b) => Ok(Some(b)),
        Scalar::Int(0) => Ok(Some(false)),
        Scalar::Int(1) => Ok(Some(true)),
        Scalar::Str(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "y" => Ok(Some(true)),
            "false" | "0" | "no" | "n" => Ok(Some(false)),
            "" => Ok(None),
            other => Err(de::Error::custom(format!("`{other}` is not a boolean"))),
        },
        Scalar::Nil => Ok(None),
        Scalar::Int(i) => Err(de::Error::custom(format!("{i} is not a boolean"))),
        Scalar::Float(f) => Err(de::Error::custom(format!("{f} is not a boolean"))),
    }
}

fn scalar_to_int<E: de::Error>(s: Scalar) -> Result<Option<i128>, E> {
    match s {
        Scalar::Int(i) => Ok(Some(i)),
        Scalar::Float(f) if f.fract() == 0.0 && f.abs() < 1e18 => Ok(Some(f as i128)),
        Scalar::Str(s) => {
            let t = s.trim();
            if t.is_empty() {
                return Ok(None);
            }
            // "1.0" and "1.00" are whole numbers too.
            let whole = match t.split_once('.') {
                Some((w, frac)) if frac.bytes().all(|b| b == b'0') => w,
                _ => t,
            };
            whole
                .parse::<i128>()
                .map(Some)
                .map_err(|_| E::custom(format!("`{t}` is not a whole number")))
        }
        Scalar::Nil => Ok(None),
        Scalar::Bool(b) => Err(E::custom(format!("{b} is not a number"))),
        Scalar::Float(f) => Err(E::custom(format!("{f} is not a whole number"))),
    }
}

/// `Option<u32>` from a number or a numeric string.
pub fn opt_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    match scalar_to_int::<D::Error>(scalar(d)?)? {
        Some(i) => u32::try_from(i)
            .map(Some)
            .map_err(|_| de::Error::custom(format!("{i} is out of range"))),
        None => Ok(None),
    }
}

/// `Option<i64>` from a number or a numeric string.
pub fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    match scalar_to_int::<D::Error>(scalar(d)?)? {
        Some(i) => i64::try_from(i)
            .map(Some)
            .map_err(|_| de::Error::custom(format!("{i} is out of range"))),
        None => Ok(None),
    }
}

/// Parse the raw JSON text of an amount field.
fn amount_from_raw(text: &str) -> Result<Option<Amount>, String> {
    let t = text.trim();
    match t.as_bytes().first() {
        Some(b'"') => {
            let s: String = serde_json::from_str(t).map_err(|e| e.to_string())?;
            if s.trim().is_empty() {
                Ok(None)
            } else {
                Amount::parse(&s).map(Some).map_err(|e| e.to_string())
            }
        }
        Some(b'{') => {
            let v: serde_json::Value = serde_json::from_str(t).map_err(|e| e.to_string())?;
            match v.as_object() {
                Some(o) if o.is_empty() || o.contains_key("@nil") => Ok(None),
                _ => Err(format!("expected an amount, found {t}")),
            }
        }
        Some(b'n') if t == "null" => Ok(None),
        Some(b'-' | b'0'..=b'9') => Amount::parse(t).map(Some).map_err(|e| e.to_string()),
        _ => Err(format!("expected an amount, found {t}")),
    }
}

/// `Option<Amount>` from `"11.94"`, `11.94` (exact: the number's text is kept, never an
/// `f64`), null or `@nil`.
pub fn opt_amount<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Amount>, D::Error> {
    let raw: Option<Box<RawValue>> = Option::deserialize(d)?;
    match raw {
        None => Ok(None),
        Some(raw) => amount_from_raw(raw.get()).map_err(de::Error::custom),
    }
}

/// A required [`Amount`] in any of the shapes [`opt_amount`] reads (it lives here, not in
/// `money`, so that `money` stays a leaf that knows nothing of ClickBank's JSON).
impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match opt_amount(d)? {
            Some(a) => Ok(a),
            None => Err(de::Error::custom("missing amount")),
        }
    }
}

/// `Option<String>` that keeps a number's exact JSON text (`6.0` stays `"6.0"`), for
/// fields such as the INS `version`.
pub fn opt_number_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let raw: Option<Box<RawValue>> = Option::deserialize(d)?;
    let Some(raw) = raw else { return Ok(None) };
    let t = raw.get().trim();
    match t.as_bytes().first() {
        Some(b'"') => {
            let s: String = serde_json::from_str(t).map_err(de::Error::custom)?;
            Ok(Some(s).filter(|s| !s.trim().is_empty()))
        }
        Some(b'{') => {
            let v: serde_json::Value = serde_json::from_str(t).map_err(de::Error::custom)?;
            match v.as_object() {
                Some(o) if o.is_empty() || o.contains_key("@nil") => Ok(None),
                _ => Err(de::Error::custom(format!("expected a number, found {t}"))),
            }
        }
        Some(b'[') => Err(de::Error::custom(format!("expected a number, found {t}"))),
        _ if t == "null" => Ok(None),
        _ => Ok(Some(t.to_string())),
    }
}

/// Like [`opt_amount`], but a value that is not an amount (a boolean flag some
/// senders use) reads as `None` instead of failing the whole record.
pub fn lenient_amount<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Amount>, D::Error> {
    let raw: Option<Box<RawValue>> = Option::deserialize(d)?;
    Ok(raw.and_then(|raw| amount_from_raw(raw.get()).ok().flatten()))
}

/// `Option<DateTime<Utc>>` from any ClickBank time format (see [`parse_time`]).
pub fn opt_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    match opt_string(d)? {
        Some(s) => parse_time(&s).map(Some).map_err(de::Error::custom),
        None => Ok(None),
    }
}

/// A required time in any ClickBank format.
pub fn time<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    opt_time(d)?.ok_or_else(|| de::Error::custom("missing required time"))
}

/// `Option<E>` for string enums: unknown values become `E::Other(..)` via `From<String>`.
pub fn opt_enum<'de, D, E>(d: D) -> Result<Option<E>, D::Error>
where
    D: Deserializer<'de>,
    E: From<String>,
{
    Ok(opt_string(d)?.map(E::from))
}

/// Declare a string enum whose unknown values are kept as `Other(String)`.
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal $(| $alias:literal)* ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )*
            /// A value this version does not know, kept verbatim.
            Other(String),
        }

        impl $name {
            /// ClickBank's spelling.
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $text, )*
                    $name::Other(s) => s.as_str(),
                }
            }

            /// Read ClickBank's spelling (case-insensitive); unknown values become `Other`.
            pub fn parse(s: &str) -> Self {
                let t = s.trim();
                $(
                    if t.eq_ignore_ascii_case($text) $(|| t.eq_ignore_ascii_case($alias))* {
                        return $name::$variant;
                    }
                )*
                $name::Other(t.to_string())
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                $name::parse(&s)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                $name::parse(s)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $crate::clickbank::quirks::string(d).map($name::from)
            }
        }
    };
}
pub(crate) use string_enum;

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use serde::Deserialize;

    string_enum! {
        /// Test enum.
        pub enum Colour { Red = "RED", Grey = "GREY" | "GRAY" }
    }

    #[derive(Debug, Deserialize, Default)]
    struct Probe {
        #[serde(default, deserialize_with = "opt_string")]
        s: Option<String>,
        #[serde(default, deserialize_with = "opt_bool")]
        b: Option<bool>,
        #[serde(default, deserialize_with = "opt_u32")]
        n: Option<u32>,
        #[serde(default, deserialize_with = "opt_amount")]
        a: Option<Amount>,
        #[serde(default, deserialize_with = "opt_time")]
        t: Option<DateTime<Utc>>,
        #[serde(default, deserialize_with = "opt_enum")]
        e: Option<Colour>,
        #[serde(default, deserialize_with = "one_or_many")]
        list: Vec<Item>,
        #[serde(default, deserialize_with = "one_or_many")]
        words: Vec<String>,
        #[serde(default, deserialize_with = "opt_object")]
        obj: Option<Item>,
        #[serde(default, deserialize_with = "string_map")]
        vars: BTreeMap<String, String>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Item {
        #[serde(deserialize_with = "string")]
        name: String,
        #[serde(default, deserialize_with = "opt_amount")]
        price: Option<Amount>,
    }

    fn probe(json: &str) -> Probe {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn strings_for_everything() {
        let p =
            probe(r#"{"s":"x","b":"true","n":"3","a":"11.94","t":"2019-02-18T15:11:38-08:00","e":"RED"}"#);
        assert_eq!(p.s.as_deref(), Some("x"));
        assert_eq!(p.b, Some(true));
        assert_eq!(p.n, Some(3));
        assert_eq!(p.a.unwrap().to_minor("USD"), Ok(1194));
        assert_eq!(p.t.unwrap().to_rfc3339(), "2019-02-18T23:11:38+00:00");
        assert_eq!(p.e, Some(Colour::Red));
    }

    #[test]
    fn real_json_types_too() {
        let p = probe(r#"{"s":12,"b":false,"n":7,"a":1.00,"e":"gray"}"#);
        assert_eq!(p.s.as_deref(), Some("12"));
        assert_eq!(p.b, Some(false));
        assert_eq!(p.n, Some(7));
        // The exact text of the number is kept: no float round trip.
        assert_eq!(p.a.unwrap().as_str(), "1.00");
        assert_eq!(p.e, Some(Colour::Grey));
        let p = probe(r#"{"a":0.1,"n":"1.0"}"#);
        assert_eq!(p.a.unwrap().to_minor("USD"), Ok(10));
        assert_eq!(p.n, Some(1));
    }

    #[test]
    fn nil_objects_are_none_for_any_field() {
        let nil = r#"{"@nil":"true"}"#;
        let json = format!(
            r#"{{"s":{nil},"b":{nil},"n":{nil},"a":{nil},"t":{nil},"e":{nil},"list":{nil},"words":{nil},"obj":{nil},"vars":{nil}}}"#
        );
        let p = probe(&json);
        assert!(p.s.is_none() && p.b.is_none() && p.n.is_none() && p.a.is_none());
        assert!(p.t.is_none() && p.e.is_none() && p.obj.is_none());
        assert!(p.list.is_empty() && p.words.is_empty() && p.vars.is_empty());
        let p = probe(r#"{"s":"","a":null,"list":null}"#);
        assert!(p.s.is_none() && p.a.is_none() && p.list.is_empty());
    }

    #[test]
    fn single_object_or_array() {
        let p = probe(r#"{"list":{"name":"one","price":"1.50"},"words":"solo"}"#);
        assert_eq!(p.list.len(), 1);
        assert_eq!(p.list[0].name, "one");
        assert_eq!(p.words, vec!["solo".to_string()]);
        let p = probe(r#"{"list":[{"name":"a"},{"name":"b","price":{"@nil":"true"}}],"words":["x","y"]}"#);
        assert_eq!(p.list.len(), 2);
        assert!(p.list[1].price.is_none());
        assert_eq!(p.words.len(), 2);
        let p = probe(r#"{"obj":{"name":"o","price":2}}"#);
        assert_eq!(p.obj.unwrap().price.unwrap().as_str(), "2");
    }

    #[test]
    fn unknown_enum_values_are_kept() {
        let p = probe(r#"{"e":"PURPLE"}"#);
        assert_eq!(p.e, Some(Colour::Other("PURPLE".into())));
        assert_eq!(Colour::Other("PURPLE".into()).as_str(), "PURPLE");
    }

    #[test]
    fn string_maps_from_both_shapes() {
        let p = probe(r#"{"vars":{"item":{"name":"cbitems","value":"3"}}}"#);
        assert_eq!(p.vars.get("cbitems").map(String::as_str), Some("3"));
        let p = probe(r#"{"vars":{"item":[{"name":"a","value":"1"},{"name":"b","value":2}]}}"#);
        assert_eq!(p.vars.len(), 2);
        assert_eq!(p.vars["b"], "2");
        let p = probe(r#"{"vars":{"v1":"x","v2":5,"v3":null}}"#);
        assert_eq!(p.vars.len(), 2);
        assert_eq!(p.vars["v2"], "5");
    }

    #[test]
    fn malformed_values_fail() {
        assert!(serde_json::from_str::<Probe>(r#"{"b":"maybe"}"#).is_err());
        assert!(serde_json::from_str::<Probe>(r#"{"n":"three"}"#).is_err());
        assert!(serde_json::from_str::<Probe>(r#"{"a":"12,5"}"#).is_err());
        assert!(serde_json::from_str::<Probe>(r#"{"a":true}"#).is_err());
        assert!(serde_json::from_str::<Probe>(r#"{"t":"soon"}"#).is_err());
        assert!(serde_json::from_str::<Probe>(r#"{"s":{"x":"1"}}"#).is_err());
        assert!(serde_json::from_str::<Probe>(r#"{"n":"-1"}"#).is_err());
    }
}
