//! `--binning evidently` against numbers Evidently itself produced.
//!
//! The expected values were computed by Evidently 0.7.23's own `get_binned_data` (its
//! `legacy/calculations/stattests/utils.py`, numpy 2.4, pandas 3.1) and its `_psi` formula, on the
//! exact data built below; the script is in the comment at the end of this file.

use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use tradai_drift::*;

fn numeric(name: &str, v: Vec<f64>) -> MemorySource {
    let schema = Arc::new(Schema::new(vec![Field::new(
        name,
        DataType::Float64,
        false,
    )]));
    let col: ArrayRef = Arc::new(Float64Array::from(v));
    MemorySource::new(name, vec![RecordBatch::try_new(schema, vec![col]).unwrap()]).unwrap()
}

fn text(name: &str, v: Vec<&str>) -> MemorySource {
    let schema = Arc::new(Schema::new(vec![Field::new(name, DataType::Utf8, false)]));
    let col: ArrayRef = Arc::new(StringArray::from(v));
    MemorySource::new(name, vec![RecordBatch::try_new(schema, vec![col]).unwrap()]).unwrap()
}

fn evidently_psi(r: &MemorySource, c: &MemorySource) -> f64 {
    let rep = compare_evidently(r, c, None, &[], &CompareConfig::default()).unwrap();
    rep.features[0].psi
}

#[test]
fn sturges_bins_over_reference_and_current_match_evidently() {
    let r: Vec<f64> = (0..200)
        .map(|i| f64::from(i * 37 % 101) / 10.0 + f64::from(i).sin())
        .collect();
    let c: Vec<f64> = (0..80)
        .map(|i| f64::from(i * 53 % 97) / 10.0 + 1.5 + f64::from(i).cos())
        .collect();
    let psi = evidently_psi(&numeric("x", r), &numeric("x", c));
    assert!((psi - 0.6267672388709222).abs() < 1e-9, "{psi}");
}

#[test]
fn categories_with_unseen_values_on_either_side_match_evidently() {
    let r: Vec<&str> = (0..150)
        .map(|i| {
            if i % 7 != 0 {
                ["a", "b", "c"][i % 3]
            } else {
                "d"
            }
        })
        .collect();
    let c: Vec<&str> = (0..60)
        .map(|i| {
            if i % 5 != 0 {
                ["a", "b", "c"][(i * 2) % 3]
            } else {
                "e"
            }
        })
        .collect();
    let psi = evidently_psi(&text("c", r), &text("c", c));
    assert!((psi - 2.591544326809725).abs() < 1e-9, "{psi}");
}

#[test]
fn a_numeric_feature_with_few_values_is_binned_per_value_as_evidently_does() {
    let r: Vec<f64> = (0..100).map(|i| f64::from(i % 4)).collect();
    let c: Vec<f64> = (0..40).map(|i| f64::from((i * 3) % 5)).collect();
    let psi = evidently_psi(&numeric("f", r), &numeric("f", c));
    assert!((psi - 1.5640491119253044).abs() < 1e-9, "{psi}");
}

// The script (run in a virtualenv with `pip install evidently`; the package's own __init__ is
// bypassed because its pandas import fails on pandas 3.1; the module used is self-contained):
//
//   import sys, types, enum, importlib.util, math
//   import numpy as np, pandas as pd
//   core = types.ModuleType("evidently.legacy.core")
//   class ColumnType(enum.Enum): Numerical = "num"; Categorical = "cat"
//   core.ColumnType = ColumnType
//   for n in ["evidently", "evidently.legacy"]: sys.modules[n] = types.ModuleType(n)
//   sys.modules["evidently.legacy.core"] = core
//   spec = importlib.util.spec_from_file_location("u", ".../evidently/legacy/calculations/stattests/utils.py")
//   u = importlib.util.module_from_spec(spec); spec.loader.exec_module(u)
//   def psi(r, c, t):
//       rp, cp = u.get_binned_data(pd.Series(r), pd.Series(c), t, 30)
//       return float(np.sum((rp - cp) * np.log(rp / cp)))
//   ref = [(i * 37 % 101) / 10.0 + math.sin(i) for i in range(200)]
//   cur = [(i * 53 % 97) / 10.0 + 1.5 + math.cos(i) for i in range(80)]
//   psi(ref, cur, ColumnType.Numerical)                       # 0.6267672388709222
//   cref = ["abc"[i % 3] if i % 7 else "d" for i in range(150)]
//   ccur = ["abc"[(i * 2) % 3] if i % 5 else "e" for i in range(60)]
//   psi(cref, ccur, ColumnType.Categorical)                   # 2.591544326809725
//   psi([float(i % 4) for i in range(100)],
//       [float((i * 3) % 5) for i in range(40)], ColumnType.Numerical)  # 1.5640491119253044
