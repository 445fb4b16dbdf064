//! Text from a data file shown inside an error message, cut to a readable length.
//!
//! A header or a cell can be thousands of characters long (a file that is not a table, a
//! whole review in one field); an error quotes at most [`QUOTED_CHARS`] characters of it and
//! lists column names until the list is about [`LISTED_CHARS`] long. This module only formats.

use std::fmt::Write as _;

/// The most characters of one header, cell or name that a message quotes.
pub const QUOTED_CHARS: usize = 60;

/// About how long a list of column names in a message grows before it is cut.
pub const LISTED_CHARS: usize = 100;

/// `text` in double quotes with Rust's escapes, cut after [`QUOTED_CHARS`] characters with "…".
///
/// ```
/// use burnish_data::excerpt::quoted;
/// assert_eq!(quoted("species"), "\"species\"");
/// assert_eq!(quoted(&"x".repeat(100)).chars().count(), 60 + 3);
/// ```
pub fn quoted(text: &str) -> String {
    match text.char_indices().nth(QUOTED_CHARS) {
        None => format!("{text:?}"),
        Some((end, _)) => {
            let shown = format!("{:?}", &text[..end]);
            format!("{}…\"", &shown[..shown.len() - 1])
        }
    }
}

/// "available columns: "a", "b", … (40 in all)": the names quoted, cut when the list reaches
/// about [`LISTED_CHARS`] characters.
pub fn column_list<S: AsRef<str>>(names: &[S]) -> String {
    if names.is_empty() {
        return "the file has no columns".to_string();
    }
    let mut text = String::from("available columns: ");
    let start = text.len();
    for (index, name) in names.iter().enumerate() {
        if index > 0 && text.len() - start >= LISTED_CHARS {
            let _ = write!(text, ", … ({} in all)", names.len());
            break;
        }
        if index > 0 {
            text.push_str(", ");
        }
        text.push_str(&quoted(name.as_ref()));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_quoted_whole() {
        assert_eq!(quoted("a \"b\"\n"), "\"a \\\"b\\\"\\n\"");
    }

    #[test]
    fn long_text_is_cut_on_a_character_boundary() {
        let text = "é".repeat(70);
        let shown = quoted(&text);
        assert_eq!(shown, format!("\"{}…\"", "é".repeat(QUOTED_CHARS)));
    }

    #[test]
    fn long_lists_are_cut() {
        let names: Vec<String> = (0..40).map(|index| format!("column{index}")).collect();
        let list = column_list(&names);
        assert!(list.ends_with("(40 in all)"), "{list}");
        assert!(list.len() < LISTED_CHARS + 60, "{list}");
        let few = column_list(&["a", "b"]);
        assert_eq!(few, "available columns: \"a\", \"b\"");
    }
}
