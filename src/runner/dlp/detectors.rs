//! The built-in detectors: known credential formats, matched on one line (or one window of a long
//! line) at a time. Every pattern runs on the `regex` crate, whose matching is linear in the input
//! whatever the pattern, so a hostile line cannot make a scan slow.

use regex::Regex;

use super::assignment::{self, longest_run};
use super::hit::Hit;
use crate::command::github_token_len;

/// How a detector matches.
enum Matcher {
    /// A pattern; capture group 1, where it matched, is the secret, else the whole match.
    Pattern(Regex),
    /// GitHub's formats, read by the same code that masks them in issue text.
    GitHub,
}

/// One built-in detector.
pub(super) struct Detector {
    name: &'static str,
    matcher: Matcher,
    /// Characters of the secret shown in previews: its format's prefix, never random text.
    shown: usize,
    /// Whether a match is a credential and not an example or a placeholder.
    plausible: fn(&str) -> bool,
}

/// The name of the PEM private key rule; its secret spans lines and is completed by the caller.
pub(super) const PRIVATE_KEY: &str = "private-key";

impl Detector {
    /// Every built-in detector, the most specific first: where two match the same text, the
    /// first one's name is reported.
    pub(super) fn builtin() -> Vec<Detector> {
        let pattern = |name, re: &str, shown, plausible| Detector {
            name,
            matcher: Matcher::Pattern(Regex::new(re).expect("built-in patterns compile")),
            shown,
            plausible,
        };
        vec![
            pattern(
                "gcp-service-account-key",
                r#""private_key"\s*:\s*"(-----BEGIN [A-Z ]*PRIVATE KEY-----[^"]*)"#,
                0,
                any,
            ),
            pattern(
                PRIVATE_KEY,
                r"-----BEGIN (?:(?:RSA|EC|DSA|OPENSSH|ENCRYPTED|PGP) )?PRIVATE KEY(?: BLOCK)?-----",
                0,
                any,
            ),
            Detector {
                name: "github-token",
                matcher: Matcher::GitHub,
                shown: 4,
                plausible: not_placeholder,
            },
            pattern(
                "aws-access-key-id",
                r"(?-u:\b)((?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})(?-u:\b)",
                4,
                not_placeholder,
            ),
            pattern(
                "aws-secret-access-key",
                r#"(?i-u:aws[_.\-]?secret[_.\-]?(?:access[_.\-]?)?key|secret[_.\-]?access[_.\-]?key)["'`]?\s*(?::=|=>|=|:)\s*["'`]?([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)"#,
                0,
                not_placeholder,
            ),
            pattern(
                "gitlab-token",
                r"(?-u:\b)(glpat-[A-Za-z0-9_\-]{20,})",
                6,
                not_placeholder,
            ),
            pattern(
                "slack-token",
                r"(?-u:\b)(xox[abeoprs]-[A-Za-z0-9\-]{10,})",
                5,
                not_placeholder,
            ),
            pattern(
                "stripe-live-key",
                r"(?-u:\b)((?:sk|rk)_live_[A-Za-z0-9]{20,})",
                8,
                not_placeholder,
            ),
            pattern(
                "google-api-key",
                r"(?-u:\b)(AIza[A-Za-z0-9_\-]{35})",
                4,
                not_placeholder,
            ),
            pattern(
                "anthropic-key",
                r"(?-u:\b)(sk-ant-[A-Za-z0-9_\-]{32,})",
                7,
                not_placeholder,
            ),
            pattern(
                "openai-project-key",
                r"(?-u:\b)(sk-proj-[A-Za-z0-9_\-]{32,})",
                8,
                not_placeholder,
            ),
            pattern(
                "openai-key",
                r"(?-u:\b)(sk-(?:svcacct-|admin-)?[A-Za-z0-9]{20,}(?:T3BlbkFJ[A-Za-z0-9_\-]{16,})?)",
                3,
                not_placeholder,
            ),
            pattern(
                "npm-token",
                r"(?-u:\b)(npm_[A-Za-z0-9]{36})(?-u:\b)",
                4,
                not_placeholder,
            ),
            pattern(
                "pypi-token",
                r"(?-u:\b)(pypi-AgE[A-Za-z0-9_\-]{50,})",
                5,
                not_placeholder,
            ),
            pattern(
                "jwt",
                r"(?-u:\b)(eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{16,})",
                3,
                any,
            ),
            pattern(
                "authorization-header",
                r"(?i-u:\bauthorization)[\x22'`]?\s*[:=]\s*[\x22'`]?(?i-u:bearer|token|basic)\s+([A-Za-z0-9._~+/=\-]{16,})",
                0,
                assignment::plausible,
            ),
        ]
    }

    /// This detector's hits in `text`, appended to `hits`.
    pub(super) fn find(&self, text: &str, hits: &mut Vec<Hit>) {
        match &self.matcher {
            Matcher::Pattern(re) => {
                for caps in re.captures_iter(text) {
                    let Some(m) = caps.get(1).or_else(|| caps.get(0)) else {
                        continue;
                    };
                    if m.is_empty() || !(self.plausible)(m.as_str()) {
                        continue;
                    }
                    hits.push(Hit {
                        rule: self.name.to_owned(),
                        start: m.start(),
                        end: m.end(),
                        secret: m.as_str().to_owned(),
                        shown: self.shown,
                    });
                }
            }
            Matcher::GitHub => find_github(text, self.plausible, hits),
        }
    }
}

/// GitHub tokens in `text`, named by their kind.
fn find_github(text: &str, plausible: fn(&str) -> bool, hits: &mut Vec<Hit>) {
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(offset) = bytes[i..].iter().position(|b| *b == b'g') {
        let at = i + offset;
        let Some(len) = github_token_len(&bytes[at..]) else {
            i = at + 1;
            continue;
        };
        // Every byte of a token is ASCII, so the span is on character boundaries.
        let secret = &text[at..at + len];
        i = at + len;
        if !plausible(secret) {
            continue;
        }
        let (rule, shown) = match &secret[..4] {
            "ghp_" => ("github-personal-access-token", 4),
            "gho_" => ("github-oauth-token", 4),
            "ghu_" => ("github-user-token", 4),
            "ghs_" => ("github-installation-token", 4),
            "ghr_" => ("github-refresh-token", 4),
            _ => ("github-fine-grained-token", 11),
        };
        hits.push(Hit {
            rule: rule.to_owned(),
            start: at,
            end: at + len,
            secret: secret.to_owned(),
            shown,
        });
    }
}

/// Accepts every match.
fn any(_: &str) -> bool {
    true
}

/// Whether a token-shaped match is not an obvious example: vendors' documented samples say
/// `EXAMPLE`, and placeholders repeat one character (`ghp_xxxx…`).
pub(super) fn not_placeholder(secret: &str) -> bool {
    !secret.to_ascii_lowercase().contains("example") && longest_run(secret) < 6
}
