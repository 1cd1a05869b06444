//! What a model task is made of and what it keeps of its calls: the prompt templates, the AI
//! configs and the cache of the answers.

use crate::error::Result;
use crate::rows::{AiConfig, CachedAnswer, PromptTemplate};
use crate::sql::columns::{BindRow, ReadRow, TableRow, WriteRow};
use crate::sql::table::Table;

pub static TEMPLATES: Table = Table::new(
    "prompt_templates",
    "template",
    &[
        "prompt_id",
        "content",
        "description",
        "status",
        "tags",
        "created_at",
        "updated_at",
    ],
);

impl TableRow for PromptTemplate {
    fn table() -> &'static Table {
        &TEMPLATES
    }

    fn read(r: &impl ReadRow) -> Result<PromptTemplate> {
        Ok(PromptTemplate {
            prompt_id: r.text(0)?,
            content: r.text(1)?,
            description: r.opt_text(2)?,
            status: r.label(3)?,
            tags: r.opt_text(4)?,
            created_at: r.time(5)?,
            updated_at: r.time(6)?,
        })
    }
}

impl WriteRow for PromptTemplate {
    fn key(&self) -> &str {
        &self.prompt_id
    }

    fn bind(&self, b: &mut impl BindRow) -> Result<()> {
        b.text(&self.prompt_id);
        b.text(&self.content);
        b.opt_text(self.description.as_deref());
        b.label(self.status.as_str());
        b.opt_text(self.tags.as_deref());
        b.time(self.created_at);
        b.time(self.updated_at);
        Ok(())
    }
}

pub static AI_CONFIGS: Table = Table::new(
    "ai_configs",
    "AI config",
    &[
        "config_id",
        "name",
        "local_ai_base_url",
        "local_ai_api_key",
        "local_ai_model_name",
        "created_at",
        "updated_at",
        "temperature",
        "max_tokens",
        "timeout_seconds",
        "response_format",
        "max_concurrency",
        "max_retries",
        "knowledge_cutoff",
        "price_input_per_million",
        "price_output_per_million",
        "reasoning_effort",
        "decision_mode",
        "tools_refused",
    ],
);

impl TableRow for AiConfig {
    fn table() -> &'static Table {
        &AI_CONFIGS
    }

    fn read(r: &impl ReadRow) -> Result<AiConfig> {
        Ok(AiConfig {
            config_id: r.text(0)?,
            name: r.text(1)?,
            local_ai_base_url: r.text(2)?,
            local_ai_api_key: r.text(3)?,
            local_ai_model_name: r.text(4)?,
            created_at: r.time(5)?,
            updated_at: r.time(6)?,
            temperature: r.decimal(7)?,
            max_tokens: r.int(8)?,
            timeout_seconds: r.int(9)?,
            response_format: r.label(10)?,
            max_concurrency: r.int(11)?,
            max_retries: r.int(12)?,
            knowledge_cutoff: r.opt_date(13)?,
            price_input_per_million: r.opt_decimal(14)?,
            price_output_per_million: r.opt_decimal(15)?,
            reasoning_effort: r.opt_text(16)?,
            decision_mode: r.label(17)?,
            tools_refused: r.opt_text(18)?,
        })
    }
}

impl WriteRow for AiConfig {
    fn key(&self) -> &str {
        &self.config_id
    }

    fn bind(&self, b: &mut impl BindRow) -> Result<()> {
        b.text(&self.config_id);
        b.text(&self.name);
        b.text(&self.local_ai_base_url);
        b.text(&self.local_ai_api_key);
        b.text(&self.local_ai_model_name);
        b.time(self.created_at);
        b.time(self.updated_at);
        b.decimal(self.temperature);
        b.int(self.max_tokens)?;
        b.int(self.timeout_seconds)?;
        b.label(self.response_format.as_str());
        b.int(self.max_concurrency)?;
        b.int(self.max_retries)?;
        b.opt_date(self.knowledge_cutoff);
        b.opt_decimal(self.price_input_per_million);
        b.opt_decimal(self.price_output_per_million);
        b.opt_text(self.reasoning_effort.as_deref());
        b.label(self.decision_mode.as_str());
        b.opt_text(self.tools_refused.as_deref());
        Ok(())
    }
}

pub static CACHE: Table = Table::new(
    "llm_cache",
    "cached answer",
    &["cache_key", "base_url", "model", "response", "created_at"],
);

impl TableRow for CachedAnswer {
    fn table() -> &'static Table {
        &CACHE
    }

    fn read(r: &impl ReadRow) -> Result<CachedAnswer> {
        Ok(CachedAnswer {
            cache_key: r.text(0)?,
            base_url: r.text(1)?,
            model: r.text(2)?,
            response: r.json(3)?,
            created_at: r.time(4)?,
        })
    }
}

impl WriteRow for CachedAnswer {
    fn key(&self) -> &str {
        &self.cache_key
    }

    fn bind(&self, b: &mut impl BindRow) -> Result<()> {
        b.text(&self.cache_key);
        b.text(&self.base_url);
        b.text(&self.model);
        b.json(&self.response);
        b.time(self.created_at);
        Ok(())
    }
}
