//! `tradai demo`: the drift-response runbook end to end on a fresh home, with real components.

use crate::app::{Global, usage};
use crate::output::{emit, fields, out};
use clap::Args;
use std::path::PathBuf;
use tradai_demo::{DemoOptions, DemoReport, TimelineEntry};

#[derive(Debug, Args)]
#[command(
    after_help = "The demo's home (default ./.tradai-demo, or --home) is created, or wiped \
if an earlier demo made it; a directory holding anything else is refused. At the end the demo \
prints the commands that inspect what happened (`tradai --home DIR incident show ID`, …)."
)]
pub struct DemoArgs {
    /// Seed of the market and of training: the same seed tells the same story.
    #[arg(long, default_value_t = 3)]
    pub seed: u64,
    /// Days of market history before the strategy starts (training uses 90 + 14 of them).
    #[arg(long, default_value_t = 120)]
    pub history_days: u32,
    /// Days of live (paper) trading at most.
    #[arg(long, default_value_t = 30)]
    pub live_days: u32,
    /// The regime shift comes this many live days in.
    #[arg(long, default_value_t = 5)]
    pub shift_after_days: u32,
    /// Volatility multiplier of the regime shift.
    #[arg(long, default_value_t = 3.0)]
    pub shift_vol: f64,
    /// Per-candle drift the regime shift adds to log returns.
    #[arg(long, default_value_t = -0.0008, allow_negative_numbers = true)]
    pub shift_drift: f64,
    /// Real milliseconds per market hour (the compressed clock); 0 plays as fast as it can.
    #[arg(long, default_value_t = 60)]
    pub candle_delay_ms: u64,
}

pub async fn run(a: DemoArgs, g: &Global) -> anyhow::Result<u8> {
    // The demo brings its own configuration (written to its home) and environment, so that the
    // inspection commands it prints read the same; say so rather than ignore the flags.
    let mut foreign = Vec::new();
    if g.env != "dev" {
        foreign.push(format!("--env {} (or TRADAI_ENV)", g.env));
    }
    if let Some(c) = &g.config {
        foreign.push(format!("--config {} (or TRADAI_CONFIG)", c.display()));
    }
    for s in &g.set {
        foreign.push(format!("--set {s}"));
    }
    if !foreign.is_empty() {
        return Err(usage(format!(
            "tradai demo runs in environment dev on its own configuration (HOME/tradai.toml), so \
             {} does not apply to it; unset it (use --home to choose where the demo runs)",
            foreign.join(", ")
        )));
    }
    // Only an explicit --home: $TRADAI_HOME is the operator's real state, never the demo's.
    let home = g
        .home
        .clone()
        .unwrap_or_else(|| PathBuf::from(".tradai-demo"));
    let mut opts = DemoOptions::new(home);
    opts.seed = a.seed;
    opts.history_days = a.history_days;
    opts.live_days = a.live_days;
    opts.shift_after_days = a.shift_after_days;
    opts.shift_vol = a.shift_vol;
    opts.shift_drift = a.shift_drift;
    opts.candle_delay = std::time::Duration::from_millis(a.candle_delay_ms);

    let json = g.json;
    let mut lines: Vec<TimelineEntry> = Vec::new();
    let mut print_err: Option<anyhow::Error> = None;
    let mut show = |e: &TimelineEntry| {
        if json {
            lines.push(e.clone());
        } else if print_err.is_none()
            && let Err(err) = out(&format!(
                "{}  {:<14} {}",
                e.at.format("%m-%d %H:%M"),
                e.who,
                e.what
            ))
        {
            print_err = Some(err);
        }
    };
    if !json {
        eprintln!(
            "tradai demo: the drift-response runbook on a compressed market clock (one candle per {} ms)",
            a.candle_delay_ms
        );
    }
    let report = tradai_demo::run(opts, &mut show).await.map_err(|e| {
        if e.is_usage() {
            usage(e.to_string())
        } else {
            anyhow::Error::new(e)
        }
    })?;
    if let Some(e) = print_err {
        return Err(e);
    }
    let doc = serde_json::json!({ "report": &report, "timeline": lines });
    emit(json, &doc, || summary(&report))?;
    Ok(0)
}

fn summary(r: &DemoReport) -> String {
    let outcome = match (&r.outcome, r.challenger) {
        (Some(o), Some(c)) => format!("{o} (challenger v{c} vs champion v{})", r.champion),
        (Some(o), None) => o.clone(),
        _ => "retraining did not finish".into(),
    };
    let mut s = String::from("\nWhat happened\n");
    s.push_str(&fields(&[
        ("highest drift", r.max_severity.clone()),
        (
            "incident",
            r.incident_id.clone().unwrap_or_else(|| "-".into()),
        ),
        ("retraining", outcome),
        ("serving now", format!("{} v{}", r.model, r.serving)),
        (
            "switched at",
            r.switched_at
                .map_or_else(|| "-".into(), tradai_domain::time::fmt_ts),
        ),
        (
            "paper trading",
            format!(
                "{} live candles, {} entries, {} exits",
                r.live_candles, r.entries, r.exits
            ),
        ),
    ]));
    s.push_str("\nLook at it yourself:\n");
    for c in &r.inspect {
        s.push_str(&format!("  {c}\n"));
    }
    s
}
