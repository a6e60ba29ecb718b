//! The JSON shapes of the wire types: round trips, unknown fields refused, actions without a value written as
//! `{"<action>": null}`, and secret material kept out of `Debug` while still reaching the body.

use lanyard_api::{
    AlterBackend, AlterConnection, AlterEntry, BackendAction, ConnectionAction, CreateBackend, CreateConnection,
    CreateDatabase, CreateEntry, EntryAction, KeyValue, Problem, Secret, SecretOptions,
};
use lanyard_core::ErrorKind;
use serde_json::json;

#[test]
fn requests_round_trip_in_the_documented_shape() {
    let body = json!({"actions": [
        {"set_options": {"host": "db", "port": "5432"}},
        {"set_option": {"key": "k", "value": "v"}},
        {"unset_option": "k"},
        {"set_credential": "c"},
        {"unset_credential": null},
        {"set_credential_storage": "s"},
        {"unset_credential_storage": null},
        {"rename_to": "n"},
        {"set_description": null},
        {"set_max_connections": 5},
        {"set_timeout": null},
    ]});
    let alter: AlterConnection = serde_json::from_value(body.clone()).unwrap();
    assert_eq!(alter.actions[1], ConnectionAction::SetOption(KeyValue { key: "k".into(), value: "v".into() }));
    assert_eq!(alter.actions[4], ConnectionAction::UnsetCredential);
    assert_eq!(serde_json::to_value(&alter).unwrap(), body);

    let entry = json!({"actions": [{"rotate": null}, {"set_secret": "s3cr3t"}, {"set_expires": "2030-01-01"}]});
    let alter: AlterEntry = serde_json::from_value(entry.clone()).unwrap();
    assert_eq!(serde_json::to_value(&alter).unwrap(), entry);

    let create = CreateConnection { name: "pg".into(), connection_type: "postgresql".into(), ..Default::default() };
    let back: CreateConnection = serde_json::from_value(serde_json::to_value(&create).unwrap()).unwrap();
    assert_eq!(back, create);

    // CREATE DATABASE: `if_not_exists` defaults to false and is written only when set.
    let database: CreateDatabase = serde_json::from_value(json!({"name": "analytics"})).unwrap();
    assert_eq!(database, CreateDatabase { name: "analytics".into(), if_not_exists: false });
    assert_eq!(serde_json::to_value(&database).unwrap(), json!({"name": "analytics"}));
    let database = CreateDatabase { name: "analytics".into(), if_not_exists: true };
    assert_eq!(serde_json::to_value(&database).unwrap(), json!({"name": "analytics", "if_not_exists": true}));
}

#[test]
fn unknown_fields_are_refused() {
    for (what, result) in [
        (
            "connection",
            serde_json::from_value::<CreateConnection>(json!({"name": "x", "type": "s3", "colour": 1})).err(),
        ),
        ("entry", serde_json::from_value::<CreateEntry>(json!({"name": "x", "type": "CREDENTIAL", "colour": 1})).err()),
        ("backend", serde_json::from_value::<CreateBackend>(json!({"name": "x", "type": "aws", "colour": 1})).err()),
        ("action", serde_json::from_value::<AlterBackend>(json!({"actions": [{"set_colour": "red"}]})).err()),
        ("database", serde_json::from_value::<CreateDatabase>(json!({"name": "x", "charset": "utf8"})).err()),
    ] {
        let error = result.unwrap_or_else(|| panic!("{what}: an unknown field was accepted")).to_string();
        assert!(error.contains("unknown"), "{what}: {error}");
    }
}

#[test]
fn secrets_reach_the_body_but_never_debug() {
    let entry = CreateEntry {
        name: "e".into(),
        entry_type: "CREDENTIAL".into(),
        secret: Some(Secret::new("canary-api-1")),
        ..Default::default()
    };
    let action = EntryAction::SetSecret(Secret::new("canary-api-2"));
    let backend = CreateBackend {
        name: "b".into(),
        backend_type: "aws".into(),
        description: None,
        options: SecretOptions(vec![("secret_access_key".into(), Secret::new("canary-api-3"))]),
        active: true,
        if_not_exists: false,
    };
    let alter = AlterBackend {
        actions: vec![BackendAction::SetOptions(SecretOptions(vec![("token".into(), Secret::new("canary-api-4"))]))],
    };
    let text = format!("{entry:?} {action:?} {backend:?} {alter:?}");
    assert!(!text.contains("canary"), "{text}");
    assert!(text.contains("secret_access_key"), "option keys are not secret: {text}");
    assert_eq!(serde_json::to_value(&entry).unwrap()["secret"], "canary-api-1");
    assert_eq!(serde_json::to_value(&action).unwrap(), json!({"set_secret": "canary-api-2"}));
    assert_eq!(serde_json::to_value(&backend).unwrap()["options"]["secret_access_key"], "canary-api-3");
    assert_eq!(serde_json::to_value(&alter).unwrap()["actions"][0]["set_options"]["token"], "canary-api-4");
    // A create without material sends none of the material fields.
    let bare = CreateEntry { name: "e".into(), entry_type: "CREDENTIAL".into(), ..Default::default() };
    let body = serde_json::to_value(&bare).unwrap();
    for field in ["secret", "generate", "linked_external_secret"] {
        assert!(body.get(field).is_none(), "{field}: {body}");
    }
}

#[test]
fn a_non_string_option_is_refused_by_its_key_without_its_value() {
    let error = serde_json::from_value::<CreateBackend>(json!({"name": "b", "type": "aws", "options": {"port": 4242}}))
        .unwrap_err()
        .to_string();
    assert!(error.contains("option \"port\" must be a string"), "{error}");
    assert!(!error.contains("4242"), "{error}");
}

#[test]
fn problems_read_with_missing_fields_and_name_their_kind() {
    let problem: Problem = serde_json::from_value(json!({"status": 404, "code": "not_found"})).unwrap();
    assert_eq!(problem.kind(), Some(ErrorKind::NotFound));
    assert_eq!((problem.title.as_str(), problem.detail.as_str()), ("", ""));
    let unknown: Problem = serde_json::from_value(json!({"status": 418, "code": "teapot"})).unwrap();
    assert_eq!(unknown.kind(), None);
}
