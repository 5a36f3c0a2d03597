//! The policy checker (`ade::policy::check_str`) on any text, and on what it accepts, the merge
//! with the server's built-in policy (`ade::policy::effective`) and the not-acted-on warnings.
//! Properties:
//! - it returns a policy or at least one diagnostic, never panics;
//! - every diagnostic names the file it was given, says something, and points, when it points,
//!   at a line and column inside the text; the list is ordered by position.
#![no_main]

use ade::policy::{PolicyDiagnostic, ServerPolicy, check_str, effective, warnings};
use libfuzzer_sys::fuzz_target;

const SOURCE: &str = ".ade/config.toml";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match check_str(text, SOURCE) {
        Ok(policy) => {
            check_diagnostics(text, &warnings(&policy), false);
            if let Err(diagnostics) = effective(&ServerPolicy::default(), &policy) {
                check_diagnostics(text, &diagnostics, false);
            }
        }
        Err(diagnostics) => {
            assert!(!diagnostics.is_empty(), "refused without a diagnostic");
            check_diagnostics(text, &diagnostics, true);
        }
    }
});

fn check_diagnostics(text: &str, diagnostics: &[PolicyDiagnostic], ordered: bool) {
    let lines: Vec<&str> = text.split('\n').collect();
    for d in diagnostics {
        assert_eq!(d.source, SOURCE);
        assert!(!d.message.is_empty(), "{d:?}");
        if let Some(position) = d.position {
            assert!(
                (1..=lines.len()).contains(&position.line),
                "line {} of {}: {d}",
                position.line,
                lines.len()
            );
            let columns = lines[position.line - 1].chars().count() + 1;
            assert!(
                (1..=columns).contains(&position.column),
                "column {} of {columns}: {d}",
                position.column
            );
        }
    }
    if ordered {
        assert!(
            diagnostics
                .windows(2)
                .all(|w| w[0].position <= w[1].position),
            "not ordered by position"
        );
    }
}
