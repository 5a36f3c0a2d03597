//! The sanitizer (`ade::command::sanitize`) on any text. Properties:
//! - the output holds none of the characters the sanitizer promises to remove (C0 and C1
//!   controls but line feed and tab, carriage returns, bidi controls, zero-width characters,
//!   tag characters, soft hyphens);
//! - it is idempotent, and a second pass finds nothing more to remove;
//! - text it reports nothing removed from comes out as it went in, up to line endings and the
//!   spacing and quoting of the HTML tags it writes canonically (`</b >` becomes `</b>`).
#![no_main]

use ade::command::sanitize;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let once = sanitize(text);
    if let Some(c) = once.text.chars().find(|c| hidden(*c)) {
        panic!("U+{:04X} left in {:?}", c as u32, once.text);
    }
    let twice = sanitize(&once.text);
    assert_eq!(twice.text, once.text, "not idempotent");
    assert_eq!(
        twice.removed.total(),
        0,
        "second pass removed {}",
        twice.removed
    );
    if once.removed.total() == 0 {
        assert_eq!(
            shape(&once.text),
            shape(text),
            "changed {text:?} into {:?} while reporting nothing removed",
            once.text
        );
    }
});

/// Text without whitespace and quotes: what stays of it when tags are written canonically.
fn shape(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '"' | '\''))
        .collect()
}

/// The characters the sanitizer's documentation says never reach a prompt, written out again
/// here rather than taken from ade, so the target checks the promise and not the list.
fn hidden(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{8}' | '\u{b}'..='\u{1f}' | '\u{7f}'..='\u{9f}'
        | '\u{ad}'
        | '\u{200b}'..='\u{200f}'
        | '\u{202a}'..='\u{202e}'
        | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{2069}'
        | '\u{61c}'
        | '\u{feff}'
        | '\u{e0000}'..='\u{e007f}'
    )
}
