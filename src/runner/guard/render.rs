//! Paths and names from a change, made safe to show: a path is hostile text (an agent chose it),
//! so it may carry newlines that forge a report line, bidi overrides that make `txt.exe` read as
//! `exe.txt`, or zero-width characters that make two paths look the same. Rendered, every such
//! character becomes a visible escape and a Markdown code span holds the rest.

use std::fmt::Write;

/// Longest rendering of one path, in characters; longer ones are cut with an ellipsis.
const MAX_SHOWN: usize = 300;

/// `text` with every character a reader could not see or that could break a line escaped as
/// `\n`, `\t`, `\\` or `\u{…}`, cut to a readable length. Plain-text reports use it as is.
pub fn visible(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_SHOWN * 2));
    for (shown, c) in text.chars().enumerate() {
        if shown == MAX_SHOWN {
            out.push('…');
            break;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\\' => out.push_str("\\\\"),
            c if hides(c) => {
                let _ = write!(out, "\\u{{{:04x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

/// `text` as an inline Markdown code span: escaped by [`visible`], fenced by more backticks than
/// it contains in a row, so nothing in it renders as markup.
pub fn code_span(text: &str) -> String {
    let text = visible(text);
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') || text.is_empty() {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{text}{pad}{fence}")
}

/// Whether `c` shows as nothing, moves other text, or breaks a line.
fn hides(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{ad}'
            | '\u{034f}'
            | '\u{061c}'
            | '\u{115f}' | '\u{1160}'
            | '\u{17b4}' | '\u{17b5}'
            | '\u{180b}'..='\u{180f}'
            | '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{206f}'
            | '\u{3164}'
            | '\u{fe00}'..='\u{fe0f}'
            | '\u{feff}'
            | '\u{ffa0}'
            | '\u{fff9}'..='\u{fffb}'
            | '\u{e0000}'..='\u{e007f}'
            | '\u{e0100}'..='\u{e01ef}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newlines_and_controls_become_escapes() {
        assert_eq!(visible("a\nb\r\tc\u{1b}[31m"), "a\\nb\\r\\tc\\u{001b}[31m");
    }

    #[test]
    fn bidi_overrides_and_zero_width_characters_are_shown() {
        assert_eq!(visible("evil\u{202e}txt.exe"), "evil\\u{202e}txt.exe");
        assert_eq!(visible("a\u{200b}b\u{feff}"), "a\\u{200b}b\\u{feff}");
        assert_eq!(visible("x\u{2028}y"), "x\\u{2028}y");
    }

    #[test]
    fn a_backslash_is_escaped_so_an_escape_cannot_be_forged() {
        assert_eq!(visible("a\\nb"), "a\\\\nb");
        assert_ne!(visible("a\\nb"), visible("a\nb"));
    }

    #[test]
    fn lookalikes_and_ordinary_unicode_stay_as_they_are() {
        assert_eq!(visible(".gіthub/workflows"), ".gіthub/workflows");
        assert_eq!(visible("docs/naïve.md"), "docs/naïve.md");
    }

    #[test]
    fn long_paths_are_cut() {
        let long = "a/".repeat(400);
        let shown = visible(&long);
        assert_eq!(shown.chars().count(), MAX_SHOWN + 1);
        assert!(shown.ends_with('…'));
    }

    #[test]
    fn code_spans_outfence_backticks_in_the_path() {
        assert_eq!(code_span("a.md"), "`a.md`");
        assert_eq!(code_span("a``b"), "```a``b```");
        assert_eq!(code_span("`x"), "`` `x ``");
        assert_eq!(code_span("a\nb"), "`a\\nb`");
    }
}
