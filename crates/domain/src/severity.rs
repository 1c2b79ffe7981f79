//! Drift severity bands (contracts §2).

use crate::{DomainError, wire_enum};
use serde::{Deserialize, Serialize};

/// How much a model has drifted. Ordered: `None < Moderate < Significant`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    None,
    Moderate,
    Significant,
}

wire_enum!(Severity, "severity", {
    None => "none",
    Moderate => "moderate",
    Significant => "significant",
});

/// PSI thresholds (`PSI_MODERATE_THRESHOLD`, `PSI_SIGNIFICANT_THRESHOLD`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    pub moderate: f64,
    pub significant: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            moderate: 0.10,
            significant: 0.25,
        }
    }
}

impl Thresholds {
    /// Checked constructor: both finite, `0 < moderate <= significant`.
    pub fn new(moderate: f64, significant: f64) -> Result<Self, DomainError> {
        if !(moderate.is_finite() && moderate > 0.0) {
            return Err(DomainError::invalid(
                "PSI_MODERATE_THRESHOLD",
                moderate,
                "must be a positive number",
            ));
        }
        if !(significant.is_finite() && significant >= moderate) {
            return Err(DomainError::invalid(
                "PSI_SIGNIFICANT_THRESHOLD",
                significant,
                format!("must be a number >= PSI_MODERATE_THRESHOLD ({moderate})"),
            ));
        }
        Ok(Thresholds {
            moderate,
            significant,
        })
    }

    /// Band of a PSI value, boundaries as the runbook's table reads:
    /// none `< moderate`, moderate `moderate <= psi <= significant`, significant `> significant`.
    /// NaN (no data) is `None`.
    pub fn classify(&self, psi: f64) -> Severity {
        if psi.is_nan() || psi < self.moderate {
            Severity::None
        } else if psi <= self.significant {
            Severity::Moderate
        } else {
            Severity::Significant
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn boundaries_as_the_table_reads() {
        let t = Thresholds::default();
        assert_eq!(t.classify(0.0), Severity::None);
        assert_eq!(t.classify(0.099_999), Severity::None);
        assert_eq!(t.classify(0.10), Severity::Moderate);
        assert_eq!(t.classify(0.25), Severity::Moderate);
        assert_eq!(t.classify(0.250_001), Severity::Significant);
        assert_eq!(t.classify(f64::INFINITY), Severity::Significant);
        assert_eq!(t.classify(f64::NAN), Severity::None);
    }

    #[test]
    fn bad_thresholds_are_named() {
        let e = Thresholds::new(0.3, 0.2).unwrap_err().to_string();
        assert!(e.contains("PSI_SIGNIFICANT_THRESHOLD '0.2'"), "{e}");
        assert!(Thresholds::new(-1.0, 0.2).is_err());
    }

    proptest! {
        #[test]
        fn severity_is_monotone_in_psi(a in 0.0f64..2.0, b in 0.0f64..2.0) {
            let t = Thresholds::default();
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            prop_assert!(t.classify(lo) <= t.classify(hi));
        }
    }
}
