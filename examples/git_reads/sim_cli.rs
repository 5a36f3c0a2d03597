//! The simulator's reads as they were with the git CLI (one git process per question), kept
//! here to time against the in-process reads that replaced them (`ade::sim::git::GitStore`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use ade::sim::git::{CommitInfo, DiffStats, PathContent, TreeEntry, command};
use anyhow::{Context, bail};

/// One bare repository, read with the git CLI.
pub struct CliStore(pub PathBuf);

impl CliStore {
    /// Every branch and its commit.
    pub async fn branches(&self) -> anyhow::Result<BTreeMap<String, String>> {
        let out = run(
            &self.0,
            &[
                "for-each-ref",
                "--format=%(objectname) %(refname)",
                "refs/heads/",
            ],
        )
        .await?;
        Ok(out
            .lines()
            .filter_map(|line| {
                let (sha, name) = line.split_once(' ')?;
                Some((name.strip_prefix("refs/heads/")?.to_owned(), sha.to_owned()))
            })
            .collect())
    }

    /// Resolves a branch name, tag or commit id to a commit; `None` if it names nothing.
    pub async fn resolve(&self, git_ref: &str) -> anyhow::Result<Option<String>> {
        if git_ref.starts_with('-') || git_ref.contains("..") {
            return Ok(None);
        }
        let spec = format!("{git_ref}^{{commit}}");
        match run(&self.0, &["rev-parse", "--verify", "--quiet", &spec]).await {
            Ok(out) => Ok(Some(out.trim().to_owned())),
            Err(_) => Ok(None),
        }
    }

    /// What `path` is at `commit`: a file's bytes or a directory's entries; `None` if absent.
    pub async fn read_path(&self, commit: &str, path: &str) -> anyhow::Result<Option<PathContent>> {
        let repo = self.0.clone();
        let path = path.trim_matches('/');
        let spec = if path.is_empty() {
            format!("{commit}^{{tree}}")
        } else {
            format!("{commit}:{path}")
        };
        let Ok(kind) = run(&repo, &["cat-file", "-t", &spec]).await else {
            return Ok(None);
        };
        match kind.trim() {
            "blob" => {
                let sha = run(&repo, &["rev-parse", &spec]).await?;
                let bytes = run_bytes(&repo, &["cat-file", "blob", sha.trim()]).await?;
                Ok(Some(PathContent::File {
                    sha: sha.trim().to_owned(),
                    bytes,
                }))
            }
            "tree" => {
                let out = run(&repo, &["ls-tree", "-l", &spec]).await?;
                let entries = out
                    .lines()
                    .filter_map(|line| {
                        let (meta, name) = line.split_once('\t')?;
                        let mut parts = meta.split_whitespace();
                        let _mode = parts.next()?;
                        let kind = parts.next()?.to_owned();
                        let sha = parts.next()?.to_owned();
                        let size = parts.next()?.parse().unwrap_or(0);
                        Some(TreeEntry {
                            name: name.to_owned(),
                            kind,
                            sha,
                            size,
                        })
                    })
                    .collect();
                Ok(Some(PathContent::Dir(entries)))
            }
            _ => Ok(None),
        }
    }

    /// One commit's metadata and the paths it changed.
    pub async fn commit_info(&self, sha: &str) -> anyhow::Result<CommitInfo> {
        let repo = self.0.clone();
        let out = run(
            &repo,
            &[
                "show",
                "-s",
                "--format=%H%x00%T%x00%an%x00%ae%x00%cn%x00%ce%x00%cI%x00%B",
                sha,
            ],
        )
        .await?;
        let fields: Vec<&str> = out.splitn(8, '\0').collect();
        if fields.len() != 8 {
            bail!("unexpected `git show` output for {sha}");
        }
        let changes = run(
            &repo,
            &[
                "diff-tree",
                "--no-commit-id",
                "--name-status",
                "-r",
                "--root",
                sha,
            ],
        )
        .await?;
        let (mut added, mut removed, mut modified) = (Vec::new(), Vec::new(), Vec::new());
        for line in changes.lines() {
            let Some((status, path)) = line.split_once('\t') else {
                continue;
            };
            let path = path.to_owned();
            match status.chars().next() {
                Some('A') => added.push(path),
                Some('D') => removed.push(path),
                _ => modified.push(path),
            }
        }
        Ok(CommitInfo {
            sha: fields[0].to_owned(),
            tree: fields[1].to_owned(),
            author_name: fields[2].to_owned(),
            author_email: fields[3].to_owned(),
            committer_name: fields[4].to_owned(),
            committer_email: fields[5].to_owned(),
            timestamp: fields[6].to_owned(),
            message: fields[7].trim_end_matches('\n').to_owned() + "\n",
            added,
            removed,
            modified,
        })
    }

    /// The best common ancestor of two commits.
    pub async fn merge_base(&self, a: &str, b: &str) -> anyhow::Result<Option<String>> {
        match run(&self.0, &["merge-base", a, b]).await {
            Ok(out) => Ok(Some(out.trim().to_owned())),
            Err(_) => Ok(None),
        }
    }

    /// Counts for a pull request: commits, added and deleted lines, changed files between the
    /// merge base and the head.
    pub async fn diff_stats(&self, base: &str, head: &str) -> anyhow::Result<DiffStats> {
        let repo = self.0.clone();
        let range = format!("{base}..{head}");
        let commits = run(&repo, &["rev-list", "--count", &range])
            .await?
            .trim()
            .parse()
            .unwrap_or(0);
        let three_dot = format!("{base}...{head}");
        let numstat = run(&repo, &["diff", "--numstat", &three_dot]).await?;
        let mut stats = DiffStats {
            commits,
            ..DiffStats::default()
        };
        for line in numstat.lines() {
            let mut parts = line.split('\t');
            stats.additions += parts.next().and_then(|n| n.parse().ok()).unwrap_or(0);
            stats.deletions += parts.next().and_then(|n| n.parse().ok()).unwrap_or(0);
            stats.changed_files += 1;
        }
        Ok(stats)
    }
}

async fn run(repo: &std::path::Path, args: &[&str]) -> anyhow::Result<String> {
    let output = command(repo, args, &[])
        .output()
        .await
        .with_context(|| format!("git {}", args.join(" ")))?;
    if !output.status.success() {
        bail!(
            "git {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    String::from_utf8(output.stdout).context("not UTF-8")
}

async fn run_bytes(repo: &std::path::Path, args: &[&str]) -> anyhow::Result<Vec<u8>> {
    let output = command(repo, args, &[])
        .output()
        .await
        .with_context(|| format!("git {}", args.join(" ")))?;
    if !output.status.success() {
        bail!("git {} failed", args.join(" "));
    }
    Ok(output.stdout)
}
