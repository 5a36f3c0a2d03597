//! How fast `ade audit verify` reads a log, against the limits of the same machine in the same
//! run: reading the files alone, and reading them with one SHA-256 per line (all a chain check
//! needs before it parses anything). docs/benchmarks.md, "Audit log".
//!
//! ```sh
//! cargo run --release --example audit_verify                 # 1,000,000 records
//! cargo run --release --example audit_verify -- 200000 /mnt/disk
//! ```

use ade::audit::checkpoint::Checkpoint;
use ade::audit::line::{Record, hash};
use ade::audit::signing::SigningKey;
use ade::audit::{file_name, verify};
use ade::clock::{rfc3339_ms, unix_ms};
use std::io::{BufRead, Read, Write};
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let records: i64 = args
        .next()
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let base = args
        .next()
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let root = base.join(format!("ade-audit-bench-{}", std::process::id()));
    let dir = root.join("audit");
    std::fs::create_dir_all(&dir)?;
    let key = SigningKey::generate(&root.join("key.pem"))?;

    // Records shaped like ade's: a command, a move, a forge write; 64 MiB files as ade cuts them.
    let started = Instant::now();
    let now = unix_ms();
    let mut prev = ade::store::audit::GENESIS.to_owned();
    let mut file = None;
    let mut written = 0u64;
    let mut bytes = 0u64;
    for seq in 1..=records {
        if file.is_none() || written >= 64 * 1024 * 1024 {
            let path = dir.join(file_name("20261206", seq));
            file = Some(std::io::BufWriter::new(std::fs::File::create(path)?));
            written = 0;
        }
        let mut details = serde_json::Map::new();
        details.insert("from".into(), "running".into());
        details.insert("head".into(), format!("{:040x}", seq).into());
        let record = Record {
            seq,
            prev: prev.clone(),
            time: rfc3339_ms(now - records + seq),
            actor: "ade".into(),
            actor_kind: "ade".into(),
            action: "run.succeeded".into(),
            subject: "run".into(),
            forge: Some("github".into()),
            repository: Some("acme/widgets".into()),
            goal: Some(seq % 500),
            spec_version: Some(1),
            task: Some("t1".into()),
            run: Some(seq),
            outcome: "ok".into(),
            details,
        };
        let line = record.to_line();
        prev = hash(line.as_bytes());
        let out = file.as_mut().expect("a file is open");
        out.write_all(line.as_bytes())?;
        out.write_all(b"\n")?;
        written += line.len() as u64 + 1;
        bytes += line.len() as u64 + 1;
    }
    drop(file);
    let checkpoint = Checkpoint::sign(&key, records, &prev, now, 600);
    println!(
        "wrote {records} records, {:.1} MiB, in {:.1} s",
        bytes as f64 / 1048576.0,
        started.elapsed().as_secs_f64()
    );
    // Drop the written pages from memory where allowed, so every pass reads from the same place.
    let _ = std::process::Command::new("sync").status();

    let files = ade::audit::list(&dir)?;
    let time = |what: &str, work: &mut dyn FnMut() -> anyhow::Result<()>| -> anyhow::Result<f64> {
        let started = Instant::now();
        work()?;
        let secs = started.elapsed().as_secs_f64();
        println!(
            "{what:<34} {secs:>7.2} s  {:>10.0} records/s  {:>7.0} MiB/s",
            records as f64 / secs,
            bytes as f64 / 1048576.0 / secs
        );
        Ok(secs)
    };
    let read = time("read the files (limit)", &mut || {
        let mut buf = vec![0; 1 << 20];
        for f in &files {
            let mut file = std::fs::File::open(&f.path)?;
            while file.read(&mut buf)? > 0 {}
        }
        Ok(())
    })?;
    let hashed = time("read + SHA-256 per line (limit)", &mut || {
        for f in &files {
            let reader = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(&f.path)?);
            for line in reader.split(b'\n') {
                std::hint::black_box(hash(&line?));
            }
        }
        Ok(())
    })?;
    let mut report = None;
    let verified = time("ade audit verify", &mut || {
        report = Some(verify::verify(
            &dir,
            std::slice::from_ref(&checkpoint),
            &key.public(),
            now,
            600,
        )?);
        Ok(())
    })?;
    let report = report.expect("verified");
    anyhow::ensure!(report.problems.is_empty(), "{:?}", report.problems);
    anyhow::ensure!(report.records as i64 == records);
    println!(
        "verify / read+hash limit: {:.2}×  (read alone {:.2}×)",
        verified / hashed,
        verified / read
    );
    std::fs::remove_dir_all(&root)?;
    Ok(())
}
