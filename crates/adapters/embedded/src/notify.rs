//! Notification channels: a structured log line, a generic JSON webhook, a Slack webhook.

use async_trait::async_trait;
use serde_json::{Value, json};
use std::time::Duration;
use tradai_domain::IncidentSeverity;
use tradai_ports::{Channel, DeliveryError, Notification};

/// Writes the notification as a `tracing` event: the default channel, never fails.
#[derive(Debug, Default, Clone)]
pub struct LogChannel;

#[async_trait]
impl Channel for LogChannel {
    fn name(&self) -> &str {
        "log"
    }
    async fn deliver(&self, n: &Notification) -> Result<(), DeliveryError> {
        let details = if n.details.is_null() {
            String::new()
        } else {
            n.details.to_string()
        };
        let (ty, model, strategy) = (
            n.notification_type.as_str(),
            n.model_name.as_deref().unwrap_or("-"),
            n.strategy_name.as_deref().unwrap_or("-"),
        );
        match n.severity {
            IncidentSeverity::Info => {
                tracing::info!(target: "tradai::notify", r#type = ty, model, strategy, title = %n.title, details, "{}", n.message)
            }
            IncidentSeverity::Warning => {
                tracing::warn!(target: "tradai::notify", r#type = ty, model, strategy, title = %n.title, details, "{}", n.message)
            }
            IncidentSeverity::Error | IncidentSeverity::Critical => {
                tracing::error!(target: "tradai::notify", r#type = ty, severity = %n.severity, model, strategy, title = %n.title, details, "{}", n.message)
            }
        }
        Ok(())
    }
}

/// POSTs JSON to a URL; 2xx is delivered, anything else is retried by the outbox.
#[derive(Debug, Clone)]
struct Poster {
    url: String,
    agent: ureq::Agent,
}

impl Poster {
    fn new(url: &str, timeout: Duration) -> Self {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .build();
        Poster {
            url: url.to_string(),
            agent: config.into(),
        }
    }

    async fn post(&self, channel: &str, body: Value) -> Result<(), DeliveryError> {
        let this = self.clone();
        let channel = channel.to_string();
        let err = |m: String| DeliveryError {
            channel: channel.clone(),
            message: m,
        };
        let res = tokio::task::spawn_blocking(move || {
            this.agent
                .post(&this.url)
                .header("Content-Type", "application/json")
                .send(body.to_string())
                .map(|r| r.status().as_u16())
        })
        .await
        .map_err(|e| err(format!("delivery task failed: {e}")))?;
        match res {
            Ok(code) if (200..300).contains(&code) => Ok(()),
            Ok(code) => Err(err(format!("{} answered HTTP {code}", self.url))),
            Err(e) => Err(err(format!("{}: {e}", self.url))),
        }
    }
}

/// A generic JSON webhook: the notification as its JSON document.
#[derive(Debug, Clone)]
pub struct WebhookChannel(Poster);

impl WebhookChannel {
    /// A webhook at `url` with a per-request timeout.
    pub fn new(url: &str, timeout: Duration) -> Self {
        WebhookChannel(Poster::new(url, timeout))
    }
}

#[async_trait]
impl Channel for WebhookChannel {
    fn name(&self) -> &str {
        "webhook"
    }
    async fn deliver(&self, n: &Notification) -> Result<(), DeliveryError> {
        let body = serde_json::to_value(n).map_err(|e| DeliveryError {
            channel: "webhook".into(),
            message: e.to_string(),
        })?;
        self.0.post("webhook", body).await
    }
}

/// A Slack-compatible incoming webhook: one attachment coloured by severity.
#[derive(Debug, Clone)]
pub struct SlackChannel(Poster);

impl SlackChannel {
    /// A Slack webhook at `url` with a per-request timeout.
    pub fn new(url: &str, timeout: Duration) -> Self {
        SlackChannel(Poster::new(url, timeout))
    }
}

/// The attachment colour of a severity.
pub fn slack_color(s: IncidentSeverity) -> &'static str {
    match s {
        IncidentSeverity::Info => "#36a64f",
        IncidentSeverity::Warning => "#ff9900",
        IncidentSeverity::Error => "#e01e5a",
        IncidentSeverity::Critical => "#8b0000",
    }
}

/// The Slack message body for a notification.
pub fn slack_payload(n: &Notification) -> Value {
    let mut fields = vec![
        json!({"title": "Type", "value": n.notification_type.as_str(), "short": true}),
        json!({"title": "Severity", "value": n.severity.as_str(), "short": true}),
    ];
    if let Some(m) = &n.model_name {
        fields.push(json!({"title": "Model", "value": m, "short": true}));
    }
    if let Some(s) = &n.strategy_name {
        fields.push(json!({"title": "Strategy", "value": s, "short": true}));
    }
    if let Value::Object(d) = &n.details {
        for (k, v) in d {
            let value = v.as_str().map_or_else(|| v.to_string(), str::to_string);
            fields.push(json!({"title": k, "value": value, "short": true}));
        }
    }
    json!({
        "text": format!("[{}] {}", n.severity.as_str(), n.title),
        "attachments": [{
            "color": slack_color(n.severity),
            "title": n.title,
            "text": n.message,
            "fields": fields,
            "ts": n.created_at.timestamp(),
        }]
    })
}

#[async_trait]
impl Channel for SlackChannel {
    fn name(&self) -> &str {
        "slack"
    }
    async fn deliver(&self, n: &Notification) -> Result<(), DeliveryError> {
        self.0.post("slack", slack_payload(n)).await
    }
}
