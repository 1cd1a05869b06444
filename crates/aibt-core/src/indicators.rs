//! Technical indicators for prompts and rule strategies, with TA-Lib's conventions (seeding,
//! Wilder smoothing, population deviation), so a value aibt shows a model is the value a
//! trader's charting tool shows. Indicators are ratios of prices, not money: they are `f64`.
//!
//! Each function returns one value per input, `None` until the indicator has enough history.

/// Simple moving average of the last `n` values.
pub fn sma(values: &[f64], n: usize) -> Vec<Option<f64>> {
    let mut out = vec![None; values.len()];
    if n == 0 || values.len() < n {
        return out;
    }
    for i in n - 1..values.len() {
        // Summing the window afresh avoids the drift of a running sum over long series.
        let sum: f64 = values[i + 1 - n..=i].iter().sum();
        out[i] = Some(sum / n as f64);
    }
    out
}

/// Exponential moving average, seeded (as TA-Lib does) with the SMA of the first `n` values
/// from `start`, then `ema += k·(x − ema)` with `k = 2/(n+1)`.
fn ema_from(values: &[f64], n: usize, start: usize) -> Vec<Option<f64>> {
    let mut out = vec![None; values.len()];
    if n == 0 || values.len() < start + n {
        return out;
    }
    let k = 2.0 / (n as f64 + 1.0);
    let seed_end = start + n - 1;
    let mut ema: f64 = values[start..=seed_end].iter().sum::<f64>() / n as f64;
    out[seed_end] = Some(ema);
    for i in seed_end + 1..values.len() {
        ema += k * (values[i] - ema);
        out[i] = Some(ema);
    }
    out
}

/// Exponential moving average (TA-Lib `EMA`).
pub fn ema(values: &[f64], n: usize) -> Vec<Option<f64>> {
    ema_from(values, n, 0)
}

/// Wilder's RSI fed one value at a time: the first value comes after `period` changes and
/// averages them; later ones smooth as `(prev·(period−1) + x)/period` (TA-Lib's `RSI`).
#[derive(Debug, Clone, PartialEq)]
pub struct WilderRsi {
    period: usize,
    previous: Option<f64>,
    changes: usize,
    gain: f64,
    loss: f64,
}

impl WilderRsi {
    pub fn new(period: usize) -> WilderRsi {
        WilderRsi {
            period: period.max(1),
            previous: None,
            changes: 0,
            gain: 0.0,
            loss: 0.0,
        }
    }

    pub fn period(&self) -> usize {
        self.period
    }

    /// Adds a value; returns the RSI once it is defined.
    pub fn push(&mut self, value: f64) -> Option<f64> {
        let previous = self.previous.replace(value)?;
        let change = value - previous;
        let (up, down) = if change > 0.0 {
            (change, 0.0)
        } else {
            (0.0, -change)
        };
        let n = self.period as f64;
        self.changes += 1;
        if self.changes <= self.period {
            // TA-Lib sums the first changes and divides once.
            self.gain += up;
            self.loss += down;
            if self.changes < self.period {
                return None;
            }
            self.gain /= n;
            self.loss /= n;
        } else {
            self.gain = (self.gain * (n - 1.0) + up) / n;
            self.loss = (self.loss * (n - 1.0) + down) / n;
        }
        Some(if self.gain + self.loss == 0.0 {
            // No movement at all: TA-Lib reports 0 rather than dividing by zero.
            0.0
        } else {
            100.0 * self.gain / (self.gain + self.loss)
        })
    }
}

/// Relative strength index with Wilder's smoothing (TA-Lib `RSI`), first defined at index
/// `n`.
pub fn rsi(values: &[f64], n: usize) -> Vec<Option<f64>> {
    if n == 0 {
        return vec![None; values.len()];
    }
    let mut state = WilderRsi::new(n);
    values.iter().map(|v| state.push(*v)).collect()
}

/// MACD line, signal line and histogram.
#[derive(Debug, Clone, PartialEq)]
pub struct Macd {
    pub macd: Vec<Option<f64>>,
    pub signal: Vec<Option<f64>>,
    pub histogram: Vec<Option<f64>>,
}

/// MACD as TA-Lib computes it: both EMAs start on the bar where the slow one can
/// (`slow − 1`), the fast one seeded with the average of its last `fast` closes there; the
/// signal EMA is seeded with the average of its first `signal` MACD values, and all three
/// outputs begin where the signal does.
pub fn macd(values: &[f64], fast: usize, slow: usize, signal: usize) -> Macd {
    let len = values.len();
    let empty = Macd {
        macd: vec![None; len],
        signal: vec![None; len],
        histogram: vec![None; len],
    };
    if fast == 0 || slow == 0 || signal == 0 || fast > slow || len < slow + signal - 1 {
        return empty;
    }
    let start = slow - 1;
    let slow_ema = ema_from(values, slow, 0);
    let fast_ema = ema_from(values, fast, start + 1 - fast);
    let line: Vec<Option<f64>> = (0..len)
        .map(|i| match (fast_ema[i], slow_ema[i]) {
            (Some(f), Some(s)) if i >= start => Some(f - s),
            _ => None,
        })
        .collect();
    let line_values: Vec<f64> = line[start..].iter().map(|v| v.unwrap_or(0.0)).collect();
    let signal_tail = ema_from(&line_values, signal, 0);
    let first = start + signal - 1;
    let mut out = empty;
    for i in first..len {
        let s = signal_tail[i - start];
        out.macd[i] = line[i];
        out.signal[i] = s;
        out.histogram[i] = match (line[i], s) {
            (Some(m), Some(s)) => Some(m - s),
            _ => None,
        };
    }
    out
}

/// Bollinger bands: the SMA ± `k` population standard deviations of the last `n` values.
#[derive(Debug, Clone, PartialEq)]
pub struct Bollinger {
    pub upper: Vec<Option<f64>>,
    pub middle: Vec<Option<f64>>,
    pub lower: Vec<Option<f64>>,
}

pub fn bollinger(values: &[f64], n: usize, k: f64) -> Bollinger {
    let middle = sma(values, n);
    let mut upper = vec![None; values.len()];
    let mut lower = vec![None; values.len()];
    for (i, mean) in middle.iter().enumerate() {
        if let Some(mean) = mean {
            let window = &values[i + 1 - n..=i];
            let variance = window.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64;
            let deviation = variance.sqrt();
            upper[i] = Some(mean + k * deviation);
            lower[i] = Some(mean - k * deviation);
        }
    }
    Bollinger {
        upper,
        middle,
        lower,
    }
}

/// Average true range with Wilder's smoothing (TA-Lib `ATR`): true ranges start at the second
/// bar, the first ATR (index `n`) averages the first `n` of them.
pub fn atr(high: &[f64], low: &[f64], close: &[f64], n: usize) -> Vec<Option<f64>> {
    let len = high.len().min(low.len()).min(close.len());
    let mut out = vec![None; len];
    if n == 0 || len <= n {
        return out;
    }
    let true_range = |i: usize| {
        let previous = close[i - 1];
        (high[i] - low[i])
            .max((high[i] - previous).abs())
            .max((low[i] - previous).abs())
    };
    let mut value: f64 = (1..=n).map(true_range).sum::<f64>() / n as f64;
    out[n] = Some(value);
    for (i, slot) in out.iter_mut().enumerate().skip(n + 1) {
        value = (value * (n as f64 - 1.0) + true_range(i)) / n as f64;
        *slot = Some(value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sma_of_a_ramp() {
        let out = sma(&[1.0, 2.0, 3.0, 4.0], 2);
        assert_eq!(out, vec![None, Some(1.5), Some(2.5), Some(3.5)]);
    }

    #[test]
    fn short_inputs_give_no_values() {
        assert!(rsi(&[1.0, 2.0], 14).iter().all(Option::is_none));
        assert!(macd(&[1.0; 20], 12, 26, 9).macd.iter().all(Option::is_none));
        assert!(atr(&[1.0], &[1.0], &[1.0], 14).iter().all(Option::is_none));
    }

    #[test]
    fn flat_prices_have_zero_rsi_and_zero_width_bands() {
        let flat = [5.0; 30];
        assert_eq!(rsi(&flat, 14)[20], Some(0.0));
        let bands = bollinger(&flat, 20, 2.0);
        assert_eq!(bands.upper[25], bands.lower[25]);
    }
}
