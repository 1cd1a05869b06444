//! Reading a submitted form, in one place for every page: the values it came with, an error
//! next to each field that could not be read, and the engine's or the API's refusals put next
//! to the field they name. Pages read fields here and never parse text themselves.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

use aibt_core::broker::AccountSettings;
use aibt_core::{DecimalError, MarketType, Money, Rate};
use aibt_store::SeriesKey;
use chrono::{DateTime, NaiveDate, Utc};

use crate::error::ApiError;
use crate::routes::accounts::AccountCreate;

/// The values a form was submitted with and the errors of its fields (`""`: the form's).
#[derive(Default)]
pub struct FormState {
    values: HashMap<String, String>,
    errors: HashMap<String, String>,
}

impl FormState {
    /// A submitted `application/x-www-form-urlencoded` body.
    pub fn parse(body: &[u8]) -> FormState {
        FormState {
            values: form_urlencoded::parse(body).into_owned().collect(),
            errors: HashMap::new(),
        }
    }

    /// A form shown for the first time, with these values filled in.
    pub fn with(values: &[(&str, &str)]) -> FormState {
        FormState {
            values: values
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            errors: HashMap::new(),
        }
    }

    /// The form with more values filled in.
    pub fn and(mut self, values: impl IntoIterator<Item = (&'static str, String)>) -> FormState {
        self.values
            .extend(values.into_iter().map(|(k, v)| (k.to_string(), v)));
        self
    }

    /// The value as submitted (`""` when absent).
    pub fn v(&self, name: &str) -> &str {
        self.values.get(name).map(String::as_str).unwrap_or("")
    }

    pub fn err(&self, name: &str) -> Option<&str> {
        self.errors.get(name).map(String::as_str)
    }

    /// Whether no field has an error.
    pub fn ok(&self) -> bool {
        self.errors.is_empty()
    }

    /// Forgets a value, so that the page shown again does not carry it (a secret).
    pub fn forget(&mut self, name: &str) {
        self.values.remove(name);
    }

    /// A trimmed value, `None` when empty.
    pub fn get(&self, name: &str) -> Option<String> {
        Some(self.v(name).trim().to_string()).filter(|v| !v.is_empty())
    }

    /// Whether a checkbox is ticked.
    pub fn checked(&self, name: &str) -> bool {
        self.v(name) == "true"
    }

    /// Notes an error of `field`; its first error is the one shown.
    pub fn fail(&mut self, field: &str, message: impl Into<String>) {
        self.errors
            .entry(field.to_string())
            .or_insert_with(|| message.into());
    }

    /// Puts an API error next to the field it names (`rename` maps API fields to inputs).
    pub fn api_error(&mut self, error: ApiError, rename: &dyn Fn(&str) -> String) {
        let field = error
            .detail
            .field
            .as_deref()
            .map(rename)
            .unwrap_or_default();
        self.fail(&field, error.detail.message);
    }

    /// Puts an API error next to the input of the same name.
    pub fn api_error_same(&mut self, error: ApiError) {
        self.api_error(error, &|f| f.to_string());
    }

    /// An exact decimal (money, a rate), `None` when empty or unreadable.
    pub fn decimal<T>(
        &mut self,
        name: &str,
        parse: fn(&str) -> Result<T, DecimalError>,
    ) -> Option<T> {
        let text = self.get(name)?;
        match parse(&text) {
            Ok(value) => Some(value),
            Err(error) => {
                self.fail(name, format!("{name}: {error}"));
                None
            }
        }
    }

    /// A decimal that must be given.
    pub fn required_decimal<T>(
        &mut self,
        name: &str,
        parse: fn(&str) -> Result<T, DecimalError>,
    ) -> Option<T> {
        let value = self.decimal(name, parse);
        if value.is_none() && self.err(name).is_none() {
            self.fail(name, format!("{name}: required"));
        }
        value
    }

    /// A whole number, `None` when empty or unreadable.
    pub fn integer<T: FromStr>(&mut self, name: &str) -> Option<T> {
        let text = self.get(name)?;
        match text.parse() {
            Ok(n) => Some(n),
            Err(_) => {
                self.fail(name, format!("{name}: {text:?} is not a whole number"));
                None
            }
        }
    }

    /// A date (YYYY-MM-DD), `None` when empty or unreadable.
    pub fn date(&mut self, name: &str) -> Option<NaiveDate> {
        let text = self.get(name)?;
        match NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
            Ok(date) => Some(date),
            Err(_) => {
                self.fail(name, format!("{name}: {text:?} is not a date (YYYY-MM-DD)"));
                None
            }
        }
    }

    /// A date as the first moment of a period, or with `end` the last (its whole day).
    pub fn period_bound(&mut self, name: &str, end: bool) -> Option<DateTime<Utc>> {
        let date = self.date(name)?;
        if end {
            aibt_core::time::end_of_day(date)
        } else {
            Some(aibt_core::time::start_of_day(date))
        }
    }

    /// A choice among an enum's names (a `<select>`), refused with the enum's own reason.
    pub fn choice<T>(&mut self, name: &str) -> Option<T>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        match self.v(name).parse() {
            Ok(value) => Some(value),
            Err(error) => {
                self.fail(name, error.to_string());
                None
            }
        }
    }

    /// A choice with a default: what the form left empty or sent unknown is the default.
    pub fn choice_or_default<T: FromStr + Default>(&self, name: &str) -> T {
        self.v(name).parse().unwrap_or_default()
    }

    /// A series chosen from [`series_value`]s.
    pub fn series(&mut self, name: &str) -> Option<SeriesKey> {
        let series = self.get(name).and_then(|v| parse_series(&v));
        if series.is_none() {
            self.fail(name, format!("{name}: choose a series"));
        }
        series
    }

    /// `name=value` pairs separated by spaces or commas (a built-in rule's parameters).
    pub fn params(&mut self, name: &str) -> BTreeMap<String, String> {
        let mut params = BTreeMap::new();
        let text = self.v(name).to_string();
        for pair in text.split([' ', ',']).filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some((key, value)) if !key.is_empty() => {
                    params.insert(key.to_string(), value.to_string());
                }
                _ => self.fail(name, format!("{name}: {pair:?} is not name=value")),
            }
        }
        params
    }
}

/// Gives a page struct with a `form: FormState` the `v` and `err` its template calls.
macro_rules! form_page {
    ($page:ty) => {
        impl $page {
            pub fn v(&self, name: &str) -> &str {
                self.form.v(name)
            }

            pub fn err(&self, name: &str) -> Option<&str> {
                self.form.err(name)
            }
        }
    };
}
pub(crate) use form_page;

/// A labelled input.
pub struct Field {
    pub name: &'static str,
    pub label: &'static str,
}

/// The inputs of a list of (name, label key).
pub fn fields(list: &[(&'static str, &'static str)]) -> Vec<Field> {
    list.iter()
        .map(|(name, label)| Field { name, label })
        .collect()
}

/// The inputs of an account's cash and fees (the accounts page and a new backtest's own
/// account), named as the API's fields.
pub const ACCOUNT_FIELDS: &[(&str, &str)] = &[
    ("initial_balance", "field.initial_balance"),
    ("commission_rate_buy", "field.commission_rate_buy"),
    ("commission_rate_sell", "field.commission_rate_sell"),
    ("tax_rate", "field.tax_rate"),
    ("min_commission", "field.min_commission"),
    ("short_margin_ratio", "field.short_margin_ratio"),
    ("slippage", "field.slippage"),
    ("borrow_rate", "field.borrow_rate"),
];

/// The account inputs filled with the engine's defaults for a new account.
pub fn account_defaults() -> Vec<(&'static str, String)> {
    let AccountSettings {
        initial_balance,
        commission_rate_buy,
        commission_rate_sell,
        tax_rate,
        min_commission,
        short_margin_ratio,
        slippage,
        borrow_rate,
        ..
    } = aibt_engine::accounts::default_settings(MarketType::Us, false);
    // Plain text as a person types it ("0.001", not "0.00100000").
    let plain = |value: aibt_core::Decimal| value.normalize().to_string();
    vec![
        ("initial_balance", plain(initial_balance.get())),
        ("commission_rate_buy", plain(commission_rate_buy.get())),
        ("commission_rate_sell", plain(commission_rate_sell.get())),
        ("tax_rate", plain(tax_rate.get())),
        ("min_commission", plain(min_commission.get())),
        ("short_margin_ratio", plain(short_margin_ratio.get())),
        ("slippage", plain(slippage.get())),
        ("borrow_rate", plain(borrow_rate.get())),
    ]
}

/// An account request from the account inputs ([`ACCOUNT_FIELDS`]); `required_cash` says
/// whether an empty cash field is an error (a new account) or the default (a backtest's).
pub fn account_request(
    form: &mut FormState,
    market_type: MarketType,
    stock_symbol: Option<String>,
    allow_fractional_shares: Option<bool>,
    required_cash: bool,
) -> AccountCreate {
    let initial_balance = if required_cash {
        form.required_decimal("initial_balance", Money::parse)
    } else {
        form.decimal("initial_balance", Money::parse)
    };
    AccountCreate {
        market_type,
        initial_balance: initial_balance.unwrap_or(Money::ZERO),
        stock_symbol,
        commission_rate_buy: form.decimal("commission_rate_buy", Rate::parse),
        commission_rate_sell: form.decimal("commission_rate_sell", Rate::parse),
        tax_rate: form.decimal("tax_rate", Rate::parse),
        min_commission: form.decimal("min_commission", Money::parse),
        short_margin_ratio: form.decimal("short_margin_ratio", Rate::parse),
        slippage: form.decimal("slippage", Rate::parse),
        borrow_rate: form.decimal("borrow_rate", Rate::parse),
        allow_fractional_shares,
    }
}

/// A series as the value of an `<option>`.
pub fn series_value(key: &SeriesKey) -> String {
    format!("{}|{}|{}", key.symbol, key.market_type, key.granularity)
}

fn parse_series(value: &str) -> Option<SeriesKey> {
    let mut parts = value.split('|');
    let symbol = parts.next()?.to_string();
    let market_type = parts.next()?.parse().ok()?;
    let granularity = parts.next()?.parse().ok()?;
    Some(SeriesKey {
        symbol,
        market_type,
        granularity,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_series_option_reads_back_as_its_series() {
        let key = SeriesKey {
            symbol: "BTC-USDT".into(),
            market_type: MarketType::Coin,
            granularity: aibt_core::TimeGranularity::Hourly,
        };
        let mut form = FormState::with(&[("series", &series_value(&key))]);
        assert_eq!(form.series("series"), Some(key));
        let mut broken = FormState::with(&[("series", "GOOG|MOON|daily")]);
        assert_eq!(broken.series("series"), None);
        assert_eq!(broken.err("series"), Some("series: choose a series"));
    }

    #[test]
    fn unreadable_fields_are_named_and_empty_ones_are_absent() {
        let mut form = FormState::with(&[
            ("cash", "12x"),
            ("bars", "1.5"),
            ("when", "2024-02-30"),
            ("empty", "  "),
            ("params", "fast=10, slow=30 oops"),
        ]);
        assert_eq!(form.decimal("cash", aibt_core::Money::parse), None);
        assert!(form.err("cash").is_some_and(|e| e.starts_with("cash: ")));
        assert_eq!(form.integer::<i64>("bars"), None);
        assert_eq!(
            form.err("bars"),
            Some("bars: \"1.5\" is not a whole number")
        );
        assert_eq!(form.date("when"), None);
        assert_eq!(form.integer::<i64>("empty"), None);
        assert_eq!(form.err("empty"), None);
        let params = form.params("params");
        assert_eq!(params.len(), 2);
        assert_eq!(
            form.err("params"),
            Some("params: \"oops\" is not name=value")
        );
        assert!(!form.ok());
        assert_eq!(
            form.required_decimal("empty", aibt_core::Money::parse),
            None
        );
        assert_eq!(form.err("empty"), Some("empty: required"));
    }

    #[test]
    fn an_end_date_covers_its_whole_day() {
        let mut form = FormState::with(&[("start", "2012-03-01"), ("end", "2012-03-30")]);
        let start = form
            .period_bound("start", false)
            .map(aibt_core::time::format_timestamp);
        let end = form
            .period_bound("end", true)
            .map(aibt_core::time::format_timestamp);
        assert_eq!(start.as_deref(), Some("2012-03-01T00:00:00Z"));
        assert_eq!(end.as_deref(), Some("2012-03-30T23:59:59.999999Z"));
    }

    #[test]
    fn new_accounts_start_from_the_engine_defaults() {
        let defaults = account_defaults();
        let text: Vec<(&str, &str)> = defaults.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_eq!(
            text,
            [
                ("initial_balance", "10000"),
                ("commission_rate_buy", "0.001"),
                ("commission_rate_sell", "0.001"),
                ("tax_rate", "0"),
                ("min_commission", "0"),
                ("short_margin_ratio", "1"),
                ("slippage", "0"),
                ("borrow_rate", "0"),
            ]
        );
        assert!(
            defaults
                .iter()
                .all(|(name, _)| ACCOUNT_FIELDS.iter().any(|(field, _)| field == name))
        );
    }
}
