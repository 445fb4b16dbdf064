//! Univariate time series for forecasting: chronological splits, a scaler fitted on the
//! training span, and sliding windows of inputs and targets.
//!
//! Time is never shuffled across the split: the training span comes first, then validation,
//! then test ([`chronological_split`]). The [`SeriesScaler`] is fitted on the training span
//! only and maps forecasts back to the original units. [`windows`] cuts a series into
//! `(lookback inputs, horizon targets)` pairs; [`span_windows`] cuts the windows whose targets
//! lie in one span, reading up to `lookback` values of the previous span as input context, so
//! that every target of the validation and test spans is forecast (those context values are
//! inputs only: the scaler never sees them as fit data). The windows of the training span may
//! be shuffled by a data loader afterwards; each window keeps its own order.
//!
//! The series comes in as plain `f64` values (a column of a table, a text file of numbers);
//! this module does not read files except the scaler's own JSON.
//!
//! ```
//! use burnish_data::{Scaling, SplitRatios, WindowConfig};
//! use burnish_data::series::{ForecastingData, chronological_split};
//! let values: Vec<f64> = (0..100).map(|step| (step as f64).sin()).collect();
//! let split = chronological_split(values.len(), SplitRatios::default())?;
//! assert_eq!((split.train, split.valid, split.test), (0..70, 70..85, 85..100));
//! let data = ForecastingData::prepare(
//!     &values,
//!     SplitRatios::default(),
//!     &WindowConfig::new(12, 1),
//!     Scaling::Standard,
//! )?;
//! assert_eq!(data.train.n_windows, 70 - 12);
//! assert_eq!(data.valid.n_windows, 15); // every validation value is a target
//! # Ok::<(), burnish_data::Error>(())
//! ```

use std::ops::Range;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::json_file;
use crate::scale::{Scaler, Scaling};
use crate::split::SplitRatios;

/// How a series is cut into windows; in TOML the same names (`horizon` and `stride` default
/// to 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowConfig {
    /// How many past values each window's input holds, at least 1.
    pub lookback: usize,
    /// How many following values each window's target holds, at least 1.
    #[serde(default = "one")]
    pub horizon: usize,
    /// How far each window starts after the previous one, at least 1.
    #[serde(default = "one")]
    pub stride: usize,
}

fn one() -> usize {
    1
}

impl WindowConfig {
    /// Windows of `lookback` inputs and `horizon` targets, one starting at every value.
    pub fn new(lookback: usize, horizon: usize) -> Self {
        Self {
            lookback,
            horizon,
            stride: 1,
        }
    }

    /// Checks that every field is at least 1; the error names the field.
    pub fn validate(&self) -> Result<(), Error> {
        for (field, value) in [
            ("lookback", self.lookback),
            ("horizon", self.horizon),
            ("stride", self.stride),
        ] {
            if value == 0 {
                return Err(Error::InvalidParameter {
                    field,
                    reason: "must be at least 1, found 0".to_string(),
                });
            }
        }
        Ok(())
    }

    /// The values one window reads: `lookback + horizon`.
    pub fn window_len(&self) -> usize {
        self.lookback + self.horizon
    }

    /// How many windows a series of `n_values` values gives (0 when it is too short).
    pub fn n_windows(&self, n_values: usize) -> usize {
        match n_values.checked_sub(self.window_len()) {
            Some(rest) => rest / self.stride.max(1) + 1,
            None => 0,
        }
    }
}

/// Windows of a series: inputs `[n_windows, lookback]` and targets `[n_windows, horizon]`,
/// both row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Windows {
    /// `n_windows * lookback` input values, window after window.
    pub inputs: Vec<f32>,
    /// `n_windows * horizon` target values, window after window.
    pub targets: Vec<f32>,
    /// The number of windows.
    pub n_windows: usize,
    /// The input length of each window.
    pub lookback: usize,
    /// The target length of each window.
    pub horizon: usize,
}

impl Windows {
    fn empty(config: &WindowConfig) -> Self {
        Windows {
            inputs: Vec::new(),
            targets: Vec::new(),
            n_windows: 0,
            lookback: config.lookback,
            horizon: config.horizon,
        }
    }

    /// Whether there are no windows.
    pub fn is_empty(&self) -> bool {
        self.n_windows == 0
    }

    /// The inputs of window `window`.
    ///
    /// # Panics
    ///
    /// When `window >= self.n_windows`.
    pub fn input(&self, window: usize) -> &[f32] {
        &self.inputs[window * self.lookback..(window + 1) * self.lookback]
    }

    /// The targets of window `window`.
    ///
    /// # Panics
    ///
    /// When `window >= self.n_windows`.
    pub fn target(&self, window: usize) -> &[f32] {
        &self.targets[window * self.horizon..(window + 1) * self.horizon]
    }
}

/// Cuts `values` into windows: window `i` takes its inputs from
/// `values[i * stride .. i * stride + lookback]` and its targets from the `horizon` values
/// right after them. Values at the end that do not fill a whole window are left out.
///
/// Fails when the config is invalid or when `values` is shorter than `lookback + horizon`
/// ([`Error::SeriesTooShort`]).
///
/// ```
/// use burnish_data::WindowConfig;
/// use burnish_data::series::windows;
/// let config = WindowConfig { lookback: 2, horizon: 1, stride: 2 };
/// let windows = windows(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &config)?;
/// assert_eq!(windows.inputs, [1.0, 2.0, 3.0, 4.0]);
/// assert_eq!(windows.targets, [3.0, 5.0]);
/// # Ok::<(), burnish_data::Error>(())
/// ```
pub fn windows(values: &[f64], config: &WindowConfig) -> Result<Windows, Error> {
    config.validate()?;
    cut_windows(values, config, || "the series".to_string())
}

/// The windows whose targets lie in `span`: their inputs start up to `lookback` values
/// before `span.start` (as far back as the series goes), so that, after a long enough
/// previous span, the first target is `values[span.start]`. An empty span gives no windows.
///
/// Fails when the config is invalid or when the span with its context cannot fill one
/// window.
///
/// # Panics
///
/// When `span` reaches past the end of `values`.
pub fn span_windows(
    values: &[f64],
    span: Range<usize>,
    config: &WindowConfig,
) -> Result<Windows, Error> {
    config.validate()?;
    let (context_start, end) = (span.start.saturating_sub(config.lookback), span.end);
    span_windows_described(values, span, config, || {
        format!("values {context_start}..{end} (a span with its lookback context)")
    })
}

fn span_windows_described(
    values: &[f64],
    span: Range<usize>,
    config: &WindowConfig,
    describe: impl FnOnce() -> String,
) -> Result<Windows, Error> {
    assert!(
        span.start <= span.end && span.end <= values.len(),
        "span {span:?} is not inside a series of {} values",
        values.len()
    );
    if span.is_empty() {
        return Ok(Windows::empty(config));
    }
    let context_start = span.start.saturating_sub(config.lookback);
    cut_windows(&values[context_start..span.end], config, describe)
}

fn cut_windows(
    values: &[f64],
    config: &WindowConfig,
    describe: impl FnOnce() -> String,
) -> Result<Windows, Error> {
    let n_windows = config.n_windows(values.len());
    if n_windows == 0 {
        return Err(Error::SeriesTooShort {
            what: describe(),
            found: values.len(),
            lookback: config.lookback,
            horizon: config.horizon,
        });
    }
    let mut inputs = Vec::with_capacity(n_windows * config.lookback);
    let mut targets = Vec::with_capacity(n_windows * config.horizon);
    for window in 0..n_windows {
        let start = window * config.stride;
        let split = start + config.lookback;
        inputs.extend(values[start..split].iter().map(|&value| value as f32));
        targets.extend(
            values[split..split + config.horizon]
                .iter()
                .map(|&value| value as f32),
        );
    }
    Ok(Windows {
        inputs,
        targets,
        n_windows,
        lookback: config.lookback,
        horizon: config.horizon,
    })
}

/// The three consecutive spans of a chronological split: train, then validation, then test.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChronologicalSplit {
    /// The first values, to fit the model and the scaler on.
    pub train: Range<usize>,
    /// The values right after the training span.
    pub valid: Range<usize>,
    /// The last values.
    pub test: Range<usize>,
}

/// Splits `n_values` consecutive values into train, validation and test spans in time
/// order, nothing shuffled. Sizes round as in [`crate::train_valid_test_split`]:
/// `valid = round(valid_ratio * n)`, `test = round(test_ratio * n)`, the rest is train.
///
/// Fails when the ratios are invalid or leave the training span empty.
pub fn chronological_split(
    n_values: usize,
    ratios: SplitRatios,
) -> Result<ChronologicalSplit, Error> {
    ratios.validate()?;
    let part = |ratio: f64| ((ratio * n_values as f64).round() as usize).min(n_values);
    let n_test = part(ratios.test);
    let n_valid = part(ratios.valid).min(n_values - n_test);
    let n_train = n_values - n_test - n_valid;
    if n_train == 0 {
        return Err(Error::TooFewRows { n_rows: n_values });
    }
    Ok(ChronologicalSplit {
        train: 0..n_train,
        valid: n_train..n_train + n_valid,
        test: n_train + n_valid..n_values,
    })
}

/// The version of the JSON layout that [`SeriesScaler::save_json`] writes.
const SERIES_SCALER_FORMAT_VERSION: u32 = 1;

/// Standard or min-max scaling of one series, fitted on its training span.
///
/// ```
/// use burnish_data::{Scaling, SeriesScaler};
/// let scaler = SeriesScaler::fit(&[10.0, 20.0, 30.0], Scaling::MinMax);
/// assert_eq!(scaler.transform(&[20.0, 40.0]), [0.5, 1.5]);
/// assert_eq!(scaler.inverse_transform(&[0.5_f32, 1.5]), [20.0, 40.0]);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeriesScaler {
    format_version: u32,
    scaling: Scaling,
    scaler: Scaler,
}

impl SeriesScaler {
    /// Fits `scaling` on `train_values`, the training span only (for example
    /// `&values[split.train.clone()]`). A constant series scales to 0 and an empty one is
    /// left as it is, as in [`Scaler::fit`].
    pub fn fit(train_values: &[f64], scaling: Scaling) -> SeriesScaler {
        SeriesScaler {
            format_version: SERIES_SCALER_FORMAT_VERSION,
            scaling,
            scaler: Scaler::fit(train_values, scaling),
        }
    }

    /// How the series is scaled.
    pub fn scaling(&self) -> Scaling {
        self.scaling
    }

    /// The fitted offset and scale.
    pub fn scaler(&self) -> Scaler {
        self.scaler
    }

    /// Scales every value.
    pub fn transform(&self, values: &[f64]) -> Vec<f64> {
        values
            .iter()
            .map(|&value| self.scaler.apply(value))
            .collect()
    }

    /// Maps scaled values (a model's forecasts) back to the original units.
    pub fn inverse_transform(&self, scaled: &[f32]) -> Vec<f64> {
        scaled
            .iter()
            .map(|&value| self.unscale(f64::from(value)))
            .collect()
    }

    /// Maps one scaled value back to the original units.
    pub fn unscale(&self, scaled: f64) -> f64 {
        scaled * self.scaler.scale + self.scaler.offset
    }

    /// Writes the scaler as pretty-printed JSON.
    pub fn save_json(&self, path: &Path) -> Result<(), Error> {
        json_file::save_pretty(self, path)
    }

    /// Reads a scaler written by [`SeriesScaler::save_json`].
    pub fn load_json(path: &Path) -> Result<SeriesScaler, Error> {
        let scaler: SeriesScaler = json_file::load(path)?;
        if scaler.format_version != SERIES_SCALER_FORMAT_VERSION {
            return Err(Error::FormatVersion {
                path: path.to_path_buf(),
                found: scaler.format_version,
                expected: SERIES_SCALER_FORMAT_VERSION,
            });
        }
        Ok(scaler)
    }
}

/// A forecasting data set ready for training: the split, the scaler fitted on the training
/// span, and the scaled windows of each span.
#[derive(Clone, Debug, PartialEq)]
pub struct ForecastingData {
    /// Where each span lies in the series.
    pub split: ChronologicalSplit,
    /// Fitted on the training span; [`SeriesScaler::inverse_transform`] turns forecasts back
    /// into the series' units.
    pub scaler: SeriesScaler,
    /// The windows whose targets lie in the training span.
    pub train: Windows,
    /// The windows whose targets lie in the validation span (empty when it is).
    pub valid: Windows,
    /// The windows whose targets lie in the test span (empty when it is).
    pub test: Windows,
}

impl ForecastingData {
    /// Splits `values` in time order, fits the scaler on the training span, scales the whole
    /// series with it and cuts each span's windows (see [`span_windows`]).
    ///
    /// Fails when a config is invalid, or when the training span, or a non-empty validation
    /// or test span with its context, is too short for one window.
    pub fn prepare(
        values: &[f64],
        ratios: SplitRatios,
        window: &WindowConfig,
        scaling: Scaling,
    ) -> Result<ForecastingData, Error> {
        window.validate()?;
        let split = chronological_split(values.len(), ratios)?;
        let scaler = SeriesScaler::fit(&values[split.train.clone()], scaling);
        let scaled = scaler.transform(values);
        let part = |span: &Range<usize>, name: &str| {
            span_windows_described(&scaled, span.clone(), window, || {
                format!("the {name} span {span:?} with its lookback context")
            })
        };
        let train = part(&split.train, "training")?;
        let valid = part(&split.valid, "validation")?;
        let test = part(&split.test, "test")?;
        Ok(ForecastingData {
            split,
            scaler,
            train,
            valid,
            test,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sunspots() -> Vec<f64> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/sunspots.csv");
        let mut reader = csv::Reader::from_path(path).unwrap();
        assert_eq!(reader.headers().unwrap(), vec!["time", "sunspots"]);
        reader
            .records()
            .map(|record| record.unwrap()[1].parse().unwrap())
            .collect()
    }

    fn mean(values: &[f64]) -> f64 {
        values.iter().sum::<f64>() / values.len() as f64
    }

    #[test]
    fn window_config_names_the_bad_field() {
        for (config, field) in [
            (WindowConfig::new(0, 1), "lookback"),
            (WindowConfig::new(3, 0), "horizon"),
            (
                WindowConfig {
                    lookback: 3,
                    horizon: 1,
                    stride: 0,
                },
                "stride",
            ),
        ] {
            let error = windows(&[1.0; 10], &config).unwrap_err();
            assert_eq!(
                error.to_string(),
                format!("invalid {field}: must be at least 1, found 0")
            );
        }
    }

    #[test]
    fn window_config_reads_its_toml_names() {
        let config: WindowConfig = serde_json::from_str(r#"{"lookback": 24}"#).unwrap();
        assert_eq!(config, WindowConfig::new(24, 1));
        assert!(serde_json::from_str::<WindowConfig>(r#"{"lookback": 2, "step": 1}"#).is_err());
    }

    #[test]
    fn windows_follow_each_other_by_the_stride() {
        let values: Vec<f64> = (0..10).map(f64::from).collect();
        let config = WindowConfig {
            lookback: 3,
            horizon: 2,
            stride: 3,
        };
        let windows = windows(&values, &config).unwrap();
        // Starts 0, 3; start 6 would need values up to index 10.
        assert_eq!(windows.n_windows, 2);
        assert_eq!(windows.input(0), [0.0, 1.0, 2.0]);
        assert_eq!(windows.target(0), [3.0, 4.0]);
        assert_eq!(windows.input(1), [3.0, 4.0, 5.0]);
        assert_eq!(windows.target(1), [6.0, 7.0]);
        assert_eq!(config.n_windows(10), 2);
        assert_eq!(config.n_windows(11), 3);
    }

    #[test]
    fn exactly_one_window_fits_lookback_plus_horizon() {
        let windows = windows(&[1.0, 2.0, 3.0], &WindowConfig::new(2, 1)).unwrap();
        assert_eq!(windows.n_windows, 1);
        assert_eq!(windows.targets, [3.0]);
    }

    #[test]
    fn too_short_series_names_the_sizes() {
        let error = windows(&[1.0, 2.0, 3.0], &WindowConfig::new(3, 2)).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the series has 3 values, too few for one window of lookback 3 + horizon 2 = 5 values"
        );
        assert!(matches!(error, Error::SeriesTooShort { found: 3, .. }));
        assert!(windows(&[], &WindowConfig::new(1, 1)).is_err());
    }

    #[test]
    fn chronological_split_keeps_time_order() {
        let split = chronological_split(10, SplitRatios::default()).unwrap();
        // round(1.5) = 2 for both valid and test, as in the shuffled split.
        assert_eq!(split.train, 0..6);
        assert_eq!(split.valid, 6..8);
        assert_eq!(split.test, 8..10);
        let no_valid = SplitRatios {
            train: 0.8,
            valid: 0.0,
            test: 0.2,
        };
        let split = chronological_split(10, no_valid).unwrap();
        assert_eq!((split.train, split.valid, split.test), (0..8, 8..8, 8..10));
        assert!(matches!(
            chronological_split(0, SplitRatios::default()),
            Err(Error::TooFewRows { n_rows: 0 })
        ));
        let bad = SplitRatios {
            train: 0.5,
            valid: 0.1,
            test: 0.1,
        };
        assert!(matches!(
            chronological_split(10, bad),
            Err(Error::InvalidRatios { .. })
        ));
    }

    #[test]
    fn span_windows_read_context_from_the_previous_span() {
        let values: Vec<f64> = (0..20).map(f64::from).collect();
        let config = WindowConfig::new(4, 1);
        let windows = span_windows(&values, 14..17, &config).unwrap();
        assert_eq!(windows.n_windows, 3);
        assert_eq!(windows.input(0), [10.0, 11.0, 12.0, 13.0]);
        assert_eq!(windows.targets, [14.0, 15.0, 16.0]);
        // Near the start there is less context: the first targets cannot be forecast.
        let windows = span_windows(&values, 0..6, &config).unwrap();
        assert_eq!(windows.targets, [4.0, 5.0]);
        assert!(span_windows(&values, 5..5, &config).unwrap().is_empty());
        let error = span_windows(&values, 0..3, &config).unwrap_err();
        assert!(
            matches!(error, Error::SeriesTooShort { found: 3, .. }),
            "{error}"
        );
    }

    #[test]
    fn prepare_names_the_span_that_is_too_short() {
        let values: Vec<f64> = (0..20).map(f64::from).collect();
        let ratios = SplitRatios {
            train: 0.5,
            valid: 0.5,
            test: 0.0,
        };
        let error =
            ForecastingData::prepare(&values, ratios, &WindowConfig::new(12, 1), Scaling::None)
                .unwrap_err();
        assert_eq!(
            error.to_string(),
            "the training span 0..10 with its lookback context has 10 values, too few for one window of lookback 12 + horizon 1 = 13 values"
        );
    }

    #[test]
    fn scaler_round_trips_through_json() {
        let scaler = SeriesScaler::fit(&[0.1, 0.7, 2.9, -4.3], Scaling::Standard);
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("series_scaler.json");
        scaler.save_json(&path).unwrap();
        let loaded = SeriesScaler::load_json(&path).unwrap();
        assert_eq!(loaded, scaler);
        let values = [0.3, -1e6, 1.0 / 3.0];
        assert_eq!(loaded.transform(&values), scaler.transform(&values));
        let forecasts = [0.25_f32, -1.5];
        assert_eq!(
            loaded.inverse_transform(&forecasts),
            scaler.inverse_transform(&forecasts)
        );
    }

    #[test]
    fn scalers_map_back_to_original_units() {
        let train = [2.0, 4.0, 6.0, 8.0];
        for scaling in [Scaling::Standard, Scaling::MinMax, Scaling::None] {
            let scaler = SeriesScaler::fit(&train, scaling);
            let scaled: Vec<f32> = scaler
                .transform(&[3.0, 10.0])
                .iter()
                .map(|&value| value as f32)
                .collect();
            let back = scaler.inverse_transform(&scaled);
            assert!((back[0] - 3.0).abs() < 1e-5 && (back[1] - 10.0).abs() < 1e-5);
        }
        let min_max = SeriesScaler::fit(&train, Scaling::MinMax);
        assert_eq!(min_max.transform(&[2.0, 8.0]), [0.0, 1.0]);
    }

    #[test]
    fn sunspot_windows_line_up_and_scaling_sees_only_the_training_span() {
        let values = sunspots();
        assert_eq!(values.len(), 3177);
        let config = WindowConfig {
            lookback: 24,
            horizon: 3,
            stride: 2,
        };
        let raw = windows(&values, &config).unwrap();
        assert_eq!(raw.n_windows, (3177 - 27) / 2 + 1);
        for window in [0, 1, 700, raw.n_windows - 1] {
            let start = window * 2;
            let expected_inputs: Vec<f32> = values[start..start + 24]
                .iter()
                .map(|&v| v as f32)
                .collect();
            assert_eq!(raw.input(window), expected_inputs);
            assert_eq!(raw.target(window)[0], values[start + 24] as f32);
            assert_eq!(raw.target(window)[2], values[start + 26] as f32);
        }

        let ratios = SplitRatios::default();
        let data = ForecastingData::prepare(&values, ratios, &config, Scaling::Standard).unwrap();
        let train = data.split.train.clone();
        let valid = data.split.valid.clone();
        assert_eq!((train.end, valid.end), (2223, 2700));
        // The scaler's mean is the training span's, not the whole series'.
        let train_mean = mean(&values[train.clone()]);
        assert!((data.scaler.scaler().offset - train_mean).abs() < 1e-9);
        assert!((mean(&values) - train_mean).abs() > 1.0);
        // Changing every value after the training span changes no training window and not
        // the scaler.
        let mut changed = values.clone();
        for value in &mut changed[train.end..] {
            *value += 1000.0;
        }
        let changed_data =
            ForecastingData::prepare(&changed, ratios, &config, Scaling::Standard).unwrap();
        assert_eq!(changed_data.scaler, data.scaler);
        assert_eq!(changed_data.train, data.train);

        // The first validation window reads the training tail and forecasts the first
        // validation value, in original units after the inverse transform.
        let first_valid = data.scaler.inverse_transform(data.valid.input(0));
        assert!((first_valid[23] - values[valid.start - 1]).abs() < 1e-3);
        let first_target = data.scaler.inverse_transform(data.valid.target(0));
        assert!((first_target[0] - values[valid.start]).abs() < 1e-3);
        assert_eq!(data.valid.n_windows, config.n_windows(valid.len() + 24));
        let last_test = data
            .scaler
            .inverse_transform(data.test.target(data.test.n_windows - 1));
        let last_start = data.split.test.start - 24 + (data.test.n_windows - 1) * 2;
        assert!((last_test[2] - values[last_start + 26]).abs() < 1e-3);
    }
}
