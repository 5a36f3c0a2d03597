//! Putting untrusted text into Markdown that ade posts: titles and names from issues end up in
//! tables, lists and mermaid graphs, and must neither break their structure nor do things the
//! author did not intend in ade's name (ping `@everyone`, close issues with `fixes #1`, inject
//! links or HTML).

/// Escapes text for one line of Markdown prose or a table cell: no line breaks, no HTML, no
/// Markdown syntax, no mentions or issue references that would notify or link.
pub fn inline(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' | '\r' | '\t' => out.push(' '),
            '|' => out.push_str("&#124;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '@' => out.push_str("&#64;"),
            '#' => out.push_str("&#35;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '~' | '!' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Wraps text in a code span that its own backticks cannot close.
pub fn code_span(text: &str) -> String {
    let text: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.is_empty() {
        return "` `".to_string();
    }
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{text}{pad}{fence}")
}

/// A code span for a table cell: as [`code_span`], with each `|` escaped, since a table splits
/// its cells at every unescaped `|`, inside code spans too (GitHub Flavored Markdown).
pub fn code_cell(text: &str) -> String {
    code_span(text).replace('|', "\\|")
}

/// Makes text safe inside a quoted mermaid node label: `node["label"]`.
pub fn mermaid_label(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '#' => out.push_str("#35;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '`' => out.push_str("#96;"),
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cells of each row of the tables in `markdown`, as a forge renders them.
    fn table_cells(markdown: &str) -> Vec<Vec<String>> {
        use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
        let mut rows = Vec::new();
        let mut cell: Option<String> = None;
        for event in Parser::new_ext(markdown, Options::ENABLE_TABLES) {
            match event {
                Event::Start(Tag::TableRow | Tag::TableHead) => rows.push(Vec::new()),
                Event::Start(Tag::TableCell) => cell = Some(String::new()),
                Event::End(TagEnd::TableCell) => {
                    let text = cell.take().unwrap_or_default();
                    rows.last_mut().unwrap().push(text);
                }
                Event::Text(t) | Event::Code(t) => {
                    if let Some(cell) = cell.as_mut() {
                        cell.push_str(&t);
                    }
                }
                _ => {}
            }
        }
        rows
    }

    #[test]
    fn a_code_cell_keeps_its_pipes_inside_its_cell() {
        let usage = "/ade run <task-id> | all";
        let table = format!(
            "| command | what |\n| --- | --- |\n| {} | starts a task |\n",
            code_cell(usage)
        );
        let rows = table_cells(&table);
        assert_eq!(rows[1], vec![usage.to_owned(), "starts a task".to_owned()]);
        let broken = format!(
            "| command | what |\n| --- | --- |\n| {} | starts a task |\n",
            code_span(usage)
        );
        assert_ne!(table_cells(&broken)[1][0], usage, "a bare code span splits");
    }

    #[test]
    fn inline_text_cannot_ping_link_or_break_a_table() {
        let hostile =
            "@everyone fixes #1 | <img src=x onerror=alert(1)> [click](http://evil) **bold**\nnext";
        let safe = inline(hostile);
        for forbidden in ["@everyone", " #1", "|", "<img", "](", "**", "\n"] {
            assert!(
                !safe.contains(forbidden),
                "{forbidden:?} survived in {safe:?}"
            );
        }
        assert!(
            safe.contains("everyone") && safe.contains("bold"),
            "the words stay readable: {safe}"
        );
    }

    #[test]
    fn code_spans_survive_backticks_inside() {
        assert_eq!(code_span("t1"), "`t1`");
        assert_eq!(code_span("a`b"), "``a`b``");
        assert_eq!(code_span("`x"), "`` `x ``");
        assert_eq!(code_span(""), "` `");
    }

    #[test]
    fn mermaid_labels_cannot_close_their_quotes() {
        let label = mermaid_label("say \"hi\"]\n--> evil");
        assert!(!label.contains('"') && !label.contains('\n'), "{label}");
    }
}
