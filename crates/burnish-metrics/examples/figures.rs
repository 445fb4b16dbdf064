//! Writes example figures (a confusion matrix heatmap and training curves) as SVG into the
//! folder given as the first argument, to look at them:
//! `cargo run -p burnish-metrics --example figures -- /tmp/figures`.

use std::path::PathBuf;

use burnish_metrics::{
    ClassificationAccumulator, EpochRecord, ReportOptions, confusion_matrix_svg,
    training_curves_svg,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out_dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "figures".to_owned()),
    );
    std::fs::create_dir_all(&out_dir)?;

    let class_names: Vec<String> = ["setosa", "versicolor", "virginica", "hybrid_long_name"]
        .iter()
        .map(|name| name.to_string())
        .collect();
    let mut accumulator = ClassificationAccumulator::new(class_names.len());
    // A deterministic, plausible mix of right and wrong predictions.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut y_true = Vec::new();
    let mut y_pred = Vec::new();
    for sample_idx in 0..400usize {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let true_idx = sample_idx % class_names.len();
        let pred_idx = if state % 10 < 7 {
            true_idx
        } else {
            (state >> 8) as usize % class_names.len()
        };
        y_true.push(true_idx);
        y_pred.push(pred_idx);
    }
    accumulator.update(&y_true, &y_pred)?;
    let confusion_matrix = accumulator.confusion_matrix(&class_names)?;
    println!(
        "{}",
        accumulator.report(&class_names, &ReportOptions::default())?
    );
    std::fs::write(
        out_dir.join("confusion_matrix.svg"),
        confusion_matrix_svg(&confusion_matrix, "Validation confusion matrix"),
    )?;

    let history: Vec<EpochRecord> = (1..=30)
        .map(|epoch| {
            let progress = epoch as f64;
            let mut record = EpochRecord::new(epoch);
            record.values.insert(
                "train_loss".to_owned(),
                1.1 * (-progress / 8.0).exp() + 0.05,
            );
            if epoch % 2 == 0 {
                record.values.insert(
                    "valid_loss".to_owned(),
                    1.2 * (-progress / 9.0).exp() + 0.12,
                );
            }
            record.values.insert(
                "valid_accuracy".to_owned(),
                0.95 - 0.6 * (-progress / 6.0).exp(),
            );
            record.values.insert(
                "valid_f1_macro".to_owned(),
                0.93 - 0.65 * (-progress / 6.5).exp(),
            );
            record
        })
        .collect();
    std::fs::write(
        out_dir.join("training_curves.svg"),
        training_curves_svg(&history, "MLP on iris: training curves"),
    )?;
    println!("wrote figures to {}", out_dir.display());
    Ok(())
}
