//! Long/flat backtester with fees, slippage, stake amount and `max_open_trades`.
//!
//! # Timing (no look-ahead)
//! A signal is computed from candle `t` once it has closed and acted on at the *open* of candle
//! `t + 1`. So a trade's prices only ever come from candles after the signal that caused it, and
//! changing candles after `t` cannot change signals or trades decided up to `t`.
//!
//! # Money
//! Entry: `rate = open * (1 + slippage)`, `amount = stake / rate`, cash pays `stake * (1 + fee)`.
//! Exit: `rate = open * (1 - slippage)`, cash receives `amount * rate * (1 - fee)`.
//! `profit_abs = received - stake * (1 + fee)`, `profit_ratio = profit_abs / stake`.
//! Trades still open after the last candle are closed at its close (`exit_reason = end_of_data`).
//!
//! # Metrics ([`BacktestMetrics`])
//! - `profit_total`: `(final_balance - starting_balance) / starting_balance` (ratio);
//!   `profit_total_pct` is the same in percent; `profit_total_abs` in quote currency.
//! - `win_rate`: winning trades (profit_abs > 0) / trades, 0 with no trades.
//! - `sharpe_ratio`, `sortino`: from per-candle returns of the marked-to-market equity,
//!   annualised with `sqrt(periods per year)` of the timeframe; `sortino` divides the mean by the
//!   downside deviation `sqrt(mean(min(r, 0)^2))`. Both are 0 when the denominator is 0.
//! - `max_drawdown`: largest peak-to-trough fall of equity as a fraction of the peak (0..1).
//! - `trades`: closed trades. `profit_factor`: gross profit / gross loss, 0 when there is no
//!   losing trade (freqtrade's convention, keeps the value finite for JSON).
//! - `avg_trade_duration`: mean holding time in **seconds** (entry open → exit time).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tradai_market::{Candle, Timeframe};

use crate::error::MlError;

/// What a strategy says at the close of a candle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Signal {
    /// Nothing to do.
    Hold,
    /// Enter long at the next open if flat.
    Enter,
    /// Exit at the next open if long.
    Exit,
}

/// How much each trade commits.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum StakeAmount {
    /// A fixed amount of quote currency per trade.
    Fixed(f64),
    /// freqtrade's `"unlimited"`: available cash split over the free trade slots (compounding).
    Unlimited(UnlimitedStake),
}

/// Marker for [`StakeAmount::Unlimited`]; serialises as the string `"unlimited"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnlimitedStake {
    /// The only value.
    Unlimited,
}

/// Backtest parameters (freqtrade names where they exist).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BacktestConfig {
    /// Candle period, for annualising ratios.
    pub timeframe: Timeframe,
    /// Starting wallet in quote currency (freqtrade's `dry_run_wallet`).
    pub starting_balance: f64,
    /// Stake per trade.
    pub stake_amount: StakeAmount,
    /// Fee per side as a fraction of notional (0.001 = 0.1%).
    pub fee: f64,
    /// Adverse price move per fill as a fraction (0.0005 = 5 bps).
    pub slippage: f64,
    /// Maximum simultaneous open trades across pairs.
    pub max_open_trades: usize,
}

impl BacktestConfig {
    /// 1000 quote wallet, unlimited stake, 0.1% fee, 5 bps slippage, one trade at a time.
    pub fn new(timeframe: Timeframe) -> Self {
        Self {
            timeframe,
            starting_balance: 1_000.0,
            stake_amount: StakeAmount::Unlimited(UnlimitedStake::Unlimited),
            fee: 0.001,
            slippage: 0.0005,
            max_open_trades: 1,
        }
    }

    fn validate(&self) -> Result<(), MlError> {
        let ok = self.starting_balance.is_finite()
            && self.starting_balance > 0.0
            && (0.0..0.5).contains(&self.fee)
            && (0.0..0.5).contains(&self.slippage)
            && self.max_open_trades > 0
            && match self.stake_amount {
                StakeAmount::Fixed(s) => s.is_finite() && s > 0.0,
                StakeAmount::Unlimited(_) => true,
            };
        if ok {
            Ok(())
        } else {
            Err(MlError::Config(
                "backtest needs starting_balance > 0, 0 <= fee < 0.5, 0 <= slippage < 0.5, \
                 max_open_trades >= 1 and a positive stake"
                    .into(),
            ))
        }
    }
}

/// One pair's candles and the signal computed at each candle's close (same length).
#[derive(Debug, Clone, Copy)]
pub struct PairInput<'a> {
    /// Pair name, copied into trades.
    pub pair: &'a str,
    /// Candles in time order.
    pub candles: &'a [Candle],
    /// Signal at the close of each candle.
    pub signals: &'a [Signal],
}

/// A closed trade.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trade {
    /// Pair traded.
    pub pair: String,
    /// Entry time (open of the entry candle).
    pub open_date: DateTime<Utc>,
    /// Exit time (open of the exit candle, or close of the last candle).
    pub close_date: DateTime<Utc>,
    /// Entry price after slippage.
    pub open_rate: f64,
    /// Exit price after slippage.
    pub close_rate: f64,
    /// Base amount bought.
    pub amount: f64,
    /// Quote committed (before fees).
    pub stake_amount: f64,
    /// Profit in quote currency after fees.
    pub profit_abs: f64,
    /// `profit_abs / stake_amount`.
    pub profit_ratio: f64,
    /// `exit_signal` or `end_of_data`.
    pub exit_reason: String,
}

/// Summary metrics; see the module docs for exact definitions and units.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BacktestMetrics {
    /// Total profit as a ratio of the starting balance.
    pub profit_total: f64,
    /// `profit_total` in percent.
    pub profit_total_pct: f64,
    /// Total profit in quote currency.
    pub profit_total_abs: f64,
    /// Winning trades / trades.
    pub win_rate: f64,
    /// Annualised Sharpe ratio of per-candle equity returns.
    pub sharpe_ratio: f64,
    /// Annualised Sortino ratio of per-candle equity returns.
    pub sortino: f64,
    /// Largest relative peak-to-trough equity fall (0..1).
    pub max_drawdown: f64,
    /// Closed trades.
    pub trades: usize,
    /// Gross profit / gross loss (0 when no losing trade).
    pub profit_factor: f64,
    /// Mean trade duration in seconds.
    pub avg_trade_duration: f64,
    /// Starting balance.
    pub starting_balance: f64,
    /// Final balance.
    pub final_balance: f64,
    /// Candles (time steps) simulated.
    pub candles: usize,
}

/// Trades and metrics of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BacktestResult {
    /// Closed trades in closing order.
    pub trades: Vec<Trade>,
    /// Summary.
    pub metrics: BacktestMetrics,
}

#[derive(Debug, Clone, Copy)]
struct Position {
    open_date: DateTime<Utc>,
    open_rate: f64,
    amount: f64,
    stake: f64,
}

#[derive(Debug, Clone, Copy, Default)]
struct PairState {
    cursor: usize,
    position: Option<Position>,
    pending_enter: bool,
    pending_exit: bool,
    last_close: f64,
}

/// Run a backtest over one or more pairs (timelines merged by timestamp).
pub fn backtest(cfg: &BacktestConfig, pairs: &[PairInput<'_>]) -> Result<BacktestResult, MlError> {
    cfg.validate()?;
    for p in pairs {
        if p.candles.len() != p.signals.len() {
            return Err(MlError::Config(format!(
                "{}: {} candles but {} signals",
                p.pair,
                p.candles.len(),
                p.signals.len()
            )));
        }
    }
    let mut st: Vec<PairState> = vec![PairState::default(); pairs.len()];
    let mut cash = cfg.starting_balance;
    let mut open_trades = 0usize;
    let mut trades = Vec::new();
    let mut stats = EquityStats::new(cfg.starting_balance);
    let mut active: Vec<usize> = Vec::with_capacity(pairs.len());
    let mut steps = 0usize;

    loop {
        // Next timestamp across pairs.
        let mut now: Option<DateTime<Utc>> = None;
        for (k, p) in pairs.iter().enumerate() {
            if let Some(c) = p.candles.get(st[k].cursor) {
                now = Some(now.map_or(c.ts, |n| n.min(c.ts)));
            }
        }
        let Some(now) = now else { break };
        active.clear();
        active.extend((0..pairs.len()).filter(|&k| {
            pairs[k]
                .candles
                .get(st[k].cursor)
                .is_some_and(|c| c.ts == now)
        }));

        // At the open: exits first (they free slots and cash), then entries.
        for &k in &active {
            let c = &pairs[k].candles[st[k].cursor];
            let s = &mut st[k];
            if s.pending_exit
                && let Some(pos) = s.position.take()
            {
                cash += close_trade(
                    &mut trades,
                    pairs[k].pair,
                    pos,
                    c.ts,
                    c.open,
                    cfg,
                    "exit_signal",
                );
                open_trades -= 1;
            }
            s.pending_exit = false;
        }
        for &k in &active {
            let c = &pairs[k].candles[st[k].cursor];
            let s = &mut st[k];
            if s.pending_enter && s.position.is_none() && open_trades < cfg.max_open_trades {
                let stake = match cfg.stake_amount {
                    StakeAmount::Fixed(x) => x,
                    StakeAmount::Unlimited(_) => {
                        cash / (cfg.max_open_trades - open_trades) as f64 / (1.0 + cfg.fee)
                    }
                };
                let fill = entry_fill(c.open, stake, cfg.fee, cfg.slippage);
                if stake > 0.0
                    && fill.cost <= cash * (1.0 + 1e-12)
                    && fill.rate.is_finite()
                    && fill.rate > 0.0
                {
                    cash -= fill.cost;
                    s.position = Some(Position {
                        open_date: c.ts,
                        open_rate: fill.rate,
                        amount: fill.amount,
                        stake,
                    });
                    open_trades += 1;
                }
            }
            s.pending_enter = false;
        }
        // At the close: read the signal, mark to market.
        let mut equity = cash;
        for &k in &active {
            let i = st[k].cursor;
            let c = &pairs[k].candles[i];
            let s = &mut st[k];
            if c.close.is_finite() {
                s.last_close = c.close;
            }
            match pairs[k].signals[i] {
                Signal::Enter if s.position.is_none() => s.pending_enter = true,
                Signal::Exit if s.position.is_some() => s.pending_exit = true,
                _ => {}
            }
            s.cursor += 1;
        }
        for s in &st {
            if let Some(pos) = &s.position {
                equity += pos.amount * s.last_close;
            }
        }
        stats.push(equity);
        steps += 1;
    }
    // Close whatever is still open at the last known close.
    for (k, s) in st.iter_mut().enumerate() {
        if let (Some(pos), Some(last)) = (s.position.take(), pairs[k].candles.last()) {
            cash += close_trade(
                &mut trades,
                pairs[k].pair,
                pos,
                last.ts + cfg.timeframe.duration(),
                s.last_close,
                cfg,
                "end_of_data",
            );
        }
    }
    if steps > 0 {
        stats.replace_last(cash);
    }
    let metrics = summarise(cfg, &trades, &stats, cash, steps);
    Ok(BacktestResult { trades, metrics })
}

/// An entry under the backtester's cost model (see the module docs, "Money").
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EntryFill {
    /// Price paid per unit: the quoted price moved against us by the slippage.
    pub rate: f64,
    /// Base amount bought: `stake / rate`.
    pub amount: f64,
    /// Quote currency spent including the entry fee: `stake * (1 + fee)`.
    pub cost: f64,
}

/// An exit under the backtester's cost model (see the module docs, "Money").
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExitFill {
    /// Price received per unit: the quoted price moved against us by the slippage.
    pub rate: f64,
    /// Quote currency received after the exit fee.
    pub received: f64,
    /// `received - stake * (1 + fee)`: profit after both fees.
    pub profit_abs: f64,
    /// `profit_abs / stake`.
    pub profit_ratio: f64,
}

/// Fills an entry of `stake` quote currency at the quoted `price`. Public so the paper-trading
/// runner charges exactly what the backtester charges: a model's live and backtested P&L then
/// differ only by the market, never by bookkeeping.
pub fn entry_fill(price: f64, stake: f64, fee: f64, slippage: f64) -> EntryFill {
    let rate = price * (1.0 + slippage);
    EntryFill {
        rate,
        amount: stake / rate,
        cost: stake * (1.0 + fee),
    }
}

/// Fills an exit of `amount` (bought for `stake`) at the quoted `price`; the counterpart of
/// [`entry_fill`], shared with the paper-trading runner for the same reason.
pub fn exit_fill(price: f64, amount: f64, stake: f64, fee: f64, slippage: f64) -> ExitFill {
    let rate = price * (1.0 - slippage);
    let received = amount * rate * (1.0 - fee);
    let profit_abs = received - stake * (1.0 + fee);
    ExitFill {
        rate,
        received,
        profit_abs,
        profit_ratio: profit_abs / stake,
    }
}

fn close_trade(
    trades: &mut Vec<Trade>,
    pair: &str,
    pos: Position,
    when: DateTime<Utc>,
    price: f64,
    cfg: &BacktestConfig,
    reason: &str,
) -> f64 {
    let fill = exit_fill(price, pos.amount, pos.stake, cfg.fee, cfg.slippage);
    trades.push(Trade {
        pair: pair.to_string(),
        open_date: pos.open_date,
        close_date: when,
        open_rate: pos.open_rate,
        close_rate: fill.rate,
        amount: pos.amount,
        stake_amount: pos.stake,
        profit_abs: fill.profit_abs,
        profit_ratio: fill.profit_ratio,
        exit_reason: reason.to_string(),
    });
    fill.received
}

/// Streaming statistics of the equity curve (no per-candle allocation).
#[derive(Debug, Clone)]
struct EquityStats {
    prev: f64,
    last_before: f64,
    last_ret: f64,
    n: usize,
    sum: f64,
    sum_sq: f64,
    down_sq: f64,
    peak: f64,
    max_dd: f64,
}

impl EquityStats {
    fn new(start: f64) -> Self {
        Self {
            prev: start,
            last_before: start,
            last_ret: 0.0,
            n: 0,
            sum: 0.0,
            sum_sq: 0.0,
            down_sq: 0.0,
            peak: start,
            max_dd: 0.0,
        }
    }

    fn push(&mut self, e: f64) {
        let r = if self.prev > 0.0 {
            e / self.prev - 1.0
        } else {
            0.0
        };
        self.add(r);
        self.last_before = self.prev;
        self.last_ret = r;
        self.prev = e;
        self.peak = self.peak.max(e);
        if self.peak > 0.0 {
            self.max_dd = self.max_dd.max((self.peak - e) / self.peak);
        }
    }

    fn add(&mut self, r: f64) {
        self.n += 1;
        self.sum += r;
        self.sum_sq += r * r;
        let d = r.min(0.0);
        self.down_sq += d * d;
    }

    fn remove(&mut self, r: f64) {
        self.n -= 1;
        self.sum -= r;
        self.sum_sq -= r * r;
        let d = r.min(0.0);
        self.down_sq -= d * d;
    }

    /// Replace the last equity point (after the end-of-data exit costs).
    fn replace_last(&mut self, e: f64) {
        self.remove(self.last_ret);
        self.prev = self.last_before;
        self.push(e);
    }
}

fn summarise(
    cfg: &BacktestConfig,
    trades: &[Trade],
    eq: &EquityStats,
    final_balance: f64,
    steps: usize,
) -> BacktestMetrics {
    let n = trades.len();
    let wins = trades.iter().filter(|t| t.profit_abs > 0.0).count();
    let gross_win: f64 = trades.iter().map(|t| t.profit_abs.max(0.0)).sum();
    let gross_loss: f64 = trades.iter().map(|t| (-t.profit_abs).max(0.0)).sum();
    let dur: f64 = trades
        .iter()
        .map(|t| (t.close_date - t.open_date).num_seconds() as f64)
        .sum();
    let ann = cfg.timeframe.periods_per_year().sqrt();
    let (sharpe, sortino) = if eq.n > 1 {
        let nf = eq.n as f64;
        let mean = eq.sum / nf;
        let var = ((eq.sum_sq - nf * mean * mean) / (nf - 1.0)).max(0.0);
        let sd = var.sqrt();
        let dd = (eq.down_sq.max(0.0) / nf).sqrt();
        let ratio = |den: f64| if den > 1e-15 { mean / den * ann } else { 0.0 };
        (ratio(sd), ratio(dd))
    } else {
        (0.0, 0.0)
    };
    let profit_abs = final_balance - cfg.starting_balance;
    let profit_total = profit_abs / cfg.starting_balance;
    BacktestMetrics {
        profit_total,
        profit_total_pct: profit_total * 100.0,
        profit_total_abs: profit_abs,
        win_rate: if n > 0 { wins as f64 / n as f64 } else { 0.0 },
        sharpe_ratio: sharpe,
        sortino,
        max_drawdown: eq.max_dd,
        trades: n,
        profit_factor: if gross_loss > 0.0 {
            gross_win / gross_loss
        } else {
            0.0
        },
        avg_trade_duration: if n > 0 { dur / n as f64 } else { 0.0 },
        starting_balance: cfg.starting_balance,
        final_balance,
        candles: steps,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candle(h: i64, open: f64, close: f64) -> Candle {
        Candle {
            ts: DateTime::from_timestamp(1_704_067_200 + h * 3600, 0).unwrap(),
            open,
            high: open.max(close),
            low: open.min(close),
            close,
            volume: 1.0,
        }
    }

    fn cfg() -> BacktestConfig {
        let mut c = BacktestConfig::new("1h".parse().unwrap());
        c.stake_amount = StakeAmount::Fixed(100.0);
        c.fee = 0.001;
        c.slippage = 0.0;
        c
    }

    #[test]
    fn one_trade_by_hand() {
        // Enter signal at close of candle 0 -> buy at open of 1 (100);
        // exit signal at close of 2 -> sell at open of 3 (110).
        let cs = vec![
            candle(0, 95.0, 100.0),
            candle(1, 100.0, 105.0),
            candle(2, 105.0, 110.0),
            candle(3, 110.0, 111.0),
        ];
        let sig = [Signal::Enter, Signal::Hold, Signal::Exit, Signal::Hold];
        let r = backtest(
            &cfg(),
            &[PairInput {
                pair: "BTC/USDT",
                candles: &cs,
                signals: &sig,
            }],
        )
        .unwrap();
        assert_eq!(r.trades.len(), 1);
        let t = &r.trades[0];
        assert_eq!(t.open_rate, 100.0);
        assert_eq!(t.close_rate, 110.0);
        // amount 1; received 110 * 0.999 = 109.89; paid 100.1 -> profit 9.79.
        assert!((t.profit_abs - 9.79).abs() < 1e-9, "{}", t.profit_abs);
        let m = &r.metrics;
        assert!((m.profit_total_abs - 9.79).abs() < 1e-9);
        assert!((m.profit_total - 0.00979).abs() < 1e-12);
        assert!((m.profit_total_pct - 0.979).abs() < 1e-9);
        assert_eq!(m.trades, 1);
        assert_eq!(m.win_rate, 1.0);
        assert_eq!(m.profit_factor, 0.0);
        assert_eq!(m.avg_trade_duration, 7200.0);
        assert_eq!(m.candles, 4);
    }

    #[test]
    fn slippage_fee_end_of_data_and_drawdown() {
        let mut c = cfg();
        c.slippage = 0.01;
        let cs = vec![
            candle(0, 100.0, 100.0),
            candle(1, 100.0, 80.0),
            candle(2, 80.0, 90.0),
        ];
        let sig = [Signal::Enter, Signal::Hold, Signal::Hold];
        let r = backtest(
            &c,
            &[PairInput {
                pair: "X",
                candles: &cs,
                signals: &sig,
            }],
        )
        .unwrap();
        let t = &r.trades[0];
        assert_eq!(t.exit_reason, "end_of_data");
        assert!((t.open_rate - 101.0).abs() < 1e-12);
        assert!((t.close_rate - 89.1).abs() < 1e-12);
        // Equity after candle 1: 1000 - 100.1 + (100/101)*80.
        let e1 = 1000.0 - 100.1 + 100.0 / 101.0 * 80.0;
        assert!((r.metrics.max_drawdown - (1000.0 - e1) / 1000.0).abs() < 1e-12);
        assert!(r.metrics.profit_factor == 0.0 && r.metrics.win_rate == 0.0);
        assert!((r.metrics.final_balance - (1000.0 + t.profit_abs)).abs() < 1e-9);
    }

    #[test]
    fn max_open_trades_limits_pairs() {
        let cs = vec![
            candle(0, 100.0, 100.0),
            candle(1, 100.0, 101.0),
            candle(2, 101.0, 102.0),
        ];
        let sig = [Signal::Enter, Signal::Hold, Signal::Hold];
        let pairs = [
            PairInput {
                pair: "A",
                candles: &cs,
                signals: &sig,
            },
            PairInput {
                pair: "B",
                candles: &cs,
                signals: &sig,
            },
        ];
        let r = backtest(&cfg(), &pairs).unwrap();
        assert_eq!(r.trades.len(), 1);
        let mut c2 = cfg();
        c2.max_open_trades = 2;
        assert_eq!(backtest(&c2, &pairs).unwrap().trades.len(), 2);
    }

    #[test]
    fn no_trades_no_nan_and_bad_config_is_error() {
        let cs = vec![candle(0, 100.0, 100.0), candle(1, 100.0, 101.0)];
        let sig = [Signal::Hold; 2];
        let r = backtest(
            &cfg(),
            &[PairInput {
                pair: "A",
                candles: &cs,
                signals: &sig,
            }],
        )
        .unwrap();
        let v = serde_json::to_value(&r.metrics).unwrap();
        for k in [
            "profit_total",
            "profit_total_pct",
            "win_rate",
            "sharpe_ratio",
            "sortino",
            "max_drawdown",
            "trades",
            "profit_factor",
            "avg_trade_duration",
        ] {
            assert!(v[k].as_f64().is_some_and(|x| x == 0.0), "{k}: {}", v[k]);
        }
        let mut bad = cfg();
        bad.max_open_trades = 0;
        assert!(backtest(&bad, &[]).is_err());
        assert!(
            backtest(
                &cfg(),
                &[PairInput {
                    pair: "A",
                    candles: &cs,
                    signals: &sig[..1]
                }]
            )
            .is_err()
        );
    }

    #[test]
    fn stake_amount_serde_matches_freqtrade() {
        let u: StakeAmount = serde_json::from_str("\"unlimited\"").unwrap();
        assert_eq!(u, StakeAmount::Unlimited(UnlimitedStake::Unlimited));
        let f: StakeAmount = serde_json::from_str("50").unwrap();
        assert_eq!(f, StakeAmount::Fixed(50.0));
    }
}
