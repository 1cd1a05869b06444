//! Prompt templates as stored rows: checked before they are saved, so a task never starts
//! with a template that cannot render.

use aibt_ai::template::check_template;
use aibt_core::TemplateStatus;
use aibt_store::{PromptTemplate, Store, StoreError};

use crate::error::{EngineError, Result};

/// A new template row, refused with the line and the reason when its syntax or a variable is
/// wrong.
pub fn new_template(
    prompt_id: String,
    content: &str,
    description: Option<String>,
    tags: Option<String>,
) -> Result<PromptTemplate> {
    check_template(content).map_err(|e| EngineError::invalid("content", e.to_string()))?;
    let now = aibt_core::time::now();
    Ok(PromptTemplate {
        prompt_id,
        content: content.to_string(),
        description,
        status: TemplateStatus::Available,
        tags,
        created_at: now,
        updated_at: now,
    })
}

/// Whether a task may be created with this template: only an available one runs (one made
/// unavailable or deleted stays only for the tasks that already ran with it).
pub fn runnable(template: &PromptTemplate) -> bool {
    template.status == TemplateStatus::Available
}

/// The id of a template given as a file: derived from its content, so running the same file
/// again reuses its row, and editing the file makes a new row instead of changing the prompt
/// of the tasks that already ran with it.
pub fn content_id(content: &str) -> String {
    let hash = aibt_ai::llm::hash_json(&serde_json::Value::String(content.to_string()));
    format!("tpl-{}", &hash[..24])
}

/// The stored template with this content, created if absent.
pub async fn template_for_content(
    store: &dyn Store,
    content: &str,
    description: Option<String>,
) -> Result<PromptTemplate> {
    let prompt_id = content_id(content);
    match store.get_template(&prompt_id).await {
        Ok(mut existing) => {
            if existing.status != TemplateStatus::Available {
                // The user gave this content again: they mean to use it.
                existing.status = TemplateStatus::Available;
                existing.updated_at = aibt_core::time::now();
                store.update_template(&existing).await?;
            }
            Ok(existing)
        }
        Err(StoreError::NotFound { .. }) => {
            let template = new_template(prompt_id, content, description, Some("file".into()))?;
            store.insert_template(&template).await?;
            Ok(template)
        }
        Err(other) => Err(other.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_template_is_refused_with_its_line() {
        let error = new_template("t".into(), "ok {{ symbol }}\n{{ prise }}", None, None)
            .expect_err("unknown variable");
        let EngineError::Invalid { field, reason } = error else {
            panic!("not an input error")
        };
        assert_eq!(field, "content");
        assert!(
            reason.starts_with("line 2: unknown variable `prise`"),
            "{reason}"
        );
    }

    #[test]
    fn the_id_follows_the_content() {
        assert_eq!(content_id("a"), content_id("a"));
        assert_ne!(content_id("a"), content_id("a "));
        assert_eq!(content_id("a").len(), 28);
    }
}
