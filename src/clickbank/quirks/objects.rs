//! Serde helpers for ClickBank's objects and arrays: a one-element array that arrives as the
//! bare element ([`one_or_many`]), an object that may be `{"@nil":"true"}` ([`opt_object`]),
//! and `{name, value}` lists read as a map ([`string_map`]). The scalar helpers are in the
//! parent module.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{
    self, value::MapAccessDeserializer, DeserializeSeed, Deserializer, IgnoredAny, IntoDeserializer,
    MapAccess, SeqAccess, Visitor,
};
use serde::Deserialize;

use super::drain_map;

/// Replays a key that was read to peek at it, then continues with the real map.
struct Replay<A> {
    first: Option<String>,
    inner: A,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Replay<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, A::Error> {
        match self.first.take() {
            Some(k) => seed.deserialize(k.into_deserializer()).map(Some),
            None => self.inner.next_key_seed(seed),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.inner.next_value_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner
            .size_hint()
            .map(|n| n + usize::from(self.first.is_some()))
    }
}

/// Read one object from a map, unless it is `{"@nil":"true"}`.
fn object_from_map<'de, T, A>(mut map: A) -> Result<Option<T>, A::Error>
where
    T: Deserialize<'de>,
    A: MapAccess<'de>,
{
    let first = map.next_key::<String>()?;
    if first.as_deref() == Some("@nil") {
        map.next_value::<IgnoredAny>()?;
        drain_map(map)?;
        return Ok(None);
    }
    T::deserialize(MapAccessDeserializer::new(Replay { first, inner: map })).map(Some)
}

struct OneOrManyVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for OneOrManyVisitor<T> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array, a single element, null or {\"@nil\":\"true\"}")
    }
    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Vec<T>, S::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(item) = seq.next_element::<T>()? {
            out.push(item);
        }
        Ok(out)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Vec<T>, A::Error> {
        Ok(object_from_map(map)?.into_iter().collect())
    }
    fn visit_unit<E: de::Error>(self) -> Result<Vec<T>, E> {
        Ok(Vec::new())
    }
    fn visit_none<E: de::Error>(self) -> Result<Vec<T>, E> {
        Ok(Vec::new())
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Vec<T>, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<T>, E> {
        if v.is_empty() {
            return Ok(Vec::new());
        }
        T::deserialize(v.into_deserializer()).map(|t| vec![t])
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Vec<T>, E> {
        if v.is_empty() {
            return Ok(Vec::new());
        }
        T::deserialize(v.into_deserializer()).map(|t| vec![t])
    }
}

/// A `Vec<T>` from an array, a single bare element, null or `@nil`.
pub fn one_or_many<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    d.deserialize_any(OneOrManyVisitor(PhantomData))
}

struct OptObjectVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for OptObjectVisitor<T> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object, null or {\"@nil\":\"true\"}")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Option<T>, A::Error> {
        object_from_map(map)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Option<T>, E> {
        Ok(None)
    }
    fn visit_none<E: de::Error>(self) -> Result<Option<T>, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<T>, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<T>, E> {
        if v.trim().is_empty() {
            Ok(None)
        } else {
            Err(E::custom(format!("expected an object, found the text `{v}`")))
        }
    }
}

/// `Option<T>` for an object field that may be null or `{"@nil":"true"}`.
pub fn opt_object<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    d.deserialize_any(OptObjectVisitor(PhantomData))
}

fn value_to_text(v: serde_json::Value) -> Option<String> {
    use serde_json::Value;
    match v {
        Value::Null => None,
        Value::String(s) => Some(s),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Object(o) if o.contains_key("@nil") => None,
        other => Some(other.to_string()),
    }
}

/// `Option<String>` that reads any non-text value (object, array) as `None` instead of
/// failing, for free-form fields whose shape varies.
pub fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v: Option<serde_json::Value> = Option::deserialize(d)?;
    Ok(match v {
        Some(serde_json::Value::Object(_)) | Some(serde_json::Value::Array(_)) => None,
        Some(v) => value_to_text(v).filter(|s| !s.trim().is_empty()),
        None => None,
    })
}

/// Add `{name, value}` pairs (one or many) to `out`.
fn add_name_values(v: serde_json::Value, out: &mut BTreeMap<String, String>) {
    use serde_json::Value;
    match v {
        Value::Array(items) => {
            for item in items {
                add_name_values(item, out);
            }
        }
        Value::Object(mut o) => {
            let name = o.remove("name").and_then(value_to_text);
            let value = o.remove("value").and_then(value_to_text);
            if let Some(name) = name {
                out.insert(name, value.unwrap_or_default());
            }
        }
        _ => {}
    }
}

/// A free string map, as INS `vendorVariables` / `affiliateTrackingParameters`.
///
/// Also reads the REST shape `{"item":[{"name":..,"value":..}]}` (one or many) into
/// the same map, so both sources give the same result. Non-string values are written
/// as text; null and `@nil` values are dropped.
pub fn string_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    let v: Option<serde_json::Value> = Option::deserialize(d)?;
    let mut out = BTreeMap::new();
    match v {
        Some(serde_json::Value::Object(o)) => {
            if o.contains_key("@nil") {
                return Ok(out);
            }
            for (k, v) in o {
                if k == "item" && (v.is_array() || v.get("name").is_some()) {
                    add_name_values(v, &mut out);
                } else if let Some(text) = value_to_text(v) {
                    out.insert(k, text);
                }
            }
        }
        Some(v @ serde_json::Value::Array(_)) => add_name_values(v, &mut out),
        Some(serde_json::Value::Null) | None => {}
        Some(other) => {
            return Err(de::Error::custom(format!("expected an object, found {other}")));
        }
    }
    Ok(out)
}
