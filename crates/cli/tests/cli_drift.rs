//! The drift engine through the real binary: `profile build`, `drift compare`, `drift simulate`,
//! the configuration's thresholds, and bad input named with exit code 2.

mod common;
use common::*;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// A CSV with a numeric column `x` (values `offset + i mod 100`), a categorical `c` and a
/// column `y` of numbers.
fn csv(dir: &Path, name: &str, rows: usize, offset: f64) -> PathBuf {
    let mut s = String::from("x,c,y\n");
    for i in 0..rows {
        let x = offset + (i * 37 % 100) as f64;
        let c = ["a", "b", "c"][i % 3];
        writeln!(s, "{x},{c},{}", (i % 17) as f64 * 0.5).unwrap();
    }
    let p = dir.join(name);
    std::fs::write(&p, s).unwrap();
    p
}

/// `drift compare FLAG SOURCE --current CURRENT EXTRA…`.
fn compare<'a>(
    (flag, source): (&'a str, &'a str),
    current: &'a str,
    extra: &[&'a str],
) -> Vec<&'a str> {
    let mut a = vec!["drift", "compare", flag, source, "--current", current];
    a.extend_from_slice(extra);
    a
}

#[test]
fn profile_build_and_compare_find_a_shift_and_rank_it_first() {
    let tmp = tempfile::tempdir().unwrap();
    let h = tmp.path();
    let reference = csv(h, "ref.csv", 5000, 0.0);
    let same = csv(h, "same.csv", 2000, 0.0);
    let shifted = csv(h, "shifted.csv", 2000, 30.0);
    let profile = h.join("p.json");
    let built = ok_json(
        h,
        &[
            "profile",
            "build",
            reference.to_str().unwrap(),
            "-o",
            profile.to_str().unwrap(),
        ],
    );
    let names: Vec<&str> = built["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["x", "c", "y"]);
    assert!(profile.exists());

    let calm = ok_json(
        h,
        &compare(
            ("--profile", profile.to_str().unwrap()),
            same.to_str().unwrap(),
            &[],
        ),
    );
    assert_eq!(calm["severity"], "none", "{calm:#}");

    let drifted = ok_json(
        h,
        &compare(
            ("--profile", profile.to_str().unwrap()),
            shifted.to_str().unwrap(),
            &[],
        ),
    );
    assert_eq!(drifted["ranking"][0], "x", "{drifted:#}");
    let x = &drifted["features"][0];
    assert_eq!(
        (x["name"].as_str(), x["significant"].as_bool()),
        (Some("x"), Some(true))
    );
    assert!(x["psi"].as_f64().unwrap() > 0.25);

    // The configuration's thresholds apply (here from --set; tradai.toml and the contracts'
    // env vars go through the same loader), and a flag wins over them.
    let prof = ("--profile", profile.to_str().unwrap());
    let lenient = ok_json(
        h,
        &compare(
            prof,
            shifted.to_str().unwrap(),
            &[
                "--set",
                "drift.psi_moderate_threshold=50",
                "--set",
                "drift.psi_significant_threshold=100",
            ],
        ),
    );
    assert_eq!(lenient["thresholds"]["significant"], 100.0);
    assert_ne!(lenient["severity"], "significant", "{lenient:#}");
    let flagged = ok_json(
        h,
        &compare(
            prof,
            shifted.to_str().unwrap(),
            &[
                "--set",
                "drift.psi_significant_threshold=100",
                "--moderate",
                "0.1",
                "--significant",
                "0.25",
            ],
        ),
    );
    assert_eq!(flagged["thresholds"]["significant"], 0.25);

    // Human output: a table with the feature names.
    let out = tradai(
        h,
        &compare(
            ("--reference", reference.to_str().unwrap()),
            shifted.to_str().unwrap(),
            &[],
        ),
    );
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains('x') && text.contains("significant"), "{text}");
}

#[test]
fn bad_input_names_the_file_and_column_and_exits_2() {
    let tmp = tempfile::tempdir().unwrap();
    let h = tmp.path();
    let reference = csv(h, "ref.csv", 500, 0.0);
    let current = csv(h, "cur.csv", 200, 0.0);
    let r = reference.to_str().unwrap();
    let c = current.to_str().unwrap();
    fails(
        h,
        &compare(("--reference", r), c, &["--features", "nope"]),
        2,
        "`nope`",
    );
    let missing = h.join("missing.parquet");
    fails(
        h,
        &compare(("--reference", r), missing.to_str().unwrap(), &[]),
        2,
        "missing.parquet",
    );
    let corrupt = h.join("corrupt.parquet");
    std::fs::write(&corrupt, b"PAR1 this is not parquet").unwrap();
    fails(
        h,
        &compare(("--reference", r), corrupt.to_str().unwrap(), &[]),
        2,
        "corrupt.parquet",
    );
    // Numeric in the reference, text in the current: a type mismatch naming the column.
    let text = h.join("text.csv");
    std::fs::write(&text, "x,c,y\nhello,a,1\nworld,b,2\n").unwrap();
    fails(
        h,
        &compare(
            ("--reference", r),
            text.to_str().unwrap(),
            &["--features", "x"],
        ),
        2,
        "x",
    );
    fails(
        h,
        &compare(("--reference", r), c, &["--alpha", "2"]),
        2,
        "--alpha",
    );
    fails(
        h,
        &[
            "profile",
            "build",
            r,
            "-o",
            h.join("p.json").to_str().unwrap(),
            "--bins",
            "1",
        ],
        2,
        "--bins",
    );
    assert!(
        !h.join("p.json").exists(),
        "a failed build writes no profile"
    );
}

#[test]
fn simulate_prints_every_scenario_with_the_naive_rates_beside() {
    let tmp = tempfile::tempdir().unwrap();
    let v = ok_json(
        tmp.path(),
        &["drift", "simulate", "--trials", "40", "--seed", "3"],
    );
    assert_eq!(v["trials"], 40);
    let scenarios = v["scenarios"].as_array().unwrap();
    assert!(scenarios.len() >= 5, "{v:#}");
    let again = ok_json(
        tmp.path(),
        &["drift", "simulate", "--trials", "40", "--seed", "3"],
    );
    assert_eq!(v, again, "seeded: the same numbers twice");
    fails(
        tmp.path(),
        &["drift", "simulate", "--trials", "0"],
        2,
        "--trials",
    );
}
