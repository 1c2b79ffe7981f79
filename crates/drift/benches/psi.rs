//! Throughput and memory of the drift engine (not a test: prints a table, asserts nothing).
//!
//! `cargo bench -p tradai-drift --bench psi` (env: BENCH_BIG_GB=2 size of the large Parquet file,
//! BENCH_DIR=/work/tmp-bench scratch directory, deleted afterwards; BENCH_QUICK=1 measures only the
//! sum floor and the binning kernel).

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use arrow_array::{ArrayRef, Float64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tradai_drift::binning::EdgeIndex;
use tradai_drift::*;

const N: usize = 10_000_000;

fn data(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| rng.random::<f64>() * 2.0 - 1.0 + rng.random::<f64>())
        .collect()
}

fn best_of<F: FnMut() -> f64>(runs: usize, mut f: F) -> f64 {
    (0..runs).map(|_| f()).fold(f64::INFINITY, f64::min)
}

fn split<T: Send>(threads: usize, values: &[f64], work: impl Fn(&[f64]) -> T + Sync) -> Vec<T> {
    let chunk = values.len().div_ceil(threads);
    std::thread::scope(|s| {
        let hs: Vec<_> = values.chunks(chunk).map(|c| s.spawn(|| work(c))).collect();
        hs.into_iter().filter_map(|h| h.join().ok()).collect()
    })
}

fn ns_per_value(threads: usize, values: &[f64], work: impl Fn(&[f64]) -> f64 + Sync) -> f64 {
    best_of(5, || {
        let t = Instant::now();
        black_box(split(threads, values, &work));
        t.elapsed().as_secs_f64() * 1e9 / values.len() as f64
    })
}

fn write_parquet(path: &Path, rows: usize, features: usize, seed: u64, shift: f64) {
    let fields: Vec<Field> = (0..features)
        .map(|i| Field::new(format!("f{i:02}"), DataType::Float64, true))
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let file = std::fs::File::create(path).expect("create bench file");
    let props = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(131_072))
        .set_compression(parquet::basic::Compression::UNCOMPRESSED)
        .set_dictionary_enabled(false)
        .build();
    let mut w =
        parquet::arrow::ArrowWriter::try_new(file, schema.clone(), Some(props)).expect("writer");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let batch_rows = 65_536;
    let mut done = 0;
    while done < rows {
        let n = batch_rows.min(rows - done);
        let cols: Vec<ArrayRef> = (0..features)
            .map(|f| {
                let a: Float64Array = (0..n)
                    .map(|_| Some(rng.random::<f64>() + shift * (f % 3) as f64))
                    .collect();
                Arc::new(a) as ArrayRef
            })
            .collect();
        w.write(&RecordBatch::try_new(schema.clone(), cols).expect("batch"))
            .expect("write");
        done += n;
    }
    w.close().expect("close");
}

fn vm_hwm_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(str::to_owned)
        })
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Child mode: compare a big file against a profile and report peak RSS.
fn child(profile: &Path, data: &Path, threads: usize) {
    let p = Profile::read(profile).expect("profile");
    let src = DataFile::open(data).expect("open");
    let t = Instant::now();
    let rep = compare_source(
        &p,
        &src,
        &MeasureOptions {
            threads,
            ..Default::default()
        },
        &CompareConfig::default(),
    )
    .expect("compare");
    println!(
        "{} {:.3} {:.1}",
        rep.features.len(),
        t.elapsed().as_secs_f64(),
        vm_hwm_mb()
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() >= 5 && args[1] == "--peak-child" {
        child(
            Path::new(&args[2]),
            Path::new(&args[3]),
            args[4].parse().unwrap_or(1),
        );
        return;
    }
    let dir =
        PathBuf::from(std::env::var("BENCH_DIR").unwrap_or_else(|_| "/work/tmp-bench".into()));
    std::fs::create_dir_all(&dir).expect("bench dir");
    let values = data(N, 1);
    let profile = profile_numeric("x", &values[..100_000], 10, &Binning::Quantile);
    let index = EdgeIndex::new(&profile.edges);

    println!("| measurement | 1 thread | 2 threads |");
    println!("|---|---:|---:|");
    let row = |name: &str, unit: &str, a: f64, b: f64| {
        println!("| {name} | {a:.2} {unit} | {b:.2} {unit} |")
    };

    let sum = |t| ns_per_value(t, &values, |c| c.iter().sum::<f64>());
    row(
        "plain column sum (floor), 10 M f64",
        "ns/value",
        sum(1),
        sum(2),
    );

    let bin = |t| {
        ns_per_value(t, &values, |c| {
            let mut counts = vec![0u64; index.bins() + 1];
            index.count_into(c, &mut counts);
            counts[0] as f64
        })
    };
    row(
        "binning against a 10-bin profile",
        "ns/value",
        bin(1),
        bin(2),
    );
    // BENCH_QUICK=1: the kernels only (sum floor and binning), no files.
    if std::env::var_os("BENCH_QUICK").is_some() {
        return;
    }

    let batches: Vec<RecordBatch> = values
        .chunks(8192)
        .map(|c| {
            RecordBatch::try_from_iter(vec![(
                "x",
                Arc::new(Float64Array::from(c.to_vec())) as ArrayRef,
            )])
            .expect("batch")
        })
        .collect();
    let mem = MemorySource::new("bench", batches).expect("mem");
    let build = |threads| {
        best_of(3, || {
            let t = Instant::now();
            black_box(
                build_profile(
                    &mem,
                    &ProfileOptions {
                        threads,
                        ..Default::default()
                    },
                )
                .expect("profile"),
            );
            t.elapsed().as_secs_f64() * 1e9 / N as f64
        })
    };
    row(
        "build profile (quantile edges), 10 M values",
        "ns/value",
        build(1),
        build(2),
    );
    drop(mem);
    drop(values);

    // End to end from Parquet: 1 M rows x 20 features.
    let rows = 1_000_000;
    let ref_path = dir.join("ref-1m.parquet");
    let cur_path = dir.join("cur-1m.parquet");
    write_parquet(&ref_path, rows, 20, 2, 0.0);
    write_parquet(&cur_path, rows, 20, 3, 0.05);
    let prof = build_profile(
        &DataFile::open(&ref_path).expect("open"),
        &ProfileOptions {
            threads: 2,
            ..Default::default()
        },
    )
    .expect("profile");
    // Best time of three, reported as a rate.
    let e2e_rate = |threads| {
        let src = DataFile::open(&cur_path).expect("open");
        let secs = best_of(3, || {
            let t = Instant::now();
            black_box(
                compare_source(
                    &prof,
                    &src,
                    &MeasureOptions {
                        threads,
                        ..Default::default()
                    },
                    &CompareConfig::default(),
                )
                .expect("compare"),
            );
            t.elapsed().as_secs_f64()
        });
        rows as f64 / secs / 1e6
    };
    row(
        "end to end: Parquet 1 M rows x 20 features vs profile",
        "M rows/s",
        e2e_rate(1),
        e2e_rate(2),
    );
    let profile_path = dir.join("profile.json");
    std::fs::write(&profile_path, prof.to_json()).expect("profile json");

    // Peak memory on a large file, measured in a fresh child process.
    let gb: f64 = std::env::var("BENCH_BIG_GB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0);
    let big_rows = (gb * 1e9 / (20.0 * 8.0)) as usize;
    let big = dir.join("big.parquet");
    let t = Instant::now();
    write_parquet(&big, big_rows, 20, 4, 0.05);
    let size_gb = std::fs::metadata(&big)
        .map(|m| m.len() as f64 / 1e9)
        .unwrap_or(f64::NAN);
    eprintln!(
        "wrote {size_gb:.2} GB ({big_rows} rows) in {:.0}s",
        t.elapsed().as_secs_f64()
    );
    let exe = std::env::current_exe().expect("exe");
    let mut peak = Vec::new();
    for threads in [1, 2] {
        let out = std::process::Command::new(&exe)
            .args([
                "--peak-child",
                &profile_path.display().to_string(),
                &big.display().to_string(),
                &threads.to_string(),
            ])
            .output()
            .expect("child");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let parts: Vec<f64> = text
            .split_whitespace()
            .filter_map(|s| s.parse().ok())
            .collect();
        let (secs, mb) = (
            parts.get(1).copied().unwrap_or(f64::NAN),
            parts.get(2).copied().unwrap_or(f64::NAN),
        );
        peak.push((secs, mb));
    }
    row(
        &format!("peak RSS comparing a {size_gb:.2} GB Parquet file ({big_rows} rows x 20)"),
        "MB",
        peak[0].1,
        peak[1].1,
    );
    row(
        &format!("  ... its throughput ({size_gb:.2} GB)"),
        "M rows/s",
        big_rows as f64 / peak[0].0 / 1e6,
        big_rows as f64 / peak[1].0 / 1e6,
    );
    let _ = std::fs::remove_dir_all(&dir);
}
