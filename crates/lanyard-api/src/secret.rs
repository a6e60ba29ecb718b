//! Secret material in request bodies.

use std::fmt;

use lanyard_core::SecretString;
use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A secret in a request body: held as a `SecretString` from the moment it is read; its value leaves it only while
/// a request body is serialised, and its `Debug` prints `***`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String))]
pub struct Secret(pub SecretString);

impl<'de> Deserialize<'de> for Secret {
    /// A JSON string; anything else is refused with a message that never quotes what was sent (serde's own would
    /// echo a number or a nested string, which may be the secret in the wrong shape).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(deserializer) {
            Ok(serde_json::Value::String(text)) => Ok(Self(SecretString::new(text))),
            Ok(mut other) => {
                zeroize_value(&mut other);
                Err(de::Error::custom("a secret must be a JSON string"))
            }
            Err(_) => Err(de::Error::custom("a secret must be a JSON string")),
        }
    }
}

/// Overwrites the strings of a JSON value that was refused as a secret before it is freed.
fn zeroize_value(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(text) => zeroize::Zeroize::zeroize(text),
        serde_json::Value::Array(items) => items.iter_mut().for_each(zeroize_value),
        serde_json::Value::Object(map) => map.values_mut().for_each(zeroize_value),
        _ => {}
    }
}

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(SecretString::new(value.into()))
    }
}

impl From<SecretString> for Secret {
    fn from(value: SecretString) -> Self {
        Self(value)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0.expose_secret())
    }
}

/// Options whose values may be secret (a credential storage's), in written order: a JSON object of strings. Its
/// `Debug` shows the keys only.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretOptions(pub Vec<(String, Secret)>);

impl fmt::Debug for SecretOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.iter().map(|(k, _)| k)).finish()
    }
}

impl Serialize for SecretOptions {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in &self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for SecretOptions {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Pairs;

        impl<'de> Visitor<'de> for Pairs {
            type Value = SecretOptions;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of string options")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SecretOptions, A::Error> {
                let mut pairs = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    // Read as any JSON value so a non-string is refused naming its key, never echoing the value.
                    match map.next_value::<serde_json::Value>()? {
                        serde_json::Value::String(value) => pairs.push((key, Secret(SecretString::new(value)))),
                        _ => {
                            return Err(de::Error::custom(format_args!(
                                "option {:?} must be a string",
                                lanyard_core::printable(&key, 64)
                            )));
                        }
                    }
                }
                Ok(SecretOptions(pairs))
            }
        }

        deserializer.deserialize_map(Pairs)
    }
}

/// A JSON object that is secret as a whole (a link's CREDENTIALS): on the wire a plain JSON object, in memory its
/// text held as a `SecretString`, never as a value tree. Its `Debug` prints `***`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = Object))]
pub struct SecretJson(pub SecretString);

impl SecretJson {
    /// Wraps the text of a JSON object (not checked here: the Control Plane parses it).
    pub fn new(text: impl Into<String>) -> Self {
        Self(SecretString::new(text.into()))
    }
}

impl Serialize for SecretJson {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let raw = serde_json::value::RawValue::from_string(self.0.expose_secret().to_owned())
            .map_err(|_| serde::ser::Error::custom("the secret JSON object is not valid JSON"))?;
        raw.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for SecretJson {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<serde_json::value::RawValue>::deserialize(deserializer)?;
        if !raw.get().trim_start().starts_with('{') {
            return Err(de::Error::custom("must be a JSON object"));
        }
        let text = SecretString::new(raw.get().to_owned());
        let mut raw: Box<str> = raw.into();
        zeroize::Zeroize::zeroize(&mut *raw);
        Ok(Self(text))
    }
}
