//! Prompt templates and AI configs.

use aibt_core::{Rate, TemplateStatus};

use crate::*;

use super::samples::*;

/// Templates: listing hides soft-deleted ones unless asked; AI config names are unique.
pub async fn templates_and_configs_behave(store: &dyn Store) {
    for (id, status) in [
        ("tpl-a", TemplateStatus::Available),
        ("tpl-b", TemplateStatus::Deleted),
        ("tpl-c", TemplateStatus::Unavailable),
    ] {
        store
            .insert_template(&PromptTemplate {
                prompt_id: id.into(),
                content: "x".into(),
                description: None,
                status,
                tags: None,
                created_at: at(0),
                updated_at: at(0),
            })
            .await
            .expect("insert");
    }
    let visible = store.list_templates(false, 10, None).await.expect("list");
    let ids: Vec<&str> = visible.items.iter().map(|t| t.prompt_id.as_str()).collect();
    assert!(
        ids.contains(&"tpl-a") && ids.contains(&"tpl-c") && !ids.contains(&"tpl-b"),
        "{ids:?}"
    );
    let all = store.list_templates(true, 10, None).await.expect("list");
    assert_eq!(all.items.len(), visible.items.len() + 1);

    let config = AiConfig {
        config_id: "cfg-x".into(),
        name: "same".into(),
        local_ai_base_url: "http://x".into(),
        local_ai_api_key: "k".into(),
        local_ai_model_name: "m".into(),
        created_at: at(0),
        updated_at: at(0),
        temperature: Rate::ZERO,
        max_tokens: 400,
        timeout_seconds: 60,
        response_format: aibt_core::ResponseFormat::JsonSchema,
        max_concurrency: 4,
        max_retries: 3,
        knowledge_cutoff: None,
        price_input_per_million: None,
        price_output_per_million: None,
        reasoning_effort: None,
        decision_mode: aibt_core::DecisionMode::Json,
        tools_refused: None,
    };
    store.insert_ai_config(&config).await.expect("insert");
    let err = store
        .insert_ai_config(&AiConfig {
            config_id: "cfg-y".into(),
            ..config.clone()
        })
        .await
        .expect_err("duplicate name");
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    let err = store
        .insert_ai_config(&config)
        .await
        .expect_err("duplicate id");
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
}
