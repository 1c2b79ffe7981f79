//! The [`Evaluator`] port for compare-models and the retraining workflow: champion and
//! challenger backtested on the same (most recent) window of the model's configured data.

use crate::Training;
use async_trait::async_trait;
use tradai_domain::ModelName;
use tradai_ports::{Evaluation, Evaluator};

#[async_trait]
impl Evaluator for Training {
    async fn evaluate(
        &self,
        model: &str,
        champion: u64,
        challenger: u64,
    ) -> Result<Evaluation, String> {
        let m = ModelName::new(model.to_string()).map_err(|e| e.to_string())?;
        let ev = self
            .evaluate_pair(&m, champion, challenger, None, None)
            .await
            .map_err(|e| e.to_string())?;
        Ok(Evaluation {
            window_start: ev.window.from,
            window_end: ev.window.to,
            champion: ev.champion.metrics,
            challenger: ev.challenger.metrics,
        })
    }
}
