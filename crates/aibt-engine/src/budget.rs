//! What a task may spend on its model, and the check made before each call.
//!
//! A budget is money (by the AI config's prices per million tokens) or tokens, or both. A
//! call is made only when what the task has spent so far plus the most the call can cost fits
//! the budget; otherwise the task pauses with the reason before the call. The most a call can
//! cost is its prompt's tokens, estimated from its length at the rate this task's earlier
//! prompts were counted by the server (one token per two characters before the first
//! answer, more than the four characters a token of English text), plus the AI config's
//! `max_tokens` for the answer. A retry of an unusable answer is a further call, counted when
//! it has been made.

use aibt_core::{Decimal, Money};
use aibt_store::AiConfig;
use serde::{Deserialize, Serialize};

use crate::error::{EngineError, Result};

/// How the reason of a pause at a budget begins (the CLI and the UI offer a larger budget).
pub const REASON_PREFIX: &str = "budget of ";

/// Whether a task's `error_message` says it paused at its budget.
pub fn is_budget_reason(message: &str) -> bool {
    message.starts_with(REASON_PREFIX)
}

/// The most a task (or an experiment) may spend on its model.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// Money, by the AI config's prices (which it must then have).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub money: Option<Money>,
    /// Prompt and completion tokens together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<u64>,
}

impl std::fmt::Display for Budget {
    /// `2.50 · 150000 tokens`, as a money amount and a token count.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let limits: Vec<String> = self
            .money
            .map(|money| money.get().normalize().to_string())
            .into_iter()
            .chain(self.tokens.map(|tokens| format!("{tokens} tokens")))
            .collect();
        f.write_str(&limits.join(" · "))
    }
}

/// The prices of a model's tokens, per million.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prices {
    pub input_per_million: Money,
    pub output_per_million: Money,
}

impl Prices {
    /// The AI config's prices, when it has both.
    pub fn of(config: &AiConfig) -> Option<Prices> {
        Some(Prices {
            input_per_million: config.price_input_per_million?,
            output_per_million: config.price_output_per_million?,
        })
    }

    /// What `prompt` and `completion` tokens cost, exactly.
    pub fn cost(&self, spend: Spend) -> Decimal {
        per_million(spend.prompt_tokens, self.input_per_million)
            + per_million(spend.completion_tokens, self.output_per_million)
    }

    /// What a decision cost: nothing when the cache answered it (no call), its tokens at
    /// these prices otherwise, rounded to money's 8 places; `None` when the server reported
    /// no tokens to count by (an estimate is not a cost).
    pub fn decision_cost(
        prices: Option<Prices>,
        (prompt_tokens, completion_tokens): (Option<i64>, Option<i64>),
        calls: i64,
    ) -> Option<Money> {
        let prices = prices?;
        if calls <= 0 {
            return Some(Money::ZERO);
        }
        let count = |tokens: Option<i64>| tokens.and_then(|t| u64::try_from(t).ok());
        let spend = Spend {
            prompt_tokens: count(prompt_tokens)?,
            completion_tokens: count(completion_tokens)?,
        };
        Money::new(prices.cost(spend).round_dp(Money::SCALE)).ok()
    }
}

/// What `tokens` cost at `price` a million: the one pricing rule of budgets, plans and
/// leaderboards.
pub fn per_million(tokens: u64, price: Money) -> Decimal {
    Decimal::from(tokens) * price.get() / Decimal::from(1_000_000)
}

/// Tokens spent (or to be spent) on calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Spend {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

impl Spend {
    pub fn tokens(&self) -> u64 {
        self.prompt_tokens.saturating_add(self.completion_tokens)
    }

    pub fn plus(self, other: Spend) -> Spend {
        Spend {
            prompt_tokens: self.prompt_tokens.saturating_add(other.prompt_tokens),
            completion_tokens: self
                .completion_tokens
                .saturating_add(other.completion_tokens),
        }
    }
}

impl Budget {
    pub fn is_empty(&self) -> bool {
        self.money.is_none() && self.tokens.is_none()
    }

    /// A budget as people write it, one limit a value: `2.50` is money (by the AI config's
    /// prices), `150000tokens` is tokens. Both kinds may be given; each at most once.
    pub fn parse(values: &[String], field: &str) -> Result<Budget> {
        let mut budget = Budget::default();
        for value in values {
            let text = value.trim();
            if let Some(count) = text.strip_suffix("tokens") {
                let tokens = count.trim().replace('_', "").parse::<u64>().map_err(|_| {
                    EngineError::invalid(
                        field,
                        format!("{text:?}: a token budget is a whole number, as 150000tokens"),
                    )
                })?;
                if budget.tokens.replace(tokens).is_some() {
                    return Err(EngineError::invalid(field, "a token budget given twice"));
                }
            } else {
                let money = Money::parse(text).map_err(|e| {
                    EngineError::invalid(
                        field,
                        format!("{text:?}: {e}; give money (2.50) or tokens (150000tokens)"),
                    )
                })?;
                if money.is_negative() {
                    return Err(EngineError::invalid(field, "must not be negative"));
                }
                if budget.money.replace(money).is_some() {
                    return Err(EngineError::invalid(field, "a money budget given twice"));
                }
            }
        }
        Ok(budget)
    }

    /// Refuses a budget that cannot be kept: negative money, or money without the prices to
    /// count it by. `field` names the budget in the error.
    pub fn check(&self, field: &str, prices: Option<Prices>, config_name: &str) -> Result<()> {
        if let Some(money) = self.money {
            if money.is_negative() {
                return Err(EngineError::invalid(
                    format!("{field}.money"),
                    "must not be negative",
                ));
            }
            if prices.is_none() {
                return Err(EngineError::invalid(
                    format!("{field}.money"),
                    format!(
                        "the AI config {config_name:?} has no token prices to count money by; \
                         set price_input_per_million and price_output_per_million, or give a budget in tokens"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Why a call costing at most `next` after `spent` would pass the budget; `None` when it
    /// fits.
    pub fn exceeded_by(&self, prices: Option<Prices>, spent: Spend, next: Spend) -> Option<String> {
        let total = spent.plus(next);
        if let Some(limit) = self.tokens
            && total.tokens() > limit
        {
            return Some(format!(
                "{REASON_PREFIX}{limit} tokens reached: {} spent, the next call may take {} more",
                spent.tokens(),
                next.tokens()
            ));
        }
        if let (Some(limit), Some(prices)) = (self.money, prices)
            && prices.cost(total) > limit.get()
        {
            return Some(format!(
                "{REASON_PREFIX}{limit} reached: {} spent, the next call may cost up to {}",
                prices.cost(spent).round_dp(6).normalize(),
                prices.cost(next).round_dp(6).normalize()
            ));
        }
        None
    }

    /// This budget's share for one of several tasks: `part` of `whole` (decisions), rounded
    /// down so the shares never add up to more than the whole.
    pub fn share(&self, part: u64, whole: u64) -> Result<Budget> {
        if whole == 0 {
            return Ok(self.clone());
        }
        let money = match self.money {
            Some(money) => {
                let exact = money.get() * Decimal::from(part) / Decimal::from(whole);
                let floored = exact
                    .round_dp_with_strategy(Money::SCALE, rust_decimal::RoundingStrategy::ToZero);
                Some(
                    Money::new(floored)
                        .map_err(|e| EngineError::invalid("budget.money", e.to_string()))?,
                )
            }
            None => None,
        };
        let tokens = self.tokens.map(|tokens| {
            u64::try_from(u128::from(tokens) * u128::from(part) / u128::from(whole))
                .unwrap_or(u64::MAX)
        });
        Ok(Budget { money, tokens })
    }
}

/// The running account of a task's model spending, kept by its decision source.
#[derive(Debug, Clone)]
pub struct Meter {
    pub budget: Budget,
    pub prices: Option<Prices>,
    /// Tokens of the calls made so far (in earlier runs of the task too).
    pub spent: Spend,
    /// Prompt tokens counted by the server and the characters of those prompts, for the
    /// estimate of the next prompt's tokens.
    counted_tokens: u64,
    counted_characters: u64,
    /// The most an answer may take.
    pub max_tokens: u64,
    /// The most calls a decision makes: 1, or in tool mode its tool calls and one more (each
    /// resending the conversation).
    pub calls_per_decision: u64,
}

impl Meter {
    pub fn new(budget: Budget, prices: Option<Prices>, max_tokens: u64) -> Meter {
        Meter {
            budget,
            prices,
            spent: Spend::default(),
            counted_tokens: 0,
            counted_characters: 0,
            max_tokens,
            calls_per_decision: 1,
        }
    }

    /// Adds a decision's `calls` (none when the cache answered): the tokens the server
    /// counted, or where it counted none, the estimate from the prompt's `characters` and the
    /// answer's.
    pub fn record(
        &mut self,
        characters: usize,
        answer_characters: usize,
        (prompt_tokens, completion_tokens): (Option<i64>, Option<i64>),
        calls: i64,
    ) {
        if calls <= 0 {
            return;
        }
        let counted = |tokens: Option<i64>| tokens.and_then(|t| u64::try_from(t).ok());
        let calls = calls as u64;
        let spend = Spend {
            prompt_tokens: counted(prompt_tokens)
                .unwrap_or_else(|| self.prompt_tokens_of(characters).saturating_mul(calls)),
            completion_tokens: counted(completion_tokens)
                .unwrap_or_else(|| (answer_characters as u64).div_ceil(2)),
        };
        self.spent = self.spent.plus(spend);
        // Only a single call's count says how this prompt tokenizes (a retry sends more).
        if calls == 1
            && let Some(tokens) = counted(prompt_tokens)
        {
            self.counted_tokens += tokens;
            self.counted_characters += characters as u64;
        }
    }

    /// The most a decision with a prompt of `characters` can cost: its calls, each at most
    /// the prompt and the longest answer (in tool mode, tool results make later calls longer
    /// than the prompt: the projection can fall short by their size).
    pub fn projected(&self, characters: usize) -> Spend {
        Spend {
            prompt_tokens: self
                .prompt_tokens_of(characters)
                .saturating_mul(self.calls_per_decision),
            completion_tokens: self.max_tokens.saturating_mul(self.calls_per_decision),
        }
    }

    /// The most tokens a prompt of `characters` can take.
    fn prompt_tokens_of(&self, characters: usize) -> u64 {
        let characters = characters as u64;
        if self.counted_characters == 0 {
            characters.div_ceil(2)
        } else {
            // The rate seen so far, a tenth more for prompts that tokenize worse.
            (u128::from(characters) * u128::from(self.counted_tokens) * 11)
                .div_ceil(u128::from(self.counted_characters) * 10) as u64
        }
    }

    /// Why a call with a prompt of `characters` may not be made, after `in_flight` more
    /// already asked; `None` when it may.
    pub fn refuses(&self, characters: usize, in_flight: Spend) -> Option<String> {
        self.budget.exceeded_by(
            self.prices,
            self.spent.plus(in_flight),
            self.projected(characters),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn money(text: &str) -> Money {
        Money::parse(text).expect("money")
    }

    fn prices() -> Prices {
        Prices {
            input_per_million: money("0.5"),
            output_per_million: money("1.5"),
        }
    }

    #[test]
    fn a_decision_costs_its_counted_tokens_and_nothing_from_the_cache() {
        // 1,234 prompt tokens at 0.5 and 56 completion tokens at 1.5 a million.
        assert_eq!(
            Prices::decision_cost(Some(prices()), (Some(1234), Some(56)), 1),
            Some(money("0.000701"))
        );
        assert_eq!(
            Prices::decision_cost(Some(prices()), (Some(1234), Some(56)), 0),
            Some(Money::ZERO)
        );
        assert_eq!(
            Prices::decision_cost(Some(prices()), (None, Some(56)), 1),
            None
        );
        assert_eq!(Prices::decision_cost(None, (Some(1), Some(1)), 1), None);
    }

    #[test]
    fn budgets_parse_as_people_write_them() {
        let parsed = |values: &[&str]| {
            Budget::parse(
                &values.iter().map(|v| v.to_string()).collect::<Vec<_>>(),
                "--budget",
            )
        };
        assert_eq!(
            parsed(&["2.50", "150_000tokens"]).expect("budget"),
            Budget {
                money: Some(money("2.5")),
                tokens: Some(150_000),
            }
        );
        for bad in [&["-1"][..], &["lots"], &["1.5tokens"], &["1", "2"]] {
            let error = parsed(bad).expect_err("refused").to_string();
            assert!(error.starts_with("--budget: "), "{error}");
        }
    }

    #[test]
    fn cost_is_exact() {
        let spend = Spend {
            prompt_tokens: 1_234_567,
            completion_tokens: 89,
        };
        // 1.234567 × 0.5 + 0.000089 × 1.5
        assert_eq!(prices().cost(spend), Decimal::new(6174170, 7));
    }

    #[test]
    fn a_call_is_refused_when_its_most_would_pass_the_budget() {
        let budget = Budget {
            money: None,
            tokens: Some(1000),
        };
        let mut meter = Meter::new(budget, None, 100);
        // Before any answer: 2 characters a token.
        assert_eq!(meter.projected(800).prompt_tokens, 400);
        assert!(meter.refuses(800, Spend::default()).is_none());
        meter.record(800, 120, (Some(200), Some(50)), 1);
        // A cached answer costs nothing.
        meter.record(800, 120, (Some(200), Some(50)), 0);
        // 4 characters a token seen, plus a tenth.
        assert_eq!(meter.projected(800).prompt_tokens, 220);
        // 250 spent + 220 + 100 = 570 fits; with 500 in flight it does not.
        assert!(meter.refuses(800, Spend::default()).is_none());
        let reason = meter
            .refuses(
                800,
                Spend {
                    prompt_tokens: 400,
                    completion_tokens: 100,
                },
            )
            .expect("refused");
        assert!(reason.contains("1000 tokens"), "{reason}");
    }

    #[test]
    fn money_budgets_count_by_the_prices() {
        let budget = Budget {
            money: Some(money("0.001")),
            tokens: None,
        };
        // 1000 prompt tokens (0.0005) + 300 completion (0.00045) = 0.00095 fits; 400 does not.
        let spent = Spend::default();
        let next = |completion_tokens| Spend {
            prompt_tokens: 1000,
            completion_tokens,
        };
        assert!(
            budget
                .exceeded_by(Some(prices()), spent, next(300))
                .is_none()
        );
        assert!(
            budget
                .exceeded_by(Some(prices()), spent, next(400))
                .is_some()
        );
        assert!(budget.check("budget", None, "local").is_err());
        assert!(budget.check("budget", Some(prices()), "local").is_ok());
    }

    #[test]
    fn shares_never_add_up_to_more_than_the_whole() {
        let budget = Budget {
            money: Some(money("10")),
            tokens: Some(1000),
        };
        let shares: Vec<Budget> = [1u64, 1, 1]
            .iter()
            .map(|part| budget.share(*part, 3).expect("share"))
            .collect();
        let money_total: Decimal = shares.iter().filter_map(|s| s.money).map(Money::get).sum();
        let tokens_total: u64 = shares.iter().filter_map(|s| s.tokens).sum();
        assert!(money_total <= Decimal::from(10));
        assert!(money_total > Decimal::new(99999, 4));
        assert_eq!(tokens_total, 999);
    }
}
