//! trading-heartbeat-check (contracts §3): which strategies are stale, and when to alert.

use crate::TradingStatus;
use chrono::{DateTime, Duration, Utc};

/// The health of one strategy at one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Not `warmup` or `running`: not watched.
    Inactive,
    Healthy,
    /// Heartbeat older than the threshold, missing or unparseable.
    Stale,
}

/// Evaluates one strategy. Timestamps may end in `Z` or `+00:00`.
pub fn health(
    status: TradingStatus,
    last_heartbeat: Option<&str>,
    now: DateTime<Utc>,
    threshold: Duration,
) -> Health {
    if !status.is_active() {
        return Health::Inactive;
    }
    let Some(hb) = last_heartbeat else {
        return Health::Stale;
    };
    match DateTime::parse_from_rfc3339(hb.trim()) {
        Ok(t) if now - t.with_timezone(&Utc) <= threshold => Health::Healthy,
        _ => Health::Stale,
    }
}

/// The new consecutive-stale count and whether this check alerts: an alert fires when the count
/// reaches `CONSECUTIVE_FAILURES_THRESHOLD` (once per stale streak); a fresh heartbeat resets it.
pub fn next_count(previous: u32, health: Health, threshold: u32) -> (u32, bool) {
    match health {
        Health::Stale => {
            let n = previous.saturating_add(1);
            (n, n == threshold.max(1))
        }
        Health::Healthy | Health::Inactive => (0, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn staleness_rules() {
        let now = Utc.with_ymd_and_hms(2024, 1, 1, 12, 0, 0).unwrap();
        let th = Duration::minutes(2);
        assert_eq!(
            health(
                TradingStatus::Running,
                Some("2024-01-01T11:59:00Z"),
                now,
                th
            ),
            Health::Healthy
        );
        assert_eq!(
            health(
                TradingStatus::Warmup,
                Some("2024-01-01T11:58:00+00:00"),
                now,
                th
            ),
            Health::Healthy
        );
        assert_eq!(
            health(
                TradingStatus::Running,
                Some("2024-01-01T11:57:59Z"),
                now,
                th
            ),
            Health::Stale
        );
        assert_eq!(health(TradingStatus::Running, None, now, th), Health::Stale);
        assert_eq!(
            health(TradingStatus::Running, Some("garbage"), now, th),
            Health::Stale
        );
        assert_eq!(
            health(TradingStatus::Paused, None, now, th),
            Health::Inactive
        );
    }

    #[test]
    fn alert_after_consecutive_failures_once_and_reset() {
        assert_eq!(next_count(0, Health::Stale, 2), (1, false));
        assert_eq!(next_count(1, Health::Stale, 2), (2, true));
        assert_eq!(next_count(2, Health::Stale, 2), (3, false));
        assert_eq!(next_count(3, Health::Healthy, 2), (0, false));
    }
}
