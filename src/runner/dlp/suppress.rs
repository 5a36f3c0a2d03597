//! Suppressions an agent could write to silence a secret scanner: inline markers
//! (`gitleaks:allow`, `trufflehog:ignore`, `nosec`, `pragma: allowlist secret`, …) and ignore or
//! baseline files. ade obeys none of them, since the agent is the party being checked, and
//! lists each one it sees so a reviewer knows the agent tried.

use regex::Regex;

/// Files that tell a scanner what to skip, by name anywhere in the tree.
const FILES: &[&str] = &[
    ".gitleaksignore",
    ".gitleaks.toml",
    "gitleaks.toml",
    ".trufflehogignore",
    ".secrets.baseline",
    ".gitguardian.yaml",
    ".gitguardian.yml",
    ".ggignore",
];

/// Finds inline markers.
pub(super) struct Markers {
    pattern: Regex,
}

impl Markers {
    /// Compiles the marker pattern.
    pub(super) fn new() -> Markers {
        // ASCII only (`-u`): the markers are ASCII, and Unicode word boundaries would make
        // every line of non-ASCII text take the slow path.
        let pattern = r"(?i-u)gitleaks:allow|trufflehog:(?:ignore|allow)|pragma:\s*allowlist(?:[ \t]+nextline)?[ \t]+secret|detect-secrets:\s*(?:allow|ignore)|ggshield:\s*ignore|\bggignore\b|\bnosec\b|\bnosemgrep\b|devskim:\s*ignore|\bnoqa\s*:\s*S10[5-7]|secret[_\-]?scan(?:ning|ner)?:\s*(?:allow|ignore|skip)|\bdlp:\s*(?:allow|ignore|skip)|\bade:\s*(?:allow|ignore|skip)";
        Markers {
            pattern: Regex::new(pattern).expect("the marker pattern compiles"),
        }
    }

    /// The markers in `text`, as written.
    pub(super) fn find<'t>(&self, text: &'t str) -> impl Iterator<Item = &'t str> + use<'_, 't> {
        self.pattern.find_iter(text).map(|m| m.as_str())
    }
}

/// Whether `path` is a scanner's ignore or baseline file.
pub(super) fn is_suppression_file(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
    FILES.contains(&name.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scanners_marker_is_recognized() {
        let markers = Markers::new();
        for line in [
            "key = \"x\" # gitleaks:allow",
            "key = \"x\" // trufflehog:ignore",
            "password = \"x\"  # nosec B105",
            "secret = 'x'  # pragma: allowlist secret",
            "# pragma: allowlist nextline secret",
            "token = 'x'  # noqa: S105",
            "x = 1 # NOSEC",
            "x = 1 # ggignore",
        ] {
            assert_eq!(markers.find(line).count(), 1, "{line}");
        }
    }

    #[test]
    fn words_that_only_contain_a_marker_are_not_markers() {
        let markers = Markers::new();
        for line in ["nosecurity = true", "casenosec", "the gitleaks docs"] {
            assert_eq!(markers.find(line).count(), 0, "{line}");
        }
    }

    #[test]
    fn ignore_files_are_known_anywhere_in_the_tree() {
        assert!(is_suppression_file(".gitleaksignore"));
        assert!(is_suppression_file("sub/dir/.trufflehogignore"));
        assert!(is_suppression_file(".secrets.baseline"));
        assert!(!is_suppression_file(".gitignore"));
    }
}
