//! Small helpers for writing SVG by hand: escaping, number formatting, axis ticks, colours.
//!
//! The figures are plain SVG 1.1 text that any browser or `rsvg-convert` renders; nothing here
//! depends on a plotting library.

use std::fmt::Write;

/// Font stack used by every figure.
pub(crate) const FONT_FAMILY: &str = "DejaVu Sans, Helvetica, Arial, sans-serif";

/// Ten distinct colours (matplotlib's `tab10`), for series in a legend.
pub(crate) const PALETTE: [&str; 10] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf",
];

/// Escapes text for use inside SVG elements and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            other => escaped.push(other),
        }
    }
    escaped
}

/// A coordinate with at most two decimals, so files stay small and diffs stay readable.
pub(crate) fn px(value: f64) -> String {
    let rounded = (value * 100.0).round() / 100.0;
    let mut text = format!("{rounded:.2}");
    while text.ends_with('0') {
        text.pop();
    }
    if text.ends_with('.') {
        text.pop();
    }
    if text == "-0" { "0".to_owned() } else { text }
}

/// Rough width of `text` in pixels at `font_size`, for layout (sans-serif averages a little
/// under 0.6 em per character).
pub(crate) fn text_width(text: &str, font_size: f64) -> f64 {
    text.chars().count() as f64 * font_size * 0.6
}

/// The opening `<svg>` tag with a white background.
pub(crate) fn open_svg(svg: &mut String, width: f64, height: f64) {
    let (width, height) = (px(width), px(height));
    writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="{FONT_FAMILY}">"#
    )
    .expect("writing to a String cannot fail");
    writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#)
        .expect("writing to a String cannot fail");
}

/// Evenly spaced "nice" tick values (1, 2 or 5 times a power of ten) covering an interval.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Ticks {
    /// Tick positions, increasing, from `min` to `max` of the widened interval.
    pub(crate) values: Vec<f64>,
    /// Distance between ticks.
    pub(crate) step: f64,
}

impl Ticks {
    /// About `target_count` ticks covering `[low, high]`, widened outwards to whole steps.
    pub(crate) fn covering(low: f64, high: f64, target_count: usize) -> Self {
        let (low, high) = widen_if_flat(low, high);
        let range = nice_number(high - low, false);
        let step = nice_number(range / (target_count.max(2) - 1) as f64, true);
        let first = (low / step).floor();
        let last = (high / step).ceil();
        let values = (0..=((last - first) as usize))
            .map(|idx| (first + idx as f64) * step)
            .collect();
        Self { values, step }
    }

    /// Whole-number ticks (epochs) inside `[low, high]`, with a step of at least one.
    pub(crate) fn integers_within(low: f64, high: f64, target_count: usize) -> Self {
        let step = nice_number((high - low) / target_count.max(1) as f64, true)
            .max(1.0)
            .round();
        let first = (low / step).ceil();
        let last = (high / step).floor();
        let values = if last < first {
            Vec::new()
        } else {
            (0..=((last - first) as usize))
                .map(|idx| (first + idx as f64) * step)
                .collect()
        };
        Self { values, step }
    }

    /// The smallest and largest tick.
    pub(crate) fn bounds(&self) -> (f64, f64) {
        (self.values[0], self.values[self.values.len() - 1])
    }

    /// A tick value with as many decimals as the step needs.
    pub(crate) fn label(&self, value: f64) -> String {
        let magnitude = self.step.abs().log10().floor();
        let decimals = if magnitude < 0.0 {
            (-magnitude) as usize
        } else {
            0
        };
        let text = format!("{value:.decimals$}");
        // "-0.0" reads as a bug on an axis.
        if value.abs() < self.step * 1e-9 {
            return format!("{:.decimals$}", 0.0);
        }
        text
    }
}

/// An interval of zero width made wide enough to draw.
fn widen_if_flat(low: f64, high: f64) -> (f64, f64) {
    if high > low {
        return (low, high);
    }
    let half_width = if low == 0.0 { 1.0 } else { low.abs() * 0.1 };
    (low - half_width, high + half_width)
}

/// Heckbert's nice number: 1, 2, 5 or 10 times a power of ten, near `value`.
fn nice_number(value: f64, round: bool) -> f64 {
    let exponent = value.log10().floor();
    let power = 10f64.powf(exponent);
    let fraction = value / power;
    let nice_fraction = if round {
        match fraction {
            fraction if fraction < 1.5 => 1.0,
            fraction if fraction < 3.0 => 2.0,
            fraction if fraction < 7.0 => 5.0,
            _ => 10.0,
        }
    } else {
        match fraction {
            fraction if fraction <= 1.0 => 1.0,
            fraction if fraction <= 2.0 => 2.0,
            fraction if fraction <= 5.0 => 5.0,
            _ => 10.0,
        }
    };
    nice_fraction * power
}

/// A sequential blue ramp like matplotlib's `Blues`: white at 0, dark blue at 1.
pub(crate) fn blues(fraction: f64) -> String {
    const STOPS: [(f64, [f64; 3]); 5] = [
        (0.0, [247.0, 251.0, 255.0]),
        (0.25, [198.0, 219.0, 239.0]),
        (0.5, [107.0, 174.0, 214.0]),
        (0.75, [33.0, 113.0, 181.0]),
        (1.0, [8.0, 48.0, 107.0]),
    ];
    let fraction = if fraction.is_finite() {
        fraction.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let upper_idx = STOPS
        .iter()
        .position(|(position, _)| *position >= fraction)
        .unwrap_or(STOPS.len() - 1)
        .max(1);
    let (low_position, low_colour) = STOPS[upper_idx - 1];
    let (high_position, high_colour) = STOPS[upper_idx];
    let weight = (fraction - low_position) / (high_position - low_position);
    let channel = |channel_idx: usize| -> u8 {
        (low_colour[channel_idx] + weight * (high_colour[channel_idx] - low_colour[channel_idx]))
            .round() as u8
    };
    format!("#{:02x}{:02x}{:02x}", channel(0), channel(1), channel(2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(escape("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
    }

    #[test]
    fn pixels_are_short() {
        assert_eq!(px(12.0), "12");
        assert_eq!(px(12.345), "12.35");
        assert_eq!(px(-0.001), "0");
    }

    #[test]
    fn ticks_are_nice_and_cover_the_range() {
        let ticks = Ticks::covering(0.23, 0.91, 6);
        assert_eq!(ticks.step, 0.2);
        assert_eq!(ticks.values.len(), 5);
        let (low, high) = ticks.bounds();
        assert!(low <= 0.23 && high >= 0.91);
        assert_eq!(ticks.label(ticks.values[1]), "0.4");
        assert_eq!(Ticks::covering(2.0, 2.0, 5).values.len(), 5);
    }

    #[test]
    fn epoch_ticks_are_whole_numbers() {
        let ticks = Ticks::integers_within(1.0, 50.0, 10);
        assert_eq!(ticks.step, 5.0);
        assert_eq!(ticks.values.first(), Some(&5.0));
        let ticks = Ticks::integers_within(1.0, 3.0, 10);
        assert_eq!(ticks.values, [1.0, 2.0, 3.0]);
        assert_eq!(ticks.label(2.0), "2");
    }

    #[test]
    fn blues_runs_from_white_to_dark_blue() {
        assert_eq!(blues(0.0), "#f7fbff");
        assert_eq!(blues(1.0), "#08306b");
        assert_eq!(blues(0.5), "#6baed6");
    }
}
