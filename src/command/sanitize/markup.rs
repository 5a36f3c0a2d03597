//! The markup pass: hidden HTML, HTML attributes, images and link titles out, as the forge's
//! markdown renderer would read them. Text in code spans and code blocks is left as written: it
//! is shown literally, so nothing in it is hidden.

use super::{HiddenKind, Removed};
use crate::command::html::{self, Change, Hiding, Markup, Tag};
use crate::command::lines::markdown_options;
use pulldown_cmark::{Event, LinkType, Parser, Tag as MdTag, TagEnd};
use std::borrow::Cow;
use std::ops::Range;

/// What an image becomes.
const IMAGE: &str = "[image]";

/// Removes hidden markup from markdown `text`, counting what it removed.
pub(super) fn strip(text: &str, removed: &mut Removed) -> String {
    let parser = Parser::new_ext(text, markdown_options()).into_offset_iter();
    let mut edits = Edits::default();
    for (_, definition) in parser.reference_definitions().iter() {
        if definition.title.as_deref().is_some_and(|t| !t.is_empty())
            && let Some(title) = title_at_end(&text[definition.span.clone()], false)
        {
            let at = definition.span.start;
            edits.remove(at + title.start..at + title.end, HiddenKind::LinkTitles);
        }
    }
    let mut walk = Walk {
        text,
        edits,
        hiding: Hiding::default(),
        hidden_by: HiddenKind::HiddenHtml,
        images: 0,
    };
    for (event, range) in parser {
        walk.event(event, range);
    }
    if let Some(start) = walk.hiding.hidden_since() {
        walk.edits.remove(start..text.len(), walk.hidden_by);
    }
    walk.edits.apply(text, removed)
}

struct Walk<'a> {
    text: &'a str,
    edits: Edits,
    hiding: Hiding,
    /// What the open hidden region is, for counting when it closes.
    hidden_by: HiddenKind,
    /// How deep inside images we are: their content goes with them.
    images: usize,
}

impl Walk<'_> {
    fn event(&mut self, event: Event<'_>, range: Range<usize>) {
        match event {
            Event::Start(MdTag::Image { .. }) => {
                if self.images == 0 && !self.hiding.is_hidden() {
                    self.edits.replace(range, IMAGE, HiddenKind::ImageAlt, 1);
                }
                self.images += 1;
            }
            Event::End(TagEnd::Image) => self.images -= 1,
            _ if self.images > 0 => {}
            Event::Start(MdTag::HtmlBlock) | Event::InlineHtml(_) => self.html(range),
            Event::Start(MdTag::Link {
                link_type: LinkType::Inline,
                title,
                ..
            }) if !title.is_empty() && !self.hiding.is_hidden() => {
                if let Some(title) = title_at_end(&self.text[range.clone()], true) {
                    let at = range.start;
                    self.edits
                        .remove(at + title.start..at + title.end, HiddenKind::LinkTitles);
                }
            }
            _ => {}
        }
    }

    /// One chunk of raw HTML (an inline tag or comment, or a whole HTML block).
    fn html(&mut self, range: Range<usize>) {
        let chunk = &self.text[range.clone()];
        for (at, markup) in html::scan(chunk) {
            let at = range.start + at.start..range.start + at.end;
            let was_hidden = self.hiding.is_hidden();
            match self.hiding.feed(at.clone(), &markup, |t| t.hides_content()) {
                Change::Closed { start, end } => {
                    self.edits.remove(start..end, self.hidden_by);
                    continue;
                }
                Change::Opened(_) => {
                    self.hidden_by = match markup {
                        Markup::Comment { .. } => HiddenKind::HtmlComments,
                        _ => HiddenKind::HiddenHtml,
                    };
                    continue;
                }
                Change::None if was_hidden => continue,
                Change::None => {}
            }
            match markup {
                Markup::Comment { .. } => self.edits.remove(at, HiddenKind::HtmlComments),
                Markup::Declaration { .. } => self.edits.remove(at, HiddenKind::HiddenHtml),
                Markup::Open(tag) if tag.hides_content() => {
                    self.edits.remove(at, HiddenKind::HiddenHtml)
                }
                Markup::Open(tag) if tag.name.eq_ignore_ascii_case("img") => {
                    self.edits.replace(at, IMAGE, HiddenKind::ImageAlt, 1)
                }
                Markup::Open(tag) => {
                    let (canonical, dropped) = canonical_tag(&tag);
                    if canonical != self.text[at.clone()] {
                        self.edits
                            .replace(at, canonical, HiddenKind::HtmlAttributes, dropped);
                    }
                }
                Markup::Close { name } => {
                    let canonical = format!("</{name}>");
                    if canonical != self.text[at.clone()] {
                        self.edits
                            .replace(at, canonical, HiddenKind::HtmlAttributes, 0);
                    }
                }
            }
        }
    }
}

/// A tag without its attributes, but for an `<a>`'s first `href`; and how many were dropped.
fn canonical_tag(tag: &Tag<'_>) -> (String, usize) {
    let mut canonical = format!("<{}", tag.name);
    let mut dropped = 0;
    let mut href = None;
    for attribute in &tag.attributes {
        match attribute.value {
            Some(value)
                if href.is_none()
                    && tag.name.eq_ignore_ascii_case("a")
                    && attribute.name.eq_ignore_ascii_case("href") =>
            {
                href = Some(value)
            }
            _ => dropped += 1,
        }
    }
    if let Some(href) = href {
        let quote = if href.contains('"') { '\'' } else { '"' };
        canonical.push_str(&format!(" href={quote}{href}{quote}"));
    }
    canonical.push_str(if tag.self_closing { " />" } else { ">" });
    (canonical, dropped)
}

/// Where the title of a link or a link reference definition is in its source, together with
/// the whitespace before it; `closing_paren` for an inline link, whose source ends with `)`.
/// The title is the last thing before that end, so it is found from the end backwards.
fn title_at_end(source: &str, closing_paren: bool) -> Option<Range<usize>> {
    let bytes = source.as_bytes();
    let mut end = bytes.len();
    while end > 0 && bytes[end - 1].is_ascii_whitespace() {
        end -= 1;
    }
    if closing_paren {
        if end == 0 || bytes[end - 1] != b')' {
            return None;
        }
        end -= 1;
        while end > 0 && bytes[end - 1].is_ascii_whitespace() {
            end -= 1;
        }
    }
    let close = end.checked_sub(1)?;
    let open_delimiter = match bytes[close] {
        b'"' => b'"',
        b'\'' => b'\'',
        b')' => b'(',
        _ => return None,
    };
    let open = (0..close)
        .rev()
        .find(|&i| bytes[i] == open_delimiter && !is_escaped(bytes, i))?;
    let mut start = open;
    while start > 0 && bytes[start - 1].is_ascii_whitespace() {
        start -= 1;
    }
    Some(start..close + 1)
}

/// Whether the byte at `i` follows an odd number of backslashes.
fn is_escaped(bytes: &[u8], i: usize) -> bool {
    bytes[..i].iter().rev().take_while(|b| **b == b'\\').count() % 2 == 1
}

/// Replacements in the source, applied in one pass. Where two overlap (hidden content holding
/// an image), the one that starts first wins and the other's count is not taken.
#[derive(Default)]
struct Edits(Vec<Edit>);

struct Edit {
    range: Range<usize>,
    with: Cow<'static, str>,
    kind: HiddenKind,
    count: usize,
}

impl Edits {
    fn remove(&mut self, range: Range<usize>, kind: HiddenKind) {
        self.replace(range, "", kind, 1);
    }

    fn replace(
        &mut self,
        range: Range<usize>,
        with: impl Into<Cow<'static, str>>,
        kind: HiddenKind,
        count: usize,
    ) {
        self.0.push(Edit {
            range,
            with: with.into(),
            kind,
            count,
        });
    }

    fn apply(mut self, text: &str, removed: &mut Removed) -> String {
        self.0
            .sort_by_key(|e| (e.range.start, std::cmp::Reverse(e.range.end)));
        let mut out = String::with_capacity(text.len());
        let mut pos = 0;
        for edit in self.0 {
            if edit.range.start < pos {
                pos = pos.max(edit.range.end);
                continue;
            }
            out.push_str(&text[pos..edit.range.start]);
            out.push_str(&edit.with);
            removed.add(edit.kind, edit.count);
            pos = edit.range.end;
        }
        out.push_str(&text[pos..]);
        out
    }
}
