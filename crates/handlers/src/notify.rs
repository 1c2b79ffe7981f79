//! notify (contracts §3): throttle, then deliver through every channel via a persisted outbox.
//!
//! INFO and WARNING are throttled per (type, subject, severity) for
//! `NOTIFICATION_THROTTLE_MINUTES`; ERROR and CRITICAL never are. Every accepted notification
//! is written to the outbox of each channel *before* delivery is tried, so a channel that is
//! down loses nothing: [`pump`] retries it later with exponential backoff (30 s doubling, at most
//! one hour), and a slow channel never blocks the caller for more than one attempt's timeout.

use crate::{Ctx, HandlerError, parse, to_json};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use tradai_domain::IncidentSeverity;
use tradai_domain::decide::throttle::{record_ttl, should_send, throttle_key};
use tradai_ports::state::new_id;
use tradai_ports::{
    Channel, Expect, Key, Notification, NotificationType, Query, StoreError, Table, Write,
};

/// The notify contract's input.
#[derive(Debug, Clone, Deserialize)]
pub struct NotifyInput {
    pub notification_type: NotificationType,
    pub title: String,
    pub message: String,
    #[serde(default)]
    pub model_name: Option<String>,
    #[serde(default)]
    pub strategy_name: Option<String>,
    #[serde(default)]
    pub details: Value,
    #[serde(default = "default_severity")]
    pub severity: IncidentSeverity,
}

fn default_severity() -> IncidentSeverity {
    IncidentSeverity::Info
}

/// The notify contract's output. `sns` reports the broadcast channels (log, JSON webhook; SNS
/// on AWS), `slack` the Slack webhook; `channels` says per channel `delivered` or `queued`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotifyOutput {
    pub sent: bool,
    pub sns: bool,
    pub slack: bool,
    pub notification_type: NotificationType,
    pub throttled: bool,
    pub channels: BTreeMap<String, String>,
}

/// An outbox entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxEntry {
    pub id: String,
    pub channel: String,
    pub notification: Notification,
    /// `pending` or `delivered`.
    pub status: String,
    pub attempts: u32,
    pub next_attempt_at: DateTime<Utc>,
    #[serde(default)]
    pub last_error: Option<String>,
    #[serde(default)]
    pub delivered_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, Deserialize)]
struct ThrottleRecord {
    last_sent: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

/// Delay before retry number `attempts + 1`.
pub fn backoff(attempts: u32) -> Duration {
    let secs = 30i64.saturating_mul(1i64 << attempts.saturating_sub(1).min(20));
    Duration::seconds(secs.min(3600))
}

/// The handler.
pub async fn handle(ctx: &Ctx, payload: Value) -> Result<Value, HandlerError> {
    let input: NotifyInput = parse("notify", payload)?;
    if input.title.trim().is_empty() {
        return Err(HandlerError::BadInput(
            "notify payload: 'title' must not be empty".into(),
        ));
    }
    let n = Notification {
        notification_type: input.notification_type,
        title: input.title,
        message: input.message,
        model_name: input.model_name,
        strategy_name: input.strategy_name,
        details: input.details,
        severity: input.severity,
        created_at: ctx.rb.clock.now(),
    };
    to_json(&send(ctx, n).await?)
}

/// Throttles and sends a notification (used by every handler that notifies).
pub async fn send(ctx: &Ctx, n: Notification) -> Result<NotifyOutput, HandlerError> {
    let now = n.created_at;
    let mut out = NotifyOutput {
        sent: false,
        sns: false,
        slack: false,
        notification_type: n.notification_type,
        throttled: false,
        channels: BTreeMap::new(),
    };
    if !claim_throttle(ctx, &n, now).await? {
        out.throttled = true;
        tracing::debug!(r#type = n.notification_type.as_str(), title = %n.title, "notification throttled");
        return Ok(out);
    }
    for ch in &ctx.channels {
        let entry = OutboxEntry {
            id: new_id(now),
            channel: ch.name().to_string(),
            notification: n.clone(),
            status: "pending".into(),
            attempts: 0,
            next_attempt_at: now,
            last_error: None,
            delivered_at: None,
        };
        let key = outbox_key(&entry);
        write_entry(ctx, &key, &entry, Expect::Absent).await?;
        // Persisted first: from here on the outbox pump delivers it if we do not.
        let delivered = ctx.deliver_inline && attempt(ctx, &**ch, entry, &key, now).await?;
        out.channels.insert(
            ch.name().to_string(),
            if delivered { "delivered" } else { "queued" }.to_string(),
        );
        if delivered {
            if ch.name() == "slack" {
                out.slack = true;
            } else {
                out.sns = true;
            }
        }
    }
    out.sent = !out.channels.is_empty();
    Ok(out)
}

/// Retries due outbox entries of every channel; returns how many were delivered. Channels
/// are pumped side by side: a webhook that hangs holds back its own entries, not Slack's.
pub async fn pump(ctx: &Ctx) -> Result<usize, HandlerError> {
    let now = ctx.rb.clock.now();
    let per_channel =
        futures::future::join_all(ctx.channels.iter().map(|ch| pump_channel(ctx, &**ch, now)))
            .await;
    per_channel.into_iter().sum()
}

async fn pump_channel(
    ctx: &Ctx,
    ch: &dyn Channel,
    now: DateTime<Utc>,
) -> Result<usize, HandlerError> {
    let mut delivered = 0;
    let items = ctx
        .rb
        .store
        .query(Table::NOTIFICATION_OUTBOX, ch.name(), Query::default())
        .await?;
    for item in items {
        let entry: OutboxEntry =
            serde_json::from_value(item.doc.clone()).map_err(|e| StoreError::Corrupt {
                table: Table::NOTIFICATION_OUTBOX.to_string(),
                key: item.key.to_string(),
                message: e.to_string(),
            })?;
        if entry.status == "delivered" {
            // Keep delivered entries for a day (what was sent), then drop them.
            if entry.delivered_at.is_some_and(|t| now - t > record_ttl()) {
                let w = Write {
                    table: Table::NOTIFICATION_OUTBOX,
                    key: item.key,
                    doc: None,
                    expect: Expect::Rev(item.rev),
                    at: now,
                    audit: None,
                };
                let _ = ctx.rb.store.write(w).await;
            }
            continue;
        }
        if entry.next_attempt_at <= now && attempt(ctx, ch, entry, &item.key, now).await? {
            delivered += 1;
        }
    }
    Ok(delivered)
}

/// Entries not yet delivered, per channel.
pub async fn pending(ctx: &Ctx) -> Result<Vec<OutboxEntry>, HandlerError> {
    let mut out = Vec::new();
    for ch in &ctx.channels {
        for item in ctx
            .rb
            .store
            .query(Table::NOTIFICATION_OUTBOX, ch.name(), Query::default())
            .await?
        {
            if let Ok(e) = serde_json::from_value::<OutboxEntry>(item.doc)
                && e.status != "delivered"
            {
                out.push(e);
            }
        }
    }
    Ok(out)
}

fn outbox_key(e: &OutboxEntry) -> Key {
    Key::new(
        &e.channel,
        format!(
            "{}#{}",
            e.notification
                .created_at
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            e.id
        ),
    )
}

async fn write_entry(
    ctx: &Ctx,
    key: &Key,
    e: &OutboxEntry,
    expect: Expect,
) -> Result<(), HandlerError> {
    let doc = serde_json::to_value(e).map_err(|err| HandlerError::Internal(err.to_string()))?;
    ctx.rb
        .store
        .write(Write {
            table: Table::NOTIFICATION_OUTBOX,
            key: key.clone(),
            doc: Some(doc),
            expect,
            at: ctx.rb.clock.now(),
            audit: None,
        })
        .await?;
    Ok(())
}

/// One delivery attempt; records the result on the entry.
async fn attempt(
    ctx: &Ctx,
    ch: &dyn Channel,
    mut e: OutboxEntry,
    key: &Key,
    now: DateTime<Utc>,
) -> Result<bool, HandlerError> {
    let res = ch.deliver(&e.notification).await;
    e.attempts += 1;
    let ok = res.is_ok();
    match res {
        Ok(()) => {
            e.status = "delivered".into();
            e.delivered_at = Some(now);
            e.last_error = None;
        }
        Err(err) => {
            tracing::warn!(channel = ch.name(), attempts = e.attempts, error = %err, "notification delivery failed; will retry");
            e.next_attempt_at = now + backoff(e.attempts);
            e.last_error = Some(err.to_string());
        }
    }
    write_entry(ctx, key, &e, Expect::Anything).await?;
    Ok(ok)
}

/// Takes the throttle slot for this notification; false when it must be suppressed.
async fn claim_throttle(
    ctx: &Ctx,
    n: &Notification,
    now: DateTime<Utc>,
) -> Result<bool, HandlerError> {
    let subject = n.model_name.as_deref().or(n.strategy_name.as_deref());
    let key = Key::pk(throttle_key(
        n.notification_type.as_str(),
        subject,
        n.severity,
    ));
    let window = Duration::minutes(i64::from(
        ctx.rb.config.notify.notification_throttle_minutes,
    ));
    let current = ctx.rb.store.get(Table::NOTIFICATIONS, &key).await?;
    let (last, expect) = match &current {
        Some(item) => {
            let rec: Option<ThrottleRecord> = serde_json::from_value(item.doc.clone()).ok();
            (
                rec.filter(|r| r.expires_at > now).map(|r| r.last_sent),
                Expect::Rev(item.rev),
            )
        }
        None => (None, Expect::Absent),
    };
    if !should_send(n.severity, last, now, window) {
        return Ok(false);
    }
    let rec = ThrottleRecord {
        last_sent: now,
        expires_at: now + record_ttl(),
    };
    let doc = serde_json::to_value(&rec).map_err(|e| HandlerError::Internal(e.to_string()))?;
    match ctx
        .rb
        .store
        .write(Write {
            table: Table::NOTIFICATIONS,
            key,
            doc: Some(doc),
            expect,
            at: now,
            audit: None,
        })
        .await
    {
        Ok(_) => Ok(true),
        // Someone sent the same notification a moment ago: throttled (never for ERROR/CRITICAL).
        Err(StoreError::Conflict { .. }) => Ok(!matches!(
            n.severity,
            IncidentSeverity::Info | IncidentSeverity::Warning
        )),
        Err(e) => Err(e.into()),
    }
}

/// Builds a notification stamped with the context's clock.
pub fn note(
    ctx: &Ctx,
    ty: NotificationType,
    severity: IncidentSeverity,
    title: String,
    message: String,
    model: Option<&str>,
    details: Value,
) -> Notification {
    Notification {
        notification_type: ty,
        title,
        message,
        model_name: model.map(str::to_string),
        strategy_name: None,
        details,
        severity,
        created_at: ctx.rb.clock.now(),
    }
}
