//! `cargo run --release -p tradai-drift --example simulate -- [trials] [seed]`
//! Prints the alert-quality table of docs/psi.md.
fn main() {
    let mut args = std::env::args().skip(1);
    let trials = args.next().and_then(|s| s.parse().ok()).unwrap_or(2000);
    let seed = args.next().and_then(|s| s.parse().ok()).unwrap_or(42);
    let mut cfg = tradai_drift::SimulationConfig {
        trials,
        seed,
        ..Default::default()
    };
    if let Some(m) = std::env::var("MIN_EXPECTED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        cfg.compare.min_expected_per_bin = m;
    }
    if let Some(a) = std::env::var("SMOOTH").ok().and_then(|s| s.parse().ok()) {
        cfg.compare.shares = tradai_drift::ShareRule::Smoothed { alpha: a };
    }
    if let Some(a) = std::env::var("ASYMPT").ok().and_then(|s| s.parse().ok()) {
        cfg.compare.asymptotic_min_expected = a;
    }
    let start = std::time::Instant::now();
    println!(
        "{}",
        tradai_drift::simulate::render_table(&tradai_drift::simulate(&cfg))
    );
    eprintln!(
        "({} trials per scenario, seed {seed}, {:.1}s)",
        trials,
        start.elapsed().as_secs_f64()
    );
}
