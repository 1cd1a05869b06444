//! Summaries of an experiment variant's repeats: the spread of a statistic, how consistently
//! the repeats decided, and the mix of actions they took.

use serde::{Deserialize, Serialize};

use crate::enums::TradeAction;

/// An action mix is degenerate when one action is at least this share of all decisions.
pub const DEGENERATE_SHARE: f64 = 0.95;

/// Mean, range and spread of one statistic over a variant's repeats.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RepeatSummary {
    pub count: usize,
    pub mean: f64,
    pub min: f64,
    pub max: f64,
    /// Sample standard deviation (divisor count − 1); `None` for a single repeat.
    pub std: Option<f64>,
}

/// The summary of `values` (one per repeat). `None` when there are none or one is not finite.
pub fn summarize_repeats(values: &[f64]) -> Option<RepeatSummary> {
    if values.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let mean = super::mean(values)?;
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    Some(RepeatSummary {
        count: values.len(),
        mean,
        min,
        max,
        std: super::sample_variance(values).map(f64::sqrt),
    })
}

/// The share of decision steps at which every repeat took the same action. Step `i` is the
/// `i`-th decision of each repeat; only the steps that every repeat reached count (the length
/// of the shortest repeat). `None` for fewer than 2 repeats or no common step.
pub fn consistency_share<T: PartialEq, S: AsRef<[T]>>(repeats: &[S]) -> Option<f64> {
    if repeats.len() < 2 {
        return None;
    }
    let steps = repeats.iter().map(|r| r.as_ref().len()).min()?;
    if steps == 0 {
        return None;
    }
    let first = repeats[0].as_ref();
    let same = (0..steps)
        .filter(|&i| repeats[1..].iter().all(|r| r.as_ref()[i] == first[i]))
        .count();
    Some(same as f64 / steps as f64)
}

/// The shares of each action among a variant's decisions (all repeats pooled).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ActionMix {
    /// Decisions counted.
    pub decisions: usize,
    pub buy: f64,
    pub sell: f64,
    pub short_sell: f64,
    pub cover_short: f64,
    pub hold: f64,
    /// The most frequent action (the first in BUY, SELL, HOLD, SHORT_SELL, COVER_SHORT order
    /// among equals) and its share.
    pub dominant: TradeAction,
    pub dominant_share: f64,
    /// One action is at least [`DEGENERATE_SHARE`] of the decisions.
    pub degenerate: bool,
}

/// The action mix of `actions`. `None` when there are none.
pub fn action_mix(actions: impl IntoIterator<Item = TradeAction>) -> Option<ActionMix> {
    let mut counts = [0usize; 5];
    let slot = |a: TradeAction| match a {
        TradeAction::Buy => 0,
        TradeAction::Sell => 1,
        TradeAction::Hold => 2,
        TradeAction::ShortSell => 3,
        TradeAction::CoverShort => 4,
    };
    for a in actions {
        counts[slot(a)] += 1;
    }
    let total: usize = counts.iter().sum();
    if total == 0 {
        return None;
    }
    let order = [
        TradeAction::Buy,
        TradeAction::Sell,
        TradeAction::Hold,
        TradeAction::ShortSell,
        TradeAction::CoverShort,
    ];
    let share = |a: TradeAction| counts[slot(a)] as f64 / total as f64;
    let mut dominant = order[0];
    for a in order {
        if counts[slot(a)] > counts[slot(dominant)] {
            dominant = a;
        }
    }
    let dominant_share = share(dominant);
    Some(ActionMix {
        decisions: total,
        buy: share(TradeAction::Buy),
        sell: share(TradeAction::Sell),
        short_sell: share(TradeAction::ShortSell),
        cover_short: share(TradeAction::CoverShort),
        hold: share(TradeAction::Hold),
        dominant,
        dominant_share,
        degenerate: dominant_share >= DEGENERATE_SHARE,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use TradeAction::*;

    #[test]
    fn repeat_summary() {
        let s = summarize_repeats(&[1.0, 2.0, 6.0]).expect("values");
        assert_eq!((s.count, s.mean, s.min, s.max), (3, 3.0, 1.0, 6.0));
        assert!((s.std.expect("3 repeats") - 7f64.sqrt()).abs() < 1e-15);
        let one = summarize_repeats(&[-2.5]).expect("one value");
        assert_eq!(
            (one.mean, one.min, one.max, one.std),
            (-2.5, -2.5, -2.5, None)
        );
        assert_eq!(summarize_repeats(&[]), None);
        assert_eq!(summarize_repeats(&[1.0, f64::NAN]), None);
    }

    #[test]
    fn consistency_counts_unanimous_steps() {
        let a = [Buy, Hold, Hold, Sell];
        let b = [Buy, Hold, Buy, Sell];
        let c = [Buy, Hold, Hold, Hold];
        assert_eq!(consistency_share(&[a, b, c]), Some(0.5));
        assert_eq!(consistency_share(&[a, a]), Some(1.0));
        // Only the 2 steps both reached count.
        assert_eq!(consistency_share(&[&a[..], &b[..2]]), Some(1.0));
        assert_eq!(consistency_share(&[a]), None);
        assert_eq!(
            consistency_share::<TradeAction, &[TradeAction]>(&[&[], &[]]),
            None
        );
    }

    #[test]
    fn action_mix_and_the_degenerate_flag() {
        let mix = action_mix([Buy, Hold, Hold, Sell, ShortSell, CoverShort, Hold, Hold])
            .expect("decisions");
        assert_eq!(mix.decisions, 8);
        assert_eq!(
            (mix.buy, mix.sell, mix.hold, mix.short_sell, mix.cover_short),
            (0.125, 0.125, 0.5, 0.125, 0.125)
        );
        assert_eq!(
            (mix.dominant, mix.dominant_share, mix.degenerate),
            (Hold, 0.5, false)
        );

        let mut nineteen_holds = vec![Hold; 19];
        nineteen_holds.push(Buy);
        let mix = action_mix(nineteen_holds).expect("decisions");
        assert_eq!((mix.dominant_share, mix.degenerate), (0.95, true));

        let mut eighteen = vec![Hold; 18];
        eighteen.extend([Buy, Sell]);
        assert!(!action_mix(eighteen).expect("decisions").degenerate);

        assert_eq!(action_mix([Sell, Buy]).expect("tie").dominant, Buy);
        assert_eq!(action_mix([]), None);
    }
}
