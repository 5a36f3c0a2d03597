//! The doctor's findings and how they print: lines for people, or one JSON document whose shape
//! scripts may rely on (docs/doctor.md).

use crate::command::sanitize;
use crate::forge::{ForgeError, ForgeKind};
use serde::Serialize;
use std::fmt::Write as _;

/// How a finding stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// As it should be.
    Ok,
    /// Works, but weaker or less certain than it should be.
    Warning,
    /// Breaks ade or the review gate until fixed.
    Problem,
}

impl Status {
    fn word(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warning => "warning",
            Status::Problem => "problem",
        }
    }
}

/// One thing the doctor found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Which check (`credentials`, `webhook.url`, `protection.approvals`, `agent.NAME`, …).
    pub check: String,
    /// How it stands.
    pub status: Status,
    /// What was found, one line.
    pub message: String,
    /// How to fix it; `None` when nothing needs fixing.
    pub fix: Option<String>,
}

impl Finding {
    /// Nothing to fix.
    pub fn ok(check: &str, message: impl Into<String>) -> Finding {
        Finding {
            check: check.to_owned(),
            status: Status::Ok,
            message: message.into(),
            fix: None,
        }
    }

    /// Worth fixing.
    pub fn warning(check: &str, message: impl Into<String>, fix: impl Into<String>) -> Finding {
        Finding {
            check: check.to_owned(),
            status: Status::Warning,
            message: message.into(),
            fix: Some(fix.into()),
        }
    }

    /// Must be fixed.
    pub fn problem(check: &str, message: impl Into<String>, fix: impl Into<String>) -> Finding {
        Finding {
            check: check.to_owned(),
            status: Status::Problem,
            message: message.into(),
            fix: Some(fix.into()),
        }
    }
}

/// Everything found about one repository.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The repository as given.
    pub repository: String,
    /// The forge examined.
    pub forge: ForgeKind,
    /// The findings, in the order the checks ran.
    pub findings: Vec<Finding>,
}

/// How to print a report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Aligned lines for people.
    Text,
    /// One JSON document.
    Json,
}

impl Report {
    /// An empty report.
    pub fn new(repository: &str, forge: ForgeKind) -> Report {
        Report {
            repository: one_line(repository, 200),
            forge,
            findings: Vec::new(),
        }
    }

    /// Adds a finding.
    pub fn push(&mut self, finding: Finding) {
        self.findings.push(finding);
    }

    /// Whether any finding is a problem: `ade doctor` then exits non-zero.
    pub fn has_problems(&self) -> bool {
        self.findings.iter().any(|f| f.status == Status::Problem)
    }

    fn count(&self, status: Status) -> usize {
        self.findings.iter().filter(|f| f.status == status).count()
    }

    /// The report in `format`, ending with a newline.
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Text => self.text(),
            Format::Json => {
                let summary = serde_json::json!({
                    "ok": self.count(Status::Ok),
                    "warning": self.count(Status::Warning),
                    "problem": self.count(Status::Problem),
                });
                let mut value = serde_json::to_value(self).expect("a report serializes");
                value["summary"] = summary;
                format!("{value:#}\n")
            }
        }
    }

    fn text(&self) -> String {
        let mut out = format!("ade doctor: {} on {}\n", self.repository, self.forge);
        for finding in &self.findings {
            let _ = writeln!(
                out,
                "{:<8} {}: {}",
                finding.status.word(),
                finding.check,
                finding.message
            );
            if let Some(fix) = &finding.fix {
                let _ = writeln!(out, "{:<8}   fix: {fix}", "");
            }
        }
        let _ = writeln!(
            out,
            "{} problem(s), {} warning(s), {} ok",
            self.count(Status::Problem),
            self.count(Status::Warning),
            self.count(Status::Ok)
        );
        out
    }
}

/// Text from the forge or a repository (hostile), made safe for one output line: hidden content
/// removed, tokens masked, whitespace joined, at most `cap` bytes.
pub fn one_line(raw: &str, cap: usize) -> String {
    let text = sanitize(raw).text;
    let mut joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if joined.len() > cap {
        let mut end = cap;
        while !joined.is_char_boundary(end) {
            end -= 1;
        }
        joined.truncate(end);
        joined.push('…');
    }
    joined
}

/// A value from the forge (a URL, an event or check name, a file name) quoted, with anything
/// unprintable escaped, so it cannot pass for ade's own words.
pub fn shown(raw: &str) -> String {
    format!("{:?}", one_line(raw, 300))
}

/// A forge error as one safe line (it carries the forge's own words).
pub fn error_text(error: &ForgeError) -> String {
    one_line(&error.to_string(), 400)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forge_text_is_one_quoted_line_without_hidden_parts() {
        assert_eq!(
            shown("http://x/\nproblem  fake: ok"),
            "\"http://x/ problem fake: ok\""
        );
        assert_eq!(shown("a\u{202e}b\u{200b}c"), "\"abc\"");
        assert!(one_line(&"x".repeat(50), 10).ends_with('…'));
    }

    #[test]
    fn problems_decide_the_exit_and_json_keeps_its_shape() {
        let mut report = Report::new("acme/widgets", ForgeKind::Github);
        report.push(Finding::ok("credentials", "fine"));
        report.push(Finding::warning("workflows", "hmm", "look"));
        assert!(!report.has_problems());
        report.push(Finding::problem("protection", "none", "protect it"));
        assert!(report.has_problems());
        let json: serde_json::Value = serde_json::from_str(&report.render(Format::Json)).unwrap();
        assert_eq!(json["findings"][0]["status"], "ok");
        assert_eq!(json["findings"][0]["fix"], serde_json::Value::Null);
        assert_eq!(json["findings"][2]["fix"], "protect it");
        assert_eq!(json["summary"]["problem"], 1);
        assert_eq!(json["forge"], "github");
        let text = report.render(Format::Text);
        assert!(text.contains("problem  protection: none\n"), "{text}");
        assert!(text.contains("fix: protect it"), "{text}");
    }
}
