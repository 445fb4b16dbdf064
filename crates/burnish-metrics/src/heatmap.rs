//! The confusion matrix as an SVG heatmap: cells shaded by the row-normalised value (the
//! fraction of each true class), with the count written in each cell.

use crate::ConfusionMatrix;
use crate::svg::{blues, escape, open_svg, px, text_width};

/// Renders a confusion matrix as an SVG heatmap, true labels down the left (rows) and
/// predicted labels along the bottom (columns), with a title and a colour bar.
///
/// ```
/// use burnish_metrics::{ConfusionMatrix, confusion_matrix_svg};
///
/// let confusion_matrix = ConfusionMatrix::new(&["cat", "dog", "dog"], &["cat", "cat", "dog"])?;
/// let svg = confusion_matrix_svg(&confusion_matrix, "Validation");
/// assert!(svg.starts_with("<svg"));
/// assert!(svg.contains(">predicted</text>"));
/// # Ok::<(), burnish_metrics::Error>(())
/// ```
pub fn confusion_matrix_svg(confusion_matrix: &ConfusionMatrix, title: &str) -> String {
    const TITLE_FONT: f64 = 18.0;
    const AXIS_FONT: f64 = 14.0;
    const MARGIN: f64 = 20.0;
    const COLOUR_BAR_WIDTH: f64 = 16.0;

    let n_classes = confusion_matrix.n_classes().max(1);
    let cell = (480.0 / n_classes as f64).clamp(12.0, 64.0);
    let grid = cell * n_classes as f64;
    let label_font = (cell * 0.4).clamp(7.0, 13.0);
    let count_font = (cell * 0.3).clamp(4.0, 14.0);
    let longest_label = confusion_matrix
        .labels
        .iter()
        .map(|label| text_width(label, label_font))
        .fold(0.0, f64::max);
    // Column labels run diagonally once they no longer fit under their cell.
    let rotate_column_labels = longest_label > cell - 4.0;
    let column_label_height = if rotate_column_labels {
        longest_label * std::f64::consts::FRAC_1_SQRT_2 + label_font
    } else {
        label_font + 4.0
    };

    let grid_left = MARGIN + AXIS_FONT + 12.0 + longest_label + 8.0;
    let grid_top = MARGIN + TITLE_FONT + 20.0;
    let colour_bar_left = grid_left + grid + 24.0;
    let width = colour_bar_left + COLOUR_BAR_WIDTH + 40.0 + MARGIN;
    let height = grid_top + grid + 8.0 + column_label_height + 12.0 + AXIS_FONT + MARGIN;
    let title_width = text_width(title, TITLE_FONT) + 2.0 * MARGIN;
    let width = width.max(title_width);

    let mut svg = String::new();
    open_svg(&mut svg, width, height);
    let mut line = |text: String| {
        svg.push_str(&text);
        svg.push('\n');
    };
    line(format!(
        r#"<text x="{}" y="{}" font-size="{TITLE_FONT}" font-weight="bold" text-anchor="middle">{}</text>"#,
        px(width / 2.0),
        px(MARGIN + TITLE_FONT),
        escape(title)
    ));

    let fractions = confusion_matrix.row_normalized();
    for (row_idx, (row_counts, row_fractions)) in
        confusion_matrix.counts.iter().zip(&fractions).enumerate()
    {
        let y = grid_top + row_idx as f64 * cell;
        for (col_idx, (count, fraction)) in row_counts.iter().zip(row_fractions).enumerate() {
            let x = grid_left + col_idx as f64 * cell;
            line(format!(
                r##"<rect x="{}" y="{}" width="{}" height="{}" fill="{}" stroke="#ffffff" stroke-width="0.5"><title>true {}, predicted {}: {count} ({:.1}%)</title></rect>"##,
                px(x),
                px(y),
                px(cell),
                px(cell),
                blues(*fraction),
                escape(&confusion_matrix.labels[row_idx]),
                escape(&confusion_matrix.labels[col_idx]),
                fraction * 100.0
            ));
            let text_colour = if *fraction > 0.5 {
                "#ffffff"
            } else {
                "#222222"
            };
            line(format!(
                r#"<text x="{}" y="{}" font-size="{}" fill="{text_colour}" text-anchor="middle" dominant-baseline="central">{count}</text>"#,
                px(x + cell / 2.0),
                px(y + cell / 2.0),
                px(count_font)
            ));
        }
    }
    line(format!(
        r##"<rect x="{}" y="{}" width="{}" height="{}" fill="none" stroke="#444444" stroke-width="1"/>"##,
        px(grid_left),
        px(grid_top),
        px(grid),
        px(grid)
    ));

    for (class_idx, label) in confusion_matrix.labels.iter().enumerate() {
        let centre = class_idx as f64 * cell + cell / 2.0;
        line(format!(
            r#"<text x="{}" y="{}" font-size="{}" text-anchor="end" dominant-baseline="central">{}</text>"#,
            px(grid_left - 6.0),
            px(grid_top + centre),
            px(label_font),
            escape(label)
        ));
        let x = grid_left + centre;
        let y = grid_top + grid + 6.0;
        if rotate_column_labels {
            line(format!(
                r#"<text x="{}" y="{}" font-size="{}" text-anchor="end" dominant-baseline="central" transform="rotate(-45 {} {})">{}</text>"#,
                px(x),
                px(y),
                px(label_font),
                px(x),
                px(y),
                escape(label)
            ));
        } else {
            line(format!(
                r#"<text x="{}" y="{}" font-size="{}" text-anchor="middle">{}</text>"#,
                px(x),
                px(y + label_font),
                px(label_font),
                escape(label)
            ));
        }
    }

    let predicted_y = grid_top + grid + 8.0 + column_label_height + 12.0 + AXIS_FONT * 0.8;
    line(format!(
        r#"<text x="{}" y="{}" font-size="{AXIS_FONT}" font-weight="bold" text-anchor="middle">predicted</text>"#,
        px(grid_left + grid / 2.0),
        px(predicted_y)
    ));
    let true_x = MARGIN + AXIS_FONT * 0.8;
    let true_y = grid_top + grid / 2.0;
    line(format!(
        r#"<text x="{}" y="{}" font-size="{AXIS_FONT}" font-weight="bold" text-anchor="middle" transform="rotate(-90 {} {})">true</text>"#,
        px(true_x),
        px(true_y),
        px(true_x),
        px(true_y)
    ));

    // The colour bar: the fraction of a true class that each shade stands for.
    line(r#"<defs><linearGradient id="colour-bar" x1="0" y1="1" x2="0" y2="0">"#.to_owned());
    for stop_idx in 0..=10 {
        let fraction = stop_idx as f64 / 10.0;
        line(format!(
            r#"<stop offset="{fraction}" stop-color="{}"/>"#,
            blues(fraction)
        ));
    }
    line("</linearGradient></defs>".to_owned());
    line(format!(
        r##"<rect x="{}" y="{}" width="{COLOUR_BAR_WIDTH}" height="{}" fill="url(#colour-bar)" stroke="#444444" stroke-width="0.5"/>"##,
        px(colour_bar_left),
        px(grid_top),
        px(grid)
    ));
    for (fraction, text) in [(0.0, "0"), (0.5, "0.5"), (1.0, "1")] {
        let y = grid_top + grid * (1.0 - fraction);
        line(format!(
            r##"<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#444444"/>"##,
            px(colour_bar_left + COLOUR_BAR_WIDTH),
            px(y),
            px(colour_bar_left + COLOUR_BAR_WIDTH + 4.0),
            px(y)
        ));
        line(format!(
            r#"<text x="{}" y="{}" font-size="11" dominant-baseline="central">{text}</text>"#,
            px(colour_bar_left + COLOUR_BAR_WIDTH + 6.0),
            px(y)
        ));
    }
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cell_has_its_count_and_names_are_escaped() {
        let confusion_matrix = ConfusionMatrix {
            labels: vec!["a<b".to_owned(), "c".to_owned()],
            counts: vec![vec![7, 3], vec![0, 11]],
        };
        let svg = confusion_matrix_svg(&confusion_matrix, "Test & check");
        for count in [">7</text>", ">3</text>", ">0</text>", ">11</text>"] {
            assert!(svg.contains(count), "missing {count}");
        }
        assert!(svg.contains("a&lt;b"));
        assert!(svg.contains("Test &amp; check"));
        assert!(svg.contains(">true</text>"));
        assert!(svg.ends_with("</svg>\n"));
        // The fully correct row is the darkest shade.
        assert!(svg.contains(r##"fill="#08306b""##));
    }
}
