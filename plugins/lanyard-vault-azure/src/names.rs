//! Physical names: Key Vault secret names allow only `0-9a-zA-Z-`, 1 to 127 characters, so the profile's `::`
//! becomes `--`: `vault::<uuid>` is `<prefix>vault--<uuid>`, `backend::<uuid>` is `<prefix>backend--<uuid>`. The
//! mapping is reversible (a UUID holds no `--`), which `list` relies on; parts of a large value are
//! `<physical>--part-<n>` and are no profile.

use lanyard_vault::Profile;

/// The longest prefix: the rest of the longest name (`backend--<uuid>--part-NN`) must fit in 127 characters.
pub(crate) const MAX_PREFIX: usize = 64;

/// The separator standing for a profile's `::`.
const SEPARATOR: &str = "--";

/// Whether `name` is a legal Key Vault secret name.
pub(crate) fn is_legal(name: &str) -> bool {
    (1..=127).contains(&name.len()) && is_legal_text(name)
}

/// Whether `text` holds only `0-9a-zA-Z-` (an empty text does).
pub(crate) fn is_legal_text(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// `<prefix>vault--<uuid>` or `<prefix>backend--<uuid>`.
pub(crate) fn physical(prefix: &str, profile: &Profile) -> String {
    profile.dashed_name(prefix)
}

/// The name of part `n` (1-based) of a large value stored under `physical`.
pub(crate) fn part(physical: &str, n: usize) -> String {
    format!("{physical}{SEPARATOR}part-{n}")
}

/// The profile a physical name under `prefix` stands for; `None` for other secrets (other prefixes, parts, names
/// that are not Lanyard's).
pub(crate) fn profile(prefix: &str, name: &str) -> Option<Profile> {
    Profile::from_dashed_name(prefix, name)
}

#[cfg(test)]
mod tests {
    use lanyard_core::{BackendId, VaultEntryId};

    use super::*;

    #[test]
    fn physical_names_are_legal_and_reversible() {
        let entry = Profile::Entry(VaultEntryId::new_random());
        let backend = Profile::Backend(BackendId::new_random());
        let long_prefix = "p".repeat(MAX_PREFIX);
        for prefix in ["", "team-a-", long_prefix.as_str()] {
            for profile in [entry, backend] {
                let name = physical(prefix, &profile);
                assert!(is_legal(&name), "{name}");
                assert!(is_legal(&part(&name, 99)), "{name}");
                assert_eq!(super::profile(prefix, &name), Some(profile), "{name}");
                assert_eq!(super::profile(prefix, &part(&name, 1)), None);
            }
        }
        assert!(physical("", &entry).starts_with("vault--"));
        assert!(physical("x-", &backend).starts_with("x-backend--"));
        assert_eq!(profile("team-a-", &physical("team-b-", &entry)), None);
        assert_eq!(profile("", "db-password"), None);
        assert_eq!(profile("", "vault--not-a-uuid"), None);
    }

    #[test]
    fn legal_names_are_key_vaults() {
        assert!(is_legal("db-Password-2"));
        for bad in ["", "a_b", "a/b", "a.b", "ä", &"x".repeat(128)] {
            assert!(!is_legal(bad), "{bad:?}");
        }
    }
}
