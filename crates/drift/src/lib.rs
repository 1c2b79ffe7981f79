//! tradai-drift: Population Stability Index that is honest about sample size.
//!
//! Pure library, no clocks or global state. The flow is:
//! 1. [`build_profile`] streams reference data (Parquet / CSV / Arrow IPC via [`DataFile`], or
//!    in-memory batches via [`MemorySource`]) into a small JSON [`Profile`];
//! 2. [`compare_source`] streams current data against it and returns a [`DriftReport`] with PSI,
//!    severity, noise level, p-value and per-bin contributions per feature.
//!
//! See `docs/psi.md` for the method.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod acc;
pub mod binning;
pub mod compare;
pub mod engine;
pub mod error;
pub mod io;
pub mod profile;
pub mod simulate;
pub mod stats;

pub use compare::{
    Aggregate, BinDrift, BinLabel, CompareConfig, DriftReport, FeatureDrift, FeatureStatus,
    PValueMethod, Severity, ShareRule, Thresholds, aggregate, compare_feature,
    compare_feature_dependent, compare_profiles, permutation_p_value, psi_counts,
};
pub use engine::{
    Binning, MeasureOptions, ProfileAccumulator, ProfileOptions, build_profile, compare_evidently,
    compare_source, current_categorical, current_numeric, measure, profile_categorical,
    profile_numeric,
};
pub use error::{DriftError, Result};
pub use io::{BatchSource, DataFile, DataFormat, MemorySource};
pub use profile::{EdgeMethod, FeatureKind, FeatureProfile, NumericSummary, Profile, Quantiles};
pub use simulate::{Scenario, ScenarioResult, SimulationConfig, default_scenarios, simulate};
