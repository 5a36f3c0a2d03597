//! `ade doctor`: tells an operator, for one repository, whether the forge and ade are set up so
//! that ade can work there and so that branch protection keeps a human review between every
//! agent and the default branch. Each finding is ok, a warning, or a problem with how to fix it
//! (docs/doctor.md).
//!
//! One file per group of checks: `access.rs` (the forge answers and ade's credentials and
//! permissions work), `webhook.rs`, `protection.rs`, `workflows.rs` (CI that would hand
//! repository secrets to code an agent wrote), `policy.rs` (`.ade/config.toml`), `agents.rs`
//! (the registered agents' programs), `files.rs` (ade's secrets are in files only its user may
//! read); `report.rs` is the findings and how they print.

mod access;
mod agents;
mod files;
mod policy;
mod protection;
mod report;
mod webhook;
mod workflows;

pub use report::{Finding, Format, Report, Status, shown};

use crate::config::Config;
use crate::forge::gitea::GiteaForge;
use crate::forge::github::GithubForge;
use crate::forge::{ClientOptions, Forge, ForgeError, ForgeKind, RepoRef, RetryPolicy};
use std::time::Duration;

/// The forge client the doctor talks through: the checks need each client's own setup reads
/// besides the [`Forge`] trait.
enum Client {
    Github(Box<GithubForge>),
    Gitea(Box<GiteaForge>),
}

impl Client {
    fn forge(&self) -> &dyn Forge {
        match self {
            Client::Github(github) => github.as_ref(),
            Client::Gitea(gitea) => gitea.as_ref(),
        }
    }

    fn kind(&self) -> ForgeKind {
        self.forge().kind()
    }
}

/// What every group of checks reads: the configuration, the repository and the client.
struct Context<'a> {
    config: &'a Config,
    repo: RepoRef,
    client: Client,
}

/// The forge `ade doctor` examines: the one asked for, else the only one configured. An error
/// says what to pass instead.
pub fn choose_forge(config: &Config, asked: Option<ForgeKind>) -> Result<ForgeKind, String> {
    let github = config.github.app_id.is_some();
    let gitea = config.gitea.url.is_some();
    match (asked, github, gitea) {
        (Some(ForgeKind::Github), false, _) => {
            Err("--forge github: ade.toml has no [github] app_id".into())
        }
        (Some(ForgeKind::Gitea), _, false) => Err("--forge gitea: ade.toml has no [gitea] url".into()),
        (Some(kind), _, _) => Ok(kind),
        (None, true, false) => Ok(ForgeKind::Github),
        (None, false, true) => Ok(ForgeKind::Gitea),
        (None, true, true) => {
            Err("ade.toml configures both GitHub and Gitea: pass --forge github or --forge gitea".into())
        }
        (None, false, false) => Err(
            "ade.toml configures no forge: set [github] app_id and private_key_file, or [gitea] url and token"
                .into(),
        ),
    }
}

/// Client options for a one-off diagnosis: a forge that fails is reported, not waited for.
fn client_options() -> ClientOptions {
    ClientOptions {
        retry: RetryPolicy {
            budget: Duration::from_secs(20),
            transient_retries: 1,
            rate_limit_retries: 1,
            backoff_base: Duration::from_millis(200),
            backoff_max: Duration::from_secs(2),
            request_timeout: Duration::from_secs(15),
        },
        ..ClientOptions::default()
    }
}

/// Runs every check for the repository `repo` (`owner/name`) on `forge` and returns what was
/// found. Never fails: a forge that answers badly is a problem finding naming the call.
pub async fn run(config: &Config, forge: ForgeKind, repo: &str) -> Report {
    let mut report = Report::new(repo, forge);
    let Some(repo) = RepoRef::parse(repo, None) else {
        report.push(Finding::problem(
            "repository",
            format!("{} is not OWNER/NAME", report::shown(&report.repository)),
            "pass --repo OWNER/NAME, e.g. --repo acme/widgets",
        ));
        return report;
    };
    let built = match forge {
        ForgeKind::Github => {
            GithubForge::new(&config.github, client_options()).map(|c| Client::Github(Box::new(c)))
        }
        ForgeKind::Gitea => {
            GiteaForge::new(&config.gitea, client_options()).map(|c| Client::Gitea(Box::new(c)))
        }
    };
    match built {
        Ok(client) => {
            let context = Context {
                config,
                repo,
                client,
            };
            forge_checks(&context, &mut report).await;
        }
        Err(error) => report.push(Finding::problem(
            "credentials",
            format!("ade cannot build its {forge} client: {}", report::error_text(&error)),
            match forge {
                ForgeKind::Github => "set [github] app_id and private_key_file to the GitHub App's id and a readable PEM key",
                ForgeKind::Gitea => "set [gitea] url and token (the bot user's API token)",
            },
        )),
    }
    agents::check(config, &mut report).await;
    files::check(config, &mut report);
    report
}

/// The checks that ask the forge, in order; later ones are skipped when an earlier one shows the
/// forge cannot be asked at all.
async fn forge_checks(context: &Context<'_>, report: &mut Report) {
    if !access::credentials(context, report).await {
        report.push(Finding::warning(
            "forge",
            "the repository's webhook, protection, workflows and policy were not checked: ade cannot reach the repository with its credentials",
            "fix the problems above and run ade doctor again",
        ));
        return;
    }
    access::permissions(context, report).await;
    let head = match context.client.forge().default_branch(&context.repo).await {
        Ok(head) => head,
        Err(error) => {
            let mut finding = forge_failure("forge", &error, "the repository's default branch");
            finding.message.push_str(
                ": the default branch's protection, workflows and policy were not checked",
            );
            report.push(finding);
            webhook::check(context, report).await;
            return;
        }
    };
    webhook::check(context, report).await;
    protection::check(context, &head.name, report).await;
    workflows::check(context, &head, report).await;
    policy::check(context, &head, report).await;
}

/// A finding for a forge call that failed, naming the call and saying what the failure means.
fn forge_failure(check: &str, error: &ForgeError, reading: &str) -> Finding {
    let text = report::error_text(error);
    match error {
        ForgeError::Forbidden(_) => Finding::problem(
            check,
            format!("the forge refused to show {reading}: {text}"),
            "give ade's app or bot user the permission to read it (docs/forges.md)",
        ),
        ForgeError::NotFound(_) => Finding::problem(
            check,
            format!("the forge did not find {reading}: {text}"),
            "check the repository name, and that ade's app or bot user can see the repository",
        ),
        ForgeError::Unavailable(_) | ForgeError::RateLimited { .. } => Finding::problem(
            check,
            format!("the forge failed while ade read {reading}: {text}"),
            "check that the forge is up and reachable from ade, then run ade doctor again",
        ),
        _ => Finding::problem(
            check,
            format!("reading {reading} failed: {text}"),
            "check the forge's URL in ade.toml and that it is a supported forge version",
        ),
    }
}
