//! check-retraining-needed (contracts §3): the decision order, exactly.
//!
//! 1. name format valid and in `ALLOWED_MODELS` (empty = all), else `invalid_model`;
//! 2. `force` or `manual_trigger` → `needs_retraining` / `manual`;
//! 3. hours since last retrain < `MIN_HOURS_BETWEEN_RETRAINING` → `recently_trained`;
//! 4. significant drift → `needs_retraining` / `drift_detected`;
//! 5. days since last ≥ `RETRAINING_INTERVAL_DAYS`, or never retrained → `needs_retraining` / `scheduled`;
//! 6. otherwise `no_retraining`.

use crate::{ModelName, Severity};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    NeedsRetraining,
    RecentlyTrained,
    NoRetraining,
    InvalidModel,
}

/// Why retraining is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    Manual,
    DriftDetected,
    Scheduled,
}

crate::wire_enum!(Trigger, "trigger", {
    Manual => "manual",
    DriftDetected => "drift_detected",
    Scheduled => "scheduled",
});

/// The knobs the rule reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    pub allowed_models: Vec<String>,
    pub min_hours_between_retraining: f64,
    pub retraining_interval_days: f64,
}

/// The facts about one model.
#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    pub model_name: String,
    pub force: bool,
    pub manual_trigger: bool,
    pub last_retrained: Option<DateTime<Utc>>,
    /// The latest drift severity (already gated on significance) and PSI, if any.
    pub drift: Option<(Severity, Option<f64>)>,
    pub now: DateTime<Utc>,
}

/// The check-retraining-needed output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub model_name: String,
    pub decision: Decision,
    pub trigger: Option<Trigger>,
    pub reason: String,
    pub hours_since_retrain: Option<f64>,
    pub days_since_retrain: Option<i64>,
    pub drift_severity: Option<Severity>,
    pub drift_psi: Option<f64>,
}

/// Applies the decision order.
pub fn decide(f: &Facts, r: &Rules) -> Outcome {
    let hours = f
        .last_retrained
        .map(|t| (f.now - t).num_milliseconds() as f64 / 3_600_000.0);
    let mut out = Outcome {
        model_name: f.model_name.clone(),
        decision: Decision::NoRetraining,
        trigger: None,
        reason: String::new(),
        hours_since_retrain: hours.map(|h| (h * 10.0).round() / 10.0),
        days_since_retrain: hours.map(|h| (h / 24.0).floor() as i64),
        drift_severity: f.drift.map(|d| d.0),
        drift_psi: f.drift.and_then(|d| d.1),
    };
    let set = |out: &mut Outcome, d, t, reason: String| {
        out.decision = d;
        out.trigger = t;
        out.reason = reason;
    };
    if let Err(e) = ModelName::new(f.model_name.clone()) {
        set(&mut out, Decision::InvalidModel, None, e.to_string());
        return out;
    }
    if !r.allowed_models.is_empty() && !r.allowed_models.iter().any(|m| m == &f.model_name) {
        set(
            &mut out,
            Decision::InvalidModel,
            None,
            format!("Model '{}' is not in ALLOWED_MODELS", f.model_name),
        );
        return out;
    }
    if f.force || f.manual_trigger {
        let why = if f.force {
            "Forced retraining requested"
        } else {
            "Manual retraining requested"
        };
        set(
            &mut out,
            Decision::NeedsRetraining,
            Some(Trigger::Manual),
            why.into(),
        );
        return out;
    }
    if let Some(h) = hours
        && h < r.min_hours_between_retraining
    {
        set(
            &mut out,
            Decision::RecentlyTrained,
            None,
            format!(
                "Retrained {h:.1} hours ago (minimum {} hours between retraining)",
                r.min_hours_between_retraining
            ),
        );
        return out;
    }
    if let Some((Severity::Significant, psi)) = f.drift {
        let psi = psi.map_or("n/a".to_string(), |p| format!("{p:.3}"));
        set(
            &mut out,
            Decision::NeedsRetraining,
            Some(Trigger::DriftDetected),
            format!("Significant drift detected (PSI={psi})"),
        );
        return out;
    }
    match hours {
        None => set(
            &mut out,
            Decision::NeedsRetraining,
            Some(Trigger::Scheduled),
            "No previous retraining recorded".into(),
        ),
        Some(h) if h >= r.retraining_interval_days * 24.0 => set(
            &mut out,
            Decision::NeedsRetraining,
            Some(Trigger::Scheduled),
            format!(
                "Last retrained {:.1} days ago (interval {} days)",
                h / 24.0,
                r.retraining_interval_days
            ),
        ),
        Some(h) => set(
            &mut out,
            Decision::NoRetraining,
            None,
            format!(
                "No retraining needed (last retrained {:.1} days ago)",
                h / 24.0
            ),
        ),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 2, 7, 12, 0, 0).unwrap()
    }
    fn rules() -> Rules {
        Rules {
            allowed_models: vec![],
            min_hours_between_retraining: 24.0,
            retraining_interval_days: 7.0,
        }
    }
    fn facts(ago: Option<Duration>, drift: Option<(Severity, Option<f64>)>) -> Facts {
        Facts {
            model_name: "PascalStrategy".into(),
            force: false,
            manual_trigger: false,
            last_retrained: ago.map(|d| now() - d),
            drift,
            now: now(),
        }
    }
    fn d(f: &Facts) -> (Decision, Option<Trigger>) {
        let o = decide(f, &rules());
        (o.decision, o.trigger)
    }
    use Decision::*;

    #[test]
    fn decision_table_with_every_boundary() {
        let sig = Some((Severity::Significant, Some(0.35)));
        let modr = Some((Severity::Moderate, Some(0.2)));
        let cases: Vec<(Facts, (Decision, Option<Trigger>))> = vec![
            (
                facts(Some(Duration::hours(1)), sig),
                (RecentlyTrained, None),
            ),
            (
                facts(Some(Duration::hours(24) - Duration::milliseconds(1)), sig),
                (RecentlyTrained, None),
            ),
            // Exactly 24 h is no longer "recent".
            (
                facts(Some(Duration::hours(24)), sig),
                (NeedsRetraining, Some(Trigger::DriftDetected)),
            ),
            // Moderate drift never triggers by itself.
            (facts(Some(Duration::hours(30)), modr), (NoRetraining, None)),
            (
                facts(Some(Duration::days(7) - Duration::milliseconds(1)), None),
                (NoRetraining, None),
            ),
            // Exactly 7 days is due.
            (
                facts(Some(Duration::days(7)), None),
                (NeedsRetraining, Some(Trigger::Scheduled)),
            ),
            (
                facts(Some(Duration::days(7)), modr),
                (NeedsRetraining, Some(Trigger::Scheduled)),
            ),
            (
                facts(None, None),
                (NeedsRetraining, Some(Trigger::Scheduled)),
            ),
            (
                facts(None, sig),
                (NeedsRetraining, Some(Trigger::DriftDetected)),
            ),
        ];
        for (f, want) in cases {
            assert_eq!(d(&f), want, "{f:?}");
        }
    }

    #[test]
    fn force_and_manual_win_over_cooldown_but_not_over_invalid_names() {
        let mut f = facts(Some(Duration::hours(1)), None);
        f.force = true;
        assert_eq!(d(&f), (NeedsRetraining, Some(Trigger::Manual)));
        f.force = false;
        f.manual_trigger = true;
        assert_eq!(d(&f), (NeedsRetraining, Some(Trigger::Manual)));
        f.model_name = "bad name".into();
        assert_eq!(d(&f), (InvalidModel, None));
        let mut f = facts(None, None);
        f.force = true;
        let r = Rules {
            allowed_models: vec!["Other".into()],
            ..rules()
        };
        let o = decide(&f, &r);
        assert_eq!(o.decision, InvalidModel);
        assert!(o.reason.contains("ALLOWED_MODELS"));
    }

    #[test]
    fn reason_and_numbers_match_the_contract() {
        let o = decide(
            &facts(
                Some(Duration::minutes(168 * 60 + 30)),
                Some((Severity::Significant, Some(0.35))),
            ),
            &rules(),
        );
        assert_eq!(o.reason, "Significant drift detected (PSI=0.350)");
        assert_eq!(o.hours_since_retrain, Some(168.5));
        assert_eq!(o.days_since_retrain, Some(7));
        let j = serde_json::to_value(&o).unwrap();
        assert_eq!(j["decision"], "needs_retraining");
        assert_eq!(j["trigger"], "drift_detected");
        assert_eq!(j["drift_severity"], "significant");
    }
}
