//! The lines of a comment that a reader sees as the author's own prose: what is left of the
//! rendered markdown once code, quotes, headings, tables, raw HTML blocks and hidden markup are
//! set aside. Commands are looked for only here.
//!
//! The markdown is read by a CommonMark parser (with GitHub's extensions) rather than by line
//! patterns, so that a fence inside a list item, a lazy continuation of a quote, or a code span
//! that runs over a line break are classified exactly as the forge renders them. What a reader
//! sees and what acts must not differ.

use super::html::{self, Change, Hiding};
use super::invisible::is_ignorable;
use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

/// One rendered line of prose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Line {
    /// The visible text: text and inline code, without markup or inline HTML.
    pub text: String,
    /// Whether the line begins, in the source, with its text: nothing but whitespace before it
    /// (no list marker, emphasis, link, inline code or HTML). Only such a line can be a command.
    pub at_line_start: bool,
}

/// The markdown extensions the forges render; shared with the sanitizer so both read alike.
pub(crate) fn markdown_options() -> Options {
    Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_GFM
}

/// The visible prose of `text`, as blocks (paragraphs, list items) of lines.
pub(super) fn visible_blocks(text: &str) -> Vec<Vec<Line>> {
    let mut reader = Reader {
        source: text,
        blocks: Vec::new(),
        block: Vec::new(),
        line: None,
        set_aside: 0,
        hiding: Hiding::default(),
    };
    for (event, range) in Parser::new_ext(text, markdown_options()).into_offset_iter() {
        reader.event(event, range);
    }
    reader.end_block();
    reader.blocks
}

struct Reader<'a> {
    source: &'a str,
    blocks: Vec<Vec<Line>>,
    block: Vec<Line>,
    line: Option<Line>,
    /// How many containers that are not prose (quotes, code, headings, …) we are inside.
    set_aside: usize,
    hiding: Hiding,
}

impl Reader<'_> {
    fn event(&mut self, event: Event<'_>, range: std::ops::Range<usize>) {
        match event {
            Event::Start(Tag::Image { .. }) => {
                self.inline_markup();
                self.set_aside += 1;
            }
            Event::End(TagEnd::Image) => self.set_aside -= 1,
            Event::Start(tag) if sets_aside(&tag) => {
                self.end_block();
                self.set_aside += 1;
                if matches!(tag, Tag::HtmlBlock) {
                    self.html(range);
                }
            }
            Event::End(tag) if ends_set_aside(tag) => {
                self.end_block();
                self.set_aside -= 1;
            }
            Event::InlineHtml(_) => {
                self.html(range);
                self.inline_markup();
            }
            _ if self.set_aside > 0 || self.hiding.is_hidden() => {}
            Event::Start(tag) if is_inline(&tag.to_end()) => self.inline_markup(),
            Event::End(tag) if is_inline(&tag) => {}
            Event::Start(_) | Event::End(_) | Event::Rule => self.end_block(),
            Event::Text(text) => {
                let at_line_start = self.line.is_none() && self.nothing_before(range.start);
                self.line
                    .get_or_insert(Line {
                        text: String::new(),
                        at_line_start,
                    })
                    .text
                    .push_str(&text);
            }
            Event::Code(code) => {
                self.inline_markup();
                if let Some(line) = &mut self.line {
                    line.text.push_str(&code);
                }
            }
            Event::SoftBreak | Event::HardBreak => self.end_line(),
            Event::Html(_)
            | Event::FootnoteReference(_)
            | Event::TaskListMarker(_)
            | Event::InlineMath(_)
            | Event::DisplayMath(_) => self.inline_markup(),
        }
    }

    /// Reads raw HTML for hidden markup; text after an element that hides is skipped until it
    /// closes, and an unclosed comment hides the rest of the comment.
    fn html(&mut self, range: std::ops::Range<usize>) {
        let chunk = &self.source[range.clone()];
        for (at, markup) in html::scan(chunk) {
            let at = range.start + at.start..range.start + at.end;
            let change = self.hiding.feed(at, &markup, |tag| {
                tag.hides_content() || tag.quotes_or_codes()
            });
            if let Change::Opened(_) = change {
                self.end_line();
            }
        }
    }

    /// Markup other than plain text: a line that begins with it is not a command line.
    fn inline_markup(&mut self) {
        if self.set_aside == 0 && !self.hiding.is_hidden() {
            self.line.get_or_insert(Line {
                text: String::new(),
                at_line_start: false,
            });
        }
    }

    /// Whether the source line holding `offset` has only whitespace (or invisible characters)
    /// before it.
    fn nothing_before(&self, offset: usize) -> bool {
        self.source[..offset]
            .chars()
            .rev()
            .take_while(|c| *c != '\n' && *c != '\r')
            .all(|c| c.is_whitespace() || is_ignorable(c))
    }

    fn end_line(&mut self) {
        if let Some(line) = self.line.take() {
            self.block.push(line);
        }
    }

    fn end_block(&mut self) {
        self.end_line();
        if !self.block.is_empty() {
            self.blocks.push(std::mem::take(&mut self.block));
        }
    }
}

/// Blocks whose text is not the author's prose: quotes, code, headings, tables, raw HTML blocks,
/// footnote definitions and metadata. (Images, whose alt text is not prose either, are inline and
/// handled apart.)
fn sets_aside(tag: &Tag<'_>) -> bool {
    matches!(
        tag,
        Tag::BlockQuote(_)
            | Tag::CodeBlock(_)
            | Tag::HtmlBlock
            | Tag::Heading { .. }
            | Tag::Table(_)
            | Tag::FootnoteDefinition(_)
            | Tag::MetadataBlock(_)
    )
}

fn ends_set_aside(tag: TagEnd) -> bool {
    matches!(
        tag,
        TagEnd::BlockQuote(_)
            | TagEnd::CodeBlock
            | TagEnd::HtmlBlock
            | TagEnd::Heading(_)
            | TagEnd::Table
            | TagEnd::FootnoteDefinition
            | TagEnd::MetadataBlock(_)
    )
}

/// The inline containers: their text continues the line they are on.
fn is_inline(tag: &TagEnd) -> bool {
    matches!(
        tag,
        TagEnd::Emphasis
            | TagEnd::Strong
            | TagEnd::Strikethrough
            | TagEnd::Superscript
            | TagEnd::Subscript
            | TagEnd::Link
    )
}
