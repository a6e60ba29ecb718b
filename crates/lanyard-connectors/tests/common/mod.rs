//! The world both connector suites (`probes`, `sources`) resolve in: a `StaticCatalog` with one memory backend, every
//! connection and link with an entry of its own in it, resolved through a real `Resolver`.

#![allow(dead_code)] // each suite uses part of it

use std::sync::Arc;

use lanyard_catalog::{Backend, Connection, JsonObject, Link, Meta, VaultEntry};
use lanyard_core::{ConnectionId, LinkId, LinkType, Name, SecretString, VaultEntryId};
use lanyard_resolve::{Resolver, SecretValue, StaticCatalog};
use lanyard_vault::{Profile, Registry};

// Link the memory backend so that it registers itself.
use lanyard_vault_memory as _;

/// A catalog with one memory backend; every connection and link gets its own entry in it.
pub(crate) struct World {
    pub(crate) catalog: Arc<StaticCatalog>,
    pub(crate) resolver: Resolver,
    pub(crate) backend: Backend,
}

impl World {
    /// A world whose memory store is named `<tag>-<random>`.
    pub(crate) fn new(tag: &str) -> Self {
        let store = format!("{tag}-{}", ConnectionId::new_random());
        let backend = Backend {
            meta: Meta::new(),
            name: name("test_store"),
            backend_type: "memory".to_owned(),
            description: None,
            config: object(&[("store", &store)]),
            active: true,
        };
        let catalog = Arc::new(StaticCatalog::new());
        catalog.put_backend(backend.clone());
        let resolver = Resolver::builder(catalog.clone(), Registry::global().expect("registry")).build();
        Self { catalog, resolver, backend }
    }

    /// Writes `secret` as the material of entry `id` (a new entry, or a rotation of an existing one).
    pub(crate) async fn put(&self, id: VaultEntryId, secret: &str) {
        let backend = self.resolver.backend(&self.backend).await.expect("the memory backend builds");
        let value = SecretValue::from(SecretString::new(secret));
        backend.put(&Profile::Entry(id), &value).await.expect("material written");
    }

    /// Adds a vault entry holding `secret` in the memory backend.
    pub(crate) async fn entry(&self, secret: &str) -> VaultEntryId {
        let entry = VaultEntry {
            meta: Meta::new(),
            name: name(&format!("e_{}", ConnectionId::new_random())),
            entry_type: lanyard_core::EntryType::Credential,
            algorithm: None,
            key_size: None,
            current_version: 1,
            storage_backend_id: self.backend.meta.id,
            external_secret_name: None,
            owner_link_id: None,
            description: None,
            expires_at: None,
            rotated_at: None,
        };
        let id = entry.meta.id;
        self.put(id, secret).await;
        self.catalog.put_entry(entry);
        id
    }

    /// Adds a connection of `kind` with `options` and, if given, a credential holding `secret`.
    pub(crate) async fn connection(&self, kind: &str, options: &[(&str, &str)], secret: Option<&str>) -> ConnectionId {
        let credential_id = match secret {
            Some(secret) => Some(self.entry(secret).await),
            None => None,
        };
        let connection = Connection {
            meta: Meta::new(),
            name: name(&format!("c_{}", ConnectionId::new_random())),
            connection_type: kind.parse().expect("a known connection type"),
            description: None,
            options: object(options),
            credential_id,
            credential_storage_id: None,
            max_connections: None,
            timeout_seconds: None,
            last_test: None,
        };
        let id = connection.meta.id;
        self.catalog.put_connection(connection);
        id
    }

    /// Adds a link of `link_type` with CONFIG `config` and, if given, CREDENTIALS `credentials`; its id and its
    /// entry's.
    pub(crate) async fn link(
        &self,
        link_type: LinkType,
        config: serde_json::Value,
        credentials: Option<serde_json::Value>,
    ) -> (LinkId, Option<VaultEntryId>) {
        let serde_json::Value::Object(config) = config else { panic!("CONFIG is an object") };
        let credential_id = match credentials {
            Some(credentials) => Some(self.entry(&credentials.to_string()).await),
            None => None,
        };
        let link = Link {
            meta: Meta::new(),
            database: name("default"),
            name: name(&format!("l_{}", ConnectionId::new_random())),
            link_type,
            description: None,
            config,
            credential_id,
        };
        let id = link.meta.id;
        self.catalog.put_link(link);
        (id, credential_id)
    }
}

pub(crate) fn name(text: &str) -> Name {
    Name::new(text).unwrap()
}

pub(crate) fn object(pairs: &[(&str, &str)]) -> JsonObject {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), serde_json::Value::String((*v).to_owned()))).collect()
}
