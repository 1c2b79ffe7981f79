//! Alert quality at modest trial counts with fixed seeds (deterministic; the 2000-trial numbers
//! are in docs/psi.md).

use tradai_drift::simulate::run_scenario;
use tradai_drift::{CompareConfig, Scenario};

#[test]
fn no_drift_small_windows_rarely_alert_but_naive_always_does() {
    let cfg = CompareConfig::default();
    for (n, m, trials) in [(45, 12, 300), (100, 30, 200)] {
        let r = run_scenario(
            Scenario {
                n_ref: n,
                n_cur: m,
                shift: 0.0,
            },
            trials,
            7,
            10,
            &cfg,
        );
        assert!(r.ours.significant <= 0.02, "({n},{m}) ours {:?}", r.ours);
        assert!(
            r.naive.moderate_or_worse >= 0.9,
            "({n},{m}) naive {:?}",
            r.naive
        );
    }
}

#[test]
fn two_sigma_shift_detected_in_small_windows() {
    let r = run_scenario(
        Scenario {
            n_ref: 45,
            n_cur: 12,
            shift: 2.0,
        },
        300,
        11,
        10,
        &CompareConfig::default(),
    );
    assert!(r.ours.moderate_or_worse >= 0.92, "{:?}", r.ours);
}

#[test]
fn small_shift_in_large_windows_is_statistically_detected() {
    let r = run_scenario(
        Scenario {
            n_ref: 10_000,
            n_cur: 2000,
            shift: 0.2,
        },
        40,
        13,
        10,
        &CompareConfig::default(),
    );
    assert!(r.ours.test_rejects >= 0.95, "{:?}", r.ours);
    // Its PSI (~0.04) is below the moderate band: flagged significant, not paged.
    assert!(r.ours.mean_psi < 0.1);
}

#[test]
fn no_drift_large_windows() {
    let r = run_scenario(
        Scenario {
            n_ref: 1000,
            n_cur: 200,
            shift: 0.0,
        },
        200,
        17,
        10,
        &CompareConfig::default(),
    );
    assert_eq!(r.ours.significant, 0.0);
    assert!(r.ours.test_rejects <= 0.03, "{:?}", r.ours);
}
