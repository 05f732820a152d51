//! `nanoclaw import`: progress on a terminal, a count table at the end.

use std::io::IsTerminal;

use anyhow::Context;
use nanoclaw_core::Config;
use nanoclaw_store::Store;
use nanoclaw_store::import::ImportReport;

/// Imports `from` into the configured database (migrating it first).
pub async fn run(config: &Config, from: &str, merge: bool) -> anyhow::Result<()> {
    let source = Store::open_source(from)
        .await
        .context("cannot open the source database")?;
    let target = Store::connect(&config.database_target())
        .await
        .context("cannot open the target database")?;
    target
        .migrate()
        .await
        .context("migrating the target failed")?;

    let plan = target.plan_import(&source).await?;
    if plan.total_missing() == 0 {
        println!(
            "Nothing to import: every importable row of the source ({} rows) is already in the target.",
            plan.total_source_rows()
        );
        return Ok(());
    }
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(plan.total_source_rows());
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} rows {elapsed}")
        {
            bar.set_style(style);
        }
        bar
    });
    let report = target
        .import_from(&source, merge, |n| {
            if let Some(bar) = &bar {
                bar.inc(n);
            }
        })
        .await;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let report = report?;
    print_report(&report);
    source.close().await;
    target.close().await;
    Ok(())
}

fn print_report(report: &ImportReport) {
    println!(
        "{:<14} {:>10} {:>10} {:>16} {:>10}",
        "table", "source", "imported", "already present", "orphaned"
    );
    for t in &report.tables {
        println!(
            "{:<14} {:>10} {:>10} {:>16} {:>10}",
            t.table, t.source_rows, t.imported, t.already_present, t.orphaned
        );
    }
    println!("Imported {} rows.", report.imported());
}
