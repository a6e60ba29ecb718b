//! Request bodies as the server reads them (serde_json into the type, then `lanyard_api::json::check_unique_keys`) on
//! arbitrary bytes: never a panic; a body that is accepted is well-formed JSON without a repeated key, and what the
//! client would write for the value it holds is accepted again (the two sides of the wire agree).

#![no_main]

use lanyard_api::json::check_unique_keys;
use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// What the server accepts (its `ApiJson`): the type reads the body, and no object in it repeats a key.
fn accepted<T: DeserializeOwned>(data: &[u8]) -> Option<T> {
    let value = serde_json::from_slice::<T>(data).ok()?;
    check_unique_keys(data).is_ok().then_some(value)
}

fn body<T: DeserializeOwned + Serialize>(data: &[u8]) {
    let Some(value) = accepted::<T>(data) else { return };
    let written = serde_json::to_vec(&value).expect("a request body serialises");
    assert!(
        accepted::<T>(&written).is_some(),
        "the server refuses what the client writes for an accepted body: {}",
        String::from_utf8_lossy(&written)
    );
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, json)) = data.split_first() else { return };
    match which % 11 {
        0 => body::<lanyard_api::CreateConnection>(json),
        1 => body::<lanyard_api::AlterConnection>(json),
        2 => body::<lanyard_api::CreateEntry>(json),
        3 => body::<lanyard_api::AlterEntry>(json),
        4 => body::<lanyard_api::CreateBackend>(json),
        5 => body::<lanyard_api::AlterBackend>(json),
        6 => body::<lanyard_api::CreateLink>(json),
        7 => body::<lanyard_api::AlterLink>(json),
        8 => body::<lanyard_api::CreatePipeline>(json),
        9 => body::<lanyard_api::CreateDatabase>(json),
        _ => body::<serde_json::Value>(json),
    }
});
