use super::*;
use crate::runner::changes::{AddedLines, ChangedFile, FileMode, Unread, UnreadWhy};

/// A GitHub classic token assembled at run time, so the source holds nothing that looks live.
fn token() -> String {
    format!("ghp_{}", "Xq7Lm2Vp9Rk4Tz8Wb3Nc6Jd1Hf5Gs0Ya2UeK")
}

fn dlp() -> Dlp {
    Dlp::new(&[]).expect("built-ins compile")
}

fn change_with(path: &str, lines: &[&str]) -> Changes {
    Changes {
        files: vec![ChangedFile {
            path: path.to_owned(),
            change: ChangeKind::Added,
            mode: FileMode::Regular,
        }],
        added: vec![AddedLines {
            path: path.to_owned(),
            lines: lines
                .iter()
                .enumerate()
                .map(|(i, l)| (u32::try_from(i).unwrap() + 10, (*l).to_owned()))
                .collect(),
        }],
        messages: vec![],
        unread: vec![],
    }
}

#[test]
fn a_finding_names_rule_place_line_fingerprint_and_preview_only() {
    let secret = token();
    let report = dlp().scan_changes(&change_with(
        "src/a.rs",
        &["x", &format!("let t = \"{secret}\";")],
    ));
    assert!(report.blocks());
    let expected_fingerprint = hex::encode(&Sha256::digest(secret.as_bytes())[..4]);
    assert_eq!(
        report.findings,
        [Finding {
            rule: "github-personal-access-token".to_owned(),
            place: "src/a.rs".to_owned(),
            line: 11,
            fingerprint: expected_fingerprint,
            preview: "ghp_… (40 chars)".to_owned(),
        }]
    );
}

#[test]
fn the_same_secret_gives_the_same_fingerprint_wherever_it_is() {
    let secret = token();
    let a = dlp().scan_text("pull request body", &format!("token {secret}"));
    let b = dlp().scan_text("comment", &format!("\n\nalso={secret}."));
    assert_eq!(a[0].fingerprint, b[0].fingerprint);
    assert_eq!(b[0].line, 3);
    assert_eq!(b[0].place, "comment");
}

#[test]
fn commit_messages_are_scanned_and_named() {
    let secret = token();
    let mut changes = Changes {
        messages: vec![format!("Fix login\n\nused {secret} to test")],
        ..Changes::default()
    };
    let report = dlp().scan_changes(&changes);
    assert_eq!(report.findings[0].place, "commit message");
    assert_eq!(report.findings[0].line, 3);
    changes.messages.insert(0, "first".to_owned());
    let report = dlp().scan_changes(&changes);
    assert_eq!(report.findings[0].place, "commit message 2");
}

#[test]
fn a_pem_key_is_fingerprinted_by_its_body_and_previewed_by_its_header() {
    let body = [
        "MIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7Mz",
        "aW5nIGEgdGVzdCBrZXkgYm9keSBmb3IgdGhlIGZpbmdlcnByaW50",
    ];
    let scan = |body: &[&str]| {
        let mut lines = vec!["-----BEGIN RSA PRIVATE KEY-----"];
        lines.extend_from_slice(body);
        lines.push("-----END RSA PRIVATE KEY-----");
        dlp().scan_changes(&change_with("id_rsa", &lines))
    };
    let a = scan(&body);
    let b = scan(&body[..1]);
    assert_eq!(a.findings.len(), 1);
    assert_eq!(a.findings[0].rule, "private-key");
    assert_eq!(a.findings[0].line, 10);
    assert!(
        a.findings[0]
            .preview
            .starts_with("-----BEGIN RSA PRIVATE KEY-----… (")
    );
    assert_ne!(a.findings[0].fingerprint, b.findings[0].fingerprint);
    assert!(!format!("{a:?}{a}{}", a.markdown()).contains(body[0]));
}

#[test]
fn overlapping_detectors_report_the_most_specific_once() {
    let key = format!(
        "sk-ant-api03-{}",
        "Zx9Qw8Er7Ty6Ui5Op4As3Df2Gh1Jk0Lz".repeat(2)
    );
    let found = dlp().scan_text("t", &format!("ANTHROPIC_API_KEY={key}"));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].rule, "anthropic-key");
    assert_eq!(found[0].preview, format!("sk-ant-… ({} chars)", key.len()));
}

#[test]
fn policy_rules_take_group_one_or_the_whole_match() {
    let rules = [
        DlpPattern {
            name: "internal-host".to_owned(),
            pattern: r"\b[a-z0-9-]+\.corp\.example\.net\b".to_owned(),
        },
        DlpPattern {
            name: "employee-id".to_owned(),
            pattern: r"EMP-(\d{6})".to_owned(),
        },
    ];
    let dlp = Dlp::new(&rules).unwrap();
    let found = dlp.scan_text("body", "see db-7.corp.example.net for EMP-123456");
    let rules: Vec<_> = found
        .iter()
        .map(|f| (f.rule.as_str(), f.preview.as_str()))
        .collect();
    assert_eq!(
        rules,
        [
            ("internal-host", "… (21 chars)"),
            ("employee-id", "… (6 chars)")
        ]
    );
}

#[test]
fn a_policy_rule_that_does_not_compile_is_an_error_naming_it() {
    let err = Dlp::new(&[DlpPattern {
        name: "broken".to_owned(),
        pattern: "(".to_owned(),
    }])
    .err()
    .expect("an error");
    assert!(err.to_string().contains("`broken`"), "{err}");
}

#[test]
fn a_policy_rule_that_matches_empty_text_finds_nothing() {
    let dlp = Dlp::new(&[DlpPattern {
        name: "empty".to_owned(),
        pattern: "x*".to_owned(),
    }])
    .unwrap();
    assert!(dlp.scan_text("t", "abc").is_empty());
}

#[test]
fn tokens_anywhere_in_a_very_long_line_are_found_once_each() {
    let secret = token();
    for at in [0, WINDOW - 20, WINDOW - OVERLAP + 3, 3 * WINDOW + 17] {
        let mut line = "é".repeat(at / 2);
        line.push_str(&secret);
        line.push_str(&" a".repeat(WINDOW));
        let found = dlp().scan_text("t", &line);
        assert_eq!(found.len(), 1, "token at {at}: {found:?}");
        assert_eq!(found[0].preview, "ghp_… (40 chars)", "token at {at}");
    }
}

#[test]
fn windows_cover_the_line_on_character_boundaries() {
    let line = "ab€".repeat(WINDOW);
    let windows = windows(&line);
    assert!(windows.len() > 2);
    assert_eq!(windows[0].0, 0);
    let mut covered = 0;
    for (offset, window) in &windows {
        assert!(*offset <= covered, "no gap before {offset}");
        assert!(window.len() <= WINDOW);
        covered = offset + window.len();
    }
    assert_eq!(covered, line.len());
}

#[test]
fn findings_past_the_cap_are_counted() {
    let line = format!("{} ", token()).repeat(MAX_FINDINGS + 7);
    let report = dlp().scan_changes(&change_with("f", &[&line]));
    assert_eq!(report.findings.len(), MAX_FINDINGS);
    assert_eq!(report.omitted, 7);
    assert!(report.blocks());
    assert!(report.markdown().contains("- and 7 more"));
}

#[test]
fn suppression_markers_do_not_hide_a_secret_and_are_listed() {
    let secret = token();
    let mut changes = change_with(
        "src/a.rs",
        &[&format!("let t = \"{secret}\"; // gitleaks:allow")],
    );
    changes.files.push(ChangedFile {
        path: "sub/.gitleaksignore".to_owned(),
        change: ChangeKind::Added,
        mode: FileMode::Regular,
    });
    changes.files.push(ChangedFile {
        path: ".trufflehogignore".to_owned(),
        change: ChangeKind::Deleted,
        mode: FileMode::Regular,
    });
    let report = dlp().scan_changes(&changes);
    assert!(report.blocks());
    assert_eq!(report.findings.len(), 1);
    assert_eq!(
        report.suppressions,
        [
            Suppression {
                place: "sub/.gitleaksignore".to_owned(),
                line: None,
                marker: "scanner ignore file".to_owned(),
            },
            Suppression {
                place: "src/a.rs".to_owned(),
                line: Some(10),
                marker: "gitleaks:allow".to_owned(),
            },
        ]
    );
}

#[test]
fn a_marker_alone_is_listed_but_does_not_block() {
    let report = dlp().scan_changes(&change_with("a.py", &["x = 1  # nosec"]));
    assert!(!report.blocks());
    assert_eq!(report.suppressions.len(), 1);
    assert_eq!(
        report.to_string(),
        "suppression ignored: nosec in a.py line 10\n"
    );
}

#[test]
fn odd_text_never_panics() {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let dlp = dlp();
    for _ in 0..200 {
        let bytes: Vec<u8> = (0..512)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 24) as u8
            })
            .collect();
        let text = String::from_utf8_lossy(&bytes);
        let _ = dlp.scan_text("fuzz", &text);
    }
    for text in [
        "",
        "\n\n\n",
        "-----BEGIN PRIVATE KEY-----",
        "ghp_",
        "github_pat_",
        "ghs_.",
        "password=",
        "\u{0}\u{ffff}",
    ] {
        let _ = dlp.scan_text("edge", text);
    }
}

#[test]
fn rendering_escapes_hostile_places() {
    let report = dlp().scan_changes(&change_with("a\n- fake\u{202e}.rs", &[&token()]));
    let markdown = report.markdown();
    assert_eq!(
        markdown.lines().filter(|l| l.starts_with("- ")).count(),
        1,
        "{markdown}"
    );
    assert!(markdown.contains("`a\\n- fake\\u{202e}.rs`"), "{markdown}");
}

#[test]
fn a_secret_in_a_path_is_a_finding_and_never_shown_in_the_place() {
    let secret = token();
    let path = format!("notes/{secret}.txt");
    let mut changes = change_with(&path, &["password = \"a8Kq2LmT9rKp4WzN7bYc\""]);
    changes.files.push(ChangedFile {
        path: format!("{secret}/.gitleaksignore"),
        change: ChangeKind::Added,
        mode: FileMode::Regular,
    });
    let report = dlp().scan_changes(&changes);
    let places: Vec<(&str, u32, &str)> = report
        .findings
        .iter()
        .map(|f| (f.place.as_str(), f.line, f.rule.as_str()))
        .collect();
    assert_eq!(
        places,
        [
            (
                "notes/[redacted github-personal-access-token].txt",
                0,
                "github-personal-access-token"
            ),
            (
                "[redacted github-personal-access-token]/.gitleaksignore",
                0,
                "github-personal-access-token"
            ),
            (
                "notes/[redacted github-personal-access-token].txt",
                10,
                "secret-assignment"
            ),
        ]
    );
    assert_eq!(
        report.suppressions[0].place,
        "[redacted github-personal-access-token]/.gitleaksignore"
    );
    let shown = format!("{report:?}{report}{}", report.markdown());
    assert!(!shown.contains(&secret));
}

#[test]
fn redact_replaces_every_secret_and_keeps_the_rest() {
    let secret = token();
    let text = format!("first line\nuse {secret} and {secret}\nlast");
    assert_eq!(
        dlp().redact(&text),
        "first line\nuse [redacted github-personal-access-token] and \
         [redacted github-personal-access-token]\nlast"
    );
    assert_eq!(dlp().redact("nothing here\n"), "nothing here\n");
}

#[test]
fn a_pem_body_is_read_only_so_far() {
    let long = "QUJD".repeat(10_000);
    let header = "-----BEGIN PRIVATE KEY-----";
    let lines: Vec<&str> = std::iter::repeat_n([header, long.as_str()], 300)
        .flatten()
        .collect();
    let report = dlp().scan_changes(&change_with("k", &lines));
    assert_eq!(report.findings.len(), 300);
    let longest = header.len() + 1 + MAX_KEY_BYTES;
    for f in &report.findings {
        assert_eq!(f.preview, format!("{header}… ({longest} chars)"));
    }
}

#[test]
fn a_secret_as_a_symlink_target_is_found() {
    let changes = Changes {
        files: vec![ChangedFile {
            path: "l".to_owned(),
            change: ChangeKind::Added,
            mode: FileMode::Symlink {
                target: format!("../{}", token()),
            },
        }],
        ..Changes::default()
    };
    let report = dlp().scan_changes(&changes);
    assert_eq!(report.findings.len(), 1);
    assert_eq!(report.findings[0].place, "l (symlink target)");
}

fn unread(path: &str, why: UnreadWhy) -> Unread {
    Unread {
        path: path.to_owned(),
        why,
    }
}

/// A change that adds `path`, whose content was not read for `why`.
fn unreadable(path: &str, why: UnreadWhy) -> Changes {
    Changes {
        files: vec![ChangedFile {
            path: path.to_owned(),
            change: ChangeKind::Added,
            mode: FileMode::Regular,
        }],
        unread: vec![unread(path, why)],
        ..Changes::default()
    }
}

#[test]
fn a_binary_file_blocks_the_push_saying_what_makes_it_binary() {
    let report = dlp().scan_changes(&unreadable(
        "assets/logo.png",
        UnreadWhy::Binary { nul_at: 4 },
    ));
    assert!(report.blocks() && report.blocks_unscanned() && !report.finds_secrets());
    assert_eq!(
        report.markdown(),
        "**Not scanned** (ade could not read these, so the push is blocked):\n\n\
         - `assets/logo.png`: binary (a NUL byte at offset 4), so it was not read\n"
    );
    assert_eq!(
        report.to_string(),
        "unscanned: assets/logo.png: binary (a NUL byte at offset 4), so it was not read\n"
    );
}

#[test]
fn a_file_past_a_cap_blocks_the_push_naming_the_cap() {
    let cases = [
        (
            UnreadWhy::TooBig { bytes: 600 << 20 },
            "629145600 bytes, more than git reads to diff (512 MiB), so it was not read",
        ),
        (
            UnreadWhy::FileCap { cap: 512 * 1024 },
            "its added lines pass the 512 KiB ade scans in one file; the rest was not read",
        ),
        (
            UnreadWhy::TotalCap { cap: 8 << 20 },
            "the change's added lines passed the 8 MiB ade scans in one change here; the rest \
             was not read",
        ),
        (
            UnreadWhy::LinkTarget { cap: 4096 },
            "a symlink target longer than the 4096 bytes ade reads",
        ),
    ];
    for (why, said) in cases {
        let report = dlp().scan_changes(&unreadable("data/big.json", why));
        assert!(report.blocks(), "{why:?}");
        assert!(
            report
                .markdown()
                .contains(&format!("- `data/big.json`: {said}\n")),
            "{}",
            report.markdown()
        );
    }
}

#[test]
fn allowed_unscanned_content_passes_but_a_secret_still_blocks() {
    let mut changes = change_with("config/app.env", &[&format!("TOKEN={}", token())]);
    changes.files.push(ChangedFile {
        path: "logo.png".to_owned(),
        change: ChangeKind::Added,
        mode: FileMode::Regular,
    });
    changes
        .unread
        .push(unread("logo.png", UnreadWhy::Binary { nul_at: 0 }));
    let mut report = dlp().scan_changes(&changes);
    report.allow_unscanned("mia");
    assert!(!report.blocks_unscanned() && report.has_unscanned());
    assert!(report.blocks(), "the secret in the text file still blocks");
    let markdown = report.markdown();
    assert!(markdown.starts_with("**Secrets found**"), "{markdown}");
    assert!(
        markdown.contains(
            "**Not scanned** (pushed unread: `mia` allowed it for this task):\n\n\
             - `logo.png`: binary"
        ),
        "{markdown}"
    );

    changes.added.clear();
    let mut report = dlp().scan_changes(&changes);
    assert!(report.blocks());
    report.allow_unscanned("mia");
    assert!(
        !report.blocks(),
        "only unscanned content, and it is allowed"
    );
}

#[test]
fn hostile_unscanned_paths_are_escaped_and_secrets_in_them_redacted() {
    let hostile = "a\nb`c``@everyone\u{202e}gnp.exe";
    let secret_path = format!("keys/{}.bin", token());
    let changes = Changes {
        files: [hostile, secret_path.as_str()]
            .map(|path| ChangedFile {
                path: path.to_owned(),
                change: ChangeKind::Added,
                mode: FileMode::Regular,
            })
            .to_vec(),
        unread: vec![
            unread(hostile, UnreadWhy::Binary { nul_at: 1 }),
            unread(&secret_path, UnreadWhy::Binary { nul_at: 2 }),
        ],
        ..Changes::default()
    };
    let report = dlp().scan_changes(&changes);
    let markdown = report.markdown();
    assert!(
        markdown.contains("- ```a\\nb`c``@everyone\\u{202e}gnp.exe```: binary"),
        "{markdown}"
    );
    assert!(
        markdown.contains("- `keys/[redacted github-personal-access-token].bin`: binary"),
        "{markdown}"
    );
    let plain = report.to_string();
    for text in [&markdown, &plain] {
        assert!(!text.contains(&token()), "{text}");
        assert!(!text.contains('\u{202e}'), "{text}");
    }
    assert!(
        plain.contains("unscanned: a\\nb`c``@everyone\\u{202e}gnp.exe: binary"),
        "{plain}"
    );
}

#[test]
fn unscanned_paths_past_the_cap_are_counted() {
    let changes = Changes {
        unread: (0..MAX_UNSCANNED + 7)
            .map(|i| unread(&format!("f{i}"), UnreadWhy::TotalCap { cap: 8 }))
            .collect(),
        ..Changes::default()
    };
    let report = dlp().scan_changes(&changes);
    assert_eq!(report.unscanned.len(), MAX_UNSCANNED);
    assert_eq!(report.omitted_unscanned, 7);
    assert!(report.blocks());
    assert!(report.markdown().ends_with("- and 7 more\n"));
}
