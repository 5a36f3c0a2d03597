//! The names of stored secrets: a letter or `_`, then up to 63 letters, digits and `_`, the shape
//! of an environment variable name, so a name is safe in a message, a command line and a table.

/// The longest name.
pub const MAX_NAME_CHARS: usize = 64;

/// Checks a stored secret's name; the error says what a name may be (and shows the name only
/// when it is printable and short).
pub fn check(name: &str) -> Result<(), String> {
    let well_formed = !name.is_empty()
        && name.len() <= MAX_NAME_CHARS
        && name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if well_formed {
        return Ok(());
    }
    let shown = if name.len() <= 2 * MAX_NAME_CHARS && !name.chars().any(char::is_control) {
        format!("{name:?}")
    } else {
        "this name".to_owned()
    };
    Err(format!(
        "{shown} is not a secret name: a letter or _, then letters, digits and _, at most \
         {MAX_NAME_CHARS} in all (ANTHROPIC_API_KEY)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_variable_shaped() {
        for good in ["A", "_", "ANTHROPIC_API_KEY", "key_2", &"K".repeat(64)] {
            assert_eq!(check(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "2KEY",
            "A-B",
            "A B",
            "Ä",
            "a.b",
            "x\n",
            &"K".repeat(65),
            "$(id)",
        ] {
            let err = check(bad).unwrap_err();
            assert!(err.contains("is not a secret name"), "{bad:?}: {err}");
        }
        assert!(check("x\n").unwrap_err().starts_with("this name"));
    }
}
