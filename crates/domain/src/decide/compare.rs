//! compare-models (contracts §3): challenger against champion on the same backtest window.
//!
//! Rules and weights: `profit_total` challenger > champion (high, 3); `sharpe_ratio` ≥ (high, 3);
//! `max_drawdown` ≤ (medium, 2; drawdown as a positive fraction, lower is better); `win_rate`
//! ≥ 0.9 × champion (low, 1).
//!
//! Confidence formula: `score = Σ weight·passed / Σ weight` (0..1, the weighted share of rules
//! that favour the challenger).
//! - `PROMOTE` when `score ≥ MIN_CONFIDENCE_THRESHOLD` **and** the profit rule passes;
//!   confidence = `score`.
//! - `KEEP` when `score ≤ 1 − MIN_CONFIDENCE_THRESHOLD` (the rules clearly favour the champion);
//!   confidence = `1 − score`.
//! - `INVESTIGATE` otherwise (mixed results); confidence = `max(score, 1 − score)`.
//! - Any missing or non-finite metric → `KEEP` with confidence 0 (never promote on bad data).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The comparison verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Verdict {
    Promote,
    Keep,
    Investigate,
}

crate::wire_enum!(Verdict, "comparison decision", {
    Promote => "PROMOTE",
    Keep => "KEEP",
    Investigate => "INVESTIGATE",
});

/// One rule's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleResult {
    pub metric: String,
    pub champion: f64,
    pub challenger: f64,
    pub weight: f64,
    pub passed: bool,
    pub rule: String,
}

/// The comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub decision: Verdict,
    pub confidence: f64,
    /// Percent change of `profit_total` relative to the champion's magnitude; None if the
    /// champion's profit is 0.
    pub profit_improvement: Option<f64>,
    pub recommendation: String,
    pub rules: Vec<RuleResult>,
}

const RULES: [(&str, f64, &str); 4] = [
    ("profit_total", 3.0, "challenger > champion"),
    ("sharpe_ratio", 3.0, "challenger >= champion"),
    ("max_drawdown", 2.0, "challenger <= champion"),
    ("win_rate", 1.0, "challenger >= 0.9 x champion"),
];

fn round(x: f64, digits: i32) -> f64 {
    let p = 10f64.powi(digits);
    (x * p).round() / p
}

/// Compares metrics; `min_confidence` is `MIN_CONFIDENCE_THRESHOLD`.
pub fn compare(
    champion: &BTreeMap<String, f64>,
    challenger: &BTreeMap<String, f64>,
    min_confidence: f64,
) -> Comparison {
    let mut rules = Vec::new();
    for (metric, weight, rule) in RULES {
        let (Some(&a), Some(&b)) = (champion.get(metric), challenger.get(metric)) else {
            return keep_on_error(format!(
                "metric '{metric}' is missing for the {}",
                if champion.contains_key(metric) {
                    "challenger"
                } else {
                    "champion"
                }
            ));
        };
        if !a.is_finite() || !b.is_finite() {
            return keep_on_error(format!(
                "metric '{metric}' is not a finite number (champion {a}, challenger {b})"
            ));
        }
        let passed = match metric {
            "profit_total" => b > a,
            "sharpe_ratio" => b >= a,
            "max_drawdown" => b.abs() <= a.abs(),
            _ => b >= 0.9 * a,
        };
        rules.push(RuleResult {
            metric: metric.into(),
            champion: a,
            challenger: b,
            weight,
            passed,
            rule: rule.into(),
        });
    }
    let total: f64 = rules.iter().map(|r| r.weight).sum();
    let score = rules
        .iter()
        .filter(|r| r.passed)
        .map(|r| r.weight)
        .sum::<f64>()
        / total;
    let profit_ok = rules[0].passed;
    let (champ_p, chal_p) = (rules[0].champion, rules[0].challenger);
    let profit_improvement =
        (champ_p != 0.0).then(|| round((chal_p - champ_p) / champ_p.abs() * 100.0, 2));
    let failed: Vec<&str> = rules
        .iter()
        .filter(|r| !r.passed)
        .map(|r| r.metric.as_str())
        .collect();
    let (decision, confidence, recommendation) = if score >= min_confidence && profit_ok {
        (
            Verdict::Promote,
            score,
            format!(
                "Promote the challenger: it wins {} of {} weighted rules",
                score_text(score),
                RULES.len()
            ),
        )
    } else if score <= 1.0 - min_confidence {
        (
            Verdict::Keep,
            1.0 - score,
            format!(
                "Keep the champion: the challenger is worse on {}",
                failed.join(", ")
            ),
        )
    } else {
        (
            Verdict::Investigate,
            score.max(1.0 - score),
            format!(
                "Mixed results: the challenger is worse on {}; review before promoting",
                failed.join(", ")
            ),
        )
    };
    Comparison {
        decision,
        confidence: round(confidence, 4),
        profit_improvement,
        recommendation,
        rules,
    }
}

fn score_text(score: f64) -> String {
    format!("{:.0}%", score * 100.0)
}

fn keep_on_error(why: String) -> Comparison {
    Comparison {
        decision: Verdict::Keep,
        confidence: 0.0,
        profit_improvement: None,
        recommendation: format!("Keep the champion: comparison failed ({why})"),
        rules: vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: f64, s: f64, dd: f64, w: f64) -> BTreeMap<String, f64> {
        [
            ("profit_total", p),
            ("sharpe_ratio", s),
            ("max_drawdown", dd),
            ("win_rate", w),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    #[test]
    fn better_on_everything_promotes_with_full_confidence() {
        let c = compare(&m(100.0, 1.0, 0.2, 0.5), &m(115.5, 1.2, 0.15, 0.55), 0.7);
        assert_eq!(
            (c.decision, c.confidence, c.profit_improvement),
            (Verdict::Promote, 1.0, Some(15.5))
        );
    }

    #[test]
    fn weights_decide_mixed_cases() {
        // Only win rate fails: 8/9 → promote.
        let c = compare(&m(100.0, 1.0, 0.2, 0.5), &m(110.0, 1.1, 0.1, 0.3), 0.7);
        assert_eq!(c.decision, Verdict::Promote);
        assert!((c.confidence - 8.0 / 9.0).abs() < 1e-4);
        // Profit up but sharpe and drawdown worse: 4/9 → investigate.
        let c = compare(&m(100.0, 1.0, 0.2, 0.5), &m(110.0, 0.8, 0.3, 0.5), 0.7);
        assert_eq!(c.decision, Verdict::Investigate);
        // Profit down, everything else better: 6/9 = 0.667 — never promote without profit.
        let c = compare(&m(100.0, 1.0, 0.2, 0.5), &m(90.0, 1.1, 0.1, 0.5), 0.6);
        assert_eq!(c.decision, Verdict::Investigate);
        // Worse on everything: keep.
        let c = compare(&m(100.0, 1.0, 0.2, 0.5), &m(50.0, 0.5, 0.4, 0.2), 0.7);
        assert_eq!((c.decision, c.confidence), (Verdict::Keep, 1.0));
        // Equal sharpe and drawdown pass (>=, <=); equal profit does not (>).
        let c = compare(&m(100.0, 1.0, 0.2, 0.5), &m(100.0, 1.0, 0.2, 0.45), 0.7);
        assert_eq!(
            c.rules.iter().map(|r| r.passed).collect::<Vec<_>>(),
            vec![false, true, true, true]
        );
    }

    #[test]
    fn errors_keep_the_champion() {
        let mut chal = m(1.0, 1.0, 0.1, 0.5);
        chal.remove("sharpe_ratio");
        let c = compare(&m(1.0, 1.0, 0.1, 0.5), &chal, 0.7);
        assert_eq!(c.decision, Verdict::Keep);
        assert!(
            c.recommendation
                .contains("'sharpe_ratio' is missing for the challenger")
        );
        let c = compare(&m(1.0, f64::NAN, 0.1, 0.5), &m(1.0, 1.0, 0.1, 0.5), 0.7);
        assert_eq!(c.decision, Verdict::Keep);
        assert_eq!(
            compare(&m(0.0, 1.0, 0.1, 0.5), &m(1.0, 1.0, 0.1, 0.5), 0.7).profit_improvement,
            None
        );
    }
}
