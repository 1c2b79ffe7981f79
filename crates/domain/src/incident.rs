//! Incidents: the record of one drift episode from alert to resolution.

use crate::{Transition, wire_enum};
use serde::{Deserialize, Serialize};

/// Where an incident is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IncidentStatus {
    Open,
    Mitigated,
    Resolved,
}

wire_enum!(IncidentStatus, "incident status", {
    Open => "open",
    Mitigated => "mitigated",
    Resolved => "resolved",
});

impl Transition for IncidentStatus {
    const ALL: &'static [Self] = &[
        IncidentStatus::Open,
        IncidentStatus::Mitigated,
        IncidentStatus::Resolved,
    ];
    const MACHINE: &'static str = "incident status";

    fn allows(self, to: Self) -> bool {
        use IncidentStatus::*;
        matches!(
            (self, to),
            (Open, Mitigated)
                | (Open, Resolved)
                | (Mitigated, Resolved)
                | (Mitigated, Open)
                | (Resolved, Open)
        )
    }
}

/// How bad an incident is (the notify contract's severities).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum IncidentSeverity {
    Info,
    Warning,
    Error,
    Critical,
}

wire_enum!(IncidentSeverity, "severity", {
    Info => "INFO",
    Warning => "WARNING",
    Error => "ERROR",
    Critical => "CRITICAL",
});

#[cfg(test)]
mod tests {
    use super::*;
    use IncidentStatus::*;

    #[test]
    fn every_pair_is_decided_as_specified() {
        let legal = [
            (Open, Mitigated),
            (Open, Resolved),
            (Mitigated, Resolved),
            (Mitigated, Open),
            (Resolved, Open),
        ];
        for &from in IncidentStatus::ALL {
            for &to in IncidentStatus::ALL {
                let expected = from == to || legal.contains(&(from, to));
                assert_eq!(
                    from.check_transition(to).is_ok(),
                    expected,
                    "{from} -> {to}"
                );
            }
        }
    }
}
