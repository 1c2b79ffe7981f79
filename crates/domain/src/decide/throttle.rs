//! Notification throttling (contracts §3 notify): INFO and WARNING at most once per
//! `NOTIFICATION_THROTTLE_MINUTES` per throttle key; ERROR and CRITICAL are never throttled.

use crate::IncidentSeverity;
use chrono::{DateTime, Duration, Utc};

/// The throttle key of a notification: same type, same subject, same severity.
pub fn throttle_key(
    notification_type: &str,
    subject: Option<&str>,
    severity: IncidentSeverity,
) -> String {
    format!("{notification_type}#{}#{severity}", subject.unwrap_or("-"))
}

/// Whether to send now, given when the same key was last sent.
pub fn should_send(
    severity: IncidentSeverity,
    last_sent: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    window: Duration,
) -> bool {
    match severity {
        IncidentSeverity::Error | IncidentSeverity::Critical => true,
        IncidentSeverity::Info | IncidentSeverity::Warning => {
            last_sent.is_none_or(|t| now - t >= window)
        }
    }
}

/// How long a throttle record is kept (the original table's 24 h expiry).
pub fn record_ttl() -> Duration {
    Duration::hours(24)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn info_and_warning_are_throttled_errors_never() {
        let t = Utc.with_ymd_and_hms(2024, 1, 1, 12, 0, 0).unwrap();
        let w = Duration::minutes(5);
        for sev in [IncidentSeverity::Info, IncidentSeverity::Warning] {
            assert!(should_send(sev, None, t, w));
            assert!(!should_send(sev, Some(t - Duration::minutes(4)), t, w));
            assert!(should_send(sev, Some(t - Duration::minutes(5)), t, w));
        }
        for sev in [IncidentSeverity::Error, IncidentSeverity::Critical] {
            assert!(should_send(sev, Some(t), t, w));
        }
        assert_eq!(
            throttle_key("DRIFT_DETECTED", Some("M"), IncidentSeverity::Warning),
            "DRIFT_DETECTED#M#WARNING"
        );
    }
}
