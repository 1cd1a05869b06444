//! Exact decimal types with the scales of the seed's columns.
//!
//! Every amount aibt stores goes through one of these types, so a value is rounded the same way
//! (half away from zero, 四舍五入) and range-checked in one place before it reaches a ledger or a
//! database column. The seed's "log and set to 0" on a bad value is deliberately not kept: a
//! silent zero corrupts a ledger, so parsing fails with a reason instead.

use std::fmt;
use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a text or number could not become one of the fixed-scale decimals.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecimalError {
    #[error("{kind} {input:?} is not a decimal number")]
    NotANumber { kind: &'static str, input: String },
    #[error("{kind} {input} is out of range: its magnitude must not exceed {max} ({column})")]
    OutOfRange {
        kind: &'static str,
        input: String,
        max: String,
        column: &'static str,
    },
    #[error("{kind} arithmetic overflowed")]
    Overflow { kind: &'static str },
}

/// `[+-]digits[.digits][(e|E)[+-]digits]` with at least one mantissa digit.
fn is_decimal_literal(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut i = 0;
    if matches!(bytes.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let mut digits = 0;
    let mut points = 0;
    while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
        if bytes[i] == b'.' {
            points += 1;
        } else {
            digits += 1;
        }
        i += 1;
    }
    if digits == 0 || points > 1 {
        return false;
    }
    if i < bytes.len() && matches!(bytes[i], b'e' | b'E') {
        i += 1;
        if matches!(bytes.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exponent_start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if i == exponent_start {
            return false;
        }
    }
    i == bytes.len()
}

/// Parses decimal text strictly: an optional sign, digits with at most one point, and an
/// optional exponent. `rust_decimal` alone would also accept underscores, which no data file
/// or API client means.
fn parse_decimal_text(kind: &'static str, text: &str) -> Result<Decimal, DecimalError> {
    let trimmed = text.trim();
    let not_a_number = || DecimalError::NotANumber {
        kind,
        input: text.to_string(),
    };
    if !is_decimal_literal(trimmed) {
        return Err(not_a_number());
    }
    let parsed = if trimmed.contains(['e', 'E']) {
        Decimal::from_scientific(trimmed)
    } else {
        Decimal::from_str(trimmed)
    };
    parsed.map_err(|_| {
        // The text is a well-formed number that rust_decimal cannot hold: it is too large.
        DecimalError::OutOfRange {
            kind,
            input: trimmed.to_string(),
            max: Decimal::MAX.to_string(),
            column: "96-bit decimal",
        }
    })
}

macro_rules! fixed_scale_decimal {
    (
        $(#[$doc:meta])*
        $name:ident, kind = $kind:literal, scale = $scale:literal, column = $column:literal,
        max = ($lo:expr, $mid:expr, $hi:expr), integer_digits = $digits:literal
    ) => {
        $(#[$doc])*
        // Every value is kept at exactly `SCALE` decimal places (`new` rescales), so equality,
        // order and hashing can work on the integer mantissa alone.
        #[derive(Clone, Copy)]
        pub struct $name(Decimal);

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                self.0.mantissa() == other.0.mantissa()
            }
        }

        // Decimals travel as strings, so that no JSON parser turns them into binary floats.
        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                use rust_decimal::prelude::ToPrimitive;
                use utoipa::openapi::schema::{SchemaType, Type};
                // A number is rounded half away from zero to SCALE places before its range is
                // checked, so numbers within half a unit beyond MAX still fit.
                let half_unit = Decimal::new(5, $scale + 1);
                let bound = (<$name>::MAX + half_unit).to_f64().unwrap_or(f64::MAX);
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(SchemaType::Array(vec![Type::String, Type::Number]))
                    .description(Some(concat!(
                        "A decimal as a string (or a JSON number), at ", stringify!($scale),
                        " decimal places (", $column, ")"
                    )))
                    // Every text of this form is in range and exact, so a client keeping to
                    // it is never refused (the parser takes more: exponents, rounding).
                    .pattern(Some(concat!(
                        r"^-?[0-9]{1,", stringify!($digits), r"}(\.[0-9]{1,", stringify!($scale), "})?$"
                    )))
                    .exclusive_minimum(Some(-bound))
                    .exclusive_maximum(Some(bound))
                    .into()
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for $name {}

        impl Eq for $name {}

        impl PartialOrd for $name {
            fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }

        impl Ord for $name {
            fn cmp(&self, other: &Self) -> std::cmp::Ordering {
                self.0.mantissa().cmp(&other.0.mantissa())
            }
        }

        impl std::hash::Hash for $name {
            fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
                self.0.mantissa().hash(state);
            }
        }

        impl $name {
            /// Decimal places kept, as in the column type.
            pub const SCALE: u32 = $scale;
            /// Zero at this type's scale.
            pub const ZERO: Self = Self(Decimal::from_parts(0, 0, 0, false, $scale));
            /// The largest magnitude this type accepts.
            pub const MAX: Decimal = Decimal::from_parts($lo, $mid, $hi, false, $scale);
            const KIND: &'static str = $kind;

            /// Rounds half away from zero to the type's scale and checks the range.
            pub fn new(value: Decimal) -> Result<Self, DecimalError> {
                let rounded =
                    value.round_dp_with_strategy(Self::SCALE, RoundingStrategy::MidpointAwayFromZero);
                if rounded.abs() > Self::MAX {
                    return Err(DecimalError::OutOfRange {
                        kind: Self::KIND,
                        input: value.to_string(),
                        max: Self::MAX.to_string(),
                        column: $column,
                    });
                }
                if rounded.is_zero() {
                    // Rounding a tiny negative value leaves a negative zero, which would print
                    // as "-0.00000000" and compare unequal in text columns.
                    return Ok(Self::ZERO);
                }
                let mut exact = rounded;
                exact.rescale(Self::SCALE);
                Ok(Self(exact))
            }

            /// Parses decimal text (plain or scientific notation), then behaves like [`Self::new`].
            pub fn parse(text: &str) -> Result<Self, DecimalError> {
                // Stored values are always written at exactly SCALE places; reading them back
                // is then plain integer parsing.
                if let Some(mantissa) = parse_canonical(text.as_bytes(), Self::SCALE) {
                    return Self::from_scaled(mantissa);
                }
                let value = parse_decimal_text(Self::KIND, text)?;
                Self::new(value)
            }

            /// Converts an integer, which always fits unless it exceeds the range.
            pub fn from_i64(value: i64) -> Result<Self, DecimalError> {
                Self::new(Decimal::from(value))
            }

            /// The exact value, always at [`Self::SCALE`] decimal places.
            pub const fn get(self) -> Decimal {
                self.0
            }

            /// A lossy view for statistics and charts, never for accounting.
            pub fn to_f64(self) -> f64 {
                mantissa_to_f64(self.0.mantissa()) / SCALE_DIVISORS[Self::SCALE as usize]
            }

            /// The mantissa as a float: the value times 10^SCALE, for computing ratios.
            pub fn mantissa_f64(self) -> f64 {
                mantissa_to_f64(self.0.mantissa())
            }

            /// The raw mantissa: the value times 10^SCALE.
            pub fn mantissa(self) -> i128 {
                self.0.mantissa()
            }

            pub fn is_zero(self) -> bool {
                self.0.is_zero()
            }

            pub fn is_negative(self) -> bool {
                self.0.is_sign_negative() && !self.0.is_zero()
            }

            pub fn is_positive(self) -> bool {
                self.0.is_sign_positive() && !self.0.is_zero()
            }

            pub fn abs(self) -> Self {
                Self(self.0.abs())
            }

            /// Same-scale operands add as integers: exact, and far cheaper than decimal
            /// addition, which must first align scales. Mantissas are below 2^96, so the i128
            /// sum cannot overflow; only the range can be exceeded.
            pub fn checked_add(self, other: Self) -> Result<Self, DecimalError> {
                Self::from_scaled(self.0.mantissa() + other.0.mantissa())
            }

            pub fn checked_sub(self, other: Self) -> Result<Self, DecimalError> {
                Self::from_scaled(self.0.mantissa() - other.0.mantissa())
            }

            /// A value from its mantissa at this type's scale (the value times 10^SCALE).
            pub fn new_mantissa(mantissa: i128) -> Result<Self, DecimalError> {
                Self::from_scaled(mantissa)
            }

            /// A value from its mantissa at this type's scale, range-checked.
            fn from_scaled(mantissa: i128) -> Result<Self, DecimalError> {
                if mantissa.unsigned_abs() > Self::MAX.mantissa().unsigned_abs() {
                    return Err(DecimalError::Overflow { kind: Self::KIND });
                }
                if mantissa == 0 {
                    return Ok(Self::ZERO);
                }
                Ok(Self(Decimal::from_i128_with_scale(mantissa, Self::SCALE)))
            }

            /// Negation cannot overflow: the range is symmetric.
            pub fn negate(self) -> Self {
                if self.0.is_zero() { self } else { Self(-self.0) }
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::ZERO
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut buffer = FixedText::new();
                f.pad(buffer.format(self.0.mantissa(), Self::SCALE))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self, f)
            }
        }

        impl FromStr for $name {
            type Err = DecimalError;
            fn from_str(text: &str) -> Result<Self, Self::Err> {
                Self::parse(text)
            }
        }

        impl TryFrom<Decimal> for $name {
            type Error = DecimalError;
            fn try_from(value: Decimal) -> Result<Self, Self::Error> {
                Self::new(value)
            }
        }

        impl From<$name> for Decimal {
            fn from(value: $name) -> Decimal {
                value.0
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                // Money travels as a decimal string: JSON numbers become binary floats in
                // most clients and lose cents.
                serializer.collect_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserializer.deserialize_any(FixedVisitor::<$name>::new($kind))
            }
        }

        impl FixedScale for $name {
            fn parse_text(text: &str) -> Result<Self, DecimalError> {
                Self::parse(text)
            }
        }
    };
}

/// `[-]digits.digits` with exactly `scale` fractional digits (what aibt writes), as a
/// mantissa; `None` for any other form, which the general parser then handles.
fn parse_canonical(text: &[u8], scale: u32) -> Option<i128> {
    let (negative, digits) = match text.first() {
        Some(b'-') => (true, &text[1..]),
        _ => (false, text),
    };
    let point = digits.len().checked_sub(scale as usize + 1)?;
    if point == 0 || point > 22 || digits[point] != b'.' {
        return None;
    }
    let mut mantissa: i128 = 0;
    for (i, &byte) in digits.iter().enumerate() {
        if i == point {
            continue;
        }
        if !byte.is_ascii_digit() {
            return None;
        }
        mantissa = mantissa * 10 + i128::from(byte - b'0');
    }
    Some(if negative { -mantissa } else { mantissa })
}

/// A stack buffer that renders a mantissa at a scale as fixed-point text, without the
/// allocation and generality of decimal formatting (snapshots format many amounts per bar).
pub struct FixedText {
    bytes: [u8; 48],
}

impl Default for FixedText {
    fn default() -> Self {
        Self::new()
    }
}

impl FixedText {
    pub fn new() -> FixedText {
        FixedText { bytes: [0; 48] }
    }

    /// `mantissa / 10^scale` with exactly `scale` decimals.
    pub fn format(&mut self, mantissa: i128, scale: u32) -> &str {
        let mut end = self.bytes.len();
        let magnitude = mantissa.unsigned_abs();
        let mut written = 0;
        let mut digit = |end: &mut usize, value: u8, written: &mut usize| {
            if *written == scale as usize && scale > 0 {
                *end -= 1;
                self.bytes[*end] = b'.';
            }
            *end -= 1;
            self.bytes[*end] = b'0' + value;
            *written += 1;
        };
        // Dividing a 128-bit number is a library call; nearly every amount fits 64 bits.
        match u64::try_from(magnitude) {
            Ok(mut value) => loop {
                digit(&mut end, (value % 10) as u8, &mut written);
                value /= 10;
                if value == 0 && written > scale as usize {
                    break;
                }
            },
            Err(_) => {
                let mut value = magnitude;
                loop {
                    digit(&mut end, (value % 10) as u8, &mut written);
                    value /= 10;
                    if value == 0 && written > scale as usize {
                        break;
                    }
                }
            }
        }
        if mantissa < 0 {
            end -= 1;
            self.bytes[end] = b'-';
        }
        // Only ASCII digits, '.' and '-' were written.
        std::str::from_utf8(&self.bytes[end..]).unwrap_or("0")
    }
}

/// An i128 as f64, cheaply for the values money takes. An i64 converts in one instruction
/// where an i128 needs a library call; the wide branch is written differently on purpose, or
/// the optimiser merges both into the library call (they agree where both apply).
fn mantissa_to_f64(mantissa: i128) -> f64 {
    match i64::try_from(mantissa) {
        Ok(small) => small as f64,
        Err(_) => {
            ((mantissa >> 32) as f64) * 4_294_967_296.0 + ((mantissa as u64) & 0xFFFF_FFFF) as f64
        }
    }
}

/// 10^scale as f64, exact for every scale used here.
const SCALE_DIVISORS: [f64; 9] = [1.0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8];

/// Shared by the serde visitor so that every fixed-scale type accepts the same JSON forms.
trait FixedScale: Sized {
    fn parse_text(text: &str) -> Result<Self, DecimalError>;
}

struct FixedVisitor<T> {
    kind: &'static str,
    marker: std::marker::PhantomData<T>,
}

impl<T> FixedVisitor<T> {
    fn new(kind: &'static str) -> Self {
        Self {
            kind,
            marker: std::marker::PhantomData,
        }
    }
}

impl<T: FixedScale> Visitor<'_> for FixedVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a {} as a decimal string or number", self.kind)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        T::parse_text(v).map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        T::parse_text(&v.to_string()).map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        T::parse_text(&v.to_string()).map_err(E::custom)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
        if !v.is_finite() {
            return Err(E::custom(format!(
                "{} {v} is not a decimal number",
                self.kind
            )));
        }
        // Rust prints the shortest text that reads back as the same float, so 0.1 arrives as
        // "0.1" rather than its binary expansion.
        T::parse_text(&v.to_string()).map_err(E::custom)
    }
}

fixed_scale_decimal!(
    /// An amount of money or a price: scale 8, as `NUMERIC(38,8)`.
    ///
    /// Up to 20 integer digits (99,999,999,999,999,999,999.99999999): within what a 96-bit
    /// decimal holds at scale 8 (about 7.9 × 10^20), and a limit a client can be told in a
    /// pattern (a `NUMERIC(38,8)` column could hold more; nothing real needs it).
    // 10^28 − 1 = 0x204F_CE5E_3E25_0261_0FFF_FFFF
    Money, kind = "amount", scale = 8, column = "NUMERIC(38,8), 20 integer digits",
    max = (0x0FFF_FFFF, 0x3E25_0261, 0x204F_CE5E), integer_digits = 20
);

fixed_scale_decimal!(
    /// A quantity of shares or coins: scale 8, so that 0.00000001 BTC is one unit.
    Quantity, kind = "quantity", scale = 8, column = "NUMERIC(38,8), 20 integer digits",
    max = (0x0FFF_FFFF, 0x3E25_0261, 0x204F_CE5E), integer_digits = 20
);

fixed_scale_decimal!(
    /// A percentage: scale 6, as `NUMERIC(15,6)` (up to 999,999,999.999999).
    Percent, kind = "percentage", scale = 6, column = "NUMERIC(15,6)",
    // 999_999_999_999_999 = 0x0003_8D7E_A4C6_7FFF
    max = (0xA4C6_7FFF, 0x0003_8D7E, 0), integer_digits = 9
);

fixed_scale_decimal!(
    /// A fee or tax rate, or a ratio such as a margin ratio or a confidence score: scale 6, as `NUMERIC(10,6)`
    /// (up to 9,999.999999).
    Rate, kind = "rate", scale = 6, column = "NUMERIC(10,6)",
    // 9_999_999_999 = 0x0000_0002_540B_E3FF
    max = (0x540B_E3FF, 0x0000_0002, 0), integer_digits = 4
);

impl Rate {
    /// 1.000000: full confidence, a whole position.
    pub const ONE: Rate = Rate(Decimal::from_parts(1_000_000, 0, 0, false, 6));
}

/// `a × b / 10^shift` rounded half away from zero, on integer mantissas; `None` when the
/// product does not fit 128 bits (the caller then takes the general decimal path). This is
/// how every amount is rounded: `Money::times` and the broker's marking both use it.
pub(crate) fn scaled_product(a: i128, b: i128, shift: u32) -> Option<i128> {
    // A whole number of units (every stock position) needs no division at all: a 64-bit
    // remainder by a constant is a multiplication, where an i128 division is a library call.
    if let Ok(small) = u64::try_from(b.unsigned_abs()) {
        let unit = 10u64.pow(shift);
        if small % unit == 0 {
            let units = i128::from(small / unit) * b.signum();
            return a.checked_mul(units);
        }
    }
    let product = a.checked_mul(b)?;
    let divisor = 10i128.pow(shift);
    let quotient = product / divisor;
    let remainder = product % divisor;
    Some(if remainder.unsigned_abs() * 2 >= divisor.unsigned_abs() {
        quotient + product.signum()
    } else {
        quotient
    })
}

impl Money {
    /// `price × quantity`, rounded to scale 8 like every stored amount.
    pub fn times(self, quantity: Quantity) -> Result<Money, DecimalError> {
        // Marking a position to market does this on every bar: integer arithmetic on the
        // mantissas gives the same rounded result as decimal multiplication, far cheaper.
        if let Some(mantissa) =
            scaled_product(self.mantissa(), quantity.mantissa(), Quantity::SCALE)
        {
            return Money::from_scaled(mantissa);
        }
        let product = self
            .0
            .checked_mul(quantity.get())
            .ok_or(DecimalError::Overflow { kind: "amount" })?;
        Money::new(product)
    }

    /// `amount × rate`, rounded to scale 8.
    pub fn times_rate(self, rate: Rate) -> Result<Money, DecimalError> {
        if let Some(mantissa) = scaled_product(self.mantissa(), rate.mantissa(), Rate::SCALE) {
            return Money::from_scaled(mantissa);
        }
        let product = self
            .0
            .checked_mul(rate.get())
            .ok_or(DecimalError::Overflow { kind: "amount" })?;
        Money::new(product)
    }
}

impl Quantity {
    /// Rounds toward zero to whole units or to the smallest unit of 10^-8, which is how an
    /// order size that cannot be bought exactly is cut down.
    pub fn floor_to_unit(value: Decimal, whole_units: bool) -> Result<Quantity, DecimalError> {
        let places = if whole_units { 0 } else { Self::SCALE };
        Quantity::new(value.round_dp_with_strategy(places, RoundingStrategy::ToZero))
    }

    /// One tradable unit: a whole share, or 0.00000001 of a coin.
    pub fn unit(whole_units: bool) -> Quantity {
        if whole_units {
            Quantity(Decimal::new(100_000_000, 8))
        } else {
            Quantity(Decimal::new(1, 8))
        }
    }

    /// True when the quantity is a whole number of units.
    pub fn is_whole(self) -> bool {
        self.0.fract().is_zero()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn fixed_text_matches_decimal_display() {
        for text in [
            "0",
            "-0.00000001",
            "0.5",
            "-12345678901234567890.12345678",
            "99999999999999999999.99999999",
            "7",
            "-7",
        ] {
            let money = Money::parse(text).unwrap();
            assert_eq!(money.to_string(), format!("{}", money.get()), "{text}");
        }
        assert_eq!(Rate::parse("0.001").unwrap().to_string(), "0.001000");
        assert_eq!(
            format!("{:>14}", Money::parse("1.5").unwrap()),
            "    1.50000000"
        );
    }

    #[test]
    fn canonical_text_parses_fast_and_exactly() {
        assert_eq!(parse_canonical(b"123.45000000", 8), Some(12_345_000_000));
        assert_eq!(parse_canonical(b"-0.00000001", 8), Some(-1));
        assert_eq!(parse_canonical(b"1.5", 8), None);
        assert_eq!(parse_canonical(b"1e5.00000000", 8), None);
        assert_eq!(parse_canonical(b".00000000", 8), None);
        assert_eq!(Money::parse("-0.00000000").unwrap(), Money::ZERO);
    }

    #[test]
    fn money_prints_at_scale_eight() {
        assert_eq!(Money::parse("10000").unwrap().to_string(), "10000.00000000");
        assert_eq!(
            Money::parse("0.00000001").unwrap().to_string(),
            "0.00000001"
        );
        assert_eq!(
            Money::parse("12345678901234567890.12345678")
                .unwrap()
                .to_string(),
            "12345678901234567890.12345678"
        );
    }

    #[test]
    fn rounding_is_half_away_from_zero() {
        assert_eq!(
            Money::parse("0.000000005").unwrap().to_string(),
            "0.00000001"
        );
        assert_eq!(
            Money::parse("-0.000000005").unwrap().to_string(),
            "-0.00000001"
        );
        assert_eq!(
            Money::parse("0.0000000049").unwrap().to_string(),
            "0.00000000"
        );
        assert_eq!(Percent::parse("1.0000005").unwrap().to_string(), "1.000001");
        assert_eq!(Rate::parse("0.0012345").unwrap().to_string(), "0.001235");
    }

    #[test]
    fn tiny_negative_rounds_to_plain_zero() {
        let zero = Money::parse("-0.000000001").unwrap();
        assert_eq!(zero.to_string(), "0.00000000");
        assert_eq!(zero, Money::ZERO);
    }

    #[test]
    fn float_noise_in_csv_text_is_rounded_exactly() {
        assert_eq!(
            Money::parse("0.09946999000000001").unwrap().to_string(),
            "0.09946999"
        );
    }

    #[test]
    fn scientific_notation_is_accepted() {
        assert_eq!(Money::parse("1.5e-05").unwrap().to_string(), "0.00001500");
        assert_eq!(Money::parse("2E3").unwrap().to_string(), "2000.00000000");
    }

    #[test]
    fn garbage_is_refused_with_its_text() {
        for bad in [
            "", " ", "abc", "NaN", "inf", "1_000", "1.2.3", "--1", "1,5", "0x10",
        ] {
            let err = Money::parse(bad).unwrap_err();
            assert!(
                matches!(err, DecimalError::NotANumber { .. }),
                "{bad:?} gave {err:?}"
            );
        }
    }

    #[test]
    fn out_of_range_names_the_limit() {
        let err = Money::parse("1e30").unwrap_err();
        assert!(matches!(err, DecimalError::OutOfRange { .. }), "{err:?}");
        let err = Money::parse("100000000000000000000").unwrap_err();
        assert!(err.to_string().contains("out of range"), "{err}");
        assert!(Money::parse("99999999999999999999.99999999").is_ok());
        assert!(Money::parse("99999999999999999999.999999994").is_ok());
        assert!(Money::parse("99999999999999999999.999999995").is_err());
        let err = Percent::parse("1000000000").unwrap_err();
        assert!(err.to_string().contains("NUMERIC(15,6)"), "{err}");
        assert!(Percent::parse("999999999.999999").is_ok());
        assert!(Rate::parse("10000").is_err());
        assert!(Rate::parse("9999.999999").is_ok());
    }

    #[test]
    fn serde_reads_strings_and_numbers_and_writes_strings() {
        let m: Money = serde_json::from_str("\"1.25\"").unwrap();
        assert_eq!(serde_json::to_string(&m).unwrap(), "\"1.25000000\"");
        let m: Money = serde_json::from_str("0.1").unwrap();
        assert_eq!(m.to_string(), "0.10000000");
        let m: Money = serde_json::from_str("42").unwrap();
        assert_eq!(m.to_string(), "42.00000000");
        assert!(serde_json::from_str::<Money>("\"x\"").is_err());
        assert!(serde_json::from_str::<Money>("true").is_err());
    }

    #[test]
    fn quantity_floors_to_units() {
        let d = Decimal::from_str("12.999999999").unwrap();
        assert_eq!(
            Quantity::floor_to_unit(d, true).unwrap().to_string(),
            "12.00000000"
        );
        assert_eq!(
            Quantity::floor_to_unit(d, false).unwrap().to_string(),
            "12.99999999"
        );
    }

    proptest! {
        /// The integer fast path of `times` and `times_rate` rounds exactly as decimal
        /// multiplication followed by `Money::new` does.
        #[test]
        fn integer_products_round_like_decimal_ones(
            price in -10_000_000_000_000i128..10_000_000_000_000i128,
            quantity in -10_000_000_000_000i128..10_000_000_000_000i128,
            rate in 0i128..1_000_000,
        ) {
            let p = Money::new(Decimal::from_i128_with_scale(price, 8)).unwrap();
            let q = Quantity::new(Decimal::from_i128_with_scale(quantity, 8)).unwrap();
            let r = Rate::new(Decimal::from_i128_with_scale(rate, 6)).unwrap();
            prop_assert_eq!(p.times(q).unwrap(), Money::new(p.get() * q.get()).unwrap());
            prop_assert_eq!(p.times_rate(r).unwrap(), Money::new(p.get() * r.get()).unwrap());
        }

        #[test]
        fn any_eight_place_decimal_round_trips_through_text(
            mantissa in -79_228_162_514_264_337_593_543_950_335i128..=79_228_162_514_264_337_593_543_950_335i128,
            scale in 0u32..=8,
        ) {
            let value = Decimal::from_i128_with_scale(mantissa, scale);
            let money = Money::new(value).unwrap_or(Money::ZERO);
            if money.get().abs() <= Money::MAX && Money::new(value).is_ok() {
                prop_assert_eq!(money.get(), value);
                let back = Money::parse(&money.to_string()).unwrap();
                prop_assert_eq!(back, money);
            }
        }
    }
}
