//! PSI, its noise level and p-value, severity and the per-feature / overall report.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::binning::merge_groups;
use crate::profile::{EdgeMethod, FeatureKind, FeatureProfile, NumericSummary, Profile};
use crate::stats::chi2_sf;

/// Severity bands and thresholds are the domain's (contracts §2), so the engine and the
/// control plane can never disagree on a boundary.
pub use tradai_domain::{Severity, Thresholds};

/// How per-feature PSI values are combined into `overall_psi`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregate {
    /// Mean over features (contracts default).
    #[default]
    Mean,
    /// Maximum over features.
    Max,
}

/// How bin shares are computed from counts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "rule")]
pub enum ShareRule {
    /// Add-α (Laplace/Jeffreys) smoothing on bins that are non-empty on either side:
    /// `share = (count + α) / (n + α·B)`.
    Smoothed {
        /// Pseudo-count added to every active bin.
        alpha: f64,
    },
    /// Evidently: `share = count / n`, zero shares replaced by 0.0001 (or by the smallest
    /// non-zero share / 10⁶ when that is ≤ 0.0001), each side separately.
    EvidentlyFill,
}

/// Comparison settings. `Default` is tradai's honest mode; [`CompareConfig::naive`] is the plain
/// 10-bin PSI for comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompareConfig {
    /// Severity thresholds.
    pub thresholds: Thresholds,
    /// Significance level for the drift test (default 0.01).
    pub alpha: f64,
    /// Only report a severity above `none` when p < alpha (default true).
    pub gate: bool,
    /// Aggregation of per-feature PSI.
    pub aggregate: Aggregate,
    /// Share computation.
    pub shares: ShareRule,
    /// Merge adjacent numeric bins so the smaller window expects at least this many values per
    /// bin (0 disables). Default 4 (chosen with the simulation, see docs/psi.md).
    pub min_expected_per_bin: f64,
    /// Monte Carlo permutations for small samples (default 2000).
    pub permutations: usize,
    /// Seed of the permutation test (results are deterministic for a given seed).
    pub seed: u64,
    /// Below this many rows in either window the feature is `insufficient_data` (MIN_SAMPLES).
    pub min_samples: u64,
    /// Use the asymptotic χ² p-value when every pooled expected count in the smaller window is at
    /// least this (default 10: stricter than Cochran's 5, which was measurably anti-conservative
    /// for PSI at N=100, M=30); otherwise permutations.
    pub asymptotic_min_expected: f64,
}

impl Default for CompareConfig {
    fn default() -> Self {
        Self {
            thresholds: Thresholds::default(),
            alpha: 0.01,
            gate: true,
            aggregate: Aggregate::Mean,
            shares: ShareRule::Smoothed { alpha: 0.5 },
            min_expected_per_bin: 4.0,
            permutations: 2000,
            seed: 0x0007_ada1,
            min_samples: 10,
            asymptotic_min_expected: 10.0,
        }
    }
}

impl CompareConfig {
    /// The naive PSI many tools compute: all profile bins, Evidently-style zero fill, severity
    /// from the PSI bands alone. p-values are still reported.
    pub fn naive() -> Self {
        Self {
            gate: false,
            shares: ShareRule::EvidentlyFill,
            min_expected_per_bin: 0.0,
            ..Self::default()
        }
    }
}

/// What a bin covers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum BinLabel {
    /// Numeric range `[lo, hi)`; `None` is unbounded (−inf / +inf).
    Range {
        /// Lower edge (inclusive), `None` = −inf.
        lo: Option<f64>,
        /// Upper edge (exclusive), `None` = +inf.
        hi: Option<f64>,
    },
    /// A reference category.
    Category {
        /// The category value.
        value: String,
    },
    /// Categories absent from the reference.
    Unseen,
    /// Null / NaN.
    Missing,
}

impl std::fmt::Display for BinLabel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BinLabel::Range { lo, hi } => {
                let lo = lo.map_or("-inf".to_owned(), |v| format!("{v:.4}"));
                let hi = hi.map_or("+inf".to_owned(), |v| format!("{v:.4}"));
                write!(f, "[{lo}, {hi})")
            }
            BinLabel::Category { value } => write!(f, "{value}"),
            BinLabel::Unseen => f.write_str("(unseen)"),
            BinLabel::Missing => f.write_str("(missing)"),
        }
    }
}

/// One bin of a comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BinDrift {
    /// What the bin covers.
    pub bin: BinLabel,
    /// Reference count.
    pub ref_count: u64,
    /// Current count.
    pub cur_count: u64,
    /// Reference share used in the formula (after smoothing / fill).
    pub ref_share: f64,
    /// Current share used in the formula.
    pub cur_share: f64,
    /// `(cur − ref) · ln(cur / ref)`.
    pub contribution: f64,
}

/// How the p-value was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PValueMethod {
    /// `PSI·N·M/(N+M)` against χ²(B−1).
    ChiSquare,
    /// Monte Carlo permutation of the pooled bin counts (exact conditional test up to Monte
    /// Carlo error; seeded).
    Permutation,
    /// No test possible (an empty window or a single bin).
    None,
}

/// Whether a feature could be analysed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeatureStatus {
    /// Compared normally.
    Analyzed,
    /// Fewer than `min_samples` rows in a window: no alert.
    InsufficientData,
}

/// Drift of one feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureDrift {
    /// Feature name.
    pub name: String,
    /// Numeric or categorical.
    pub kind: FeatureKind,
    /// Analysed or insufficient data.
    pub status: FeatureStatus,
    /// Population Stability Index.
    pub psi: f64,
    /// Severity after significance gating (what alerts use).
    pub severity: Severity,
    /// Severity from the PSI bands alone.
    pub raw_severity: Severity,
    /// p < alpha: the distributions differ beyond sampling noise.
    pub significant: bool,
    /// p-value of "no drift".
    pub p_value: f64,
    /// How the p-value was computed.
    pub p_value_method: PValueMethod,
    /// Expected PSI under no drift for these sample sizes and bins: `(B−1)·(1/N + 1/M)`.
    pub noise_psi: f64,
    /// Test statistic `PSI·N·M/(N+M)` (≈ χ²(df) under no drift).
    pub statistic: f64,
    /// Degrees of freedom (bins used − 1).
    pub df: usize,
    /// Bins in the profile (value bins).
    pub bins_profile: usize,
    /// Bins used after small-sample merging (missing / unseen included when present).
    pub bins_used: usize,
    /// Reference rows (missing included).
    pub n_ref: u64,
    /// Current rows (missing included).
    pub n_cur: u64,
    /// Share of missing values in the reference.
    pub missing_share_ref: f64,
    /// Share of missing values in the current window.
    pub missing_share_cur: f64,
    /// Per-bin breakdown.
    pub bins: Vec<BinDrift>,
    /// Reference statistics (numeric).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<NumericSummary>,
    /// Current statistics (numeric).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<NumericSummary>,
    /// Sample sizes were divided by this for the test (autocorrelated time series, see
    /// [`crate::stats::design_effect`]); 1 = independent rows (not serialised).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub design_effect: f64,
}

fn one() -> f64 {
    1.0
}

fn is_one(x: &f64) -> bool {
    *x == 1.0
}

/// Drift over all features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftReport {
    /// PSI aggregated as configured.
    pub overall_psi: f64,
    /// Aggregation used.
    pub aggregate: Aggregate,
    /// Largest feature PSI.
    pub max_psi: f64,
    /// Overall severity (see docs/psi.md: band of `overall_psi`, capped by the worst gated
    /// feature severity when gating is on).
    pub severity: Severity,
    /// Share of analysed features whose gated severity is not `none`.
    pub drifted_share: f64,
    /// Number of features with a significant test (p < alpha).
    pub significant_features: usize,
    /// Feature names by PSI, highest first.
    pub ranking: Vec<String>,
    /// Significance level used.
    pub alpha: f64,
    /// Whether severities were gated on significance.
    pub gated: bool,
    /// Thresholds used.
    pub thresholds: Thresholds,
    /// Per-feature results, highest PSI first.
    pub features: Vec<FeatureDrift>,
}

/// Shares of one side under a share rule, for the active bins.
fn shares(counts: &[u64], rule: ShareRule) -> Vec<f64> {
    let n: u64 = counts.iter().sum();
    match rule {
        ShareRule::Smoothed { alpha } => {
            let denom = n as f64 + alpha * counts.len() as f64;
            if denom <= 0.0 {
                return vec![0.0; counts.len()];
            }
            counts.iter().map(|&c| (c as f64 + alpha) / denom).collect()
        }
        ShareRule::EvidentlyFill => {
            if n == 0 {
                return vec![0.0; counts.len()];
            }
            let mut s: Vec<f64> = counts.iter().map(|&c| c as f64 / n as f64).collect();
            let min_nz = s
                .iter()
                .copied()
                .filter(|&v| v > 0.0)
                .fold(f64::INFINITY, f64::min);
            let fill = if min_nz <= 0.0001 {
                min_nz / 1e6
            } else {
                0.0001
            };
            for v in &mut s {
                if *v == 0.0 {
                    *v = fill;
                }
            }
            s
        }
    }
}

/// PSI of two count vectors over the same bins: `Σ (cur − ref) · ln(cur / ref)` on shares.
///
/// With [`ShareRule::Smoothed`] only bins non-empty on at least one side take part.
pub fn psi_counts(ref_counts: &[u64], cur_counts: &[u64], rule: ShareRule) -> f64 {
    let (r, c): (Vec<u64>, Vec<u64>) = match rule {
        ShareRule::Smoothed { .. } => ref_counts
            .iter()
            .zip(cur_counts)
            .filter(|(a, b)| **a + **b > 0)
            .map(|(a, b)| (*a, *b))
            .unzip(),
        ShareRule::EvidentlyFill => (ref_counts.to_vec(), cur_counts.to_vec()),
    };
    let rs = shares(&r, rule);
    let cs = shares(&c, rule);
    rs.iter().zip(&cs).map(|(&p, &q)| contribution(p, q)).sum()
}

fn contribution(p: f64, q: f64) -> f64 {
    if p > 0.0 && q > 0.0 {
        (q - p) * (q / p).ln()
    } else {
        0.0
    }
}

/// Monte Carlo permutation p-value on binned counts: the pooled counts are fixed, the smaller
/// window is redrawn without replacement, and PSI is recomputed. `p = (1 + #{psi* ≥ psi}) / (R + 1)`.
pub fn permutation_p_value(
    ref_counts: &[u64],
    cur_counts: &[u64],
    rule: ShareRule,
    permutations: usize,
    rng: &mut impl Rng,
) -> f64 {
    let observed = psi_counts(ref_counts, cur_counts, rule);
    let n: u64 = ref_counts.iter().sum();
    let m: u64 = cur_counts.iter().sum();
    let pooled: Vec<u64> = ref_counts
        .iter()
        .zip(cur_counts)
        .map(|(a, b)| a + b)
        .collect();
    let total = n + m;
    let draw_cur = m <= n;
    let k = n.min(m);
    let mut drawn = vec![0u64; pooled.len()];
    let mut other = vec![0u64; pooled.len()];
    let mut remaining = pooled.clone();
    let mut exceed = 0usize;
    let tol = 1e-12 * observed.abs().max(1e-12);
    for _ in 0..permutations {
        drawn.iter_mut().for_each(|d| *d = 0);
        remaining.copy_from_slice(&pooled);
        let mut left = total;
        for _ in 0..k {
            let mut u = rng.random_range(0..left);
            for (i, r) in remaining.iter_mut().enumerate() {
                if u < *r {
                    *r -= 1;
                    drawn[i] += 1;
                    break;
                }
                u -= *r;
            }
            left -= 1;
        }
        for ((o, p), d) in other.iter_mut().zip(&pooled).zip(&drawn) {
            *o = p - d;
        }
        let stat = if draw_cur {
            psi_counts(&other, &drawn, rule)
        } else {
            psi_counts(&drawn, &other, rule)
        };
        if stat >= observed - tol {
            exceed += 1;
        }
    }
    (1 + exceed) as f64 / (permutations + 1) as f64
}

/// Stable 64-bit FNV-1a, used to derive per-feature seeds independent of feature order.
pub(crate) fn fnv1a(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Compare one feature of the current window (counted on the reference's bins) with the reference.
///
/// `current` must have been counted on `reference`'s edges/categories (see
/// [`crate::engine::ProfileAccumulator`] in current mode or [`crate::engine::current_numeric`]).
pub fn compare_feature(
    reference: &FeatureProfile,
    current: &FeatureProfile,
    cfg: &CompareConfig,
) -> FeatureDrift {
    compare_feature_dependent(reference, current, cfg, 1.0)
}

/// [`compare_feature`] for rows that are not independent draws: consecutive values of a time
/// series. Both windows' sizes count as `n / design_effect` in the test, its expected noise and
/// the small-sample bin merging; the p-value is then asymptotic (a permutation test assumes
/// exchangeable rows, which a time series is not). PSI itself does not change.
pub fn compare_feature_dependent(
    reference: &FeatureProfile,
    current: &FeatureProfile,
    cfg: &CompareConfig,
    design_effect: f64,
) -> FeatureDrift {
    let deff = if design_effect.is_finite() && design_effect > 1.0 {
        design_effect
    } else {
        1.0
    };
    let evidently = matches!(cfg.shares, ShareRule::EvidentlyFill);
    let nb = reference.counts.len();
    let ref_vals: u64 = reference.counts.iter().sum::<u64>() + reference.unseen;
    let cur_vals: u64 = current.counts.iter().sum::<u64>() + current.unseen;

    // Small-sample bin choice: merge adjacent numeric bins so the smaller window expects
    // at least `min_expected_per_bin` values per bin.
    let groups: Vec<usize> = if reference.kind == FeatureKind::Numeric
        && cfg.min_expected_per_bin > 0.0
        && reference.edge_method != EdgeMethod::Evidently
    {
        let smaller = ref_vals.min(cur_vals) as f64 / deff;
        let target = ((smaller / cfg.min_expected_per_bin).floor() as usize).clamp(2, nb.max(2));
        merge_groups(&reference.counts, target)
    } else {
        (0..nb).collect()
    };
    let ngroups = groups.last().map_or(0, |g| g + 1);

    let mut labels: Vec<BinLabel> = Vec::with_capacity(ngroups + 2);
    let mut rc = vec![0u64; ngroups];
    let mut cc = vec![0u64; ngroups];
    for (i, &g) in groups.iter().enumerate() {
        rc[g] += reference.counts.get(i).copied().unwrap_or(0);
        cc[g] += current.counts.get(i).copied().unwrap_or(0);
    }
    match reference.kind {
        FeatureKind::Numeric => {
            let mut start = 0;
            for g in 0..ngroups {
                let end = groups.iter().rposition(|&x| x == g).unwrap_or(start);
                let lo = if start == 0 {
                    None
                } else {
                    reference.edges.get(start - 1).copied()
                };
                let hi = reference.edges.get(end).copied();
                labels.push(BinLabel::Range { lo, hi });
                start = end + 1;
            }
        }
        FeatureKind::Categorical => {
            for c in &reference.categories {
                labels.push(BinLabel::Category { value: c.clone() });
            }
        }
    }
    if reference.kind == FeatureKind::Categorical && !evidently {
        labels.push(BinLabel::Unseen);
        rc.push(reference.unseen);
        cc.push(current.unseen);
    }
    if !evidently {
        labels.push(BinLabel::Missing);
        rc.push(reference.missing);
        cc.push(current.missing);
    }

    let psi = psi_counts(&rc, &cc, cfg.shares);
    let n: u64 = rc.iter().sum();
    let m: u64 = cc.iter().sum();

    // Per-bin breakdown with the same shares as the formula.
    let active: Vec<bool> = rc
        .iter()
        .zip(&cc)
        .map(|(a, b)| evidently || a + b > 0)
        .collect();
    let ra: Vec<u64> = rc
        .iter()
        .zip(&active)
        .filter(|x| *x.1)
        .map(|x| *x.0)
        .collect();
    let ca: Vec<u64> = cc
        .iter()
        .zip(&active)
        .filter(|x| *x.1)
        .map(|x| *x.0)
        .collect();
    let rs = shares(&ra, cfg.shares);
    let cs = shares(&ca, cfg.shares);
    let mut k = 0;
    let mut bins = Vec::with_capacity(labels.len());
    for (i, label) in labels.into_iter().enumerate() {
        let (p, q) = if active[i] {
            let v = (rs[k], cs[k]);
            k += 1;
            v
        } else {
            (0.0, 0.0)
        };
        bins.push(BinDrift {
            bin: label,
            ref_count: rc[i],
            cur_count: cc[i],
            ref_share: p,
            cur_share: q,
            contribution: contribution(p, q),
        });
    }
    let bins_used = active.iter().filter(|a| **a).count();
    let df = bins_used.saturating_sub(1);

    // Significance.
    let (p_value, method, statistic, noise) = if n == 0 || m == 0 || df == 0 {
        (1.0, PValueMethod::None, 0.0, 0.0)
    } else {
        let (nf, mf) = (n as f64 / deff, m as f64 / deff);
        let scale = nf * mf / (nf + mf);
        let statistic = psi * scale;
        let noise = df as f64 / scale;
        let smaller = nf.min(mf);
        let min_expected = ra
            .iter()
            .zip(&ca)
            .map(|(a, b)| smaller * (a + b) as f64 / (nf + mf))
            .fold(f64::INFINITY, f64::min);
        let cost = (cfg.permutations as f64) * smaller * bins_used as f64;
        if deff > 1.0
            || min_expected >= cfg.asymptotic_min_expected
            || cfg.permutations == 0
            || cost > 4e8
        {
            (
                chi2_sf(statistic, df as f64),
                PValueMethod::ChiSquare,
                statistic,
                noise,
            )
        } else {
            let mut rng =
                ChaCha8Rng::seed_from_u64(cfg.seed ^ fnv1a(&reference.name).rotate_left(17));
            let p = permutation_p_value(&ra, &ca, cfg.shares, cfg.permutations, &mut rng);
            (p, PValueMethod::Permutation, statistic, noise)
        }
    };

    // Effective rows: a window of a slow feature holds fewer independent values than rows.
    let effective_cur = current.n as f64 / deff;
    let status = if reference.n < cfg.min_samples
        || current.n < cfg.min_samples
        || effective_cur < cfg.min_samples as f64
    {
        FeatureStatus::InsufficientData
    } else {
        FeatureStatus::Analyzed
    };
    let significant = status == FeatureStatus::Analyzed && p_value < cfg.alpha;
    let raw_severity = cfg.thresholds.classify(psi);
    let severity = if status != FeatureStatus::Analyzed || (cfg.gate && !significant) {
        Severity::None
    } else {
        raw_severity
    };
    let share = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    FeatureDrift {
        name: reference.name.clone(),
        kind: reference.kind,
        status,
        psi,
        severity,
        raw_severity,
        significant,
        p_value,
        p_value_method: method,
        noise_psi: noise,
        statistic,
        df,
        bins_profile: nb,
        bins_used,
        n_ref: reference.n,
        n_cur: current.n,
        missing_share_ref: share(reference.missing, reference.n),
        missing_share_cur: share(current.missing, current.n),
        bins,
        reference: reference.summary,
        current: current.summary,
        design_effect: deff,
    }
}

/// Compare every feature of `current` (counted on `reference`'s bins) and aggregate.
///
/// Features are matched by name; reference features absent from `current` are skipped.
pub fn compare_profiles(
    reference: &Profile,
    current: &Profile,
    cfg: &CompareConfig,
) -> DriftReport {
    let features: Vec<FeatureDrift> = current
        .features
        .iter()
        .filter_map(|c| {
            reference
                .feature(&c.name)
                .map(|r| compare_feature(r, c, cfg))
        })
        .collect();
    aggregate(features, cfg)
}

/// Aggregate per-feature results into a report (sorted by PSI, highest first).
pub fn aggregate(mut features: Vec<FeatureDrift>, cfg: &CompareConfig) -> DriftReport {
    features.sort_by(|a, b| b.psi.total_cmp(&a.psi).then_with(|| a.name.cmp(&b.name)));
    let analysed: Vec<&FeatureDrift> = features
        .iter()
        .filter(|f| f.status == FeatureStatus::Analyzed)
        .collect();
    let max_psi = analysed.iter().map(|f| f.psi).fold(0.0, f64::max);
    let overall_psi = match cfg.aggregate {
        Aggregate::Max => max_psi,
        Aggregate::Mean if analysed.is_empty() => 0.0,
        Aggregate::Mean => analysed.iter().map(|f| f.psi).sum::<f64>() / analysed.len() as f64,
    };
    let worst_gated = analysed
        .iter()
        .map(|f| f.severity)
        .max()
        .unwrap_or(Severity::None);
    let band = cfg.thresholds.classify(overall_psi);
    let severity = if cfg.gate {
        band.min(worst_gated)
    } else {
        band
    };
    let drifted = analysed
        .iter()
        .filter(|f| f.severity != Severity::None)
        .count();
    DriftReport {
        overall_psi,
        aggregate: cfg.aggregate,
        max_psi,
        severity,
        drifted_share: if analysed.is_empty() {
            0.0
        } else {
            drifted as f64 / analysed.len() as f64
        },
        significant_features: analysed.iter().filter(|f| f.significant).count(),
        ranking: features.iter().map(|f| f.name.clone()).collect(),
        alpha: cfg.alpha,
        gated: cfg.gate,
        thresholds: cfg.thresholds,
        features,
    }
}
