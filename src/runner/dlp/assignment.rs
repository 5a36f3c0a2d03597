//! Secrets without a known format: a value assigned to a secret-like name (`password`, `token`,
//! `api_key`, `client_secret`, …) in code, `.env`, YAML, JSON or TOML, that looks random enough.
//!
//! "Random enough" is Shannon entropy per character over a threshold that grows with the length
//! (a short string cannot reach the entropy of a long one), at least [`MIN_LEN`] characters, a
//! letter and a digit. Values that are references, not secrets, are let through: placeholders
//! (`changeme`, `xxxxx`, `${VAR}`, `{{ … }}`, `<…>`), UUIDs, `sha512-…` integrity strings, dotted
//! names (`settings.API_TOKEN`), file paths, and anything in a generated lock file, where commit
//! ids and hashes sit beside names like `token`.

use regex::Regex;

use super::hit::Hit;

/// The name of the rule for high-entropy values assigned to secret-like names.
pub(super) const ASSIGNMENT: &str = "secret-assignment";

/// Shortest value taken for a secret.
pub(super) const MIN_LEN: usize = 12;

/// Longest value taken for a secret; longer ones are data, not credentials.
const MAX_LEN: usize = 512;

/// Entropy, in bits per character, that a long value must reach.
const THRESHOLD: f64 = 3.5;

/// The same for values of hexadecimal digits only, whose alphabet holds 4 bits at most.
const HEX_THRESHOLD: f64 = 3.0;

/// Lock files: generated, full of hashes and commit ids, never hand-written secrets.
const LOCK_FILES: &[&str] = &[
    "cargo.lock",
    "package-lock.json",
    "npm-shrinkwrap.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "bun.lock",
    "poetry.lock",
    "pipfile.lock",
    "uv.lock",
    "pdm.lock",
    "gemfile.lock",
    "composer.lock",
    "go.sum",
    "flake.lock",
    "mix.lock",
    "podfile.lock",
    "packages.lock.json",
    "gradle.lockfile",
    "pubspec.lock",
    "package.resolved",
];

/// Whether `path` names a generated lock file.
pub(super) fn is_lock_file(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
    LOCK_FILES.contains(&name.as_str())
}

/// The detector of secret-like assignments.
pub(super) struct Assignments {
    pattern: Regex,
}

impl Assignments {
    /// Compiles the pattern.
    pub(super) fn new() -> Assignments {
        // ASCII case folding only (`(?i-u)`): Unicode folding (`K` as the Kelvin sign) would
        // swell the automaton for nothing. What precedes the keyword is not read: `DB_PASSWORD`
        // and `password` are both names of a password.
        let name = r"(?i-u:passw(?:or)?d|passphrase|pwd|secret|token|api[_.\-]?key|apikey|private[_.\-]?key|credentials?|creds|auth|access[_.\-]?key|signing[_.\-]?key|encryption[_.\-]?key)(?i-u:s|[_.\-]?(?:value|str|string))?";
        let value = r#"(?:"(?P<dq>[^"\s]+)"|'(?P<sq>[^'\s]+)'|`(?P<bq>[^`\s]+)`|(?P<bare>[^\s"'`,;#()\[\]{}<>]+))"#;
        let pattern = format!(r#"{name}["'`]?\]?[ \t]*(?::=|=>|=|:)[ \t]*{value}"#);
        Assignments {
            pattern: Regex::new(&pattern).expect("the assignment pattern compiles"),
        }
    }

    /// Secret-looking assignments in `text`.
    pub(super) fn find(&self, text: &str, hits: &mut Vec<Hit>) {
        for caps in self.pattern.captures_iter(text) {
            let Some(value) = ["dq", "sq", "bq", "bare"]
                .iter()
                .find_map(|group| caps.name(group))
            else {
                continue;
            };
            if plausible(value.as_str()) {
                hits.push(Hit {
                    rule: ASSIGNMENT.to_owned(),
                    start: value.start(),
                    end: value.end(),
                    secret: value.as_str().to_owned(),
                    shown: 0,
                });
            }
        }
    }
}

/// Whether `value`, assigned to a secret-like name, is a secret and not a reference to one.
pub(super) fn plausible(value: &str) -> bool {
    let len = value.chars().count();
    (MIN_LEN..=MAX_LEN).contains(&len)
        && !is_placeholder(value)
        && !is_reference(value)
        && value.chars().any(|c| c.is_ascii_alphabetic())
        && value.chars().any(|c| c.is_ascii_digit())
        && entropy(value) >= threshold(value, len)
}

/// The entropy a value of `len` characters must reach.
fn threshold(value: &str, len: usize) -> f64 {
    let most = (len as f64).log2();
    if value.chars().all(|c| c.is_ascii_hexdigit()) {
        HEX_THRESHOLD.min(0.75 * most)
    } else {
        THRESHOLD.min(0.8 * most)
    }
}

/// Shannon entropy in bits per byte.
pub(super) fn entropy(text: &str) -> f64 {
    let mut counts = [0usize; 256];
    for b in text.bytes() {
        counts[usize::from(b)] += 1;
    }
    let len = text.len() as f64;
    counts
        .iter()
        .filter(|n| **n > 0)
        .map(|n| {
            let p = *n as f64 / len;
            -p * p.log2()
        })
        .sum()
}

/// Values that stand for a secret to be filled in.
fn is_placeholder(value: &str) -> bool {
    const WORDS: &[&str] = &[
        "changeme",
        "change_me",
        "change-me",
        "example",
        "placeholder",
        "your_",
        "your-",
        "yourkey",
        "redacted",
        "dummy",
        "replace",
        "insert",
        "xxxx",
        "****",
        "....",
        "<",
        "{{",
        "%(",
    ];
    let lower = value.to_ascii_lowercase();
    value.starts_with('$')
        || value.starts_with('%')
        || value.starts_with('@')
        || WORDS.iter().any(|w| lower.contains(w))
        || longest_run(value) >= 6
}

/// Values that name something else: UUIDs, integrity hashes, dotted names, paths, addresses.
fn is_reference(value: &str) -> bool {
    const FILE_ENDINGS: &[&str] = &[
        ".pem", ".key", ".json", ".txt", ".yaml", ".yml", ".toml", ".p12", ".pfx", ".crt", ".env",
    ];
    let lower = value.to_ascii_lowercase();
    is_uuid(value)
        || ["sha1-", "sha256-", "sha384-", "sha512-"]
            .iter()
            .any(|p| lower.starts_with(p))
        || is_dotted_name(value)
        || ["/", "./", "../", "~/"]
            .iter()
            .any(|p| value.starts_with(p))
        || FILE_ENDINGS.iter().any(|e| lower.ends_with(e))
        || ((lower.starts_with("http://") || lower.starts_with("https://")) && !value.contains('@'))
}

/// `8-4-4-4-12` hexadecimal digits.
fn is_uuid(value: &str) -> bool {
    let groups: Vec<&str> = value.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
}

/// `a.b_c.D`: identifiers joined by dots, as in `settings.api_token` or `env.GITHUB_TOKEN`.
fn is_dotted_name(value: &str) -> bool {
    value.contains('.')
        && value.split('.').all(|part| {
            part.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}

/// The longest run of one repeated character.
pub(super) fn longest_run(text: &str) -> usize {
    let mut longest = 0;
    let mut run = 0;
    let mut previous = None;
    for c in text.chars() {
        run = if Some(c) == previous { run + 1 } else { 1 };
        previous = Some(c);
        longest = longest.max(run);
    }
    longest
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(line: &str) -> Vec<String> {
        let mut hits = Vec::new();
        Assignments::new().find(line, &mut hits);
        hits.into_iter().map(|h| h.secret).collect()
    }

    #[test]
    fn random_values_assigned_to_secret_names_are_found_in_every_syntax() {
        let value = "q8Vx2LmT9rKp4WzN7bYc";
        for line in [
            format!("DB_PASSWORD={value}"),
            format!("export API_KEY=\"{value}\""),
            format!("password: {value}"),
            format!("  \"client_secret\": \"{value}\","),
            format!("auth_token = '{value}'"),
            format!("const apiKey = `{value}`;"),
            format!("token := \"{value}\""),
            format!("'credentials' => '{value}',"),
            format!("config[\"secret\"] = \"{value}\""),
        ] {
            assert_eq!(values(&line), [value], "{line}");
        }
    }

    #[test]
    fn references_and_placeholders_are_not_secrets() {
        for line in [
            "password = os.environ[\"DB_PASSWORD\"]",
            "token: ${{ secrets.GITHUB_TOKEN }}",
            "api_key = \"${API_KEY}\"",
            "password = \"changeme\"",
            "secret = \"xxxxxxxxxxxxxxxxxxxx\"",
            "token = settings.API_TOKEN_2024",
            "auth_token = \"3f2b8c1e-4d5a-4b6c-8e9f-0a1b2c3d4e5f\"",
            "token: sha512-9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "private_key = \"/etc/ssl/private/server2024.pem\"",
            "author = \"Jane Doe 1984\"",
            "password = \"hunter2\"",
            "tokenizer_path = \"models/bert-base-uncased-v2\"",
            "if token == expected_token_2:",
            "secret_name = \"my-app-secret-name\"",
        ] {
            assert!(values(line).is_empty(), "{line}: {:?}", values(line));
        }
    }

    #[test]
    fn lock_files_are_known_by_name_anywhere() {
        assert!(is_lock_file("Cargo.lock"));
        assert!(is_lock_file("web/package-lock.json"));
        assert!(is_lock_file("go.sum"));
        assert!(!is_lock_file("src/lock.rs"));
    }

    #[test]
    fn entropy_of_random_text_is_higher_than_of_words() {
        assert!(entropy("q8Vx2LmT9rKp4WzN7bYc") > 4.0);
        assert!(entropy("passwordpassword") < 3.0);
        assert_eq!(entropy(""), 0.0);
    }
}
