//! The seed's enumerations. Each parses from and prints to exactly the strings the seed stores,
//! so rows written by aibt read the same as the original system's.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A string that is not one of an enumeration's values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {input:?}: expected one of {}", allowed.join(", "))]
pub struct EnumParseError {
    pub what: &'static str,
    pub input: String,
    pub allowed: &'static [&'static str],
}

macro_rules! seed_enum {
    (
        $(#[$doc:meta])*
        $name:ident, what = $what:literal {
            $($(#[$vdoc:meta])* $variant:ident => $text:literal),+ $(,)?
        }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            /// Every value, in the seed's order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];
            /// The stored strings, in the same order as [`Self::ALL`].
            pub const NAMES: &'static [&'static str] = &[$($text),+];

            /// The string the seed stores for this value.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = EnumParseError;
            fn from_str(text: &str) -> Result<Self, Self::Err> {
                match text {
                    $($text => Ok(Self::$variant),)+
                    _ => Err(EnumParseError {
                        what: $what,
                        input: text.to_string(),
                        allowed: Self::NAMES,
                    }),
                }
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some(Self::NAMES.iter().copied()))
                    .into()
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for $name {}
    };
}

seed_enum!(
    /// Which market a symbol trades in; it decides the default quantity unit and calendar.
    MarketType, what = "market type" {
        /// US stocks: whole shares unless the account allows fractions, 252 trading days.
        Us => "US",
        /// Crypto: quantities in steps of 0.00000001, trading every day.
        Coin => "COIN",
    }
);

seed_enum!(
    /// The direction of an account's position (`LONG` when flat, as in the seed).
    PositionSide, what = "position side" {
        Long => "LONG",
        Short => "SHORT",
    }
);

seed_enum!(
    /// A backtest task's lifecycle state.
    TaskStatus, what = "task status" {
        Pending => "PENDING",
        Running => "RUNNING",
        Paused => "PAUSED",
        Completed => "COMPLETED",
        CompletedWithErrors => "COMPLETED_WITH_ERRORS",
        Failed => "FAILED",
        Cancelled => "CANCELLED",
    }
);

seed_enum!(
    /// The bar size category of a series: `minute` covers bars shorter than an hour (1m, 5m,
    /// 15m), `hourly` bars from an hour up to a day, `daily` a day or longer.
    TimeGranularity, what = "time granularity" {
        Daily => "daily",
        Hourly => "hourly",
        Minute => "minute",
    }
);

seed_enum!(
    /// What a decision asks for and what a trade record did.
    TradeAction, what = "trade action" {
        Buy => "BUY",
        Sell => "SELL",
        Hold => "HOLD",
        /// Open or add to a short position.
        ShortSell => "SHORT_SELL",
        /// Buy back shares of a short position.
        CoverShort => "COVER_SHORT",
    }
);

seed_enum!(
    /// A trade record's state. aibt writes `EXECUTED` for fills and `FAILED` for orders the
    /// broker refused (the reason is in `reject_reason`).
    TradeStatus, what = "trade status" {
        Pending => "PENDING",
        Executed => "EXECUTED",
        Completed => "COMPLETED",
        Cancelled => "CANCELLED",
        Failed => "FAILED",
    }
);

seed_enum!(
    /// Why a position was closed (an aibt addition to `trade_records`, on closing records).
    ExitReason, what = "exit reason" {
        /// A decision sold or covered (or reversed the position).
        Signal => "SIGNAL",
        /// The position's stop-loss was touched (or gapped through).
        StopLoss => "STOP_LOSS",
        /// The position's take-profit was touched (or gapped through).
        TakeProfit => "TAKE_PROFIT",
        /// The trailing stop, following the best close since entry, was touched.
        TrailingStop => "TRAILING_STOP",
        /// A short's losses took equity to zero: covered at the close.
        MarginCall => "MARGIN_CALL",
        /// Closed at the last bar's close because the task asked to end flat.
        End => "END",
    }
);

seed_enum!(
    /// A prompt template's state; `DELETED` is a soft delete.
    TemplateStatus, what = "template status" {
        Available => "AVAILABLE",
        Unavailable => "UNAVAILABLE",
        Deleted => "DELETED",
    }
);

seed_enum!(
    /// How a model is asked for structured output (an aibt addition to `ai_configs`).
    ResponseFormat, what = "response format" {
        /// `response_format: {"type": "json_schema", ...}`: the server constrains the answer.
        JsonSchema => "json_schema",
        /// `response_format: {"type": "json_object"}`: any JSON object.
        JsonObject => "json_object",
        /// No `response_format` at all, for servers that reject it; the JSON is extracted
        /// from the text.
        None => "none",
    }
);

seed_enum!(
    /// How a model gives its decision (an aibt addition to `ai_configs`).
    #[derive(Default)]
    DecisionMode, what = "decision mode" {
        /// One answer holding the decision as a JSON object.
        #[default]
        Json => "json",
        /// Tool calls: the model may look things up (`get_bars`, `get_position`, …) and
        /// answers by calling `submit_decision`.
        Tools => "tools",
    }
);

impl Default for ExitReason {
    /// A decision's order, unless the simulation says otherwise.
    fn default() -> ExitReason {
        ExitReason::Signal
    }
}

impl TaskStatus {
    /// States from which a task never runs again.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Completed | Self::CompletedWithErrors | Self::Cancelled
        )
    }

    /// COMPLETED or COMPLETED_WITH_ERRORS: a run that reached its last bar, whose records are
    /// whole (what a replay or an experiment's leaderboard reads).
    pub fn is_completed(self) -> bool {
        matches!(self, Self::Completed | Self::CompletedWithErrors)
    }

    /// PENDING or RUNNING: the states whose progress a page keeps watching, because a worker
    /// has the task or is about to.
    pub fn is_live(self) -> bool {
        matches!(self, Self::Pending | Self::Running)
    }

    /// The lifecycle of the seed, as one table: PENDING → RUNNING ⇄ PAUSED → a final state.
    /// A FAILED task may run again; it resumes from its last committed step.
    pub fn can_become(self, next: TaskStatus) -> bool {
        use TaskStatus::*;
        matches!(
            (self, next),
            (Pending, Running)
                | (Pending, Cancelled)
                | (Running, Paused)
                | (Running, Completed)
                | (Running, CompletedWithErrors)
                | (Running, Failed)
                | (Running, Cancelled)
                | (Paused, Running)
                | (Paused, Cancelled)
                | (Failed, Running)
                | (Failed, Cancelled)
        )
    }
}

impl TradeAction {
    /// Whether the broker counts this as a sell-side execution (sell commission and tax).
    pub fn is_sell_side(self) -> bool {
        matches!(self, Self::Sell | Self::ShortSell)
    }

    /// BUY and COVER_SHORT: executions that buy.
    pub fn is_buy_side(self) -> bool {
        matches!(self, Self::Buy | Self::CoverShort)
    }
}

impl MarketType {
    /// US shares trade in whole units by default; crypto in steps of 10^-8.
    pub fn whole_units_by_default(self) -> bool {
        matches!(self, Self::Us)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_round_trips_through_its_seed_string() {
        fn check<T: Copy + fmt::Display + FromStr + PartialEq + fmt::Debug>(all: &[T])
        where
            T::Err: fmt::Debug,
        {
            for value in all {
                assert_eq!(value.to_string().parse::<T>().unwrap(), *value);
            }
        }
        check(MarketType::ALL);
        check(PositionSide::ALL);
        check(TaskStatus::ALL);
        check(TimeGranularity::ALL);
        check(TradeAction::ALL);
        check(TradeStatus::ALL);
        check(TemplateStatus::ALL);
    }

    #[test]
    fn seed_strings_are_exact() {
        assert_eq!(
            TaskStatus::NAMES,
            &[
                "PENDING",
                "RUNNING",
                "PAUSED",
                "COMPLETED",
                "COMPLETED_WITH_ERRORS",
                "FAILED",
                "CANCELLED"
            ]
        );
        assert_eq!(TimeGranularity::NAMES, &["daily", "hourly", "minute"]);
        assert_eq!(
            TradeAction::NAMES,
            &["BUY", "SELL", "HOLD", "SHORT_SELL", "COVER_SHORT"]
        );
        assert_eq!(MarketType::NAMES, &["US", "COIN"]);
        assert_eq!(PositionSide::NAMES, &["LONG", "SHORT"]);
        assert_eq!(
            TemplateStatus::NAMES,
            &["AVAILABLE", "UNAVAILABLE", "DELETED"]
        );
    }

    #[test]
    fn unknown_strings_name_the_allowed_values() {
        let err = "us".parse::<MarketType>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown market type \"us\": expected one of US, COIN"
        );
        assert!(serde_json::from_str::<TaskStatus>("\"DONE\"").is_err());
    }

    #[test]
    fn lifecycle_refuses_what_the_seed_forbids() {
        assert!(TaskStatus::Pending.can_become(TaskStatus::Running));
        assert!(TaskStatus::Paused.can_become(TaskStatus::Running));
        assert!(!TaskStatus::Completed.can_become(TaskStatus::Running));
        assert!(!TaskStatus::Cancelled.can_become(TaskStatus::Running));
        assert!(!TaskStatus::Pending.can_become(TaskStatus::Paused));
        for status in TaskStatus::ALL {
            if status.is_terminal() {
                assert!(TaskStatus::ALL.iter().all(|next| !status.can_become(*next)));
            }
        }
    }
}
