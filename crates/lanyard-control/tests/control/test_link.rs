//! TEST LINK with the real probes (`Connectors`, the Control Plane's default): an S3 link against a moto of its own
//! that checks keys, and a MYSQL link against a MariaDB user with a password. Each passes, fails once the secret
//! changes in the external system, and passes again after `ALTER LINK … SET CREDENTIALS ::key = '<new>'`; no
//! failure reason and no audit record holds a secret.

use lanyard_control::{CredentialsSource, LinkAction, LinkTestOutcome, NewLink};
use lanyard_core::{AuditOutcome, SecretString};
use lanyard_testsupport::{AccessKey, MariaDbUser, PrivateMoto, unique_name};
use serde_json::{Value, json};

use crate::common::{Env, admin, audit_log, both};

both!(
    an_s3_link_follows_a_key_rotation_in_moto,
    a_mysql_link_follows_a_password_change_in_mariadb,
    links_without_a_probe_are_unsupported,
);

/// Creates link `default.<name>` of `link_type` with CONFIG `config` and CREDENTIALS `credentials`.
async fn create(env: &Env, name: &str, link_type: &str, config: Value, credentials: Value) {
    let Value::Object(config) = config else { panic!("CONFIG is an object") };
    let link = NewLink {
        database: "default".into(),
        name: name.into(),
        link_type: link_type.into(),
        description: None,
        config,
        credentials: Some(CredentialsSource::Json(SecretString::new(credentials.to_string()))),
        or_replace: false,
        if_not_exists: false,
    };
    env.plane.create_link(&admin(), link).await.unwrap();
}

/// `ALTER LINK default.<name> SET CREDENTIALS ::<key> = '<value>'`.
async fn set_credential(env: &Env, name: &str, key: &str, value: &str) {
    let action = LinkAction::CredentialsKey { key: key.into(), value: SecretString::new(value.to_owned()) };
    env.plane.alter_link(&admin(), "default", name, &[action], None).await.unwrap();
}

/// `TEST LINK default.<name>`; the reason of a failure must not hold any of `secrets`.
async fn test_link(env: &Env, name: &str, secrets: &[&str]) -> LinkTestOutcome {
    let outcome = env.plane.test_link(&admin(), "default", name).await.unwrap();
    if let Some(error) = &outcome.error {
        for secret in secrets {
            assert!(!error.contains(secret), "the reason leaks a secret: {error}");
        }
    }
    outcome
}

#[track_caller]
fn assert_passed(outcome: &LinkTestOutcome) {
    assert!(outcome.passed && outcome.error.is_none(), "expected PASSED, got {outcome:?}");
}

#[track_caller]
fn failure(outcome: &LinkTestOutcome) -> &str {
    assert_eq!(outcome.status, lanyard_core::TestStatus::Failed, "expected FAILED, got {outcome:?}");
    outcome.error.as_deref().expect("a failure has a reason")
}

/// The audit records of TEST LINK: outcome and detail, in order; none holds any of `secrets`.
async fn test_audit(env: &Env, secrets: &[&str]) -> Vec<(AuditOutcome, Value)> {
    let records: Vec<_> =
        audit_log(env).await.into_iter().filter(|r| r.record.action.as_str() == "link.test").collect();
    for record in &records {
        let text = serde_json::to_string(&record.record.detail).unwrap();
        for secret in secrets {
            assert!(!text.contains(secret), "the audit record leaks a secret: {text}");
        }
    }
    records.into_iter().map(|r| (r.record.outcome, Value::Object(r.record.detail))).collect()
}

async fn an_s3_link_follows_a_key_rotation_in_moto(env: &Env) {
    let (moto, first) = PrivateMoto::with_iam_user();
    let keys = |key: &AccessKey| json!({"aws_access_key_id": key.id, "aws_secret_access_key": key.secret});
    // The seed's shape: a region, SingleStore's key for an S3-compatible endpoint, no bucket (ListBuckets).
    let config = json!({"region": "us-east-1", "endpoint_url": moto.url(), "disable_gunzip": false});
    create(env, "s3_link", "S3", config, keys(&first)).await;
    assert_passed(&test_link(env, "s3_link", &[&first.secret]).await);

    // The key is rotated in AWS: the link's key no longer exists.
    let second = moto.rotate_access_key(&first);
    let secrets = [first.secret.as_str(), second.secret.as_str()];
    let outcome = test_link(env, "s3_link", &secrets).await;
    assert_eq!(
        failure(&outcome),
        "listing the buckets failed: status 403 Forbidden: InvalidAccessKeyId: The AWS Access Key Id you provided \
         does not exist in our records."
    );
    // One key at a time, as the seed's ALTER LINK does: the new id with the old secret is signed wrongly…
    set_credential(env, "s3_link", "aws_access_key_id", &second.id).await;
    let outcome = test_link(env, "s3_link", &secrets).await;
    assert!(failure(&outcome).contains("SignatureDoesNotMatch"), "{outcome:?}");
    // …and with the new secret too, the link works again.
    set_credential(env, "s3_link", "aws_secret_access_key", &second.secret).await;
    assert_passed(&test_link(env, "s3_link", &secrets).await);

    // With a bucket (a Lanyard CONFIG key), TEST LINK lists the bucket, as TEST CONNECTION does.
    let bucket = unique_name("lanyard-t-");
    moto.create_bucket(&bucket, &second);
    let config = json!({"region": "us-east-1", "endpoint_url": moto.url(), "bucket": bucket});
    create(env, "s3_bucket", "S3", config, keys(&second)).await;
    assert_passed(&test_link(env, "s3_bucket", &secrets).await);
    let missing = json!({"region": "us-east-1", "endpoint_url": moto.url(), "bucket": unique_name("lanyard-t-")});
    create(env, "s3_missing", "S3", missing, keys(&second)).await;
    assert!(failure(&test_link(env, "s3_missing", &secrets).await).contains("NoSuchBucket"));

    let audit = test_audit(env, &secrets).await;
    let outcomes: Vec<_> = audit.iter().map(|(outcome, _)| *outcome).collect();
    use AuditOutcome::{Allowed, Failed};
    assert_eq!(outcomes, [Allowed, Failed, Failed, Allowed, Allowed, Failed]);
    assert_eq!(audit[1].1["result"], "FAILED");
    assert!(audit[1].1["error"].as_str().unwrap().contains("InvalidAccessKeyId"));
}

async fn a_mysql_link_follows_a_password_change_in_mariadb(env: &Env) {
    let (old, new) = ("old-canary-pw!", "new-canary-pw?");
    let user = MariaDbUser::create(old);
    // SingleStore's MYSQL keys (its SHOW CREATE LINK example), the port as a JSON number.
    let config = json!({
        "database.hostname": user.host(),
        "database.port": user.port(),
        "database.exclude.list": "dbTest",
    });
    create(env, "my_link", "MYSQL", config, json!({"database.user": user.name(), "database.password": old})).await;
    let passed = test_link(env, "my_link", &[old]).await;
    assert_passed(&passed);
    assert!(passed.server_version.as_deref().is_some_and(|v| v.starts_with("MariaDB ")), "{passed:?}");

    user.set_password(new);
    let outcome = test_link(env, "my_link", &[old, new]).await;
    let reason = failure(&outcome);
    assert!(reason.contains(&format!("Access denied for user '{}'", user.name())), "{reason}");

    set_credential(env, "my_link", "database.password", new).await;
    assert_passed(&test_link(env, "my_link", &[old, new]).await);
    let outcomes: Vec<_> = test_audit(env, &[old, new]).await.into_iter().map(|(outcome, _)| outcome).collect();
    assert_eq!(outcomes, [AuditOutcome::Allowed, AuditOutcome::Failed, AuditOutcome::Allowed]);
}

async fn links_without_a_probe_are_unsupported(env: &Env) {
    let canary = "canary-kafka-sasl-pw";
    let config = json!({"bootstrap.servers": "127.0.0.1:9092"});
    create(env, "k", "KAFKA", config, json!({"sasl.password": canary})).await;
    let outcome = test_link(env, "k", &[canary]).await;
    let notice = "no probe for link type KAFKA in this build; the link is stored and resolves its credentials, but \
                  Lanyard cannot check it";
    assert_eq!((outcome.passed, outcome.status), (false, lanyard_core::TestStatus::Unsupported));
    assert_eq!(outcome.error.as_deref(), Some(notice));
    create(env, "h", "HTTP", json!({}), json!({"token": canary})).await;
    assert_eq!(failure(&test_link(env, "h", &[canary]).await), r#"CONFIG key "url" is required for link type HTTP"#);
    let audit = test_audit(env, &[canary]).await;
    assert_eq!(
        (audit[0].0, &audit[0].1["result"], &audit[0].1["error"]),
        (AuditOutcome::Allowed, &json!("UNSUPPORTED"), &json!(notice))
    );
    assert_eq!((audit[1].0, &audit[1].1["result"]), (AuditOutcome::Failed, &json!("FAILED")));
}
