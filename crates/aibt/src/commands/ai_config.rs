use std::io::Read;
use std::sync::Arc;

use aibt_core::DecisionMode;
use aibt_engine::ai_config::{ApiKey, build_ai_config, test_ai_config};
use aibt_engine::secrets::mask_api_key;
use aibt_store::Store;
use anyhow::{Context, Result, bail};
use serde_json::json;

use crate::cli::{AiConfigCommand, Format};
use crate::flags::{ai_config_spec, find_ai_config, flag_error};

pub async fn run(store: Arc<dyn Store>, command: AiConfigCommand) -> Result<()> {
    match command {
        AiConfigCommand::Add {
            name,
            model,
            api_key_stdin,
            decision_mode,
        } => {
            if store.find_ai_config_by_name(name.trim()).await?.is_some() {
                bail!("an AI config named {name:?} exists; remove it first or choose another name");
            }
            let mut spec = ai_config_spec(&name, &model)?;
            spec.decision_mode = decision_mode;
            if api_key_stdin {
                let mut key = String::new();
                std::io::stdin()
                    .read_to_string(&mut key)
                    .context("reading the API key from standard input")?;
                if key.trim().is_empty() {
                    bail!("--api-key-stdin: standard input held no key");
                }
                spec.api_key = ApiKey::Given(key.trim().to_string());
            }
            let config = build_ai_config(spec).map_err(flag_error)?;
            store.insert_ai_config(&config).await?;
            println!("{} {}", config.config_id, config.name);
            Ok(())
        }
        AiConfigCommand::List { format } => {
            let mut configs = Vec::new();
            let mut cursor = None;
            loop {
                let page = store.list_ai_configs(500, cursor).await?;
                configs.extend(page.items);
                match page.next_cursor {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
            for config in &mut configs {
                config.local_ai_api_key = mask_api_key(&config.local_ai_api_key);
            }
            match format {
                Format::Json => println!("{}", serde_json::to_string_pretty(&configs)?),
                Format::Table => {
                    println!(
                        "{:<26}  {:<24} {:<36} {:<20} {:<12} {:<14} key",
                        "config_id", "name", "base_url", "model", "format", "mode"
                    );
                    for c in &configs {
                        // A server that refused tools is asked the JSON way: say so.
                        let mode = match (&c.tools_refused, c.decision_mode) {
                            (Some(_), DecisionMode::Tools) => "tools→json".to_string(),
                            (_, mode) => mode.to_string(),
                        };
                        println!(
                            "{:<26}  {:<24} {:<36} {:<20} {:<12} {:<14} {}",
                            c.config_id,
                            c.name,
                            c.local_ai_base_url,
                            c.local_ai_model_name,
                            c.response_format.as_str(),
                            mode,
                            c.local_ai_api_key
                        );
                    }
                }
            }
            Ok(())
        }
        AiConfigCommand::Test { name } => {
            let config = find_ai_config(store.as_ref(), &name).await?;
            let report = test_ai_config(&config).await.map_err(flag_error)?;
            println!(
                "{}",
                serde_json::to_string_pretty(&json!({
                    "name": config.name,
                    "model": config.local_ai_model_name,
                    "report": report,
                }))?
            );
            if !report.ok {
                bail!(
                    "the test call failed: {}",
                    report.error.as_deref().unwrap_or("no usable answer")
                );
            }
            Ok(())
        }
        AiConfigCommand::Remove { name } => {
            let config = find_ai_config(store.as_ref(), &name).await?;
            store.delete_ai_config(&config.config_id).await?;
            println!("removed {} ({})", config.name, config.config_id);
            Ok(())
        }
    }
}
