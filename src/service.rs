//! The running service: wires storage, the inbox, the job worker, the leader and the HTTP routes
//! together, and takes them down in order on shutdown.

use crate::audit::AuditLog;
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::coordinator::command_job::CommandHandler;
use crate::coordinator::event_job::{
    ApprovalClosedJob, ApprovalPushedJob, ApprovalReviewedJob, CheckRerunJob, CommandJob,
    CommandKind, EditedCommandJob, EditedCommandKind, PolicyCheckJob,
};
use crate::coordinator::intake::Intake;
use crate::coordinator::planning::PlanHandler;
use crate::coordinator::planning::job::PlanJob;
use crate::coordinator::policies::Policies;
use crate::coordinator::policy_check::PolicyCheckHandler;
use crate::coordinator::reconcile::{self, ReconcileHandler, ReconcileJob};
use crate::coordinator::resume::{self, ResumeHandler, ResumeJob, Resumed};
use crate::coordinator::review::closed::ApprovalClosedHandler;
use crate::coordinator::review::gate::{GateHandler, GateJob};
use crate::coordinator::review::pushed::ApprovalPushedHandler;
use crate::coordinator::review::requested::{ReviewAttemptHandler, ReviewAttemptJob};
use crate::coordinator::review::rerun::CheckRerunHandler;
use crate::coordinator::review::reviewed::ApprovalReviewedHandler;
use crate::coordinator::run::RunHandler;
use crate::coordinator::run::job::RunJob;
use crate::coordinator::shared::Shared;
use crate::coordinator::verification::VerifyJob;
use crate::coordinator::verification::external::{ExternalWaitHandler, ExternalWaitJob};
use crate::coordinator::verification::job::VerifyHandler;
use crate::coordinator::warm::{WarmHandler, WarmJob};
use crate::coordinator::writes::{ForgeWriteJob, ForgeWriter, Forges};
use crate::dispatch::{Dispatcher, EventSink};
use crate::forge::gitea::GiteaForge;
use crate::forge::github::GithubForge;
use crate::forge::{ClientOptions, ForgeKind};
use crate::ingress::{self, DeliveryJob, Door, Inbox, Ingress};
use crate::jobs::{Handlers, Job, Leader, Queue, Wake, Worker};
use crate::links::LinkSigner;
use crate::metrics::Metrics;
use crate::retention::{PurgeJob, Retention, ServerPeriods};
use crate::runner::Runner;
use crate::runner::local::LocalRunner;
use crate::secrets::SecretStore;
use crate::store::{Store, StoreOptions};
use crate::web::{self, Operations};
use anyhow::Context as _;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What a caller may plug into the service; production uses the defaults.
pub struct ServiceOptions {
    /// Receives every dispatched event inside its transaction in place of the coordinator's
    /// intake (tests use it to observe or fail dispatch).
    pub sink: Option<Arc<dyn EventSink>>,
    /// Client settings for the forges (tests shorten the retry budget).
    pub clients: ClientOptions,
    /// The clock; tests may pin it.
    pub clock: Arc<dyn Clock>,
    /// The runner that carries out runs, with how many runs it takes at once. Without one, run
    /// jobs wait in the queue until a runner is connected.
    pub runner: Option<(Arc<dyn Runner>, usize)>,
}

impl Default for ServiceOptions {
    fn default() -> ServiceOptions {
        ServiceOptions {
            sink: None,
            clients: ClientOptions::default(),
            clock: Arc::new(SystemClock),
            runner: None,
        }
    }
}

/// A started ade service.
pub struct Service {
    addr: SocketAddr,
    metrics_addr: Option<SocketAddr>,
    store: Store,
    shutdown: watch::Sender<bool>,
    main: JoinHandle<anyhow::Result<()>>,
    /// Every task the service runs, for [`Service::abort`].
    tasks: Vec<tokio::task::AbortHandle>,
}

impl Service {
    /// Opens and migrates the store, binds the listener and starts every part. Returns once the
    /// service accepts requests.
    pub async fn start(config: &Config, options: ServiceOptions) -> anyhow::Result<Service> {
        // The agents are checked before anything is opened or created.
        let log_files = config.secrets.log_files();
        let mut local = match options.runner {
            None if !config.agents.is_empty() => Some(
                LocalRunner::start(
                    &config.agents,
                    &config.runner,
                    &config.policy,
                    log_files.clone(),
                )
                .await?,
            ),
            _ => None,
        };
        let store = Store::connect(StoreOptions {
            url: config.database.url.expose().to_string(),
            max_connections: config.database.max_connections,
        })
        .await
        .context("open the database")?;
        let applied = store.migrate().await.context("migrate the database")?;
        tracing::info!(
            backend = store.backend().as_str(),
            applied,
            "database ready"
        );
        let audit = Arc::new(
            AuditLog::open(
                config.audit.clone(),
                config.audit_masker(),
                options.clock.clone(),
            )
            .context("open the audit log")?,
        );
        audit
            .reconcile(&store)
            .await
            .context("check the audit log against the database")?;
        audit
            .seal_now(&store)
            .await
            .context("write the audit records a previous process left pending")?;
        audit
            .checkpoint(&store)
            .await
            .context("sign the audit log's head")?;

        // Without the keys of what is stored, ade does not start (docs/secrets.md).
        let secrets =
            SecretStore::new(store.clone(), config.secrets.keys.clone()).audited(audit.clone());
        secrets.check_keys().await?;
        let runner: Option<(Arc<dyn Runner>, usize)> = match (options.runner, local.take()) {
            (Some(runner), _) => Some(runner),
            (None, Some(mut local)) => {
                local.use_secret_store(secrets).await?;
                let parallel = local.max_parallel();
                Some((Arc::new(local), parallel))
            }
            (None, None) => None,
        };

        let listener = tokio::net::TcpListener::bind(config.server.listen)
            .await
            .with_context(|| format!("listen on {}", config.server.listen))?;
        let addr = listener.local_addr().context("read the bound address")?;
        let metrics_listener = match config.metrics.listen {
            Some(listen) => Some(
                tokio::net::TcpListener::bind(listen)
                    .await
                    .with_context(|| format!("listen on {listen} (metrics.listen)"))?,
            ),
            None => None,
        };
        let metrics_addr = metrics_listener
            .as_ref()
            .map(|listener| listener.local_addr())
            .transpose()
            .context("read the bound address of /metrics")?;

        let metrics = Arc::new(Metrics::default());
        let wake = Wake::new();
        let (shutdown, stop) = watch::channel(false);
        let (inbox, writer) = Inbox::start(
            store.clone(),
            wake.clone(),
            metrics.clone(),
            config.jobs.max_attempts.into(),
        );
        warn_about_missing_secrets(config);
        let ingress = Arc::new(Ingress {
            inbox,
            github_secrets: config.github.webhook_secrets.clone(),
            gitea_secrets: config.gitea.webhook_secrets.clone(),
            max_body_bytes: config.server.max_body_bytes,
            body_timeout: config.server.body_timeout,
            door: Door::new(
                config.server.max_unverified_bodies,
                config.server.failed_signatures,
            ),
            store: store.clone(),
            audit: audit.clone(),
            metrics: metrics.clone(),
            clock: options.clock.clone(),
        });
        let link_key = {
            let mut conn = store.writer().await.context("read the link key")?;
            crate::store::links::key(&mut conn, options.clock.now_ms())
                .await
                .context("read the link key")?
        };
        let links = LinkSigner::new(&link_key, config.server.public_url.as_deref());
        let ops = Operations {
            store: store.clone(),
            metrics: metrics.clone(),
        };
        let scrape = web::metrics::routes(ops.clone(), config.metrics.token.as_ref());
        let run_logs = web::runlog::RunLogs {
            workdir: config.runner.workdir.clone(),
            files: log_files.clone(),
        };
        let mut routes = ingress::routes(ingress)
            .merge(web::routes(ops))
            .merge(web::logs::routes(web::logs::Logs {
                store: store.clone(),
                links: links.clone(),
                logs: run_logs.clone(),
            }));
        let forges = forges(config, &options.clients)?;
        let signin = web::signin::Signin {
            store: store.clone(),
            clock: options.clock.clone(),
            config: Arc::new(config.web.clone()),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .context("build the sign-in HTTP client")?,
            audit: audit.clone(),
        };
        let dashboard = web::pages::Dashboard {
            signin: signin.clone(),
            store: store.clone(),
            forges: [ForgeKind::Github, ForgeKind::Gitea]
                .into_iter()
                .filter_map(|kind| forges.get(kind).ok().cloned())
                .collect(),
            answers: Arc::default(),
            logs: run_logs,
        };
        routes = routes
            .merge(web::signin::routes::routes(signin))
            .merge(web::api::routes(web::api::Api {
                store: store.clone(),
                clock: options.clock.clone(),
                dashboard: dashboard.clone(),
            }))
            .merge(web::pages::routes(dashboard));
        if metrics_listener.is_none() {
            routes = routes.merge(scrape.clone());
        }

        let attempts = i64::from(config.jobs.max_attempts);
        let policies = Arc::new(Policies::new(config.policy.clone()));
        let retention = Retention::new(
            store.clone(),
            options.clock.clone(),
            audit.clone(),
            runner.as_ref().map(|(runner, _)| runner.clone()),
            config.retention.clone(),
            server_periods(&config.policy)?,
        );
        let shared = Shared::new(forges.clone(), policies.clone(), links, attempts)
            .with_agents(config.agents.iter().map(|agent| agent.name.clone()))
            .with_retention(retention.clone());
        let sink = options.sink.unwrap_or_else(|| {
            Arc::new(Intake {
                max_attempts: attempts,
                policies: policies.clone(),
                warm_runner: runner.is_some(),
            })
        });
        let (runner, parallel) = runner.unzip();
        let reconciler = ReconcileHandler::new(
            shared.clone(),
            sink.clone(),
            metrics.clone(),
            config.reconcile,
        );
        let (handlers, run_handlers) = handlers(
            &shared,
            &forges,
            Dispatcher::new(Some(sink), metrics.clone()),
            runner,
            &retention,
            reconciler,
        );
        let sweep_clock = options.clock.clone();
        let queue = Queue {
            store: store.clone(),
            clock: options.clock.clone(),
            wake: wake.clone(),
            metrics,
        };
        let runner = run_handlers.zip(parallel).map(|(run_handlers, parallel)| {
            let mut jobs = config.jobs.clone();
            jobs.workers = parallel.max(1);
            Worker::new(queue.clone(), run_handlers, jobs)
                .only(&RUNNER_KINDS)
                .audited(audit.clone())
        });
        let worker = Worker::new(queue, handlers, config.jobs.clone())
            .except(&RUNNER_KINDS)
            .audited(audit.clone());
        {
            let mut conn = store.writer().await.context("resume waiting work")?;
            let resumed = resume::resume(&mut conn, options.clock.now_ms())
                .await
                .context("resume waiting work")?;
            if resumed != Resumed::default() {
                tracing::info!(
                    held_runs = resumed.runs,
                    goals = resumed.specs,
                    "resuming work that waited on the runner's setup or on a default agent"
                );
            }
        }
        let leader = Leader::new(
            worker.id(),
            store.clone(),
            options.clock,
            config.jobs.lease,
            wake.clone(),
        );
        let grace = config.server.shutdown_grace;
        let listen = wake.listen(&store, stop.clone());
        let worker = tokio::spawn(worker.run(stop.clone(), grace));
        let runner = runner.map(|runner| tokio::spawn(runner.run(stop.clone(), grace)));
        let leader = tokio::spawn(leader.run(stop.clone()));
        let sweeper = tokio::spawn(audit.clone().run(store.clone(), stop.clone()));
        let purges = tokio::spawn(retention.run(stop.clone()));
        let sweeps = config.reconcile.every.map(|every| {
            tokio::spawn(reconcile::run(
                store.clone(),
                sweep_clock,
                every,
                stop.clone(),
            ))
        });
        let mut tasks = vec![
            worker.abort_handle(),
            leader.abort_handle(),
            sweeper.abort_handle(),
            purges.abort_handle(),
            writer.abort_handle(),
        ];
        tasks.extend(runner.as_ref().map(|r| r.abort_handle()));
        tasks.extend(sweeps.as_ref().map(|s| s.abort_handle()));
        tasks.extend(listen.as_ref().map(|l| l.abort_handle()));
        let closing = store.clone();
        let header_timeout = config.server.header_timeout;
        let scraping = metrics_listener.map(|listener| {
            tokio::spawn(web::serve::serve(
                listener,
                scrape,
                header_timeout,
                stop.clone(),
            ))
        });
        tasks.extend(scraping.as_ref().map(|s| s.abort_handle()));
        let stopped = stop.clone();
        let main = tokio::spawn(async move {
            match metrics_addr {
                Some(metrics) => {
                    tracing::info!(%addr, %metrics, "ade is serving; /metrics on its own address")
                }
                None => tracing::info!(%addr, "ade is serving"),
            }
            web::serve::serve(listener, routes, header_timeout, stopped).await;
            if let Some(scraping) = scraping {
                scraping.await.ok();
            }
            // The routes are gone, so the inbox has no senders left: its writer stores what is
            // queued and ends. Only then do the workers stop.
            writer.await.ok();
            worker.await.ok();
            if let Some(runner) = runner {
                runner.await.ok();
            }
            leader.await.ok();
            purges.await.ok();
            if let Some(sweeps) = sweeps {
                sweeps.await.ok();
            }
            if let Some(listen) = listen {
                listen.await.ok();
            }
            sweeper.await.ok();
            if let Err(error) = audit.close(&closing).await {
                tracing::error!(%error, "could not write the last audit records and checkpoint");
            }
            closing.close().await;
            tracing::info!("ade stopped");
            Ok(())
        });
        tasks.push(main.abort_handle());
        Ok(Service {
            addr,
            metrics_addr,
            store,
            shutdown,
            main,
            tasks,
        })
    }

    /// The address the HTTP server is bound to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address `/metrics` is served on when `metrics.listen` gives it one of its own.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// The store the service uses (tests inspect it).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Stops accepting, finishes requests in flight, stores what the inbox holds, lets running jobs
    /// finish within the grace period, and returns when everything has stopped.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.shutdown.send(true);
        self.main.await.context("service task")?
    }

    /// Stops every task where it stands, without handing anything back or closing anything, the
    /// way a crash would; for tests of what a restart recovers.
    pub fn abort(self) {
        for task in &self.tasks {
            task.abort();
        }
    }

    /// Waits until the service stops on its own (it does not, unless serving fails).
    pub async fn wait(&mut self) -> anyhow::Result<()> {
        (&mut self.main).await.context("service task")?
    }
}

/// The server's retention periods: what a repository that sets nothing gets, and the caps.
fn server_periods(policy: &crate::policy::ServerPolicy) -> anyhow::Result<ServerPeriods> {
    let defaults = crate::policy::effective(policy, &crate::policy::Policy::default())
        .map_err(|problems| anyhow::anyhow!("the server's policy: {problems:?}"))?
        .retention;
    let limits = &policy.limits;
    Ok(ServerPeriods {
        defaults,
        caps: crate::policy::RetentionPolicy {
            deliveries_days: limits.max_deliveries_days,
            run_logs_days: limits.max_run_logs_days,
            verification_logs_days: limits.max_verification_logs_days,
            worktrees_days: limits.max_worktrees_days,
            prompts_days: limits.max_prompts_days,
        },
    })
}

/// The kinds only the runner's workers claim: runs, verifications and warm-ups take minutes, so
/// they get workers of their own and the other workers leave them alone.
const RUNNER_KINDS: [&str; 4] = [RunJob::KIND, VerifyJob::KIND, WarmJob::KIND, PlanJob::KIND];

/// The handlers of every job kind ade runs: the other workers' and, with a runner, the runner
/// workers' (the [`RUNNER_KINDS`]).
fn handlers(
    shared: &Shared,
    forges: &Forges,
    dispatcher: Dispatcher,
    runner: Option<Arc<dyn Runner>>,
    retention: &Retention,
    reconciler: ReconcileHandler,
) -> (Handlers, Option<Handlers>) {
    let mut handlers = Handlers::default();
    handlers.register::<PurgeJob>(retention.purge_handler());
    handlers.register::<ReconcileJob>(reconciler);
    handlers.register::<DeliveryJob>(dispatcher);
    handlers.register::<CommandJob>(CommandHandler::<CommandKind>::new(shared.clone()));
    handlers.register::<EditedCommandJob>(CommandHandler::<EditedCommandKind>::new(shared.clone()));
    handlers.register::<ApprovalClosedJob>(ApprovalClosedHandler::new(shared.clone()));
    handlers.register::<ApprovalPushedJob>(ApprovalPushedHandler::new(shared.clone()));
    handlers.register::<ApprovalReviewedJob>(ApprovalReviewedHandler::new(shared.clone()));
    handlers.register::<CheckRerunJob>(CheckRerunHandler::new(shared.clone()));
    handlers.register::<PolicyCheckJob>(PolicyCheckHandler::new(shared.clone()));
    handlers.register::<GateJob>(GateHandler::new(shared.clone()));
    handlers.register::<ReviewAttemptJob>(ReviewAttemptHandler::new(shared.clone()));
    handlers.register::<ResumeJob>(ResumeHandler::new(shared.clone()));
    handlers.register::<ExternalWaitJob>(ExternalWaitHandler::new(shared.clone()));
    handlers.register::<ForgeWriteJob>(ForgeWriter::new(forges.clone()));
    let run_handlers = runner.map(|runner| {
        let mut run_handlers = Handlers::default();
        run_handlers.register::<RunJob>(RunHandler::new(shared.clone(), runner.clone()));
        run_handlers.register::<PlanJob>(PlanHandler::new(shared.clone(), runner.clone()));
        run_handlers.register::<VerifyJob>(VerifyHandler::new(shared.clone(), runner.clone()));
        run_handlers.register::<WarmJob>(WarmHandler::new(forges.clone(), runner));
        run_handlers
    });
    (handlers, run_handlers)
}

/// The clients of the forges `ade.toml` configures: GitHub when an app id is set, Gitea when a
/// URL is. A forge that is configured but whose client cannot be built stops the start.
fn forges(config: &Config, options: &ClientOptions) -> anyhow::Result<Forges> {
    let mut forges = Forges::default();
    if config.github.app_id.is_some() {
        let github =
            GithubForge::new(&config.github, options.clone()).context("the GitHub client")?;
        forges.insert(Arc::new(github));
    }
    if config.gitea.url.is_some() {
        let gitea = GiteaForge::new(&config.gitea, options.clone()).context("the Gitea client")?;
        forges.insert(Arc::new(gitea));
    }
    Ok(forges)
}

fn warn_about_missing_secrets(config: &Config) {
    if config.github.webhook_secrets.is_empty() {
        tracing::warn!(
            "no [github] webhook secret configured: /webhooks/github refuses every delivery"
        );
    }
    if config.gitea.webhook_secrets.is_empty() {
        tracing::warn!(
            "no [gitea] webhook secret configured: /webhooks/gitea refuses every delivery"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::links::LinkSigner;
    use crate::runner::{RunOrder, RunOutcome, RunProgress, VerifyOrder, VerifyOutcome};
    use std::collections::HashSet;
    use tokio_util::sync::CancellationToken;

    /// Stands in for a runner: only its handlers' kinds matter here.
    struct NoRunner;

    #[async_trait::async_trait]
    impl Runner for NoRunner {
        fn name(&self) -> &str {
            "none"
        }

        async fn execute(
            &self,
            _order: RunOrder,
            _cancel: CancellationToken,
            _progress: &dyn RunProgress,
        ) -> RunOutcome {
            unreachable!("no run is carried out here")
        }

        async fn verify(&self, _order: VerifyOrder, _cancel: CancellationToken) -> VerifyOutcome {
            unreachable!("no verification is carried out here")
        }
    }

    /// Retention over a fresh SQLite database and audit folder in `dir`.
    async fn retention_in(dir: &std::path::Path) -> Retention {
        let store = Store::connect(StoreOptions {
            url: format!("sqlite://{}?mode=rwc", dir.join("ade.db").display()),
            max_connections: 1,
        })
        .await
        .unwrap();
        let audit = crate::audit::AuditConfig {
            dir: dir.join("audit"),
            max_file_bytes: 1 << 20,
            checkpoint_every: std::time::Duration::from_secs(600),
            checkpoints_file: dir.join("checkpoints.jsonl"),
            signing_key_file: dir.join("key.pem"),
            signing_key_configured: false,
        };
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let audit = AuditLog::open(audit, crate::audit::Masker::default(), clock.clone()).unwrap();
        Retention::new(
            store,
            clock,
            Arc::new(audit),
            None,
            Default::default(),
            server_periods(&Default::default()).unwrap(),
        )
    }

    #[tokio::test]
    async fn every_job_kind_has_one_handler_and_the_runner_workers_take_theirs() {
        let dir = crate::audit::Scratch::new();
        let retention = retention_in(dir.path()).await;
        let forges = Forges::default();
        let shared = Shared::new(
            forges.clone(),
            Arc::new(Policies::new(Default::default())),
            LinkSigner::new("00", None),
            3,
        );
        let dispatcher = Dispatcher::new(None, Arc::new(Metrics::default()));
        let intake = Arc::new(Intake {
            max_attempts: 3,
            policies: Arc::new(Policies::new(Default::default())),
            warm_runner: false,
        });
        let reconciler = ReconcileHandler::new(
            shared.clone(),
            intake,
            Arc::new(Metrics::default()),
            Default::default(),
        );
        let (handlers, run_handlers) = handlers(
            &shared,
            &forges,
            dispatcher,
            Some(Arc::new(NoRunner)),
            &retention,
            reconciler,
        );
        let run_handlers = run_handlers.expect("a runner's handlers");
        let mut kinds = HashSet::new();
        for kind in handlers.kinds().chain(run_handlers.kinds()) {
            assert!(kinds.insert(kind), "{kind} has two handlers");
        }
        // Existing databases hold these names.
        let stored = [
            "delivery",
            "command",
            "edited_command",
            "approval_closed",
            "approval_pushed",
            "approval_reviewed",
            "check_rerun",
            "policy_check",
            "resume_goal",
            "merge_gate",
            "review_attempt",
            "forge_write",
            "run",
            "verify",
            "external_wait",
            "warm_runner",
            "retention_purge",
            "reconcile",
            "plan",
        ];
        assert_eq!(kinds, HashSet::from(stored));
        let runner: HashSet<_> = run_handlers.kinds().collect();
        assert_eq!(runner, HashSet::from(RUNNER_KINDS));
    }

    #[test]
    fn jobs_keep_their_stored_keys() {
        let delivery = DeliveryJob {
            delivery: 5,
            ordering_key: Some("github:acme/widgets".into()),
        }
        .new_job(3, 100);
        assert_eq!(delivery.idempotency_key, "delivery:5");
        assert_eq!(
            delivery.ordering_key.as_deref(),
            Some("github:acme/widgets")
        );
        assert_eq!(delivery.payload, r#"{"delivery":5}"#);
        let run = RunJob::new(5).new_job(RunJob::ATTEMPTS, 100);
        assert_eq!(
            (run.idempotency_key.as_str(), run.ordering_key),
            ("run:5", None)
        );
        assert_eq!(run.payload, r#"{"run":5}"#);
        let held = RunJob {
            run: 5,
            held: 2,
            waited: 0,
        }
        .new_job(RunJob::ATTEMPTS, 100);
        assert_eq!(held.idempotency_key, "run:5:held:2");
        assert_eq!(held.payload, r#"{"run":5,"held":2}"#);
        let resume = ResumeJob {
            spec: 3,
            started: 100,
            ordering_key: Some("goal:github:acme/widgets#7".into()),
        }
        .new_job(5, 100);
        assert_eq!(resume.idempotency_key, "resume:3:100");
        assert_eq!(
            resume.ordering_key.as_deref(),
            Some("goal:github:acme/widgets#7")
        );
        assert_eq!(resume.payload, r#"{"spec":3,"started":100}"#);
        let purge = PurgeJob { period: 493_000 }.new_job(PurgeJob::ATTEMPTS, 100);
        assert_eq!(
            (
                purge.idempotency_key.as_str(),
                purge.ordering_key.as_deref()
            ),
            ("retention_purge:493000", Some("retention_purge"))
        );
        assert_eq!(purge.payload, r#"{"period":493000}"#);
        let verify = VerifyJob { verification: 5 }.new_job(VerifyJob::ATTEMPTS, 100);
        assert_eq!(
            (verify.idempotency_key.as_str(), verify.ordering_key),
            ("verify:5", None)
        );
        assert_eq!(verify.payload, r#"{"verification":5}"#);
        let gate = GateJob { approval: 5 }.new_job(GateJob::ATTEMPTS, 100);
        assert_eq!(gate.idempotency_key, "gate:5:100");
        assert_eq!(gate.ordering_key.as_deref(), Some("gate:5"));
        assert_eq!(gate.payload, r#"{"approval":5}"#);
    }
}
