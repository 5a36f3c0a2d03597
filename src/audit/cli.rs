//! `ade audit verify`, `show`, `keygen` and `public-key`: what the command line does with a log,
//! apart from parsing its arguments.

use super::AuditConfig;
use super::checkpoint::{self, Checkpoint};
use super::show::{self, Filter, Format};
use super::signing::{PublicKey, SigningKey};
use super::verify::{self, Report};
use crate::clock::unix_ms;
use crate::store::{Store, StoreOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// What `ade audit verify` is given.
#[derive(Clone, Debug)]
pub struct VerifyArgs {
    /// The log folder; the configured one when absent.
    pub dir: Option<PathBuf>,
    /// A checkpoints file; the configured one when absent.
    pub checkpoints: Option<PathBuf>,
    /// The public key; the configured signing key's public half when absent.
    pub public_key: Option<PathBuf>,
}

/// Verifies a log and prints what it found: the summary, then each problem. With no folder given
/// it is the server's own log, and the checkpoints the database keeps are read as well (a
/// database that cannot be reached is said, and the file's checkpoints still count). Returns
/// whether the log verifies.
pub async fn verify(
    config: &AuditConfig,
    database: Option<StoreOptions>,
    args: &VerifyArgs,
    out: &mut dyn Write,
) -> anyhow::Result<bool> {
    let dir = args.dir.clone().unwrap_or_else(|| config.dir.clone());
    let key_file = args
        .public_key
        .clone()
        .unwrap_or_else(|| config.signing_key_file.clone());
    let key = PublicKey::load(&key_file)?;
    let checkpoints_file = args
        .checkpoints
        .clone()
        .unwrap_or_else(|| config.checkpoints_file.clone());
    let mut checkpoints = checkpoint::read(&checkpoints_file).map_err(anyhow::Error::msg)?;
    let mut head = None;
    if args.dir.is_none()
        && let Some(options) = database
    {
        match from_database(options).await {
            Ok((kept, at)) => {
                checkpoints.extend(kept);
                head = Some(at);
            }
            Err(error) => writeln!(
                out,
                "note: the database was not read ({error:#}); the checkpoints of {} were",
                checkpoints_file.display()
            )?,
        }
    }
    checkpoints.sort_by_key(|c| c.seq);
    checkpoints.dedup();
    let every = config.checkpoint_every.as_secs() as i64;
    let report = tokio::task::spawn_blocking(move || {
        verify::verify(&dir, &checkpoints, &key, unix_ms(), every)
    })
    .await??;
    let mut report = report;
    if let Some(head) = head {
        verify::against_head(&mut report, head.seq, &head.hash);
    }
    print_report(&report, out)?;
    Ok(report.problems.is_empty())
}

/// The checkpoints the database keeps and its chain's head.
async fn from_database(
    options: StoreOptions,
) -> anyhow::Result<(Vec<Checkpoint>, crate::store::audit::Head)> {
    let store = Store::connect(options).await?;
    let mut conn = store.reader().await?;
    let rows = crate::store::audit::checkpoints(&mut conn).await?;
    let head = crate::store::audit::head(&mut conn).await?;
    drop(conn);
    store.close().await;
    Ok((rows, head))
}

fn print_report(report: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(out, "{}", verify::summary(report))?;
    if report.problems.is_empty() {
        writeln!(out, "ok: the chain is whole and matches its checkpoints")?;
    }
    for problem in &report.problems {
        writeln!(out, "FAILED: {problem}")?;
    }
    Ok(())
}

/// Prints the records of the log folder (`dir`, or the configured one) that match `filter`;
/// returns how many matched.
pub fn show(
    config: &AuditConfig,
    dir: Option<&Path>,
    filter: &Filter,
    format: Format,
    out: &mut dyn Write,
) -> anyhow::Result<u64> {
    let dir = dir.unwrap_or(&config.dir);
    Ok(show::show(dir, filter, format, out)?)
}

/// Writes a new signing key to `path` and prints its public half.
pub fn keygen(path: &Path, out: &mut dyn Write) -> anyhow::Result<()> {
    let key = SigningKey::generate(path)?;
    write!(out, "{}", key.public().to_pem())?;
    Ok(())
}

/// Prints the public half of the configured signing key, for verifiers elsewhere.
pub fn public_key(config: &AuditConfig, out: &mut dyn Write) -> anyhow::Result<()> {
    let key = PublicKey::load(&config.signing_key_file)?;
    write!(out, "{}", key.to_pem())?;
    Ok(())
}
