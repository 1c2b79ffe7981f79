//! Strategy configuration: the model a strategy trades and how much it stakes.

use crate::{DomainError, ModelName, StrategyId};
use serde::{Deserialize, Serialize};

/// A strategy's configuration item (`tradai-strategy-config-{env}`, key `strategy_id`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StrategyConfig {
    pub strategy_id: StrategyId,
    pub model: ModelName,
    pub stake_amount: f64,
    pub max_open_trades: u32,
    pub pairs: Vec<String>,
    pub timeframe: String,
}

/// Checks a stake amount: a finite number above zero.
pub fn validate_stake(stake: f64) -> Result<f64, DomainError> {
    if stake.is_finite() && stake > 0.0 {
        Ok(stake)
    } else {
        Err(DomainError::invalid(
            "stake amount",
            stake,
            "must be a number greater than 0",
        ))
    }
}

/// Checks a timeframe such as `5m`, `1h`, `1d` and returns its length in seconds.
pub fn timeframe_seconds(tf: &str) -> Result<u64, DomainError> {
    let bad = || {
        DomainError::invalid(
            "timeframe",
            tf,
            "expected a number and a unit m, h, d or w (e.g. 1h)",
        )
    };
    let (num, unit) = tf.split_at(tf.len().saturating_sub(1));
    let n: u64 = num.parse().map_err(|_| bad())?;
    let unit_s = match unit {
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return Err(bad()),
    };
    if n == 0 {
        return Err(bad());
    }
    Ok(n * unit_s)
}

/// Checks a trading pair such as `BTC/USDT` or `BTC/USDT:USDT`.
pub fn validate_pair(pair: &str) -> Result<(), DomainError> {
    let ok_part = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric());
    let (base_quote, settle) = match pair.split_once(':') {
        Some((bq, s)) => (bq, Some(s)),
        None => (pair, None),
    };
    let valid = match base_quote.split_once('/') {
        Some((b, q)) => ok_part(b) && ok_part(q) && settle.is_none_or(ok_part),
        None => false,
    };
    if valid {
        Ok(())
    } else {
        Err(DomainError::invalid(
            "pair",
            pair,
            "expected BASE/QUOTE or BASE/QUOTE:SETTLE, e.g. BTC/USDT:USDT",
        ))
    }
}

impl StrategyConfig {
    /// Validates every field; the first bad one is reported.
    pub fn validate(&self) -> Result<(), DomainError> {
        validate_stake(self.stake_amount)?;
        if self.max_open_trades == 0 {
            return Err(DomainError::invalid(
                "max open trades",
                0,
                "must be at least 1",
            ));
        }
        if self.pairs.is_empty() {
            return Err(DomainError::invalid(
                "pairs",
                "",
                "at least one pair is needed",
            ));
        }
        for p in &self.pairs {
            validate_pair(p)?;
        }
        timeframe_seconds(&self.timeframe)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stake_must_be_positive_and_finite() {
        assert!(validate_stake(10.0).is_ok());
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let e = validate_stake(bad).unwrap_err().to_string();
            assert!(e.starts_with("invalid stake amount"), "{e}");
        }
    }

    #[test]
    fn timeframes_and_pairs() {
        assert_eq!(timeframe_seconds("1h").unwrap(), 3600);
        assert_eq!(timeframe_seconds("15m").unwrap(), 900);
        assert!(timeframe_seconds("1x").is_err());
        assert!(timeframe_seconds("h").is_err());
        assert!(timeframe_seconds("0h").is_err());
        assert!(validate_pair("BTC/USDT:USDT").is_ok());
        assert!(validate_pair("ETH/USDT").is_ok());
        assert!(validate_pair("BTCUSDT").is_err());
        assert!(validate_pair("BTC/").is_err());
    }
}
