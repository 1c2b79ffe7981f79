//! Readers on real files in a temp dir: same answers across formats, and bad input gives an
//! error naming the file and column (never a panic).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{
    ArrayRef, BooleanArray, DictionaryArray, Float32Array, Float64Array, Int64Array, RecordBatch,
    StringArray, types::Int32Type,
};
use tradai_drift::*;

fn batch(n: usize, shift: f64) -> RecordBatch {
    let x: Float64Array = (0..n)
        .map(|i| {
            if i % 17 == 0 {
                None
            } else {
                Some((i % 50) as f64 + shift)
            }
        })
        .collect();
    let y: Int64Array = (0..n).map(|i| Some((i % 7) as i64)).collect();
    let z: Float32Array = (0..n).map(|i| Some((i as f32).sin())).collect();
    let s: StringArray = (0..n)
        .map(|i| Some(["buy", "sell", "hold"][i % 3]))
        .collect();
    let d: DictionaryArray<Int32Type> = (0..n)
        .map(|i| {
            if i % 5 == 0 {
                None
            } else {
                Some(["a", "b"][i % 2])
            }
        })
        .collect();
    let b: BooleanArray = (0..n).map(|i| Some(i % 4 == 0)).collect();
    RecordBatch::try_from_iter(vec![
        ("x", Arc::new(x) as ArrayRef),
        ("y", Arc::new(y) as ArrayRef),
        ("z", Arc::new(z) as ArrayRef),
        ("side", Arc::new(s) as ArrayRef),
        ("dict", Arc::new(d) as ArrayRef),
        ("flag", Arc::new(b) as ArrayRef),
    ])
    .expect("batch")
}

fn write_parquet(path: &Path, batches: &[RecordBatch]) {
    let file = std::fs::File::create(path).expect("create");
    let props = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(1000))
        .build();
    let mut w = parquet::arrow::ArrowWriter::try_new(file, batches[0].schema(), Some(props))
        .expect("writer");
    for b in batches {
        w.write(b).expect("write");
    }
    w.close().expect("close");
}

fn write_ipc_file(path: &Path, batches: &[RecordBatch]) {
    let file = std::fs::File::create(path).expect("create");
    let mut w = arrow_ipc::writer::FileWriter::try_new(file, &batches[0].schema()).expect("writer");
    for b in batches {
        w.write(b).expect("write");
    }
    w.finish().expect("finish");
}

fn write_ipc_stream(path: &Path, batches: &[RecordBatch]) {
    let file = std::fs::File::create(path).expect("create");
    let mut w =
        arrow_ipc::writer::StreamWriter::try_new(file, &batches[0].schema()).expect("writer");
    for b in batches {
        w.write(b).expect("write");
    }
    w.finish().expect("finish");
}

fn write_csv(path: &Path, n: usize, shift: f64) {
    let mut s = String::from("x,y,side\n");
    for i in 0..n {
        let x = if i % 17 == 0 {
            String::new()
        } else {
            format!("{}", (i % 50) as f64 + shift)
        };
        s.push_str(&format!(
            "{x},{},{}\n",
            i % 7,
            ["buy", "sell", "hold"][i % 3]
        ));
    }
    std::fs::write(path, s).expect("csv");
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

fn p(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    dir.path().join(name)
}

fn err_text<T: std::fmt::Debug>(r: Result<T>) -> String {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e.to_string(),
    }
}

/// Equal up to floating-point rounding of mean/std (batching differs between formats).
fn same(a: &Profile, b: &Profile) {
    assert_eq!(a.features.len(), b.features.len());
    for (x, y) in a.features.iter().zip(&b.features) {
        assert_eq!(
            (
                &x.name,
                x.kind,
                &x.edges,
                &x.categories,
                &x.counts,
                x.missing,
                x.n
            ),
            (
                &y.name,
                y.kind,
                &y.edges,
                &y.categories,
                &y.counts,
                y.missing,
                y.n
            )
        );
        match (x.summary, y.summary) {
            (Some(s), Some(t)) => {
                assert_eq!(
                    (s.count, s.min, s.max, s.quantiles),
                    (t.count, t.min, t.max, t.quantiles)
                );
                assert!((s.mean - t.mean).abs() < 1e-9 && (s.std - t.std).abs() < 1e-9);
            }
            (s, t) => assert_eq!(s.is_some(), t.is_some()),
        }
    }
}

#[test]
fn formats_agree_and_parallel_equals_serial() {
    let dir = tmp();
    let batches: Vec<RecordBatch> = (0..5).map(|i| batch(1000, i as f64 * 0.0)).collect();
    write_parquet(&p(&dir, "r.parquet"), &batches);
    write_ipc_file(&p(&dir, "r.arrow"), &batches);
    write_ipc_stream(&p(&dir, "r.arrows"), &batches);
    let opts = ProfileOptions::default();
    let pq = build_profile(&DataFile::open(p(&dir, "r.parquet")).expect("open"), &opts)
        .expect("profile");
    let ipc =
        build_profile(&DataFile::open(p(&dir, "r.arrow")).expect("open"), &opts).expect("profile");
    let st =
        build_profile(&DataFile::open(p(&dir, "r.arrows")).expect("open"), &opts).expect("profile");
    let mem = build_profile(
        &MemorySource::new("mem", batches.clone()).expect("mem"),
        &opts,
    )
    .expect("profile");
    same(&pq, &ipc);
    same(&pq, &st);
    same(&pq, &mem);
    assert_eq!(pq.features.len(), 6);
    let dict = pq.feature("dict").expect("dict");
    assert_eq!(dict.categories, vec!["a", "b"]);
    assert_eq!(dict.missing, 1000);
    assert_eq!(
        pq.feature("flag").expect("flag").categories,
        vec!["false", "true"]
    );
    // two threads over row groups: identical counts
    let par = build_profile(
        &DataFile::open(p(&dir, "r.parquet")).expect("open"),
        &ProfileOptions {
            threads: 2,
            ..ProfileOptions::default()
        },
    )
    .expect("profile");
    for (a, b) in par.features.iter().zip(&pq.features) {
        assert_eq!(a.counts, b.counts, "{}", a.name);
        assert_eq!(a.edges, b.edges, "{}", a.name);
    }
    // compare: same data => no drift; shifted => x drifts
    let shifted: Vec<RecordBatch> = (0..2).map(|_| batch(1000, 20.0)).collect();
    write_parquet(&p(&dir, "c.parquet"), &shifted);
    let cur = DataFile::open(p(&dir, "c.parquet")).expect("open");
    let rep = compare_source(
        &pq,
        &cur,
        &MeasureOptions {
            threads: 2,
            ..Default::default()
        },
        &CompareConfig::default(),
    )
    .expect("compare");
    assert_eq!(rep.ranking[0], "x");
    assert_eq!(rep.features[0].severity, Severity::Significant);
    let same = compare_source(
        &pq,
        &DataFile::open(p(&dir, "r.arrow")).expect("open"),
        &MeasureOptions::default(),
        &CompareConfig::default(),
    )
    .expect("compare");
    assert!(
        same.features
            .iter()
            .all(|f| f.psi < 1e-12 && !f.significant)
    );
    // evidently mode runs on raw data
    let ev = compare_evidently(
        &DataFile::open(p(&dir, "r.parquet")).expect("open"),
        &cur,
        None,
        &[],
        &CompareConfig::default(),
    )
    .expect("evidently");
    assert_eq!(ev.ranking[0], "x");
}

#[test]
fn csv_profile_and_forced_categorical() {
    let dir = tmp();
    write_csv(&p(&dir, "r.csv"), 500, 0.0);
    let src = DataFile::open(p(&dir, "r.csv")).expect("open");
    let prof = build_profile(
        &src,
        &ProfileOptions {
            categorical: vec!["y".into()],
            ..Default::default()
        },
    )
    .expect("profile");
    let y = prof.feature("y").expect("y");
    assert_eq!(y.kind, FeatureKind::Categorical);
    assert_eq!(y.categories.len(), 7);
    let x = prof.feature("x").expect("x");
    assert_eq!(x.missing, 30);
    assert_eq!(x.kind, FeatureKind::Numeric);
}

#[test]
fn missing_column_names_file_and_column() {
    let dir = tmp();
    write_parquet(&p(&dir, "r.parquet"), &[batch(100, 0.0)]);
    let src = DataFile::open(p(&dir, "r.parquet")).expect("open");
    let e = err_text(build_profile(
        &src,
        &ProfileOptions {
            features: Some(vec!["nope".into()]),
            ..Default::default()
        },
    ));
    assert!(e.contains("r.parquet") && e.contains("`nope`"), "{e}");
    // current lacks a profiled column
    let prof = build_profile(&src, &ProfileOptions::default()).expect("profile");
    write_csv(&p(&dir, "c.csv"), 50, 0.0);
    let e = err_text(measure(
        &prof,
        &DataFile::open(p(&dir, "c.csv")).expect("open"),
        &MeasureOptions::default(),
    ));
    assert!(e.contains("c.csv") && e.contains("column `z`"), "{e}");
}

#[test]
fn type_mismatch_names_file_and_column() {
    let dir = tmp();
    write_parquet(&p(&dir, "r.parquet"), &[batch(100, 0.0)]);
    let prof = build_profile(
        &DataFile::open(p(&dir, "r.parquet")).expect("open"),
        &ProfileOptions {
            features: Some(vec!["x".into()]),
            ..Default::default()
        },
    )
    .expect("profile");
    std::fs::write(p(&dir, "c.csv"), "x\nhigh\nlow\n").expect("csv");
    let e = err_text(measure(
        &prof,
        &DataFile::open(p(&dir, "c.csv")).expect("open"),
        &MeasureOptions::default(),
    ));
    assert!(
        e.contains("c.csv")
            && e.contains("`x`")
            && e.contains("numeric")
            && e.contains("categorical"),
        "{e}"
    );
}

#[test]
fn empty_and_all_missing_columns() {
    let dir = tmp();
    std::fs::write(p(&dir, "empty.csv"), "a,b\n").expect("csv");
    let e = err_text(build_profile(
        &DataFile::open(p(&dir, "empty.csv")).expect("open"),
        &ProfileOptions::default(),
    ));
    assert!(e.contains("empty.csv") && e.contains("empty"), "{e}");
    let x: Float64Array = vec![None, Some(f64::NAN), None].into_iter().collect();
    let b = RecordBatch::try_from_iter(vec![("x", Arc::new(x) as ArrayRef)]).expect("batch");
    write_parquet(&p(&dir, "nan.parquet"), &[b]);
    let e = err_text(build_profile(
        &DataFile::open(p(&dir, "nan.parquet")).expect("open"),
        &ProfileOptions::default(),
    ));
    assert!(
        e.contains("nan.parquet") && e.contains("`x`") && e.contains("only missing"),
        "{e}"
    );
}

#[test]
fn corrupt_files_are_errors() {
    let dir = tmp();
    std::fs::write(p(&dir, "bad.parquet"), b"PAR1 this is not parquet").expect("w");
    let e = err_text(DataFile::open(p(&dir, "bad.parquet")));
    assert!(e.contains("bad.parquet") && e.contains("Parquet"), "{e}");
    std::fs::write(p(&dir, "bad.arrow"), b"ARROW1\0\0garbage").expect("w");
    let e = err_text(DataFile::open(p(&dir, "bad.arrow")));
    assert!(e.contains("bad.arrow"), "{e}");
    std::fs::write(p(&dir, "bad.arrows"), b"\xff\xff\xff\xffgarbage").expect("w");
    assert!(DataFile::open(p(&dir, "bad.arrows")).is_err());
    // truncated parquet: header fine, footer cut
    write_parquet(&p(&dir, "ok.parquet"), &[batch(500, 0.0)]);
    let bytes = std::fs::read(p(&dir, "ok.parquet")).expect("r");
    std::fs::write(p(&dir, "cut.parquet"), &bytes[..bytes.len() / 2]).expect("w");
    let e = err_text(DataFile::open(p(&dir, "cut.parquet")));
    assert!(e.contains("cut.parquet"), "{e}");
    // CSV with a ragged row
    std::fs::write(p(&dir, "ragged.csv"), "x,y\n1,2\n3\n4,5,6\n").expect("w");
    let r = DataFile::open(p(&dir, "ragged.csv"))
        .and_then(|s| build_profile(&s, &ProfileOptions::default()));
    let e = err_text(r);
    assert!(e.contains("ragged.csv"), "{e}");
    // missing file
    let e = err_text(DataFile::open(p(&dir, "nope.parquet")));
    assert!(e.contains("nope.parquet"), "{e}");
}
