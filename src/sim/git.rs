//! The simulator's repositories are real bare git repositories under its data dir, changed and read
//! with the git CLI. Branch heads, files and commits always come from git, never from a cache, so
//! what ade pushes over HTTP is what the API reports.

use anyhow::{Context, anyhow, bail};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

/// The all-zero object id git and the forges use for "no commit".
pub const ZERO_SHA: &str = "0000000000000000000000000000000000000000";

/// Who made a commit, as git records it.
#[derive(Clone, Debug)]
pub struct Signature {
    /// Name.
    pub name: String,
    /// E-mail.
    pub email: String,
    /// When (Unix ms).
    pub at_ms: i64,
}

/// One commit, as push payloads describe it.
#[derive(Clone, Debug)]
pub struct CommitInfo {
    /// The commit id.
    pub sha: String,
    /// Its tree.
    pub tree: String,
    /// The full message.
    pub message: String,
    /// Author name.
    pub author_name: String,
    /// Author e-mail.
    pub author_email: String,
    /// Committer name.
    pub committer_name: String,
    /// Committer e-mail.
    pub committer_email: String,
    /// Committer time, RFC 3339 with the commit's offset.
    pub timestamp: String,
    /// Paths added.
    pub added: Vec<String>,
    /// Paths removed.
    pub removed: Vec<String>,
    /// Paths modified.
    pub modified: Vec<String>,
}

/// An entry of a directory listing.
#[derive(Clone, Debug)]
pub struct TreeEntry {
    /// File name.
    pub name: String,
    /// `blob`, `tree` or `commit` (a submodule).
    pub kind: String,
    /// Object id.
    pub sha: String,
    /// Size of a blob.
    pub size: u64,
}

/// What a path names at a ref.
#[derive(Clone, Debug)]
pub enum PathContent {
    /// A file: its blob id and bytes.
    File {
        /// The blob id.
        sha: String,
        /// The bytes.
        bytes: Vec<u8>,
    },
    /// A directory and its entries.
    Dir(Vec<TreeEntry>),
}

/// How to land a pull request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MergeStyle {
    /// A merge commit with both parents.
    Merge,
    /// One commit with the combined change.
    Squash,
    /// The head's commits replayed on the base.
    Rebase,
}

/// What to land where, and as whom.
#[derive(Clone, Copy, Debug)]
pub struct MergePlan<'a> {
    /// The branch that receives the change.
    pub base_branch: &'a str,
    /// The commit to land.
    pub head: &'a str,
    /// How.
    pub style: MergeStyle,
    /// The message of the commit made (merge and squash).
    pub message: &'a str,
    /// Who merges.
    pub committer: &'a Signature,
}

/// Why git could not merge.
#[derive(Debug, thiserror::Error)]
pub enum MergeFailure {
    /// The changes conflict.
    #[error("merge conflict")]
    Conflict,
    /// The base moved while merging.
    #[error("base branch moved during the merge")]
    Raced,
    /// Git failed.
    #[error(transparent)]
    Git(#[from] anyhow::Error),
}

/// The bare repositories of one simulator.
#[derive(Clone, Debug)]
pub struct GitStore {
    root: PathBuf,
}

impl GitStore {
    /// Repositories live in `root/<owner>/<name>.git`.
    pub fn new(root: PathBuf) -> GitStore {
        GitStore { root }
    }

    /// The folder `git http-backend` serves (`GIT_PROJECT_ROOT`).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where a repository lives.
    pub fn path(&self, owner: &str, name: &str) -> PathBuf {
        self.root.join(owner).join(format!("{name}.git"))
    }

    /// Makes an empty bare repository whose HEAD names `default_branch`.
    pub async fn init(&self, owner: &str, name: &str, default_branch: &str) -> anyhow::Result<()> {
        let path = self.path(owner, name);
        tokio::fs::create_dir_all(&path)
            .await
            .with_context(|| format!("creating {}", path.display()))?;
        run(
            &path,
            &["init", "--bare", "--quiet", "-b", default_branch, "."],
            None,
            &[],
        )
        .await?;
        // http-backend refuses pushes to repositories that do not enable them for any user.
        run(&path, &["config", "http.receivepack", "true"], None, &[]).await?;
        Ok(())
    }

    /// Commits `changes` (path → new bytes, or `None` to delete) on top of `branch` (or as its
    /// first commit) and moves the branch, refusing if it moved meanwhile. Returns the new commit.
    pub async fn commit(
        &self,
        owner: &str,
        name: &str,
        branch: &str,
        changes: &[(String, Option<Vec<u8>>)],
        message: &str,
        author: &Signature,
    ) -> anyhow::Result<String> {
        let repo = self.path(owner, name);
        let parent = self.branch_sha(owner, name, branch).await?;
        let index = repo.join(format!("sim-index-{:016x}", fastrand::u64(..)));
        let index_str = index.to_string_lossy().into_owned();
        let env = [("GIT_INDEX_FILE", index_str.as_str())];
        let result = async {
            match &parent {
                Some(parent) => run(&repo, &["read-tree", parent], None, &env).await?,
                None => run(&repo, &["read-tree", "--empty"], None, &env).await?,
            };
            for (path, content) in changes {
                match content {
                    Some(bytes) => {
                        let blob = run(&repo, &["hash-object", "-w", "--stdin"], Some(bytes), &env)
                            .await?;
                        let info = format!("100644,{},{path}", blob.trim());
                        run(
                            &repo,
                            &["update-index", "--add", "--cacheinfo", &info],
                            None,
                            &env,
                        )
                        .await?;
                    }
                    None => {
                        let entry = format!("0 {ZERO_SHA}\t{path}\n");
                        run(
                            &repo,
                            &["update-index", "--index-info"],
                            Some(entry.as_bytes()),
                            &env,
                        )
                        .await?;
                    }
                }
            }
            let tree = run(&repo, &["write-tree"], None, &env).await?;
            let commit = commit_tree(
                &repo,
                tree.trim(),
                parent.as_slice(),
                message,
                author,
                author,
            )
            .await?;
            let old = parent.as_deref().unwrap_or(ZERO_SHA);
            let target = format!("refs/heads/{branch}");
            run(&repo, &["update-ref", &target, &commit, old], None, &[]).await?;
            Ok(commit)
        }
        .await;
        let _ = tokio::fs::remove_file(&index).await;
        result
    }

    /// Makes `branch` point at `sha`; refuses if the branch exists.
    pub async fn create_branch(
        &self,
        owner: &str,
        name: &str,
        branch: &str,
        sha: &str,
    ) -> anyhow::Result<()> {
        let target = format!("refs/heads/{branch}");
        run(
            &self.path(owner, name),
            &["update-ref", &target, sha, ZERO_SHA],
            None,
            &[],
        )
        .await?;
        Ok(())
    }

    /// The commit a branch points at, or `None` when there is no such branch.
    pub async fn branch_sha(
        &self,
        owner: &str,
        name: &str,
        branch: &str,
    ) -> anyhow::Result<Option<String>> {
        Ok(self.branches(owner, name).await?.remove(branch))
    }

    /// Every branch and its commit.
    pub async fn branches(
        &self,
        owner: &str,
        name: &str,
    ) -> anyhow::Result<BTreeMap<String, String>> {
        let out = run(
            &self.path(owner, name),
            &[
                "for-each-ref",
                "--format=%(objectname) %(refname)",
                "refs/heads/",
            ],
            None,
            &[],
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
    pub async fn resolve(
        &self,
        owner: &str,
        name: &str,
        git_ref: &str,
    ) -> anyhow::Result<Option<String>> {
        if git_ref.starts_with('-') || git_ref.contains("..") {
            return Ok(None);
        }
        let spec = format!("{git_ref}^{{commit}}");
        match run(
            &self.path(owner, name),
            &["rev-parse", "--verify", "--quiet", &spec],
            None,
            &[],
        )
        .await
        {
            Ok(out) => Ok(Some(out.trim().to_owned())),
            Err(_) => Ok(None),
        }
    }

    /// What `path` is at `commit`: a file's bytes or a directory's entries; `None` if absent.
    pub async fn read_path(
        &self,
        owner: &str,
        name: &str,
        commit: &str,
        path: &str,
    ) -> anyhow::Result<Option<PathContent>> {
        let repo = self.path(owner, name);
        let path = path.trim_matches('/');
        let spec = if path.is_empty() {
            format!("{commit}^{{tree}}")
        } else {
            format!("{commit}:{path}")
        };
        let Ok(kind) = run(&repo, &["cat-file", "-t", &spec], None, &[]).await else {
            return Ok(None);
        };
        match kind.trim() {
            "blob" => {
                let sha = run(&repo, &["rev-parse", &spec], None, &[]).await?;
                let bytes = run_bytes(&repo, &["cat-file", "blob", sha.trim()], None, &[]).await?;
                Ok(Some(PathContent::File {
                    sha: sha.trim().to_owned(),
                    bytes,
                }))
            }
            "tree" => {
                let out = run(&repo, &["ls-tree", "-l", &spec], None, &[]).await?;
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

    /// The commits reachable from `after` but not from `before` (or, for a new branch, from no
    /// other branch), oldest first, at most `limit`.
    pub async fn commits_between(
        &self,
        owner: &str,
        name: &str,
        before: &str,
        after: &str,
        limit: usize,
    ) -> anyhow::Result<Vec<CommitInfo>> {
        let repo = self.path(owner, name);
        let max = format!("--max-count={limit}");
        let mut args = vec!["rev-list", "--reverse", &max, after];
        let exclude = format!("^{before}");
        if before != ZERO_SHA {
            args.push(&exclude);
        }
        let out = run(&repo, &args, None, &[]).await?;
        let mut commits = Vec::new();
        for sha in out.lines().filter(|l| !l.is_empty()) {
            commits.push(self.commit_info(owner, name, sha).await?);
        }
        Ok(commits)
    }

    /// One commit's metadata and the paths it changed.
    pub async fn commit_info(
        &self,
        owner: &str,
        name: &str,
        sha: &str,
    ) -> anyhow::Result<CommitInfo> {
        let repo = self.path(owner, name);
        let out = run(
            &repo,
            &[
                "show",
                "-s",
                "--format=%H%x00%T%x00%an%x00%ae%x00%cn%x00%ce%x00%cI%x00%B",
                sha,
            ],
            None,
            &[],
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
            None,
            &[],
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
    pub async fn merge_base(
        &self,
        owner: &str,
        name: &str,
        a: &str,
        b: &str,
    ) -> anyhow::Result<Option<String>> {
        match run(&self.path(owner, name), &["merge-base", a, b], None, &[]).await {
            Ok(out) => Ok(Some(out.trim().to_owned())),
            Err(_) => Ok(None),
        }
    }

    /// Counts for a pull request: commits, added and deleted lines, changed files between the
    /// merge base and the head.
    pub async fn diff_stats(
        &self,
        owner: &str,
        name: &str,
        base: &str,
        head: &str,
    ) -> anyhow::Result<DiffStats> {
        let repo = self.path(owner, name);
        let range = format!("{base}..{head}");
        let commits = run(&repo, &["rev-list", "--count", &range], None, &[])
            .await?
            .trim()
            .parse()
            .unwrap_or(0);
        let three_dot = format!("{base}...{head}");
        let numstat = run(&repo, &["diff", "--numstat", &three_dot], None, &[]).await?;
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

    /// Lands `head` on `base_branch` in the given style and moves the branch only if it still
    /// points where it did. Returns the commit the base branch now points at.
    pub async fn merge(
        &self,
        owner: &str,
        name: &str,
        plan: &MergePlan<'_>,
    ) -> Result<String, MergeFailure> {
        let MergePlan {
            base_branch,
            head,
            style,
            message,
            committer,
        } = *plan;
        let repo = self.path(owner, name);
        let base = self
            .branch_sha(owner, name, base_branch)
            .await?
            .ok_or_else(|| anyhow!("base branch {base_branch} does not exist"))?;
        let result = match style {
            MergeStyle::Merge => {
                let tree = merge_tree(&repo, None, &base, head).await?;
                commit_tree(
                    &repo,
                    &tree,
                    &[base.clone(), head.to_owned()],
                    message,
                    committer,
                    committer,
                )
                .await?
            }
            MergeStyle::Squash => {
                let tree = merge_tree(&repo, None, &base, head).await?;
                commit_tree(
                    &repo,
                    &tree,
                    std::slice::from_ref(&base),
                    message,
                    committer,
                    committer,
                )
                .await?
            }
            MergeStyle::Rebase => self.replay(&repo, &base, head, committer).await?,
        };
        let target = format!("refs/heads/{base_branch}");
        run(&repo, &["update-ref", &target, &result, &base], None, &[])
            .await
            .map_err(|_| MergeFailure::Raced)?;
        Ok(result)
    }

    async fn replay(
        &self,
        repo: &Path,
        base: &str,
        head: &str,
        committer: &Signature,
    ) -> Result<String, MergeFailure> {
        let range = format!("{base}..{head}");
        let list = run(
            repo,
            &["rev-list", "--reverse", "--no-merges", &range],
            None,
            &[],
        )
        .await?;
        let mut onto = base.to_owned();
        for commit in list.lines().filter(|l| !l.is_empty()) {
            let parent = format!("{commit}^");
            let tree = merge_tree(repo, Some(&parent), &onto, commit).await?;
            let meta = run(
                repo,
                &["show", "-s", "--format=%an%x00%ae%x00%at%x00%B", commit],
                None,
                &[],
            )
            .await?;
            let fields: Vec<&str> = meta.splitn(4, '\0').collect();
            let [author_name, author_email, at, message] = fields[..] else {
                return Err(anyhow!("unexpected `git show` output for {commit}").into());
            };
            let author = Signature {
                name: author_name.to_owned(),
                email: author_email.to_owned(),
                at_ms: at.trim().parse::<i64>().unwrap_or(0) * 1000,
            };
            onto = commit_tree(
                repo,
                &tree,
                std::slice::from_ref(&onto),
                message,
                &author,
                committer,
            )
            .await?;
        }
        Ok(onto)
    }
}

/// Line and file counts of a pull request.
#[derive(Clone, Copy, Debug, Default)]
pub struct DiffStats {
    /// Commits on the head not on the base.
    pub commits: i64,
    /// Lines added.
    pub additions: i64,
    /// Lines deleted.
    pub deletions: i64,
    /// Files changed.
    pub changed_files: i64,
}

async fn merge_tree(
    repo: &Path,
    merge_base: Option<&str>,
    ours: &str,
    theirs: &str,
) -> Result<String, MergeFailure> {
    let base_arg = merge_base.map(|b| format!("--merge-base={b}"));
    let mut args = vec!["merge-tree", "--write-tree", "--no-messages"];
    if let Some(arg) = &base_arg {
        args.push(arg);
    }
    args.extend([ours, theirs]);
    let output = command(repo, &args, &[])
        .output()
        .await
        .context("running git merge-tree")?;
    match output.status.code() {
        Some(0) => Ok(String::from_utf8_lossy(&output.stdout)
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned()),
        Some(1) => Err(MergeFailure::Conflict),
        _ => Err(anyhow!(
            "git merge-tree failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )
        .into()),
    }
}

async fn commit_tree(
    repo: &Path,
    tree: &str,
    parents: &[String],
    message: &str,
    author: &Signature,
    committer: &Signature,
) -> anyhow::Result<String> {
    let mut args = vec!["commit-tree".to_owned(), tree.to_owned()];
    for parent in parents {
        args.push("-p".to_owned());
        args.push(parent.clone());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let author_date = format!("@{} +0000", author.at_ms / 1000);
    let committer_date = format!("@{} +0000", committer.at_ms / 1000);
    let env = [
        ("GIT_AUTHOR_NAME", author.name.as_str()),
        ("GIT_AUTHOR_EMAIL", author.email.as_str()),
        ("GIT_AUTHOR_DATE", author_date.as_str()),
        ("GIT_COMMITTER_NAME", committer.name.as_str()),
        ("GIT_COMMITTER_EMAIL", committer.email.as_str()),
        ("GIT_COMMITTER_DATE", committer_date.as_str()),
    ];
    Ok(run(repo, &args, Some(message.as_bytes()), &env)
        .await?
        .trim()
        .to_owned())
}

/// A git command that reads no system or user configuration, runs no hooks from outside the
/// repository, and never prompts.
pub fn command(repo: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new("git");
    cmd.arg("-C")
        .arg(repo)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env_remove("GIT_DIR")
        .env_remove("GIT_INDEX_FILE")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

async fn run_bytes(
    repo: &Path,
    args: &[&str],
    stdin: Option<&[u8]>,
    env: &[(&str, &str)],
) -> anyhow::Result<Vec<u8>> {
    let mut cmd = command(repo, args, env);
    if stdin.is_some() {
        cmd.stdin(Stdio::piped());
    }
    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting git {}", args.join(" ")))?;
    if let Some(bytes) = stdin {
        let mut pipe = child.stdin.take().context("git stdin")?;
        pipe.write_all(bytes).await.context("writing to git")?;
        drop(pipe);
    }
    let output = child.wait_with_output().await.context("waiting for git")?;
    if !output.status.success() {
        bail!(
            "git {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(output.stdout)
}

async fn run(
    repo: &Path,
    args: &[&str],
    stdin: Option<&[u8]>,
    env: &[(&str, &str)],
) -> anyhow::Result<String> {
    let bytes = run_bytes(repo, args, stdin, env).await?;
    String::from_utf8(bytes).context("git printed something that is not UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sig() -> Signature {
        Signature {
            name: "Sim".into(),
            email: "sim@example.com".into(),
            at_ms: 1_700_000_000_000,
        }
    }

    fn temp_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ade-sim-git-{:016x}", fastrand::u64(..)));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[tokio::test]
    async fn commits_read_back_and_merge() {
        let dir = temp_dir();
        let git = GitStore::new(dir.clone());
        git.init("o", "r", "main").await.unwrap();
        let files = vec![("README.md".to_owned(), Some(b"hello\n".to_vec()))];
        let first = git
            .commit("o", "r", "main", &files, "first", &sig())
            .await
            .unwrap();
        assert_eq!(
            git.branch_sha("o", "r", "main").await.unwrap(),
            Some(first.clone())
        );
        git.create_branch("o", "r", "topic", &first).await.unwrap();
        let change = vec![("src/lib.rs".to_owned(), Some(b"pub fn f() {}\n".to_vec()))];
        let topic = git
            .commit("o", "r", "topic", &change, "add lib", &sig())
            .await
            .unwrap();
        let Some(PathContent::File { bytes, .. }) =
            git.read_path("o", "r", &topic, "src/lib.rs").await.unwrap()
        else {
            panic!("file expected");
        };
        assert_eq!(bytes, b"pub fn f() {}\n");
        assert!(
            git.read_path("o", "r", &first, "src/lib.rs")
                .await
                .unwrap()
                .is_none()
        );
        let info = git.commit_info("o", "r", &topic).await.unwrap();
        assert_eq!(info.added, vec!["src/lib.rs".to_owned()]);
        let merged = git
            .merge(
                "o",
                "r",
                &MergePlan {
                    base_branch: "main",
                    head: &topic,
                    style: MergeStyle::Squash,
                    message: "squash",
                    committer: &sig(),
                },
            )
            .await
            .unwrap();
        assert_eq!(
            git.branch_sha("o", "r", "main").await.unwrap(),
            Some(merged.clone())
        );
        assert!(
            git.read_path("o", "r", &merged, "src/lib.rs")
                .await
                .unwrap()
                .is_some()
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn a_commit_deletes_files() {
        let dir = temp_dir();
        let git = GitStore::new(dir.clone());
        git.init("o", "r", "main").await.unwrap();
        let files = vec![
            ("notes/a.md".to_owned(), Some(b"a\n".to_vec())),
            ("b.md".to_owned(), Some(b"b\n".to_vec())),
        ];
        git.commit("o", "r", "main", &files, "first", &sig())
            .await
            .unwrap();
        let deleted = vec![("notes/a.md".to_owned(), None)];
        let second = git
            .commit("o", "r", "main", &deleted, "delete a", &sig())
            .await
            .unwrap();
        let read = |path: &'static str| git.read_path("o", "r", &second, path);
        assert!(read("notes/a.md").await.unwrap().is_none());
        assert!(read("b.md").await.unwrap().is_some());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
