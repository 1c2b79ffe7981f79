//! Timestamps on the wire: ISO-8601 in UTC, ending in `Z` or `+00:00` (contracts §3).

use crate::DomainError;
use chrono::{DateTime, Duration, SecondsFormat, Utc};

/// Formats a time the way tradai writes it: RFC 3339, UTC, `Z`, fractional seconds only if any.
pub fn fmt_ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Parses an RFC 3339 timestamp with any offset (normalised to UTC), or a bare date
/// (`2024-02-01`, taken as midnight UTC).
pub fn parse_ts(field: &'static str, s: &str) -> Result<DateTime<Utc>, DomainError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        && let Some(t) = d.and_hms_opt(0, 0, 0)
    {
        return Ok(t.and_utc());
    }
    Err(DomainError::invalid(
        field,
        s,
        "expected an ISO-8601 time such as 2024-02-07T12:00:00Z or a date 2024-02-07",
    ))
}

/// Parses a duration such as `90s`, `30m`, `2h`, `7d`, `1w`.
pub fn parse_duration(field: &'static str, s: &str) -> Result<Duration, DomainError> {
    let bad = || {
        DomainError::invalid(
            field,
            s,
            "expected a number and a unit ms, s, m, h, d or w (e.g. 24h, 500ms)",
        )
    };
    let s = s.trim();
    if let Some(ms) = s.strip_suffix("ms") {
        let n: i64 = ms.parse().map_err(|_| bad())?;
        if n < 0 {
            return Err(bad());
        }
        return Duration::try_milliseconds(n).ok_or_else(bad);
    }
    let (num, unit) = s.split_at(s.len().saturating_sub(1));
    let n: i64 = num.parse().map_err(|_| bad())?;
    if n < 0 {
        return Err(bad());
    }
    let secs = match unit {
        "s" => n,
        "m" => n.checked_mul(60).ok_or_else(bad)?,
        "h" => n.checked_mul(3600).ok_or_else(bad)?,
        "d" => n.checked_mul(86_400).ok_or_else(bad)?,
        "w" => n.checked_mul(604_800).ok_or_else(bad)?,
        _ => return Err(bad()),
    };
    Duration::try_seconds(secs).ok_or_else(bad)
}

/// A time given either as a timestamp or as a duration before `now` (`--since 24h`).
pub fn parse_since(
    field: &'static str,
    s: &str,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, DomainError> {
    if let Ok(t) = parse_ts(field, s) {
        return Ok(t);
    }
    parse_duration(field, s).map(|d| now - d).map_err(|_| {
        DomainError::invalid(
            field,
            s,
            "expected an ISO-8601 time (2024-02-07T12:00:00Z) or a duration before now (24h)",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn both_suffixes_parse_and_format_with_z() {
        let a = parse_ts("t", "2024-02-07T12:00:00Z").unwrap();
        let b = parse_ts("t", "2024-02-07T12:00:00+00:00").unwrap();
        assert_eq!(a, b);
        assert_eq!(fmt_ts(a), "2024-02-07T12:00:00Z");
        assert_eq!(
            parse_ts("t", "2024-02-07").unwrap(),
            Utc.with_ymd_and_hms(2024, 2, 7, 0, 0, 0).unwrap()
        );
        assert!(
            parse_ts("last_heartbeat", "yesterday")
                .unwrap_err()
                .to_string()
                .contains("last_heartbeat 'yesterday'")
        );
    }

    #[test]
    fn durations_and_since() {
        assert_eq!(parse_duration("d", "24h").unwrap(), Duration::hours(24));
        assert_eq!(parse_duration("d", "7d").unwrap(), Duration::days(7));
        assert!(parse_duration("d", "7x").is_err());
        assert!(parse_duration("d", "-1h").is_err());
        assert_eq!(
            parse_duration("d", "250ms").unwrap(),
            Duration::milliseconds(250)
        );
        assert_eq!(parse_duration("d", "5m").unwrap(), Duration::minutes(5));
        assert!(parse_duration("d", "-5ms").is_err());
        assert!(parse_duration("d", "ms").is_err());
        let now = Utc.with_ymd_and_hms(2024, 2, 7, 12, 0, 0).unwrap();
        assert_eq!(
            parse_since("since", "2h", now).unwrap(),
            now - Duration::hours(2)
        );
    }
}
