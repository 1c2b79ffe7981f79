//! Typed access to the state port: JSON documents as records, read-modify-write with retry.

use crate::RunbookError;
use chrono::{DateTime, Utc};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;
use tradai_ports::{AuditEntry, Expect, Key, Query, StateStore, StoreError, Table, Write};

/// How often a read-modify-write is retried when another writer got there first.
const MAX_ATTEMPTS: usize = 32;

/// The audit side of a change. An empty `action` marks bookkeeping (counters) that is not audited.
pub(crate) struct Change<'a> {
    pub actor: &'a str,
    pub action: &'a str,
    pub reason: Option<&'a str>,
    pub at: DateTime<Utc>,
}

pub(crate) fn entity(table: Table, key: &Key) -> String {
    format!("{table}/{key}")
}

fn decode<T: DeserializeOwned>(table: Table, key: &Key, doc: Value) -> Result<T, RunbookError> {
    serde_json::from_value(doc).map_err(|e| {
        RunbookError::Store(StoreError::Corrupt {
            table: table.to_string(),
            key: key.to_string(),
            message: e.to_string(),
        })
    })
}

fn encode<T: Serialize>(v: &T) -> Result<Value, RunbookError> {
    serde_json::to_value(v).map_err(|e| RunbookError::Refused(format!("cannot encode record: {e}")))
}

/// Reads a record.
pub(crate) async fn get<T: DeserializeOwned>(
    store: &dyn StateStore,
    table: Table,
    key: &Key,
) -> Result<Option<(T, u64)>, RunbookError> {
    match store.get(table, key).await? {
        Some(item) => Ok(Some((decode(table, key, item.doc)?, item.rev))),
        None => Ok(None),
    }
}

/// Reads every record of a partition, in sort-key order.
pub(crate) async fn query<T: DeserializeOwned>(
    store: &dyn StateStore,
    table: Table,
    pk: &str,
    q: Query,
) -> Result<Vec<T>, RunbookError> {
    store
        .query(table, pk, q)
        .await?
        .into_iter()
        .map(|i| decode(table, &i.key, i.doc))
        .collect()
}

/// Reads every record of a table whose partition key passes `keep`.
pub(crate) async fn scan<T: DeserializeOwned>(
    store: &dyn StateStore,
    table: Table,
    keep: impl Fn(&Key) -> bool,
) -> Result<Vec<T>, RunbookError> {
    store
        .scan(table)
        .await?
        .into_iter()
        .filter(|i| keep(&i.key))
        .map(|i| decode(table, &i.key, i.doc))
        .collect()
}

/// Writes a new record that must not exist yet.
pub(crate) async fn insert<T: Serialize>(
    store: &dyn StateStore,
    table: Table,
    key: Key,
    rec: &T,
    change: &Change<'_>,
) -> Result<(), RunbookError> {
    let doc = encode(rec)?;
    let audit = audit_entry(table, &key, change, None, Some(doc.clone()));
    store
        .write(Write {
            table,
            key,
            doc: Some(doc),
            expect: Expect::Absent,
            at: change.at,
            audit: Some(audit),
        })
        .await?;
    Ok(())
}

fn audit_entry(
    table: Table,
    key: &Key,
    change: &Change<'_>,
    before: Option<Value>,
    after: Option<Value>,
) -> AuditEntry {
    AuditEntry {
        id: tradai_ports::state::new_id(change.at),
        at: change.at,
        actor: change.actor.to_string(),
        action: change.action.to_string(),
        entity: entity(table, key),
        before,
        after,
        reason: change.reason.map(str::to_string),
    }
}

/// What a read-modify-write did.
pub(crate) struct Updated<T> {
    pub before: Option<T>,
    pub after: T,
    /// False when `f` returned the record unchanged: nothing was written.
    pub changed: bool,
}

/// Read-modify-write of one record with optimistic concurrency: `f` sees the current record
/// (or `None`) and returns the new one; on a concurrent change it runs again on the fresh value.
pub(crate) async fn update<T, F>(
    store: &dyn StateStore,
    table: Table,
    key: &Key,
    change: &Change<'_>,
    mut f: F,
) -> Result<Updated<T>, RunbookError>
where
    T: Serialize + DeserializeOwned + Clone,
    F: FnMut(Option<T>) -> Result<T, RunbookError>,
{
    let mut last_conflict = None;
    for _ in 0..MAX_ATTEMPTS {
        let current = store.get(table, key).await?;
        let (before_doc, before, expect) = match current {
            Some(item) => {
                let rec: T = decode(table, key, item.doc.clone())?;
                (Some(item.doc), Some(rec), Expect::Rev(item.rev))
            }
            None => (None, None, Expect::Absent),
        };
        let after = f(before.clone())?;
        let after_doc = encode(&after)?;
        if before_doc.as_ref() == Some(&after_doc) {
            return Ok(Updated {
                before,
                after,
                changed: false,
            });
        }
        let audit = (!change.action.is_empty())
            .then(|| audit_entry(table, key, change, before_doc, Some(after_doc.clone())));
        let w = Write {
            table,
            key: key.clone(),
            doc: Some(after_doc),
            expect,
            at: change.at,
            audit,
        };
        match store.write(w).await {
            Ok(_) => {
                return Ok(Updated {
                    before,
                    after,
                    changed: true,
                });
            }
            Err(e @ StoreError::Conflict { .. }) => {
                tracing::debug!(%table, %key, "concurrent change, retrying");
                last_conflict = Some(e);
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(RunbookError::Contended(last_conflict.unwrap_or(
        StoreError::Backend {
            location: table.to_string(),
            message: "no attempt made".into(),
        },
    )))
}

/// Increments a counter item and returns the new value: version numbers and incident ids.
pub(crate) async fn next_counter(
    store: &dyn StateStore,
    table: Table,
    key: &Key,
    at: DateTime<Utc>,
) -> Result<u64, RunbookError> {
    let change = Change {
        actor: "system",
        action: "",
        reason: None,
        at,
    };
    #[derive(Serialize, serde::Deserialize, Clone)]
    struct Counter {
        value: u64,
    }
    let up = update(store, table, key, &change, |c: Option<Counter>| {
        Ok(Counter {
            value: c.map_or(0, |c| c.value) + 1,
        })
    })
    .await?;
    Ok(up.after.value)
}
