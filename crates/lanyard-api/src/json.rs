//! Request bodies read strictly: [`check_unique_keys`] refuses a JSON object with the same key twice, at any depth;
//! the server runs it on every body it has read into its type. serde's derived structs refuse a repeated field already, but a map (a connection's
//! `options`, a storage's settings) keeps the last value silently, so `{"options": {"host": "a", "host": "b"}}`
//! would store `b` while a reviewer of the request reads `a`.

use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};

/// Checks that no object in the JSON document `bytes` repeats a key (keys compare after unescaping, so `"a"` and
/// `"\u0061"` are the same key); any other JSON error is reported as well. The error says which key and where (line
/// and column); it never echoes a value.
pub fn check_unique_keys(bytes: &[u8]) -> Result<(), serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    Unique.deserialize(&mut deserializer)?;
    deserializer.end()
}

/// Walks one JSON value, keeping nothing but the keys of the object being read.
struct Unique;

impl<'de> DeserializeSeed<'de> for Unique {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Unique {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Unique)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if seen.contains(&key) {
                let key = lanyard_core::printable(&key, 60);
                return Err(de::Error::custom(format_args!("duplicate key `{key}` in a JSON object")));
            }
            seen.insert(key);
            map.next_value_seed(Unique)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> Result<(), String> {
        check_unique_keys(text.as_bytes()).map_err(|e| e.to_string())
    }

    #[test]
    fn a_repeated_key_is_refused_at_any_depth_with_its_place() {
        assert_eq!(check(r#"{"a": 1, "b": {"c": [1, {"d": null}]}}"#), Ok(()));
        assert_eq!(check(r#"{"a": 1, "a": 2}"#).unwrap_err(), "duplicate key `a` in a JSON object at line 1 column 12");
        let nested = check("{\"options\": {\"host\": \"a\",\n \"host\": \"b\"}}").unwrap_err();
        assert_eq!(nested, "duplicate key `host` in a JSON object at line 2 column 7");
        assert!(check(r#"[{"x": 1}, {"x": 1, "x": 1}]"#).unwrap_err().starts_with("duplicate key `x`"));
        assert!(check(r#"{"a": 1, "\u0061": 2}"#).unwrap_err().starts_with("duplicate key `a`"));
    }

    #[test]
    fn other_json_errors_are_reported_too() {
        assert!(check("{").is_err());
        assert!(check("{} {}").unwrap_err().contains("trailing characters"));
        assert_eq!(check("1"), Ok(()));
    }

    #[test]
    fn the_error_never_echoes_a_value() {
        let error = check(r#"{"secret": "hunter2", "secret": "hunter3"}"#).unwrap_err();
        assert!(!error.contains("hunter"), "{error}");
    }
}
