use super::*;

fn policy() -> EffectivePolicy {
    EffectivePolicy {
        protected_paths: [".github/workflows", ".ade", "deploy/prod"]
            .map(str::to_owned)
            .to_vec(),
        ..EffectivePolicy::default()
    }
}

fn file(path: &str, change: ChangeKind, mode: FileMode) -> ChangedFile {
    ChangedFile {
        path: path.to_owned(),
        change,
        mode,
    }
}

fn regular(path: &str, change: ChangeKind) -> ChangedFile {
    file(path, change, FileMode::Regular)
}

fn link(path: &str, target: &str) -> ChangedFile {
    file(
        path,
        ChangeKind::Added,
        FileMode::Symlink {
            target: target.to_owned(),
        },
    )
}

fn guard(files: Vec<ChangedFile>) -> GuardReport {
    check(
        &Changes {
            files,
            ..Changes::default()
        },
        &policy(),
    )
}

fn risks(path: &str, target: &str) -> Vec<LinkRisk> {
    let report = guard(vec![link(path, target)]);
    report.symlinks.into_iter().flat_map(|l| l.risks).collect()
}

#[test]
fn an_empty_change_reports_nothing_and_does_not_block() {
    let report = guard(vec![]);
    assert!(report.is_empty());
    assert!(!report.blocks());
    assert_eq!(report.markdown(), "");
}

#[test]
fn added_modified_and_deleted_protected_files_block_with_their_rule() {
    for change in [ChangeKind::Added, ChangeKind::Modified, ChangeKind::Deleted] {
        let report = guard(vec![
            regular(".github/workflows/ci.yml", change),
            regular("src/main.rs", ChangeKind::Modified),
        ]);
        assert!(report.blocks(), "{change:?}");
        assert_eq!(
            report.protected,
            [ProtectedChange {
                path: ".github/workflows/ci.yml".to_owned(),
                change,
                rule: ".github/workflows".to_owned(),
                link_target: None,
            }]
        );
    }
}

#[test]
fn unprotected_changes_do_not_block() {
    let report = guard(vec![
        regular("src/main.rs", ChangeKind::Modified),
        regular(".github/CODEOWNERS", ChangeKind::Modified),
        regular(".github/workflows-old/ci.yml", ChangeKind::Added),
        regular("deploy/production/x", ChangeKind::Added),
        regular(".ade-notes", ChangeKind::Added),
    ]);
    assert!(!report.blocks(), "{report}");
}

#[test]
fn path_spellings_that_name_a_protected_path_are_caught() {
    for path in [
        "./.github/workflows/ci.yml",
        ".github/workflows/",
        ".github//workflows/ci.yml",
        "src/../.github/workflows/ci.yml",
        "../.github/workflows/ci.yml",
        ".github/./workflows/x.yml",
        ".ade",
        ".ADE/config.toml",
        ".GitHub/Workflows/ci.yml",
        "deploy/prod/app.yaml",
    ] {
        let report = guard(vec![regular(path, ChangeKind::Added)]);
        assert!(report.blocks(), "{path}");
        assert_eq!(
            report.protected[0].path, path,
            "the report names the path as changed"
        );
    }
}

#[test]
fn lookalike_paths_are_different_paths() {
    for path in [
        ".gіthub/workflows/ci.yml", // Cyrillic і
        ".github/workflows\u{200b}/ci.yml",
        "ｄeploy/prod/x",
        ".github/workflow/ci.yml",
    ] {
        let report = guard(vec![regular(path, ChangeKind::Added)]);
        assert!(!report.blocks(), "{path}");
    }
}

#[test]
fn a_symlink_into_a_protected_path_blocks() {
    let report = guard(vec![link("docs/ci", "../.github/workflows/ci.yml")]);
    assert!(report.blocks());
    assert_eq!(report.protected[0].rule, ".github/workflows");
    assert_eq!(
        report.protected[0].link_target.as_deref(),
        Some("../.github/workflows/ci.yml")
    );
    let report = guard(vec![link("x", "./.ade")]);
    assert!(report.blocks());
}

#[test]
fn a_symlink_inside_the_repository_is_fine() {
    for (path, target) in [
        ("docs/readme", "../README.md"),
        ("a/b/c", "../../d/e"),
        ("link", "src/lib.rs"),
        ("a/link", "./b/../c"),
        ("a/link", "."),
    ] {
        let report = guard(vec![link(path, target)]);
        assert!(report.is_empty(), "{path} -> {target}: {report}");
    }
}

#[test]
fn absolute_targets_are_flagged_with_where_they_go() {
    assert_eq!(risks("x", "/usr/lib/libc.so"), [LinkRisk::Absolute]);
    assert_eq!(
        risks("x", "/etc/passwd"),
        [LinkRisk::Absolute, LinkRisk::SystemConfig]
    );
    assert_eq!(
        risks("x", "/proc/self/environ"),
        [LinkRisk::Absolute, LinkRisk::Kernel]
    );
    assert_eq!(
        risks("x", "/home/ade/.ssh/id_ed25519"),
        [LinkRisk::Absolute, LinkRisk::Home, LinkRisk::Ssh]
    );
    assert_eq!(
        risks("x", "/root/.ssh"),
        [LinkRisk::Absolute, LinkRisk::Home, LinkRisk::Ssh]
    );
    assert_eq!(risks("x", "C:\\Windows"), [LinkRisk::Absolute]);
    assert_eq!(risks("x", "\\\\server\\share"), [LinkRisk::Absolute]);
}

#[test]
fn targets_climbing_out_of_the_repository_are_flagged() {
    assert_eq!(
        risks("x", "../other-run/src"),
        [LinkRisk::EscapesRepository, LinkRisk::SiblingWorktree]
    );
    assert_eq!(
        risks("a/b/x", "../../../sibling"),
        [LinkRisk::EscapesRepository, LinkRisk::SiblingWorktree]
    );
    assert_eq!(risks("x", ".."), [LinkRisk::EscapesRepository]);
    assert_eq!(
        risks("x", "../../../../../../etc/shadow"),
        [LinkRisk::EscapesRepository, LinkRisk::SystemConfig]
    );
    assert_eq!(
        risks("x", "a/../../b/../../.ssh"),
        [LinkRisk::Ssh, LinkRisk::EscapesRepository]
    );
}

#[test]
fn home_ssh_and_git_targets_are_flagged_even_inside() {
    assert_eq!(risks("x", "~/.ssh/id_rsa"), [LinkRisk::Home, LinkRisk::Ssh]);
    assert_eq!(risks("x", "~"), [LinkRisk::Home]);
    assert_eq!(risks("x", ".git/config"), [LinkRisk::GitDirectory]);
    assert_eq!(risks("sub/x", "../.GIT/hooks"), [LinkRisk::GitDirectory]);
}

#[test]
fn a_deleted_symlink_is_not_judged_by_its_old_target() {
    let report = guard(vec![file(
        "x",
        ChangeKind::Deleted,
        FileMode::Symlink {
            target: "/etc/passwd".to_owned(),
        },
    )]);
    assert!(report.symlinks.is_empty());
}

#[test]
fn gitlinks_and_gitmodules_are_flagged_not_blocking() {
    let report = guard(vec![
        file("vendor/lib", ChangeKind::Added, FileMode::Submodule),
        regular(".gitmodules", ChangeKind::Modified),
        regular("nested/.gitmodules", ChangeKind::Added),
    ]);
    assert!(!report.blocks());
    assert_eq!(
        report
            .submodules
            .iter()
            .map(|s| (s.path.as_str(), s.gitlink))
            .collect::<Vec<_>>(),
        [
            ("vendor/lib", true),
            (".gitmodules", false),
            ("nested/.gitmodules", false)
        ]
    );
    let text = report.to_string();
    assert!(
        text.contains("submodule: vendor/lib (added gitlink)"),
        "{text}"
    );
    assert!(
        text.contains("submodule: .gitmodules (modified submodule list)"),
        "{text}"
    );
}

#[test]
fn agent_configuration_is_listed_anywhere_in_the_tree_and_does_not_block() {
    let agent = [
        "AGENTS.md",
        "sub/pkg/AGENTS.md",
        "CLAUDE.md",
        "docs/claude.md",
        "GEMINI.md",
        ".claude/settings.json",
        "tools/.claude/commands/x.md",
        ".mcp.json",
        ".cursor/rules/a.mdc",
        ".cursorrules",
        ".github/copilot-instructions.md",
        ".github/instructions/rust.instructions.md",
        ".aider.conf.yml",
        ".codex/config.toml",
        ".opencode/agent/x.md",
        ".goose/config.yaml",
        ".letta/settings.json",
        ".vscode/mcp.json",
    ];
    let ordinary = [
        "README.md",
        "docs/agents.rs",
        "AGENTS.md.bak",
        "src/claude/mod.rs",
        ".github/workflows-docs.md",
    ];
    let files = agent
        .iter()
        .chain(ordinary.iter())
        .map(|p| regular(p, ChangeKind::Modified))
        .collect();
    let report = guard(files);
    assert!(!report.blocks());
    let listed: Vec<&str> = report
        .agent_configuration
        .iter()
        .map(|a| a.path.as_str())
        .collect();
    assert_eq!(listed, agent);
    let body = report.agent_configuration_markdown().expect("a section");
    assert!(body.contains("- `CLAUDE.md` (modified)"), "{body}");
}

#[test]
fn the_markdown_report_names_every_file_and_why() {
    let report = guard(vec![
        regular(".github/workflows/ci.yml", ChangeKind::Modified),
        link("docs/wf", "../.github/workflows"),
        link("key", "/home/u/.ssh/id_rsa"),
        file("vendor/x", ChangeKind::Added, FileMode::Submodule),
        regular("AGENTS.md", ChangeKind::Added),
    ]);
    assert_eq!(
        report.markdown(),
        "**Protected paths changed** (the push is blocked):\n\n\
         - `.github/workflows/ci.yml` (modified), protected by `.github/workflows`\n\
         - `docs/wf` (added symlink to `../.github/workflows`), protected by `.github/workflows`\n\
         \n\
         **Symlinks flagged** (ade never follows them):\n\n\
         - `key` → `/home/u/.ssh/id_rsa`: absolute target, into a home folder, into .ssh\n\
         \n\
         **Submodules changed** (ade never fetches them):\n\n\
         - `vendor/x` (added gitlink)\n\
         \n\
         **Agent configuration changes** (no run uses them before they are merged):\n\n\
         - `AGENTS.md` (added)\n"
    );
}

#[test]
fn hostile_paths_render_on_one_visible_line() {
    let hostile = ".github/workflows/x\n- `fake.yml` (deleted)\u{202e}lmy.exe\u{1b}[2J`";
    let report = guard(vec![
        regular(hostile, ChangeKind::Added),
        link("l\nnk", "/etc/\u{202e}x"),
    ]);
    assert!(report.blocks());
    let markdown = report.markdown();
    for text in [markdown.as_str(), &report.to_string()] {
        assert!(!text.contains('\u{202e}'), "{text}");
        assert!(!text.contains('\u{1b}'), "{text}");
        assert!(text.contains("\\u{202e}"), "{text}");
        assert!(text.contains("x\\n- "), "{text}");
    }
    let lines: Vec<&str> = markdown.lines().filter(|l| l.starts_with("- ")).collect();
    assert_eq!(lines.len(), 2, "{markdown}");
    assert!(
        lines[0].starts_with("- `` .github/workflows/x\\n- `fake.yml`"),
        "{}",
        lines[0]
    );
}
