//! The reference profile: a small JSON document that is all a comparison needs.
//!
//! Numeric features carry fixed bin edges (internal cut points) and counts per bin; categorical
//! features carry their categories and counts. Missing values (null, NaN) are counted separately.
//! Edges are fixed before counting, so profiles of disjoint parts of the data built on the same
//! edges merge exactly: counts, `n`, `missing`, `min` and `max` add/combine without loss, mean and
//! std combine with Chan's formula (exact up to floating-point rounding).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

use crate::error::{DriftError, Result};
use crate::stats::Moments;

/// Version of the profile JSON format.
pub const PROFILE_FORMAT_VERSION: u32 = 1;

/// Whether a feature is binned on a number line or by category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeatureKind {
    /// Integer or floating-point values, binned by edges.
    Numeric,
    /// Strings, dictionaries, booleans (or numbers forced to be categories).
    Categorical,
}

impl fmt::Display for FeatureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FeatureKind::Numeric => "numeric",
            FeatureKind::Categorical => "categorical",
        })
    }
}

/// How the numeric edges of a profile were chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EdgeMethod {
    /// Quantiles of the reference (equal reference mass per bin).
    Quantile,
    /// Equal-width bins between the reference min and max.
    EqualWidth,
    /// Edges given by the caller.
    Explicit,
    /// Sturges equal-width bins over reference ∪ current (Evidently's PSI).
    Evidently,
    /// Not applicable (categorical).
    Categories,
}

/// Fixed quantiles reported for numeric data.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct Quantiles {
    /// 1st percentile.
    pub p01: f64,
    /// 5th percentile.
    pub p05: f64,
    /// 25th percentile.
    pub p25: f64,
    /// Median.
    pub p50: f64,
    /// 75th percentile.
    pub p75: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
}

impl Quantiles {
    /// Probabilities of the reported quantiles, in field order.
    pub const PROBS: [f64; 7] = [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99];

    /// Build from sorted finite values (`None` when empty).
    pub fn from_sorted(sorted: &[f64]) -> Option<Self> {
        let q = |p| crate::stats::quantile_sorted(sorted, p);
        Some(Self {
            p01: q(0.01)?,
            p05: q(0.05)?,
            p25: q(0.25)?,
            p50: q(0.5)?,
            p75: q(0.75)?,
            p95: q(0.95)?,
            p99: q(0.99)?,
        })
    }
}

/// Descriptive statistics of the finite values of a numeric feature.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NumericSummary {
    /// Number of finite values the statistics describe.
    pub count: u64,
    /// Mean of finite values.
    pub mean: f64,
    /// Sample standard deviation (ddof = 1) of finite values.
    pub std: f64,
    /// Smallest finite value.
    pub min: f64,
    /// Largest finite value.
    pub max: f64,
    /// Quantiles: exact when the data fits the sample (65 536 values by default), otherwise from
    /// a seeded uniform sample of that size.
    pub quantiles: Option<Quantiles>,
}

/// Profile of one feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureProfile {
    /// Column name.
    pub name: String,
    /// Numeric or categorical.
    pub kind: FeatureKind,
    /// How the edges were chosen.
    pub edge_method: EdgeMethod,
    /// Numeric: internal cut points, ascending, no duplicates; bin `i` is
    /// `[edges[i-1], edges[i])`, the first and last bins are open (they take ±inf).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub edges: Vec<f64>,
    /// Categorical: categories, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
    /// Count per bin (numeric: `edges.len() + 1`; categorical: `categories.len()`).
    pub counts: Vec<u64>,
    /// Values that fell outside the known categories (always 0 in a reference profile).
    #[serde(default)]
    pub unseen: u64,
    /// Null or NaN values.
    pub missing: u64,
    /// Rows, missing included.
    pub n: u64,
    /// Numeric statistics (absent for categorical features or without finite values).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<NumericSummary>,
    /// How many consecutive rows one independent draw is worth when the rows are a time
    /// series (see [`crate::stats::series_design_effect`]); measured on the long reference
    /// series so that a short current window need not estimate it. Absent: independent rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub design_effect: Option<f64>,
}

impl FeatureProfile {
    /// Number of value bins (without missing / unseen).
    pub fn bins(&self) -> usize {
        self.counts.len()
    }

    /// A profile with the same bins and no counts: the template partial profiles are built on.
    pub fn empty_like(&self) -> Self {
        Self {
            counts: vec![0; self.counts.len()],
            unseen: 0,
            missing: 0,
            n: 0,
            summary: self.summary.map(|s| NumericSummary {
                count: 0,
                mean: 0.0,
                std: 0.0,
                min: f64::INFINITY,
                max: f64::NEG_INFINITY,
                quantiles: s.quantiles,
            }),
            ..self.clone()
        }
    }

    /// Merge another partial profile of the same feature (same edges) into a new one.
    pub fn merge(&self, other: &Self) -> Result<Self> {
        if self.name != other.name || self.kind != other.kind {
            return Err(DriftError::Incompatible(format!(
                "feature `{}` ({}) vs `{}` ({})",
                self.name, self.kind, other.name, other.kind
            )));
        }
        let mut out = self.clone();
        match self.kind {
            FeatureKind::Numeric => {
                if self.edges != other.edges {
                    return Err(DriftError::Incompatible(format!(
                        "feature `{}` has different bin edges; build partial profiles on the same edges",
                        self.name
                    )));
                }
                for (a, b) in out.counts.iter_mut().zip(&other.counts) {
                    *a += b;
                }
            }
            FeatureKind::Categorical => {
                let mut map: BTreeMap<&str, u64> = BTreeMap::new();
                for (c, n) in self.categories.iter().zip(&self.counts) {
                    *map.entry(c.as_str()).or_default() += n;
                }
                for (c, n) in other.categories.iter().zip(&other.counts) {
                    *map.entry(c.as_str()).or_default() += n;
                }
                out.categories = map.keys().map(|s| (*s).to_owned()).collect();
                out.counts = map.values().copied().collect();
            }
        }
        // Parts of one series share its dependence; keep the more cautious estimate.
        out.design_effect = match (self.design_effect, other.design_effect) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        out.unseen += other.unseen;
        out.missing += other.missing;
        out.n += other.n;
        out.summary = merge_summary(self.summary, other.summary);
        Ok(out)
    }
}

fn merge_summary(a: Option<NumericSummary>, b: Option<NumericSummary>) -> Option<NumericSummary> {
    match (a, b) {
        (None, x) | (x, None) => x,
        (Some(a), Some(b)) => {
            if a.count == 0 {
                return Some(NumericSummary {
                    quantiles: a.quantiles.or(b.quantiles),
                    ..b
                });
            }
            if b.count == 0 {
                return Some(NumericSummary {
                    quantiles: a.quantiles.or(b.quantiles),
                    ..a
                });
            }
            let m = Moments::from_summary(a.count, a.mean, a.std)
                .merge(&Moments::from_summary(b.count, b.mean, b.std));
            Some(NumericSummary {
                count: m.count,
                mean: m.mean,
                std: m.std(),
                min: a.min.min(b.min),
                max: a.max.max(b.max),
                // Quantiles are fixed with the edges (first pass over all the reference).
                quantiles: a.quantiles.or(b.quantiles),
            })
        }
    }
}

/// A reference profile: one entry per feature, in column order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// Format version ([`PROFILE_FORMAT_VERSION`]).
    pub format_version: u32,
    /// Where the profile was built from (file name or label); informational.
    #[serde(default)]
    pub source: String,
    /// Per-feature profiles.
    pub features: Vec<FeatureProfile>,
}

impl Profile {
    /// Look up a feature by name.
    pub fn feature(&self, name: &str) -> Option<&FeatureProfile> {
        self.features.iter().find(|f| f.name == name)
    }

    /// Same features and edges, no counts: the template for partial profiles.
    pub fn empty_like(&self) -> Self {
        Self {
            format_version: self.format_version,
            source: self.source.clone(),
            features: self
                .features
                .iter()
                .map(FeatureProfile::empty_like)
                .collect(),
        }
    }

    /// Merge two partial profiles built on the same edges (counts add up exactly).
    pub fn merge(&self, other: &Self) -> Result<Self> {
        if self.features.len() != other.features.len() {
            return Err(DriftError::Incompatible(format!(
                "{} features vs {}",
                self.features.len(),
                other.features.len()
            )));
        }
        let features = self
            .features
            .iter()
            .zip(&other.features)
            .map(|(a, b)| a.merge(b))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            format_version: self.format_version,
            source: self.source.clone(),
            features,
        })
    }

    /// Serialize as pretty JSON.
    pub fn to_json(&self) -> String {
        // Serializing plain data with finite numbers cannot fail; fall back to an empty object.
        serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".to_owned())
    }

    /// Parse a profile; `label` names the source in errors.
    pub fn from_json(text: &str, label: &str) -> Result<Self> {
        let p: Profile = serde_json::from_str(text).map_err(|e| DriftError::BadProfile {
            file: label.to_owned(),
            message: e.to_string(),
        })?;
        p.validate(label)?;
        Ok(p)
    }

    /// Read a profile JSON file.
    pub fn read(path: &std::path::Path) -> Result<Self> {
        let label = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| DriftError::Io {
            file: label.clone(),
            source,
        })?;
        Self::from_json(&text, &label)
    }

    fn validate(&self, label: &str) -> Result<()> {
        let bad = |message: String| DriftError::BadProfile {
            file: label.to_owned(),
            message,
        };
        if self.format_version != PROFILE_FORMAT_VERSION {
            return Err(bad(format!(
                "format_version {} (expected {PROFILE_FORMAT_VERSION})",
                self.format_version
            )));
        }
        for f in &self.features {
            let expected = match f.kind {
                FeatureKind::Numeric => f.edges.len() + 1,
                FeatureKind::Categorical => f.categories.len(),
            };
            if f.counts.len() != expected {
                return Err(bad(format!(
                    "feature `{}`: {} counts for {} bins",
                    f.name,
                    f.counts.len(),
                    expected
                )));
            }
            if f.edges
                .windows(2)
                .any(|w| w[0].partial_cmp(&w[1]) != Some(std::cmp::Ordering::Less))
            {
                return Err(bad(format!(
                    "feature `{}`: edges must be strictly increasing",
                    f.name
                )));
            }
        }
        Ok(())
    }
}
