//! One OHLCV bar and the rules that make it usable by the broker.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::decimal::{Money, Quantity};

/// A bar whose values contradict each other or cannot be traded on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct BarError {
    /// The CSV column / JSON field at fault.
    pub field: &'static str,
    pub reason: String,
}

/// One bar of a series. `ts` is the bar's open time, as in every bundled data file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Bar {
    pub ts: DateTime<Utc>,
    pub open: Money,
    pub high: Money,
    pub low: Money,
    pub close: Money,
    pub volume: Quantity,
}

impl Bar {
    /// Builds a bar, refusing non-positive prices, a negative volume and a high or low that
    /// does not bound the open and close.
    pub fn new(
        ts: DateTime<Utc>,
        open: Money,
        high: Money,
        low: Money,
        close: Money,
        volume: Quantity,
    ) -> Result<Bar, BarError> {
        for (field, price) in [
            ("open", open),
            ("high", high),
            ("low", low),
            ("close", close),
        ] {
            if !price.is_positive() {
                return Err(BarError {
                    field,
                    reason: format!("price {price} must be greater than 0"),
                });
            }
        }
        if volume.is_negative() {
            return Err(BarError {
                field: "volume",
                reason: format!("volume {volume} must not be negative"),
            });
        }
        if high < low {
            return Err(BarError {
                field: "high",
                reason: format!("high {high} is below low {low}"),
            });
        }
        for (field, price) in [("open", open), ("close", close)] {
            if price > high {
                return Err(BarError {
                    field: "high",
                    reason: format!("high {high} is below {field} {price}"),
                });
            }
            if price < low {
                return Err(BarError {
                    field: "low",
                    reason: format!("low {low} is above {field} {price}"),
                });
            }
        }
        Ok(Bar {
            ts,
            open,
            high,
            low,
            close,
            volume,
        })
    }

    /// The bar in split- and dividend-adjusted prices, as yfinance's `auto_adjust` makes them:
    /// open, high and low times `adjusted_close / close` (multiplied first, then divided, then
    /// rounded half away from zero to 8 places; rounding is monotonic, so the bar stays whole),
    /// the close replaced by `adjusted_close`, the volume as it was. A file's `Adj Close` and
    /// Yahoo's `adjclose` are both applied here.
    pub fn adjusted(&self, adjusted_close: Money) -> Result<Bar, BarError> {
        if !adjusted_close.is_positive() {
            return Err(BarError {
                field: "close",
                reason: format!("adjusted close {adjusted_close} must be greater than 0"),
            });
        }
        let scale = |field: &'static str, price: Money| {
            price
                .get()
                .checked_mul(adjusted_close.get())
                .and_then(|product| product.checked_div(self.close.get()))
                .and_then(|adjusted| Money::new(adjusted).ok())
                .ok_or_else(|| BarError {
                    field,
                    reason: format!(
                        "{field} {price} adjusted by {adjusted_close} / {} is out of range",
                        self.close
                    ),
                })
        };
        Bar::new(
            self.ts,
            scale("open", self.open)?,
            scale("high", self.high)?,
            scale("low", self.low)?,
            adjusted_close,
            self.volume,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn m(text: &str) -> Money {
        Money::parse(text).unwrap()
    }

    fn bar(o: &str, h: &str, l: &str, c: &str) -> Result<Bar, BarError> {
        Bar::new(
            Utc.timestamp_opt(0, 0).unwrap(),
            m(o),
            m(h),
            m(l),
            m(c),
            Quantity::ZERO,
        )
    }

    #[test]
    fn adjusting_scales_open_high_low_and_takes_the_adjusted_close() {
        let adjusted = bar("10", "12", "8", "10")
            .unwrap()
            .adjusted(m("5"))
            .unwrap();
        assert_eq!(
            [adjusted.open, adjusted.high, adjusted.low, adjusted.close],
            [m("5"), m("6"), m("4"), m("5")]
        );
        // A factor without a finite expansion rounds at 8 places, the bar still whole.
        let thirds = bar("3", "3", "1", "3").unwrap().adjusted(m("1")).unwrap();
        assert_eq!(thirds.low, m("0.33333333"));
        let err = bar("10", "12", "8", "10")
            .unwrap()
            .adjusted(m("0"))
            .unwrap_err();
        assert_eq!(err.field, "close");
        let huge = bar("1000000000", "1000000000", "0.00000001", "0.00000001").unwrap();
        let err = huge.adjusted(m("1000000000000")).unwrap_err();
        assert!(err.reason.contains("out of range"), "{err}");
    }

    #[test]
    fn a_consistent_bar_is_accepted() {
        assert!(bar("10", "12", "9", "11").is_ok());
    }

    #[test]
    fn high_below_low_is_refused() {
        let err = bar("10", "9", "11", "10").unwrap_err();
        assert_eq!(err.field, "high");
        assert!(err.reason.contains("below low"), "{err}");
    }

    #[test]
    fn negative_and_zero_prices_are_refused() {
        assert_eq!(bar("-1", "12", "9", "11").unwrap_err().field, "open");
        assert_eq!(bar("10", "12", "9", "0").unwrap_err().field, "close");
    }

    #[test]
    fn open_outside_the_range_is_refused() {
        assert_eq!(bar("13", "12", "9", "11").unwrap_err().field, "high");
        assert_eq!(bar("8", "12", "9", "11").unwrap_err().field, "low");
    }
}
