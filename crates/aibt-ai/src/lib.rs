//! Decision providers: the built-in rule strategies, which need no server and serve as the
//! embedded default, the baselines of AI runs and the oracle of the accounting.

pub mod builtin;

pub use builtin::{BUILTIN_STRATEGIES, BuiltinError, StrategyParams, builtin_strategy};
