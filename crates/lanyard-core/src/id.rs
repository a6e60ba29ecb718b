//! Typed object ids: one newtype over a UUID per object kind, so a connection id can never be passed where a vault
//! entry id is expected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! define_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new random (version 4) id.
            pub fn new_random() -> Self {
                Self(Uuid::new_v4())
            }

            /// Wraps an existing UUID.
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The underlying UUID.
            pub const fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0.hyphenated())
            }
        }

        impl FromStr for $name {
            type Err = crate::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self).map_err(|_| crate::Error::InvalidId {
                    kind: stringify!($name),
                    input: s.chars().take(64).collect(),
                })
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }
    };
}

define_id!(
    /// Id of an external connection (`external_connections.id`).
    ConnectionId
);
define_id!(
    /// Id of a vault entry (`vault_entries.id`).
    VaultEntryId
);
define_id!(
    /// Id of a credential storage, i.e. a vault backend (`vault_backends.id`).
    BackendId
);
define_id!(
    /// Id of a link (`links.id`).
    LinkId
);
define_id!(
    /// Id of a pipeline (`pipelines.id`).
    PipelineId
);
define_id!(
    /// Id of a database, the namespace of links and pipelines (`databases.id`).
    DatabaseId
);
define_id!(
    /// Id of a principal (`principals.id`).
    PrincipalId
);
define_id!(
    /// Id of an API token (`api_tokens.id`); never the token itself.
    TokenId
);

/// The fixed id of the seeded local backend, `00000000-0000-0000-0000-000000000001`.
pub const LOCAL_BACKEND_ID: BackendId = BackendId::from_uuid(Uuid::from_u128(1));

/// The fixed id of the seeded `default` database, `00000000-0000-0000-0000-000000000002`.
pub const DEFAULT_DATABASE_ID: DatabaseId = DatabaseId::from_uuid(Uuid::from_u128(2));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_backend_id_is_the_documented_constant() {
        assert_eq!(LOCAL_BACKEND_ID.to_string(), "00000000-0000-0000-0000-000000000001");
    }

    #[test]
    fn ids_round_trip_through_strings_and_json() {
        let id = ConnectionId::new_random();
        assert_eq!(id.to_string().parse::<ConnectionId>().unwrap(), id);
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(serde_json::from_str::<ConnectionId>(&json).unwrap(), id);
        assert!(format!("{id:?}").starts_with("ConnectionId("));
    }

    #[test]
    fn bad_id_is_a_clear_error() {
        let err = "not-a-uuid".parse::<VaultEntryId>().unwrap_err();
        assert_eq!(err.to_string(), "invalid VaultEntryId \"not-a-uuid\": expected a UUID");
    }
}
