//! Names: Secret Manager secret ids allow `[A-Za-z0-9_-]`, 1 to 255 characters, so a profile's `::` becomes `--`:
//! `vault::<uuid>` is `<prefix>vault--<uuid>`, `backend::<uuid>` is `<prefix>backend--<uuid>`. The mapping is
//! reversible (a UUID holds no `--`), which `list` relies on. Linked names are `name`, `name/versions/<n|latest>`,
//! or a full resource name `projects/<project>/secrets/<name>[/versions/<n|latest>]` (another project's secret).

use lanyard_core::printable;
use lanyard_vault::{ErrorKind, Operation, Profile, Result, VaultError};

use crate::KIND;

/// The longest secret id Secret Manager accepts.
pub(crate) const MAX_ID: usize = 255;

/// The longest prefix: the rest of the longest id (`backend--<uuid>`, 45 characters) must fit in [`MAX_ID`].
pub(crate) const MAX_PREFIX: usize = MAX_ID - 45;

/// Whether `id` is a legal secret id.
pub(crate) fn is_legal(id: &str) -> bool {
    (1..=MAX_ID).contains(&id.len()) && is_legal_text(id)
}

/// Whether `text` holds only `[A-Za-z0-9_-]` (an empty text does).
pub(crate) fn is_legal_text(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether `project` is a legal project id (6 to 30 of `a-z0-9-`, starting with a letter) or project number.
pub(crate) fn is_project(project: &str) -> bool {
    let number = !project.is_empty() && project.len() <= 20 && project.bytes().all(|b| b.is_ascii_digit());
    let id = (6..=30).contains(&project.len())
        && project.starts_with(|c: char| c.is_ascii_lowercase())
        && !project.ends_with('-')
        && project.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    number || id
}

/// `<prefix>vault--<uuid>` or `<prefix>backend--<uuid>`.
pub(crate) fn physical(prefix: &str, profile: &Profile) -> String {
    profile.dashed_name(prefix)
}

/// The profile a secret id under `prefix` stands for; `None` for other secrets.
pub(crate) fn profile(prefix: &str, id: &str) -> Option<Profile> {
    Profile::from_dashed_name(prefix, id)
}

/// The short id at the end of a secret's resource name (`projects/<p>/secrets/<id>`).
pub(crate) fn id_of(resource: &str) -> Option<&str> {
    let (_, id) = resource.rsplit_once("/secrets/")?;
    is_legal(id).then_some(id)
}

/// The version at the end of a version's resource name (`…/versions/<n>`).
pub(crate) fn version_of(resource: &str) -> Option<&str> {
    let (_, version) = resource.rsplit_once("/versions/")?;
    (!version.is_empty() && version.bytes().all(|b| b.is_ascii_digit())).then_some(version)
}

/// A secret version to read: the project (`None`: the configured one), the secret id and the version (`latest` or
/// a number).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Linked<'a> {
    pub project: Option<&'a str>,
    pub secret: &'a str,
    pub version: &'a str,
}

/// Reads a linked name: `name`, `name/versions/<n|latest>`, or
/// `projects/<project>/secrets/<name>[/versions/<n|latest>]`.
pub(crate) fn linked(locator: &str) -> Result<Linked<'_>> {
    let invalid = || {
        VaultError::new(ErrorKind::ConfigInvalid, KIND, Operation::Get)
            .with_target(printable(locator, 200))
            .with_detail(
                "a linked Secret Manager secret is `name`, `name/versions/<n|latest>` or \
             `projects/<project>/secrets/<name>[/versions/<n|latest>]`: a name of 1 to 255 characters of A-Z, a-z, \
             0-9, '_' and '-', and a version number or `latest`",
            )
    };
    let segments: Vec<&str> = locator.split('/').collect();
    let (project, rest) = match segments.as_slice() {
        ["projects", project, "secrets", rest @ ..] => (Some(*project), rest),
        rest => (None, rest),
    };
    let (secret, version) = match rest {
        [secret] => (*secret, "latest"),
        [secret, "versions", version] => (*secret, *version),
        _ => return Err(invalid()),
    };
    let version_ok = version == "latest"
        || (!version.is_empty()
            && version.len() <= 20
            && version.bytes().all(|b| b.is_ascii_digit())
            && version != "0");
    if !is_legal(secret) || !version_ok || project.is_some_and(|p| !is_project(p)) {
        return Err(invalid());
    }
    Ok(Linked { project, secret, version })
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
        for prefix in ["", "team_a-", long_prefix.as_str()] {
            for profile in [entry, backend] {
                let name = physical(prefix, &profile);
                assert!(is_legal(&name), "{name}");
                assert_eq!(super::profile(prefix, &name), Some(profile), "{name}");
            }
        }
        assert!(physical("", &entry).starts_with("vault--"));
        assert_eq!(profile("team-a-", &physical("team-b-", &entry)), None);
        assert_eq!(profile("", "db-password"), None);
        assert_eq!(profile("", "vault--not-a-uuid"), None);
    }

    #[test]
    fn linked_names_take_google_forms() {
        let ok = |project, secret, version| Linked { project, secret, version };
        assert_eq!(linked("db_login").unwrap(), ok(None, "db_login", "latest"));
        assert_eq!(linked("db-login/versions/3").unwrap(), ok(None, "db-login", "3"));
        assert_eq!(linked("db-login/versions/latest").unwrap(), ok(None, "db-login", "latest"));
        assert_eq!(
            linked("projects/other-project/secrets/db/versions/2").unwrap(),
            ok(Some("other-project"), "db", "2")
        );
        assert_eq!(linked("projects/123456789012/secrets/db").unwrap(), ok(Some("123456789012"), "db", "latest"));
        for bad in [
            "",
            "db login",
            "db/3",
            "db/versions/",
            "db/versions/x",
            "db/versions/0",
            "a/b/c",
            "../x",
            "projects/Bad_Project/secrets/db",
            "projects/p/secrets/db/versions/1/x",
            &"x".repeat(256),
        ] {
            assert_eq!(linked(bad).unwrap_err().kind(), ErrorKind::ConfigInvalid, "{bad}");
        }
    }

    #[test]
    fn resource_names_give_ids_and_versions() {
        assert_eq!(id_of("projects/123/secrets/vault--x"), Some("vault--x"));
        assert_eq!(id_of("projects/123/secrets/"), None);
        assert_eq!(version_of("projects/123/secrets/a/versions/17"), Some("17"));
        assert_eq!(version_of("projects/123/secrets/a/versions/latest"), None);
        assert!(is_project("lanyard-test") && is_project("123456789012"));
        assert!(!is_project("Ab") && !is_project("my-project-") && !is_project(""));
    }
}
