//! The character pass: invisible characters out, line endings made `\n`.

use super::{HiddenKind, Removed};
use crate::command::invisible::{Invisible, classify};

/// Named character references that stand for an invisible character.
const NAMED: &[(&str, char)] = &[
    ("shy", '\u{ad}'),
    ("zwsp", '\u{200b}'),
    ("ZeroWidthSpace", '\u{200b}'),
    ("zwnj", '\u{200c}'),
    ("zwj", '\u{200d}'),
    ("lrm", '\u{200e}'),
    ("rlm", '\u{200f}'),
    ("NoBreak", '\u{2060}'),
];

/// Removes invisible characters (and character references to them), counting each kind, and
/// turns `\r\n` and lone `\r` into `\n`.
pub(super) fn strip(text: &str, removed: &mut Removed) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        let mut len = c.len_utf8();
        let hidden = match c {
            '\r' => {
                if !rest[1..].starts_with('\n') {
                    out.push('\n');
                }
                None
            }
            '&' => match reference(rest) {
                Some((decoded, ref_len)) => match classify(decoded) {
                    Some(kind) => {
                        len = ref_len;
                        Some(kind)
                    }
                    None => {
                        out.push('&');
                        None
                    }
                },
                None => {
                    out.push('&');
                    None
                }
            },
            c => match classify(c) {
                Some(kind) => Some(kind),
                None => {
                    out.push(c);
                    None
                }
            },
        };
        if let Some(kind) = hidden {
            removed.add(kind_of(kind), 1);
        }
        rest = &rest[len..];
    }
    out
}

fn kind_of(kind: Invisible) -> HiddenKind {
    match kind {
        Invisible::ZeroWidth => HiddenKind::ZeroWidth,
        Invisible::Bidi => HiddenKind::Bidi,
        Invisible::TagCharacter => HiddenKind::TagCharacters,
        Invisible::Control => HiddenKind::Controls,
        Invisible::SoftHyphen => HiddenKind::SoftHyphens,
    }
}

/// A character reference at the start of `s` (`&#8203;`, `&#x200B;`, `&shy;`): the character it
/// stands for and its length in bytes.
fn reference(s: &str) -> Option<(char, usize)> {
    let body = s.strip_prefix('&')?;
    let window = &body.as_bytes()[..body.len().min(40)];
    let end = window.iter().position(|b| *b == b';')?;
    let name = &body[..end];
    let c = if let Some(hex) = name.strip_prefix("#x").or_else(|| name.strip_prefix("#X")) {
        ((1..=6).contains(&hex.len()) && hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .then_some(())?;
        char::from_u32(u32::from_str_radix(hex, 16).ok()?)?
    } else if let Some(decimal) = name.strip_prefix('#') {
        ((1..=7).contains(&decimal.len()) && decimal.bytes().all(|b| b.is_ascii_digit()))
            .then_some(())?;
        char::from_u32(decimal.parse().ok()?)?
    } else {
        NAMED.iter().find(|(n, _)| *n == name)?.1
    };
    Some((c, 1 + end + 1))
}
