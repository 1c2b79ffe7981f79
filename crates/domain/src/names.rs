//! Validated names: environment, model, strategy and actor.
//!
//! Names end up in table names, S3 keys and file paths, so they are restricted to a safe
//! alphabet up front instead of being escaped everywhere.

use crate::DomainError;
use serde::{Deserialize, Serialize};
use std::fmt;

fn check_name(
    field: &'static str,
    s: &str,
    max: usize,
    allow_upper: bool,
) -> Result<(), DomainError> {
    let first_ok = s.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
    let rest_ok = s.chars().all(|c| {
        (c.is_ascii_alphanumeric() && (allow_upper || !c.is_ascii_uppercase()))
            || c == '_'
            || c == '-'
    });
    if s.is_empty() || s.len() > max || !first_ok || !rest_ok {
        let letters = if allow_upper {
            "letters"
        } else {
            "lower-case letters"
        };
        return Err(DomainError::invalid(
            field,
            s,
            format!(
                "must start with a letter and contain only {letters}, digits, '_' or '-' (1-{max} characters)"
            ),
        ));
    }
    Ok(())
}

macro_rules! name_type {
    ($(#[$doc:meta])* $ty:ident, $field:literal, $max:expr, $upper:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $ty(String);

        impl $ty {
            /// Validates and wraps a name.
            pub fn new(s: impl Into<String>) -> Result<Self, DomainError> {
                let s = s.into();
                check_name($field, &s, $max, $upper)?;
                Ok(Self(s))
            }
            /// The name as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl TryFrom<String> for $ty {
            type Error = DomainError;
            fn try_from(s: String) -> Result<Self, DomainError> {
                Self::new(s)
            }
        }
        impl From<$ty> for String {
            fn from(v: $ty) -> String {
                v.0
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl std::str::FromStr for $ty {
            type Err = DomainError;
            fn from_str(s: &str) -> Result<Self, DomainError> {
                Self::new(s)
            }
        }
    };
}

name_type!(
    /// Deployment environment (`dev`, `staging`, `prod`, …): part of every table name.
    Env, "environment", 32, false
);
name_type!(
    /// A model's name, e.g. `PascalStrategy` (the contracts' `model_name`).
    ModelName, "model name", 64, true
);
name_type!(
    /// A strategy's id (the trading state table's key `strategy_id`).
    StrategyId, "strategy id", 64, true
);

/// Who changed something: a person's user name, or `policy` / `system` for automation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Actor(String);

impl Actor {
    /// The response policy acting on its own.
    pub const POLICY: &'static str = "policy";
    /// tradai's own housekeeping (migrations, reconciliation, heartbeats).
    pub const SYSTEM: &'static str = "system";

    /// A person or process by name; empty names become `unknown`.
    pub fn new(s: impl Into<String>) -> Self {
        let s = s.into();
        Actor(if s.trim().is_empty() {
            "unknown".into()
        } else {
            s
        })
    }
    /// The response policy.
    pub fn policy() -> Self {
        Actor(Self::POLICY.into())
    }
    /// tradai itself.
    pub fn system() -> Self {
        Actor(Self::SYSTEM.into())
    }
    /// Whether this actor is the response policy (it may undo only its own pauses).
    pub fn is_policy(&self) -> bool {
        self.0 == Self::POLICY
    }
    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_validated() {
        assert!(ModelName::new("PascalStrategy").is_ok());
        assert!(ModelName::new("model_v2-x").is_ok());
        assert!(ModelName::new("").is_err());
        assert!(ModelName::new("9abc").is_err());
        assert!(ModelName::new("a/b").is_err());
        assert!(ModelName::new("a b").is_err());
        assert!(Env::new("dev").is_ok());
        assert!(Env::new("Prod").is_err());
        let e = StrategyId::new("../x").unwrap_err().to_string();
        assert!(e.contains("strategy id '../x'"), "{e}");
    }

    #[test]
    fn names_roundtrip_serde_and_reject_bad_json() {
        let m: ModelName = serde_json::from_str("\"Abc\"").unwrap();
        assert_eq!(serde_json::to_string(&m).unwrap(), "\"Abc\"");
        assert!(serde_json::from_str::<ModelName>("\"a/b\"").is_err());
    }
}
