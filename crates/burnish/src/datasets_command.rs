//! `burnish datasets`: the data sets that ship in `datasets/`, with their rows, task, source
//! and licence.
//!
//! The task, source and licence come from the table in `datasets/SOURCES.md`, which is where a
//! data set's provenance is written down; the rows of a CSV or TSV file are counted in the file
//! itself, so the listing is true of what ships.

use std::io::Write;
use std::path::Path;

use anyhow::Context;

/// One row of the table in `SOURCES.md`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetSource {
    /// The file name in the data folder.
    pub file: String,
    /// The size as `SOURCES.md` gives it (rows, or bytes for a text).
    pub rows: String,
    /// What is predicted from what.
    pub task: String,
    /// Where the data come from.
    pub source: String,
    /// The licence or terms of use.
    pub licence: String,
}

/// The data-set rows of the first Markdown table in `markdown` whose header has a `file`
/// column; the `rows`, `task`, `source` and `licence…` columns are found by their headers.
pub fn parse_sources_table(markdown: &str) -> Vec<DatasetSource> {
    let mut header: Option<Vec<String>> = None;
    let mut sources = Vec::new();
    for line in markdown.lines().map(str::trim) {
        if !line.starts_with('|') {
            if header.is_some() {
                break;
            }
            continue;
        }
        let cells: Vec<String> = line
            .trim_matches('|')
            .split('|')
            .map(|cell| cell.trim().to_string())
            .collect();
        let Some(names) = &header else {
            if cells.first().is_some_and(|cell| cell == "file") {
                header = Some(cells);
            }
            continue;
        };
        if cells
            .iter()
            .all(|cell| cell.chars().all(|c| "-: ".contains(c)))
        {
            continue;
        }
        let cell = |prefix: &str| {
            names
                .iter()
                .position(|name| name.starts_with(prefix))
                .and_then(|column| cells.get(column))
                .cloned()
                .unwrap_or_default()
        };
        sources.push(DatasetSource {
            file: cell("file"),
            rows: cell("rows"),
            task: cell("task"),
            source: cell("source"),
            licence: cell("licen"),
        });
    }
    sources
}

/// Prints every data file in `folder` with its rows, task, source and licence (from
/// `folder/SOURCES.md`); returns how many were listed.
pub fn list_datasets(folder: &Path, out: &mut dyn Write) -> anyhow::Result<usize> {
    if !folder.is_dir() {
        let looked_in = std::path::absolute(folder).unwrap_or_else(|_| folder.to_path_buf());
        anyhow::bail!(
            "no data folder at {}: run `burnish datasets` from the repository root, or name the \
             folder with --dir",
            looked_in.display()
        );
    }
    let sources_path = folder.join("SOURCES.md");
    let sources = if sources_path.is_file() {
        let markdown = std::fs::read_to_string(&sources_path)
            .with_context(|| format!("cannot read {}", sources_path.display()))?;
        parse_sources_table(&markdown)
    } else {
        Vec::new()
    };
    let mut files: Vec<String> = std::fs::read_dir(folder)
        .with_context(|| format!("cannot list {}", folder.display()))?
        .filter_map(Result::ok)
        .filter(|entry| entry.path().is_file())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with('.') && !name.ends_with(".md"))
        .collect();
    files.sort();

    writeln!(
        out,
        "{} data sets in {} (sources: {})\n",
        files.len(),
        folder.display(),
        if sources.is_empty() {
            "none found, SOURCES.md is missing or has no table".to_string()
        } else {
            sources_path.display().to_string()
        }
    )?;
    let width = files.iter().map(String::len).max().unwrap_or(4).max(4);
    writeln!(out, "{:<width$}  {:>7}  task", "file", "rows")?;
    for file in &files {
        let source = sources.iter().find(|source| &source.file == file);
        let rows = match count_records(&folder.join(file))? {
            Some(count) => count.to_string(),
            None => source.map_or_else(|| "-".to_string(), |source| source.rows.clone()),
        };
        let task = source.map_or("-", |source| source.task.as_str());
        writeln!(out, "{file:<width$}  {rows:>7}  {task}")?;
        if let Some(source) = source {
            writeln!(
                out,
                "{:<width$}  {:>7}  source: {}; licence: {}",
                "", "", source.source, source.licence
            )?;
        }
    }
    Ok(files.len())
}

/// The records of a CSV or TSV file, header excluded; `None` for any other file.
fn count_records(path: &Path) -> anyhow::Result<Option<usize>> {
    let delimiter = match path.extension().and_then(|extension| extension.to_str()) {
        Some("csv") => b',',
        Some("tsv") => b'\t',
        _ => return Ok(None),
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_path(path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let mut count = 0;
    for record in reader.records() {
        record.with_context(|| format!("cannot read {}", path.display()))?;
        count += 1;
    }
    Ok(Some(count))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sources_table_is_read_by_its_headers() {
        let markdown = "# Data\n\ntext\n\n| file | rows | task | source | licence / terms |\n\
                        |---|---|---|---|---|\n\
                        | iris.csv | 150 | 3-class | Fisher (1936) | CC BY 4.0 |\n\
                        | wine.csv | 178 | 3-class | Forina | CC BY 4.0 |\n\nafter\n| x | y |\n";
        let sources = parse_sources_table(markdown);
        assert_eq!(sources.len(), 2);
        assert_eq!(
            sources[0],
            DatasetSource {
                file: "iris.csv".into(),
                rows: "150".into(),
                task: "3-class".into(),
                source: "Fisher (1936)".into(),
                licence: "CC BY 4.0".into(),
            }
        );
        assert_eq!(sources[1].file, "wine.csv");
    }
}
