//! `If-Match` and `Authorization` as the server parses them (`lanyard_api::headers`) on arbitrary bytes: never a
//! panic; a version read back from an `If-Match` is the one `etag` writes; an accepted bearer token is a token68
//! that reads back the same; a refused `Authorization` is one of the refusals that hold no part of the value.

#![no_main]

use lanyard_api::headers::{HeaderError, IfMatch, bearer_token, etag, parse_if_match};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Up to three header fields, separated by 0xff (a byte no header value may hold).
    let fields: Vec<&[u8]> = data.split(|&b| b == 0xff).take(3).collect();
    if let Ok(Some(IfMatch::Version(version))) = parse_if_match(fields.iter().copied()) {
        assert_eq!(parse_if_match([etag(version).as_bytes()]), Ok(Some(IfMatch::Version(version))));
    }
    match bearer_token(fields.iter().copied()) {
        Ok(token) => {
            assert!(!token.is_empty() && token.is_ascii(), "{token:?}");
            let again = format!("Bearer {token}");
            assert_eq!(bearer_token([again.as_bytes()]), Ok(token));
        }
        // The refusals carry no part of the value (their variants hold none), so none can echo a token.
        Err(error) => assert!(
            matches!(
                error,
                HeaderError::MissingAuthorization
                    | HeaderError::NotBearer
                    | HeaderError::MalformedBearer
                    | HeaderError::Repeated { header: "Authorization", .. }
            ),
            "{error:?}"
        ),
    }
});
