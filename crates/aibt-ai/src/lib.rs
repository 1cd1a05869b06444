//! Decision providers: the built-in rule strategies, which need no server and serve as the
//! embedded default, the baselines of AI runs and the oracle of the accounting; and LLM
//! strategies: prompt templates, an OpenAI-compatible client, answer parsing and the cache key.

pub mod agent;
pub mod answer;
pub mod builtin;
pub mod client;
pub mod gate;
pub mod llm;
pub mod order_terms;
pub mod template;
pub mod thinking;
pub mod tools;

pub use builtin::{BUILTIN_STRATEGIES, BuiltinError, StrategyParams, builtin_strategy};
