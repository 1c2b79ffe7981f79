//! Seeded simulation of alert quality: false alerts under no drift, detection under drift.
//!
//! Each trial draws a reference window of N and a current window of M values from a standard
//! normal (the current shifted by `shift` standard deviations), builds a 10-bin quantile profile
//! and compares with tradai's settings and with the naive PSI. Deterministic for a given seed.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use crate::compare::{CompareConfig, Severity, compare_feature};
use crate::engine::{Binning, current_numeric, profile_numeric};

/// One simulated situation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Scenario {
    /// Reference window size.
    pub n_ref: usize,
    /// Current window size.
    pub n_cur: usize,
    /// Mean shift of the current window in reference standard deviations (0 = no drift).
    pub shift: f64,
}

/// The acceptance scenarios.
pub fn default_scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            n_ref: 45,
            n_cur: 12,
            shift: 0.0,
        },
        Scenario {
            n_ref: 100,
            n_cur: 30,
            shift: 0.0,
        },
        Scenario {
            n_ref: 1000,
            n_cur: 200,
            shift: 0.0,
        },
        Scenario {
            n_ref: 45,
            n_cur: 12,
            shift: 2.0,
        },
        Scenario {
            n_ref: 10_000,
            n_cur: 2000,
            shift: 0.2,
        },
    ]
}

/// Alert rates of one method in one scenario (fractions of trials).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct Rates {
    /// Severity `significant` (gated for tradai, raw band for naive).
    pub significant: f64,
    /// Severity `moderate` or `significant`.
    pub moderate_or_worse: f64,
    /// Test rejects "no drift" at alpha (the `significant` flag).
    pub test_rejects: f64,
    /// Mean PSI over trials.
    pub mean_psi: f64,
}

/// Result of one scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioResult {
    /// The scenario.
    pub scenario: Scenario,
    /// Trials run.
    pub trials: usize,
    /// tradai (small-sample bins, smoothing, significance gating).
    pub ours: Rates,
    /// Naive 10-bin quantile PSI with severity from the bands alone.
    pub naive: Rates,
    /// Mean noise level (expected PSI under no drift) reported by tradai.
    pub mean_noise_psi: f64,
}

/// Simulation settings.
#[derive(Debug, Clone)]
pub struct SimulationConfig {
    /// Trials per scenario (≥ 2000 for the documented numbers).
    pub trials: usize,
    /// Master seed.
    pub seed: u64,
    /// Bins of the reference profile.
    pub bins: usize,
    /// tradai's comparison settings.
    pub compare: CompareConfig,
    /// Scenarios to run.
    pub scenarios: Vec<Scenario>,
}

impl Default for SimulationConfig {
    fn default() -> Self {
        Self {
            trials: 2000,
            seed: 42,
            bins: 10,
            compare: CompareConfig::default(),
            scenarios: default_scenarios(),
        }
    }
}

/// Run one scenario.
pub fn run_scenario(
    s: Scenario,
    trials: usize,
    seed: u64,
    bins: usize,
    cfg: &CompareConfig,
) -> ScenarioResult {
    let naive_cfg = CompareConfig {
        thresholds: cfg.thresholds,
        alpha: cfg.alpha,
        permutations: cfg.permutations,
        ..CompareConfig::naive()
    };
    let mut ours = Rates::default();
    let mut naive = Rates::default();
    let mut noise = 0.0;
    let mut r = vec![0.0; s.n_ref];
    let mut c = vec![0.0; s.n_cur];
    for t in 0..trials {
        let mut rng =
            ChaCha8Rng::seed_from_u64(seed ^ (t as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        for x in r.iter_mut() {
            *x = StandardNormal.sample(&mut rng);
        }
        for x in c.iter_mut() {
            let z: f64 = StandardNormal.sample(&mut rng);
            *x = z + s.shift;
        }
        let reference = profile_numeric("x", &r, bins, &Binning::Quantile);
        let current = current_numeric(&reference, &c);
        let trial_cfg = CompareConfig {
            seed: cfg.seed ^ t as u64,
            ..cfg.clone()
        };
        let a = compare_feature(&reference, &current, &trial_cfg);
        let b = compare_feature(
            &reference,
            &current,
            &CompareConfig {
                seed: cfg.seed ^ t as u64,
                ..naive_cfg.clone()
            },
        );
        tally(&mut ours, a.severity, a.significant, a.psi);
        tally(&mut naive, b.raw_severity, b.significant, b.psi);
        noise += a.noise_psi;
    }
    let k = trials.max(1) as f64;
    for rates in [&mut ours, &mut naive] {
        rates.significant /= k;
        rates.moderate_or_worse /= k;
        rates.test_rejects /= k;
        rates.mean_psi /= k;
    }
    ScenarioResult {
        scenario: s,
        trials,
        ours,
        naive,
        mean_noise_psi: noise / k,
    }
}

fn tally(r: &mut Rates, sev: Severity, rejects: bool, psi: f64) {
    if sev == Severity::Significant {
        r.significant += 1.0;
    }
    if sev >= Severity::Moderate {
        r.moderate_or_worse += 1.0;
    }
    if rejects {
        r.test_rejects += 1.0;
    }
    r.mean_psi += psi;
}

/// Run every configured scenario.
pub fn simulate(cfg: &SimulationConfig) -> Vec<ScenarioResult> {
    cfg.scenarios
        .iter()
        .enumerate()
        .map(|(i, s)| {
            run_scenario(
                *s,
                cfg.trials,
                cfg.seed.wrapping_add(i as u64 * 1_000_003),
                cfg.bins,
                &cfg.compare,
            )
        })
        .collect()
}

/// Markdown table of simulation results (percentages).
pub fn render_table(results: &[ScenarioResult]) -> String {
    let mut out = String::from(
        "| N | M | shift (σ) | trials | noise PSI | tradai mean PSI | tradai significant | tradai moderate+ | tradai test rejects | naive mean PSI | naive significant | naive moderate+ |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    let pct = |x: f64| format!("{:.1} %", 100.0 * x);
    for r in results {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {:.3} | {:.3} | {} | {} | {} | {:.3} | {} | {} |\n",
            r.scenario.n_ref,
            r.scenario.n_cur,
            r.scenario.shift,
            r.trials,
            r.mean_noise_psi,
            r.ours.mean_psi,
            pct(r.ours.significant),
            pct(r.ours.moderate_or_worse),
            pct(r.ours.test_rejects),
            r.naive.mean_psi,
            pct(r.naive.significant),
            pct(r.naive.moderate_or_worse),
        ));
    }
    out
}
