//! Built-in rule strategies: `builtin:sma-cross`, `builtin:rsi-reversion`,
//! `builtin:buy-and-hold`, `builtin:always-hold`.

use std::collections::{BTreeMap, VecDeque};

use aibt_core::decision::DecisionContext;
use aibt_core::indicators::WilderRsi;
use aibt_core::orders::{Change, Level, OrderTerms};
use aibt_core::{Bar, Decimal, Decision, Money, Percent, Strategy, TradeAction};

/// `name=value` parameters of a strategy, as `--param` gives them.
pub type StrategyParams = BTreeMap<String, String>;

/// Names (without the `builtin:` prefix) and one-line descriptions, for help texts.
pub const BUILTIN_STRATEGIES: &[(&str, &str)] = &[
    (
        "sma-cross",
        "golden cross buys all-in, death cross sells (short=true reverses to a short); params fast=10 slow=20 short=false, and the order params",
    ),
    (
        "rsi-reversion",
        "buys when Wilder RSI falls below lower, sells above upper (short=true shorts above upper); params period=14 lower=30 upper=70 short=false, and the order params",
    ),
    (
        "buy-and-hold",
        "buys all-in at the first decision and holds; the order params",
    ),
    ("always-hold", "never trades (a flat baseline)"),
];

/// A strategy name or parameter that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuiltinError {
    #[error("unknown strategy {0:?}: built-in strategies are {names}", names = BUILTIN_STRATEGIES.iter().map(|(n, _)| format!("builtin:{n}")).collect::<Vec<_>>().join(", "))]
    UnknownStrategy(String),
    #[error("param {name}: {reason}")]
    InvalidParam { name: String, reason: String },
}

/// The parameters of a rule's entry orders: a bracket in percent of the decision bar's close,
/// a trailing stop, and a limit entry that waits `order_ttl_bars` bars for a price `limit_pct`
/// better than that close.
const ORDER_PARAMS: &[&str] = &[
    "stop_loss_pct",
    "take_profit_pct",
    "trailing_stop_pct",
    "limit_pct",
    "order_ttl_bars",
];
const SMA_CROSS_PARAMS: &[&str] = &[
    "fast",
    "slow",
    "short",
    "stop_loss_pct",
    "take_profit_pct",
    "trailing_stop_pct",
    "limit_pct",
    "order_ttl_bars",
];
const RSI_REVERSION_PARAMS: &[&str] = &[
    "period",
    "lower",
    "upper",
    "short",
    "stop_loss_pct",
    "take_profit_pct",
    "trailing_stop_pct",
    "limit_pct",
    "order_ttl_bars",
];

/// What a rule puts on its entries, from its order parameters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EntryOrders {
    pub stop_loss_pct: Option<Percent>,
    pub take_profit_pct: Option<Percent>,
    pub trailing_stop_pct: Option<Percent>,
    pub limit_pct: Option<Percent>,
    pub order_ttl_bars: Option<u32>,
}

impl EntryOrders {
    fn of(p: &Params<'_>) -> Result<EntryOrders, BuiltinError> {
        let limit_pct = p.percent("limit_pct")?;
        let order_ttl_bars = match p.given.get("order_ttl_bars") {
            None => None,
            Some(_) if limit_pct.is_none() => {
                return Err(BuiltinError::InvalidParam {
                    name: "order_ttl_bars".into(),
                    reason: "only a limit entry (limit_pct) waits for later bars".into(),
                });
            }
            Some(_) => Some(p.count("order_ttl_bars", 1, 1, 10_000)? as u32),
        };
        Ok(EntryOrders {
            stop_loss_pct: p.percent("stop_loss_pct")?,
            take_profit_pct: p.percent("take_profit_pct")?,
            trailing_stop_pct: p.percent("trailing_stop_pct")?,
            limit_pct,
            order_ttl_bars,
        })
    }

    /// An entry decision carrying these orders; `close` is the decision bar's close.
    fn on(&self, decision: Decision, close: Option<Money>) -> Decision {
        if *self == EntryOrders::default() {
            return decision;
        }
        let set =
            |pct: Option<Percent>| pct.map_or(Change::Keep, |p| Change::Set(Level::Percent(p)));
        let limit_price = match (self.limit_pct, close) {
            (Some(pct), Some(close)) => {
                let fraction = pct.get() / Decimal::ONE_HUNDRED;
                let factor = if decision.action == TradeAction::ShortSell {
                    Decimal::ONE + fraction
                } else {
                    Decimal::ONE - fraction
                };
                close
                    .get()
                    .checked_mul(factor)
                    .and_then(|price| Money::new(price).ok())
            }
            _ => None,
        };
        decision.with_orders(OrderTerms {
            stop_loss: set(self.stop_loss_pct),
            take_profit: set(self.take_profit_pct),
            trailing_stop_pct: self.trailing_stop_pct.map_or(Change::Keep, Change::Set),
            limit_price,
            order_ttl_bars: limit_price.and(self.order_ttl_bars),
        })
    }
}

/// Reads the parameters of one strategy, refusing any it does not know.
struct Params<'a> {
    given: &'a StrategyParams,
    known: &'static [&'static str],
}

impl Params<'_> {
    fn check_unknown(&self) -> Result<(), BuiltinError> {
        if let Some(name) = self
            .given
            .keys()
            .find(|k| !self.known.contains(&k.as_str()))
        {
            return Err(BuiltinError::InvalidParam {
                name: name.clone(),
                reason: if self.known.is_empty() {
                    "this strategy takes no parameters".into()
                } else {
                    format!("unknown parameter (known: {})", self.known.join(", "))
                },
            });
        }
        Ok(())
    }

    fn count(
        &self,
        name: &str,
        default: usize,
        min: usize,
        max: usize,
    ) -> Result<usize, BuiltinError> {
        let Some(text) = self.given.get(name) else {
            return Ok(default);
        };
        let value: usize = text
            .trim()
            .parse()
            .map_err(|_| BuiltinError::InvalidParam {
                name: name.into(),
                reason: format!("{text:?} is not a whole number"),
            })?;
        if value < min || value > max {
            return Err(BuiltinError::InvalidParam {
                name: name.into(),
                reason: format!("{value} is outside {min}..={max}"),
            });
        }
        Ok(value)
    }

    fn number(&self, name: &str, default: f64, min: f64, max: f64) -> Result<f64, BuiltinError> {
        let Some(text) = self.given.get(name) else {
            return Ok(default);
        };
        let value: f64 = text
            .trim()
            .parse()
            .map_err(|_| BuiltinError::InvalidParam {
                name: name.into(),
                reason: format!("{text:?} is not a number"),
            })?;
        if !(min..=max).contains(&value) {
            return Err(BuiltinError::InvalidParam {
                name: name.into(),
                reason: format!("{value} is outside {min}..={max}"),
            });
        }
        Ok(value)
    }

    /// A percentage strictly between 0 and 100, if given.
    fn percent(&self, name: &str) -> Result<Option<Percent>, BuiltinError> {
        let Some(text) = self.given.get(name) else {
            return Ok(None);
        };
        let bad = |reason: String| BuiltinError::InvalidParam {
            name: name.into(),
            reason,
        };
        let value = Percent::parse(text.trim()).map_err(|e| bad(e.to_string()))?;
        if !value.is_positive() || value.get() >= Decimal::ONE_HUNDRED {
            return Err(bad(format!("{value} is not between 0 and 100 (percent)")));
        }
        Ok(Some(value))
    }

    fn flag(&self, name: &str) -> Result<bool, BuiltinError> {
        match self.given.get(name).map(|t| t.trim().to_ascii_lowercase()) {
            None => Ok(false),
            Some(text) if text == "true" => Ok(true),
            Some(text) if text == "false" => Ok(false),
            Some(text) => Err(BuiltinError::InvalidParam {
                name: name.into(),
                reason: format!("{text:?} is not true or false"),
            }),
        }
    }
}

/// Builds a built-in strategy from its name (`sma-cross` or `builtin:sma-cross`) and params.
pub fn builtin_strategy(
    name: &str,
    params: &StrategyParams,
) -> Result<Box<dyn Strategy>, BuiltinError> {
    let short_name = name.strip_prefix("builtin:").unwrap_or(name);
    match short_name {
        "sma-cross" => {
            let p = Params {
                given: params,
                known: SMA_CROSS_PARAMS,
            };
            p.check_unknown()?;
            let fast = p.count("fast", 10, 1, 10_000)?;
            let slow = p.count("slow", 20, 2, 10_000)?;
            if fast >= slow {
                return Err(BuiltinError::InvalidParam {
                    name: "fast".into(),
                    reason: format!("fast ({fast}) must be shorter than slow ({slow})"),
                });
            }
            Ok(Box::new(
                SmaCross::new(fast, slow, p.flag("short")?).with_orders(EntryOrders::of(&p)?),
            ))
        }
        "rsi-reversion" => {
            let p = Params {
                given: params,
                known: RSI_REVERSION_PARAMS,
            };
            p.check_unknown()?;
            let period = p.count("period", 14, 2, 10_000)?;
            let lower = p.number("lower", 30.0, 0.0, 100.0)?;
            let upper = p.number("upper", 70.0, 0.0, 100.0)?;
            if lower >= upper {
                return Err(BuiltinError::InvalidParam {
                    name: "lower".into(),
                    reason: format!("lower ({lower}) must be below upper ({upper})"),
                });
            }
            Ok(Box::new(
                RsiReversion::new(period, lower, upper, p.flag("short")?)
                    .with_orders(EntryOrders::of(&p)?),
            ))
        }
        "buy-and-hold" => {
            let p = Params {
                given: params,
                known: ORDER_PARAMS,
            };
            p.check_unknown()?;
            Ok(Box::new(BuyAndHold {
                bought: false,
                orders: EntryOrders::of(&p)?,
            }))
        }
        "always-hold" => {
            Params {
                given: params,
                known: &[],
            }
            .check_unknown()?;
            Ok(Box::new(AlwaysHold))
        }
        _ => Err(BuiltinError::UnknownStrategy(name.to_string())),
    }
}

/// Two simple moving averages of the closes, kept as exact sums of their scale-8 mantissas:
/// comparing the averages is then an exact integer comparison, with no float rounding to
/// decide a tie. The fast window is the tail of the slow one, so one ring serves both.
struct ExactSmaPair {
    fast: usize,
    slow: usize,
    window: VecDeque<i128>,
    fast_sum: i128,
    slow_sum: i128,
}

impl ExactSmaPair {
    fn new(fast: usize, slow: usize) -> ExactSmaPair {
        ExactSmaPair {
            fast,
            slow,
            window: VecDeque::with_capacity(slow + 1),
            fast_sum: 0,
            slow_sum: 0,
        }
    }

    fn push(&mut self, scaled_close: i128) {
        self.window.push_back(scaled_close);
        self.fast_sum += scaled_close;
        self.slow_sum += scaled_close;
        let len = self.window.len();
        if len > self.fast {
            self.fast_sum -= self.window[len - 1 - self.fast];
        }
        if len > self.slow {
            self.slow_sum -= self.window.pop_front().unwrap_or(0);
        }
    }

    fn ready(&self) -> bool {
        self.window.len() == self.slow
    }

    /// −1, 0 or 1: the sign of `fast − slow` (`sum_f/n_f` vs `sum_s/n_s`, cross-multiplied).
    fn compare(&self) -> i8 {
        let left = self.fast_sum * self.slow as i128;
        let right = self.slow_sum * self.fast as i128;
        (left > right) as i8 - (left < right) as i8
    }

    /// An average to four decimals, from its exact sum (no float formatting on the hot path).
    fn describe(sum: i128, n: usize) -> String {
        let ten_thousandths = sum / (n as i128 * 10_000);
        let sign = if ten_thousandths < 0 { "-" } else { "" };
        let magnitude = ten_thousandths.unsigned_abs();
        format!("{sign}{}.{:04}", magnitude / 10_000, magnitude % 10_000)
    }
}

/// Golden cross buys, death cross sells; with `short`, each cross reverses the position.
///
/// A cross is backtesting.py's `crossover`: fast below slow on the previous bar and above it
/// on this one (strictly, both times), so a pass through an exact tie is not a cross.
pub struct SmaCross {
    averages: ExactSmaPair,
    short: bool,
    previous: Option<i8>,
    current: Option<i8>,
    orders: EntryOrders,
}

impl SmaCross {
    pub fn new(fast: usize, slow: usize, short: bool) -> SmaCross {
        SmaCross {
            averages: ExactSmaPair::new(fast, slow),
            short,
            previous: None,
            current: None,
            orders: EntryOrders::default(),
        }
    }

    /// The same rule putting `orders` on its entries.
    pub fn with_orders(mut self, orders: EntryOrders) -> SmaCross {
        self.orders = orders;
        self
    }
}

impl Strategy for SmaCross {
    fn warmup_bars(&self) -> usize {
        // A cross compares two bars of the slow average: it needs `slow` bars before the
        // decision bar (backtesting.py starts `next()` at the same bar).
        self.averages.slow
    }

    fn observe(&mut self, bar: &Bar) {
        self.averages.push(bar.close.mantissa());
        self.previous = self.current;
        self.current = self.averages.ready().then(|| self.averages.compare());
    }

    fn decide(&mut self, context: &DecisionContext<'_>) -> Decision {
        let (Some(previous), Some(current)) = (self.previous, self.current) else {
            return Decision::hold("averages still warming up");
        };
        let golden = previous < 0 && current > 0;
        let death = previous > 0 && current < 0;
        let describe = |what: &str| {
            let a = &self.averages;
            format!(
                "{what}: SMA({}) {} vs SMA({}) {}",
                a.fast,
                ExactSmaPair::describe(a.fast_sum, a.fast),
                a.slow,
                ExactSmaPair::describe(a.slow_sum, a.slow)
            )
        };
        let account = context.account;
        let close = context.window.current().map(|bar| bar.close);
        if golden {
            let buy = Decision::all_in(TradeAction::Buy, describe("golden cross"));
            self.orders.on(buy, close)
        } else if death && self.short {
            let short = Decision::all_in(TradeAction::ShortSell, describe("death cross"));
            self.orders.on(short, close)
        } else if death && account.is_long() {
            Decision::all_in(TradeAction::Sell, describe("death cross"))
        } else {
            Decision::hold("no crossover")
        }
    }
}

/// Buys when RSI falls below `lower` and sells when it rises above `upper`; with `short`,
/// shorts above `upper` and covers (by buying) below `lower`.
pub struct RsiReversion {
    rsi: WilderRsi,
    value: Option<f64>,
    lower: f64,
    upper: f64,
    short: bool,
    orders: EntryOrders,
}

impl RsiReversion {
    pub fn new(period: usize, lower: f64, upper: f64, short: bool) -> RsiReversion {
        RsiReversion {
            rsi: WilderRsi::new(period),
            value: None,
            lower,
            upper,
            short,
            orders: EntryOrders::default(),
        }
    }

    /// The same rule putting `orders` on its entries.
    pub fn with_orders(mut self, orders: EntryOrders) -> RsiReversion {
        self.orders = orders;
        self
    }
}

impl Strategy for RsiReversion {
    fn warmup_bars(&self) -> usize {
        self.rsi.period()
    }

    fn observe(&mut self, bar: &Bar) {
        self.value = self.rsi.push(bar.close.to_f64());
    }

    fn decide(&mut self, context: &DecisionContext<'_>) -> Decision {
        let Some(rsi) = self.value else {
            return Decision::hold("RSI still warming up");
        };
        let account = context.account;
        let close = context.window.current().map(|bar| bar.close);
        if rsi < self.lower && !account.is_long() {
            let buy = Decision::all_in(
                TradeAction::Buy,
                format!("RSI {rsi:.2} below {}", self.lower),
            );
            self.orders.on(buy, close)
        } else if rsi > self.upper && self.short && !account.is_short() {
            let short = Decision::all_in(
                TradeAction::ShortSell,
                format!("RSI {rsi:.2} above {}", self.upper),
            );
            self.orders.on(short, close)
        } else if rsi > self.upper && account.is_long() {
            Decision::all_in(
                TradeAction::Sell,
                format!("RSI {rsi:.2} above {}", self.upper),
            )
        } else {
            Decision::hold("RSI inside its band")
        }
    }
}

/// Buys everything at the first decision and never trades again.
pub struct BuyAndHold {
    bought: bool,
    orders: EntryOrders,
}

impl Strategy for BuyAndHold {
    fn warmup_bars(&self) -> usize {
        0
    }

    fn observe(&mut self, _bar: &Bar) {}

    fn decide(&mut self, context: &DecisionContext<'_>) -> Decision {
        if self.bought || !context.account.is_flat() {
            self.bought = true;
            return Decision::hold("holding");
        }
        self.bought = true;
        let buy = Decision::all_in(TradeAction::Buy, "buy and hold: the first decision buys");
        self.orders
            .on(buy, context.window.current().map(|bar| bar.close))
    }
}

/// Never trades.
pub struct AlwaysHold;

impl Strategy for AlwaysHold {
    fn warmup_bars(&self) -> usize {
        0
    }

    fn observe(&mut self, _bar: &Bar) {}

    fn decide(&mut self, _context: &DecisionContext<'_>) -> Decision {
        Decision::hold("always hold")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> StrategyParams {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn names_and_params_are_checked() {
        assert!(builtin_strategy("builtin:sma-cross", &params(&[])).is_ok());
        assert!(builtin_strategy("always-hold", &params(&[])).is_ok());
        let err = builtin_strategy("builtin:macd", &params(&[]))
            .err()
            .unwrap();
        assert!(err.to_string().contains("builtin:sma-cross"), "{err}");
        let err = builtin_strategy("sma-cross", &params(&[("fast", "abc")]))
            .err()
            .unwrap();
        assert_eq!(err.to_string(), "param fast: \"abc\" is not a whole number");
        let err = builtin_strategy("sma-cross", &params(&[("fast", "30"), ("slow", "20")]))
            .err()
            .unwrap();
        assert!(
            err.to_string().contains("must be shorter than slow"),
            "{err}"
        );
        let err = builtin_strategy("sma-cross", &params(&[("window", "3")]))
            .err()
            .unwrap();
        assert!(
            err.to_string()
                .starts_with("param window: unknown parameter"),
            "{err}"
        );
        let err = builtin_strategy("sma-cross", &params(&[("short", "yes")]))
            .err()
            .unwrap();
        assert!(err.to_string().contains("not true or false"), "{err}");
        let err = builtin_strategy("always-hold", &params(&[("x", "1")]))
            .err()
            .unwrap();
        assert!(err.to_string().contains("takes no parameters"), "{err}");
        // Buy and hold takes the order parameters (a bracket on its one entry), nothing else.
        let err = builtin_strategy("buy-and-hold", &params(&[("x", "1")]))
            .err()
            .unwrap();
        assert!(err.to_string().contains("known: stop_loss_pct"), "{err}");
        let err = builtin_strategy("sma-cross", &params(&[("order_ttl_bars", "2")]))
            .err()
            .unwrap();
        assert!(err.to_string().contains("limit_pct"), "{err}");
        let err = builtin_strategy("sma-cross", &params(&[("stop_loss_pct", "120")]))
            .err()
            .unwrap();
        assert!(err.to_string().contains("between 0 and 100"), "{err}");
        let err = builtin_strategy("rsi-reversion", &params(&[("lower", "80")]))
            .err()
            .unwrap();
        assert!(err.to_string().contains("must be below upper"), "{err}");
    }

    #[test]
    fn exact_sums_see_a_tie_as_a_tie() {
        let mut averages = ExactSmaPair::new(1, 2);
        for close in [100_00000000i128, 100_00000000] {
            averages.push(close);
        }
        assert_eq!(averages.compare(), 0);
        averages.push(101_00000000);
        assert_eq!(averages.compare(), 1);
        assert_eq!(ExactSmaPair::describe(averages.slow_sum, 2), "100.5000");
    }
}
