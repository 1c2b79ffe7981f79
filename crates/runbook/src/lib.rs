//! The runbook's state steps as operations over the ports.
//!
//! Every operation is a read, a decision in `tradai-domain`, and conditional single-item writes
//! each carrying an audit entry — retried on a conflicting concurrent write, so two operators (or
//! an operator and the policy) never lose each other's changes.
//!
//! Architecture invariant: no I/O except through the ports; "now" comes from the injected clock.
#![forbid(unsafe_code)]

pub mod audit;
pub mod config;
pub mod drift;
pub mod error;
pub mod experiments;
pub mod incidents;
pub mod records;
pub mod registry;
pub mod retraining;
mod store_ext;
pub mod strategy;
pub mod trading;

pub use config::Config;
pub use error::RunbookError;
pub use records::*;

use std::sync::Arc;
use tradai_ports::{ArtifactStore, Clock, StateStore};

/// The runbook's operations, bound to one environment's state and artifacts.
#[derive(Clone)]
pub struct Runbook {
    pub store: Arc<dyn StateStore>,
    pub artifacts: Arc<dyn ArtifactStore>,
    pub clock: Arc<dyn Clock>,
    pub config: Arc<Config>,
}

impl Runbook {
    /// Wires the ports together.
    pub fn new(
        store: Arc<dyn StateStore>,
        artifacts: Arc<dyn ArtifactStore>,
        clock: Arc<dyn Clock>,
        config: Arc<Config>,
    ) -> Self {
        Runbook {
            store,
            artifacts,
            clock,
            config,
        }
    }

    /// The environment of the bound store.
    pub fn env(&self) -> &str {
        self.store.env()
    }
}
