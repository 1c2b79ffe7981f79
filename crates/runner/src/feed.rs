//! Candle feeds: where the runner's candles come from.
//!
//! Pacing uses tokio time (`sleep_until` on a schedule fixed at the first paced candle), so a test
//! under `tokio::time::pause()` runs a day of candles in no real time, and `next` is cancel-safe:
//! a `select!` that drops it mid-wait loses no candle and does not shift the schedule.

use crate::error::RunnerError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;
use tokio::time::Instant;
use tradai_market::synth::{SynthConfig, generate};
use tradai_market::{Candle, Timeframe, load_candles};

/// A source of closed candles of one pair, in time order.
#[async_trait]
pub trait CandleFeed: Send + Sync {
    /// The next closed candle, waiting for it if it is not due yet; `None` at the end of the feed.
    /// Must be cancel-safe (the runner drops it when a status poll or shutdown comes first).
    async fn next(&mut self) -> Option<Candle>;
    /// The pair the candles are of (ccxt notation, e.g. `BTC/USDT`).
    fn pair(&self) -> &str;
}

/// How fast a replay runs: `3600x` plays one 1h candle per second; `max` does not wait at all.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speed {
    /// No waiting between candles.
    Max,
    /// Market time runs this many times faster than real time.
    Factor(f64),
}

impl FromStr for Speed {
    type Err = RunnerError;

    /// `max`, or a positive number with an optional `x` (`3600x`, `1x`, `0.5`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("max") {
            return Ok(Speed::Max);
        }
        let num = t.strip_suffix(['x', 'X']).unwrap_or(t);
        match num.parse::<f64>() {
            Ok(f) if f.is_finite() && f > 0.0 => Ok(Speed::Factor(f)),
            _ => Err(RunnerError::Invalid(format!(
                "speed '{s}': expected `max` or a positive factor such as `3600x`"
            ))),
        }
    }
}

impl Speed {
    /// Real time between two candles of `tf`; `None` for `max`.
    pub fn interval(self, tf: Timeframe) -> Option<Duration> {
        match self {
            Speed::Max => None,
            Speed::Factor(f) => Some(Duration::from_secs_f64(tf.secs() as f64 / f)),
        }
    }
}

/// Replays candles at a chosen speed. The first `history` candles are delivered at once: they
/// warm the feature engine up (the runner needs about 300) and are not worth waiting for.
#[derive(Debug, Clone)]
pub struct ReplayFeed {
    pair: String,
    candles: Vec<Candle>,
    pos: usize,
    history: usize,
    interval: Option<Duration>,
    /// When the first paced candle was due (set on first use).
    start: Option<Instant>,
}

impl ReplayFeed {
    /// A replay of `candles` (in time order) of `timeframe` at `speed`.
    pub fn new(pair: &str, candles: Vec<Candle>, timeframe: Timeframe, speed: Speed) -> Self {
        ReplayFeed {
            pair: pair.to_string(),
            candles,
            pos: 0,
            history: 0,
            interval: speed.interval(timeframe),
            start: None,
        }
    }

    /// A replay of a data file (any format `tradai_market::load_candles` reads).
    pub fn from_file(
        path: &Path,
        pair: &str,
        timeframe: Timeframe,
        speed: Speed,
    ) -> Result<Self, RunnerError> {
        Ok(Self::new(pair, load_candles(path)?, timeframe, speed))
    }

    /// Delivers the first `n` candles without waiting (warm-up history).
    pub fn with_history(mut self, n: usize) -> Self {
        self.history = n;
        self
    }

    /// Starts the replay at the first candle opening at or after `t` (skips older ones).
    pub fn starting_at(mut self, t: DateTime<Utc>) -> Self {
        self.pos = self.candles.partition_point(|c| c.ts < t);
        self
    }

    /// Candles not delivered yet.
    pub fn remaining(&self) -> usize {
        self.candles.len().saturating_sub(self.pos)
    }
}

#[async_trait]
impl CandleFeed for ReplayFeed {
    async fn next(&mut self) -> Option<Candle> {
        let c = *self.candles.get(self.pos)?;
        if let (Some(iv), true) = (self.interval, self.pos >= self.history) {
            let start = *self.start.get_or_insert_with(Instant::now);
            let k = u32::try_from(self.pos.saturating_sub(self.history)).unwrap_or(u32::MAX);
            tokio::time::sleep_until(start + iv.saturating_mul(k)).await;
        }
        self.pos += 1;
        Some(c)
    }

    fn pair(&self) -> &str {
        &self.pair
    }
}

/// A synthetic market running live: `history` candles ending at `now` (delivered at once for
/// warm-up), then `live` more, one per timeframe of real time divided by `speed`. Seeded, so the
/// same arguments always give the same market.
pub fn synthetic_live(
    pair: &str,
    timeframe: Timeframe,
    now: DateTime<Utc>,
    history: usize,
    live: usize,
    seed: u64,
    speed: Speed,
) -> Result<ReplayFeed, RunnerError> {
    let tf = timeframe.secs();
    let now_floor = now.timestamp() - now.timestamp().rem_euclid(tf);
    let back = i64::try_from(history)
        .unwrap_or(i64::MAX)
        .saturating_mul(tf);
    let start = DateTime::from_timestamp(now_floor.saturating_sub(back), 0).ok_or_else(|| {
        RunnerError::Invalid(format!("cannot start {history} candles before {now}"))
    })?;
    let mut cfg = SynthConfig::new(timeframe, start, 0, seed);
    cfg.candles = history + live;
    let candles = generate(&cfg, 0)?;
    Ok(ReplayFeed::new(pair, candles, timeframe, speed).with_history(history))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speeds_parse() {
        assert_eq!("max".parse::<Speed>().unwrap(), Speed::Max);
        assert_eq!("3600x".parse::<Speed>().unwrap(), Speed::Factor(3600.0));
        assert_eq!("0.5".parse::<Speed>().unwrap(), Speed::Factor(0.5));
        for bad in ["0x", "-1x", "fast", "x", "NaNx"] {
            assert!(bad.parse::<Speed>().is_err(), "{bad}");
        }
        let h = Timeframe::from_secs(3600).unwrap();
        assert_eq!(
            Speed::Factor(3600.0).interval(h),
            Some(Duration::from_secs(1))
        );
        assert_eq!(Speed::Max.interval(h), None);
    }
}
