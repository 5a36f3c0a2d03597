//! The raw HTML that markdown lets through, read just far enough to know what a reader of the
//! rendered comment cannot see: comments, declarations, and elements that hide their content.
//!
//! Both the command parser (a command inside hidden markup never acts) and the sanitizer (hidden
//! markup never reaches a prompt) read HTML through this one tokenizer, so the two agree on what
//! is hidden. The grammar is CommonMark's for raw HTML; each call looks at one construct and never
//! backtracks past it, so scanning a chunk is linear in its length.

/// One piece of raw HTML.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Markup<'a> {
    /// `<!-- … -->`; `closed` is false when the text ends first.
    Comment { closed: bool },
    /// `<!DOCTYPE …>`, `<![CDATA[ … ]]>` or `<? … ?>`: never displayed.
    Declaration { closed: bool },
    /// An opening (or self-closing) tag.
    Open(Tag<'a>),
    /// A closing tag.
    Close { name: &'a str },
}

/// An opening tag with its attributes, as written.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Tag<'a> {
    /// The element name, as written.
    pub name: &'a str,
    /// The attributes, in order.
    pub attributes: Vec<Attribute<'a>>,
    /// Whether it ends with `/>`.
    pub self_closing: bool,
}

/// One attribute; `value` is `None` for a bare attribute such as `hidden`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Attribute<'a> {
    /// The name, as written.
    pub name: &'a str,
    /// The value without its quotes.
    pub value: Option<&'a str>,
}

/// Elements whose content a browser never shows, or that forges strip with their content.
const HIDDEN_ELEMENTS: &[&str] = &[
    "iframe", "noembed", "noframes", "noscript", "object", "script", "style", "template",
];

/// Elements without content: hiding one hides nothing after it.
const VOID_ELEMENTS: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr",
];

/// Elements that render their content as a quotation or as code, as markdown's `>` and fences do.
const QUOTE_OR_CODE_ELEMENTS: &[&str] = &["blockquote", "code", "kbd", "pre", "q", "samp", "tt"];

impl Tag<'_> {
    /// The value of an attribute (names compare without case); `Some(None)` for a bare attribute.
    pub fn attribute(&self, name: &str) -> Option<Option<&str>> {
        self.attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
            .map(|a| a.value)
    }

    /// Whether the element has no content, so nothing follows it inside.
    pub fn is_void(&self) -> bool {
        self.self_closing || is_one_of(self.name, VOID_ELEMENTS)
    }

    /// Whether a browser hides the element and its content: by its kind, the `hidden` attribute,
    /// `aria-hidden="true"`, or a style that hides it.
    pub fn hides_content(&self) -> bool {
        is_one_of(self.name, HIDDEN_ELEMENTS)
            || self.attribute("hidden").is_some()
            || self
                .attribute("aria-hidden")
                .flatten()
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
            || self.attribute("style").flatten().is_some_and(style_hides)
    }

    /// Whether the element shows its content as a quotation or as code.
    pub fn quotes_or_codes(&self) -> bool {
        is_one_of(self.name, QUOTE_OR_CODE_ELEMENTS)
    }
}

fn is_one_of(name: &str, list: &[&str]) -> bool {
    list.iter().any(|n| n.eq_ignore_ascii_case(name))
}

/// Whether an inline style hides the element: `display:none`, `visibility:hidden|collapse`,
/// `opacity:0`, `font-size:0`, or transparent text. Other tricks (off-screen positions, zero
/// sizes with clipping) are not recognized.
fn style_hides(style: &str) -> bool {
    style.split(';').any(|declaration| {
        let Some((property, value)) = declaration.split_once(':') else {
            return false;
        };
        let property = property.trim().to_ascii_lowercase();
        let value: String = value
            .to_ascii_lowercase()
            .replace("!important", "")
            .split_whitespace()
            .collect();
        match property.as_str() {
            "display" => value == "none",
            "visibility" => value == "hidden" || value == "collapse",
            "opacity" | "font-size" => is_zero_length(&value),
            "color" | "-webkit-text-fill-color" => value == "transparent",
            _ => false,
        }
    })
}

/// `0`, `0.0`, `0px`, `0%`, `.0em`: a number that is zero, whatever its unit.
fn is_zero_length(value: &str) -> bool {
    let number_end = value
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(value.len());
    let number = &value[..number_end];
    !number.is_empty()
        && number.chars().any(|c| c.is_ascii_digit())
        && number.parse::<f64>() == Ok(0.0)
}

/// Every piece of markup in `chunk`, in order, with its byte range; the text between is skipped.
pub(crate) fn scan(chunk: &str) -> impl Iterator<Item = (std::ops::Range<usize>, Markup<'_>)> {
    let mut pos = 0;
    std::iter::from_fn(move || {
        while let Some(offset) = chunk[pos..].find('<') {
            let start = pos + offset;
            match markup_at(chunk, start) {
                Some((markup, end)) => {
                    pos = end;
                    return Some((start..end, markup));
                }
                None => pos = start + 1,
            }
        }
        pos = chunk.len();
        None
    })
}

/// The construct that starts at `start` (a `<`), with the byte offset just past it.
pub(crate) fn markup_at(s: &str, start: usize) -> Option<(Markup<'_>, usize)> {
    let rest = &s[start..];
    if let Some(body) = rest.strip_prefix("<!--") {
        // CommonMark 0.31 counts `<!-->` and `<!--->` as whole comments.
        if body.starts_with('>') {
            return Some((Markup::Comment { closed: true }, start + 5));
        }
        if body.starts_with("->") {
            return Some((Markup::Comment { closed: true }, start + 6));
        }
        return Some(match body.find("-->") {
            Some(i) => (Markup::Comment { closed: true }, start + 4 + i + 3),
            None => (Markup::Comment { closed: false }, s.len()),
        });
    }
    if rest.starts_with("<![CDATA[") {
        return Some(until(s, start, 9, "]]>"));
    }
    if rest.starts_with("<?") {
        return Some(until(s, start, 2, "?>"));
    }
    if let Some(body) = rest.strip_prefix("<!")
        && body.starts_with(|c: char| c.is_ascii_alphabetic())
    {
        return Some(until(s, start, 2, ">"));
    }
    if let Some(body) = rest.strip_prefix("</") {
        let name_len = tag_name_len(body)?;
        let after = &body[name_len..];
        let spaces = after.len() - after.trim_start().len();
        return after[spaces..].starts_with('>').then(|| {
            let end = start + 2 + name_len + spaces + 1;
            (
                Markup::Close {
                    name: &body[..name_len],
                },
                end,
            )
        });
    }
    let (tag, len) = open_tag(&rest[1..])?;
    Some((Markup::Open(tag), start + 1 + len))
}

fn until(s: &str, start: usize, skip: usize, end: &str) -> (Markup<'static>, usize) {
    match s[start + skip..].find(end) {
        Some(i) => (
            Markup::Declaration { closed: true },
            start + skip + i + end.len(),
        ),
        None => (Markup::Declaration { closed: false }, s.len()),
    }
}

/// `[A-Za-z][A-Za-z0-9-]*`
fn tag_name_len(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    if !bytes.first()?.is_ascii_alphabetic() {
        return None;
    }
    Some(
        bytes
            .iter()
            .position(|b| !(b.is_ascii_alphanumeric() || *b == b'-'))
            .unwrap_or(bytes.len()),
    )
}

/// `[A-Za-z_:][A-Za-z0-9_.:-]*`
fn attribute_name_len(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    let first = *bytes.first()?;
    if !(first.is_ascii_alphabetic() || first == b'_' || first == b':') {
        return None;
    }
    Some(
        bytes
            .iter()
            .position(|b| !(b.is_ascii_alphanumeric() || b"_.:-".contains(b)))
            .unwrap_or(bytes.len()),
    )
}

fn is_html_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0c')
}

/// An opening tag after its `<`: the tag and how many bytes it took, up to and including `>`.
fn open_tag(s: &str) -> Option<(Tag<'_>, usize)> {
    let bytes = s.as_bytes();
    let name_len = tag_name_len(s)?;
    let mut tag = Tag {
        name: &s[..name_len],
        attributes: Vec::new(),
        self_closing: false,
    };
    let mut i = name_len;
    loop {
        let spaced_from = i;
        while i < bytes.len() && is_html_space(bytes[i]) {
            i += 1;
        }
        match bytes.get(i)? {
            b'>' => return Some((tag, i + 1)),
            b'/' if bytes.get(i + 1) == Some(&b'>') => {
                tag.self_closing = true;
                return Some((tag, i + 2));
            }
            _ if i == spaced_from => return None,
            _ => {}
        }
        let attr_len = attribute_name_len(&s[i..])?;
        let name = &s[i..i + attr_len];
        i += attr_len;
        let mut j = i;
        while j < bytes.len() && is_html_space(bytes[j]) {
            j += 1;
        }
        if bytes.get(j) != Some(&b'=') {
            tag.attributes.push(Attribute { name, value: None });
            continue;
        }
        j += 1;
        while j < bytes.len() && is_html_space(bytes[j]) {
            j += 1;
        }
        let (value, end) = attribute_value(s, j)?;
        tag.attributes.push(Attribute {
            name,
            value: Some(value),
        });
        i = end;
    }
}

/// A quoted or unquoted attribute value starting at `i`, and the offset just past it.
fn attribute_value(s: &str, i: usize) -> Option<(&str, usize)> {
    let bytes = s.as_bytes();
    match *bytes.get(i)? {
        quote @ (b'"' | b'\'') => {
            let len = s[i + 1..].find(quote as char)?;
            Some((&s[i + 1..i + 1 + len], i + 1 + len + 1))
        }
        _ => {
            let len = bytes[i..]
                .iter()
                .position(|b| is_html_space(*b) || b"\"'=<>`".contains(b))
                .unwrap_or(bytes.len() - i);
            (len > 0).then(|| (&s[i..i + len], i + len))
        }
    }
}

/// Follows hidden markup across the HTML chunks of one document: an element that hides its
/// content stays open until its closing tag (counting nested ones of the same name), and a
/// comment left open hides everything after it, as a browser reads them.
#[derive(Debug, Default)]
pub(crate) struct Hiding {
    open: Option<Open>,
}

#[derive(Debug)]
enum Open {
    Element {
        name: String,
        depth: usize,
        start: usize,
    },
    Rest {
        start: usize,
    },
}

/// What [`Hiding::feed`] learned about one piece of markup.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Change {
    /// Nothing about hiding changed.
    None,
    /// Hidden content starts at this offset.
    Opened(usize),
    /// Hidden content that started at `start` ends at `end`.
    Closed { start: usize, end: usize },
}

impl Hiding {
    /// Whether content at this point is hidden.
    pub fn is_hidden(&self) -> bool {
        self.open.is_some()
    }

    /// Where the hidden content began, if it is open.
    pub fn hidden_since(&self) -> Option<usize> {
        match &self.open {
            Some(Open::Element { start, .. } | Open::Rest { start }) => Some(*start),
            None => None,
        }
    }

    /// Takes one piece of markup found at `range` (document offsets). `hides` says which opening
    /// tags hide what follows them (the parser and the sanitizer differ on quotes and code).
    pub fn feed(
        &mut self,
        range: std::ops::Range<usize>,
        markup: &Markup<'_>,
        hides: impl Fn(&Tag<'_>) -> bool,
    ) -> Change {
        match (&mut self.open, markup) {
            (Some(Open::Rest { .. }), _) => Change::None,
            (None, Markup::Comment { closed: false } | Markup::Declaration { closed: false }) => {
                self.open = Some(Open::Rest { start: range.start });
                Change::Opened(range.start)
            }
            (None, Markup::Open(tag)) if !tag.is_void() && hides(tag) => {
                self.open = Some(Open::Element {
                    name: tag.name.to_ascii_lowercase(),
                    depth: 1,
                    start: range.start,
                });
                Change::Opened(range.start)
            }
            (Some(Open::Element { name, depth, .. }), Markup::Open(tag))
                if !tag.is_void() && tag.name.eq_ignore_ascii_case(name) =>
            {
                *depth += 1;
                Change::None
            }
            (Some(Open::Element { name, depth, start }), Markup::Close { name: closing })
                if closing.eq_ignore_ascii_case(name) =>
            {
                *depth -= 1;
                if *depth > 0 {
                    return Change::None;
                }
                let start = *start;
                self.open = None;
                Change::Closed {
                    start,
                    end: range.end,
                }
            }
            (Some(Open::Element { .. }), Markup::Comment { closed: false }) => {
                // An unclosed comment inside hidden content keeps everything after it hidden.
                let start = self.hidden_since().unwrap_or(range.start);
                self.open = Some(Open::Rest { start });
                Change::None
            }
            _ => Change::None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(s: &str) -> Vec<String> {
        scan(s)
            .map(|(r, m)| {
                let what = match m {
                    Markup::Comment { closed } => format!("comment({closed})"),
                    Markup::Declaration { closed } => format!("declaration({closed})"),
                    Markup::Open(t) => format!("open({})", t.name),
                    Markup::Close { name } => format!("close({name})"),
                };
                format!("{what}@{}..{}", r.start, r.end)
            })
            .collect()
    }

    #[test]
    fn finds_comments_including_the_short_and_unclosed_forms() {
        assert_eq!(kinds("a<!-- x -->b"), ["comment(true)@1..11"]);
        assert_eq!(kinds("<!-->x"), ["comment(true)@0..5"]);
        assert_eq!(kinds("<!--->x"), ["comment(true)@0..6"]);
        assert_eq!(kinds("x<!-- open"), ["comment(false)@1..10"]);
    }

    #[test]
    fn finds_declarations_processing_instructions_and_cdata() {
        assert_eq!(kinds("<!DOCTYPE html>"), ["declaration(true)@0..15"]);
        assert_eq!(kinds("<?php x ?>"), ["declaration(true)@0..10"]);
        assert_eq!(kinds("<![CDATA[ a > b ]]>"), ["declaration(true)@0..19"]);
        assert_eq!(kinds("<?never"), ["declaration(false)@0..7"]);
        assert!(kinds("a <! b").is_empty());
    }

    #[test]
    fn reads_tags_and_attributes_by_commonmark_rules() {
        let (markup, end) = markup_at(r#"<span hidden title='a>b' data-x=1 >rest"#, 0).unwrap();
        let Markup::Open(tag) = markup else {
            panic!("not a tag")
        };
        assert_eq!(end, 35);
        assert_eq!(tag.name, "span");
        assert_eq!(tag.attribute("HIDDEN"), Some(None));
        assert_eq!(tag.attribute("title"), Some(Some("a>b")));
        assert_eq!(tag.attribute("data-x"), Some(Some("1")));
        assert!(tag.hides_content());
        assert_eq!(
            kinds("<br/></ a></a >"),
            ["open(br)@0..5", "close(a)@10..15"]
        );
    }

    #[test]
    fn rejects_what_is_not_a_tag() {
        for s in [
            "a < b",
            "Vec<K, V>",
            "<1a>",
            "<a\"b>",
            "<a b=>",
            "<a b='unclosed>",
            "<a",
            "<a`>",
        ] {
            assert!(kinds(s).is_empty(), "{s}");
        }
        assert_eq!(kinds("Option<String>"), ["open(String)@6..14"]);
    }

    #[test]
    fn knows_which_styles_hide() {
        for style in [
            "display:none",
            "DISPLAY : NONE !important",
            "color:red; visibility:hidden",
            "opacity:0",
            "opacity: 0.0",
            "font-size:0px",
            "font-size:.0em",
            "color: transparent",
        ] {
            assert!(style_hides(style), "{style}");
        }
        for style in [
            "display:block",
            "opacity:0.5",
            "font-size:10px",
            "color:red",
            "nonsense",
        ] {
            assert!(!style_hides(style), "{style}");
        }
    }

    #[test]
    fn hiding_follows_nesting_of_the_same_element() {
        let text = "<div hidden><div>a</div>b</div>c";
        let mut hiding = Hiding::default();
        let mut changes = Vec::new();
        for (range, markup) in scan(text) {
            changes.push(hiding.feed(range, &markup, |t| t.hides_content()));
        }
        assert_eq!(
            changes,
            [
                Change::Opened(0),
                Change::None,
                Change::None,
                Change::Closed { start: 0, end: 31 }
            ]
        );
        assert!(!hiding.is_hidden());
    }

    #[test]
    fn an_unclosed_comment_hides_the_rest() {
        let mut hiding = Hiding::default();
        let (range, markup) = scan("x <!-- y").next().unwrap();
        assert_eq!(hiding.feed(range, &markup, |_| false), Change::Opened(2));
        assert!(hiding.is_hidden());
        assert_eq!(hiding.hidden_since(), Some(2));
    }

    #[test]
    fn scanning_is_linear_on_hostile_input() {
        let hostile = "<a b='".repeat(50_000) + &"<!".repeat(50_000) + &"</".repeat(50_000);
        let started = std::time::Instant::now();
        let _ = scan(&hostile).count();
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }
}
