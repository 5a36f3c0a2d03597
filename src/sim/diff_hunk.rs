//! The diff hunk a review comment sits in, as GitHub shows it with the comment: the hunk's header
//! and its lines up to the commented one. Read from git (`git diff base...head -- path`), so a
//! comment can only be made on a line the pull request's diff shows, as on both forges.

use super::git::{GitStore, command};
use anyhow::{Context, bail};

/// The hunk of `path`'s diff between the merge base of `base` and `head` that shows `line` of
/// the head's version, cut after that line; `None` when the diff does not show that line.
pub async fn hunk(
    git: &GitStore,
    (owner, name): (&str, &str),
    (base, head): (&str, &str),
    path: &str,
    line: u32,
) -> anyhow::Result<Option<String>> {
    let range = format!("{base}...{head}");
    let output = command(
        &git.path(owner, name),
        &[
            "diff",
            "--no-color",
            "--no-ext-diff",
            "--no-renames",
            "-U3",
            &range,
            "--",
            path,
        ],
        &[],
    )
    .output()
    .await
    .context("running git diff")?;
    if !output.status.success() {
        bail!(
            "git diff {range} -- {path}: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(find(&String::from_utf8_lossy(&output.stdout), line))
}

/// The hunk of a one-file unified diff that shows new-side line `line`, up to that line.
fn find(diff: &str, line: u32) -> Option<String> {
    let mut hunk: Vec<&str> = Vec::new();
    let mut next_new = 0u32;
    for text in diff.lines() {
        if let Some(header) = text.strip_prefix("@@ ") {
            next_new = new_start(header)?;
            hunk = vec![text];
            continue;
        }
        if hunk.is_empty() {
            continue;
        }
        hunk.push(text);
        match text.chars().next() {
            Some(' ') | Some('+') => {
                if next_new == line {
                    return Some(hunk.join("\n"));
                }
                next_new += 1;
            }
            Some('-') | Some('\\') => {}
            _ => hunk.clear(),
        }
    }
    None
}

/// The first new-side line of a hunk from its header's `+c[,d]`.
fn new_start(header: &str) -> Option<u32> {
    let plus = header.split_whitespace().find(|p| p.starts_with('+'))?;
    plus[1..].split(',').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::find;

    const DIFF: &str = "diff --git a/src/lib.rs b/src/lib.rs\nindex 1..2 100644\n--- a/src/lib.rs\n+++ b/src/lib.rs\n@@ -1,3 +1,4 @@\n pub fn answer() -> u32 {\n-    42\n+    43\n+    // the answer\n }\n";

    #[test]
    fn the_hunk_ends_at_the_commented_line() {
        assert_eq!(
            find(DIFF, 2).unwrap(),
            "@@ -1,3 +1,4 @@\n pub fn answer() -> u32 {\n-    42\n+    43"
        );
        assert_eq!(
            find(DIFF, 1).unwrap(),
            "@@ -1,3 +1,4 @@\n pub fn answer() -> u32 {"
        );
        assert!(find(DIFF, 4).unwrap().ends_with("\n }"));
        assert_eq!(find(DIFF, 5), None, "past the hunk");
        assert_eq!(find("", 1), None);
    }
}
