//! The DLP scanner against golden examples: every built-in detector fires on its positive examples
//! (tests/golden/dlp/positive/<rule>.txt) and no rule fires on the negatives; no report shows a
//! secret; suppressions are ignored and listed; commit messages are scanned.
//!
//! Examples hold `{{kind:N}}` where a credential's random part goes; it is filled at test time
//! from a seeded generator, so the repository holds nothing that looks like a live credential and
//! every run scans the same text.
//!
//! `runner_dlp/unread.rs`: what DLP cannot read (binary files, content past its caps), read back
//! through real git, blocks the push with a reason.

#[path = "runner_dlp/unread.rs"]
mod unread;
#[allow(dead_code)]
#[path = "runner_git/world.rs"]
mod world;

use std::fs;
use std::path::{Path, PathBuf};

use ade::policy::DlpPattern;
use ade::runner::changes::{AddedLines, ChangeKind, ChangedFile, Changes, FileMode};
use ade::runner::dlp::{Dlp, DlpReport};

/// One example, filled in.
struct Example {
    /// The fixture file and block, for messages.
    name: String,
    /// The path it is scanned as.
    path: String,
    /// Its lines.
    text: String,
    /// The random parts filled in: a report must show none of them.
    secrets: Vec<String>,
}

fn golden(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/dlp")
        .join(kind)
}

/// A small deterministic generator (xorshift64*), seeded per example.
struct Random(u64);

impl Random {
    fn seeded(name: &str) -> Random {
        let seed = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        Random(seed | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn string(&mut self, alphabet: &[u8], len: usize) -> String {
        (0..len)
            .map(|_| {
                let i = usize::try_from(self.next() >> 33).unwrap() % alphabet.len();
                char::from(alphabet[i])
            })
            .collect()
    }
}

/// The alphabet of a `{{kind:N}}` slot.
fn alphabet(kind: &str) -> &'static [u8] {
    match kind {
        "alnum" => b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
        "upper" => b"ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        "awsid" => b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567",
        "hex" => b"0123456789abcdef",
        "b64" => b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
        "b64url" => b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
        "num" => b"0123456789",
        other => panic!("unknown slot kind {other}"),
    }
}

/// `text` with every `{{kind:N}}` slot filled; anything else in braces stays as written.
fn fill(text: &str, random: &mut Random, secrets: &mut Vec<String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let slot = after.find("}}").and_then(|close| {
            let (kind, len) = after[..close].split_once(':')?;
            let len: usize = len.parse().ok()?;
            kind.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
                .then_some((kind, len, close))
        });
        match slot {
            Some((kind, len, close)) => {
                let value = random.string(alphabet(kind), len);
                if len >= 8 {
                    secrets.push(value.clone());
                }
                out.push_str(&value);
                rest = &after[close + 2..];
            }
            None => {
                out.push_str("{{");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The examples of one fixture file.
fn examples(file: &Path) -> Vec<Example> {
    let stem = file.file_stem().unwrap().to_string_lossy().into_owned();
    let content = fs::read_to_string(file).unwrap();
    content
        .split("\n---\n")
        .enumerate()
        .map(|(index, block)| {
            let name = format!("{stem} #{}", index + 1);
            let (path, body) = match block.strip_prefix("# path: ") {
                Some(rest) => {
                    let (path, body) = rest.split_once('\n').unwrap_or((rest, ""));
                    (path.to_owned(), body)
                }
                None => ("src/example.txt".to_owned(), block),
            };
            let mut secrets = Vec::new();
            let text = fill(body, &mut Random::seeded(&name), &mut secrets);
            Example {
                name,
                path,
                text,
                secrets,
            }
        })
        .collect()
}

/// Every fixture of a kind, by rule name.
fn fixtures(kind: &str) -> Vec<(String, Vec<Example>)> {
    let mut files: Vec<PathBuf> = fs::read_dir(golden(kind))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no fixtures under {kind}");
    files
        .iter()
        .map(|f| {
            let rule = f.file_stem().unwrap().to_string_lossy().into_owned();
            (rule, examples(f))
        })
        .collect()
}

/// The change a run would make by adding `example` as a new file.
fn change(example: &Example) -> Changes {
    Changes {
        files: vec![ChangedFile {
            path: example.path.clone(),
            change: ChangeKind::Added,
            mode: FileMode::Regular,
        }],
        added: vec![AddedLines {
            path: example.path.clone(),
            lines: example
                .text
                .lines()
                .enumerate()
                .map(|(i, l)| (u32::try_from(i + 1).unwrap(), l.to_owned()))
                .collect(),
        }],
        messages: vec!["Add the example".to_owned()],
        unread: vec![],
    }
}

/// Every way a report is shown or logged.
fn renderings(report: &DlpReport) -> String {
    format!("{report:?}\n{report}\n{}", report.markdown())
}

fn dlp() -> Dlp {
    Dlp::new(&[]).unwrap()
}

#[test]
fn every_detector_fires_on_each_of_its_positive_examples() {
    let dlp = dlp();
    let mut count = 0;
    for (rule, examples) in fixtures("positive") {
        for example in examples {
            let report = dlp.scan_changes(&change(&example));
            assert!(
                report.blocks(),
                "{}: nothing found in\n{}",
                example.name,
                example.text
            );
            assert!(
                report.findings.iter().any(|f| f.rule == rule),
                "{}: {rule} did not fire, found {:?}",
                example.name,
                report.findings
            );
            assert!(report.findings.iter().all(|f| f.place == example.path));
            count += 1;
        }
    }
    assert!(count >= 40, "only {count} positive examples");
}

#[test]
fn every_built_in_detector_has_positive_examples() {
    let rules: Vec<String> = fixtures("positive").into_iter().map(|(r, _)| r).collect();
    for rule in [
        "private-key",
        "gcp-service-account-key",
        "aws-access-key-id",
        "aws-secret-access-key",
        "github-personal-access-token",
        "github-oauth-token",
        "github-user-token",
        "github-installation-token",
        "github-refresh-token",
        "github-fine-grained-token",
        "gitlab-token",
        "slack-token",
        "stripe-live-key",
        "google-api-key",
        "openai-project-key",
        "openai-key",
        "anthropic-key",
        "npm-token",
        "pypi-token",
        "jwt",
        "authorization-header",
        "secret-assignment",
    ] {
        assert!(rules.iter().any(|r| r == rule), "no examples for {rule}");
    }
}

#[test]
fn no_rule_fires_on_the_negative_examples() {
    let dlp = dlp();
    let mut count = 0;
    for (fixture, examples) in fixtures("negative") {
        for example in examples {
            let report = dlp.scan_changes(&change(&example));
            assert!(
                report.findings.is_empty(),
                "{}: {:?}\n{}",
                example.name,
                report.findings,
                example.text
            );
            // Posted text has no path, so it is never a lock file.
            if fixture != "lock-files" {
                assert!(
                    dlp.scan_text("pull request body", &example.text).is_empty(),
                    "{}",
                    example.name
                );
            }
            count += 1;
        }
    }
    assert!(count >= 20, "only {count} negative examples");
}

#[test]
fn no_report_shows_a_secret() {
    let dlp = dlp();
    for (_, examples) in fixtures("positive") {
        for example in examples {
            let report = dlp.scan_changes(&change(&example));
            let shown = renderings(&report);
            for secret in &example.secrets {
                assert!(
                    !shown.contains(secret.as_str()),
                    "{}: the report shows {secret}:\n{shown}",
                    example.name
                );
            }
            let findings = dlp.scan_text("comment", &example.text);
            let shown = format!("{findings:?}");
            for secret in &example.secrets {
                assert!(!shown.contains(secret.as_str()), "{}", example.name);
            }
        }
    }
}

#[test]
fn a_key_in_a_commit_message_is_caught() {
    let dlp = dlp();
    for (rule, examples) in fixtures("positive") {
        for example in examples {
            let changes = Changes {
                messages: vec![
                    "Set up the project".to_owned(),
                    format!("Add the config\n\n{}", example.text),
                ],
                ..Changes::default()
            };
            let report = dlp.scan_changes(&changes);
            assert!(
                report
                    .findings
                    .iter()
                    .any(|f| f.rule == rule && f.place == "commit message 2"),
                "{}: {:?}",
                example.name,
                report.findings
            );
        }
    }
}

#[test]
fn text_about_to_be_posted_is_scanned() {
    let dlp = dlp();
    for (rule, examples) in fixtures("positive") {
        for example in examples {
            let findings = dlp.scan_text("run summary", &example.text);
            assert!(
                findings
                    .iter()
                    .any(|f| f.rule == rule && f.place == "run summary"),
                "{}",
                example.name
            );
        }
    }
}

#[test]
fn suppressions_are_ignored_and_flagged() {
    let dlp = dlp();
    let (_, examples) = fixtures("positive")
        .into_iter()
        .find(|(rule, _)| rule == "github-personal-access-token")
        .unwrap();
    let example = &examples[0];
    for marker in [
        "# gitleaks:allow",
        "# trufflehog:ignore",
        "# nosec",
        "# pragma: allowlist secret",
    ] {
        let mut changes = change(example);
        changes.added[0].lines[0].1.push_str(&format!("  {marker}"));
        let report = dlp.scan_changes(&changes);
        assert!(report.blocks(), "{marker} silenced the scan");
        assert_eq!(report.suppressions.len(), 1, "{marker}");
        assert_eq!(report.suppressions[0].marker, marker[2..]);
        assert!(report.markdown().contains("Scanner suppressions"));
    }
    let mut changes = change(example);
    for ignore in [".gitleaksignore", ".trufflehogignore"] {
        changes.files.push(ChangedFile {
            path: ignore.to_owned(),
            change: ChangeKind::Added,
            mode: FileMode::Regular,
        });
        changes.added.push(AddedLines {
            path: ignore.to_owned(),
            lines: vec![(1, format!("{}:generic-api-key:1", example.path))],
        });
    }
    let report = dlp.scan_changes(&changes);
    assert!(report.blocks());
    let places: Vec<&str> = report
        .suppressions
        .iter()
        .map(|s| s.place.as_str())
        .collect();
    assert_eq!(places, [".gitleaksignore", ".trufflehogignore"]);
}

#[test]
fn policy_rules_fire_beside_the_built_in_ones() {
    let dlp = Dlp::new(&[DlpPattern {
        name: "internal-hosts".to_owned(),
        pattern: r"[a-z0-9-]+\.internal\.corp".to_owned(),
    }])
    .unwrap();
    let findings = dlp.scan_text("comment", "deployed to db-1.internal.corp today");
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].rule, "internal-hosts");
    assert!(!format!("{findings:?}").contains("db-1.internal.corp"));
}

#[test]
fn the_rendered_report_matches_its_golden_file() {
    let dlp = dlp();
    let mut changes = Changes::default();
    for (_, examples) in fixtures("positive") {
        let example = examples.into_iter().next().unwrap();
        let mut one = change(&example);
        changes.files.append(&mut one.files);
        changes.added.append(&mut one.added);
    }
    changes.messages = vec!["Add examples  # gitleaks:allow".to_owned()];
    let report = dlp.scan_changes(&changes);
    let rendered = report.markdown();
    let expected_path = golden("report.expected.md");
    let expected = fs::read_to_string(&expected_path).unwrap_or_default();
    if expected != rendered && std::env::var_os("ADE_UPDATE_GOLDEN").is_some() {
        fs::write(&expected_path, &rendered).unwrap();
        return;
    }
    assert_eq!(
        rendered, expected,
        "tests/golden/dlp/report.expected.md differs (ADE_UPDATE_GOLDEN=1 rewrites it)"
    );
}
