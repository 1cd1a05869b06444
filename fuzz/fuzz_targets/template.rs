//! A strategy template as a user writes it: checked (refused with its line) or compiled, then
//! rendered for a real decision bar of GOOG; never a panic, never a hang.
#![no_main]

use std::sync::LazyLock;

use aibt_ai::template::{AccountView, PromptSetup, PromptTemplate, build_context};
use aibt_core::broker::Account;
use aibt_core::decision::PointInTime;
use aibt_core::{Bar, MarketType};
use libfuzzer_sys::fuzz_target;

static BARS: LazyLock<Vec<Bar>> = LazyLock::new(|| {
    let file = include_bytes!("../../crates/aibt-data/sample/GOOG_1d.csv");
    let mut bars = aibt_data::parse_bars("GOOG_1d.csv", file, &aibt_data::ImportOptions::default()).expect("the sample");
    bars.truncate(80);
    bars
});

fuzz_target!(|bytes: &[u8]| {
    let Ok(source) = std::str::from_utf8(bytes) else {
        return;
    };
    let Ok(template) = PromptTemplate::new(source) else {
        return;
    };
    let settings = aibt_engine::accounts::default_settings(MarketType::Us, false);
    let setup = PromptSetup {
        symbol: "GOOG",
        market: "US",
        granularity: "daily",
        window: 30,
        blind: None,
        commission_buy: settings.commission_rate_buy,
        commission_sell: settings.commission_rate_sell,
        tax: settings.tax_rate,
        min_commission: settings.min_commission,
    };
    let account = Account::open(settings, "fuzz");
    let price = BARS[BARS.len() - 1].close;
    let Ok(view) = AccountView::plain(&account, price) else {
        return;
    };
    let context = build_context(&setup, PointInTime::ending_with(&BARS), 0, &view, &[], 1);
    let _ = template.render(&context);
});
