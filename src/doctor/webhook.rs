//! Whether the forge sends ade its webhooks: a webhook that points at `server.public_url` and
//! the forge's path, is active, sends the events ade acts on, and is signed with a secret ade
//! knows. GitHub App webhooks are part of the app (its URL and whether a secret is set show in
//! `GET /app/hook/config`; its events are the installation's; whether it is active is not
//! shown); Gitea's are the repository's hooks, whose secret Gitea never shows.

use super::report::shown;
use super::{Client, Context, Finding, Report, forge_failure};
use crate::forge::ForgeError;
use crate::forge::github::permissions::EVENTS;
use crate::forge::setup::{SecretShown, WebhookSetup};

/// The events ade needs from Gitea and Forgejo, each met by any of its names: the hook's
/// `events` shows Gitea's fine event types, or the grouped name its settings page offers.
const GITEA_EVENTS: &[(&str, &[&str])] = &[
    ("issues", &["issues"]),
    ("issue_comment", &["issue_comment"]),
    ("pull_request", &["pull_request"]),
    ("pull_request_sync", &["pull_request_sync"]),
    ("pull_request_comment", &["pull_request_comment"]),
    (
        "pull_request_review_approved",
        &["pull_request_review_approved", "pull_request_review"],
    ),
    (
        "pull_request_review_rejected",
        &["pull_request_review_rejected", "pull_request_review"],
    ),
    (
        "pull_request_review_comment",
        &["pull_request_review_comment", "pull_request_review"],
    ),
    ("push", &["push"]),
];

/// Runs the webhook checks.
pub(super) async fn check(context: &Context<'_>, report: &mut Report) {
    let public_url = context.config.server.public_url.as_deref();
    match &context.client {
        Client::Github(github) => {
            secrets_configured(
                !context.config.github.webhook_secrets.is_empty(),
                "github",
                report,
            );
            match github.app_webhook().await {
                Ok(hook) => {
                    report.push(judge_url(
                        public_url,
                        "/webhooks/github",
                        &hook,
                        " (GitHub's API does not show whether the app's webhook is active: see Active on the app's settings page)",
                    ));
                    report.push(judge_secret(
                        hook.secret,
                        "the app's settings page (Webhook secret)",
                    ));
                }
                Err(error) => report.push(forge_failure(
                    "webhook.url",
                    &error,
                    "the app's webhook configuration",
                )),
            }
            match github.installation_access(&context.repo).await {
                Ok(installation) => report.push(judge_github_events(&installation.events)),
                Err(error) => report.push(forge_failure(
                    "webhook.events",
                    &error,
                    "the installation's events",
                )),
            }
        }
        Client::Gitea(gitea) => {
            secrets_configured(
                !context.config.gitea.webhook_secrets.is_empty(),
                "gitea",
                report,
            );
            let hooks = match gitea.list_hooks(&context.repo).await {
                Ok(hooks) => hooks,
                Err(error @ ForgeError::Forbidden(_)) => {
                    report.push(Finding::problem(
                        "webhook.url",
                        format!(
                            "the forge does not show ade's bot the repository's webhooks: {}",
                            super::report::error_text(&error)
                        ),
                        "make the bot user an admin collaborator of the repository",
                    ));
                    return;
                }
                Err(error) => {
                    report.push(forge_failure(
                        "webhook.url",
                        &error,
                        "the repository's webhooks",
                    ));
                    return;
                }
            };
            let (Some(hook), count) = pick(&hooks, public_url, "/webhooks/gitea") else {
                report.push(no_hook(&hooks, public_url));
                return;
            };
            report.push(judge_url(public_url, "/webhooks/gitea", hook, ""));
            if let Some(finding) = judge_duplicates(count) {
                report.push(finding);
            }
            report.push(judge_active(hook));
            report.push(judge_gitea_events(
                hook.events.as_deref().unwrap_or_default(),
            ));
            if let Some(finding) = judge_branch_filter(hook) {
                report.push(finding);
            }
            report.push(judge_secret(hook.secret, "the hook's settings (Secret)"));
        }
    }
}

/// ade refuses every delivery of a forge it has no secret for.
fn secrets_configured(configured: bool, forge: &str, report: &mut Report) {
    if !configured {
        report.push(Finding::problem(
            "webhook.secret",
            format!("ade.toml has no [{forge}] webhook_secret: ade refuses every delivery from this forge"),
            format!("set [{forge}] webhook_secret (or webhook_secret_file) to the secret the forge signs with"),
        ));
    }
}

/// The URL a webhook must have: `server.public_url` and the forge's path.
fn expected(public_url: Option<&str>, path: &str) -> Option<String> {
    public_url.map(|base| format!("{}{path}", base.trim_end_matches('/')))
}

/// A URL split into what comparing it may ignore the case of (scheme and host, a default port
/// dropped) and the rest, compared exactly: ade's routes answer 404 to any other path, a
/// trailing slash included.
fn url_key(url: &str) -> (String, String, &str) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (String::new(), String::new(), url);
    };
    let scheme = scheme.to_ascii_lowercase();
    let split = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(split);
    let mut authority = authority.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => ":443",
        "http" => ":80",
        _ => "",
    };
    if !default_port.is_empty() && authority.ends_with(default_port) {
        authority.truncate(authority.len() - default_port.len());
    }
    (scheme, authority, tail)
}

fn same_url(a: &str, b: &str) -> bool {
    url_key(a) == url_key(b)
}

/// The path of a URL, without its query or fragment.
fn url_path(url: &str) -> &str {
    let tail = url_key(url).2;
    &tail[..tail.find(['?', '#']).unwrap_or(tail.len())]
}

/// Whether `url` is `want` but for a trailing slash, to which ade answers 404.
fn slash_added(url: &str, want: &str) -> bool {
    url.ends_with('/') && same_url(url.trim_end_matches('/'), want)
}

/// A hook URL as it may be shown: scheme, host and path, without user, password, query or
/// fragment, which may hold the hook's credentials.
fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "(a URL ade cannot read)".to_owned();
    };
    let split = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(split);
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let path = &tail[..tail.find(['?', '#']).unwrap_or(tail.len())];
    format!("{scheme}://{host}{path}")
}

/// The repository hooks that deliver to ade, and the one judged: the hooks at the expected URL
/// (else, without a public URL to compare with, those whose path is the forge's), an active one of
/// Gitea's type first; failing those, one at the expected URL with a trailing slash, whose 404s
/// the judgement then names.
fn pick<'h>(
    hooks: &'h [WebhookSetup],
    public_url: Option<&str>,
    path: &str,
) -> (Option<&'h WebhookSetup>, usize) {
    let matching: Vec<&WebhookSetup> = match expected(public_url, path) {
        Some(url) => hooks.iter().filter(|h| same_url(&h.url, &url)).collect(),
        None => hooks
            .iter()
            .filter(|h| url_path(&h.url).ends_with(path))
            .collect(),
    };
    let best = matching
        .iter()
        .find(|h| h.active != Some(false) && gitea_kind(h))
        .or(matching.first())
        .copied();
    if best.is_some() {
        return (best, matching.len());
    }
    let slashed = match expected(public_url, path) {
        Some(url) => hooks.iter().find(|h| slash_added(&h.url, &url)),
        None => hooks
            .iter()
            .find(|h| url_path(&h.url).trim_end_matches('/').ends_with(path)),
    };
    (slashed, usize::from(slashed.is_some()))
}

/// Whether a hook sends Gitea's payloads and signature (a hook without a type is taken to).
fn gitea_kind(hook: &WebhookSetup) -> bool {
    hook.kind
        .as_deref()
        .is_none_or(|kind| matches!(kind, "gitea" | "forgejo"))
}

/// Several hooks to ade each deliver every event, so ade acts on each event several times.
fn judge_duplicates(count: usize) -> Option<Finding> {
    (count > 1).then(|| {
        Finding::warning(
            "webhook.url",
            format!("{count} webhooks deliver to ade: every event arrives {count} times"),
            "delete all but one of them in the repository's settings (Webhooks)",
        )
    })
}

/// A Gitea hook's branch filter also filters pushes: pushes to ade's own branches may never reach
/// it.
fn judge_branch_filter(hook: &WebhookSetup) -> Option<Finding> {
    let filter = hook.branch_filter.as_deref()?.trim();
    if filter.is_empty() || filter == "*" {
        return None;
    }
    Some(Finding::warning(
        "webhook.events",
        format!(
            "the webhook sends pushes only of branches matching {}: pushes to ade's branches may never reach ade",
            shown(filter)
        ),
        "clear the webhook's branch filter (or set it to *)",
    ))
}

fn no_hook(hooks: &[WebhookSetup], public_url: Option<&str>) -> Finding {
    let target = expected(public_url, "/webhooks/gitea")
        .unwrap_or_else(|| "https://<ade>/webhooks/gitea".to_owned());
    let found = match hooks.len() {
        0 => "the repository has no webhooks".to_owned(),
        n => {
            let elsewhere: Vec<String> = hooks
                .iter()
                .filter(|h| {
                    url_path(&h.url)
                        .trim_end_matches('/')
                        .ends_with("/webhooks/gitea")
                })
                .map(|h| shown(&redacted(&h.url)))
                .collect();
            let others = if n == 1 {
                "its 1 webhook goes elsewhere".to_owned()
            } else {
                format!("its {n} webhooks go elsewhere")
            };
            if elsewhere.is_empty() {
                others
            } else {
                format!(
                    "{others} (ade's path at another address: {})",
                    elsewhere.join(", ")
                )
            }
        }
    };
    Finding::problem(
        "webhook.url",
        format!("no webhook delivers to ade: {found}"),
        format!(
            "add a Gitea webhook (Settings, Webhooks) with target URL {target}, content type application/json, the secret of [gitea] webhook_secret, and the events in docs/doctor.md"
        ),
    )
}

/// Whether the hook's URL is ade's. Only its scheme, host and path are ever shown: the rest may
/// hold credentials.
fn judge_url(public_url: Option<&str>, path: &str, hook: &WebhookSetup, note: &str) -> Finding {
    let url = shown(&redacted(&hook.url));
    if !gitea_kind(hook) {
        return Finding::problem(
            "webhook.url",
            format!(
                "the webhook to {url} is of type {}, which does not send Gitea's payloads and signature",
                shown(hook.kind.as_deref().unwrap_or_default())
            ),
            "replace it with a webhook of type Gitea (or Forgejo)",
        );
    }
    let Some(want) = expected(public_url, path) else {
        if url_path(&hook.url).ends_with(path) {
            return Finding::warning(
                "webhook.url",
                format!(
                    "the webhook goes to {url}; server.public_url is not set, so ade cannot tell whether that is this ade{note}"
                ),
                "set server.public_url in ade.toml to the URL the forge reaches ade at",
            );
        }
        if url_path(&hook.url).trim_end_matches('/').ends_with(path) {
            return Finding::problem(
                "webhook.url",
                format!(
                    "the webhook goes to {url}, whose trailing slash ade answers with 404{note}"
                ),
                format!("remove the trailing slash: point it at https://<ade>{path}"),
            );
        }
        return Finding::problem(
            "webhook.url",
            format!("the webhook goes to {url}, not to a path {path}{note}"),
            format!(
                "point it at https://<ade>{path}, and set server.public_url so ade doctor can check it"
            ),
        );
    };
    if hook.url.is_empty() {
        return Finding::problem(
            "webhook.url",
            format!("the webhook has no URL{note}"),
            format!("set the webhook URL to {want}"),
        );
    }
    if slash_added(&hook.url, &want) {
        return Finding::problem(
            "webhook.url",
            format!("the webhook goes to {url}, whose trailing slash ade answers with 404{note}"),
            format!("set the webhook URL to {want}"),
        );
    }
    if !same_url(&hook.url, &want) {
        return Finding::problem(
            "webhook.url",
            format!("the webhook goes to {url}, not to {}{note}", shown(&want)),
            format!("set the webhook URL to {want}"),
        );
    }
    if hook.insecure_tls {
        return Finding::warning(
            "webhook.url",
            format!(
                "the webhook goes to {} without checking its TLS certificate{note}",
                shown(&want)
            ),
            "turn SSL verification on in the webhook's settings",
        );
    }
    Finding::ok(
        "webhook.url",
        format!("the webhook goes to {}{note}", shown(&want)),
    )
}

fn judge_active(hook: &WebhookSetup) -> Finding {
    match hook.active {
        Some(false) => Finding::problem(
            "webhook.active",
            "the webhook is not active: the forge sends nothing",
            "tick Active in the webhook's settings",
        ),
        _ => Finding::ok("webhook.active", "the webhook is active"),
    }
}

fn judge_secret(secret: SecretShown, where_: &str) -> Finding {
    match secret {
        SecretShown::Set => Finding::ok(
            "webhook.secret",
            "the webhook has a secret (ade checks every delivery's signature with its own)",
        ),
        SecretShown::Unset => Finding::problem(
            "webhook.secret",
            "the webhook has no secret: its deliveries are unsigned and ade refuses them",
            format!("set the same secret as ade's webhook_secret in {where_}"),
        ),
        SecretShown::Hidden => Finding::ok(
            "webhook.secret",
            "the forge does not show a webhook's secret, so ade cannot compare it; a wrong one shows as 401 answers in ade's log and in ade_webhook_signature_failures_total",
        ),
    }
}

/// The installation's events against the ones ade acts on.
fn judge_github_events(events: &[String]) -> Finding {
    let missing: Vec<&str> = EVENTS
        .iter()
        .copied()
        .filter(|e| !events.iter().any(|g| g == e))
        .collect();
    if missing.is_empty() {
        return Finding::ok(
            "webhook.events",
            format!(
                "the installation receives every event ade acts on ({})",
                EVENTS.join(", ")
            ),
        );
    }
    Finding::problem(
        "webhook.events",
        format!("the installation does not receive {}", missing.join(", ")),
        "subscribe to them in the app's settings (Permissions & events, Subscribe to events), then accept the change on the installation",
    )
}

/// The hook's events against the ones ade acts on.
fn judge_gitea_events(events: &[String]) -> Finding {
    let missing: Vec<&str> = GITEA_EVENTS
        .iter()
        .filter(|(_, names)| !names.iter().any(|n| events.iter().any(|e| e == n)))
        .map(|(name, _)| *name)
        .collect();
    if missing.is_empty() {
        return Finding::ok(
            "webhook.events",
            "the webhook sends every event ade acts on",
        );
    }
    Finding::problem(
        "webhook.events",
        format!("the webhook does not send {}", missing.join(", ")),
        "in the webhook's settings choose \"All events\", or custom events with issues, issue comments, pull requests, pull request synchronized, pull request comments, pull request reviews and push",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Status;

    fn hook(url: &str) -> WebhookSetup {
        WebhookSetup {
            kind: Some("gitea".into()),
            url: url.into(),
            content_type: Some("json".into()),
            events: Some(Vec::new()),
            active: Some(true),
            secret: SecretShown::Hidden,
            insecure_tls: false,
            branch_filter: None,
        }
    }

    #[test]
    fn the_url_must_be_the_public_url_and_the_forge_path() {
        let public = Some("https://ade.example.com/");
        let path = "/webhooks/gitea";
        assert_eq!(
            judge_url(
                public,
                path,
                &hook("https://ade.example.com/webhooks/gitea"),
                ""
            )
            .status,
            Status::Ok
        );
        let wrong = judge_url(
            public,
            path,
            &hook("https://old.example.com/webhooks/gitea"),
            "",
        );
        assert_eq!(wrong.status, Status::Problem);
        assert!(
            wrong
                .fix
                .unwrap()
                .contains("https://ade.example.com/webhooks/gitea")
        );
        assert_eq!(
            judge_url(None, path, &hook("https://x/webhooks/gitea"), "").status,
            Status::Warning
        );
        assert_eq!(
            judge_url(None, path, &hook("https://x/hook"), "").status,
            Status::Problem
        );
        let mut slack = hook("https://ade.example.com/webhooks/gitea");
        slack.kind = Some("slack".into());
        assert_eq!(judge_url(public, path, &slack, "").status, Status::Problem);
        let mut insecure = hook("https://ade.example.com/webhooks/gitea");
        insecure.insecure_tls = true;
        assert_eq!(
            judge_url(public, path, &insecure, "").status,
            Status::Warning
        );
    }

    #[test]
    fn the_hook_delivering_to_ade_is_picked_among_others() {
        let public = Some("https://ade.example.com");
        let path = "/webhooks/gitea";
        let mut inactive = hook("https://ade.example.com/webhooks/gitea");
        inactive.active = Some(false);
        let mut slack = hook("HTTPS://Ade.Example.com:443/webhooks/gitea");
        slack.kind = Some("slack".into());
        let hooks = vec![
            hook("https://chat.example/x"),
            inactive,
            slack,
            hook("https://ADE.example.com/webhooks/gitea"),
        ];
        let (found, count) = pick(&hooks, public, path);
        assert_eq!(found.unwrap().url, "https://ADE.example.com/webhooks/gitea");
        assert_eq!(count, 3);
        assert_eq!(judge_duplicates(count).unwrap().status, Status::Warning);
        assert!(judge_duplicates(1).is_none());
        assert_eq!(pick(&hooks[..1], public, path), (None, 0));
        assert_eq!(no_hook(&hooks[..1], None).status, Status::Problem);
        let (found, _) = pick(&hooks, None, path);
        assert_eq!(found.unwrap().url, "https://ADE.example.com/webhooks/gitea");
        let proxied = vec![hook("https://host.example/ade/webhooks/gitea?x=1")];
        let (found, _) = pick(&proxied, None, path);
        assert_eq!(
            judge_url(None, path, found.unwrap(), "").status,
            Status::Warning
        );
    }

    #[test]
    fn a_trailing_slash_is_a_problem_because_ade_answers_404() {
        let public = Some("https://ade.example.com");
        let path = "/webhooks/gitea";
        let hooks = vec![hook("https://ade.example.com/webhooks/gitea/")];
        let (found, count) = pick(&hooks, public, path);
        assert_eq!(count, 1);
        let finding = judge_url(public, path, found.unwrap(), "");
        assert_eq!(finding.status, Status::Problem);
        assert!(finding.message.contains("404"), "{}", finding.message);
        let finding = judge_url(None, path, found.unwrap(), "");
        assert_eq!(finding.status, Status::Problem);
        assert!(!same_url(
            "https://ade.example.com/webhooks/gitea",
            "https://ade.example.com/webhooks/gitea?x=1"
        ));
        assert!(same_url(
            "HTTP://ade.example.com:80/webhooks/gitea",
            "http://ade.example.com/webhooks/gitea"
        ));
        assert!(!same_url(
            "https://ade.example.com:8443/webhooks/gitea",
            "https://ade.example.com/webhooks/gitea"
        ));
    }

    #[test]
    fn other_hooks_urls_never_reach_the_report() {
        let hooks = vec![
            hook("https://hooks.slack.com/services/T000/B000/XXXXSECRETXXXX"),
            hook("https://discord.com/api/webhooks/1/discordsecret"),
            hook("https://bob:hunter2@old.example.com/webhooks/gitea?token=tok3n#frag"),
        ];
        let finding = no_hook(&hooks, Some("https://ade.example.com"));
        let text = format!("{} {}", finding.message, finding.fix.unwrap_or_default());
        for secret in [
            "XXXXSECRETXXXX",
            "discordsecret",
            "hunter2",
            "bob",
            "tok3n",
            "frag",
        ] {
            assert!(!text.contains(secret), "{text}");
        }
        assert!(text.contains("3 webhooks"), "{text}");
        assert!(
            text.contains("https://old.example.com/webhooks/gitea"),
            "{text}"
        );
        let wrong = judge_url(
            Some("https://ade.example.com"),
            "/webhooks/gitea",
            &hooks[2],
            "",
        );
        assert!(!wrong.message.contains("hunter2") && !wrong.message.contains("tok3n"));
    }

    #[test]
    fn a_branch_filter_narrower_than_every_branch_is_a_warning() {
        let mut filtered = hook("https://ade.example.com/webhooks/gitea");
        assert!(judge_branch_filter(&filtered).is_none());
        filtered.branch_filter = Some("*".into());
        assert!(judge_branch_filter(&filtered).is_none());
        filtered.branch_filter = Some(String::new());
        assert!(judge_branch_filter(&filtered).is_none());
        filtered.branch_filter = Some("main".into());
        assert_eq!(
            judge_branch_filter(&filtered).unwrap().status,
            Status::Warning
        );
    }

    #[test]
    fn events_are_named_when_missing() {
        let all: Vec<String> = EVENTS.iter().map(|e| e.to_string()).collect();
        assert_eq!(judge_github_events(&all).status, Status::Ok);
        let finding = judge_github_events(&all[1..]);
        assert_eq!(finding.status, Status::Problem);
        assert!(finding.message.ends_with(EVENTS[0]), "{}", finding.message);

        let grouped: Vec<String> = [
            "issues",
            "issue_comment",
            "pull_request",
            "pull_request_sync",
            "pull_request_comment",
            "pull_request_review",
            "push",
        ]
        .iter()
        .map(|e| e.to_string())
        .collect();
        assert_eq!(judge_gitea_events(&grouped).status, Status::Ok);
        let finding = judge_gitea_events(&grouped[..3]);
        assert!(
            finding.message.contains("pull_request_sync"),
            "{}",
            finding.message
        );
        assert!(finding.message.contains("push"), "{}", finding.message);
    }

    #[test]
    fn an_unset_secret_is_a_problem_and_a_hidden_one_is_said_to_be_unchecked() {
        assert_eq!(judge_secret(SecretShown::Set, "x").status, Status::Ok);
        assert_eq!(
            judge_secret(SecretShown::Unset, "x").status,
            Status::Problem
        );
        let hidden = judge_secret(SecretShown::Hidden, "x");
        assert!(hidden.message.contains("cannot compare"));
    }
}
