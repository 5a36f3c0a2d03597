//! Finding the task list items of an issue body, as GitHub and Gitea would render them: checkbox
//! list items with their indented bodies, and nothing inside fenced or indented code, quotes or
//! HTML comments. Only the Markdown the manual planner needs is understood; anything else is
//! prose and skipped.

/// One checkbox item of the issue's task list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Item {
    /// 1-based position among all checkbox items of the body, checked ones included.
    pub position: usize,
    /// `- [x]` rather than `- [ ]`.
    pub checked: bool,
    /// The text after the checkbox.
    pub title: String,
    /// The lines below it that belong to it, with their common indentation removed.
    pub body: Vec<BodyLine>,
}

/// A line of an item's body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct BodyLine {
    pub text: String,
    /// Inside a fenced code block of the body: never read for markers.
    pub in_code: bool,
}

/// A fenced code block's opening: its character and length; it closes with at least as many.
#[derive(Clone, Copy)]
struct Fence {
    char: char,
    len: usize,
}

impl Fence {
    fn opens(trimmed: &str) -> Option<Fence> {
        let char = trimmed.chars().next().filter(|c| *c == '`' || *c == '~')?;
        let len = trimmed.chars().take_while(|c| *c == char).count();
        let info = &trimmed[len..];
        (len >= 3 && !(char == '`' && info.contains('`'))).then_some(Fence { char, len })
    }

    fn closes(&self, line: &str) -> bool {
        let trimmed = line.trim();
        trimmed.chars().take_while(|c| *c == self.char).count() >= self.len
            && trimmed.chars().all(|c| c == self.char)
    }
}

/// The checkbox items of `text`, in order.
pub(super) fn items(text: &str) -> Vec<Item> {
    let mut scanner = Scanner::default();
    for line in text.lines() {
        scanner.line(line);
    }
    scanner.close_item();
    scanner.items
}

/// `text` without its HTML comments, which the forge does not show, so nobody reviewing the issue
/// could see what they say.
pub(super) fn visible(text: &str) -> String {
    let mut in_comment = false;
    let mut fence: Option<Fence> = None;
    let mut out = Vec::new();
    for line in text.lines() {
        if let Some(open) = fence {
            if open.closes(line) {
                fence = None;
            }
            out.push(line.to_owned());
            continue;
        }
        if let Some(visible) = strip_comments(line, &mut in_comment) {
            fence = Fence::opens(visible.trim_start());
            out.push(visible);
        }
    }
    out.join("\n").trim().to_owned()
}

#[derive(Default)]
struct Scanner {
    items: Vec<Item>,
    open: Option<OpenItem>,
    /// A fenced code block outside any item: its lines are never items.
    fence: Option<Fence>,
    in_comment: bool,
    /// Content indentation of the latest plain (non-checkbox) list item, while its list goes on:
    /// checkbox items nested in it are still items of the task list.
    list_indent: Option<usize>,
}

struct OpenItem {
    item: Item,
    indent: usize,
    lines: Vec<(String, bool)>,
    fence: Option<Fence>,
    after_blank: bool,
}

impl Scanner {
    fn line(&mut self, raw: &str) {
        if let Some(fence) = self.fence {
            if fence.closes(raw) {
                self.fence = None;
            }
            return;
        }
        if let Some(open) = &mut self.open
            && let Some(fence) = open.fence
        {
            if fence.closes(raw) {
                open.fence = None;
            }
            open.lines.push((raw.to_owned(), true));
            return;
        }
        let Some(line) = strip_comments(raw, &mut self.in_comment) else {
            return;
        };
        let indent = indentation(&line);
        let trimmed = line.trim_start();
        if let Some(open) = &mut self.open {
            if trimmed.is_empty() {
                open.lines.push((String::new(), false));
                open.after_blank = true;
                return;
            }
            if indent >= open.indent + 2 || (!open.after_blank && is_lazy_continuation(trimmed)) {
                open.fence = Fence::opens(trimmed);
                open.lines.push((line.clone(), false));
                open.after_blank = false;
                return;
            }
            self.close_item();
        }
        self.top_level(indent, trimmed);
    }

    fn top_level(&mut self, indent: usize, trimmed: &str) {
        if trimmed.is_empty() || trimmed.starts_with('>') {
            return;
        }
        let nested = self.list_indent.is_some_and(|list| indent <= list + 3);
        if indent > 3 && !nested {
            return;
        }
        if let Some(fence) = Fence::opens(trimmed) {
            self.fence = Some(fence);
            self.list_indent = None;
            return;
        }
        if let Some((checked, title)) = task_item(trimmed) {
            let position = self.items.len() + 1;
            self.open = Some(OpenItem {
                item: Item {
                    position,
                    checked,
                    title: title.trim().to_owned(),
                    body: Vec::new(),
                },
                indent,
                lines: Vec::new(),
                fence: None,
                after_blank: false,
            });
            return;
        }
        if let Some(content) = list_item_content(trimmed) {
            self.list_indent = Some(indent + content);
        } else if self.list_indent.is_none_or(|list| indent < list) {
            self.list_indent = None;
        }
    }

    fn close_item(&mut self) {
        let Some(open) = self.open.take() else {
            return;
        };
        let mut lines = open.lines;
        while lines.last().is_some_and(|(text, _)| text.trim().is_empty()) {
            lines.pop();
        }
        let common = lines
            .iter()
            .filter(|(text, in_code)| !*in_code && !text.trim().is_empty())
            .map(|(text, _)| indentation(text))
            .min()
            .unwrap_or(0);
        let mut item = open.item;
        item.body = lines
            .into_iter()
            .map(|(text, in_code)| BodyLine {
                text: dedent(&text, common),
                in_code,
            })
            .collect();
        self.items.push(item);
    }
}

/// A checkbox list item: `- [ ] title`, `* [x] title`, `+ [ ]`, `1. [ ]`, `1) [ ]`.
fn task_item(trimmed: &str) -> Option<(bool, &str)> {
    let rest = &trimmed[list_item_content(trimmed)?..];
    let checked = match rest.get(..3)? {
        "[ ]" => false,
        "[x]" | "[X]" => true,
        _ => return None,
    };
    let title = &rest[3..];
    (title.is_empty() || title.starts_with([' ', '\t'])).then_some((checked, title))
}

/// Where a list item's content starts, counted from its marker: `- x` → 2, `10. x` → 4.
fn list_item_content(trimmed: &str) -> Option<usize> {
    let digits = trimmed.bytes().take_while(u8::is_ascii_digit).count();
    let marker = match trimmed.as_bytes().get(digits)? {
        b'.' | b')' if (1..=9).contains(&digits) => digits + 1,
        b'-' | b'*' | b'+' if digits == 0 => 1,
        _ => return None,
    };
    let spaces = trimmed[marker..]
        .bytes()
        .take_while(|b| *b == b' ' || *b == b'\t')
        .count();
    (spaces > 0).then_some(marker + spaces)
}

/// Whether a line right after an item's text continues its paragraph ("lazy" continuation)
/// rather than starting something of its own.
fn is_lazy_continuation(trimmed: &str) -> bool {
    let thematic_break = trimmed.len() >= 3
        && ['-', '*', '_'].iter().any(|c| {
            trimmed.chars().all(|t| t == *c || t == ' ') && trimmed.matches(*c).count() >= 3
        });
    !(list_item_content(trimmed).is_some()
        || Fence::opens(trimmed).is_some()
        || trimmed.starts_with(['>', '#', '<', '|'])
        || thematic_break)
}

/// The visible part of `line`, given whether an HTML comment is open at its start; `None` when
/// all of it is inside a comment.
fn strip_comments(line: &str, in_comment: &mut bool) -> Option<String> {
    let mut visible = String::new();
    let mut rest = line;
    let mut hidden = false;
    loop {
        if *in_comment {
            hidden = true;
            match rest.find("-->") {
                Some(end) => {
                    rest = &rest[end + 3..];
                    *in_comment = false;
                }
                None => break,
            }
        } else {
            match rest.find("<!--") {
                Some(start) => {
                    visible.push_str(&rest[..start]);
                    rest = &rest[start + 4..];
                    *in_comment = true;
                }
                None => {
                    visible.push_str(rest);
                    break;
                }
            }
        }
    }
    (!(hidden && visible.trim().is_empty())).then_some(visible)
}

/// Columns of leading whitespace, a tab counting to the next multiple of 4.
fn indentation(line: &str) -> usize {
    let mut columns = 0;
    for c in line.chars() {
        match c {
            ' ' => columns += 1,
            '\t' => columns += 4 - columns % 4,
            _ => break,
        }
    }
    columns
}

/// `line` with `columns` of its leading whitespace removed (tabs expanded first).
fn dedent(line: &str, columns: usize) -> String {
    let indent = indentation(line);
    let rest = line.trim_start_matches([' ', '\t']);
    format!("{}{rest}", " ".repeat(indent.saturating_sub(columns)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn titles(text: &str) -> Vec<(usize, bool, String)> {
        items(text)
            .into_iter()
            .map(|item| (item.position, item.checked, item.title))
            .collect()
    }

    #[test]
    fn recognizes_the_checkbox_item_shapes() {
        let text = "- [ ] one\n* [x] two\n+ [X] three\n1. [ ] four\n2) [ ] five\n- [] no\n-[ ] no\n- [ ]no\n";
        assert_eq!(
            titles(text),
            [
                (1, false, "one".to_owned()),
                (2, true, "two".to_owned()),
                (3, true, "three".to_owned()),
                (4, false, "four".to_owned()),
                (5, false, "five".to_owned()),
            ]
        );
    }

    #[test]
    fn code_quotes_and_comments_hold_no_items() {
        let text = "```\n- [ ] fenced\n```\n~~~~md\n- [ ] tilde\n~~~~\n> - [ ] quoted\n    - [ ] indented code\n<!--\n- [ ] hidden\n-->\n<!-- - [ ] hidden too -->\n- [ ] real\n";
        assert_eq!(titles(text), [(1, false, "real".to_owned())]);
    }

    #[test]
    fn an_item_keeps_its_indented_body_and_lazy_lines_but_not_what_follows() {
        let text = "- [ ] first\n  lazy? no, indented\n\n      code in body\n  ```\n- [ ] not an item\n  ```\n- [ ] second\ncontinues\n\nprose after a blank\n- [ ] third\n";
        let found = items(text);
        assert_eq!(found.len(), 3);
        let body: Vec<_> = found[0].body.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(
            body,
            [
                "lazy? no, indented",
                "",
                "    code in body",
                "```",
                "- [ ] not an item",
                "```"
            ]
        );
        assert!(found[0].body[4].in_code);
        assert_eq!(found[1].body[0].text, "continues");
        assert_eq!(found[1].body.len(), 1);
        assert_eq!(found[2].position, 3);
    }

    #[test]
    fn nested_checkboxes_belong_to_their_parent_item_but_items_under_plain_bullets_count() {
        let text = "- [ ] parent\n  - [ ] step a\n  - [ ] step b\n- Backend\n  - [ ] api\n      - [ ] sub-step of api\n";
        let found = items(text);
        assert_eq!(
            found.iter().map(|i| i.title.as_str()).collect::<Vec<_>>(),
            ["parent", "api"]
        );
        assert_eq!(found[0].body.len(), 2);
        assert_eq!(found[1].body[0].text, "- [ ] sub-step of api");
    }

    #[test]
    fn comments_inside_a_line_are_dropped() {
        assert_eq!(
            titles("- [ ] visible <!-- hidden --> part\n"),
            [(1, false, "visible  part".to_owned())]
        );
        assert_eq!(
            visible("a <!-- b -->c\n<!--\nx\n-->\n```\n<!-- kept -->\n```"),
            "a c\n```\n<!-- kept -->\n```"
        );
    }
}
