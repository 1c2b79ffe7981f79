//! Building profiles and measuring current data, from files, batches or plain slices.
//!
//! Profiles are built in two passes over the reference: pass 1 fixes the edges (quantiles from a
//! bounded seeded sample, exact up to 65 536 values; or min/max for equal width), pass 2 counts
//! on those fixed edges. Because pass 2 only adds counts, partial profiles on the same edges merge
//! exactly ([`crate::Profile::merge`]), and pass 2 runs in parallel over Parquet row groups.

use std::collections::{BTreeMap, HashMap};

use arrow_array::{Array, RecordBatch};
use arrow_schema::Schema;

use crate::acc::{CategoricalAcc, NumericAcc, kind_of, numeric_profile_from, numeric_view};
use crate::binning::{Reservoir, equal_width_edges, quantile_edges, sturges_edges};
use crate::compare::{CompareConfig, DriftReport, ShareRule, aggregate, compare_feature, fnv1a};
use crate::error::{DriftError, Result};
use crate::io::{BatchSource, column_list};
use crate::profile::{
    EdgeMethod, FeatureKind, FeatureProfile, NumericSummary, PROFILE_FORMAT_VERSION, Profile,
    Quantiles,
};

/// Default size of the quantile sample per feature.
pub const DEFAULT_SAMPLE_SIZE: usize = 65_536;

/// How numeric bin edges are chosen when building a profile.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Binning {
    /// Reference quantiles: equal reference mass per bin (default).
    #[default]
    Quantile,
    /// Equal width between the reference min and max.
    EqualWidth,
    /// The given internal cut points, for every numeric feature.
    Explicit(Vec<f64>),
}

/// Options for building a reference profile.
#[derive(Debug, Clone)]
pub struct ProfileOptions {
    /// Number of numeric bins (default 10).
    pub bins: usize,
    /// Edge choice.
    pub binning: Binning,
    /// Features to profile (`None` = every numeric or categorical column).
    pub features: Option<Vec<String>>,
    /// Columns treated as categorical even if numeric.
    pub categorical: Vec<String>,
    /// Quantile sample size per feature.
    pub sample_size: usize,
    /// Seed for the quantile sample.
    pub seed: u64,
    /// Limit on distinct categories per feature.
    pub max_categories: usize,
    /// Worker threads (Parquet row groups are split among them).
    pub threads: usize,
}

impl Default for ProfileOptions {
    fn default() -> Self {
        Self {
            bins: 10,
            binning: Binning::Quantile,
            features: None,
            categorical: Vec::new(),
            sample_size: DEFAULT_SAMPLE_SIZE,
            seed: 0,
            max_categories: 100_000,
            threads: 1,
        }
    }
}

/// Options for measuring current data against a profile.
#[derive(Debug, Clone)]
pub struct MeasureOptions {
    /// Subset of the profile's features (`None` = all).
    pub features: Option<Vec<String>>,
    /// Quantile sample size per feature (current quantiles are reported).
    pub sample_size: usize,
    /// Seed for the sample.
    pub seed: u64,
    /// Worker threads.
    pub threads: usize,
}

impl Default for MeasureOptions {
    fn default() -> Self {
        Self {
            features: None,
            sample_size: DEFAULT_SAMPLE_SIZE,
            seed: 0,
            threads: 1,
        }
    }
}

#[derive(Debug, Clone)]
enum Acc {
    Num(Box<NumericAcc>),
    Cat(CategoricalAcc),
}

/// Counts batches on a template profile's fixed bins.
///
/// In reference mode new categories become bins; in current mode they count as unseen, and a
/// quantile sample is kept so current quantiles can be reported.
#[derive(Debug, Clone)]
pub struct ProfileAccumulator {
    template: Profile,
    current: bool,
    accs: Vec<Acc>,
    scratch: Vec<f64>,
}

impl ProfileAccumulator {
    /// Accumulate reference data on the template's edges (categories grow).
    pub fn reference(template: &Profile) -> Self {
        Self::new(template, false, 0, 0)
    }

    /// Accumulate current data on the template's bins (unseen categories, current quantiles).
    pub fn current(template: &Profile, sample_size: usize, seed: u64) -> Self {
        Self::new(template, true, sample_size, seed)
    }

    fn new(template: &Profile, current: bool, sample_size: usize, seed: u64) -> Self {
        let accs = template
            .features
            .iter()
            .map(|f| match f.kind {
                FeatureKind::Numeric => Acc::Num(Box::new(NumericAcc::new(
                    Some(&f.edges),
                    current.then(|| Reservoir::new(sample_size, seed ^ fnv1a(&f.name))),
                ))),
                FeatureKind::Categorical => Acc::Cat(CategoricalAcc::new(
                    if current { &f.categories } else { &[] },
                    !current,
                    usize::MAX,
                )),
            })
            .collect();
        Self {
            template: template.empty_like(),
            current,
            accs,
            scratch: Vec::new(),
        }
    }

    /// Add one record batch; `label` names its source in errors.
    pub fn push_batch(&mut self, batch: &RecordBatch, label: &str) -> Result<()> {
        for (f, acc) in self.template.features.iter().zip(self.accs.iter_mut()) {
            let col = batch
                .column_by_name(&f.name)
                .ok_or_else(|| DriftError::MissingColumn {
                    file: label.to_owned(),
                    column: f.name.clone(),
                    available: column_list(batch.schema().as_ref()),
                })?;
            push_column(acc, f, col.as_ref(), label, &mut self.scratch)?;
        }
        Ok(())
    }

    /// Add plain values to feature `feature` (index in the template); NaN is missing.
    pub fn push_values(&mut self, feature: usize, values: &[f64]) -> Result<()> {
        match self.accs.get_mut(feature) {
            Some(Acc::Num(a)) => {
                a.push(values);
                Ok(())
            }
            _ => Err(DriftError::Config(format!(
                "feature {feature} is not numeric"
            ))),
        }
    }

    /// Merge an accumulator of another part of the data (same template).
    pub fn merge(mut self, other: ProfileAccumulator) -> Result<Self> {
        if self.accs.len() != other.accs.len() {
            return Err(DriftError::Incompatible(
                "different feature lists".to_owned(),
            ));
        }
        for (a, b) in self.accs.iter_mut().zip(other.accs) {
            match (a, b) {
                (Acc::Num(a), Acc::Num(b)) => {
                    for (x, y) in a.counts.iter_mut().zip(&b.counts) {
                        *x += y;
                    }
                    a.missing += b.missing;
                    a.n += b.n;
                    a.moments = a.moments.merge(&b.moments);
                    a.min = a.min.min(b.min);
                    a.max = a.max.max(b.max);
                    a.reservoir = match (a.reservoir.take(), b.reservoir) {
                        (Some(x), Some(y)) => Some(x.merge(y)),
                        (x, y) => x.or(y),
                    };
                }
                (Acc::Cat(a), Acc::Cat(b)) => a.absorb(&b),
                _ => return Err(DriftError::Incompatible("feature kinds differ".to_owned())),
            }
        }
        Ok(self)
    }

    /// The accumulated profile (current mode: counts on the template's bins plus `unseen`).
    pub fn finish(self) -> Profile {
        let features = self
            .template
            .features
            .iter()
            .zip(self.accs)
            .map(|(f, acc)| match acc {
                Acc::Num(a) => {
                    let quantiles = if self.current {
                        a.reservoir
                            .as_ref()
                            .and_then(|r| Quantiles::from_sorted(&r.sorted()))
                    } else {
                        f.summary.and_then(|s| s.quantiles)
                    };
                    numeric_profile_from(&f.name, f.edge_method, &f.edges, &a, quantiles)
                }
                Acc::Cat(c) => {
                    let (categories, counts) = if self.current {
                        (c.names.clone(), c.counts.clone())
                    } else {
                        c.sorted()
                    };
                    FeatureProfile {
                        name: f.name.clone(),
                        kind: FeatureKind::Categorical,
                        edge_method: EdgeMethod::Categories,
                        edges: Vec::new(),
                        categories,
                        counts,
                        unseen: c.unseen,
                        missing: c.missing,
                        n: c.n,
                        summary: None,
                        design_effect: None,
                    }
                }
            })
            .collect();
        Profile {
            format_version: PROFILE_FORMAT_VERSION,
            source: self.template.source.clone(),
            features,
        }
    }
}

impl CategoricalAcc {
    fn absorb(&mut self, other: &CategoricalAcc) {
        for (name, &c) in other.names.iter().zip(&other.counts) {
            self.add_named(name, c);
        }
        self.unseen += other.unseen;
        self.missing += other.missing;
        self.n += other.n;
    }
}

fn push_column(
    acc: &mut Acc,
    f: &FeatureProfile,
    col: &dyn Array,
    label: &str,
    scratch: &mut Vec<f64>,
) -> Result<()> {
    let found = kind_of(col.data_type()).ok_or_else(|| DriftError::UnsupportedType {
        file: label.to_owned(),
        column: f.name.clone(),
        data_type: col.data_type().to_string(),
    })?;
    match acc {
        Acc::Num(a) => {
            if found != FeatureKind::Numeric {
                return Err(DriftError::TypeMismatch {
                    file: label.to_owned(),
                    column: f.name.clone(),
                    reference: FeatureKind::Numeric,
                    current: found,
                });
            }
            let values = numeric_view(col, scratch, label, &f.name)?;
            a.push(values);
        }
        Acc::Cat(c) => c.push_array(col, label, &f.name)?,
    }
    Ok(())
}

/// Run `push` over the source's batches with up to `threads` workers and merge the results.
fn scan_parallel<A: Send>(
    source: &dyn BatchSource,
    columns: &[String],
    threads: usize,
    make: &(dyn Fn() -> A + Sync),
    push: &(dyn Fn(&mut A, &RecordBatch) -> Result<()> + Sync),
    merge: &(dyn Fn(A, A) -> Result<A> + Sync),
) -> Result<A> {
    let parts = threads.clamp(1, source.parts().max(1));
    if parts == 1 {
        let mut acc = make();
        source.scan(columns, &mut |b| push(&mut acc, b))?;
        return Ok(acc);
    }
    let results: Vec<Result<A>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..parts)
            .map(|part| {
                s.spawn(move || {
                    let mut acc = make();
                    source.scan_part(columns, part, parts, &mut |b| push(&mut acc, b))?;
                    Ok(acc)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(DriftError::Config("worker thread panicked".into())))
            })
            .collect()
    });
    let mut out: Option<A> = None;
    for r in results {
        let r = r?;
        out = Some(match out {
            None => r,
            Some(acc) => merge(acc, r)?,
        });
    }
    out.ok_or_else(|| DriftError::Config("no worker ran".into()))
}

/// Resolve the features to profile from a schema: (name, kind).
fn resolve_features(
    schema: &Schema,
    label: &str,
    features: Option<&[String]>,
    categorical: &[String],
) -> Result<Vec<(String, FeatureKind)>> {
    for c in categorical {
        if schema.index_of(c).is_err() {
            return Err(DriftError::MissingColumn {
                file: label.to_owned(),
                column: c.clone(),
                available: column_list(schema),
            });
        }
    }
    let pick = |name: &str, strict: bool| -> Result<Option<(String, FeatureKind)>> {
        let field = schema
            .field_with_name(name)
            .map_err(|_| DriftError::MissingColumn {
                file: label.to_owned(),
                column: name.to_owned(),
                available: column_list(schema),
            })?;
        match kind_of(field.data_type()) {
            Some(k) => {
                let k = if categorical.iter().any(|c| c == name) {
                    FeatureKind::Categorical
                } else {
                    k
                };
                Ok(Some((name.to_owned(), k)))
            }
            None if strict => Err(DriftError::UnsupportedType {
                file: label.to_owned(),
                column: name.to_owned(),
                data_type: field.data_type().to_string(),
            }),
            None => Ok(None),
        }
    };
    let out: Vec<(String, FeatureKind)> = match features {
        Some(list) => list
            .iter()
            .map(|n| pick(n, true))
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .flatten()
            .collect(),
        None => schema
            .fields()
            .iter()
            .map(|f| pick(f.name(), false))
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .flatten()
            .collect(),
    };
    if out.is_empty() {
        return Err(DriftError::Config(format!(
            "{label}: no numeric or categorical columns to profile (columns: {})",
            column_list(schema)
        )));
    }
    Ok(out)
}

fn check_not_empty(p: &Profile, label: &str) -> Result<()> {
    for f in &p.features {
        if f.n == 0 {
            return Err(DriftError::EmptyColumn {
                file: label.to_owned(),
                column: f.name.clone(),
            });
        }
        if f.missing == f.n {
            return Err(DriftError::AllMissing {
                file: label.to_owned(),
                column: f.name.clone(),
                rows: f.n,
            });
        }
    }
    Ok(())
}

fn edges_for(
    binning: &Binning,
    bins: usize,
    sorted: &[f64],
    min: f64,
    max: f64,
) -> (Vec<f64>, EdgeMethod) {
    match binning {
        Binning::Quantile => (quantile_edges(sorted, bins), EdgeMethod::Quantile),
        Binning::EqualWidth => (equal_width_edges(min, max, bins), EdgeMethod::EqualWidth),
        Binning::Explicit(e) => {
            let mut e: Vec<f64> = e.iter().copied().filter(|x| x.is_finite()).collect();
            e.sort_by(f64::total_cmp);
            e.dedup();
            (e, EdgeMethod::Explicit)
        }
    }
}

/// Build a reference profile from a batch source (two streamed passes).
pub fn build_profile(source: &dyn BatchSource, opts: &ProfileOptions) -> Result<Profile> {
    if opts.bins < 1 {
        return Err(DriftError::Config("bins must be at least 1".into()));
    }
    let label = source.label();
    let schema = source.schema()?;
    let features = resolve_features(&schema, &label, opts.features.as_deref(), &opts.categorical)?;
    let numeric: Vec<String> = features
        .iter()
        .filter(|(_, k)| *k == FeatureKind::Numeric)
        .map(|(n, _)| n.clone())
        .collect();
    let all: Vec<String> = features.iter().map(|(n, _)| n.clone()).collect();

    // Pass 1: quantile sample and min/max of numeric features.
    let mut fixed: HashMap<String, (Vec<f64>, EdgeMethod, Option<Quantiles>)> = HashMap::new();
    if !numeric.is_empty() {
        let make = || -> Vec<NumericAcc> {
            numeric
                .iter()
                .map(|n| {
                    NumericAcc::new(
                        None,
                        Some(Reservoir::new(opts.sample_size, opts.seed ^ fnv1a(n))),
                    )
                })
                .collect()
        };
        let push = |accs: &mut Vec<NumericAcc>, b: &RecordBatch| -> Result<()> {
            let mut scratch = Vec::new();
            for (name, acc) in numeric.iter().zip(accs.iter_mut()) {
                let col = b
                    .column_by_name(name)
                    .ok_or_else(|| DriftError::MissingColumn {
                        file: label.clone(),
                        column: name.clone(),
                        available: column_list(b.schema().as_ref()),
                    })?;
                let values = numeric_view(col.as_ref(), &mut scratch, &label, name)?;
                acc.push(values);
            }
            Ok(())
        };
        let merge = |mut a: Vec<NumericAcc>, b: Vec<NumericAcc>| -> Result<Vec<NumericAcc>> {
            for (x, y) in a.iter_mut().zip(b) {
                x.missing += y.missing;
                x.n += y.n;
                x.min = x.min.min(y.min);
                x.max = x.max.max(y.max);
                x.moments = x.moments.merge(&y.moments);
                x.reservoir = match (x.reservoir.take(), y.reservoir) {
                    (Some(p), Some(q)) => Some(p.merge(q)),
                    (p, q) => p.or(q),
                };
            }
            Ok(a)
        };
        let accs = scan_parallel(source, &numeric, opts.threads, &make, &push, &merge)?;
        for (name, acc) in numeric.iter().zip(accs) {
            let sorted = acc
                .reservoir
                .as_ref()
                .map(Reservoir::sorted)
                .unwrap_or_default();
            let (edges, method) = edges_for(&opts.binning, opts.bins, &sorted, acc.min, acc.max);
            fixed.insert(
                name.clone(),
                (edges, method, Quantiles::from_sorted(&sorted)),
            );
        }
    }

    // Template with fixed edges.
    let template = Profile {
        format_version: PROFILE_FORMAT_VERSION,
        source: label.clone(),
        features: features
            .iter()
            .map(|(name, kind)| {
                let (edges, method, quantiles) =
                    fixed
                        .remove(name)
                        .unwrap_or((Vec::new(), EdgeMethod::Categories, None));
                FeatureProfile {
                    name: name.clone(),
                    kind: *kind,
                    edge_method: method,
                    counts: vec![
                        0;
                        if *kind == FeatureKind::Numeric {
                            edges.len() + 1
                        } else {
                            0
                        }
                    ],
                    edges,
                    categories: Vec::new(),
                    unseen: 0,
                    missing: 0,
                    n: 0,
                    summary: (*kind == FeatureKind::Numeric).then_some(NumericSummary {
                        count: 0,
                        mean: 0.0,
                        std: 0.0,
                        min: 0.0,
                        max: 0.0,
                        quantiles,
                    }),
                    design_effect: None,
                }
            })
            .collect(),
    };

    // Pass 2: counts on the fixed edges.
    let make = || ProfileAccumulator::reference(&template);
    let push = |a: &mut ProfileAccumulator, b: &RecordBatch| a.push_batch(b, &label);
    let merge = |a: ProfileAccumulator, b: ProfileAccumulator| a.merge(b);
    let acc = scan_parallel(source, &all, opts.threads, &make, &push, &merge)?;
    let profile = acc.finish();
    for f in &profile.features {
        if f.kind == FeatureKind::Categorical && f.categories.len() > opts.max_categories {
            return Err(DriftError::TooManyCategories {
                file: label.clone(),
                column: f.name.clone(),
                limit: opts.max_categories,
            });
        }
    }
    check_not_empty(&profile, &label)?;
    Ok(profile)
}

/// Count current data on a profile's bins (one streamed pass).
pub fn measure(
    profile: &Profile,
    source: &dyn BatchSource,
    opts: &MeasureOptions,
) -> Result<Profile> {
    let label = source.label();
    let schema = source.schema()?;
    let mut template = profile.clone();
    if let Some(list) = &opts.features {
        template.features.retain(|f| list.contains(&f.name));
        for name in list {
            if profile.feature(name).is_none() {
                return Err(DriftError::Config(format!(
                    "feature `{name}` is not in the reference profile"
                )));
            }
        }
    }
    // Check columns and kinds up front so errors name the file and column before any work.
    for f in &template.features {
        let field = schema
            .field_with_name(&f.name)
            .map_err(|_| DriftError::MissingColumn {
                file: label.clone(),
                column: f.name.clone(),
                available: column_list(&schema),
            })?;
        let kind = kind_of(field.data_type()).ok_or_else(|| DriftError::UnsupportedType {
            file: label.clone(),
            column: f.name.clone(),
            data_type: field.data_type().to_string(),
        })?;
        if f.kind == FeatureKind::Numeric && kind != FeatureKind::Numeric {
            return Err(DriftError::TypeMismatch {
                file: label.clone(),
                column: f.name.clone(),
                reference: f.kind,
                current: kind,
            });
        }
    }
    let columns: Vec<String> = template.features.iter().map(|f| f.name.clone()).collect();
    let make = || ProfileAccumulator::current(&template, opts.sample_size, opts.seed);
    let push = |a: &mut ProfileAccumulator, b: &RecordBatch| a.push_batch(b, &label);
    let merge = |a: ProfileAccumulator, b: ProfileAccumulator| a.merge(b);
    let acc = scan_parallel(source, &columns, opts.threads, &make, &push, &merge)?;
    let mut current = acc.finish();
    current.source = label.clone();
    check_not_empty(&current, &label)?;
    Ok(current)
}

/// Measure `source` against `profile` and compare: the usual end-to-end entry point.
pub fn compare_source(
    profile: &Profile,
    source: &dyn BatchSource,
    opts: &MeasureOptions,
    cfg: &CompareConfig,
) -> Result<DriftReport> {
    let current = measure(profile, source, opts)?;
    Ok(crate::compare::compare_profiles(profile, &current, cfg))
}

/// Profile a slice of numbers in memory (NaN = missing): exact quantile edges.
pub fn profile_numeric(
    name: &str,
    values: &[f64],
    bins: usize,
    binning: &Binning,
) -> FeatureProfile {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    sorted.sort_unstable_by(f64::total_cmp);
    let min = sorted.first().copied().unwrap_or(f64::NAN);
    let max = sorted.last().copied().unwrap_or(f64::NAN);
    let (edges, method) = edges_for(binning, bins, &sorted, min, max);
    let mut acc = NumericAcc::new(Some(&edges), None);
    acc.push(values);
    numeric_profile_from(name, method, &edges, &acc, Quantiles::from_sorted(&sorted))
}

/// Count a slice of current numbers on a numeric reference profile's edges.
pub fn current_numeric(reference: &FeatureProfile, values: &[f64]) -> FeatureProfile {
    let mut acc = NumericAcc::new(Some(&reference.edges), None);
    acc.push(values);
    let mut sorted: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    sorted.sort_unstable_by(f64::total_cmp);
    numeric_profile_from(
        &reference.name,
        reference.edge_method,
        &reference.edges,
        &acc,
        Quantiles::from_sorted(&sorted),
    )
}

/// Profile categorical values in memory (`None` = missing).
pub fn profile_categorical(name: &str, values: &[Option<&str>]) -> FeatureProfile {
    let mut map: BTreeMap<&str, u64> = BTreeMap::new();
    let mut missing = 0;
    for v in values {
        match v {
            Some(s) => *map.entry(s).or_default() += 1,
            None => missing += 1,
        }
    }
    FeatureProfile {
        name: name.to_owned(),
        kind: FeatureKind::Categorical,
        edge_method: EdgeMethod::Categories,
        edges: Vec::new(),
        categories: map.keys().map(|s| (*s).to_owned()).collect(),
        counts: map.values().copied().collect(),
        unseen: 0,
        missing,
        n: values.len() as u64,
        summary: None,
        design_effect: None,
    }
}

/// Count current categorical values on a reference's categories (others are unseen).
pub fn current_categorical(reference: &FeatureProfile, values: &[Option<&str>]) -> FeatureProfile {
    let index: HashMap<&str, usize> = reference
        .categories
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), i))
        .collect();
    let mut counts = vec![0; reference.categories.len()];
    let (mut unseen, mut missing) = (0, 0);
    for v in values {
        match v {
            Some(s) => match index.get(s) {
                Some(&i) => counts[i] += 1,
                None => unseen += 1,
            },
            None => missing += 1,
        }
    }
    FeatureProfile {
        counts,
        unseen,
        missing,
        n: values.len() as u64,
        ..reference.clone()
    }
}

/// Evidently-compatible comparison of two raw sources (needs the raw reference: the bins
/// depend on the current data too). See docs/psi.md for the exact rules reproduced.
pub fn compare_evidently(
    reference: &dyn BatchSource,
    current: &dyn BatchSource,
    features: Option<&[String]>,
    categorical: &[String],
    cfg: &CompareConfig,
) -> Result<DriftReport> {
    let cfg = CompareConfig {
        shares: ShareRule::EvidentlyFill,
        min_expected_per_bin: 0.0,
        ..cfg.clone()
    };
    let rlabel = reference.label();
    let clabel = current.label();
    let rschema = reference.schema()?;
    let feats = resolve_features(&rschema, &rlabel, features, categorical)?;
    let cschema = current.schema()?;
    for (name, kind) in &feats {
        let field = cschema
            .field_with_name(name)
            .map_err(|_| DriftError::MissingColumn {
                file: clabel.clone(),
                column: name.clone(),
                available: column_list(&cschema),
            })?;
        let ck = kind_of(field.data_type()).ok_or_else(|| DriftError::UnsupportedType {
            file: clabel.clone(),
            column: name.clone(),
            data_type: field.data_type().to_string(),
        })?;
        if *kind == FeatureKind::Numeric && ck != FeatureKind::Numeric {
            return Err(DriftError::TypeMismatch {
                file: clabel.clone(),
                column: name.clone(),
                reference: *kind,
                current: ck,
            });
        }
    }
    let names: Vec<String> = feats.iter().map(|(n, _)| n.clone()).collect();

    // Pass 1: min/max/counts and distinct values (≤ 21 tracked) of both sides.
    #[derive(Default, Clone)]
    struct Scan {
        min: f64,
        max: f64,
        finite: u64,
        n: u64,
        distinct: Option<BTreeMap<u64, u64>>,
        cat: Option<CategoricalAcc>,
    }
    let new_scans = || -> Vec<Scan> {
        feats
            .iter()
            .map(|(_, k)| Scan {
                min: f64::INFINITY,
                max: f64::NEG_INFINITY,
                finite: 0,
                n: 0,
                distinct: (*k == FeatureKind::Numeric).then(BTreeMap::new),
                cat: (*k == FeatureKind::Categorical)
                    .then(|| CategoricalAcc::new(&[], true, usize::MAX)),
            })
            .collect()
    };
    let scan_side = |src: &dyn BatchSource,
                     label: &str,
                     cap: Option<usize>,
                     scans: &mut Vec<Scan>|
     -> Result<()> {
        let mut scratch = Vec::new();
        src.scan(&names, &mut |b| {
            for ((name, _), s) in feats.iter().zip(scans.iter_mut()) {
                let col = b
                    .column_by_name(name)
                    .ok_or_else(|| DriftError::MissingColumn {
                        file: label.to_owned(),
                        column: name.clone(),
                        available: column_list(b.schema().as_ref()),
                    })?;
                s.n += col.len() as u64;
                if let Some(c) = &mut s.cat {
                    c.push_array(col.as_ref(), label, name)?;
                    continue;
                }
                let v = numeric_view(col.as_ref(), &mut scratch, label, name)?;
                for &x in v {
                    if x.is_finite() {
                        s.finite += 1;
                        s.min = s.min.min(x);
                        s.max = s.max.max(x);
                        if let Some(d) = &mut s.distinct {
                            *d.entry(x.to_bits()).or_default() += 1;
                            if cap.is_some_and(|c| d.len() > c) {
                                s.distinct = None;
                            }
                        }
                    }
                }
            }
            Ok(())
        })
    };
    let mut rs = new_scans();
    scan_side(reference, &rlabel, Some(20), &mut rs)?;
    let mut cs = new_scans();
    // Current values only need counting by value where the reference is discrete.
    for (c, r) in cs.iter_mut().zip(&rs) {
        if r.distinct.is_none() {
            c.distinct = None;
        }
    }
    scan_side(current, &clabel, Some(1_000_000), &mut cs)?;

    let mut out = Vec::with_capacity(feats.len());
    for (i, (name, _)) in feats.iter().enumerate() {
        let (r, c) = (&rs[i], &cs[i]);
        if r.n == 0 {
            return Err(DriftError::EmptyColumn {
                file: rlabel.clone(),
                column: name.clone(),
            });
        }
        if c.n == 0 {
            return Err(DriftError::EmptyColumn {
                file: clabel.clone(),
                column: name.clone(),
            });
        }
        let (rf, cf) = match (&r.cat, &c.cat) {
            (Some(rc), Some(cc)) => {
                let mut keys: Vec<String> =
                    rc.names.iter().chain(cc.names.iter()).cloned().collect();
                keys.sort();
                keys.dedup();
                let count = |acc: &CategoricalAcc| -> Vec<u64> {
                    keys.iter()
                        .map(|k| {
                            acc.names
                                .iter()
                                .position(|n| n == k)
                                .map_or(0, |p| acc.counts[p])
                        })
                        .collect()
                };
                (
                    evid_profile(
                        name,
                        FeatureKind::Categorical,
                        Vec::new(),
                        keys.clone(),
                        count(rc),
                        rc.missing,
                        r.n,
                    ),
                    evid_profile(
                        name,
                        FeatureKind::Categorical,
                        Vec::new(),
                        keys.clone(),
                        count(cc),
                        cc.missing,
                        c.n,
                    ),
                )
            }
            _ if r.finite == 0 => {
                return Err(DriftError::AllMissing {
                    file: rlabel.clone(),
                    column: name.clone(),
                    rows: r.n,
                });
            }
            _ if c.finite == 0 => {
                return Err(DriftError::AllMissing {
                    file: clabel.clone(),
                    column: name.clone(),
                    rows: c.n,
                });
            }
            _ => match (&r.distinct, &c.distinct) {
                (Some(rd), Some(cd)) => {
                    let mut keys: Vec<u64> = rd.keys().chain(cd.keys()).copied().collect();
                    keys.sort_by(|a, b| f64::from_bits(*a).total_cmp(&f64::from_bits(*b)));
                    keys.dedup();
                    let labels: Vec<String> = keys
                        .iter()
                        .map(|k| format!("{}", f64::from_bits(*k)))
                        .collect();
                    let rc: Vec<u64> = keys
                        .iter()
                        .map(|k| rd.get(k).copied().unwrap_or(0))
                        .collect();
                    let cc: Vec<u64> = keys
                        .iter()
                        .map(|k| cd.get(k).copied().unwrap_or(0))
                        .collect();
                    (
                        evid_profile(
                            name,
                            FeatureKind::Categorical,
                            Vec::new(),
                            labels.clone(),
                            rc,
                            r.n - r.finite,
                            r.n,
                        ),
                        evid_profile(
                            name,
                            FeatureKind::Categorical,
                            Vec::new(),
                            labels,
                            cc,
                            c.n - c.finite,
                            c.n,
                        ),
                    )
                }
                _ => {
                    let edges =
                        sturges_edges(r.min.min(c.min), r.max.max(c.max), r.finite + c.finite);
                    let count = |src: &dyn BatchSource, label: &str| -> Result<Vec<u64>> {
                        let mut acc = NumericAcc::new(Some(&edges), None);
                        let mut scratch = Vec::new();
                        src.scan(std::slice::from_ref(name), &mut |b| {
                            let col = b.column_by_name(name).ok_or_else(|| {
                                DriftError::MissingColumn {
                                    file: label.to_owned(),
                                    column: name.clone(),
                                    available: column_list(b.schema().as_ref()),
                                }
                            })?;
                            let v = numeric_view(col.as_ref(), &mut scratch, label, name)?;
                            // Evidently drops ±inf with the missing values.
                            let v: Vec<f64> = v
                                .iter()
                                .map(|&x| if x.is_finite() { x } else { f64::NAN })
                                .collect();
                            acc.push(&v);
                            Ok(())
                        })?;
                        Ok(acc.counts[..edges.len() + 1].to_vec())
                    };
                    let rc = count(reference, &rlabel)?;
                    let cc = count(current, &clabel)?;
                    (
                        evid_profile(
                            name,
                            FeatureKind::Numeric,
                            edges.clone(),
                            Vec::new(),
                            rc,
                            r.n - r.finite,
                            r.n,
                        ),
                        evid_profile(
                            name,
                            FeatureKind::Numeric,
                            edges.clone(),
                            Vec::new(),
                            cc,
                            c.n - c.finite,
                            c.n,
                        ),
                    )
                }
            },
        };
        out.push(compare_feature(&rf, &cf, &cfg));
    }
    Ok(aggregate(out, &cfg))
}

fn evid_profile(
    name: &str,
    kind: FeatureKind,
    edges: Vec<f64>,
    categories: Vec<String>,
    counts: Vec<u64>,
    missing: u64,
    n: u64,
) -> FeatureProfile {
    FeatureProfile {
        name: name.to_owned(),
        kind,
        edge_method: EdgeMethod::Evidently,
        edges,
        categories,
        counts,
        unseen: 0,
        missing,
        n,
        summary: None,
        design_effect: None,
    }
}
