//! Training curves as SVG: one panel for the losses and one for the other metrics, against
//! the epoch.

use std::collections::BTreeSet;

use crate::EpochRecord;
use crate::svg::{PALETTE, Ticks, escape, open_svg, px, text_width};

/// Size of the plotting area of one panel, and the space around it.
const PLOT_WIDTH: f64 = 620.0;
const PLOT_HEIGHT: f64 = 260.0;
const MARGIN_LEFT: f64 = 84.0;
const MARGIN: f64 = 20.0;
const TITLE_HEIGHT: f64 = 44.0;
const PANEL_TITLE_HEIGHT: f64 = 26.0;
const AXIS_SPACE_BELOW: f64 = 56.0;
const FONT: f64 = 12.0;

/// Draws a training history as SVG: a panel of every column whose name contains `loss` and
/// a panel of every other column, each with axes, ticks, grid lines and a legend, epochs on
/// the x axis. A panel with no column is left out.
///
/// Epochs missing a column (validation every few epochs) are skipped, and lines join the
/// points around them; a non-finite value breaks the line.
///
/// ```
/// use burnish_metrics::{EpochRecord, training_curves_svg};
///
/// let history: Vec<EpochRecord> = (1..=3)
///     .map(|epoch| {
///         let mut record = EpochRecord::new(epoch);
///         record.values.insert("train_loss".to_owned(), 1.0 / epoch as f64);
///         record.values.insert("valid_accuracy".to_owned(), 0.5 + 0.1 * epoch as f64);
///         record
///     })
///     .collect();
/// let svg = training_curves_svg(&history, "MLP on iris");
/// assert!(svg.contains(">train_loss</text>"));
/// assert!(svg.contains(">valid_accuracy</text>"));
/// ```
pub fn training_curves_svg(history: &[EpochRecord], title: &str) -> String {
    let columns: BTreeSet<&str> = history
        .iter()
        .flat_map(|record| record.values.keys().map(String::as_str))
        .collect();
    let (loss_columns, metric_columns): (Vec<&str>, Vec<&str>) = columns
        .into_iter()
        .partition(|column| column.contains("loss"));
    let panels: Vec<(&str, &str, Vec<&str>)> = [
        ("Loss", "loss", loss_columns),
        ("Metrics", "value", metric_columns),
    ]
    .into_iter()
    .filter(|(_, _, panel_columns)| !panel_columns.is_empty())
    .collect();

    let longest_name = panels
        .iter()
        .flat_map(|(_, _, panel_columns)| panel_columns.iter())
        .map(|column| text_width(column, FONT))
        .fold(0.0, f64::max);
    let legend_width = 36.0 + longest_name + MARGIN;
    let panel_height = PANEL_TITLE_HEIGHT + PLOT_HEIGHT + AXIS_SPACE_BELOW;
    let width = (MARGIN_LEFT + PLOT_WIDTH + 16.0 + legend_width)
        .max(text_width(title, 18.0) + 2.0 * MARGIN);
    let height = TITLE_HEIGHT + panel_height * panels.len().max(1) as f64 + MARGIN;

    let mut svg = String::new();
    open_svg(&mut svg, width, height);
    svg.push_str(&format!(
        "<text x=\"{}\" y=\"{}\" font-size=\"18\" font-weight=\"bold\" text-anchor=\"middle\">{}</text>\n",
        px(width / 2.0),
        px(MARGIN + 14.0),
        escape(title)
    ));
    if panels.is_empty() {
        svg.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" font-size=\"{FONT}\" text-anchor=\"middle\" fill=\"#666666\">no metrics recorded</text>\n",
            px(width / 2.0),
            px(TITLE_HEIGHT + PLOT_HEIGHT / 2.0)
        ));
    }
    let (first_epoch, last_epoch) = epoch_range(history);
    for (panel_idx, (panel_title, y_label, panel_columns)) in panels.iter().enumerate() {
        let panel = Panel {
            left: MARGIN_LEFT,
            top: TITLE_HEIGHT + panel_idx as f64 * panel_height + PANEL_TITLE_HEIGHT,
            first_epoch,
            last_epoch,
        };
        panel.draw(&mut svg, history, panel_title, y_label, panel_columns);
    }
    svg.push_str("</svg>\n");
    svg
}

/// The first and last epoch, widened by one on each side when they are the same.
fn epoch_range(history: &[EpochRecord]) -> (f64, f64) {
    let first = history.iter().map(|record| record.epoch).min().unwrap_or(0) as f64;
    let last = history.iter().map(|record| record.epoch).max().unwrap_or(1) as f64;
    if last > first {
        (first, last)
    } else {
        (first - 1.0, last + 1.0)
    }
}

/// One panel's placement and x range.
struct Panel {
    left: f64,
    top: f64,
    first_epoch: f64,
    last_epoch: f64,
}

impl Panel {
    fn x(&self, epoch: f64) -> f64 {
        self.left + (epoch - self.first_epoch) / (self.last_epoch - self.first_epoch) * PLOT_WIDTH
    }

    fn draw(
        &self,
        svg: &mut String,
        history: &[EpochRecord],
        panel_title: &str,
        y_label: &str,
        columns: &[&str],
    ) {
        let values = history
            .iter()
            .flat_map(|record| {
                columns
                    .iter()
                    .filter_map(|column| record.values.get(*column))
            })
            .copied()
            .filter(|value| value.is_finite());
        let (low, high) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(low, high), value| {
            (low.min(value), high.max(value))
        });
        let (low, high) = if low.is_finite() {
            (low, high)
        } else {
            (0.0, 1.0)
        };
        let y_ticks = Ticks::covering(low, high, 6);
        let (y_min, y_max) = y_ticks.bounds();
        let y =
            |value: f64| self.top + PLOT_HEIGHT - (value - y_min) / (y_max - y_min) * PLOT_HEIGHT;
        let right = self.left + PLOT_WIDTH;
        let bottom = self.top + PLOT_HEIGHT;
        let mut line = |text: String| {
            svg.push_str(&text);
            svg.push('\n');
        };

        line(format!(
            r#"<text x="{}" y="{}" font-size="14" font-weight="bold">{}</text>"#,
            px(self.left),
            px(self.top - 8.0),
            escape(panel_title)
        ));
        for &tick in &y_ticks.values {
            let tick_y = px(y(tick));
            line(format!(
                r##"<line x1="{}" y1="{tick_y}" x2="{}" y2="{tick_y}" stroke="#e0e0e0" stroke-width="1"/>"##,
                px(self.left),
                px(right)
            ));
            line(format!(
                r#"<text x="{}" y="{tick_y}" font-size="{FONT}" text-anchor="end" dominant-baseline="central">{}</text>"#,
                px(self.left - 8.0),
                y_ticks.label(tick)
            ));
        }
        let x_ticks = Ticks::integers_within(self.first_epoch, self.last_epoch, 10);
        for &tick in &x_ticks.values {
            let tick_x = px(self.x(tick));
            line(format!(
                r##"<line x1="{tick_x}" y1="{}" x2="{tick_x}" y2="{}" stroke="#444444" stroke-width="1"/>"##,
                px(bottom),
                px(bottom + 5.0)
            ));
            line(format!(
                r#"<text x="{tick_x}" y="{}" font-size="{FONT}" text-anchor="middle">{}</text>"#,
                px(bottom + 8.0 + FONT),
                x_ticks.label(tick)
            ));
        }
        line(format!(
            r##"<rect x="{}" y="{}" width="{PLOT_WIDTH}" height="{PLOT_HEIGHT}" fill="none" stroke="#444444" stroke-width="1"/>"##,
            px(self.left),
            px(self.top)
        ));
        line(format!(
            r#"<text x="{}" y="{}" font-size="13" text-anchor="middle">epoch</text>"#,
            px(self.left + PLOT_WIDTH / 2.0),
            px(bottom + 8.0 + FONT + 20.0)
        ));
        let label_x = MARGIN + 6.0;
        let label_y = self.top + PLOT_HEIGHT / 2.0;
        line(format!(
            r#"<text x="{}" y="{}" font-size="13" text-anchor="middle" transform="rotate(-90 {} {})">{}</text>"#,
            px(label_x),
            px(label_y),
            px(label_x),
            px(label_y),
            escape(y_label)
        ));

        for (series_idx, column) in columns.iter().enumerate() {
            let colour = PALETTE[series_idx % PALETTE.len()];
            let mut points: Vec<(f64, f64)> = history
                .iter()
                .filter_map(|record| {
                    record
                        .values
                        .get(*column)
                        .map(|&value| (record.epoch as f64, value))
                })
                .collect();
            points.sort_by(|left, right| left.0.total_cmp(&right.0));
            // A non-finite value ends one line and the next finite value starts another.
            for segment in points.split(|(_, value)| !value.is_finite()) {
                if segment.len() > 1 {
                    let coordinates: Vec<String> = segment
                        .iter()
                        .map(|&(epoch, value)| format!("{},{}", px(self.x(epoch)), px(y(value))))
                        .collect();
                    line(format!(
                        r#"<polyline fill="none" stroke="{colour}" stroke-width="2" stroke-linejoin="round" points="{}"/>"#,
                        coordinates.join(" ")
                    ));
                }
            }
            let finite_points = points.iter().filter(|(_, value)| value.is_finite());
            if points.len() <= 60 {
                for &(epoch, value) in finite_points {
                    line(format!(
                        r#"<circle cx="{}" cy="{}" r="3" fill="{colour}"><title>{} at epoch {epoch}: {value}</title></circle>"#,
                        px(self.x(epoch)),
                        px(y(value)),
                        escape(column)
                    ));
                }
            }
            let legend_x = right + 16.0;
            let legend_y = self.top + 12.0 + series_idx as f64 * 20.0;
            line(format!(
                r#"<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{colour}" stroke-width="3"/>"#,
                px(legend_x),
                px(legend_y),
                px(legend_x + 24.0),
                px(legend_y)
            ));
            line(format!(
                r#"<text x="{}" y="{}" font-size="{FONT}" dominant-baseline="central">{}</text>"#,
                px(legend_x + 30.0),
                px(legend_y),
                escape(column)
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(epoch: usize, values: &[(&str, f64)]) -> EpochRecord {
        let mut record = EpochRecord::new(epoch);
        for (column, value) in values {
            record.values.insert((*column).to_owned(), *value);
        }
        record
    }

    #[test]
    fn losses_and_metrics_get_their_own_panels() {
        let history = [
            record(
                1,
                &[
                    ("train_loss", 1.2),
                    ("valid_loss", 1.3),
                    ("valid_accuracy", 0.4),
                ],
            ),
            record(2, &[("train_loss", 0.8), ("valid_accuracy", 0.6)]),
            record(
                3,
                &[
                    ("train_loss", 0.5),
                    ("valid_loss", 0.9),
                    ("valid_accuracy", 0.7),
                ],
            ),
        ];
        let svg = training_curves_svg(&history, "run");
        assert!(svg.contains(">Loss</text>"));
        assert!(svg.contains(">Metrics</text>"));
        // One line per series; valid_loss joins epochs 1 and 3 around the missing 2.
        assert_eq!(svg.matches("<polyline").count(), 3);
        assert_eq!(svg.matches("<circle").count(), 8);
    }

    #[test]
    fn a_history_of_losses_only_has_one_panel() {
        let history = [record(1, &[("train_loss", 2.0)])];
        let svg = training_curves_svg(&history, "one epoch");
        assert!(svg.contains(">Loss</text>"));
        assert!(!svg.contains(">Metrics</text>"));
        assert_eq!(svg.matches("<circle").count(), 1);
    }

    #[test]
    fn non_finite_values_break_the_line() {
        let history = [
            record(1, &[("train_loss", 2.0)]),
            record(2, &[("train_loss", 1.0)]),
            record(3, &[("train_loss", f64::NAN)]),
            record(4, &[("train_loss", 0.8)]),
            record(5, &[("train_loss", 0.7)]),
        ];
        let svg = training_curves_svg(&history, "diverged once");
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(!svg.contains("NaN"));
    }

    #[test]
    fn an_empty_history_still_renders() {
        let svg = training_curves_svg(&[], "nothing yet");
        assert!(svg.contains("no metrics recorded"));
        assert!(svg.ends_with("</svg>\n"));
    }
}
