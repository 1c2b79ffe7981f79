//! Model versions and their stages (`None` → `Staging` → `Production` → `Archived`).

use crate::{Transition, wire_enum};
use serde::{Deserialize, Serialize};

/// A version's stage, spelled as MLflow does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ModelStage {
    None,
    Staging,
    Production,
    Archived,
}

wire_enum!(ModelStage, "model stage", {
    None => "None",
    Staging => "Staging",
    Production => "Production",
    Archived => "Archived",
});

impl Transition for ModelStage {
    const ALL: &'static [Self] = &[
        ModelStage::None,
        ModelStage::Staging,
        ModelStage::Production,
        ModelStage::Archived,
    ];
    const MACHINE: &'static str = "model stage";

    fn allows(self, to: Self) -> bool {
        use ModelStage::*;
        match (self, to) {
            (None, Staging | Production | Archived) => true,
            (Staging, Production | Archived) => true,
            (Production, Archived) => true,
            // Rollback brings an archived version back; it may also be re-staged for a comparison.
            (Archived, Production | Staging) => true,
            _ => false,
        }
    }
}

/// The artifact location of a version, laid out like `s3://tradai-models-{env}/{MODEL}/{VERSION}/`.
pub fn artifact_prefix(model: &str, version: u64) -> String {
    format!("{model}/{version}/")
}

/// The bucket (or local directory) name of the model artifacts for an environment.
pub fn models_bucket(env: &str) -> String {
    format!("tradai-models-{env}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use ModelStage::*;

    #[test]
    fn every_pair_is_decided_as_specified() {
        let legal = [
            (None, Staging),
            (None, Production),
            (None, Archived),
            (Staging, Production),
            (Staging, Archived),
            (Production, Archived),
            (Archived, Production),
            (Archived, Staging),
        ];
        for &from in ModelStage::ALL {
            for &to in ModelStage::ALL {
                let expected = from == to || legal.contains(&(from, to));
                assert_eq!(
                    from.check_transition(to).is_ok(),
                    expected,
                    "{from} -> {to}"
                );
            }
        }
    }

    #[test]
    fn production_cannot_go_back_to_staging() {
        assert!(Production.check_transition(Staging).is_err());
        assert_eq!(
            serde_json::to_string(&Production).unwrap(),
            "\"Production\""
        );
    }
}

/// Why a rollback happened (the model-rollback contract's `reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RollbackReason {
    ManualRequest,
    PerformanceDegradation,
    TestFailure,
    DriftSevere,
}

crate::wire_enum!(RollbackReason, "rollback reason", {
    ManualRequest => "MANUAL_REQUEST",
    PerformanceDegradation => "PERFORMANCE_DEGRADATION",
    TestFailure => "TEST_FAILURE",
    DriftSevere => "DRIFT_SEVERE",
});
