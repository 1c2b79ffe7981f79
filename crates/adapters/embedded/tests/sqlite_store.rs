//! The SQLite adapter against a real SQLite file.

use chrono::{TimeZone, Utc};
use serde_json::json;
use tradai_embedded::SqliteStore;
use tradai_embedded::sqlite::SCHEMA_VERSION;
use tradai_ports::{
    AuditEntry, AuditQuery, Expect, Key, Query, StateStore, StoreError, Table, Write,
};

fn t0() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 2, 7, 12, 0, 0).unwrap()
}

fn put(table: Table, key: Key, doc: serde_json::Value, expect: Expect) -> Write {
    Write {
        table,
        key,
        doc: Some(doc),
        expect,
        at: t0(),
        audit: None,
    }
}

#[tokio::test]
async fn conditional_writes_and_revisions() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(&dir.path().join("t.db"), "dev").unwrap();
    let k = Key::pk("S1");
    assert_eq!(
        s.write(put(
            Table::TRADING_STATE,
            k.clone(),
            json!({"status": "running"}),
            Expect::Absent
        ))
        .await
        .unwrap(),
        1
    );
    // Absent again conflicts.
    let e = s
        .write(put(
            Table::TRADING_STATE,
            k.clone(),
            json!({}),
            Expect::Absent,
        ))
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Conflict { .. }), "{e}");
    assert!(e.to_string().contains("tradai-trading-state-dev"), "{e}");
    // Stale revision conflicts, current revision wins.
    assert!(
        s.write(put(
            Table::TRADING_STATE,
            k.clone(),
            json!({"status": "paused"}),
            Expect::Rev(7)
        ))
        .await
        .is_err()
    );
    assert_eq!(
        s.write(put(
            Table::TRADING_STATE,
            k.clone(),
            json!({"status": "paused"}),
            Expect::Rev(1)
        ))
        .await
        .unwrap(),
        2
    );
    let item = s.get(Table::TRADING_STATE, &k).await.unwrap().unwrap();
    assert_eq!(item.rev, 2);
    assert_eq!(item.doc["status"], "paused");
    assert_eq!(item.updated_at, t0());
    // Delete with condition.
    let del = Write {
        doc: None,
        ..put(Table::TRADING_STATE, k.clone(), json!(null), Expect::Rev(2))
    };
    assert_eq!(s.write(del).await.unwrap(), 0);
    assert!(s.get(Table::TRADING_STATE, &k).await.unwrap().is_none());
}

#[tokio::test]
async fn environments_do_not_mix_and_queries_order_by_sort_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let dev = SqliteStore::open(&path, "dev").unwrap();
    let prod = SqliteStore::open(&path, "prod").unwrap();
    for v in [3, 1, 2, 10] {
        let k = Key::new("M", format!("{v:010}"));
        dev.write(put(
            Table::MODEL_VERSIONS,
            k,
            json!({"v": v}),
            Expect::Absent,
        ))
        .await
        .unwrap();
    }
    dev.write(put(
        Table::MODEL_VERSIONS,
        Key::new("M", "counter"),
        json!({}),
        Expect::Absent,
    ))
    .await
    .unwrap();
    assert!(
        prod.query(Table::MODEL_VERSIONS, "M", Query::default())
            .await
            .unwrap()
            .is_empty()
    );
    let q = Query {
        sk_prefix: Some("0".into()),
        descending: true,
        limit: Some(2),
        ..Default::default()
    };
    let got: Vec<i64> = dev
        .query(Table::MODEL_VERSIONS, "M", q)
        .await
        .unwrap()
        .iter()
        .map(|i| i.doc["v"].as_i64().unwrap())
        .collect();
    assert_eq!(got, vec![10, 3]);
    let q = Query {
        sk_from: Some(format!("{:010}", 2)),
        sk_prefix: Some("0".into()),
        ..Default::default()
    };
    assert_eq!(
        dev.query(Table::MODEL_VERSIONS, "M", q)
            .await
            .unwrap()
            .len(),
        3
    );
    assert_eq!(dev.scan(Table::MODEL_VERSIONS).await.unwrap().len(), 5);
}

#[tokio::test]
async fn audit_entries_are_written_with_the_change_and_filtered() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(&dir.path().join("t.db"), "dev").unwrap();
    for (i, entity) in ["trading-state/S1", "model-versions/M/3", "trading-state/S2"]
        .iter()
        .enumerate()
    {
        let at = t0() + chrono::Duration::minutes(i as i64);
        let audit = AuditEntry {
            id: format!("id{i}"),
            at,
            actor: "alice".into(),
            action: "x.change".into(),
            entity: entity.to_string(),
            before: None,
            after: Some(json!({"i": i})),
            reason: Some("because".into()),
        };
        let w = Write {
            audit: Some(audit),
            ..put(
                Table::TRADING_STATE,
                Key::pk(format!("k{i}")),
                json!({}),
                Expect::Absent,
            )
        };
        s.write(w).await.unwrap();
    }
    // A failed write leaves no audit entry.
    let audit = AuditEntry {
        id: "lost".into(),
        at: t0(),
        actor: "bob".into(),
        action: "x".into(),
        entity: "trading-state/S1".into(),
        before: None,
        after: None,
        reason: None,
    };
    let w = Write {
        audit: Some(audit),
        ..put(
            Table::TRADING_STATE,
            Key::pk("k0"),
            json!({}),
            Expect::Absent,
        )
    };
    assert!(s.write(w).await.is_err());

    let all = s.audit(AuditQuery::default()).await.unwrap();
    assert_eq!(
        all.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
        vec!["id0", "id1", "id2"]
    );
    let s1 = s
        .audit(AuditQuery {
            entity: Some("S1".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(s1.len(), 1);
    let m = s
        .audit(AuditQuery {
            entity: Some("M".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(m[0].entity, "model-versions/M/3");
    let table = s
        .audit(AuditQuery {
            entity: Some("trading-state".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(table.len(), 2);
    let since = s
        .audit(AuditQuery {
            since: Some(t0() + chrono::Duration::minutes(1)),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(since.len(), 2);
    let last = s
        .audit(AuditQuery {
            limit: Some(1),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(last[0].id, "id2");
}

#[tokio::test]
async fn an_old_store_is_migrated_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    {
        // A store as version 1 of the schema left it.
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(
            "CREATE TABLE items (tbl TEXT NOT NULL, pk TEXT NOT NULL, sk TEXT NOT NULL, rev INTEGER NOT NULL,
               doc TEXT NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (tbl, pk, sk)) WITHOUT ROWID;
             CREATE TABLE audit (id TEXT PRIMARY KEY, env TEXT NOT NULL, at TEXT NOT NULL, actor TEXT NOT NULL,
               action TEXT NOT NULL, entity TEXT NOT NULL, before TEXT, after TEXT, reason TEXT);
             INSERT INTO items VALUES ('tradai-trading-state-dev', 'S1', '', 4, '{\"status\":\"paused\"}', '2024-02-07T12:00:00.000000Z');
             PRAGMA user_version = 1;",
        )
        .unwrap();
    }
    let s = SqliteStore::open(&path, "dev").unwrap();
    assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
    let item = s
        .get(Table::TRADING_STATE, &Key::pk("S1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((item.rev, item.doc["status"].as_str()), (4, Some("paused")));
    let c = rusqlite::Connection::open(&path).unwrap();
    let n: i64 = c
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name = 'audit_env_entity'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 1);
}

#[tokio::test]
async fn a_store_from_a_newer_tradai_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.db");
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("PRAGMA user_version = 99;")
        .unwrap();
    let e = SqliteStore::open(&path, "dev").unwrap_err().to_string();
    assert!(e.contains("newer than this tradai"), "{e}");
}

#[tokio::test]
async fn a_corrupt_file_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.db");
    std::fs::write(
        &path,
        b"this is not a database, it is just text that goes on for a while....",
    )
    .unwrap();
    let e = SqliteStore::open(&path, "dev").unwrap_err().to_string();
    assert!(e.contains("bad.db"), "{e}");
}

/// Many connections (as separate processes would have) incrementing one counter with
/// read-modify-write and retry on conflict: no update is lost.
#[test]
fn concurrent_writers_lose_no_update() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.db");
    SqliteStore::open(&path, "dev").unwrap();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let path = path.clone();
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    let s = SqliteStore::open(&path, "dev").unwrap();
                    let k = Key::pk("counter");
                    for _ in 0..25 {
                        loop {
                            let cur = s.get(Table::STRATEGY_CONFIG, &k).await.unwrap();
                            let (n, expect) = match &cur {
                                Some(i) => (i.doc["n"].as_i64().unwrap(), Expect::Rev(i.rev)),
                                None => (0, Expect::Absent),
                            };
                            match s
                                .write(put(
                                    Table::STRATEGY_CONFIG,
                                    k.clone(),
                                    json!({"n": n + 1}),
                                    expect,
                                ))
                                .await
                            {
                                Ok(_) => break,
                                Err(StoreError::Conflict { .. }) => continue,
                                Err(e) => panic!("{e}"),
                            }
                        }
                    }
                });
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let s = SqliteStore::open(&path, "dev").unwrap();
    let item = rt
        .block_on(s.get(Table::STRATEGY_CONFIG, &Key::pk("counter")))
        .unwrap()
        .unwrap();
    assert_eq!(item.doc["n"], 100);
    assert_eq!(item.rev, 100);
}
