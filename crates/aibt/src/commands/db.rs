use std::sync::Arc;

use aibt_store::Store;
use anyhow::{Result, bail};

use crate::cli::{DbCommand, Format};

pub async fn run(store: Arc<dyn Store>, command: DbCommand) -> Result<()> {
    match command {
        DbCommand::Migrate => {
            let version = store.schema_version().await?;
            println!("database is at schema version {version} (latest)");
        }
        DbCommand::Check { format } => {
            let report = store.check().await?;
            let healthy =
                report.integrity == ["ok"] && report.schema_version == report.latest_version;
            match format {
                Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
                Format::Table => {
                    println!("backend         {:?}", report.backend);
                    println!(
                        "schema version  {} (latest {})",
                        report.schema_version, report.latest_version
                    );
                    println!("integrity       {}", report.integrity.join("; "));
                    for (table, rows) in &report.tables {
                        println!("{table:<18}{rows:>12} rows");
                    }
                }
            }
            if !healthy {
                bail!("the database check found problems (see above)");
            }
        }
        DbCommand::Backup { file } => {
            store.backup(&file).await?;
            println!("backed up to {}", file.display());
        }
        DbCommand::Vacuum => {
            let report = store.vacuum().await?;
            println!(
                "vacuumed: {} → {} bytes",
                report.bytes_before, report.bytes_after
            );
        }
    }
    Ok(())
}
