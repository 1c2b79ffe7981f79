//! The state port: versioned JSON items in named tables, changed by conditional single-item writes.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;
use thiserror::Error;

/// A logical table. Its physical name is `tradai-{base}-{env}` (e.g. `tradai-drift-state-dev`),
/// exactly as the contracts name the original DynamoDB tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Table(pub &'static str);

impl Table {
    /// Latest drift result per model (key `model_name`).
    pub const DRIFT_STATE: Table = Table("drift-state");
    /// Every drift result (pk `model_name`, sk time#id).
    pub const DRIFT_HISTORY: Table = Table("drift-history");
    /// Trading status and heartbeat per strategy (key `strategy_id`).
    pub const TRADING_STATE: Table = Table("trading-state");
    /// Strategy configuration (key `strategy_id`).
    pub const STRATEGY_CONFIG: Table = Table("strategy-config");
    /// Every configuration version (pk `strategy_id`, sk zero-padded version).
    pub const STRATEGY_CONFIG_HISTORY: Table = Table("strategy-config-history");
    /// The runbook's serving pointer: `model_version`, `model_path` (key `model_name`).
    pub const MODEL_REGISTRY: Table = Table("model-registry");
    /// Model versions with stage and metrics (pk `model_name`, sk zero-padded version).
    pub const MODEL_VERSIONS: Table = Table("model-versions");
    /// Retraining status per model (key `model_name`).
    pub const RETRAINING_STATE: Table = Table("retraining-state");
    /// Last rollback per model (key `model_name`).
    pub const ROLLBACK_STATE: Table = Table("rollback-state");
    /// Incidents (key incident id).
    pub const INCIDENTS: Table = Table("incidents");
    /// Incident timeline entries (pk incident id, sk time#id).
    pub const INCIDENT_TIMELINE: Table = Table("incident-timeline");
    /// Notification throttle records (24 h expiry).
    pub const NOTIFICATIONS: Table = Table("notifications");
    /// Retraining workflow executions.
    pub const WORKFLOW_STATE: Table = Table("workflow-state");
    /// Notifications waiting for (or done with) delivery (pk channel, sk time#id).
    pub const NOTIFICATION_OUTBOX: Table = Table("notification-outbox");
    /// Alarm states (key alarm name, e.g. `tradai-dev-drift-significant`).
    pub const ALARMS: Table = Table("alarms");
    /// Alarm state changes (pk alarm name, sk time#id).
    pub const ALARM_HISTORY: Table = Table("alarm-history");
    /// Consecutive stale heartbeat checks per strategy (key `strategy_id`).
    pub const HEARTBEAT_CHECKS: Table = Table("heartbeat-checks");
    /// Models watched closely after a promotion (key `model_name`).
    pub const WATCHES: Table = Table("watches");
    /// Actions waiting for a person's approval (key approval id).
    pub const APPROVALS: Table = Table("approvals");
    /// Training tasks launched by an executor (key task id).
    pub const TASKS: Table = Table("tasks");
    /// Experiments by name (key experiment name).
    pub const EXPERIMENTS: Table = Table("experiments");
    /// Experiment runs (pk experiment name, sk start time#run id).
    pub const EXPERIMENT_RUNS: Table = Table("experiment-runs");
    /// Model configuration: pairs, timeframe, training windows, data (key `model_name`).
    pub const MODEL_CONFIG: Table = Table("model-config");
    /// Open paper-trading positions of the strategy runner (pk `strategy_id`, sk position id).
    pub const POSITIONS: Table = Table("positions");
    /// Closed paper trades (pk `strategy_id`, sk position id: a ULID, so in opening order).
    pub const TRADES: Table = Table("trades");
    /// Every prediction the runner made, with its model version and features
    /// (pk `model_name`, sk `{candle time}#{strategy_id}`): drift-monitor's live feature source.
    pub const PREDICTIONS: Table = Table("predictions");

    /// Physical table name for an environment.
    pub fn name(&self, env: &str) -> String {
        format!("tradai-{}-{env}", self.0)
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// An item's key: partition key and (possibly empty) sort key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    /// A key of a table with a partition key only.
    pub fn pk(pk: impl Into<String>) -> Self {
        Key {
            pk: pk.into(),
            sk: String::new(),
        }
    }
    /// A key of a table with partition and sort key.
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Key {
            pk: pk.into(),
            sk: sk.into(),
        }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.sk.is_empty() {
            f.write_str(&self.pk)
        } else {
            write!(f, "{}/{}", self.pk, self.sk)
        }
    }
}

/// A stored item: its document and revision (incremented by every write, starting at 1).
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub key: Key,
    pub rev: u64,
    pub doc: Value,
    pub updated_at: DateTime<Utc>,
}

/// The condition a write depends on (DynamoDB's `ConditionExpression`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Unconditional.
    Anything,
    /// The item must not exist (`attribute_not_exists(pk)`).
    Absent,
    /// The item must exist at this revision (optimistic concurrency).
    Rev(u64),
}

/// One audit-log entry: who changed what, from what, to what, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Sortable unique id (ULID).
    pub id: String,
    pub at: DateTime<Utc>,
    /// A user name, or `policy` / `system`.
    pub actor: String,
    /// A verb such as `trading.pause` or `model.promote`.
    pub action: String,
    /// What changed, as `table/key` (e.g. `trading-state/S1`).
    pub entity: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub reason: Option<String>,
}

/// A change of one item, with the audit entry that explains it.
///
/// Adapters that can write both atomically do so (SQLite, PostgreSQL, DynamoDB
/// `TransactWriteItems`); correctness of the state never depends on it.
#[derive(Debug, Clone)]
pub struct Write {
    pub table: Table,
    pub key: Key,
    /// The new document, or `None` to delete the item.
    pub doc: Option<Value>,
    pub expect: Expect,
    /// When the change happens (from the injected clock): the item's `updated_at`.
    pub at: DateTime<Utc>,
    pub audit: Option<AuditEntry>,
}

/// A query within one partition, ordered by sort key.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Only sort keys starting with this.
    pub sk_prefix: Option<String>,
    /// Only sort keys `>= sk_from`.
    pub sk_from: Option<String>,
    /// Only sort keys `< sk_before`.
    pub sk_before: Option<String>,
    /// Newest (largest sort key) first.
    pub descending: bool,
    pub limit: Option<usize>,
}

/// A read of the audit log.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub since: Option<DateTime<Utc>>,
    /// Entries whose entity equals this or starts with `this/`, or whose entity key is this.
    pub entity: Option<String>,
    pub limit: Option<usize>,
}

/// Failures of the state store.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The write's condition did not hold: someone else changed the item first.
    #[error("conflicting write to {table} item {key}: expected {expected}, found {found}")]
    Conflict {
        table: String,
        key: String,
        expected: String,
        found: String,
    },
    /// A stored document could not be read back.
    #[error("corrupt item in {table} at {key}: {message}")]
    Corrupt {
        table: String,
        key: String,
        message: String,
    },
    /// The backend failed (I/O, connection, lock timeout).
    #[error("state store {location}: {message}")]
    Backend { location: String, message: String },
}

/// Versioned items in tables named per environment.
#[async_trait]
pub trait StateStore: Send + Sync {
    /// The environment this store is bound to (part of every physical table name).
    fn env(&self) -> &str;
    /// One item by key.
    async fn get(&self, table: Table, key: &Key) -> Result<Option<Item>, StoreError>;
    /// Applies one conditional write and its audit entry; returns the new revision (0 for a delete).
    async fn write(&self, w: Write) -> Result<u64, StoreError>;
    /// Items of one partition ordered by sort key.
    async fn query(&self, table: Table, pk: &str, q: Query) -> Result<Vec<Item>, StoreError>;
    /// Every item of a table (small tables only: strategies, models, incidents).
    async fn scan(&self, table: Table) -> Result<Vec<Item>, StoreError>;
    /// Audit entries, oldest first.
    async fn audit(&self, q: AuditQuery) -> Result<Vec<AuditEntry>, StoreError>;
}

impl Expect {
    /// Whether an item at revision `found` (None = absent) satisfies the condition.
    pub fn holds(self, found: Option<u64>) -> bool {
        match self {
            Expect::Anything => true,
            Expect::Absent => found.is_none(),
            Expect::Rev(r) => found == Some(r),
        }
    }
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expect::Anything => f.write_str("anything"),
            Expect::Absent => f.write_str("no item"),
            Expect::Rev(r) => write!(f, "revision {r}"),
        }
    }
}

/// A new ULID as text: audit ids, timeline entries and task ids sort by creation time, and
/// ids made in one process at the same millisecond keep their creation order: the 80 random
/// bits are a per-process random prefix (40 bits) and a process-wide counter (40 bits).
pub fn new_id(at: DateTime<Utc>) -> String {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static PREFIX: OnceLock<u128> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = *PREFIX.get_or_init(|| ulid::Ulid::new().random() >> 40);
    let n = u128::from(COUNTER.fetch_add(1, Ordering::Relaxed)) & ((1u128 << 40) - 1);
    let ms = u64::try_from(at.timestamp_millis()).unwrap_or(0);
    ulid::Ulid::from_parts(ms, (prefix << 40) | n).to_string()
}
