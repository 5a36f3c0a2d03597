//! The last lines of a step's output as the forge and the agent see them: cut out of the real end
//! of the output (kept in memory by [`super::output::StepOutput`], whatever the run log's cap),
//! freed of terminal escapes and carriage-return redraws, masked through the caller's [`Mask`],
//! sanitized like any untrusted text, and capped per line.

use crate::command::sanitize;

use super::Mask;

/// Most lines of a step's output kept for its tail.
pub const TAIL_LINES: usize = 40;

/// Most characters of one tail line shown; longer lines end in ` …`.
pub const LINE_CHARS: usize = 300;

/// What stands for a last line too long to keep: a piece cut from its middle could show part of
/// a secret that masking no longer recognises.
pub const LONG_LINE: &str = "[ade: the output ends with a line too long to show]";

/// The tail of a step's output ready to show: each raw line cleaned by [`clean_line`], trailing
/// blank lines dropped, at most [`TAIL_LINES`].
pub fn clean_lines(raw: &[String], mask: &Mask<'_>) -> Vec<String> {
    let end = raw
        .iter()
        .rposition(|l| !l.trim().is_empty())
        .map_or(0, |last| last + 1);
    let start = end.saturating_sub(TAIL_LINES);
    let mut lines: Vec<String> = raw[start..end]
        .iter()
        .map(|l| clean_line(l, mask))
        .collect();
    while lines.last().is_some_and(|l| l.trim().is_empty()) {
        lines.pop();
    }
    lines
}

/// One line of tool output made fit to show: the last carriage-return redraw kept (what a
/// terminal would show), terminal escapes removed, secrets masked, hidden content removed, and
/// the result cut to [`LINE_CHARS`] characters. The mask sees the whole line before any cut, so
/// a cut never leaves a secret half shown.
pub fn clean_line(raw: &str, mask: &Mask<'_>) -> String {
    let visible = strip_ansi(last_redraw(raw));
    let masked = mask(&visible);
    let sanitized = sanitize(&masked).text;
    let one_line: String = sanitized
        .chars()
        .map(|c| if c == '\n' { ' ' } else { c })
        .collect();
    cap_chars(one_line.trim_end(), LINE_CHARS)
}

/// What a terminal shows of a line redrawn with carriage returns (progress bars): the text after
/// the last one that is not at the end.
pub fn last_redraw(line: &str) -> &str {
    let line = line.trim_end_matches(['\r', '\n']);
    match line.rfind('\r') {
        Some(at) => &line[at + 1..],
        None => line,
    }
}

/// Removes terminal escape sequences: CSI (`ESC [ … final`, colours and cursor moves), OSC
/// (`ESC ] … BEL` or `ESC \`, titles and hyperlinks, whose hidden target is dropped with them),
/// and the short escapes (`ESC c`, `ESC ( B`). Other control characters are left to the sanitizer.
pub fn strip_ansi(text: &str) -> String {
    if !text.contains('\u{1b}') && !text.contains('\u{9b}') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.next() {
                Some('[') => skip_csi(&mut chars),
                Some(']') | Some('P') | Some('X') | Some('^') | Some('_') => {
                    skip_string(&mut chars)
                }
                // `ESC ( B` and the like: intermediates, then one final character.
                Some(' '..='/') => {
                    while chars.next_if(|c| (' '..='/').contains(c)).is_some() {}
                    chars.next();
                }
                _ => {}
            },
            '\u{9b}' => skip_csi(&mut chars),
            c => out.push(c),
        }
    }
    out
}

/// Skips a CSI sequence's parameters up to and including its final byte (`@` to `~`).
fn skip_csi(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    for c in chars.by_ref() {
        if ('@'..='~').contains(&c) {
            return;
        }
    }
}

/// Skips an OSC-like string up to BEL or the string terminator `ESC \`.
fn skip_string(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    while let Some(c) = chars.next() {
        match c {
            '\u{7}' | '\u{9c}' => return,
            '\u{1b}' if chars.peek() == Some(&'\\') => {
                chars.next();
                return;
            }
            _ => {}
        }
    }
}

/// `text` cut to `cap` characters, ending in ` …` when cut.
pub fn cap_chars(text: &str, cap: usize) -> String {
    match text.char_indices().nth(cap) {
        None => text.to_string(),
        Some((end, _)) => format!("{} …", &text[..end]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(text: &str) -> String {
        text.to_string()
    }

    #[test]
    fn colours_cursor_moves_and_hyperlinks_are_removed() {
        for (raw, shown) in [
            ("\u{1b}[1m\u{1b}[31merror\u{1b}[0m: x", "error: x"),
            ("a\u{1b}[2Kb\u{1b}[1Gc", "abc"),
            (
                "\u{1b}]8;;http://evil\u{7}click\u{1b}]8;;\u{1b}\\ here",
                "click here",
            ),
            ("\u{1b}(Bx", "x"),
            ("cut \u{1b}[", "cut "),
        ] {
            assert_eq!(strip_ansi(raw), shown, "{raw:?}");
        }
    }

    #[test]
    fn progress_redraws_keep_what_a_terminal_shows() {
        for (raw, shown) in [
            ("10%\r50%\r100%", "100%"),
            ("done\r\n", "done"),
            ("done\r", "done"),
            ("plain", "plain"),
        ] {
            assert_eq!(last_redraw(raw), shown, "{raw:?}");
        }
    }

    #[test]
    fn lines_are_masked_before_they_are_cut() {
        let secret = "SECRET-0123456789";
        let line = format!("{}{secret}", "x".repeat(LINE_CHARS - 5));
        let mask = |t: &str| t.replace(secret, "[redacted]");
        let shown = clean_line(&line, &mask);
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(shown.ends_with(" …"), "{shown}");
        assert_eq!(shown.chars().count(), LINE_CHARS + 2);
    }

    #[test]
    fn hidden_characters_and_tokens_do_not_survive() {
        let token = format!("ghp_{}", "A1b2".repeat(9));
        let line = format!("ok\u{200b} {token} \u{202e}txt\u{7}");
        let shown = clean_line(&line, &plain);
        assert!(!shown.contains(&token), "{shown}");
        assert!(!shown.contains('\u{200b}') && !shown.contains('\u{202e}'));
        assert!(!shown.contains('\u{7}'));
    }

    #[test]
    fn tool_output_reads_as_written() {
        for line in [
            "error[E0308]: mismatched types",
            "  --> src/lib.rs:3:5",
            "<stdin>:1:2: warning: x < y && z > w",
            "test result: FAILED. 3 passed; 1 failed",
            "    assert_eq!(left, right) `a` | b",
        ] {
            assert_eq!(clean_line(line, &plain), line);
        }
    }

    #[test]
    fn the_tail_is_the_last_lines_without_trailing_blanks() {
        let raw: Vec<String> = (1..=50)
            .map(|n| format!("line {n}"))
            .chain(["".to_string(), "  ".to_string()])
            .collect();
        let lines = clean_lines(&raw, &plain);
        assert_eq!(lines.len(), TAIL_LINES);
        assert_eq!(lines.last().unwrap(), "line 50");
        assert_eq!(lines[0], "line 11");
    }
}
