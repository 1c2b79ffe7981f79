//! Small numerical kernels: chi-square tail, moments, quantiles.
//!
//! Written here instead of pulling a large statistics crate: the drift engine needs exactly the
//! chi-square survival function (for asymptotic p-values) and a few streaming moments.

/// Natural log of the gamma function (Lanczos approximation, g = 7, 9 terms; |rel err| < 1e-14).
pub fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const COEF: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection formula keeps accuracy for small arguments.
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = COEF[0];
    let t = x + G + 0.5;
    for (i, c) in COEF.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// Regularized lower incomplete gamma P(a, x) and upper Q(a, x) = 1 − P(a, x).
///
/// Series for x < a + 1, continued fraction (modified Lentz) otherwise; both converge fast there,
/// and computing the smaller tail directly avoids cancellation in p-values near 0.
pub fn gamma_pq(a: f64, x: f64) -> (f64, f64) {
    if x.is_nan() || a.is_nan() || a <= 0.0 {
        return (f64::NAN, f64::NAN);
    }
    if x <= 0.0 {
        return (0.0, 1.0);
    }
    if x.is_infinite() {
        return (1.0, 0.0);
    }
    let log_prefix = a * x.ln() - x - ln_gamma(a);
    if x < a + 1.0 {
        let mut sum = 1.0 / a;
        let mut term = sum;
        let mut ap = a;
        for _ in 0..10_000 {
            ap += 1.0;
            term *= x / ap;
            sum += term;
            if term.abs() < sum.abs() * 1e-16 {
                break;
            }
        }
        let p = (log_prefix.exp() * sum).clamp(0.0, 1.0);
        (p, 1.0 - p)
    } else {
        const TINY: f64 = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / TINY;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..10_000 {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < TINY {
                d = TINY;
            }
            c = b + an / c;
            if c.abs() < TINY {
                c = TINY;
            }
            d = 1.0 / d;
            let delta = d * c;
            h *= delta;
            if (delta - 1.0).abs() < 1e-16 {
                break;
            }
        }
        let q = (log_prefix.exp() * h).clamp(0.0, 1.0);
        (1.0 - q, q)
    }
}

/// Survival function of the chi-square distribution: P(X ≥ x) for X ~ χ²(df).
pub fn chi2_sf(x: f64, df: f64) -> f64 {
    if df <= 0.0 {
        return if x > 0.0 { 0.0 } else { 1.0 };
    }
    gamma_pq(df / 2.0, x / 2.0).1
}

/// Cumulative distribution function of χ²(df).
pub fn chi2_cdf(x: f64, df: f64) -> f64 {
    if df <= 0.0 {
        return if x >= 0.0 { 1.0 } else { 0.0 };
    }
    gamma_pq(df / 2.0, x / 2.0).0
}

/// Streaming count/mean/M2, merged with Chan et al.'s parallel formula so partial results combine.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Moments {
    /// Number of finite values seen.
    pub count: u64,
    /// Running mean.
    pub mean: f64,
    /// Sum of squared deviations from the mean.
    pub m2: f64,
}

impl Moments {
    /// Moments of a slice of finite values (two passes over data that is already in cache).
    pub fn of_finite(values: &[f64]) -> Self {
        if values.is_empty() {
            return Self::default();
        }
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let m2 = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>();
        Self {
            count: values.len() as u64,
            mean,
            m2,
        }
    }

    /// Combine two disjoint partial moments.
    pub fn merge(&self, other: &Self) -> Self {
        if self.count == 0 {
            return *other;
        }
        if other.count == 0 {
            return *self;
        }
        let n_a = self.count as f64;
        let n_b = other.count as f64;
        let n = n_a + n_b;
        let delta = other.mean - self.mean;
        Self {
            count: self.count + other.count,
            mean: self.mean + delta * n_b / n,
            m2: self.m2 + other.m2 + delta * delta * n_a * n_b / n,
        }
    }

    /// Sample standard deviation (ddof = 1); 0 for fewer than two values.
    pub fn std(&self) -> f64 {
        if self.count < 2 {
            0.0
        } else {
            (self.m2 / (self.count as f64 - 1.0)).max(0.0).sqrt()
        }
    }

    /// Rebuild moments from a stored (count, mean, sample std) triple.
    pub fn from_summary(count: u64, mean: f64, std: f64) -> Self {
        let m2 = if count < 2 {
            0.0
        } else {
            std * std * (count as f64 - 1.0)
        };
        Self { count, mean, m2 }
    }
}

/// Lag-1 autocorrelation of a series in time order (finite values only); None with fewer than
/// three values or no variance.
pub fn lag1_autocorrelation(values: &[f64]) -> Option<f64> {
    let v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.len() < 3 {
        return None;
    }
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    let var: f64 = v.iter().map(|x| (x - mean) * (x - mean)).sum();
    if var <= 0.0 || !var.is_finite() {
        return None;
    }
    let cov: f64 = v.windows(2).map(|w| (w[0] - mean) * (w[1] - mean)).sum();
    Some((cov / var).clamp(-1.0, 1.0))
}

/// How many independent draws one value of a time series is worth, inverted: the AR(1)
/// design effect `(1 + ρ) / (1 − ρ)` from the lag-1 autocorrelation, at least 1.
///
/// Consecutive hourly values of a slow feature (a 24-hour volatility, a MACD) are nearly the
/// same value repeated; treating them as independent makes a few hours of ordinary market
/// look like drift. Dividing the sample sizes by this factor keeps the test honest. Negative
/// autocorrelation is not rewarded (the factor stays 1), and ρ is capped at 0.99 after a
/// small-sample bias correction.
pub fn design_effect(values_in_time_order: &[f64]) -> f64 {
    let n = values_in_time_order
        .iter()
        .filter(|x| x.is_finite())
        .count() as f64;
    match lag1_autocorrelation(values_in_time_order) {
        Some(rho) => {
            // The sample autocorrelation of a short persistent series is biased low by about
            // (1 + 3ρ)/n (Marriott & Pope, 1954): correct it, or a few hours of a slow
            // feature would count as many independent draws.
            let r = (rho + (1.0 + 3.0 * rho) / n).min(0.99);
            if r <= 0.0 {
                return 1.0;
            }
            (1.0 + r) / (1.0 - r)
        }
        _ => 1.0,
    }
}

/// Longest lag [`series_design_effect`] looks at: dependence longer than this (weeks of
/// hourly candles) is beyond what a drift window could tell apart anyway.
const MAX_DEPENDENCE_LAG: usize = 1000;

/// The design effect `τ = 1 + 2 Σ ρ_k` of a long series in time order (finite values only),
/// estimated with Geyer's initial monotone positive sequence: autocorrelations are summed in
/// pairs while a pair's sum stays positive and non-increasing. At least 1.
///
/// Unlike the lag-1 (AR(1)) estimate this sees the dependence of rolling-window features: a
/// 24-candle volatility has `ρ_k ≈ 1 − k/24`, so `τ ≈ 24`, while AR(1) would say about 49
/// from its lag-1 value and a short window's lag-1 estimate far less. Built on the reference
/// (training) window, where thousands of rows make the estimate stable.
pub fn series_design_effect(values_in_time_order: &[f64]) -> f64 {
    let v: Vec<f64> = values_in_time_order
        .iter()
        .copied()
        .filter(|x| x.is_finite())
        .collect();
    let n = v.len();
    if n < 4 {
        return 1.0;
    }
    let mean = v.iter().sum::<f64>() / n as f64;
    let d: Vec<f64> = v.iter().map(|x| x - mean).collect();
    let var: f64 = d.iter().map(|x| x * x).sum();
    if var <= 0.0 || !var.is_finite() {
        return 1.0;
    }
    let rho = |k: usize| -> f64 { d.iter().zip(&d[k..]).map(|(a, b)| a * b).sum::<f64>() / var };
    let max_lag = (n / 2).min(MAX_DEPENDENCE_LAG);
    let mut sum = 0.0;
    let mut prev = f64::INFINITY;
    let mut m = 0;
    while 2 * m < max_lag {
        let pair = if m == 0 { 1.0 } else { rho(2 * m) } + rho(2 * m + 1);
        if pair <= 0.0 {
            break;
        }
        let pair = pair.min(prev);
        sum += pair;
        prev = pair;
        m += 1;
    }
    (2.0 * sum - 1.0).max(1.0)
}

/// Quantile of sorted data with linear interpolation (numpy's default, "type 7").
pub fn quantile_sorted(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let h = (sorted.len() - 1) as f64 * q.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    let frac = h - lo as f64;
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * frac)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * b.abs().max(1e-300)
    }

    /// A seeded uniform noise source in [-0.5, 0.5) (no dependency for one test).
    fn noise(n: usize, seed: u64) -> Vec<f64> {
        let mut state = seed;
        (0..n)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
            })
            .collect()
    }

    #[test]
    fn series_design_effect_of_known_processes() {
        // Independent draws: about 1.
        let iid = noise(20_000, 1);
        let d = series_design_effect(&iid);
        assert!((1.0..1.2).contains(&d), "iid {d}");
        // AR(1) with φ = 0.5: (1 + φ) / (1 − φ) = 3.
        let mut x = 0.0;
        let ar: Vec<f64> = noise(20_000, 2)
            .into_iter()
            .map(|e| {
                x = 0.5 * x + e;
                x
            })
            .collect();
        let d = series_design_effect(&ar);
        assert!((d - 3.0).abs() < 0.3, "AR(1) {d}");
        // A 24-value rolling mean of independent draws: τ = 24.
        let e = noise(20_024, 3);
        let rolling: Vec<f64> = e
            .windows(24)
            .map(|w| w.iter().sum::<f64>() / 24.0)
            .collect();
        let d = series_design_effect(&rolling);
        assert!((d - 24.0).abs() < 4.0, "rolling {d}");
        // Degenerate input: no discount.
        assert_eq!(series_design_effect(&[1.0, 2.0]), 1.0);
        assert_eq!(series_design_effect(&[5.0; 100]), 1.0);
        assert_eq!(series_design_effect(&[f64::NAN; 100]), 1.0);
    }

    #[test]
    fn design_effect_of_independent_and_persistent_series() {
        // Alternating values: negative autocorrelation, no discount.
        let alt: Vec<f64> = (0..100)
            .map(|i| if i % 2 == 0 { 1.0 } else { -1.0 })
            .collect();
        assert_eq!(design_effect(&alt), 1.0);
        // A slow ramp is almost perfectly persistent: capped at ρ = 0.99.
        let ramp: Vec<f64> = (0..200).map(f64::from).collect();
        assert!((design_effect(&ramp) - 199.0).abs() < 1e-9);
        // A short persistent series is corrected upwards (its raw ρ is biased low).
        let short: Vec<f64> = (0..14).map(|i| f64::from(i).sin()).collect();
        let raw = lag1_autocorrelation(&short).unwrap();
        let d = design_effect(&short);
        assert!(d > (1.0 + raw) / (1.0 - raw), "{d} vs raw ρ {raw}");
        // Too short or constant: no estimate, no discount.
        assert_eq!(design_effect(&[1.0, 2.0]), 1.0);
        assert_eq!(design_effect(&[3.0; 50]), 1.0);
        // A known AR(1) value: x_t = 0.5 x_{t-1} + e_t has ρ ≈ 0.5 → ≈ 3.
        let mut x = 0.0_f64;
        let mut state = 12345_u64;
        let mut v = Vec::new();
        for _ in 0..20_000 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let u = (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            x = 0.5 * x + u;
            v.push(x);
        }
        let d = design_effect(&v);
        assert!((d - 3.0).abs() < 0.2, "{d}");
    }

    #[test]
    fn ln_gamma_golden() {
        assert!(close(ln_gamma(1.0), 0.0_f64.max(1e-300), 1.0) || ln_gamma(1.0).abs() < 1e-14);
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-13);
        // ln(4!) and ln Γ(10.5) from tables
        assert!((ln_gamma(5.0) - 24f64.ln()).abs() < 1e-13);
        assert!((ln_gamma(10.5) - 13.940_625_219_403_763).abs() < 1e-12);
        assert!((ln_gamma(100.0) - 359.134_205_369_575_4).abs() < 1e-10);
    }

    #[test]
    fn chi2_golden_values() {
        // Critical values from standard chi-square tables.
        let cases = [
            (3.841_458_820_694_124, 1.0, 0.05),
            (6.634_896_601_021_214, 1.0, 0.01),
            (21.665_994_333_461_924, 9.0, 0.01),
            (16.918_977_604_620_45, 9.0, 0.05),
            (15.086_272_469_388_99, 5.0, 0.01),
            (11.344_866_730_144_37, 3.0, 0.01),
            (2.0, 2.0, (-1.0f64).exp()),
            (124.342_113_404_880_86, 100.0, 0.05),
        ];
        for (x, df, p) in cases {
            let got = chi2_sf(x, df);
            assert!(close(got, p, 1e-9), "sf({x},{df}) = {got}, want {p}");
            assert!(close(chi2_cdf(x, df), 1.0 - p, 1e-9));
        }
        // deep tail computed directly, not as 1 - cdf
        let tail = chi2_sf(200.0, 9.0);
        assert!(tail > 0.0 && tail < 1e-35, "{tail}");
        assert_eq!(chi2_sf(0.0, 4.0), 1.0);
        assert_eq!(chi2_sf(f64::INFINITY, 4.0), 0.0);
    }

    #[test]
    fn quantile_type7() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile_sorted(&v, 0.5), Some(2.5));
        assert_eq!(quantile_sorted(&v, 0.0), Some(1.0));
        assert_eq!(quantile_sorted(&v, 1.0), Some(4.0));
        assert!((quantile_sorted(&v, 0.25).unwrap_or(f64::NAN) - 1.75).abs() < 1e-15);
        assert_eq!(quantile_sorted(&[], 0.5), None);
    }

    #[test]
    fn moments_merge() {
        let a = [1.0, 2.0, 3.0];
        let b = [10.0, 20.0];
        let all = [1.0, 2.0, 3.0, 10.0, 20.0];
        let m = Moments::of_finite(&a).merge(&Moments::of_finite(&b));
        let w = Moments::of_finite(&all);
        assert_eq!(m.count, 5);
        assert!((m.mean - w.mean).abs() < 1e-12);
        assert!((m.std() - w.std()).abs() < 1e-12);
    }

    mod props {
        use super::super::*;
        use proptest::prelude::*;
        proptest! {
            #[test]
            fn chi2_cdf_monotone_and_bounded(df in 1u32..60, x in 0.0f64..200.0, dx in 0.0f64..10.0) {
                let a = chi2_cdf(x, df as f64);
                let b = chi2_cdf(x + dx, df as f64);
                prop_assert!((0.0..=1.0).contains(&a));
                prop_assert!(b + 1e-12 >= a);
                prop_assert!((chi2_sf(x, df as f64) + a - 1.0).abs() < 1e-12);
            }
        }
    }
}
