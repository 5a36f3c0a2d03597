//! Whether CI hands repository secrets to code an agent wrote. ade pushes its branches to the
//! repository itself, so a workflow that runs on `pull_request` runs on ade's pull requests as on
//! any branch of the repository, with its secrets, running code the agent changed; one on
//! `pull_request_target` runs with them too. The workflow files are read through the forge (the
//! folders GitHub Actions, and Gitea and Forgejo Actions, read) and their `on:` triggers looked
//! at; whether Actions are enabled for the repository is not checked.

use super::report::{one_line, shown};
use super::{Client, Context, Finding, Report, forge_failure};
use crate::forge::BranchHead;
use crate::forge::setup::list_folder;

/// The most workflow files read.
const MAX_FILES: usize = 50;

/// Runs the workflow check on the default branch's head.
pub(super) async fn check(context: &Context<'_>, head: &BranchHead, report: &mut Report) {
    let folders: &[&str] = match &context.client {
        Client::Github(_) => &[".github/workflows"],
        Client::Gitea(_) => &[
            ".gitea/workflows",
            ".forgejo/workflows",
            ".github/workflows",
        ],
    };
    let mut risky = Vec::new();
    let mut unread = Vec::new();
    let mut seen = 0;
    for folder in folders {
        let listed = match &context.client {
            Client::Github(github) => {
                list_folder(github.as_ref(), &context.repo, folder, &head.sha).await
            }
            Client::Gitea(gitea) => {
                list_folder(gitea.as_ref(), &context.repo, folder, &head.sha).await
            }
        };
        let entries = match listed {
            Ok(entries) => entries.unwrap_or_default(),
            Err(error) => {
                report.push(forge_failure(
                    "workflows",
                    &error,
                    &format!("the folder {folder}"),
                ));
                unread.push(format!("the files in {folder}"));
                continue;
            }
        };
        for entry in entries.iter().filter(|e| e.is_file && is_workflow(&e.name)) {
            seen += 1;
            if seen > MAX_FILES {
                break;
            }
            let file = context
                .client
                .forge()
                .read_file(&context.repo, &entry.path, &head.sha)
                .await;
            let text = match file {
                Ok(Some(bytes)) => String::from_utf8_lossy(&bytes).into_owned(),
                Ok(None) => {
                    unread.push(shown(&entry.path));
                    continue;
                }
                Err(error) => {
                    report.push(forge_failure(
                        "workflows",
                        &error,
                        &format!("the workflow {}", shown(&entry.path)),
                    ));
                    unread.push(shown(&entry.path));
                    continue;
                }
            };
            match triggers(&text) {
                Some(on) => {
                    let hits: Vec<String> = on.into_iter().filter(|t| exposes_secrets(t)).collect();
                    if !hits.is_empty() {
                        risky.push(format!(
                            "{} ({})",
                            shown(&entry.path),
                            one_line(&hits.join(", "), 100)
                        ));
                    }
                }
                None => unread.push(shown(&entry.path)),
            }
        }
    }
    let prefix = crate::policy::effective(&context.config.policy, &Default::default())
        .map(|p| p.pull_requests.branch_prefix)
        .unwrap_or_else(|_| "ade/".to_owned());
    report.push(judge(
        &risky,
        &unread,
        seen,
        &prefix,
        matches!(context.client, Client::Gitea(_)),
    ));
}

fn is_workflow(name: &str) -> bool {
    name.ends_with(".yml") || name.ends_with(".yaml")
}

fn exposes_secrets(trigger: &str) -> bool {
    matches!(trigger, "pull_request" | "pull_request_target")
}

fn judge(risky: &[String], unread: &[String], seen: usize, prefix: &str, gitea: bool) -> Finding {
    let actions = if gitea {
        "Gitea/Forgejo Actions (where enabled)"
    } else {
        "GitHub Actions"
    };
    if !risky.is_empty() {
        return Finding::warning(
            "workflows",
            format!(
                "{} run on pull requests; {actions} give such runs from the repository's own branches, ade's included, the repository's secrets while running code an agent wrote",
                risky.join(", ")
            ),
            format!(
                "keep secrets from jobs that run on ade's branches: put jobs that need secrets behind an environment with required reviewers, or skip them when the head branch starts with {prefix:?} (GitHub: if: ${{{{ !startsWith(github.head_ref, '{prefix}') }}}}); never check out the pull request's head in a pull_request_target workflow"
            ),
        );
    }
    if !unread.is_empty() {
        return Finding::warning(
            "workflows",
            format!(
                "ade could not read the triggers (`on:`) of {}, so they were not judged",
                unread.join(", ")
            ),
            "check by hand that they do not run on pull_request or pull_request_target with secrets",
        );
    }
    if seen > MAX_FILES {
        return Finding::warning(
            "workflows",
            format!(
                "the repository has more than {MAX_FILES} workflow files; ade read the first {MAX_FILES} and none runs on pull requests"
            ),
            "check the others by hand",
        );
    }
    Finding::ok(
        "workflows",
        if seen == 0 {
            "no CI workflow on the default branch runs on pull requests (there are none)".to_owned()
        } else {
            format!(
                "none of the {seen} workflow(s) on the default branch runs on pull_request or pull_request_target"
            )
        },
    )
}

/// The events under a workflow's top-level `on:` key (a name, a list, or a mapping), read from
/// the YAML text without a YAML parser; `None` when there is no such key.
fn triggers(text: &str) -> Option<Vec<String>> {
    let lines: Vec<&str> = text.lines().map(without_comment).collect();
    for (i, line) in lines.iter().enumerate() {
        if line.starts_with([' ', '\t']) {
            continue;
        }
        let Some(rest) = ["on:", "\"on\":", "'on':", "true:"]
            .iter()
            .find_map(|key| line.strip_prefix(key))
        else {
            continue;
        };
        let rest = rest.trim();
        if rest.is_empty() {
            return Some(block(&lines[i + 1..]));
        }
        let rest = flow(rest, &lines[i + 1..])?;
        let rest = rest.as_str();
        let inner = rest
            .strip_prefix('[')
            .and_then(|r| r.strip_suffix(']'))
            .or_else(|| rest.strip_prefix('{').and_then(|r| r.strip_suffix('}')))
            .unwrap_or(rest);
        return Some(
            inner
                .split(',')
                .filter_map(|item| name(item.split(':').next().unwrap_or("")))
                .collect(),
        );
    }
    None
}

/// A value on the `on:` line, with the lines a flow list or mapping (`[push,` … `]`) continues
/// on; `None` when it never closes.
fn flow(first: &str, next: &[&str]) -> Option<String> {
    let close = match first.chars().next() {
        Some('[') => ']',
        Some('{') => '}',
        _ => return Some(first.to_owned()),
    };
    let mut value = first.to_owned();
    let mut more = next.iter();
    while !value.trim_end().ends_with(close) {
        value.push(' ');
        value.push_str(more.next()?.trim());
    }
    Some(value)
}

/// The names of a block mapping's or sequence's items: the lines at its first indentation. A
/// sequence may start at column 0 (`on:` then `- push`), which YAML allows under a mapping key.
fn block(lines: &[&str]) -> Vec<String> {
    let mut names = Vec::new();
    let mut indent_of_items = None;
    for line in lines {
        if line.trim().is_empty() {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        if indent == 0 && !(line.starts_with('-') && indent_of_items.is_none_or(|i| i == 0)) {
            break;
        }
        if *indent_of_items.get_or_insert(indent) != indent {
            continue;
        }
        let item = line.trim();
        let item = item.strip_prefix('-').map(str::trim).unwrap_or(item);
        if let Some(found) = name(item.split(':').next().unwrap_or("")) {
            names.push(found);
        }
    }
    names
}

fn name(raw: &str) -> Option<String> {
    let trimmed = raw.trim().trim_matches(['"', '\'']).trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

fn without_comment(line: &str) -> &str {
    if line.trim_start().starts_with('#') {
        return "";
    }
    match line.find(" #") {
        Some(at) => &line[..at],
        None => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Status;

    #[test]
    fn triggers_read_in_every_form_yaml_allows() {
        assert_eq!(
            triggers("name: ci\non: pull_request\n"),
            Some(vec!["pull_request".into()])
        );
        assert_eq!(
            triggers("on: [push, \"pull_request_target\"] # both\njobs: {}\n"),
            Some(vec!["push".into(), "pull_request_target".into()])
        );
        assert_eq!(
            triggers(
                "on:\n  push:\n    branches: [main]\n  # pull_request:\n  workflow_dispatch:\njobs:\n  pull_request:\n"
            ),
            Some(vec!["push".into(), "workflow_dispatch".into()])
        );
        assert_eq!(
            triggers("'on':\n  - push\n  - pull_request\n"),
            Some(vec!["push".into(), "pull_request".into()])
        );
        assert_eq!(triggers("jobs:\n  on: push\n"), None);
    }

    #[test]
    fn a_sequence_at_column_zero_and_a_flow_list_over_lines_are_read() {
        assert_eq!(
            triggers("on:\n- push\n- pull_request\njobs:\n  a: {}\n"),
            Some(vec!["push".into(), "pull_request".into()])
        );
        assert_eq!(
            triggers("on: [push,\n  pull_request]\njobs: {}\n"),
            Some(vec!["push".into(), "pull_request".into()])
        );
        assert_eq!(
            triggers("on: {push: ,\n  pull_request_target: }\n"),
            Some(vec!["push".into(), "pull_request_target".into()])
        );
        assert_eq!(triggers("on: [push,\n  pull_request\n"), None);
    }

    #[test]
    fn pull_request_workflows_are_a_warning_naming_them() {
        let finding = judge(&["\"ci.yml\" (pull_request)".into()], &[], 1, "ade/", false);
        assert_eq!(finding.status, Status::Warning);
        assert!(finding.message.contains("ci.yml"));
        assert!(
            finding
                .fix
                .unwrap()
                .contains("startsWith(github.head_ref, 'ade/')")
        );
        assert_eq!(judge(&[], &[], 2, "ade/", false).status, Status::Ok);
        let unread = judge(&[], &["\"x.yml\"".into()], 1, "ade/", true);
        assert_eq!(unread.status, Status::Warning);
        assert!(unread.message.contains("not judged"), "{}", unread.message);
    }
}
