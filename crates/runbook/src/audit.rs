//! The audit log: every change with actor, before, after and reason.

use crate::{Runbook, RunbookError};
use chrono::{DateTime, Utc};
use tradai_ports::{AuditEntry, AuditQuery};

impl Runbook {
    /// Audit entries, oldest first: since a time, about an entity (a strategy, model or
    /// incident name, or `table/key`), the last `limit` of them.
    pub async fn audit(
        &self,
        since: Option<DateTime<Utc>>,
        entity: Option<String>,
        limit: Option<usize>,
    ) -> Result<Vec<AuditEntry>, RunbookError> {
        Ok(self
            .store
            .audit(AuditQuery {
                since,
                entity,
                limit,
            })
            .await?)
    }
}
