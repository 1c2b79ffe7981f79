//! Schedule expressions as EventBridge writes them: `rate(1 hour)`, `rate(5 minutes)`,
//! `cron(0 12 * * ? *)` (minutes hours day-of-month month day-of-week year, UTC).
//!
//! Cron fields take `*`, `?`, numbers, lists `a,b`, ranges `a-b`, steps `*/n` and `a/n`, month
//! names `JAN`–`DEC` and day names `SUN`–`SAT` (day-of-week 1 = Sunday, as in EventBridge).

use crate::DomainError;
use chrono::{DateTime, Datelike, Duration, Timelike, Utc};

/// A parsed schedule.
#[derive(Debug, Clone, PartialEq)]
pub enum Schedule {
    /// Every so often, counted from the daemon's start.
    Rate(Duration),
    /// At matching minutes.
    Cron(Box<Cron>),
}

/// The fields of a cron expression, as sets of allowed values.
#[derive(Debug, Clone, PartialEq)]
pub struct Cron {
    minutes: Vec<bool>,
    hours: Vec<bool>,
    days: Vec<bool>,
    months: Vec<bool>,
    /// Index 0 = Sunday.
    weekdays: Vec<bool>,
    /// Empty = any year.
    years: Vec<i32>,
    day_any: bool,
    weekday_any: bool,
}

fn bad(expr: &str, why: impl Into<String>) -> DomainError {
    DomainError::invalid("schedule", expr, why)
}

fn parse_rate(expr: &str, body: &str) -> Result<Schedule, DomainError> {
    let mut it = body.split_whitespace();
    let (Some(n), Some(unit), None) = (it.next(), it.next(), it.next()) else {
        return Err(bad(expr, "expected rate(N unit), e.g. rate(1 hour)"));
    };
    let n: i64 = n
        .parse()
        .map_err(|_| bad(expr, "the rate must be a whole number"))?;
    if n <= 0 {
        return Err(bad(expr, "the rate must be at least 1"));
    }
    let secs = match unit.trim_end_matches('s') {
        "second" => 1,
        "minute" => 60,
        "hour" => 3600,
        "day" => 86_400,
        _ => return Err(bad(expr, "unit must be minute(s), hour(s) or day(s)")),
    };
    Ok(Schedule::Rate(Duration::seconds(n * secs)))
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

fn value(expr: &str, s: &str, names: &[&str], base: u32) -> Result<u32, DomainError> {
    if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(s)) {
        return Ok(i as u32 + base);
    }
    s.parse()
        .map_err(|_| bad(expr, format!("'{s}' is not a number")))
}

/// Parses one field into a set over `lo..=hi`.
fn field(
    expr: &str,
    f: &str,
    lo: u32,
    hi: u32,
    names: &[&str],
    name_base: u32,
) -> Result<(Vec<bool>, bool), DomainError> {
    let mut set = vec![false; (hi + 1) as usize];
    if f == "*" || f == "?" {
        for v in lo..=hi {
            set[v as usize] = true;
        }
        return Ok((set, true));
    }
    for part in f.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (
                r,
                s.parse::<u32>()
                    .map_err(|_| bad(expr, format!("bad step in '{part}'")))?,
            ),
            None => (part, 1),
        };
        if step == 0 {
            return Err(bad(expr, format!("step 0 in '{part}'")));
        }
        let (a, b) = if range == "*" {
            (lo, hi)
        } else if let Some((a, b)) = range.split_once('-') {
            (
                value(expr, a, names, name_base)?,
                value(expr, b, names, name_base)?,
            )
        } else {
            let a = value(expr, range, names, name_base)?;
            (a, if part.contains('/') { hi } else { a })
        };
        if a < lo || b > hi || a > b {
            return Err(bad(expr, format!("'{part}' is outside {lo}-{hi}")));
        }
        let mut v = a;
        while v <= b {
            set[v as usize] = true;
            v += step;
        }
    }
    Ok((set, false))
}

impl Schedule {
    /// Parses `rate(…)` or `cron(…)`.
    pub fn parse(expr: &str) -> Result<Schedule, DomainError> {
        let e = expr.trim();
        if let Some(body) = e.strip_prefix("rate(").and_then(|b| b.strip_suffix(')')) {
            return parse_rate(expr, body);
        }
        let Some(body) = e.strip_prefix("cron(").and_then(|b| b.strip_suffix(')')) else {
            return Err(bad(expr, "expected rate(…) or cron(…)"));
        };
        let f: Vec<&str> = body.split_whitespace().collect();
        if f.len() != 6 {
            return Err(bad(
                expr,
                "cron needs 6 fields: minutes hours day-of-month month day-of-week year",
            ));
        }
        let (minutes, _) = field(expr, f[0], 0, 59, &[], 0)?;
        let (hours, _) = field(expr, f[1], 0, 23, &[], 0)?;
        let (days, day_any) = field(expr, f[2], 1, 31, &[], 0)?;
        let (months, _) = field(expr, f[3], 1, 12, &MONTHS, 1)?;
        let (wd1, weekday_any) = field(expr, f[4], 1, 7, &DAYS, 1)?;
        if !day_any && !weekday_any {
            return Err(bad(
                expr,
                "day-of-month and day-of-week cannot both be set; use ? in one of them",
            ));
        }
        let weekdays = (1..=7).map(|d| wd1[d]).collect();
        let years = if f[5] == "*" || f[5] == "?" {
            vec![]
        } else {
            f[5].split(',')
                .map(|y| {
                    y.parse::<i32>()
                        .map_err(|_| bad(expr, format!("bad year '{y}'")))
                })
                .collect::<Result<_, _>>()?
        };
        Ok(Schedule::Cron(Box::new(Cron {
            minutes,
            hours,
            days,
            months,
            weekdays,
            years,
            day_any,
            weekday_any,
        })))
    }

    /// The first time strictly after `after` at which the schedule fires; for a rate, `after +
    /// rate` (the daemon counts from its last run). None if a cron never fires again.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Schedule::Rate(d) => Some(after + *d),
            Schedule::Cron(c) => c.next_after(after),
        }
    }
}

impl Cron {
    fn matches(&self, t: DateTime<Utc>) -> bool {
        let day_ok = match (self.day_any, self.weekday_any) {
            (true, true) => true,
            (false, _) => self.days[t.day() as usize],
            (true, false) => self.weekdays[t.weekday().num_days_from_sunday() as usize],
        };
        self.minutes[t.minute() as usize]
            && self.hours[t.hour() as usize]
            && self.months[t.month() as usize]
            && day_ok
            && (self.years.is_empty() || self.years.contains(&t.year()))
    }

    fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let start = after.with_second(0)?.with_nanosecond(0)? + Duration::minutes(1);
        // Search day by day for a matching date, then minute by minute inside it (bounded: 5 years).
        let mut day = start.date_naive();
        for _ in 0..(366 * 5) {
            let first = if day == start.date_naive() {
                start
            } else {
                day.and_hms_opt(0, 0, 0)?.and_utc()
            };
            let noon = day.and_hms_opt(12, 0, 0)?.and_utc();
            let date_ok = {
                let probe = Cron {
                    minutes: vec![true; 60],
                    hours: vec![true; 24],
                    ..self.clone()
                };
                probe.matches(noon)
            };
            if date_ok {
                let mut t = first;
                while t.date_naive() == day {
                    if self.matches(t) {
                        return Some(t);
                    }
                    t += Duration::minutes(1);
                }
            }
            day = day.succ_opt()?;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    #[test]
    fn rates() {
        assert_eq!(
            Schedule::parse("rate(1 hour)").unwrap(),
            Schedule::Rate(Duration::hours(1))
        );
        assert_eq!(
            Schedule::parse("rate(5 minutes)").unwrap(),
            Schedule::Rate(Duration::minutes(5))
        );
        assert!(Schedule::parse("rate(0 hours)").is_err());
        assert!(Schedule::parse("rate(1 fortnight)").is_err());
        let e = Schedule::parse("every hour").unwrap_err().to_string();
        assert!(e.contains("schedule 'every hour'"), "{e}");
    }

    #[test]
    fn cron_next_fire_times() {
        let daily_noon = Schedule::parse("cron(0 12 * * ? *)").unwrap();
        assert_eq!(
            daily_noon.next_after(t(2024, 1, 1, 11, 59)),
            Some(t(2024, 1, 1, 12, 0))
        );
        assert_eq!(
            daily_noon.next_after(t(2024, 1, 1, 12, 0)),
            Some(t(2024, 1, 2, 12, 0))
        );
        let every_15 = Schedule::parse("cron(*/15 * * * ? *)").unwrap();
        assert_eq!(
            every_15.next_after(t(2024, 1, 1, 10, 7)),
            Some(t(2024, 1, 1, 10, 15))
        );
        // Mondays at 08:30 (MON = 2).
        let monday = Schedule::parse("cron(30 8 ? * MON *)").unwrap();
        assert_eq!(
            monday.next_after(t(2024, 1, 3, 0, 0)),
            Some(t(2024, 1, 8, 8, 30))
        );
        let first_of_month = Schedule::parse("cron(0 0 1 * ? *)").unwrap();
        assert_eq!(
            first_of_month.next_after(t(2024, 1, 15, 0, 0)),
            Some(t(2024, 2, 1, 0, 0))
        );
        let past = Schedule::parse("cron(0 0 1 1 ? 2020)").unwrap();
        assert_eq!(past.next_after(t(2024, 1, 1, 0, 0)), None);
    }

    #[test]
    fn bad_cron_is_named() {
        for e in [
            "cron(0 12 * *)",
            "cron(61 * * * ? *)",
            "cron(0 12 1 * MON *)",
            "cron(0 12 * * ? x)",
            "cron(*/0 * * * ? *)",
        ] {
            assert!(Schedule::parse(e).is_err(), "{e}");
        }
    }
}
