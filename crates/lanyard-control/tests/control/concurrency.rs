//! No lost updates (quality.md): concurrent ALTER CONNECTIONs on a few rows, through two Control Planes over the
//! same catalog (two nodes, each trying its own copy of the rows it wrote last first); every call either commits
//! (and says at which version) or fails with a retryable or conflict kind, and each row's final state is the serial
//! replay of its committed ALTERs in version order.

use std::collections::BTreeMap;

use lanyard_catalog::Connection;
use lanyard_control::ConnectionAction;
use lanyard_core::ErrorKind;

use crate::common::{Env, admin, audit_log, both, create_connection, new_connection, options_of, row};

both!(concurrent_alters_lose_nothing);

const TASKS: usize = 8;
const ALTERS: usize = 50;
const ROWS: [&str; 3] = ["row_a", "row_b", "row_c"];

/// One committed ALTER: the row, the version it produced, and the option it set.
#[derive(Debug)]
struct Commit {
    row: usize,
    version: i64,
    key: String,
    value: String,
}

async fn concurrent_alters_lose_nothing(env: &Env) {
    for name in ROWS {
        create_connection(env, new_connection(name, "postgresql", &[("host", "h")])).await;
    }
    let audit_before = audit_log(env).await.len();

    let catalog = lanyard_catalog::Catalog::open(&env.url).await.unwrap();
    let other = lanyard_control::ControlPlane::new(catalog, crate::common::registry(), Default::default());
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let plane = if task % 2 == 0 { env.plane.clone() } else { other.clone() };
        tasks.push(tokio::spawn(async move {
            let mut commits = Vec::new();
            let mut refused = 0;
            for counter in 0..ALTERS {
                let row = rand::random_range(0..ROWS.len());
                let key = format!("task_{task}");
                let value = counter.to_string();
                let action = ConnectionAction::SetOption { key: key.clone(), value: value.clone() };
                match plane.alter_connection(&admin(), ROWS[row], &[action], None).await {
                    Ok(view) => {
                        assert_eq!(view.options.get(&key).map(|v| v.expose()), Some(value.as_str()));
                        commits.push(Commit { row, version: view.version, key, value });
                    }
                    Err(error) => {
                        assert!(
                            error.is_retryable() || error.kind() == ErrorKind::Conflict,
                            "an ALTER failed with neither a retryable nor a conflict error: {error:?}"
                        );
                        refused += 1;
                    }
                }
            }
            (commits, refused)
        }));
    }
    let mut commits = Vec::new();
    let mut refused = 0;
    for task in tasks {
        let (mut done, failed) = task.await.expect("a task panicked");
        commits.append(&mut done);
        refused += failed;
    }
    other.close().await;
    assert_eq!(commits.len() + refused, TASKS * ALTERS);
    assert!(commits.len() >= TASKS * ALTERS / 2, "most ALTERs commit: {} of {}", commits.len(), TASKS * ALTERS);

    for (index, name) in ROWS.iter().enumerate() {
        let mut mine: Vec<&Commit> = commits.iter().filter(|c| c.row == index).collect();
        mine.sort_by_key(|c| c.version);
        // Versions 2, 3, … with no gap and no duplicate: each commit saw the one before it.
        let versions: Vec<i64> = mine.iter().map(|c| c.version).collect();
        let expected: Vec<i64> = (2..2 + i64::try_from(mine.len()).unwrap()).collect();
        assert_eq!(versions, expected, "{name}: versions of the committed ALTERs");
        let mut replay: BTreeMap<String, String> = BTreeMap::from([("host".to_owned(), "h".to_owned())]);
        for commit in &mine {
            replay.insert(commit.key.clone(), commit.value.clone());
        }
        let stored: Connection = row(env, name).await;
        assert_eq!(options_of(&stored), replay, "{name}: the final options are the serial replay");
        assert_eq!(stored.meta.version, 1 + i64::try_from(mine.len()).unwrap());
    }
    // One audit record per committed ALTER, none for a refused one, each naming the version it produced.
    let records: Vec<_> = audit_log(env).await.into_iter().skip(audit_before).collect();
    assert_eq!(records.len(), commits.len());
    assert!(records.iter().all(|r| r.record.action.as_str() == "connection.alter"));
    let mut audited: Vec<(String, i64)> = records
        .iter()
        .map(|r| (r.record.object_name.clone().unwrap(), r.record.detail["to_version"].as_i64().unwrap()))
        .collect();
    audited.sort();
    let mut committed: Vec<(String, i64)> = commits.iter().map(|c| (ROWS[c.row].to_owned(), c.version)).collect();
    committed.sort();
    assert_eq!(audited, committed);
}
