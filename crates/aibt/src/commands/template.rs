use std::sync::Arc;

use aibt_ai::template::check_template;
use aibt_engine::accounts::{apply_changes, default_settings};
use aibt_engine::model::{PreviewSpec, preview_prompt};
use aibt_engine::templates::{content_id, new_template};
use aibt_store::{Store, StoreError};
use anyhow::{Context, Result, anyhow, bail};
use serde_json::json;

use crate::cli::{Format, RenderArgs, RenderFormat, TemplateCommand};
use crate::flags::{account_changes, flag_error, parse_date, reason_of, series};

pub async fn run(store: Arc<dyn Store>, command: TemplateCommand) -> Result<()> {
    match command {
        TemplateCommand::Check { file } => {
            let content = read(&file)?;
            let info = check_template(&content).map_err(|e| anyhow!("{}: {e}", file.display()))?;
            println!(
                "{}: ok; uses {}",
                file.display(),
                info.variables
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            if info.account_dependent {
                println!(
                    "it reads the account, so its decisions are asked one at a time (--prefetch has no effect)"
                );
            } else {
                println!(
                    "it reads nothing of the account: --prefetch N can ask N decisions at once"
                );
            }
            Ok(())
        }
        TemplateCommand::Render(args) => render(store.as_ref(), *args).await,
        TemplateCommand::Add {
            file,
            description,
            tags,
        } => {
            let content = read(&file)?;
            let id = content_id(&content);
            match store.get_template(&id).await {
                Ok(existing) => {
                    println!(
                        "{} (already stored, {})",
                        existing.prompt_id, existing.status
                    );
                    return Ok(());
                }
                Err(StoreError::NotFound { .. }) => {}
                Err(other) => return Err(other.into()),
            }
            let template = new_template(
                id,
                &content,
                description.or_else(|| Some(file.display().to_string())),
                tags,
            )
            .map_err(|e| anyhow!("{}: {}", file.display(), reason_of(e)))?;
            store.insert_template(&template).await?;
            println!("{}", template.prompt_id);
            Ok(())
        }
        TemplateCommand::List { all, format } => {
            let mut templates = Vec::new();
            let mut cursor = None;
            loop {
                let page = store.list_templates(all, 500, cursor).await?;
                templates.extend(page.items);
                match page.next_cursor {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
            match format {
                Format::Json => println!("{}", serde_json::to_string_pretty(&templates)?),
                Format::Table => {
                    println!(
                        "{:<30} {:<12} {:<20} description",
                        "prompt_id", "status", "updated"
                    );
                    for t in &templates {
                        println!(
                            "{:<30} {:<12} {:<20} {}",
                            t.prompt_id,
                            t.status.as_str(),
                            t.updated_at.format("%Y-%m-%d %H:%M"),
                            t.description.as_deref().unwrap_or("")
                        );
                    }
                }
            }
            Ok(())
        }
    }
}

fn read(file: &std::path::Path) -> Result<String> {
    std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))
}

async fn render(store: &dyn Store, args: RenderArgs) -> Result<()> {
    let content = read(&args.file)?;
    check_template(&content).map_err(|e| anyhow!("{}: {e}", args.file.display()))?;
    let series = series(store, &args.symbol, args.market, args.granularity, None).await?;
    if args.account.account_id.is_some() {
        bail!(
            "--account: render takes the account's settings from --cash, --commission and the other flags"
        );
    }
    let settings = apply_changes(
        default_settings(series.market_type, args.account.fractional),
        args.account.fractional,
        &account_changes(&args.account, args.account.fractional)?,
    )
    .map_err(flag_error)?;
    let spec = PreviewSpec {
        template: content,
        series,
        start: args
            .start
            .as_deref()
            .map(|s| parse_date(s, "start", false))
            .transpose()?,
        at: parse_date(&args.at, "at", true)?,
        window: args.window.unwrap_or(0) as usize,
        blind: args.blind,
        settings,
    };
    let preview = preview_prompt(store, &spec).await.map_err(flag_error)?;
    match args.format {
        RenderFormat::Text => {
            print!("{}", preview.prompt);
            if !preview.prompt.ends_with('\n') {
                println!();
            }
        }
        RenderFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "bar_time": preview.bar_time,
                "account_dependent": preview.account_dependent,
                "messages": preview.messages,
                "schema": preview.schema,
            }))?
        ),
    }
    Ok(())
}
