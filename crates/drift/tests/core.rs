//! Golden values (hand-computed), properties and serde formats of the PSI core.

use proptest::prelude::*;
use tradai_drift::*;

fn exact_cfg() -> CompareConfig {
    // No small-sample bin merging so hand computations apply bin by bin.
    CompareConfig {
        min_expected_per_bin: 0.0,
        min_samples: 0,
        ..CompareConfig::default()
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

#[test]
fn golden_numeric() {
    // ref [1,2,3,4] on edge 2.5 -> (2,2); cur [1,3,4,4] -> (1,3); add-0.5 smoothing:
    // ref (0.5,0.5), cur (0.3,0.7): PSI = -0.2 ln 0.6 + 0.2 ln 1.4
    let r = profile_numeric("x", &[1.0, 2.0, 3.0, 4.0], 2, &Binning::Explicit(vec![2.5]));
    let c = current_numeric(&r, &[1.0, 3.0, 4.0, 4.0]);
    assert_eq!(r.counts, vec![2, 2]);
    assert_eq!(c.counts, vec![1, 3]);
    let d = compare_feature(&r, &c, &exact_cfg());
    let want = -0.2 * 0.6f64.ln() + 0.2 * 1.4f64.ln();
    assert!(close(d.psi, want), "{} vs {want}", d.psi);
    assert!(close(d.psi, 0.169_459_572_077_440_72));
    // missing bin is empty on both sides: not part of the formula
    assert_eq!(d.bins_used, 2);
    assert!(close(
        d.bins.iter().map(|b| b.contribution).sum::<f64>(),
        d.psi
    ));
}

#[test]
fn golden_numeric_missing_and_infinities() {
    // ref [1,2,NaN,NaN] edge 1.5 -> (1,1) missing 2; cur [-inf,+inf,3,NaN] -> (1,2) missing 1
    let r = profile_numeric(
        "x",
        &[1.0, 2.0, f64::NAN, f64::NAN],
        2,
        &Binning::Explicit(vec![1.5]),
    );
    let c = current_numeric(&r, &[f64::NEG_INFINITY, f64::INFINITY, 3.0, f64::NAN]);
    assert_eq!((r.counts.clone(), r.missing), (vec![1, 1], 2));
    assert_eq!((c.counts.clone(), c.missing), (vec![1, 2], 1));
    let d = compare_feature(&r, &c, &exact_cfg());
    // shares /5.5: ref (1.5,1.5,2.5), cur (1.5,2.5,1.5) => PSI = (2/5.5) ln(5/3)
    assert!(close(d.psi, 2.0 / 5.5 * (5.0f64 / 3.0).ln()), "{}", d.psi);
    assert!(close(d.missing_share_ref, 0.5));
    assert!(close(d.missing_share_cur, 0.25));
}

#[test]
fn golden_categorical_unseen_missing() {
    let r = profile_categorical("c", &[Some("a"), Some("a"), Some("b"), None]);
    let c = current_categorical(&r, &[Some("a"), Some("c"), None, None]);
    assert_eq!(r.categories, vec!["a", "b"]);
    assert_eq!((c.counts.clone(), c.unseen, c.missing), (vec![1, 0], 1, 2));
    let d = compare_feature(&r, &c, &exact_cfg());
    // bins a, b, unseen, missing: ref (2,1,0,1) cur (1,0,1,2), shares (count+0.5)/6
    let want =
        (2.0 * 0.6f64.recip().ln() * 0.0 + 2.0 * (5.0f64 / 3.0).ln() + 2.0 * 3.0f64.ln()) / 6.0;
    assert!(close(d.psi, want), "{} vs {want}", d.psi);
    assert!(close(d.psi, 0.536_479_304_144_700_2));
    let labels: Vec<String> = d.bins.iter().map(|b| b.bin.to_string()).collect();
    assert_eq!(labels, vec!["a", "b", "(unseen)", "(missing)"]);
}

#[test]
fn golden_evidently_fill() {
    // Evidently: zero shares -> 0.0001 on both sides: contributes 0; PSI = 0.25 ln 2 + 0.25 ln 1.5
    let p = psi_counts(&[2, 2, 0], &[1, 3, 0], ShareRule::EvidentlyFill);
    assert!(close(p, 0.25 * 3.0f64.ln()), "{p}");
    // A zero on one side only: replaced by 0.0001
    let p = psi_counts(&[1, 1], &[2, 0], ShareRule::EvidentlyFill);
    let want = (1.0 - 0.5) * (1.0f64 / 0.5).ln() + (0.0001 - 0.5) * (0.0001f64 / 0.5).ln();
    assert!(close(p, want));
}

#[test]
fn severity_bands_match_contract() {
    let t = Thresholds::default();
    assert_eq!(t.classify(0.0999), Severity::None);
    assert_eq!(t.classify(0.10), Severity::Moderate);
    assert_eq!(t.classify(0.25), Severity::Moderate);
    assert_eq!(t.classify(0.2501), Severity::Significant);
}

#[test]
fn gating_and_noise_level() {
    // 10 bins, 45 vs 12 with no drift: naive PSI is high, our report says it's noise.
    let r: Vec<f64> = (0..45).map(|i| f64::from(i) / 45.0).collect();
    let c: Vec<f64> = (0..12).map(|i| f64::from(i) / 12.0 + 0.01).collect();
    let rp = profile_numeric("x", &r, 10, &Binning::Quantile);
    let cp = current_numeric(&rp, &c);
    let d = compare_feature(&rp, &cp, &CompareConfig::default());
    assert!(d.bins_used < 10, "small-sample bins merge: {}", d.bins_used);
    assert!(d.noise_psi > 0.1);
    assert!(!d.significant);
    assert_eq!(d.severity, Severity::None);
    assert_eq!(d.p_value_method, PValueMethod::Permutation);
    // Gating off gives the raw band.
    let raw = compare_feature(
        &rp,
        &cp,
        &CompareConfig {
            gate: false,
            ..CompareConfig::default()
        },
    );
    assert_eq!(raw.severity, raw.raw_severity);
}

#[test]
fn insufficient_data_never_alerts() {
    let rp = profile_numeric("x", &[1.0, 2.0, 3.0], 10, &Binning::Quantile);
    let cp = current_numeric(&rp, &[100.0, 200.0, 300.0]);
    let d = compare_feature(
        &rp,
        &cp,
        &CompareConfig {
            gate: false,
            ..CompareConfig::default()
        },
    );
    assert_eq!(d.status, FeatureStatus::InsufficientData);
    assert_eq!(d.severity, Severity::None);
}

#[test]
fn permutation_is_deterministic() {
    let r = profile_numeric(
        "x",
        &(0..40).map(f64::from).collect::<Vec<_>>(),
        10,
        &Binning::Quantile,
    );
    let c = current_numeric(&r, &(0..15).map(|i| f64::from(i) * 2.0).collect::<Vec<_>>());
    let cfg = CompareConfig::default();
    let a = compare_feature(&r, &c, &cfg);
    let b = compare_feature(&r, &c, &cfg);
    assert_eq!(a.p_value, b.p_value);
    assert_eq!(a.p_value_method, PValueMethod::Permutation);
}

#[test]
fn report_aggregates_and_ranks() {
    let base: Vec<f64> = (0..2000).map(|i| f64::from(i % 100)).collect();
    let shifted: Vec<f64> = base.iter().map(|x| x + 30.0).collect();
    let r1 = profile_numeric("stable", &base, 10, &Binning::Quantile);
    let r2 = profile_numeric("moved", &base, 10, &Binning::Quantile);
    let reference = Profile {
        format_version: 1,
        source: "mem".into(),
        features: vec![r1.clone(), r2.clone()],
    };
    let current = Profile {
        format_version: 1,
        source: "mem".into(),
        features: vec![current_numeric(&r1, &base), current_numeric(&r2, &shifted)],
    };
    let rep = compare_profiles(&reference, &current, &CompareConfig::default());
    assert_eq!(rep.ranking, vec!["moved", "stable"]);
    assert!(close(
        rep.overall_psi,
        (rep.features[0].psi + rep.features[1].psi) / 2.0
    ));
    assert_eq!(rep.max_psi, rep.features[0].psi);
    assert_eq!(rep.features[0].severity, Severity::Significant);
    assert!(close(rep.drifted_share, 0.5));
    let max = compare_profiles(
        &reference,
        &current,
        &CompareConfig {
            aggregate: Aggregate::Max,
            ..CompareConfig::default()
        },
    );
    assert_eq!(max.overall_psi, max.max_psi);
    assert_eq!(max.severity, Severity::Significant);
}

fn golden(name: &str, actual: &str) {
    let path = format!("{}/tests/golden/{name}", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).expect("write golden");
    }
    let want = std::fs::read_to_string(&path).expect("golden file (UPDATE_GOLDEN=1 to create)");
    assert_eq!(actual, want, "golden {name} changed");
}

fn small_profile() -> Profile {
    let x = profile_numeric(
        "x",
        &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, f64::NAN, 10.0],
        4,
        &Binning::Quantile,
    );
    let c = profile_categorical("side", &[Some("buy"), Some("sell"), Some("buy"), None]);
    Profile {
        format_version: 1,
        source: "golden".into(),
        features: vec![x, c],
    }
}

#[test]
fn golden_profile_json() {
    let p = small_profile();
    let json = p.to_json();
    golden("profile.json", &json);
    let back = Profile::from_json(&json, "golden").expect("parse");
    assert_eq!(back, p);
}

#[test]
fn golden_report_json() {
    let p = small_profile();
    let cur = Profile {
        format_version: 1,
        source: "golden-current".into(),
        features: vec![
            current_numeric(
                &p.features[0],
                &[
                    5.0,
                    6.0,
                    7.0,
                    8.0,
                    9.0,
                    10.0,
                    11.0,
                    12.0,
                    13.0,
                    f64::NAN,
                    14.0,
                    15.0,
                ],
            ),
            current_categorical(
                &p.features[1],
                &[
                    Some("buy"),
                    Some("hold"),
                    Some("sell"),
                    Some("sell"),
                    None,
                    Some("sell"),
                    Some("sell"),
                    Some("sell"),
                    Some("sell"),
                    Some("sell"),
                    Some("sell"),
                ],
            ),
        ],
    };
    let rep = compare_profiles(&p, &cur, &CompareConfig::default());
    let json = serde_json::to_string_pretty(&rep).expect("serialize");
    golden("report.json", &json);
    let back: DriftReport = serde_json::from_str(&json).expect("parse");
    assert_eq!(back.ranking, rep.ranking);
}

#[test]
fn bad_profile_json_is_an_error() {
    assert!(matches!(
        Profile::from_json("{", "p.json"),
        Err(DriftError::BadProfile { .. })
    ));
    let mut p = small_profile();
    p.features[0].counts.pop();
    let e = Profile::from_json(&p.to_json(), "p.json")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("p.json") && e.contains("`x`"), "{e}");
}

fn counts_strategy() -> impl Strategy<Value = (Vec<u64>, Vec<u64>)> {
    (1usize..12).prop_flat_map(|b| {
        (
            prop::collection::vec(0u64..50, b),
            prop::collection::vec(0u64..50, b),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn psi_non_negative((r, c) in counts_strategy()) {
        let smoothed = psi_counts(&r, &c, ShareRule::Smoothed { alpha: 0.5 });
        prop_assert!(smoothed >= -1e-12);
        if r.iter().sum::<u64>() > 0 && c.iter().sum::<u64>() > 0 {
            prop_assert!(psi_counts(&r, &c, ShareRule::EvidentlyFill) >= -1e-12);
        }
    }

    #[test]
    fn psi_symmetric_for_fixed_bins((r, c) in counts_strategy()) {
        let rules = [ShareRule::Smoothed { alpha: 0.5 }, ShareRule::EvidentlyFill];
        for rule in rules {
            let a = psi_counts(&r, &c, rule);
            let b = psi_counts(&c, &r, rule);
            prop_assert!((a - b).abs() <= 1e-9 * a.abs().max(1.0));
        }
    }

    #[test]
    fn psi_zero_for_identical(values in prop::collection::vec(prop_oneof![-1e6f64..1e6, Just(f64::NAN), Just(f64::INFINITY)], 1..300), bins in 1usize..20) {
        let r = profile_numeric("x", &values, bins, &Binning::Quantile);
        let c = current_numeric(&r, &values);
        let d = compare_feature(&r, &c, &CompareConfig::default());
        prop_assert!(d.psi.abs() < 1e-12);
        prop_assert!(!d.significant);
    }

    #[test]
    fn psi_row_order_invariant(values in prop::collection::vec(-100.0f64..100.0, 2..200), cur in prop::collection::vec(-100.0f64..100.0, 2..200), seed in any::<u64>()) {
        use rand::seq::SliceRandom;
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut v2 = values.clone();
        let mut c2 = cur.clone();
        v2.shuffle(&mut rng);
        c2.shuffle(&mut rng);
        let cfg = CompareConfig::default();
        let r1 = profile_numeric("x", &values, 10, &Binning::Quantile);
        let r2 = profile_numeric("x", &v2, 10, &Binning::Quantile);
        prop_assert_eq!(&r1.edges, &r2.edges);
        prop_assert_eq!(&r1.counts, &r2.counts);
        let a = compare_feature(&r1, &current_numeric(&r1, &cur), &cfg);
        let b = compare_feature(&r2, &current_numeric(&r2, &c2), &cfg);
        prop_assert!((a.psi - b.psi).abs() < 1e-12);
        prop_assert_eq!(a.p_value, b.p_value);
    }

    #[test]
    fn merged_partial_profiles_equal_one_pass(values in prop::collection::vec(prop_oneof![-1e3f64..1e3, Just(f64::NAN)], 1..400), cuts in prop::collection::vec(0usize..400, 0..5)) {
        // Edges fixed first (from all the data), then parts counted separately and merged.
        let full = profile_numeric("x", &values, 10, &Binning::Quantile);
        let template = Profile { format_version: 1, source: "t".into(), features: vec![full.clone()] };
        let mut one = ProfileAccumulator::reference(&template);
        one.push_values(0, &values).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let one = one.finish();
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(values.len())).collect();
        cuts.push(0);
        cuts.push(values.len());
        cuts.sort_unstable();
        let mut merged: Option<Profile> = None;
        for w in cuts.windows(2) {
            let mut acc = ProfileAccumulator::reference(&template);
            acc.push_values(0, &values[w[0]..w[1]]).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let part = acc.finish();
            merged = Some(match merged {
                None => part,
                Some(m) => m.merge(&part).map_err(|e| TestCaseError::fail(e.to_string()))?,
            });
        }
        let merged = merged.ok_or_else(|| TestCaseError::fail("no parts"))?;
        let (a, b) = (&merged.features[0], &one.features[0]);
        prop_assert_eq!(&a.counts, &b.counts);
        prop_assert_eq!(&a.counts, &full.counts);
        prop_assert_eq!(a.missing, b.missing);
        prop_assert_eq!(a.n, b.n);
        match (a.summary, b.summary) {
            (Some(x), Some(y)) => {
                prop_assert_eq!(x.count, y.count);
                prop_assert_eq!(x.min, y.min);
                prop_assert_eq!(x.max, y.max);
                prop_assert_eq!(x.quantiles, y.quantiles);
                prop_assert!((x.mean - y.mean).abs() <= 1e-9 * y.mean.abs().max(1.0));
                prop_assert!((x.std - y.std).abs() <= 1e-7 * y.std.abs().max(1.0));
            }
            (None, None) => {}
            _ => prop_assert!(false, "summary presence differs"),
        }
    }

    #[test]
    fn merged_categorical_equals_one_pass(values in prop::collection::vec(prop_oneof![Just(Some("a")), Just(Some("b")), Just(Some("zz")), Just(None)], 1..100), cut in 0usize..100) {
        let cut = cut.min(values.len());
        let one = profile_categorical("c", &values);
        let merged = profile_categorical("c", &values[..cut]).merge(&profile_categorical("c", &values[cut..]))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(merged, one);
    }

    #[test]
    fn p_value_in_unit_interval((r, c) in counts_strategy()) {
        let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(1);
        if r.iter().sum::<u64>() > 0 && c.iter().sum::<u64>() > 0 {
            let rule = ShareRule::Smoothed { alpha: 0.5 };
            let p = permutation_p_value(&r, &c, rule, 50, &mut rng);
            prop_assert!(p > 0.0 && p <= 1.0);
        }
    }
}
