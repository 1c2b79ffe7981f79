//! Turning Arrow columns into bin counts and statistics, batch by batch.
//!
//! Numeric columns of any integer or float width (and decimals / f16 via a cast) are converted
//! to `f64` in a reused scratch buffer, nulls become NaN, and one kernel does the rest.

use std::collections::HashMap;

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrowPrimitiveType, PrimitiveArray};
use arrow_schema::DataType;

use crate::binning::{EdgeIndex, Reservoir};
use crate::error::{DriftError, Result};
use crate::profile::{FeatureKind, FeatureProfile, NumericSummary, Quantiles};
use crate::stats::Moments;

/// Kind of an Arrow type: `None` for unsupported types; `Null` columns count as numeric
/// (they are all missing and rejected later with a clear error).
pub fn kind_of(dt: &DataType) -> Option<FeatureKind> {
    match dt {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64
        | DataType::Float16
        | DataType::Float32
        | DataType::Float64
        | DataType::Decimal32(_, _)
        | DataType::Decimal64(_, _)
        | DataType::Decimal128(_, _)
        | DataType::Decimal256(_, _)
        | DataType::Null => Some(FeatureKind::Numeric),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Boolean => {
            Some(FeatureKind::Categorical)
        }
        DataType::Dictionary(_, v) => match v.as_ref() {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                Some(FeatureKind::Categorical)
            }
            other => kind_of(other).map(|_| FeatureKind::Categorical),
        },
        _ => None,
    }
}

trait AsF64: Copy {
    fn as_f64(self) -> f64;
}
macro_rules! as_f64 {
    ($($t:ty),*) => {$(impl AsF64 for $t { #[inline(always)] fn as_f64(self) -> f64 { self as f64 } })*};
}
as_f64!(i8, i16, i32, i64, u8, u16, u32, u64, f32, f64);

fn fill_primitive<T>(array: &PrimitiveArray<T>, out: &mut Vec<f64>)
where
    T: ArrowPrimitiveType,
    T::Native: AsF64,
{
    out.clear();
    out.extend(array.values().iter().map(|v| v.as_f64()));
    if let Some(nulls) = array.nulls().filter(|n| n.null_count() > 0) {
        for (slot, valid) in out.iter_mut().zip(nulls.iter()) {
            if !valid {
                *slot = f64::NAN;
            }
        }
    }
}

/// View a numeric Arrow array as `f64` (nulls as NaN). Borrows `Float64` without nulls.
pub(crate) fn numeric_view<'a>(
    array: &'a dyn Array,
    scratch: &'a mut Vec<f64>,
    file: &str,
    column: &str,
) -> Result<&'a [f64]> {
    macro_rules! prim {
        ($t:ty) => {{
            fill_primitive(array.as_primitive::<$t>(), scratch);
            Ok(scratch.as_slice())
        }};
    }
    match array.data_type() {
        DataType::Float64 => {
            let a = array.as_primitive::<Float64Type>();
            if a.null_count() == 0 {
                Ok(a.values().as_ref())
            } else {
                fill_primitive(a, scratch);
                Ok(scratch.as_slice())
            }
        }
        DataType::Float32 => prim!(Float32Type),
        DataType::Int8 => prim!(Int8Type),
        DataType::Int16 => prim!(Int16Type),
        DataType::Int32 => prim!(Int32Type),
        DataType::Int64 => prim!(Int64Type),
        DataType::UInt8 => prim!(UInt8Type),
        DataType::UInt16 => prim!(UInt16Type),
        DataType::UInt32 => prim!(UInt32Type),
        DataType::UInt64 => prim!(UInt64Type),
        DataType::Null => {
            scratch.clear();
            scratch.resize(array.len(), f64::NAN);
            Ok(scratch.as_slice())
        }
        DataType::Float16
        | DataType::Decimal32(_, _)
        | DataType::Decimal64(_, _)
        | DataType::Decimal128(_, _)
        | DataType::Decimal256(_, _) => {
            let cast = arrow_cast::cast(array, &DataType::Float64).map_err(|e| {
                DriftError::UnsupportedType {
                    file: file.to_owned(),
                    column: column.to_owned(),
                    data_type: format!("{} ({e})", array.data_type()),
                }
            })?;
            fill_primitive(cast.as_primitive::<Float64Type>(), scratch);
            Ok(scratch.as_slice())
        }
        other => Err(DriftError::UnsupportedType {
            file: file.to_owned(),
            column: column.to_owned(),
            data_type: other.to_string(),
        }),
    }
}

/// Streaming accumulator for a numeric feature.
#[derive(Debug, Clone)]
pub(crate) struct NumericAcc {
    pub index: Option<EdgeIndex>,
    /// Bin counts with the missing slot last (only with an index).
    pub counts: Vec<u64>,
    pub missing: u64,
    pub n: u64,
    pub moments: Moments,
    pub min: f64,
    pub max: f64,
    pub reservoir: Option<Reservoir>,
    finite: Vec<f64>,
}

impl NumericAcc {
    pub fn new(edges: Option<&[f64]>, reservoir: Option<Reservoir>) -> Self {
        let index = edges.map(EdgeIndex::new);
        let counts = vec![0; index.as_ref().map_or(0, |i| i.bins() + 1)];
        Self {
            index,
            counts,
            missing: 0,
            n: 0,
            moments: Moments::default(),
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            reservoir,
            finite: Vec::new(),
        }
    }

    /// Add values (NaN = missing).
    pub fn push(&mut self, values: &[f64]) {
        self.n += values.len() as u64;
        if let Some(index) = &self.index {
            let before = self.counts[index.bins()];
            index.count_into(values, &mut self.counts);
            self.missing += self.counts[index.bins()] - before;
        } else {
            self.missing += values.iter().filter(|x| x.is_nan()).count() as u64;
        }
        let (cnt, sum, mn, mx) = finite_sum_min_max(values);
        if cnt > 0 {
            let mean = sum / cnt as f64;
            let m2 = finite_m2(values, mean);
            self.moments = self.moments.merge(&Moments {
                count: cnt,
                mean,
                m2,
            });
            self.min = self.min.min(mn);
            self.max = self.max.max(mx);
        }
        if let Some(r) = &mut self.reservoir {
            if cnt as usize == values.len() {
                r.extend(values);
            } else {
                self.finite.clear();
                self.finite
                    .extend(values.iter().copied().filter(|x| x.is_finite()));
                r.extend(&self.finite);
            }
        }
    }

    pub fn summary(&self, quantiles: Option<Quantiles>) -> Option<NumericSummary> {
        if self.moments.count == 0 {
            return None;
        }
        Some(NumericSummary {
            count: self.moments.count,
            mean: self.moments.mean,
            std: self.moments.std(),
            min: self.min,
            max: self.max,
            quantiles,
        })
    }
}

/// Count, sum, min and max of the finite values, in eight independent lanes so it vectorises.
fn finite_sum_min_max(values: &[f64]) -> (u64, f64, f64, f64) {
    let mut cnt = [0u64; 8];
    let mut sum = [0f64; 8];
    let mut mn = [f64::INFINITY; 8];
    let mut mx = [f64::NEG_INFINITY; 8];
    let mut chunks = values.chunks_exact(8);
    for c in &mut chunks {
        for l in 0..8 {
            let x = c[l];
            let f = x.is_finite();
            cnt[l] += u64::from(f);
            sum[l] += if f { x } else { 0.0 };
            mn[l] = if f && x < mn[l] { x } else { mn[l] };
            mx[l] = if f && x > mx[l] { x } else { mx[l] };
        }
    }
    for &x in chunks.remainder() {
        if x.is_finite() {
            cnt[0] += 1;
            sum[0] += x;
            mn[0] = mn[0].min(x);
            mx[0] = mx[0].max(x);
        }
    }
    (
        cnt.iter().sum(),
        sum.iter().sum(),
        mn.iter().copied().fold(f64::INFINITY, f64::min),
        mx.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    )
}

fn finite_m2(values: &[f64], mean: f64) -> f64 {
    let mut acc = [0f64; 8];
    let mut chunks = values.chunks_exact(8);
    for c in &mut chunks {
        for l in 0..8 {
            let d = c[l] - mean;
            acc[l] += if c[l].is_finite() { d * d } else { 0.0 };
        }
    }
    for &x in chunks.remainder() {
        if x.is_finite() {
            acc[0] += (x - mean) * (x - mean);
        }
    }
    acc.iter().sum()
}

/// Streaming accumulator for a categorical feature.
#[derive(Debug, Clone)]
pub(crate) struct CategoricalAcc {
    index: HashMap<String, usize>,
    pub names: Vec<String>,
    pub counts: Vec<u64>,
    /// Reference mode: new categories become bins. Current mode: they count as unseen.
    grow: bool,
    pub unseen: u64,
    pub missing: u64,
    pub n: u64,
    limit: usize,
}

impl CategoricalAcc {
    pub fn new(categories: &[String], grow: bool, limit: usize) -> Self {
        Self {
            index: categories
                .iter()
                .enumerate()
                .map(|(i, c)| (c.clone(), i))
                .collect(),
            names: categories.to_vec(),
            counts: vec![0; categories.len()],
            grow,
            unseen: 0,
            missing: 0,
            n: 0,
            limit,
        }
    }

    fn slot(&mut self, value: &str) -> Option<usize> {
        if let Some(&i) = self.index.get(value) {
            return Some(i);
        }
        if !self.grow {
            return None;
        }
        let i = self.names.len();
        self.index.insert(value.to_owned(), i);
        self.names.push(value.to_owned());
        self.counts.push(0);
        Some(i)
    }

    fn add(&mut self, value: Option<&str>, times: u64) {
        match value {
            None => self.missing += times,
            Some(v) => match self.slot(v) {
                Some(i) => self.counts[i] += times,
                None => self.unseen += times,
            },
        }
    }

    pub fn push_array(&mut self, array: &dyn Array, file: &str, column: &str) -> Result<()> {
        self.n += array.len() as u64;
        if let Some(dict) = array.as_any_dictionary_opt() {
            let values = string_values(dict.values().as_ref(), file, column)?;
            let mut per_key = vec![0u64; values.len()];
            let mut missing = 0u64;
            if !values.is_empty() {
                let keys = dict.normalized_keys();
                let key_nulls = dict.keys().logical_nulls();
                for (i, &k) in keys.iter().enumerate() {
                    let valid = key_nulls.as_ref().is_none_or(|n| n.is_valid(i));
                    if valid && values[k].is_some() {
                        per_key[k] += 1;
                    } else {
                        missing += 1;
                    }
                }
            } else {
                missing = array.len() as u64;
            }
            self.missing += missing;
            for (v, c) in values.iter().zip(per_key) {
                if c > 0 {
                    self.add(v.as_deref(), c);
                }
            }
        } else {
            let values = string_values(array, file, column)?;
            for v in &values {
                self.add(v.as_deref(), 1);
            }
        }
        if self.names.len() > self.limit {
            return Err(DriftError::TooManyCategories {
                file: file.to_owned(),
                column: column.to_owned(),
                limit: self.limit,
            });
        }
        Ok(())
    }

    /// Categories sorted, counts permuted accordingly.
    pub fn sorted(&self) -> (Vec<String>, Vec<u64>) {
        let mut pairs: Vec<(String, u64)> = self
            .names
            .iter()
            .cloned()
            .zip(self.counts.iter().copied())
            .collect();
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        pairs.into_iter().unzip()
    }
}

/// Category values of a (non-dictionary) array as owned strings; numbers are formatted, NaN
/// and null are missing.
fn string_values(array: &dyn Array, file: &str, column: &str) -> Result<Vec<Option<String>>> {
    let valid = |i: usize| array.is_valid(i);
    Ok(match array.data_type() {
        DataType::Utf8 => array
            .as_string::<i32>()
            .iter()
            .map(|v| v.map(str::to_owned))
            .collect(),
        DataType::LargeUtf8 => array
            .as_string::<i64>()
            .iter()
            .map(|v| v.map(str::to_owned))
            .collect(),
        DataType::Utf8View => array
            .as_string_view()
            .iter()
            .map(|v| v.map(str::to_owned))
            .collect(),
        DataType::Boolean => array
            .as_boolean()
            .iter()
            .map(|v| v.map(|b| b.to_string()))
            .collect(),
        dt if kind_of(dt) == Some(FeatureKind::Numeric) => {
            let mut scratch = Vec::new();
            let is_int = dt.is_integer();
            let vals = numeric_view(array, &mut scratch, file, column)?;
            vals.iter()
                .enumerate()
                .map(|(i, &x)| {
                    if !valid(i) || x.is_nan() {
                        None
                    } else if is_int {
                        Some(format!("{}", x as i64))
                    } else {
                        Some(format!("{x}"))
                    }
                })
                .collect()
        }
        other => {
            return Err(DriftError::UnsupportedType {
                file: file.to_owned(),
                column: column.to_owned(),
                data_type: other.to_string(),
            });
        }
    })
}

/// Build a numeric `FeatureProfile` from an accumulator with an index.
pub(crate) fn numeric_profile_from(
    name: &str,
    method: crate::profile::EdgeMethod,
    edges: &[f64],
    acc: &NumericAcc,
    quantiles: Option<Quantiles>,
) -> FeatureProfile {
    let bins = edges.len() + 1;
    FeatureProfile {
        name: name.to_owned(),
        kind: FeatureKind::Numeric,
        edge_method: method,
        edges: edges.to_vec(),
        categories: Vec::new(),
        counts: acc
            .counts
            .get(..bins)
            .map_or_else(|| vec![0; bins], <[u64]>::to_vec),
        unseen: 0,
        missing: acc.missing,
        n: acc.n,
        summary: acc.summary(quantiles),
        design_effect: None,
    }
}

impl CategoricalAcc {
    /// Add `times` occurrences of a named category (used when merging partial accumulators).
    pub(crate) fn add_named(&mut self, name: &str, times: u64) {
        self.add(Some(name), times);
    }
}
