//! tradai-runbook
