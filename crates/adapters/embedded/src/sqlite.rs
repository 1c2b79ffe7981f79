//! [`StateStore`] on SQLite.
//!
//! One `items` table holds every logical table (`tbl` is the physical name, so environments
//! never mix); `audit` holds the audit log. A write runs in a `BEGIN IMMEDIATE` transaction: it
//! reads the item's revision, checks the condition, writes the item and its audit entry, and
//! commits — so two processes changing the same item serialise, and the loser gets a
//! [`StoreError::Conflict`] instead of silently overwriting.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tradai_ports::{
    AuditEntry, AuditQuery, Item, Key, Query, StateStore, StoreError, Table, Write,
};

/// The schema, one step per version. `PRAGMA user_version` records how many steps a file has
/// seen; opening a file runs the missing ones in order, so old stores are migrated on open.
const MIGRATIONS: &[&str] = &[
    // 1: items and audit log.
    "CREATE TABLE items (
        tbl TEXT NOT NULL, pk TEXT NOT NULL, sk TEXT NOT NULL,
        rev INTEGER NOT NULL, doc TEXT NOT NULL, updated_at TEXT NOT NULL,
        PRIMARY KEY (tbl, pk, sk)) WITHOUT ROWID;
     CREATE TABLE audit (
        id TEXT PRIMARY KEY, env TEXT NOT NULL, at TEXT NOT NULL, actor TEXT NOT NULL,
        action TEXT NOT NULL, entity TEXT NOT NULL, before TEXT, after TEXT, reason TEXT);",
    // 2: audit reads by time and by entity without a full scan.
    "CREATE INDEX audit_env_at ON audit (env, at);
     CREATE INDEX audit_env_entity ON audit (env, entity, at);",
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: usize = MIGRATIONS.len();

/// The state store on one SQLite file.
#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    env: String,
    path: PathBuf,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .field("env", &self.env)
            .finish()
    }
}

fn backend(path: &Path, e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend {
        location: path.display().to_string(),
        message: e.to_string(),
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the store file and migrates it to [`SCHEMA_VERSION`].
    pub fn open(path: &Path, env: &str) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir)
                .map_err(|e| backend(dir, format!("cannot create directory: {e}")))?;
        }
        let mut conn = Connection::open(path).map_err(|e| backend(path, e))?;
        conn.busy_timeout(Duration::from_secs(30))
            .map_err(|e| backend(path, e))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| backend(path, e))?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| backend(path, e))?;
        migrate(&mut conn, path)?;
        Ok(SqliteStore {
            conn: Arc::new(Mutex::new(conn)),
            env: env.to_string(),
            path: path.to_path_buf(),
        })
    }

    /// The schema version of the open file.
    pub fn schema_version(&self) -> Result<usize, StoreError> {
        let conn = self
            .conn
            .lock()
            .map_err(|_| backend(&self.path, "connection lock poisoned"))?;
        user_version(&conn, &self.path)
    }

    /// The file this store lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn with_conn<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection, &Path, &str) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = self.conn.clone();
        let path = self.path.clone();
        let env = self.env.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn
                .lock()
                .map_err(|_| backend(&path, "connection lock poisoned"))?;
            f(&mut guard, &path, &env)
        })
        .await
        .map_err(|e| backend(&self.path, format!("store task failed: {e}")))?
    }
}

fn user_version(conn: &Connection, path: &Path) -> Result<usize, StoreError> {
    let v: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(|e| backend(path, e))?;
    usize::try_from(v).map_err(|_| backend(path, format!("bad schema version {v}")))
}

fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| backend(path, e))?;
    let current = user_version(&tx, path)?;
    if current > MIGRATIONS.len() {
        return Err(backend(
            path,
            format!(
                "store schema version {current} is newer than this tradai understands ({}); upgrade tradai",
                MIGRATIONS.len()
            ),
        ));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        tx.execute_batch(sql)
            .map_err(|e| backend(path, format!("migration {} failed: {e}", i + 1)))?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)
            .map_err(|e| backend(path, e))?;
        tracing::info!(store = %path.display(), version = i + 1, "migrated state store");
    }
    tx.commit().map_err(|e| backend(path, e))
}

fn ts(t: DateTime<Utc>) -> String {
    // Fixed width so text order is time order.
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn parse_ts(s: &str, table: &str, key: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt {
            table: table.into(),
            key: key.into(),
            message: format!("bad timestamp '{s}': {e}"),
        })
}

fn parse_doc(s: &str, table: &str, key: &str) -> Result<Value, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt {
        table: table.into(),
        key: key.into(),
        message: e.to_string(),
    })
}

fn opt_json(v: &Option<Value>) -> Option<String> {
    v.as_ref().map(|v| v.to_string())
}

fn row_to_item(
    tbl: &str,
    pk: String,
    sk: String,
    rev: i64,
    doc: String,
    at: String,
) -> Result<Item, StoreError> {
    let key = Key { pk, sk };
    let k = key.to_string();
    Ok(Item {
        rev: u64::try_from(rev).unwrap_or(0),
        doc: parse_doc(&doc, tbl, &k)?,
        updated_at: parse_ts(&at, tbl, &k)?,
        key,
    })
}

/// Runs an items query (`SELECT pk, sk, rev, doc, updated_at …`) and decodes its rows.
fn collect_items(
    stmt: &mut rusqlite::CachedStatement<'_>,
    params: impl rusqlite::Params,
    tbl: &str,
    path: &Path,
) -> Result<Vec<Item>, StoreError> {
    let rows = stmt
        .query_map(params, |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .map_err(|e| backend(path, e))?;
    let mut out = Vec::new();
    for row in rows {
        let (pk, sk, rev, doc, at) = row.map_err(|e| backend(path, e))?;
        out.push(row_to_item(tbl, pk, sk, rev, doc, at)?);
    }
    Ok(out)
}

#[async_trait]
impl StateStore for SqliteStore {
    fn env(&self) -> &str {
        &self.env
    }

    async fn get(&self, table: Table, key: &Key) -> Result<Option<Item>, StoreError> {
        let key = key.clone();
        self.with_conn(move |conn, path, env| {
            let tbl = table.name(env);
            let row = conn
                .query_row(
                    "SELECT rev, doc, updated_at FROM items WHERE tbl = ?1 AND pk = ?2 AND sk = ?3",
                    params![tbl, key.pk, key.sk],
                    |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                        ))
                    },
                )
                .optional()
                .map_err(|e| backend(path, e))?;
            row.map(|(rev, doc, at)| row_to_item(&tbl, key.pk, key.sk, rev, doc, at))
                .transpose()
        })
        .await
    }

    async fn write(&self, w: Write) -> Result<u64, StoreError> {
        self.with_conn(move |conn, path, env| {
            let tbl = w.table.name(env);
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(|e| backend(path, e))?;
            let found: Option<i64> = tx
                .query_row(
                    "SELECT rev FROM items WHERE tbl = ?1 AND pk = ?2 AND sk = ?3",
                    params![tbl, w.key.pk, w.key.sk],
                    |r| r.get(0),
                )
                .optional()
                .map_err(|e| backend(path, e))?;
            let found = found.map(|r| u64::try_from(r).unwrap_or(0));
            if !w.expect.holds(found) {
                return Err(StoreError::Conflict {
                    table: tbl,
                    key: w.key.to_string(),
                    expected: w.expect.to_string(),
                    found: found.map_or("no item".into(), |r| format!("revision {r}")),
                });
            }
            let new_rev = match &w.doc {
                Some(doc) => {
                    let rev = found.unwrap_or(0) + 1;
                    tx.execute(
                        "INSERT INTO items (tbl, pk, sk, rev, doc, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                         ON CONFLICT (tbl, pk, sk) DO UPDATE SET rev = excluded.rev, doc = excluded.doc,
                         updated_at = excluded.updated_at",
                        params![tbl, w.key.pk, w.key.sk, rev as i64, doc.to_string(), ts(w.at)],
                    )
                    .map_err(|e| backend(path, e))?;
                    rev
                }
                None => {
                    tx.execute(
                        "DELETE FROM items WHERE tbl = ?1 AND pk = ?2 AND sk = ?3",
                        params![tbl, w.key.pk, w.key.sk],
                    )
                    .map_err(|e| backend(path, e))?;
                    0
                }
            };
            if let Some(a) = &w.audit {
                tx.execute(
                    "INSERT INTO audit (id, env, at, actor, action, entity, before, after, reason)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    params![a.id, env, ts(a.at), a.actor, a.action, a.entity, opt_json(&a.before), opt_json(&a.after), a.reason],
                )
                .map_err(|e| backend(path, e))?;
            }
            tx.commit().map_err(|e| backend(path, e))?;
            Ok(new_rev)
        })
        .await
    }

    async fn query(&self, table: Table, pk: &str, q: Query) -> Result<Vec<Item>, StoreError> {
        let pk = pk.to_string();
        self.with_conn(move |conn, path, env| {
            let tbl = table.name(env);
            let order = if q.descending { "DESC" } else { "ASC" };
            let sql = format!(
                "SELECT pk, sk, rev, doc, updated_at FROM items
                 WHERE tbl = ?1 AND pk = ?2
                   AND (?3 IS NULL OR substr(sk, 1, length(?3)) = ?3)
                   AND (?4 IS NULL OR sk >= ?4)
                   AND (?6 IS NULL OR sk < ?6)
                 ORDER BY sk {order} LIMIT ?5"
            );
            let limit = q.limit.map_or(-1, |l| l as i64);
            let mut stmt = conn.prepare_cached(&sql).map_err(|e| backend(path, e))?;
            collect_items(
                &mut stmt,
                params![tbl, pk, q.sk_prefix, q.sk_from, limit, q.sk_before],
                &tbl,
                path,
            )
        })
        .await
    }

    async fn scan(&self, table: Table) -> Result<Vec<Item>, StoreError> {
        self.with_conn(move |conn, path, env| {
            let tbl = table.name(env);
            let mut stmt = conn
                .prepare_cached(
                    "SELECT pk, sk, rev, doc, updated_at FROM items WHERE tbl = ?1 ORDER BY pk, sk",
                )
                .map_err(|e| backend(path, e))?;
            collect_items(&mut stmt, params![tbl], &tbl, path)
        })
        .await
    }

    async fn audit(&self, q: AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        self.with_conn(move |conn, path, env| {
            let since = q.since.map(ts);
            let limit = q.limit.map_or(-1, |l| l as i64);
            // Entity filter: exact entity, anything below it, or any entity whose key is this name.
            let below = q.entity.as_ref().map(|e| format!("{e}/"));
            let key_suffix = q.entity.as_ref().map(|e| format!("/{e}"));
            let mut stmt = conn
                .prepare_cached(
                    "SELECT id, at, actor, action, entity, before, after, reason FROM (
                        SELECT * FROM audit
                        WHERE env = ?1 AND (?2 IS NULL OR at >= ?2)
                          AND (?3 IS NULL OR entity = ?3 OR substr(entity, 1, length(?4)) = ?4
                               OR substr(entity, -length(?5)) = ?5 OR instr(entity, ?5 || '/') > 0)
                        ORDER BY at DESC, id DESC LIMIT ?6)
                     ORDER BY at ASC, id ASC",
                )
                .map_err(|e| backend(path, e))?;
            let rows = stmt
                .query_map(
                    params![env, since, q.entity, below, key_suffix, limit],
                    |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                            r.get::<_, String>(3)?,
                            r.get::<_, String>(4)?,
                            r.get::<_, Option<String>>(5)?,
                            r.get::<_, Option<String>>(6)?,
                            r.get::<_, Option<String>>(7)?,
                        ))
                    },
                )
                .map_err(|e| backend(path, e))?;
            let mut out = Vec::new();
            for row in rows {
                let (id, at, actor, action, entity, before, after, reason) =
                    row.map_err(|e| backend(path, e))?;
                let parse = |s: Option<String>| s.map(|s| parse_doc(&s, "audit", &id)).transpose();
                out.push(AuditEntry {
                    at: parse_ts(&at, "audit", &id)?,
                    before: parse(before)?,
                    after: parse(after)?,
                    id,
                    actor,
                    action,
                    entity,
                    reason,
                });
            }
            Ok(out)
        })
        .await
    }
}
