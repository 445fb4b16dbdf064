//! The learning-rate range test as SVG: the smoothed loss against the rate on a logarithmic
//! axis, with the suggested rate marked.

use crate::svg::{Ticks, escape, open_svg, px};

const PLOT_WIDTH: f64 = 620.0;
const PLOT_HEIGHT: f64 = 300.0;
const LEFT: f64 = 84.0;
const TOP: f64 = 56.0;
const MARGIN: f64 = 20.0;
const FONT: f64 = 12.0;

/// Draws the loss of each step of a range test against its learning rate, the rate on a
/// log-10 axis with a tick per decade, and a dashed vertical line at `suggestion`.
///
/// Points with a rate that is not positive or a loss that is not finite are left out.
///
/// ```
/// use burnish_metrics::lr_find_svg;
///
/// let lrs = [1e-5, 1e-4, 1e-3, 1e-2, 1e-1];
/// let losses = [2.3, 2.2, 1.6, 1.1, 3.0];
/// let svg = lr_find_svg(&lrs, &losses, Some(1e-3), "penguins");
/// assert!(svg.contains("<polyline"));
/// assert!(svg.contains("suggested 1.0e-3"));
/// ```
pub fn lr_find_svg(lrs: &[f64], losses: &[f64], suggestion: Option<f64>, title: &str) -> String {
    let points: Vec<(f64, f64)> = lrs
        .iter()
        .zip(losses)
        .filter(|(lr, loss)| **lr > 0.0 && lr.is_finite() && loss.is_finite())
        .map(|(lr, loss)| (lr.log10(), *loss))
        .collect();
    let width = LEFT + PLOT_WIDTH + 2.0 * MARGIN;
    let height = TOP + PLOT_HEIGHT + 64.0;
    let mut svg = String::new();
    open_svg(&mut svg, width, height);
    let mut line = |text: String| {
        svg.push_str(&text);
        svg.push('\n');
    };
    line(format!(
        r#"<text x="{}" y="{}" font-size="18" font-weight="bold" text-anchor="middle">{}</text>"#,
        px(width / 2.0),
        px(MARGIN + 14.0),
        escape(&format!("{title}: learning-rate range test"))
    ));

    let (x_low, x_high) = span(points.iter().map(|point| point.0));
    let (x_low, x_high) = (x_low.floor(), x_high.ceil().max(x_low.floor() + 1.0));
    let (y_low, y_high) = span(points.iter().map(|point| point.1));
    let y_ticks = Ticks::covering(y_low, y_high, 6);
    let (y_min, y_max) = y_ticks.bounds();
    let x = |log_lr: f64| LEFT + (log_lr - x_low) / (x_high - x_low) * PLOT_WIDTH;
    let y = |loss: f64| TOP + PLOT_HEIGHT - (loss - y_min) / (y_max - y_min) * PLOT_HEIGHT;
    let bottom = TOP + PLOT_HEIGHT;

    for &tick in &y_ticks.values {
        line(format!(
            r##"<line x1="{}" y1="{2}" x2="{}" y2="{2}" stroke="#e0e0e0" stroke-width="1"/>"##,
            px(LEFT),
            px(LEFT + PLOT_WIDTH),
            px(y(tick))
        ));
        line(format!(
            r#"<text x="{}" y="{}" font-size="{FONT}" text-anchor="end" dominant-baseline="central">{}</text>"#,
            px(LEFT - 8.0),
            px(y(tick)),
            y_ticks.label(tick)
        ));
    }
    let decades = (x_high - x_low) as i32;
    for decade in 0..=decades {
        let exponent = x_low as i32 + decade;
        let tick_x = px(x(f64::from(exponent)));
        line(format!(
            r##"<line x1="{tick_x}" y1="{}" x2="{tick_x}" y2="{}" stroke="#444444" stroke-width="1"/>"##,
            px(bottom),
            px(bottom + 5.0)
        ));
        line(format!(
            r#"<text x="{tick_x}" y="{}" font-size="{FONT}" text-anchor="middle">1e{exponent}</text>"#,
            px(bottom + 8.0 + FONT)
        ));
    }
    line(format!(
        r##"<rect x="{}" y="{}" width="{PLOT_WIDTH}" height="{PLOT_HEIGHT}" fill="none" stroke="#444444" stroke-width="1"/>"##,
        px(LEFT),
        px(TOP)
    ));
    line(format!(
        r#"<text x="{}" y="{}" font-size="13" text-anchor="middle">learning rate (log scale)</text>"#,
        px(LEFT + PLOT_WIDTH / 2.0),
        px(bottom + 8.0 + FONT + 22.0)
    ));
    let label_x = MARGIN + 6.0;
    let label_y = TOP + PLOT_HEIGHT / 2.0;
    line(format!(
        r#"<text x="{0}" y="{1}" font-size="13" text-anchor="middle" transform="rotate(-90 {0} {1})">smoothed training loss</text>"#,
        px(label_x),
        px(label_y)
    ));
    if points.len() > 1 {
        let coordinates: Vec<String> = points
            .iter()
            .map(|&(log_lr, loss)| format!("{},{}", px(x(log_lr)), px(y(loss))))
            .collect();
        line(format!(
            r##"<polyline fill="none" stroke="#1f77b4" stroke-width="2" stroke-linejoin="round" points="{}"/>"##,
            coordinates.join(" ")
        ));
    }
    let on_the_axis = |lr: &f64| *lr > 0.0 && (x_low..=x_high).contains(&lr.log10());
    if let Some(lr) = suggestion.filter(on_the_axis) {
        let marker_x = px(x(lr.log10()));
        line(format!(
            r##"<line x1="{marker_x}" y1="{}" x2="{marker_x}" y2="{}" stroke="#d62728" stroke-width="1.5" stroke-dasharray="6 4"/>"##,
            px(TOP),
            px(bottom)
        ));
        line(format!(
            r##"<text x="{marker_x}" y="{}" font-size="{FONT}" text-anchor="middle" fill="#d62728">suggested {lr:.1e}</text>"##,
            px(TOP - 6.0)
        ));
    }
    svg.push_str("</svg>\n");
    svg
}

/// The smallest and largest of `values`, or `(0, 1)` when there are none.
fn span(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (low, high) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(low, high), value| {
        (low.min(value), high.max(value))
    });
    if low.is_finite() {
        (low, high)
    } else {
        (0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_axis_has_a_tick_per_decade_and_skips_bad_points() {
        let lrs = [1e-6, 1e-4, 0.0, 1e-2];
        let losses = [1.0, 0.5, 0.4, f64::NAN];
        let svg = lr_find_svg(&lrs, &losses, None, "run");
        for exponent in -6..=-4 {
            assert!(svg.contains(&format!(">1e{exponent}</text>")), "{exponent}");
        }
        assert!(!svg.contains(">1e-3</text>"));
        assert_eq!(svg.matches("<polyline").count(), 1);
        assert!(!svg.contains("suggested"));
        assert!(!svg.contains("NaN"));
    }

    #[test]
    fn no_points_still_renders() {
        let svg = lr_find_svg(&[], &[], Some(1e-3), "empty");
        assert!(!svg.contains("<polyline"));
        assert!(!svg.contains("suggested"));
        assert!(svg.ends_with("</svg>\n"));
    }
}
