//! Untrusted issue and comment text, made fit for a prompt: what a reader of the rendered page
//! cannot see is removed, and forge tokens are masked, so an agent is never steered by text a
//! reviewing human did not see and never handed a credential.
//!
//! Three passes, each linear in the text:
//! 1. characters (`chars.rs`): zero-width and other invisible characters, bidi controls, tag
//!    characters, C0/C1 controls (line feed and tab stay; CRLF becomes LF), soft hyphens, and
//!    HTML character references to any of these (`&#8203;`, `&shy;`);
//! 2. markup (`markup.rs`), read by the same CommonMark parser as commands, so code spans and code
//!    blocks keep their text: HTML comments (an unclosed one hides the rest), declarations and
//!    processing instructions, elements that hide their content (`hidden`, `aria-hidden="true"`,
//!    hiding styles, `<script>`, `<template>`, …; an unclosed one hides the rest), every HTML
//!    attribute but an `<a>`'s `href`, images (alt text, title and address become `[image]`), and
//!    link titles. `<details>` stays: its content is one click away, not hidden;
//! 3. tokens (`tokens.rs`): GitHub tokens become `[masked github token]`.
//!
//! Removing one thing can join its neighbours into another (`<` + a comment + `!-- … -->`), so
//! the passes repeat until the text no longer changes, which makes `sanitize` idempotent. Text
//! that has not settled after [`MAX_ROUNDS`] rounds is built to nest hidden markup and is replaced
//! whole by a notice.

mod chars;
mod markup;
mod tokens;

pub(crate) use tokens::token_len as github_token_len;

use std::fmt;

/// How many rounds of the passes ordinary text may need; one changes, one confirms, and a few
/// more cover accidental joins.
const MAX_ROUNDS: usize = 8;

/// What replaces text that never settles.
const UNREADABLE: &str =
    "[ade removed this text: its hidden markup is nested too deeply to read safely]";

/// The kinds of hidden content the sanitizer removes, for counting and logging.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HiddenKind {
    /// Zero-width and other invisible characters.
    ZeroWidth,
    /// Bidirectional control characters.
    Bidi,
    /// Unicode tag characters.
    TagCharacters,
    /// C0 and C1 control characters.
    Controls,
    /// Soft hyphens.
    SoftHyphens,
    /// HTML comments.
    HtmlComments,
    /// Hidden HTML elements with their content, declarations and processing instructions.
    HiddenHtml,
    /// HTML attributes.
    HtmlAttributes,
    /// Images (their alt text and title).
    ImageAlt,
    /// Link titles.
    LinkTitles,
    /// Forge tokens (masked, not removed).
    Tokens,
    /// The whole text, replaced because it never settled.
    Unreadable,
}

impl HiddenKind {
    /// Every kind, in a stable order.
    pub const ALL: [HiddenKind; 12] = [
        HiddenKind::ZeroWidth,
        HiddenKind::Bidi,
        HiddenKind::TagCharacters,
        HiddenKind::Controls,
        HiddenKind::SoftHyphens,
        HiddenKind::HtmlComments,
        HiddenKind::HiddenHtml,
        HiddenKind::HtmlAttributes,
        HiddenKind::ImageAlt,
        HiddenKind::LinkTitles,
        HiddenKind::Tokens,
        HiddenKind::Unreadable,
    ];

    /// A stable snake_case name, for logs, metrics and golden file names.
    pub fn name(self) -> &'static str {
        match self {
            HiddenKind::ZeroWidth => "zero_width",
            HiddenKind::Bidi => "bidi",
            HiddenKind::TagCharacters => "tag_characters",
            HiddenKind::Controls => "controls",
            HiddenKind::SoftHyphens => "soft_hyphens",
            HiddenKind::HtmlComments => "html_comments",
            HiddenKind::HiddenHtml => "hidden_html",
            HiddenKind::HtmlAttributes => "html_attributes",
            HiddenKind::ImageAlt => "image_alt",
            HiddenKind::LinkTitles => "link_titles",
            HiddenKind::Tokens => "tokens",
            HiddenKind::Unreadable => "unreadable",
        }
    }
}

/// How many of each kind were removed, so the coordinator can log that a goal's text carried
/// hidden content (and an operator can see a pattern of attempts).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Removed {
    counts: [usize; HiddenKind::ALL.len()],
}

impl Removed {
    /// How many of one kind.
    pub fn count(&self, kind: HiddenKind) -> usize {
        self.counts[kind as usize]
    }

    /// How many in all; zero for clean text.
    pub fn total(&self) -> usize {
        self.counts.iter().sum()
    }

    /// The kinds found, with their counts.
    pub fn iter(&self) -> impl Iterator<Item = (HiddenKind, usize)> + '_ {
        HiddenKind::ALL
            .into_iter()
            .map(|k| (k, self.count(k)))
            .filter(|(_, n)| *n > 0)
    }

    fn add(&mut self, kind: HiddenKind, n: usize) {
        self.counts[kind as usize] += n;
    }
}

/// `zero_width=2 html_comments=1`, or `nothing` for clean text.
impl fmt::Display for Removed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.total() == 0 {
            return f.write_str("nothing");
        }
        let parts: Vec<String> = self
            .iter()
            .map(|(k, n)| format!("{}={n}", k.name()))
            .collect();
        f.write_str(&parts.join(" "))
    }
}

/// Sanitized text and what was taken out of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sanitized {
    /// The text, safe to quote in a prompt as untrusted content.
    pub text: String,
    /// What was removed or masked.
    pub removed: Removed,
}

/// Strips hidden content from untrusted text and masks forge tokens; see the module docs.
/// `sanitize(&sanitize(x).text).text == sanitize(x).text` for every `x`.
pub fn sanitize(text: &str) -> Sanitized {
    let mut removed = Removed::default();
    let mut current = text.to_string();
    for _ in 0..MAX_ROUNDS {
        let next = round(&current, &mut removed);
        if next == current {
            return Sanitized {
                text: current,
                removed,
            };
        }
        current = next;
    }
    removed.add(HiddenKind::Unreadable, 1);
    Sanitized {
        text: UNREADABLE.to_string(),
        removed,
    }
}

fn round(text: &str, removed: &mut Removed) -> String {
    let text = chars::strip(text, removed);
    let text = markup::strip(&text, removed);
    tokens::mask(&text, removed)
}

#[cfg(test)]
mod tests;
