//! Data loss prevention: secrets in what a run would push or what ade is about to post. A run's
//! paths, added lines and commit messages are scanned before the push, and every text ade posts (pull
//! request bodies, comments, run summaries) before it is posted; a finding blocks the push or the
//! post. Findings never carry the secret: a rule name, where, a fingerprint to match findings
//! against each other, and a preview such as `ghp_… (40 chars)`. What a change holds that could
//! not be read (binary files, content past the caps) blocks the push too, unless a maintainer
//! allowed the task to push unscanned content; nothing passes unread and unsaid.
//!
//! Detectors: known credential formats (`detectors.rs`), high-entropy values assigned to
//! secret-like names (`assignment.rs`) and the policy's own rules. Suppressions an agent could
//! write are ignored and listed (`suppress.rs`). docs/dlp.md describes all of it.
//!
//! Every pattern runs on the `regex` crate (linear in the input). A long line is scanned in
//! overlapping windows of [`WINDOW`] bytes, so no single match sees more than that and nothing
//! past a cap goes unread.

mod assignment;
mod detectors;
mod hit;
mod suppress;

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use anyhow::{Context, Result};
use regex::Regex;
use sha2::{Digest, Sha256};

use self::assignment::{Assignments, is_lock_file};
use self::detectors::{Detector, PRIVATE_KEY};
use self::hit::Hit;
use self::suppress::{Markers, is_suppression_file};
use super::changes::{ChangeKind, Changes, FileMode, Unread};
use super::guard::render::{code_span, visible};
use crate::policy::DlpPattern;

/// Bytes of a line one match attempt sees; longer lines are read in windows of this size.
pub const WINDOW: usize = 64 * 1024;

/// How much consecutive windows overlap, more than the longest token format (about 520 bytes),
/// so a token across a window edge is read whole by one of them.
const OVERLAP: usize = 2 * 1024;

/// Lines after a PEM header read as the key's body.
const MAX_KEY_LINES: usize = 200;

/// Bytes of a PEM body read, so a file of headers costs no more than a file of keys.
const MAX_KEY_BYTES: usize = 16 * 1024;

/// Findings kept in one report; past this they are counted, not listed.
pub const MAX_FINDINGS: usize = 500;

/// Unscanned paths kept in one report; past this they are counted, not listed.
pub const MAX_UNSCANNED: usize = 100;

/// A secret found, described without the secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The rule that found it (`github-personal-access-token`, a policy rule's name, …).
    pub rule: String,
    /// Where: a repository path, `commit message`, or the place given to [`Dlp::scan_text`].
    /// Raw text from the change; render it with [`visible`] or [`code_span`].
    pub place: String,
    /// Its line, from 1; 0 when the secret is in the path itself.
    pub line: u32,
    /// The first 8 hexadecimal digits of the SHA-256 of the secret: the same secret gives the
    /// same fingerprint, so a reviewer can match findings without seeing it.
    pub fingerprint: String,
    /// The format's public prefix and the length, as in `ghp_… (40 chars)`.
    pub preview: String,
}

/// An attempt to silence a secret scanner, listed and otherwise ignored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Suppression {
    /// The path or commit message it is in.
    pub place: String,
    /// Its line, from 1; `None` for a whole ignore file.
    pub line: Option<u32>,
    /// The marker as written, or the kind of file.
    pub marker: String,
}

/// What a scan of a run's change found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DlpReport {
    /// The secrets found, at most [`MAX_FINDINGS`].
    pub findings: Vec<Finding>,
    /// Findings past [`MAX_FINDINGS`], counted only.
    pub omitted: usize,
    /// Suppression markers and ignore files in the change, at most [`MAX_FINDINGS`].
    pub suppressions: Vec<Suppression>,
    /// Suppressions past [`MAX_FINDINGS`], counted only.
    pub omitted_suppressions: usize,
    /// What the change holds that no detector read (binary files, content past the caps), at
    /// most [`MAX_UNSCANNED`]; paths holding a secret are shown redacted.
    pub unscanned: Vec<Unread>,
    /// Unscanned paths past [`MAX_UNSCANNED`], counted only.
    pub omitted_unscanned: usize,
    /// Who let the task push unscanned content (`/ade allow-unscanned`), if anyone: then the
    /// unscanned content is listed but does not block.
    pub unscanned_allowed_by: Option<String>,
}

impl DlpReport {
    /// Keeps `finding`, or counts it past the cap.
    fn add(&mut self, finding: Finding) {
        if self.findings.len() < MAX_FINDINGS {
            self.findings.push(finding);
        } else {
            self.omitted += 1;
        }
    }

    /// Whether the change may not be pushed: any finding blocks, whatever suppressions say, and
    /// so does unscanned content unless it was allowed.
    pub fn blocks(&self) -> bool {
        self.finds_secrets() || self.blocks_unscanned()
    }

    /// Whether a secret was found.
    pub fn finds_secrets(&self) -> bool {
        !self.findings.is_empty() || self.omitted > 0
    }

    /// Whether unscanned content blocks the push: there is some, and nobody allowed it.
    pub fn blocks_unscanned(&self) -> bool {
        self.has_unscanned() && self.unscanned_allowed_by.is_none()
    }

    /// Whether the change holds anything no detector read.
    pub fn has_unscanned(&self) -> bool {
        !self.unscanned.is_empty() || self.omitted_unscanned > 0
    }

    /// Lets unscanned content pass, as `by` allowed for the task; secrets still block.
    pub fn allow_unscanned(&mut self, by: &str) {
        self.unscanned_allowed_by = Some(by.to_owned());
    }

    /// Lists `unread`, or counts it past the cap.
    fn add_unscanned(&mut self, unread: Unread) {
        if self.unscanned.len() < MAX_UNSCANNED {
            self.unscanned.push(unread);
        } else {
            self.omitted_unscanned += 1;
        }
    }

    /// The report as Markdown for the run report: each finding with its rule, place, line,
    /// fingerprint and preview, then the suppressions; paths are shown as escaped code spans.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let findings = self.findings.iter().map(|f| f.line(code_span));
        let blocked = "**Secrets found** (the push is blocked):";
        markdown_list(&mut out, blocked, findings, self.omitted);
        let unscanned = self
            .unscanned
            .iter()
            .map(|u| format!("{}: {}", code_span(&u.path), u.why.describe()));
        let title = match &self.unscanned_allowed_by {
            None => {
                "**Not scanned** (ade could not read these, so the push is blocked):".to_owned()
            }
            Some(by) => format!(
                "**Not scanned** (pushed unread: {} allowed it for this task):",
                code_span(by)
            ),
        };
        markdown_list(&mut out, &title, unscanned, self.omitted_unscanned);
        let suppressions = self.suppressions.iter().map(|s| match s.line {
            Some(line) => format!(
                "{} in {} line {line}",
                code_span(&s.marker),
                code_span(&s.place)
            ),
            None => format!("{} ({})", code_span(&s.place), visible(&s.marker)),
        });
        let ignored = "**Scanner suppressions** (ignored by ade):";
        markdown_list(&mut out, ignored, suppressions, self.omitted_suppressions);
        out
    }
}

/// Appends a titled Markdown list to `out`, a blank line after what is there, with "and N more"
/// for the items left out; nothing when there is nothing to list.
fn markdown_list(
    out: &mut String,
    title: &str,
    items: impl ExactSizeIterator<Item = String>,
    omitted: usize,
) {
    if items.len() == 0 {
        return;
    }
    if !out.is_empty() {
        out.push('\n');
    }
    out.push_str(title);
    out.push_str("\n\n");
    for item in items {
        out.push_str(&format!("- {item}\n"));
    }
    if omitted > 0 {
        out.push_str(&format!("- and {omitted} more\n"));
    }
}

impl Finding {
    /// `rule in place line N: preview, fingerprint abcd1234`, each value rendered by `show`:
    /// code spans in the Markdown report, [`visible`] text in plain lines.
    fn line(&self, show: fn(&str) -> String) -> String {
        format!(
            "{} in {} line {}: {}, fingerprint {}",
            show(&self.rule),
            show(&self.place),
            self.line,
            show(&self.preview),
            show(&self.fingerprint)
        )
    }
}

impl fmt::Display for Finding {
    /// One plain line: `rule in place line N: preview, fingerprint abcd1234`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.line(visible))
    }
}

impl fmt::Display for DlpReport {
    /// The plain-text report, one finding or suppression a line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for finding in &self.findings {
            writeln!(f, "secret: {finding}")?;
        }
        if self.omitted > 0 {
            writeln!(f, "secret: and {} more", self.omitted)?;
        }
        for u in &self.unscanned {
            writeln!(f, "unscanned: {}: {}", visible(&u.path), u.why.describe())?;
        }
        if self.omitted_unscanned > 0 {
            writeln!(f, "unscanned: and {} more", self.omitted_unscanned)?;
        }
        for s in &self.suppressions {
            match s.line {
                Some(line) => writeln!(
                    f,
                    "suppression ignored: {} in {} line {line}",
                    visible(&s.marker),
                    visible(&s.place)
                )?,
                None => writeln!(
                    f,
                    "suppression ignored: {} ({})",
                    visible(&s.place),
                    visible(&s.marker)
                )?,
            }
        }
        if self.omitted_suppressions > 0 {
            writeln!(
                f,
                "suppression ignored: and {} more",
                self.omitted_suppressions
            )?;
        }
        Ok(())
    }
}

/// The scanner: the built-in detectors and the policy's rules, compiled once per policy.
pub struct Dlp {
    detectors: Vec<Detector>,
    assignments: Assignments,
    rules: Vec<(String, Regex)>,
    markers: Markers,
}

impl Dlp {
    /// A scanner with the built-in detectors and `extra`, the policy's rules (`dlp_rules`). A rule
    /// with a capture group takes group 1 as the secret, else the whole match.
    pub fn new(extra: &[DlpPattern]) -> Result<Dlp> {
        let rules = extra
            .iter()
            .map(|rule| {
                let re = Regex::new(&rule.pattern)
                    .with_context(|| format!("DLP rule `{}` does not compile", rule.name))?;
                Ok((rule.name.clone(), re))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Dlp {
            detectors: Detector::builtin(),
            assignments: Assignments::new(),
            rules,
            markers: Markers::new(),
        })
    }

    /// Scans a run's change: every path (a secret can be a file name), every symlink target,
    /// every added line, every commit message, and the paths for scanner ignore files; and lists
    /// what the change holds that was not read ([`Changes::unread`]). A path holding a secret is a
    /// finding on line 0 and is shown with the secret replaced, wherever the report names it.
    pub fn scan_changes(&self, changes: &Changes) -> DlpReport {
        let mut report = DlpReport::default();
        let mut places: HashMap<&str, String> = HashMap::new();
        for file in &changes.files {
            let hits = self.scan_line(&file.path, false);
            if !hits.is_empty() {
                let place = replace_hits(&file.path, &hits);
                for hit in &hits {
                    report.add(finding(&place, 0, hit));
                }
                places.insert(&file.path, place);
            }
        }
        let place_of = |path: &str| places.get(path).cloned().unwrap_or_else(|| path.to_owned());
        for unread in &changes.unread {
            report.add_unscanned(Unread {
                path: place_of(&unread.path),
                why: unread.why,
            });
        }
        for file in &changes.files {
            if file.change != ChangeKind::Deleted && is_suppression_file(&file.path) {
                report.suppressions.push(Suppression {
                    place: place_of(&file.path),
                    line: None,
                    marker: "scanner ignore file".to_owned(),
                });
            }
        }
        for file in &changes.files {
            if let FileMode::Symlink { target } = &file.mode
                && file.change != ChangeKind::Deleted
            {
                let place = format!("{} (symlink target)", place_of(&file.path));
                self.scan_lines(&place, &[(1, target)], false, &mut report);
            }
        }
        for added in &changes.added {
            let lines: Vec<(u32, &str)> =
                added.lines.iter().map(|(n, l)| (*n, l.as_str())).collect();
            let place = place_of(&added.path);
            self.scan_lines(&place, &lines, is_lock_file(&added.path), &mut report);
        }
        let count = changes.messages.len();
        for (index, message) in changes.messages.iter().enumerate() {
            let place = if count == 1 {
                "commit message".to_owned()
            } else {
                format!("commit message {}", index + 1)
            };
            self.scan_lines(&place, &numbered(message), false, &mut report);
        }
        report
    }

    /// `text` with every secret the scanner finds replaced by `[redacted <rule>]`: for text that
    /// must be shown or posted even though it may hold a secret (a log line, a path in a report).
    pub fn redact(&self, text: &str) -> String {
        text.split_inclusive('\n')
            .map(|line| {
                let hits = self.scan_line(line, false);
                if hits.is_empty() {
                    line.to_owned()
                } else {
                    replace_hits(line, &hits)
                }
            })
            .collect()
    }

    /// Scans text about to be posted; `place` names it in findings (`pull request body`).
    pub fn scan_text(&self, place: &str, text: &str) -> Vec<Finding> {
        let mut report = DlpReport::default();
        self.scan_lines(place, &numbered(text), false, &mut report);
        report.findings
    }

    /// Scans consecutive lines of one place into `report`.
    fn scan_lines(
        &self,
        place: &str,
        lines: &[(u32, &str)],
        lock_file: bool,
        report: &mut DlpReport,
    ) {
        for (index, (number, line)) in lines.iter().enumerate() {
            for marker in self.markers.find(line) {
                if report.suppressions.len() >= MAX_FINDINGS {
                    report.omitted_suppressions += 1;
                    continue;
                }
                report.suppressions.push(Suppression {
                    place: place.to_owned(),
                    line: Some(*number),
                    marker: marker.to_owned(),
                });
            }
            for mut hit in self.scan_line(line, lock_file) {
                if hit.rule == PRIVATE_KEY {
                    complete_key(&mut hit, line, &lines[index + 1..]);
                }
                report.add(finding(place, *number, &hit));
            }
        }
    }

    /// The hits on one line, the first detector's where two overlap, in order along the line.
    fn scan_line(&self, line: &str, lock_file: bool) -> Vec<Hit> {
        let mut claimed: BTreeMap<usize, Hit> = BTreeMap::new();
        for (offset, window) in windows(line) {
            let mut hits = Vec::new();
            for detector in &self.detectors {
                detector.find(window, &mut hits);
            }
            for (name, re) in &self.rules {
                custom(name, re, window, &mut hits);
            }
            if !lock_file {
                self.assignments.find(window, &mut hits);
            }
            for mut hit in hits {
                hit.start += offset;
                hit.end += offset;
                if !overlaps(&claimed, &hit) {
                    claimed.insert(hit.start, hit);
                }
            }
        }
        claimed.into_values().collect()
    }
}

/// Matches of a policy rule.
fn custom(name: &str, re: &Regex, text: &str, hits: &mut Vec<Hit>) {
    for caps in re.captures_iter(text) {
        let Some(m) = caps.get(1).or_else(|| caps.get(0)) else {
            continue;
        };
        if m.is_empty() {
            continue;
        }
        hits.push(Hit {
            rule: name.to_owned(),
            start: m.start(),
            end: m.end(),
            secret: m.as_str().to_owned(),
            shown: 0,
        });
    }
}

/// Whether `hit` overlaps one already claimed.
fn overlaps(claimed: &BTreeMap<usize, Hit>, hit: &Hit) -> bool {
    let before = claimed
        .range(..=hit.start)
        .next_back()
        .is_some_and(|(_, h)| h.end > hit.start);
    let after = claimed
        .range(hit.start..)
        .next()
        .is_some_and(|(start, _)| *start < hit.end);
    before || after
}

/// `line` as (offset, window) pieces of at most [`WINDOW`] bytes, overlapping by [`OVERLAP`],
/// cut on character boundaries.
fn windows(line: &str) -> Vec<(usize, &str)> {
    if line.len() <= WINDOW {
        return vec![(0, line)];
    }
    let boundary = |mut at: usize| {
        while !line.is_char_boundary(at) {
            at -= 1;
        }
        at
    };
    let mut out = Vec::new();
    let mut start = 0;
    loop {
        let end = boundary((start + WINDOW).min(line.len()));
        out.push((start, &line[start..end]));
        if end == line.len() {
            return out;
        }
        start = boundary(end - OVERLAP);
    }
}

/// A PEM key's secret is its header and body: what follows the header on the same line (a key
/// inside a JSON string) or, failing that, the following lines up to the footer. Only the header,
/// which is public and names the kind of key, shows in the preview.
fn complete_key(hit: &mut Hit, line: &str, following: &[(u32, &str)]) {
    let rest = line.get(hit.end..).unwrap_or("").trim();
    let mut body = String::new();
    if rest.len() >= 16 {
        body.push_str(prefix(rest, MAX_KEY_BYTES));
    } else {
        for (_, l) in following.iter().take(MAX_KEY_LINES) {
            let l = l.trim();
            if l.starts_with("-----END") || l.starts_with("-----BEGIN") {
                break;
            }
            body.push_str(prefix(l, MAX_KEY_BYTES - body.len()));
            if body.len() >= MAX_KEY_BYTES {
                break;
            }
        }
    }
    hit.shown = hit.secret.chars().count();
    hit.secret.push('\n');
    hit.secret.push_str(&body);
}

/// The longest start of `text` of at most `max` bytes that ends on a character boundary.
fn prefix(text: &str, max: usize) -> &str {
    let mut end = max.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// `text` with each hit's span replaced by `[redacted <rule>]`; `hits` are in order along it.
fn replace_hits(text: &str, hits: &[Hit]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for hit in hits {
        out.push_str(&text[copied..hit.start]);
        out.push_str(&format!("[redacted {}]", hit.rule));
        copied = hit.end;
    }
    out.push_str(&text[copied..]);
    out
}

/// The finding for a hit: the secret hashed and measured, never copied.
fn finding(place: &str, line: u32, hit: &Hit) -> Finding {
    let digest = Sha256::digest(hit.secret.as_bytes());
    let chars = hit.secret.chars().count();
    let prefix: String = hit.secret.chars().take(hit.shown.min(chars)).collect();
    Finding {
        rule: hit.rule.clone(),
        place: place.to_owned(),
        line,
        fingerprint: hex::encode(&digest[..4]),
        preview: format!("{prefix}… ({chars} chars)"),
    }
}

/// `text`'s lines numbered from 1.
fn numbered(text: &str) -> Vec<(u32, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (u32::try_from(i + 1).unwrap_or(u32::MAX), l))
        .collect()
}

#[cfg(test)]
mod tests;
