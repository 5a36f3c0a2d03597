//! Characters a reader cannot see: the parser skips them around a command, and the sanitizer
//! removes them before text reaches a prompt. One list, so both agree.

/// Why a character is invisible.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Invisible {
    /// Zero-width spaces and joiners, the word joiner, the byte-order mark, and other characters
    /// that render as nothing (invisible operators, Hangul fillers, variation selectors 17–256).
    ZeroWidth,
    /// Bidirectional controls: they reorder what is shown, so text can read unlike what it is.
    Bidi,
    /// Unicode tag characters (U+E0000–U+E007F): an invisible copy of ASCII.
    TagCharacter,
    /// C0 and C1 control characters other than line feed and tab.
    Control,
    /// The soft hyphen, shown only where a word breaks.
    SoftHyphen,
}

/// The class of an invisible character, or `None` for one that shows (including `\n` and `\t`).
pub(crate) fn classify(c: char) -> Option<Invisible> {
    Some(match c {
        '\n' | '\t' => return None,
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' => Invisible::Control,
        '\u{ad}' => Invisible::SoftHyphen,
        '\u{200b}'..='\u{200d}'
        | '\u{2060}'..='\u{2064}'
        | '\u{feff}'
        | '\u{180e}'
        | '\u{115f}'
        | '\u{1160}'
        | '\u{3164}'
        | '\u{ffa0}'
        | '\u{fff9}'..='\u{fffb}'
        | '\u{e0100}'..='\u{e01ef}' => Invisible::ZeroWidth,
        '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{61c}' => {
            Invisible::Bidi
        }
        '\u{e0000}'..='\u{e007f}' => Invisible::TagCharacter,
        _ => return None,
    })
}

/// Whether a character is invisible in any way.
pub(crate) fn is_ignorable(c: char) -> bool {
    classify(c).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_each_named_range() {
        for c in ['\u{200b}', '\u{200c}', '\u{200d}', '\u{2060}', '\u{feff}'] {
            assert_eq!(classify(c), Some(Invisible::ZeroWidth), "{:04x}", c as u32);
        }
        for c in [
            '\u{202a}', '\u{202e}', '\u{2066}', '\u{2069}', '\u{200e}', '\u{200f}', '\u{61c}',
        ] {
            assert_eq!(classify(c), Some(Invisible::Bidi), "{:04x}", c as u32);
        }
        for c in ['\u{e0000}', '\u{e0041}', '\u{e007f}'] {
            assert_eq!(classify(c), Some(Invisible::TagCharacter));
        }
        for c in ['\u{0}', '\u{1b}', '\r', '\u{7f}', '\u{85}', '\u{9f}'] {
            assert_eq!(classify(c), Some(Invisible::Control), "{:04x}", c as u32);
        }
        assert_eq!(classify('\u{ad}'), Some(Invisible::SoftHyphen));
    }

    #[test]
    fn visible_characters_pass() {
        for c in [
            '\n', '\t', ' ', 'a', 'é', '中', '\u{a0}', '👀', '\u{fe0f}', '\u{2028}',
        ] {
            assert_eq!(classify(c), None, "{:04x}", c as u32);
        }
    }
}
