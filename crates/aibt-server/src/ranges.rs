//! The schemas of request fields whose allowed range is narrower than their type's, so that
//! the API description states every limit the server checks on a single field (the checks
//! themselves are `AccountSettings::validate` and `aibt_engine::ai_config`; the tests below
//! hold the two together).
//!
//! A decimal arrives as a string or a JSON number. A string must keep to the pattern: the
//! range, at most the column's decimal places. A number is rounded half away from zero to the
//! column's places before the range is checked, so its documented bounds sit half a unit of
//! the last place beyond each end: every number inside them rounds into the range, and every
//! number outside rounds out of it.

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};

/// Half a unit of the last place: of money (8 places) and of rates (6 places).
const HALF_CENT_OF_MONEY: f64 = 0.000_000_005;
const HALF_UNIT_OF_RATE: f64 = 0.000_000_5;
/// Numbers from this on do not fit the money type (20 integer digits): the bound the type's
/// own schema gives (a test holds the two equal).
const MONEY_NUMBER_BOUND: f64 = 1e20;

/// The bounds of a number, each inclusive or not.
#[derive(Clone, Copy)]
enum Bound {
    Inclusive(f64),
    Exclusive(f64),
}

struct Range {
    pattern: &'static str,
    description: &'static str,
    low: Bound,
    high: Bound,
}

fn schema(range: &Range, nullable: bool) -> RefOr<Schema> {
    let mut kinds = vec![Type::String, Type::Number];
    if nullable {
        kinds.push(Type::Null);
    }
    let mut object = ObjectBuilder::new()
        .schema_type(SchemaType::Array(kinds))
        .pattern(Some(range.pattern))
        .description(Some(range.description));
    object = match range.low {
        Bound::Inclusive(low) => object.minimum(Some(low)),
        Bound::Exclusive(low) => object.exclusive_minimum(Some(low)),
    };
    object = match range.high {
        Bound::Inclusive(high) => object.maximum(Some(high)),
        Bound::Exclusive(high) => object.exclusive_maximum(Some(high)),
    };
    object.into()
}

const POSITIVE_MONEY: Range = Range {
    pattern: r"^([1-9][0-9]{0,19}(\.[0-9]{1,8})?|0\.([1-9][0-9]{0,7}|0[1-9][0-9]{0,6}|00[1-9][0-9]{0,5}|000[1-9][0-9]{0,4}|0000[1-9][0-9]{0,3}|00000[1-9][0-9]{0,2}|000000[1-9][0-9]|0000000[1-9]))$",
    description: "Money greater than 0: a decimal string (at most 8 places) or a number",
    low: Bound::Inclusive(HALF_CENT_OF_MONEY),
    high: Bound::Exclusive(MONEY_NUMBER_BOUND),
};
const MONEY: Range = Range {
    pattern: r"^[0-9]{1,20}(\.[0-9]{1,8})?$",
    description: "Money of at least 0: a decimal string (at most 8 places) or a number",
    low: Bound::Exclusive(-HALF_CENT_OF_MONEY),
    high: Bound::Exclusive(MONEY_NUMBER_BOUND),
};
const FRACTION: Range = Range {
    pattern: r"^0(\.[0-9]{1,6})?$",
    description: "A rate of at least 0 and below 1 (0.001 = 0.1 %): a decimal string or a number",
    low: Bound::Exclusive(-HALF_UNIT_OF_RATE),
    high: Bound::Exclusive(1.0 - HALF_UNIT_OF_RATE),
};
const YEARLY_RATE: Range = Range {
    pattern: r"^([0-9](\.[0-9]{1,6})?|10(\.0{1,6})?)$",
    description: "A yearly rate from 0 to 10 (1,000 % a year): a decimal string or a number",
    low: Bound::Exclusive(-HALF_UNIT_OF_RATE),
    high: Bound::Exclusive(10.0 + HALF_UNIT_OF_RATE),
};
const MARGIN_RATIO: Range = Range {
    pattern: r"^([1-9](\.[0-9]{1,6})?|0\.([1-9][0-9]{0,5}|0[1-9][0-9]{0,4}|00[1-9][0-9]{0,3}|000[1-9][0-9]{0,2}|0000[1-9][0-9]|00000[1-9])|10(\.0{1,6})?)$",
    description: "A ratio greater than 0 and at most 10: a decimal string or a number",
    low: Bound::Inclusive(HALF_UNIT_OF_RATE),
    high: Bound::Exclusive(10.0 + HALF_UNIT_OF_RATE),
};
const TEMPERATURE: Range = Range {
    pattern: r"^([01](\.[0-9]{1,6})?|2(\.0{1,6})?)$",
    description: "A sampling temperature from 0 to 2: a decimal string or a number",
    low: Bound::Exclusive(-HALF_UNIT_OF_RATE),
    high: Bound::Exclusive(2.0 + HALF_UNIT_OF_RATE),
};

/// The schema of a required field of money greater than 0.
pub fn positive_money() -> RefOr<Schema> {
    schema(&POSITIVE_MONEY, false)
}

pub fn positive_money_or_null() -> RefOr<Schema> {
    schema(&POSITIVE_MONEY, true)
}

pub fn money_or_null() -> RefOr<Schema> {
    schema(&MONEY, true)
}

pub fn fraction_or_null() -> RefOr<Schema> {
    schema(&FRACTION, true)
}

pub fn yearly_rate_or_null() -> RefOr<Schema> {
    schema(&YEARLY_RATE, true)
}

pub fn margin_ratio_or_null() -> RefOr<Schema> {
    schema(&MARGIN_RATIO, true)
}

pub fn temperature_or_null() -> RefOr<Schema> {
    schema(&TEMPERATURE, true)
}

#[cfg(test)]
mod tests {
    use aibt_core::broker::AccountSettings;
    use aibt_core::{MarketType, Money, Rate};
    use aibt_engine::accounts::default_settings;

    use super::*;

    fn inside(range: &Range, number: f64) -> bool {
        let above = match range.low {
            Bound::Inclusive(low) => number >= low,
            Bound::Exclusive(low) => number > low,
        };
        let below = match range.high {
            Bound::Inclusive(high) => number <= high,
            Bound::Exclusive(high) => number < high,
        };
        above && below
    }

    /// Whether the broker takes a rate as this field of an account.
    fn broker_takes(field: &str, rate: Rate) -> bool {
        let mut settings = default_settings(MarketType::Us, false);
        match field {
            "commission_rate_buy" => settings.commission_rate_buy = rate,
            "borrow_rate" => settings.borrow_rate = rate,
            "short_margin_ratio" => settings.short_margin_ratio = rate,
            other => unreachable!("{other}"),
        }
        settings.validate().is_ok()
    }

    #[test]
    fn number_bounds_agree_with_the_brokers_checks_at_every_edge() {
        let cases = [
            (&FRACTION, "commission_rate_buy"),
            (&YEARLY_RATE, "borrow_rate"),
            (&MARGIN_RATIO, "short_margin_ratio"),
        ];
        let edges = [
            -1.0,
            -0.0000005,
            -0.00000049,
            0.0,
            0.00000049,
            0.0000005,
            0.000001,
            0.5,
            0.9999994,
            0.9999995,
            0.999999,
            1.0,
            9.9999999,
            10.0,
            10.0000004,
            10.0000005,
            10.1,
        ];
        for (range, field) in cases {
            for number in edges {
                let Ok(rate) = Rate::parse(&number.to_string()) else {
                    continue;
                };
                assert_eq!(
                    inside(range, number),
                    broker_takes(field, rate),
                    "{field} = {number}"
                );
            }
        }
    }

    #[test]
    fn the_money_bound_is_the_money_types_own() {
        let schema =
            serde_json::to_value(<Money as utoipa::PartialSchema>::schema()).expect("the schema");
        assert_eq!(
            schema["exclusiveMaximum"],
            serde_json::json!(MONEY_NUMBER_BOUND)
        );
    }

    #[test]
    fn positive_money_bounds_agree_with_the_brokers_check() {
        for number in [0.0, 0.000000004, 0.000000005, 0.00000001, 1.0, 1e19] {
            let money = Money::parse(&number.to_string()).expect("money");
            let settings = AccountSettings {
                initial_balance: money,
                ..default_settings(MarketType::Us, false)
            };
            assert_eq!(
                inside(&POSITIVE_MONEY, number),
                settings.validate().is_ok(),
                "{number}"
            );
        }
    }
}
