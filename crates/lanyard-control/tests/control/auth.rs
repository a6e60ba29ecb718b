//! The admin bootstrap, API tokens, authentication and authorization (every denial audited).

use lanyard_control::{
    ADMIN_TOKEN_FILE, AdminBootstrap, AuditQuery, Caller, EntryAction, ObjectKey, Permission, Role, TOKEN_PREFIX,
};
use lanyard_core::{AuditAction, ErrorKind, SecretString};

use crate::common::{
    Env, admin, assert_error, audit_state, both, create_connection, create_credential, credential, last_audit,
    new_connection,
};

both!(
    bootstrap_writes_the_admin_token,
    bootstrap_from_the_environment,
    tokens_roles_and_revocation,
    authorization_denials
);

fn unauthenticated(result: Result<Caller, lanyard_control::ControlError>) -> String {
    let error = result.expect_err("must not authenticate");
    assert_eq!(error.kind(), ErrorKind::Unauthenticated, "{error:?}");
    error.message().to_owned()
}

async fn bootstrap_writes_the_admin_token(env: &Env) {
    let plane = &env.plane;
    let path = env.data_dir().join(ADMIN_TOKEN_FILE);
    // Without a data directory there is nowhere to write the token.
    let env_without_dir = lanyard_vault::BackendEnv { catalog_url: Some(env.url.clone()), data_dir: None };
    let without_dir =
        lanyard_control::ControlPlane::new(plane.catalog().clone(), crate::common::registry(), env_without_dir);
    assert_error(
        without_dir.bootstrap_admin(None).await,
        ErrorKind::Invalid,
        "no data directory to write admin.token to; set LANYARD_ADMIN_TOKEN",
    );
    assert_eq!(audit_state(env).await, (0, None));

    assert_eq!(plane.bootstrap_admin(None).await.unwrap(), AdminBootstrap::Created(path.clone()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "admin.token must be private, is {mode:o}");
    }
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.ends_with('\n'));
    let token = text.trim_end();
    assert!(token.starts_with(TOKEN_PREFIX) && token.len() == TOKEN_PREFIX.len() + 43, "{token:?}");
    assert_eq!(plane.authenticate(token).await.unwrap(), Caller::local("admin", Role::Admin));
    let record = last_audit(env).await;
    assert_eq!((record.record.action.as_str(), record.record.principal.as_str()), ("token.create", "lanyard"));
    assert!(!format!("{record:?}").contains(token));

    // Only the first start creates it; the file is left alone afterwards.
    let before = audit_state(env).await;
    assert_eq!(plane.bootstrap_admin(None).await.unwrap(), AdminBootstrap::Existing);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    assert_eq!(audit_state(env).await, before);
    assert_eq!(plane.authenticate(token).await.unwrap().role, Role::Admin);
    let listed = plane.list_tokens(&Caller::local("admin", Role::Admin)).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].principal.as_str(), listed[0].role), ("admin", Role::Admin));
    assert!(listed[0].last_used_at.is_some(), "authenticate records the last use");
}

async fn bootstrap_from_the_environment(env: &Env) {
    let plane = &env.plane;
    assert_error(
        plane.bootstrap_admin(Some(&SecretString::new("short"))).await,
        ErrorKind::Invalid,
        "LANYARD_ADMIN_TOKEN must be 16 to 256 printable ASCII characters without spaces",
    );
    assert_error(
        plane.bootstrap_admin(Some(&SecretString::new("long enough but has spaces"))).await,
        ErrorKind::Invalid,
        "LANYARD_ADMIN_TOKEN must be 16 to 256 printable ASCII characters without spaces",
    );
    let first = SecretString::new("env-admin-token-0123456789");
    assert_eq!(plane.bootstrap_admin(Some(&first)).await.unwrap(), AdminBootstrap::FromEnvironment);
    assert!(!env.data_dir().join(ADMIN_TOKEN_FILE).exists(), "no token file when the token comes from the environment");
    assert_eq!(plane.authenticate(first.expose_secret()).await.unwrap(), Caller::local("admin", Role::Admin));
    let stored = format!("{:?}", plane.list_tokens(&admin()).await.unwrap());
    assert!(!stored.contains(first.expose_secret()));

    // The same value again changes nothing.
    let before = audit_state(env).await;
    assert_eq!(plane.bootstrap_admin(Some(&first)).await.unwrap(), AdminBootstrap::FromEnvironment);
    assert_eq!(audit_state(env).await, before);

    // A changed value replaces the previous one.
    let second = SecretString::new("env-admin-token-second-value");
    assert_eq!(plane.bootstrap_admin(Some(&second)).await.unwrap(), AdminBootstrap::FromEnvironment);
    assert_eq!(plane.authenticate(second.expose_secret()).await.unwrap().role, Role::Admin);
    unauthenticated(plane.authenticate(first.expose_secret()).await);
    assert_eq!(last_audit(env).await.record.action.as_str(), "token.replace");

    // Without the variable, a later start finds the admin and writes no file.
    assert_eq!(plane.bootstrap_admin(None).await.unwrap(), AdminBootstrap::Existing);
    assert!(!env.data_dir().join(ADMIN_TOKEN_FILE).exists());
}

async fn tokens_roles_and_revocation(env: &Env) {
    let plane = &env.plane;
    let (operator, operator_token) = plane.create_token(&admin(), "ops", Role::Operator, None).await.unwrap();
    assert_eq!((operator.principal.as_str(), operator.role, operator.revoked_at), ("ops", Role::Operator, None));
    assert!(operator.name.starts_with("ops/"));
    assert!(operator_token.expose_secret().starts_with(TOKEN_PREFIX));
    assert!(!format!("{operator:?} {operator_token:?}").contains(operator_token.expose_secret()));
    let (viewer, viewer_token) = plane.create_token(&admin(), "watcher", Role::Viewer, None).await.unwrap();
    assert_eq!(viewer.role, Role::Viewer);
    assert_eq!(plane.authenticate(operator_token.expose_secret()).await.unwrap(), Caller::local("ops", Role::Operator));
    let viewer_caller = plane.authenticate(viewer_token.expose_secret()).await.unwrap();
    assert_eq!(viewer_caller, Caller::local("watcher", Role::Viewer));
    // A second token for the same principal; a principal keeps its role.
    let (_, second_viewer_token) = plane.create_token(&admin(), "watcher", Role::Viewer, None).await.unwrap();
    assert_error(
        plane.create_token(&admin(), "watcher", Role::Admin, None).await,
        ErrorKind::Conflict,
        r#"principal "watcher" already exists with role viewer; its tokens all carry that role"#,
    );
    assert_error(
        plane.create_token(&admin(), "a/b", Role::Viewer, None).await,
        ErrorKind::Invalid,
        "a principal name must not contain '/'",
    );

    // Only an admin manages tokens; a refusal is audited.
    for caller in [viewer_caller.clone(), Caller::local("ops", Role::Operator)] {
        let before = audit_state(env).await;
        assert_error(
            plane.create_token(&caller, "sneaky", Role::Admin, None).await,
            ErrorKind::Forbidden,
            &format!(
                "managing tokens requires the admin role; principal {:?} has role {}",
                caller.principal, caller.role
            ),
        );
        let record = last_audit(env).await;
        assert_eq!(audit_state(env).await.0, before.0 + 1);
        assert_eq!(
            (record.record.action.as_str(), record.record.outcome.as_str(), record.record.principal.as_str()),
            ("token.create", "denied", caller.principal.as_str())
        );
        assert_eq!(plane.list_tokens(&caller).await.unwrap_err().kind(), ErrorKind::Forbidden);
        assert_eq!(plane.revoke_token(&caller, "ops").await.unwrap_err().kind(), ErrorKind::Forbidden);
    }
    assert!(plane.authenticate(operator_token.expose_secret()).await.is_ok(), "the refused revoke did nothing");

    // Revocation: by principal (all of its live tokens), by token name.
    let revoked = plane.revoke_token(&admin(), "ops").await.unwrap();
    assert_eq!(revoked.len(), 1);
    assert!(revoked[0].revoked_at.is_some());
    assert_eq!(
        unauthenticated(plane.authenticate(operator_token.expose_secret()).await),
        "the bearer token has been revoked"
    );
    assert_error(plane.revoke_token(&admin(), "ops").await, ErrorKind::NotFound, r#"no live token or principal "ops""#);
    let revoked = plane.revoke_token(&admin(), &viewer.name).await.unwrap();
    assert_eq!(revoked.len(), 1);
    unauthenticated(plane.authenticate(viewer_token.expose_secret()).await);
    assert!(plane.authenticate(second_viewer_token.expose_secret()).await.is_ok(), "the other token still works");
    assert_eq!(last_audit(env).await.record.action.as_str(), "token.revoke");

    // Expired tokens.
    let past = lanyard_catalog::Timestamp::parse("2001-01-01").unwrap();
    let (_, expired) = plane.create_token(&admin(), "late", Role::Viewer, Some(past)).await.unwrap();
    assert_eq!(unauthenticated(plane.authenticate(expired.expose_secret()).await), "the bearer token has expired");

    // Garbage.
    let long = "x".repeat(300);
    let near_miss = format!("{}x", operator_token.expose_secret());
    for garbage in
        ["", "lyd_", "lyd_garbage", "Bearer lyd_x", "has space", "ünïcode", "a\nb", long.as_str(), near_miss.as_str()]
    {
        assert_eq!(unauthenticated(plane.authenticate(garbage).await), "the bearer token is not valid", "{garbage:?}");
    }
    let listed = plane.list_tokens(&admin()).await.unwrap();
    assert_eq!(listed.len(), 4);
    let shown = format!("{listed:?}");
    for token in [&operator_token, &viewer_token, &second_viewer_token, &expired] {
        assert!(!shown.contains(token.expose_secret()));
    }
}

async fn authorization_denials(env: &Env) {
    let plane = &env.plane;
    create_credential(env, "login", "pw").await;
    create_connection(env, new_connection("c", "postgresql", &[("host", "h")])).await;
    let viewer = Caller::local("vic", Role::Viewer);
    let operator = Caller::local("otto", Role::Operator);

    // authorize itself: allowed is silent, denied is audited and names the permission.
    let before = audit_state(env).await;
    plane.authorize(&viewer, Permission::ConnectionsRead, AuditAction::ConnectionGet, Some("c")).await.unwrap();
    assert_eq!(audit_state(env).await, before, "an allowed read writes no audit record");
    assert_error(
        plane.authorize(&viewer, Permission::VaultWrite, AuditAction::VaultEntryCreate, Some("x")).await,
        ErrorKind::Forbidden,
        r#"permission vault:write is required; principal "vic" has role viewer"#,
    );
    let record = last_audit(env).await;
    assert_eq!(audit_state(env).await.0, before.0 + 1);
    assert_eq!(
        (record.record.principal.as_str(), record.record.action.as_str(), record.record.outcome.as_str()),
        ("vic", "vault_entry.create", "denied")
    );
    assert_eq!(record.record.object_name.as_deref(), Some("x"));
    assert_eq!(record.record.detail["permission"], "vault:write");
    assert_eq!(record.record.detail["role"], "viewer");
    assert_eq!(record.record.object_kind, lanyard_core::ObjectKind::VaultEntry);
    // The denial names the kind of object the operation is about, not the permission's: links:write also covers
    // databases.
    assert!(plane.create_database(&viewer, "analytics", false).await.is_err());
    let record = last_audit(env).await;
    assert_eq!(
        (record.record.action.as_str(), record.record.object_kind, record.record.outcome.as_str()),
        ("database.create", lanyard_core::ObjectKind::Database, "denied")
    );

    // Every write operation refuses a viewer and an operator before touching anything, and audits the denial.
    let stored = plane.get_connection(&viewer, "c").await.unwrap();
    let (_, last_before) = audit_state(env).await;
    for caller in [&viewer, &operator] {
        let refusals = [
            plane.create_connection(caller, new_connection("d", "mysql", &[])).await.map(|_| ()),
            plane
                .alter_connection(caller, "c", &[lanyard_control::ConnectionAction::UnsetCredential], None)
                .await
                .map(|_| ()),
            plane.drop_connection(caller, "c", None).await,
            plane.create_entry(caller, credential("e", "pw", None)).await.map(|_| ()),
            plane
                .alter_entry(
                    caller,
                    &ObjectKey::Name("login".into()),
                    &[EntryAction::SetSecret(SecretString::new("x"))],
                    None,
                )
                .await
                .map(|_| ()),
            plane.drop_entry(caller, &ObjectKey::Name("login".into()), None).await,
            plane.create_backend(caller, crate::common::memory_backend("m", "s")).await.map(|_| ()),
            plane.drop_backend(caller, &ObjectKey::Name("local".into()), None).await,
        ];
        for (index, refusal) in refusals.into_iter().enumerate() {
            let error = refusal.expect_err("refused");
            assert_eq!(error.kind(), ErrorKind::Forbidden, "{index}: {error:?}");
            assert!(error.message().ends_with(&format!("has role {}", caller.role)), "{error}");
        }
    }
    let denials = |principal: &'static str| async move {
        crate::common::audit_log(env)
            .await
            .into_iter()
            .filter(|r| Some(r.seq) > last_before && r.record.principal == principal)
            .map(|r| (r.record.action.to_string(), r.record.outcome.to_string()))
            .collect::<Vec<_>>()
    };
    let expected: Vec<(String, String)> = [
        "connection.create",
        "connection.alter",
        "connection.drop",
        "vault_entry.create",
        "vault_entry.alter",
        "vault_entry.drop",
        "credential_storage.create",
        "credential_storage.drop",
    ]
    .iter()
    .map(|action| ((*action).to_owned(), "denied".to_owned()))
    .collect();
    assert_eq!(denials("vic").await, expected);
    assert_eq!(denials("otto").await, expected);
    assert_eq!(plane.get_connection(&admin(), "c").await.unwrap().version, stored.version);
    assert_eq!(plane.list_entries(&admin(), None).await.unwrap().len(), 1);

    // Reads: every role may read, and an operator may test connections.
    for caller in [&viewer, &operator, &admin()] {
        assert_eq!(plane.list_connections(caller, None).await.unwrap().len(), 1);
        assert_eq!(plane.list_entries(caller, None).await.unwrap().len(), 1);
        assert_eq!(plane.list_backends(caller, None).await.unwrap().len(), 1);
        assert!(!plane.list_audit(caller, &AuditQuery::default()).await.unwrap().is_empty());
    }
    // With NoProber installed the test reaches no network; the outcome proves the operator got past authorization.
    let unprobed = plane.clone().with_prober(std::sync::Arc::new(lanyard_control::NoProber));
    let outcome = unprobed.test_connection(&operator, "c").await.unwrap();
    assert!(!outcome.passed);
    assert_eq!(outcome.status, lanyard_core::TestStatus::Unsupported);
    assert_eq!(outcome.error.as_deref(), Some(r#"no probe for type "postgresql" in this build"#));
    assert_eq!(outcome.connection.status(), "unsupported");
    assert_eq!(last_audit(env).await.record.outcome.as_str(), "allowed");
    assert_error(
        plane.test_connection(&viewer, "c").await,
        ErrorKind::Forbidden,
        r#"permission connections:test is required; principal "vic" has role viewer"#,
    );

    // list_audit filters by object and position.
    let records =
        plane.list_audit(&viewer, &AuditQuery { object: Some("c".into()), ..AuditQuery::default() }).await.unwrap();
    assert!(records.iter().all(|r| r.record.object_name.as_deref() == Some("c")));
    assert_eq!(records.first().unwrap().record.action.as_str(), "connection.create");
    let last = records.last().unwrap().seq;
    assert!(
        plane
            .list_audit(&viewer, &AuditQuery { since: Some(i64::MAX - 1), ..AuditQuery::default() })
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        plane
            .list_audit(
                &viewer,
                &AuditQuery { since: Some(last), object: Some("c".into()), limit: Some(5), ..AuditQuery::default() }
            )
            .await
            .unwrap()
            .iter()
            .all(|r| r.seq > last)
    );
    assert_error(
        plane.list_audit(&viewer, &AuditQuery { limit: Some(0), ..AuditQuery::default() }).await,
        ErrorKind::Invalid,
        "limit must be between 1 and 1000, not 0",
    );
}
