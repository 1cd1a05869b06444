//! The domain of aibt: exact money, the seed's enums, market bars, the broker (accounts, lots,
//! fees, margin, fills), the bar-by-bar simulation of one task, statistics and indicators.
//! Nothing here performs IO, so every accounting rule can be tested without a database or a
//! network.

pub mod bar;
pub mod broker;
pub mod context;
pub mod decimal;
pub mod decision;
pub mod enums;
pub mod experiment;
pub mod indicators;
pub mod orders;
pub mod simulation;
pub mod stats;
pub mod time;

pub use bar::{Bar, BarError};
pub use broker::{Account, AccountSettings, Execution, Fill, Lot, Order, OrderSize, RoundTrip};
pub use decimal::{DecimalError, Money, Percent, Quantity, Rate};
pub use decision::{Decision, DecisionContext, PointInTime, PositionView, Strategy};
pub use enums::{
    DecisionMode, EnumParseError, ExitReason, MarketType, PositionSide, ResponseFormat, TaskStatus,
    TemplateStatus, TimeGranularity, TradeAction, TradeStatus,
};
pub use orders::{Bracket, Change, Level, OrderTerms};
pub use rust_decimal::Decimal;
pub use simulation::{Checkpoint, FillRule, Simulation};
pub use stats::{Stats, StatsAccumulator};
