//! Request bodies as the server reads them (`lanyard_api::json::from_slice`, which refuses repeated keys) on
//! arbitrary bytes: never a panic; a body that is accepted is well-formed JSON without a repeated key, and what the
//! client would write for the value it holds is accepted again (the two sides of the wire agree).

#![no_main]

use lanyard_api::json::{check_unique_keys, from_slice};
use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;

fn body<T: DeserializeOwned + Serialize>(data: &[u8]) {
    let Ok(value) = from_slice::<T>(data) else { return };
    assert!(check_unique_keys(data).is_ok(), "accepted a body with a repeated key");
    let written = serde_json::to_vec(&value).expect("a request body serialises");
    if let Err(error) = from_slice::<T>(&written) {
        panic!("the server refuses what the client writes for an accepted body: {error}");
    }
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
