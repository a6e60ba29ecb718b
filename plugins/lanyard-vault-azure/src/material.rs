//! How material is kept in Key Vault, whose secret values are strings of at most 25 KiB:
//!
//! - UTF-8 material that fits is stored as it is, without a content type (what `az keyvault secret set` writes);
//! - other bytes that fit are stored base64-encoded with the content type [`BASE64`];
//! - material whose stored form would not fit is split into parts of [`PART_BYTES`] raw bytes, each stored
//!   base64-encoded under `<name>--part-<n>`; the secret itself then holds a manifest with the content type
//!   [`PARTS`] naming each part **and its version**, so a read that follows the manifest gets exactly the parts
//!   written with it, even while another write is under way.
//!
//! Reads honour the content type, also for linked secrets: [`BASE64`] is decoded, [`PARTS`] followed, anything
//! else returned as the string's bytes.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use lanyard_core::SecretBytes;
use serde_json::{Value, json};

/// Content type of base64-encoded binary material.
pub(crate) const BASE64: &str = "application/octet-stream;base64";

/// Content type of a manifest of parts.
pub(crate) const PARTS: &str = "application/vnd.lanyard.parts+json";

/// Key Vault's limit of a secret value, in bytes.
pub(crate) const MAX_VALUE_BYTES: usize = 25 * 1024;

/// Raw bytes per part: base64 makes 24 KiB of them, under the limit.
pub(crate) const PART_BYTES: usize = 18 * 1024;

/// What to write for some material.
pub(crate) enum Stored {
    /// One secret value with its content type.
    Single { value: String, content_type: Option<&'static str> },
    /// Parts (raw bytes each) to write first, then a manifest of them.
    Parts(Vec<Vec<u8>>),
}

/// How `bytes` is stored.
pub(crate) fn encode(bytes: &[u8]) -> Stored {
    match std::str::from_utf8(bytes) {
        Ok(text) if text.len() <= MAX_VALUE_BYTES => Stored::Single { value: text.to_owned(), content_type: None },
        _ if bytes.len().div_ceil(3) * 4 <= MAX_VALUE_BYTES => {
            Stored::Single { value: STANDARD.encode(bytes), content_type: Some(BASE64) }
        }
        _ => Stored::Parts(bytes.chunks(PART_BYTES).map(<[u8]>::to_vec).collect()),
    }
}

/// The base64 value of one part.
pub(crate) fn encode_part(part: &[u8]) -> String {
    STANDARD.encode(part)
}

/// The manifest of parts written under `(name, version)`, with the total length.
pub(crate) fn manifest(parts: &[(String, String)], len: usize) -> String {
    let parts: Vec<Value> = parts.iter().map(|(name, version)| json!({ "name": name, "version": version })).collect();
    json!({ "parts": parts, "len": len }).to_string()
}

/// The parts a manifest names, `(name, version)`, and the total length; `None` if it is not a manifest.
pub(crate) fn parse_manifest(value: &str) -> Option<(Vec<(String, String)>, usize)> {
    let document: Value = serde_json::from_str(value).ok()?;
    let parts = document.get("parts")?.as_array()?;
    let parts = parts
        .iter()
        .map(|p| Some((p.get("name")?.as_str()?.to_owned(), p.get("version")?.as_str()?.to_owned())))
        .collect::<Option<Vec<_>>>()?;
    let len = usize::try_from(document.get("len")?.as_u64()?).ok()?;
    Some((parts, len))
}

/// The material of a single stored value (not a manifest); `Err` says what is wrong without quoting it.
pub(crate) fn decode(value: String, content_type: Option<&str>) -> Result<SecretBytes, &'static str> {
    if content_type.is_some_and(|c| c.eq_ignore_ascii_case(BASE64)) {
        let bytes = STANDARD.decode(value.trim()).map_err(|_| "its content type says base64, but it is not base64");
        drop(SecretBytes::new(value.into_bytes()));
        return bytes.map(SecretBytes::new);
    }
    Ok(SecretBytes::new(value.into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_stored_as_is_and_binary_as_base64() {
        let Stored::Single { value, content_type } = encode(b"pa\"ss") else { panic!("one value") };
        assert_eq!((value.as_str(), content_type), ("pa\"ss", None));
        let binary = [0u8, 159, 146, 150, 255];
        let Stored::Single { value, content_type } = encode(&binary) else { panic!("one value") };
        assert_eq!(content_type, Some(BASE64));
        assert_eq!(decode(value, content_type).unwrap().expose_secret(), binary);
        assert_eq!(decode("plain".into(), None).unwrap().expose_secret(), b"plain");
        assert!(decode("not base64!".into(), Some(BASE64)).is_err());
    }

    #[test]
    fn large_values_are_split_into_parts_that_fit() {
        let large: Vec<u8> = (0..60 * 1024).map(|i: u32| (i % 251) as u8).collect();
        let Stored::Parts(parts) = encode(&large) else { panic!("parts") };
        assert_eq!(parts.len(), 4);
        assert!(parts.iter().all(|p| encode_part(p).len() <= MAX_VALUE_BYTES));
        assert_eq!(parts.concat(), large);
        let text = "x".repeat(MAX_VALUE_BYTES + 1);
        assert!(matches!(encode(text.as_bytes()), Stored::Parts(_)));
        assert!(matches!(encode("x".repeat(MAX_VALUE_BYTES).as_bytes()), Stored::Single { .. }));
        let names = vec![("a--part-1".to_owned(), "v1".to_owned()), ("a--part-2".to_owned(), "v2".to_owned())];
        assert_eq!(parse_manifest(&manifest(&names, 7)), Some((names, 7)));
        assert_eq!(parse_manifest("{\"user\":\"x\"}"), None);
    }
}
