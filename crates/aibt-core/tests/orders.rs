//! Orders beyond "now" on the simulation: golden ledgers for what backtesting.py does not
//! have (trailing stops, borrow fees, ending flat, a stop moved by a later decision), and the
//! ledger's identity after every bar of random runs with brackets, limits, slippage and
//! borrow fees.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use aibt_core::broker::{Account, AccountSettings};
use aibt_core::orders::{Change, Level, OrderTerms};
use aibt_core::simulation::{BarFills, FillRule, Simulation};
use aibt_core::{
    Bar, Decision, ExitReason, MarketType, Money, OrderSize, Percent, Quantity, Rate, TradeAction,
    TradeStatus,
};
use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;

fn m(text: &str) -> Money {
    Money::parse(text).unwrap()
}

fn day(n: i64) -> DateTime<Utc> {
    DateTime::UNIX_EPOCH + Duration::days(20_000 + n)
}

fn bar(n: i64, open: &str, high: &str, low: &str, close: &str) -> Bar {
    Bar {
        ts: day(n),
        open: m(open),
        high: m(high),
        low: m(low),
        close: m(close),
        volume: Quantity::ZERO,
    }
}

fn settings(commission: &str) -> AccountSettings {
    AccountSettings {
        market_type: MarketType::Us,
        initial_balance: m("10000"),
        commission_rate_buy: Rate::parse(commission).unwrap(),
        commission_rate_sell: Rate::parse(commission).unwrap(),
        tax_rate: Rate::ZERO,
        min_commission: Money::ZERO,
        short_margin_ratio: Rate::ONE,
        whole_units: true,
        slippage: Rate::ZERO,
        borrow_rate: Rate::ZERO,
    }
}

fn pct(text: &str) -> Percent {
    Percent::parse(text).unwrap()
}

/// Runs `bars`, deciding `decisions[i]` (if any) at bar i; returns every fill.
fn run(
    settings: AccountSettings,
    bars: &[Bar],
    decisions: &[(usize, Decision)],
) -> (Simulation, Vec<aibt_core::Fill>) {
    let mut simulation =
        Simulation::new(Account::open(settings, "t"), FillRule::NextOpen, 1, 0, None);
    let mut fills = BarFills::default();
    let mut all = Vec::new();
    for (i, bar) in bars.iter().enumerate() {
        fills.executions.clear();
        simulation.open(bar, &mut fills).unwrap();
        if let Some((_, decision)) = decisions.iter().find(|(at, _)| *at == i) {
            simulation
                .decide(bar, decision, &format!("d{i}"), &mut fills)
                .unwrap();
        } else {
            simulation
                .decide(bar, &Decision::hold("wait"), &format!("d{i}"), &mut fills)
                .unwrap();
        }
        simulation.close(bar, &mut fills).unwrap();
        for (execution, _) in &fills.executions {
            all.extend(execution.fills.iter().cloned());
        }
        assert!(
            simulation.account.reconciles().unwrap(),
            "ledger at bar {i}"
        );
    }
    (simulation, all)
}

fn buy(terms: OrderTerms) -> Decision {
    Decision::all_in(TradeAction::Buy, "buy").with_orders(terms)
}

#[test]
fn a_trailing_stop_follows_the_best_close_and_exits_at_its_level() {
    let bars = [
        bar(0, "100", "100", "100", "100"),
        // Bought at 100 (no commission): 100 shares; the best close becomes 110, then 120.
        bar(1, "100", "111", "99", "110"),
        bar(2, "110", "121", "109", "120"),
        // 10% under the best close of 120 is 108: touched, filled at 108.
        bar(3, "118", "119", "107", "112"),
        bar(4, "112", "113", "111", "112"),
    ];
    let terms = OrderTerms {
        trailing_stop_pct: Change::Set(pct("10")),
        ..OrderTerms::default()
    };
    let (simulation, fills) = run(settings("0"), &bars, &[(0, buy(terms))]);
    let exit = fills
        .iter()
        .find(|f| f.action == TradeAction::Sell)
        .expect("an exit");
    assert_eq!(exit.price, m("108"));
    assert_eq!(exit.exit_reason, Some(ExitReason::TrailingStop));
    assert_eq!(exit.time, day(3));
    assert_eq!(exit.realized_pnl, Some(m("800")));
    assert!(simulation.account.is_flat());
    assert_eq!(simulation.account.available, m("10800"));
}

#[test]
fn the_tighter_of_the_fixed_and_the_trailing_stop_counts() {
    let bars = [
        bar(0, "100", "100", "100", "100"),
        bar(1, "100", "101", "99", "100"),
        // The fixed stop at 95 is tighter than 10% under 100 (90): it is hit first.
        bar(2, "100", "100", "94", "96"),
    ];
    let terms = OrderTerms {
        stop_loss: Change::Set(Level::Price(m("95"))),
        trailing_stop_pct: Change::Set(pct("10")),
        ..OrderTerms::default()
    };
    let (_, fills) = run(settings("0"), &bars, &[(0, buy(terms))]);
    let exit = fills
        .iter()
        .find(|f| f.action == TradeAction::Sell)
        .unwrap();
    assert_eq!(
        (exit.price, exit.exit_reason),
        (m("95"), Some(ExitReason::StopLoss))
    );
}

#[test]
fn a_later_decision_moves_and_removes_the_stop() {
    let bars = [
        bar(0, "100", "100", "100", "100"),
        bar(1, "100", "105", "99", "104"),
        // A HOLD at bar 1 moved the stop up to 102: touched here.
        bar(2, "104", "104", "101", "103"),
        bar(3, "103", "103", "103", "103"),
    ];
    let open = buy(OrderTerms {
        stop_loss: Change::Set(Level::Price(m("90"))),
        ..OrderTerms::default()
    });
    let raise = Decision::hold("raise the stop").with_orders(OrderTerms {
        stop_loss: Change::Set(Level::Price(m("102"))),
        ..OrderTerms::default()
    });
    let (_, fills) = run(settings("0"), &bars, &[(0, open.clone()), (1, raise)]);
    let exit = fills
        .iter()
        .find(|f| f.action == TradeAction::Sell)
        .unwrap();
    assert_eq!((exit.price, exit.time), (m("102"), day(2)));

    let remove = Decision::hold("no stop").with_orders(OrderTerms {
        stop_loss: Change::Remove,
        ..OrderTerms::default()
    });
    let (simulation, fills) = run(settings("0"), &bars, &[(0, open), (1, remove)]);
    assert!(fills.iter().all(|f| f.action != TradeAction::Sell));
    assert!(simulation.account.is_long());
}

#[test]
fn a_stop_on_the_wrong_side_of_the_price_is_refused_with_its_reason() {
    let bars = [
        bar(0, "100", "100", "100", "100"),
        bar(1, "100", "101", "99", "100"),
    ];
    let wrong = buy(OrderTerms {
        stop_loss: Change::Set(Level::Price(m("101"))),
        ..OrderTerms::default()
    });
    let (simulation, fills) = run(settings("0.001"), &bars, &[(0, wrong)]);
    assert_eq!(fills.len(), 1);
    assert_eq!(fills[0].status, TradeStatus::Failed);
    assert!(
        fills[0]
            .reject_reason
            .as_deref()
            .unwrap()
            .contains("stop_loss 101.00000000 is not below the price 100.00000000"),
        "{:?}",
        fills[0].reject_reason
    );
    assert!(simulation.account.is_flat());
    assert_eq!(simulation.rejected_orders(), 1);
}

/// 10,000 of cash shorts 100 shares at 100 (full margin, no commission); borrow at 36.5% a year
/// is 0.1% a day of the market value at the last close, charged when the next bar opens.
#[test]
fn borrow_fees_accrue_per_bar_on_the_short_market_value() {
    let mut account = settings("0");
    account.borrow_rate = Rate::parse("0.365").unwrap();
    let bars = [
        bar(0, "100", "100", "100", "100"),
        // Shorted at the open of day 1 (100 shares); the close is 100.
        bar(1, "100", "100", "100", "100"),
        // Day 2 opens: one day at 100 × 100 = 10,000 → 10.00 of borrow.
        bar(2, "100", "100", "100", "110"),
        // Day 5 opens three calendar days later (a weekend): 3 × 0.1% × 11,000 = 33.00.
        bar(5, "110", "110", "110", "110"),
        bar(6, "110", "110", "110", "110"),
    ];
    let short = Decision::all_in(TradeAction::ShortSell, "short");
    let cover = Decision::all_in(TradeAction::CoverShort, "cover");
    let (simulation, fills) = run(account, &bars, &[(0, short), (3, cover)]);
    // Day 6 opens: the cover fills at 110, after one more day on 11,000 → 11.00.
    let borrow = m("10")
        .checked_add(m("33"))
        .unwrap()
        .checked_add(m("11"))
        .unwrap();
    assert_eq!(simulation.account.borrow_fees, borrow);
    assert_eq!(simulation.account.total_fees, borrow);
    let cover = fills
        .iter()
        .find(|f| f.action == TradeAction::CoverShort)
        .unwrap();
    // The round trip carries the borrow: (100 − 110) × 100 − 54.
    assert_eq!(cover.realized_pnl, Some(m("-1054")));
    assert_eq!(simulation.account.available, m("8946"));
    assert!(simulation.account.is_flat());
}

#[test]
fn a_task_that_ends_flat_closes_at_the_last_close_with_end() {
    let bars = [
        bar(0, "100", "100", "100", "100"),
        bar(1, "100", "101", "99", "100"),
        bar(2, "100", "106", "99", "105"),
    ];
    let mut simulation = Simulation::new(
        Account::open(settings("0"), "t"),
        FillRule::NextOpen,
        1,
        0,
        None,
    );
    simulation.end_flat_at(2);
    let mut fills = BarFills::default();
    let mut exits = Vec::new();
    for (i, bar) in bars.iter().enumerate() {
        fills.executions.clear();
        simulation.open(bar, &mut fills).unwrap();
        let decision = if i == 0 {
            Decision::all_in(TradeAction::Buy, "buy")
        } else {
            Decision::hold("wait")
        };
        simulation.decide(bar, &decision, "d", &mut fills).unwrap();
        let equity = simulation.close(bar, &mut fills).unwrap();
        exits.extend(
            fills
                .executions
                .iter()
                .flat_map(|(e, _)| e.fills.clone())
                .filter(|f| f.action == TradeAction::Sell),
        );
        if i == 2 {
            assert_eq!(equity, m("10500"));
        }
    }
    assert_eq!(exits.len(), 1);
    assert_eq!(
        (exits[0].price, exits[0].exit_reason),
        (m("105"), Some(ExitReason::End))
    );
    assert!(simulation.account.is_flat());
    assert_eq!(simulation.stats().num_trades, 1);
}

#[test]
fn a_limit_entry_waits_its_bars_then_lapses() {
    let bars = [
        bar(0, "100", "100", "100", "100"),
        bar(1, "100", "101", "99", "100"),
        bar(2, "100", "101", "98.5", "100"),
        bar(3, "100", "100", "97", "98"),
    ];
    let limit = |ttl| {
        buy(OrderTerms {
            limit_price: Some(m("98")),
            order_ttl_bars: Some(ttl),
            ..OrderTerms::default()
        })
    };
    // Live on bars 1 and 2 only: the low of 97 on bar 3 comes too late.
    let (simulation, fills) = run(settings("0"), &bars, &[(0, limit(2))]);
    assert!(fills.is_empty(), "{fills:?}");
    assert!(simulation.account.is_flat());
    // Live on bars 1 to 3: filled at the limit on bar 3.
    let (simulation, fills) = run(settings("0"), &bars, &[(0, limit(3))]);
    assert_eq!(fills.len(), 1);
    assert_eq!((fills[0].price, fills[0].time), (m("98"), day(3)));
    assert!(simulation.account.is_long());
}

#[test]
fn slippage_moves_every_fill_against_the_trader() {
    let mut account = settings("0");
    account.slippage = Rate::parse("0.01").unwrap();
    let bars = [
        bar(0, "100", "100", "100", "100"),
        bar(1, "100", "100", "100", "100"),
        bar(2, "100", "100", "100", "100"),
    ];
    let (simulation, fills) = run(
        account,
        &bars,
        &[
            (0, Decision::all_in(TradeAction::Buy, "buy")),
            (1, Decision::all_in(TradeAction::Sell, "sell")),
        ],
    );
    // 10,000 / 101 = 99 shares at 101; sold at 99: 99 × (99 − 101) = −198.
    assert_eq!(fills[0].price, m("101"));
    assert_eq!(fills[0].quantity, Quantity::parse("99").unwrap());
    assert_eq!(fills[1].price, m("99"));
    assert_eq!(simulation.account.available, m("9802"));
}

// ---------------------------------------------------------------- the ledger, at random

fn arb_terms() -> impl Strategy<Value = OrderTerms> {
    let level = prop_oneof![
        Just(Change::Keep),
        Just(Change::Remove),
        (1u32..30)
            .prop_map(|p| Change::Set(Level::Percent(Percent::from_i64(i64::from(p)).unwrap()))),
        (50u32..200)
            .prop_map(|p| Change::Set(Level::Price(Money::from_i64(i64::from(p)).unwrap()))),
    ];
    let trailing = prop_oneof![
        Just(Change::Keep),
        Just(Change::Remove),
        (1u32..30).prop_map(|p| Change::Set(Percent::from_i64(i64::from(p)).unwrap())),
    ];
    let limit = prop::option::of((60u32..160).prop_map(|p| Money::from_i64(i64::from(p)).unwrap()));
    (level.clone(), level, trailing, limit, 1u32..4).prop_map(
        |(stop_loss, take_profit, trailing_stop_pct, limit_price, ttl)| OrderTerms {
            stop_loss,
            take_profit,
            trailing_stop_pct,
            limit_price,
            order_ttl_bars: limit_price.map(|_| ttl),
        },
    )
}

fn arb_decision() -> impl Strategy<Value = Decision> {
    let action = prop_oneof![
        Just(TradeAction::Buy),
        Just(TradeAction::Sell),
        Just(TradeAction::ShortSell),
        Just(TradeAction::CoverShort),
        Just(TradeAction::Hold),
        Just(TradeAction::Hold),
    ];
    let size = prop_oneof![
        Just(OrderSize::All),
        (1u32..=100).prop_map(|p| OrderSize::Fraction(
            Rate::parse(&format!("{}", f64::from(p) / 100.0)).unwrap()
        )),
    ];
    (action, size, arb_terms()).prop_map(|(action, size, orders)| Decision {
        action,
        size,
        confidence: Rate::ONE,
        reasoning: "random".into(),
        orders,
    })
}

fn arb_bar() -> impl Strategy<Value = (u32, u32, u32, u32, i64)> {
    // open, close, extra high, extra low (in cents over 100), days to the next bar.
    (
        5_000u32..15_000,
        5_000u32..15_000,
        0u32..1_500,
        0u32..1_500,
        1i64..4,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Cash + margin + long cost basis + fees = initial balance + realised gross P&L after
    /// every bar, whatever stops, targets, trailing stops, limits, slippage and borrow fees
    /// do; a position is never long and short at once; cash goes negative only by borrow
    /// fees or the losses of a short (what margin is for).
    #[test]
    fn the_ledger_reconciles_with_every_kind_of_order(
        raw_bars in prop::collection::vec(arb_bar(), 2..40),
        decisions in prop::collection::vec(prop::option::of(arb_decision()), 40),
        slippage in 0u32..50,
        borrow in 0u32..200,
        commission in 0u32..30,
        fill_at_close in prop::bool::ANY,
    ) {
        let mut account = settings(&format!("0.{commission:04}"));
        account.slippage = Rate::parse(&format!("0.{slippage:04}")).unwrap();
        account.borrow_rate = Rate::parse(&format!("0.{borrow:03}")).unwrap();
        let fill = if fill_at_close { FillRule::Close } else { FillRule::NextOpen };
        let mut simulation = Simulation::new(Account::open(account, "p"), fill, 1, 0, None);
        let mut fills = BarFills::default();
        let mut time = day(0);
        let mut ever_short = false;
        for (i, (open, close, up, down, gap)) in raw_bars.iter().enumerate() {
            let cents = |c: u32| Money::parse(&format!("{}.{:02}", c / 100, c % 100)).unwrap();
            let high = open.max(close) + up;
            let low = open.min(close).saturating_sub(*down).max(1);
            let bar = Bar {
                ts: time,
                open: cents(*open),
                high: cents(high),
                low: cents(low),
                close: cents(*close),
                volume: Quantity::ZERO,
            };
            time += Duration::days(*gap);
            fills.executions.clear();
            simulation.open(&bar, &mut fills).unwrap();
            let decision = decisions[i].clone().unwrap_or_else(|| Decision::hold("wait"));
            simulation.decide(&bar, &decision, "d", &mut fills).unwrap();
            simulation.close(&bar, &mut fills).unwrap();
            let a = &simulation.account;
            prop_assert!(a.reconciles().unwrap(), "ledger at bar {}", i);
            prop_assert!(!(a.is_long() && a.is_short()));
            ever_short |= a.is_short()
                || fills.executions.iter().any(|(e, _)| {
                    e.fills.iter().any(|f| f.action == TradeAction::ShortSell)
                });
            if !ever_short {
                prop_assert!(!a.available.is_negative());
            }
            for (execution, _) in &fills.executions {
                for fill in &execution.fills {
                    // Only closing records name a cause, and every one does.
                    prop_assert_eq!(
                        fill.exit_reason.is_some(),
                        fill.open_id.is_some() && fill.status == TradeStatus::Executed
                    );
                }
            }
        }
    }
}
