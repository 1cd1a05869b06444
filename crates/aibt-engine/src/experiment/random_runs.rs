//! The random baseline: at each decision step it is long or flat as a seeded sequence says,
//! trading all in and all out on the same account, fees and fill rule as the experiment. It
//! runs on the bars in memory through the same simulation as every task, so it costs a
//! fraction of a millisecond and is recomputed identically from the seed whenever the board is.

use aibt_core::broker::{Account, AccountSettings};
use aibt_core::simulation::{BarFills, first_decision_bar};
use aibt_core::{Bar, Decision, FillRule, Simulation, TradeAction};

/// The return (percent) of a run that holds `positions[k]` (long or flat) after decision `k`.
/// `None` when the simulation cannot value the account (an overflow).
pub fn random_run(
    bars: &[Bar],
    positions: &[bool],
    settings: &AccountSettings,
    fill: FillRule,
    interval: i64,
) -> Option<f64> {
    let interval = u64::try_from(interval).unwrap_or(1).max(1);
    let mut simulation = Simulation::new(
        Account::open(settings.clone(), "random"),
        fill,
        interval,
        first_decision_bar(0, 0, interval),
        None,
    );
    let mut fills = BarFills::default();
    for bar in bars {
        simulation
            .step(bar, &mut fills, &mut |account, step| {
                let long = positions
                    .get(usize::try_from(step).unwrap_or(usize::MAX))
                    .copied()
                    .unwrap_or(false);
                let decision = if long && account.is_flat() {
                    Decision::all_in(TradeAction::Buy, "random: long")
                } else if !long && account.is_long() {
                    Decision::all_in(TradeAction::Sell, "random: flat")
                } else {
                    Decision::hold("random: as it is")
                };
                (decision, String::new())
            })
            .ok()?;
    }
    simulation.stats().return_pct
}

#[cfg(test)]
mod tests {
    use super::*;
    use aibt_core::{MarketType, Money, Quantity, Rate};

    fn bar(day: i64, price: &str) -> Bar {
        let price = Money::parse(price).unwrap();
        Bar {
            ts: chrono::DateTime::UNIX_EPOCH + chrono::Duration::days(day),
            open: price,
            high: price,
            low: price,
            close: price,
            volume: Quantity::ZERO,
        }
    }

    #[test]
    fn a_run_follows_its_positions() {
        let settings = AccountSettings {
            market_type: MarketType::Us,
            initial_balance: Money::parse("1000").unwrap(),
            commission_rate_buy: Rate::ZERO,
            commission_rate_sell: Rate::ZERO,
            tax_rate: Rate::ZERO,
            min_commission: Money::ZERO,
            short_margin_ratio: Rate::ONE,
            whole_units: true,
            slippage: Rate::ZERO,
            borrow_rate: Rate::ZERO,
        };
        let bars = [bar(0, "10"), bar(1, "10"), bar(2, "20"), bar(3, "20")];
        // Long after step 0: 100 shares bought at the next open (10), worth 20 at the end.
        let doubled = random_run(&bars, &[true; 4], &settings, FillRule::NextOpen, 1).unwrap();
        assert!((doubled - 100.0).abs() < 1e-9, "{doubled}");
        let flat = random_run(&bars, &[false; 4], &settings, FillRule::NextOpen, 1).unwrap();
        assert_eq!(flat, 0.0);
    }
}
