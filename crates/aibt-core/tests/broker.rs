//! The broker's rules, shown on hand-computed ledgers (golden tests) and checked on random
//! order sequences (property tests).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use aibt_core::broker::{Account, AccountSettings, Order, OrderSize};
use aibt_core::{MarketType, Money, PositionSide, Quantity, Rate, TradeAction, TradeStatus};
use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;

fn m(text: &str) -> Money {
    Money::parse(text).unwrap()
}

fn q(text: &str) -> Quantity {
    Quantity::parse(text).unwrap()
}

fn r(text: &str) -> Rate {
    Rate::parse(text).unwrap()
}

fn t(day: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_600_000_000 + day * 86_400, 0).unwrap()
}

fn settings(cash: &str, buy: &str, sell: &str, tax: &str, min: &str) -> AccountSettings {
    AccountSettings {
        market_type: MarketType::Us,
        initial_balance: m(cash),
        commission_rate_buy: r(buy),
        commission_rate_sell: r(sell),
        tax_rate: r(tax),
        min_commission: m(min),
        short_margin_ratio: Rate::ONE,
        whole_units: true,
        slippage: aibt_core::Rate::ZERO,
        borrow_rate: aibt_core::Rate::ZERO,
    }
}

fn order(action: TradeAction, size: OrderSize) -> Order {
    Order { action, size }
}

fn all(action: TradeAction) -> Order {
    order(action, OrderSize::All)
}

#[test]
fn all_in_buy_spends_cash_after_commission() {
    let mut account = Account::open(settings("10000", "0.001", "0.001", "0", "0"), "task");
    let done = account
        .execute(&all(TradeAction::Buy), m("100"), t(1), 1)
        .unwrap();
    let fill = &done.fills[0];
    // floor(10000 / (100 × 1.001)) = 99 shares: 9900 notional + 9.90 commission.
    assert_eq!(fill.quantity, q("99"));
    assert_eq!(fill.total_amount, m("9900"));
    assert_eq!(fill.commission, m("9.9"));
    assert_eq!(fill.status, TradeStatus::Executed);
    assert_eq!(fill.trade_id, "task-t00000001");
    assert_eq!(account.available, m("90.1"));
    assert_eq!(account.total_fees, m("9.9"));
    assert_eq!(fill.total_value_after, m("9990.1"));
    assert_eq!(fill.remaining_quantity_after, q("99"));
    assert_eq!(fill.avg_price_after, m("100"));
    assert!(account.reconciles().unwrap());
}

#[test]
fn minimum_commission_is_charged_and_sizing_respects_it() {
    let mut account = Account::open(settings("1000", "0.001", "0.001", "0", "5"), "task");
    let done = account
        .execute(&all(TradeAction::Buy), m("10"), t(1), 1)
        .unwrap();
    // 0.1% of 990 is 0.99, below the minimum of 5: 99 shares cost 990 + 5 = 995.
    assert_eq!(done.fills[0].quantity, q("99"));
    assert_eq!(done.fills[0].commission, m("5"));
    assert_eq!(account.available, m("5"));
}

#[test]
fn sell_side_tax_is_charged_on_sells_only() {
    let mut account = Account::open(settings("10000", "0.001", "0.002", "0.001", "0"), "task");
    let buy = account
        .execute(
            &order(TradeAction::Buy, OrderSize::Quantity(q("50"))),
            m("100"),
            t(1),
            1,
        )
        .unwrap();
    assert_eq!(buy.fills[0].tax, Money::ZERO);
    let sell = account
        .execute(&all(TradeAction::Sell), m("120"), t(2), 2)
        .unwrap();
    let fill = &sell.fills[0];
    // Notional 6000: commission 0.2% = 12, tax 0.1% = 6.
    assert_eq!(fill.commission, m("12"));
    assert_eq!(fill.tax, m("6"));
    assert_eq!(fill.total_fees, m("18"));
    // Round trip: (120 − 100) × 50 = 1000 gross, minus 5 buy commission and 18 sell fees.
    assert_eq!(fill.realized_pnl, Some(m("977")));
    assert_eq!(account.available, m("10977"));
    assert!(account.is_flat());
    assert!(account.reconciles().unwrap());
}

#[test]
fn lots_close_first_in_first_out_one_record_per_lot() {
    let mut account = Account::open(settings("100000", "0", "0", "0", "0"), "task");
    account
        .execute(
            &order(TradeAction::Buy, OrderSize::Quantity(q("10"))),
            m("100"),
            t(1),
            1,
        )
        .unwrap();
    account
        .execute(
            &order(TradeAction::Buy, OrderSize::Quantity(q("10"))),
            m("110"),
            t(2),
            2,
        )
        .unwrap();
    let sell = account
        .execute(
            &order(TradeAction::Sell, OrderSize::Quantity(q("15"))),
            m("120"),
            t(3),
            3,
        )
        .unwrap();
    let closes: Vec<(String, String, String)> = sell
        .fills
        .iter()
        .map(|f| {
            (
                f.open_id.clone().unwrap(),
                f.quantity.to_string(),
                f.realized_pnl.unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        closes,
        vec![
            (
                "task-t00000001".into(),
                "10.00000000".into(),
                "200.00000000".into()
            ),
            (
                "task-t00000002".into(),
                "5.00000000".into(),
                "50.00000000".into()
            ),
        ]
    );
    assert_eq!(account.long_lots.len(), 1);
    assert_eq!(account.long_lots[0].quantity, q("5"));
    assert_eq!(account.long_lots[0].cost, m("550"));
    assert_eq!(sell.round_trips.len(), 2);
    assert_eq!(
        (sell.round_trips[0].entry_bar, sell.round_trips[0].exit_bar),
        (1, 3)
    );
}

#[test]
fn commission_of_one_order_is_shared_between_its_lot_records() {
    let mut account = Account::open(settings("100000", "0", "0.001", "0", "7"), "task");
    for day in 1..=3 {
        account
            .execute(
                &order(TradeAction::Buy, OrderSize::Quantity(q("1"))),
                m("100"),
                t(day),
                day as u64,
            )
            .unwrap();
    }
    let sell = account
        .execute(&all(TradeAction::Sell), m("100"), t(4), 4)
        .unwrap();
    // One order of 300 notional: its commission is the minimum, 7, charged once and split.
    let total: Money = sell
        .fills
        .iter()
        .fold(Money::ZERO, |acc, f| acc.checked_add(f.commission).unwrap());
    assert_eq!(total, m("7"));
    assert_eq!(sell.fills[0].commission, m("2.33333333"));
    assert_eq!(sell.fills[2].commission, m("2.33333334"));
}

#[test]
fn short_with_full_margin_locks_and_releases_cash() {
    let mut account = Account::open(settings("10000", "0.001", "0.001", "0", "0"), "task");
    let short = account
        .execute(&all(TradeAction::ShortSell), m("100"), t(1), 1)
        .unwrap();
    let fill = &short.fills[0];
    assert_eq!(fill.action, TradeAction::ShortSell);
    assert_eq!(fill.quantity, q("99"));
    assert_eq!(fill.position_side, PositionSide::Short);
    assert_eq!(account.margin_used, m("9900"));
    assert_eq!(account.available, m("90.1"));
    assert_eq!(account.signed_quantity().unwrap(), q("-99"));
    // Marked at 95: unrealised (100 − 95) × 99 = 495.
    assert_eq!(account.equity_at(m("95")).unwrap(), m("10485.1"));
    assert_eq!(account.market_value_at(m("95")).unwrap(), m("-9405"));

    let cover = account
        .execute(&all(TradeAction::CoverShort), m("90"), t(2), 2)
        .unwrap();
    let fill = &cover.fills[0];
    assert_eq!(fill.commission, m("8.91"));
    assert_eq!(fill.open_id.as_deref(), Some("task-t00000001"));
    // 990 gross − 9.90 − 8.91 commissions.
    assert_eq!(fill.realized_pnl, Some(m("971.19")));
    assert_eq!(account.margin_used, Money::ZERO);
    assert_eq!(account.available, m("10971.19"));
    assert!(account.reconciles().unwrap());
}

#[test]
fn short_with_half_margin_sizes_on_the_margin() {
    let mut s = settings("10000", "0.001", "0.001", "0", "0");
    s.short_margin_ratio = r("0.5");
    let mut account = Account::open(s, "task");
    let short = account
        .execute(&all(TradeAction::ShortSell), m("100"), t(1), 1)
        .unwrap();
    // Each share locks 50 and costs 0.10 commission: floor(10000 / 50.1) = 199.
    assert_eq!(short.fills[0].quantity, q("199"));
    assert_eq!(account.margin_used, m("9950"));
    assert_eq!(account.available, m("30.1"));
    // The short loses when the price rises; equity falls below the initial cash.
    // 30.10 free + 9950 margin − (110 − 100) × 199 = 7990.10.
    assert_eq!(account.equity_at(m("110")).unwrap(), m("7990.1"));
}

#[test]
fn a_buy_while_short_covers_first_then_goes_long() {
    let mut account = Account::open(settings("10000", "0", "0", "0", "0"), "task");
    account
        .execute(&all(TradeAction::ShortSell), m("100"), t(1), 1)
        .unwrap();
    let reverse = account
        .execute(&all(TradeAction::Buy), m("80"), t(2), 2)
        .unwrap();
    let actions: Vec<TradeAction> = reverse.fills.iter().map(|f| f.action).collect();
    assert_eq!(actions, vec![TradeAction::CoverShort, TradeAction::Buy]);
    // Cover frees 10000 + 2000 gain; 12000 / 80 = 150 shares.
    assert_eq!(reverse.fills[1].quantity, q("150"));
    assert!(account.short_lots.is_empty());
    assert_eq!(account.signed_quantity().unwrap(), q("150"));
}

#[test]
fn an_exact_quantity_nets_against_the_opposite_position() {
    let mut account = Account::open(settings("10000", "0", "0", "0", "0"), "task");
    account
        .execute(
            &order(TradeAction::Buy, OrderSize::Quantity(q("30"))),
            m("100"),
            t(1),
            1,
        )
        .unwrap();
    let done = account
        .execute(
            &order(TradeAction::ShortSell, OrderSize::Quantity(q("50"))),
            m("100"),
            t(2),
            2,
        )
        .unwrap();
    assert_eq!(done.fills[0].action, TradeAction::Sell);
    assert_eq!(done.fills[0].quantity, q("30"));
    assert_eq!(done.fills[1].action, TradeAction::ShortSell);
    assert_eq!(done.fills[1].quantity, q("20"));
    assert_eq!(account.signed_quantity().unwrap(), q("-20"));
}

#[test]
fn refused_orders_are_recorded_with_their_reason() {
    let mut account = Account::open(settings("50", "0.001", "0.001", "0", "0"), "task");
    let sell = account
        .execute(&all(TradeAction::Sell), m("10"), t(1), 1)
        .unwrap();
    assert_eq!(sell.fills[0].status, TradeStatus::Failed);
    assert_eq!(
        sell.fills[0].reject_reason.as_deref(),
        Some("no long position to sell")
    );
    let cover = account
        .execute(&all(TradeAction::CoverShort), m("10"), t(1), 1)
        .unwrap();
    assert_eq!(
        cover.fills[0].reject_reason.as_deref(),
        Some("no short position to cover")
    );
    let buy = account
        .execute(&all(TradeAction::Buy), m("100"), t(1), 1)
        .unwrap();
    let reason = buy.fills[0].reject_reason.clone().unwrap();
    assert!(
        reason.starts_with("insufficient cash: 50.00000000 available"),
        "{reason}"
    );
    let too_many = account
        .execute(
            &order(TradeAction::Buy, OrderSize::Quantity(q("10"))),
            m("10"),
            t(1),
            1,
        )
        .unwrap();
    let reason = too_many.fills[0].reject_reason.clone().unwrap();
    assert!(reason.contains("needs 100.10000000 with fees"), "{reason}");
    let dust = account
        .execute(
            &order(TradeAction::Buy, OrderSize::Quantity(q("0.5"))),
            m("10"),
            t(1),
            1,
        )
        .unwrap();
    assert!(
        dust.fills[0]
            .reject_reason
            .clone()
            .unwrap()
            .contains("less than one tradable unit")
    );
    // Nothing changed: cash, fees and positions are as before.
    assert_eq!(account.available, m("50"));
    assert_eq!(account.total_fees, Money::ZERO);
    assert!(account.is_flat());
}

#[test]
fn a_sale_whose_fees_exceed_its_proceeds_and_the_cash_is_refused() {
    let mut account = Account::open(settings("100", "0", "0", "0", "0"), "task");
    account
        .execute(
            &order(TradeAction::Buy, OrderSize::Quantity(q("100"))),
            m("1"),
            t(1),
            1,
        )
        .unwrap();
    account.settings.min_commission = m("5");
    let sell = account
        .execute(
            &order(TradeAction::Sell, OrderSize::Quantity(q("1"))),
            m("1"),
            t(2),
            2,
        )
        .unwrap();
    assert_eq!(sell.fills[0].status, TradeStatus::Failed);
    assert!(
        sell.fills[0]
            .reject_reason
            .clone()
            .unwrap()
            .starts_with("insufficient cash for fees")
    );
    assert_eq!(account.long_quantity().unwrap(), q("100"));
}

#[test]
fn crypto_quantities_use_eight_decimals() {
    let mut s = settings("1", "0.001", "0.001", "0", "0");
    s.market_type = MarketType::Coin;
    s.whole_units = false;
    let mut account = Account::open(s, "task");
    let done = account
        .execute(&all(TradeAction::Buy), m("0.0994766"), t(1), 1)
        .unwrap();
    let fill = &done.fills[0];
    // 1 / (0.0994766 × 1.001) = 10.04257281…, but each 10^-8 ETH costs about 10^-9 BTC, below
    // the 8-decimal rounding of the charged amounts: 10.04257287 is the most whose rounded
    // notional plus rounded commission fit in 1 BTC (checked both ways below).
    assert_eq!(fill.quantity, q("10.04257287"));
    assert!(fill.total_amount.checked_add(fill.commission).unwrap() <= m("1"));
    let one_more = q("10.04257288");
    let notional = m("0.0994766").times(one_more).unwrap();
    let with_fee = notional
        .checked_add(notional.times_rate(r("0.001")).unwrap())
        .unwrap();
    assert!(
        with_fee > m("1"),
        "one more unit would have been affordable"
    );
    assert!(account.reconciles().unwrap());
}

// ---------------------------------------------------------------- property tests

fn arb_order() -> impl Strategy<Value = Order> {
    let action = prop_oneof![
        Just(TradeAction::Buy),
        Just(TradeAction::Sell),
        Just(TradeAction::ShortSell),
        Just(TradeAction::CoverShort),
        Just(TradeAction::Hold),
    ];
    let size = prop_oneof![
        Just(OrderSize::All),
        (1u32..=100).prop_map(|p| OrderSize::Fraction(
            Rate::parse(&format!("{}", f64::from(p) / 100.0)).unwrap()
        )),
        (1u32..5000).prop_map(|n| OrderSize::Quantity(
            Quantity::parse(&format!("{}", f64::from(n) / 10.0)).unwrap()
        )),
    ];
    (action, size).prop_map(|(action, size)| Order { action, size })
}

fn arb_price() -> impl Strategy<Value = Money> {
    (1u64..=500_000)
        .prop_map(|cents| Money::parse(&format!("{}.{:02}", cents / 100, cents % 100)).unwrap())
}

fn arb_settings() -> impl Strategy<Value = AccountSettings> {
    (
        1_000u64..1_000_000,
        0u32..=50,
        0u32..=50,
        0u32..=20,
        0u32..=10,
        prop::bool::ANY,
        prop_oneof![Just("1"), Just("0.5"), Just("1.5")],
    )
        .prop_map(
            |(cash, buy, sell, tax, min, whole, margin)| AccountSettings {
                market_type: if whole {
                    MarketType::Us
                } else {
                    MarketType::Coin
                },
                initial_balance: Money::from_i64(cash as i64).unwrap(),
                commission_rate_buy: Rate::parse(&format!("0.{buy:04}")).unwrap(),
                commission_rate_sell: Rate::parse(&format!("0.{sell:04}")).unwrap(),
                tax_rate: Rate::parse(&format!("0.{tax:04}")).unwrap(),
                min_commission: Money::from_i64(i64::from(min)).unwrap(),
                short_margin_ratio: Rate::parse(margin).unwrap(),
                whole_units: whole,
                slippage: aibt_core::Rate::ZERO,
                borrow_rate: aibt_core::Rate::ZERO,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Cash + margin + long cost basis + fees = initial balance + realised gross P&L, exactly,
    /// after every order; and the account never holds both sides.
    #[test]
    fn the_ledger_always_reconciles(
        settings in arb_settings(),
        steps in prop::collection::vec((arb_order(), arb_price()), 1..40),
    ) {
        let mut account = Account::open(settings, "p");
        for (day, (order, price)) in steps.iter().enumerate() {
            account.execute(order, *price, t(day as i64), day as u64).unwrap();
            prop_assert!(account.reconciles().unwrap());
            prop_assert!(account.long_lots.is_empty() || account.short_lots.is_empty());
            prop_assert!(!account.margin_used.is_negative());
            prop_assert!(account.long_lots.iter().chain(&account.short_lots).all(|l| l.quantity.is_positive()));
        }
    }

    /// Without shorts (no margin), no sequence of decisions makes cash negative.
    #[test]
    fn cash_never_goes_negative_without_margin(
        settings in arb_settings(),
        steps in prop::collection::vec((arb_order(), arb_price()), 1..40),
    ) {
        let mut account = Account::open(settings, "p");
        for (day, (order, price)) in steps.iter().enumerate() {
            let long_only = Order {
                action: match order.action {
                    TradeAction::ShortSell => TradeAction::Buy,
                    TradeAction::CoverShort => TradeAction::Sell,
                    other => other,
                },
                size: order.size,
            };
            account.execute(&long_only, *price, t(day as i64), day as u64).unwrap();
            prop_assert!(!account.available.is_negative(), "cash {} after {:?}", account.available, long_only);
        }
    }

    /// Every executed order pays max(notional × rate, minimum) once, and sell-side orders pay
    /// notional × tax rate; buy-side orders pay no tax.
    #[test]
    fn commission_and_tax_are_charged_as_specified(
        settings in arb_settings(),
        steps in prop::collection::vec((arb_order(), arb_price()), 1..30),
    ) {
        let mut account = Account::open(settings.clone(), "p");
        for (day, (order, price)) in steps.iter().enumerate() {
            let done = account.execute(order, *price, t(day as i64), day as u64).unwrap();
            // Records of one order and one action are one execution (a reversal is two).
            let mut groups: Vec<(TradeAction, Vec<&aibt_core::Fill>)> = Vec::new();
            for fill in done.fills.iter().filter(|f| f.status == TradeStatus::Executed) {
                match groups.last_mut() {
                    Some((action, fills)) if *action == fill.action => fills.push(fill),
                    _ => groups.push((fill.action, vec![fill])),
                }
            }
            for (action, fills) in groups {
                let sum = |f: fn(&aibt_core::Fill) -> Money| fills.iter().fold(Money::ZERO, |a, x| a.checked_add(f(x)).unwrap());
                let notional = sum(|f| f.total_amount);
                let rate = if action.is_sell_side() { settings.commission_rate_sell } else { settings.commission_rate_buy };
                let expected_commission = notional.times_rate(rate).unwrap().max(settings.min_commission);
                prop_assert_eq!(sum(|f| f.commission), expected_commission);
                let expected_tax = if action.is_sell_side() { notional.times_rate(settings.tax_rate).unwrap() } else { Money::ZERO };
                prop_assert_eq!(sum(|f| f.tax), expected_tax);
            }
        }
    }

    /// Closing consumes lots in the order they were opened, as a hand-kept FIFO ledger does.
    #[test]
    fn fifo_matches_a_hand_ledger(
        buys in prop::collection::vec((1u32..50, arb_price()), 1..10),
        sells in prop::collection::vec(1u32..80, 1..10),
    ) {
        let mut account = Account::open(settings("1000000000", "0", "0", "0", "0"), "p");
        let mut ledger: std::collections::VecDeque<(String, u32)> = Default::default();
        let mut day = 0;
        for (n, price) in &buys {
            day += 1;
            let done = account.execute(&order(TradeAction::Buy, OrderSize::Quantity(Quantity::from_i64(i64::from(*n)).unwrap())), *price, t(day), day as u64).unwrap();
            ledger.push_back((done.fills[0].trade_id.clone(), *n));
        }
        for n in sells {
            day += 1;
            let done = account.execute(&order(TradeAction::Sell, OrderSize::Quantity(Quantity::from_i64(i64::from(n)).unwrap())), m("100"), t(day), day as u64).unwrap();
            let mut expected = Vec::new();
            let mut left = n;
            while left > 0 {
                let Some((id, held)) = ledger.front_mut() else { break };
                let take = left.min(*held);
                expected.push((id.clone(), take));
                *held -= take;
                left -= take;
                if *held == 0 { ledger.pop_front(); }
            }
            let actual: Vec<(String, u32)> = done.fills.iter().filter(|f| f.status == TradeStatus::Executed)
                .map(|f| (f.open_id.clone().unwrap(), f.quantity.to_string().split('.').next().unwrap().parse().unwrap()))
                .collect();
            prop_assert_eq!(actual, expected);
        }
        let held: u32 = ledger.iter().map(|(_, n)| n).sum();
        prop_assert_eq!(account.long_quantity().unwrap(), Quantity::from_i64(i64::from(held)).unwrap());
    }
}
