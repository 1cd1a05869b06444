//! The Probabilistic and the Deflated Sharpe Ratio.
//!
//! Everything here is per period (per bar): the Sharpe ratio, the benchmark Sharpe and the
//! trials' Sharpe ratios are *not* annualised, as the papers require (the formulas' √(n − 1)
//! counts periods). A probability has no annualised form.
//!
//! - **Sharpe ratio** `SR = mean / std`, std the sample standard deviation (n − 1), risk-free
//!   rate 0: the same number as `sharpe_ratio_simple / √periods_per_year` in `stats.rs`.
//! - **Skewness** γ₃ = m₃ / m₂^{3/2} and **kurtosis** γ₄ = m₄ / m₂² (raw, 3 for a normal
//!   distribution, *not* excess), m_k the k-th central sample moment with divisor n: the moment
//!   estimators of the paper's γ₃ and γ₄ (scipy's `skew(x)` and `kurtosis(x, fisher=False)`).
//! - **PSR** (Bailey & López de Prado 2012, "The Sharpe Ratio Efficient Frontier", Journal of
//!   Risk 15(2), §3, with the standard deviation of SR from §2, after Mertens 2002):
//!   `PSR(SR*) = Φ((SR − SR*)·√(n − 1) / √(1 − γ₃·SR + (γ₄ − 1)/4·SR²))`.
//! - **DSR** (Bailey & López de Prado 2014, "The Deflated Sharpe Ratio", Journal of Portfolio
//!   Management 40(5)): the PSR against
//!   `SR*₀ = √V[SR_n] · ((1 − γ)·Φ⁻¹(1 − 1/N) + γ·Φ⁻¹(1 − 1/(N·e)))`, the expected maximum
//!   Sharpe ratio of N trials without skill (the False Strategy theorem of Bailey, Borwein,
//!   López de Prado & Zhu 2014), γ the Euler–Mascheroni constant.

use super::normal::{normal_cdf, normal_quantile};
use super::{mean, sample_variance};

/// The Euler–Mascheroni constant γ.
const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

/// The sample statistics of a return series that the Sharpe ratio statistics need.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Moments {
    /// Number of returns.
    pub n: usize,
    pub mean: f64,
    /// Sample standard deviation (divisor n − 1).
    pub std: f64,
    /// γ₃ = m₃ / m₂^{3/2} (divisor n).
    pub skewness: f64,
    /// γ₄ = m₄ / m₂² (divisor n), raw: 3 for a normal distribution.
    pub kurtosis: f64,
}

impl Moments {
    /// `None` for fewer than 2 returns, a non-finite return, or zero variance.
    pub fn from_returns(returns: &[f64]) -> Option<Self> {
        let n = returns.len();
        if n < 2 || returns.iter().any(|r| !r.is_finite()) {
            return None;
        }
        let mean = mean(returns)?;
        let (mut m2, mut m3, mut m4) = (0.0, 0.0, 0.0);
        for &r in returns {
            let e = r - mean;
            let e2 = e * e;
            m2 += e2;
            m3 += e2 * e;
            m4 += e2 * e2;
        }
        let nf = n as f64;
        let (m2, m3, m4) = (m2 / nf, m3 / nf, m4 / nf);
        if m2 <= 0.0 {
            return None;
        }
        Some(Self {
            n,
            mean,
            std: (m2 * nf / (nf - 1.0)).sqrt(),
            skewness: m3 / m2.powf(1.5),
            kurtosis: m4 / (m2 * m2),
        })
    }

    /// The per-period Sharpe ratio, mean / std.
    pub fn sharpe(&self) -> f64 {
        self.mean / self.std
    }
}

/// The per-period Sharpe ratio of `returns` (mean / sample std, risk-free rate 0). `None` for
/// fewer than 2 returns or zero variance.
pub fn sharpe_ratio(returns: &[f64]) -> Option<f64> {
    let v = sample_variance(returns)?;
    (v > 0.0).then(|| mean(returns).map(|m| m / v.sqrt()))?
}

/// PSR(SR*): the probability that the true Sharpe ratio exceeds `benchmark`, given the observed
/// per-period `sharpe` over `n` returns with skewness `skewness` and raw kurtosis `kurtosis`
/// (Bailey & López de Prado 2012, §3). `None` if `n < 2`, an input is not finite, or the
/// variance term `1 − γ₃·SR + (γ₄ − 1)/4·SR²` is not positive (it is never negative for moments
/// of real data, since γ₄ ≥ 1 + γ₃², and zero only for a two-point distribution).
pub fn probabilistic_sharpe_ratio(
    sharpe: f64,
    benchmark: f64,
    n: usize,
    skewness: f64,
    kurtosis: f64,
) -> Option<f64> {
    if n < 2
        || ![sharpe, benchmark, skewness, kurtosis]
            .iter()
            .all(|x| x.is_finite())
    {
        return None;
    }
    let variance = 1.0 - skewness * sharpe + (kurtosis - 1.0) / 4.0 * sharpe * sharpe;
    if variance <= 0.0 {
        return None;
    }
    let z = (sharpe - benchmark) * ((n - 1) as f64).sqrt() / variance.sqrt();
    Some(normal_cdf(z))
}

/// PSR(`benchmark`) of a return series, with its own [`Moments`].
pub fn probabilistic_sharpe_ratio_of(returns: &[f64], benchmark: f64) -> Option<f64> {
    let m = Moments::from_returns(returns)?;
    probabilistic_sharpe_ratio(m.sharpe(), benchmark, m.n, m.skewness, m.kurtosis)
}

/// SR*₀, the expected maximum per-period Sharpe ratio of `trials` independent trials whose
/// Sharpe ratios have variance `variance` and no skill (Bailey & López de Prado 2014, the
/// DSR's benchmark). `None` for fewer than 2 trials or a negative or non-finite variance.
pub fn expected_max_sharpe(trials: usize, variance: f64) -> Option<f64> {
    if trials < 2 || !variance.is_finite() || variance < 0.0 {
        return None;
    }
    let n = trials as f64;
    let z = (1.0 - EULER_GAMMA) * normal_quantile(1.0 - 1.0 / n)?
        + EULER_GAMMA * normal_quantile(1.0 - 1.0 / (n * std::f64::consts::E))?;
    Some(variance.sqrt() * z)
}

/// The Deflated Sharpe Ratio and what went into it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Deflated {
    /// The selected strategy's per-period Sharpe ratio.
    pub sharpe: f64,
    /// N, the number of trials.
    pub trials: usize,
    /// V[SR_n], the variance of the trials' per-period Sharpe ratios.
    pub variance: f64,
    /// SR*₀, the expected maximum Sharpe ratio without skill.
    pub expected_max_sharpe: f64,
    /// DSR = PSR(SR*₀).
    pub dsr: f64,
}

/// The DSR of `returns` (the selected strategy's per-period returns) among `trial_sharpes`,
/// the per-period Sharpe ratios of every trial (the selected one included; N is their count
/// and V[SR_n] their sample variance, divisor N − 1). `None` when the PSR or SR*₀ is undefined
/// (fewer than 2 trials or returns, zero variance, a non-finite value).
pub fn deflated_sharpe_ratio(returns: &[f64], trial_sharpes: &[f64]) -> Option<Deflated> {
    if trial_sharpes.iter().any(|s| !s.is_finite()) {
        return None;
    }
    let variance = sample_variance(trial_sharpes)?;
    let m = Moments::from_returns(returns)?;
    deflated_sharpe_ratio_with(&m, trial_sharpes.len(), variance)
}

/// The DSR from the selected strategy's [`Moments`], N and V[SR_n] given directly.
pub fn deflated_sharpe_ratio_with(m: &Moments, trials: usize, variance: f64) -> Option<Deflated> {
    let sr0 = expected_max_sharpe(trials, variance)?;
    let sharpe = m.sharpe();
    let dsr = probabilistic_sharpe_ratio(sharpe, sr0, m.n, m.skewness, m.kurtosis)?;
    Some(Deflated {
        sharpe,
        trials,
        variance,
        expected_max_sharpe: sr0,
        dsr,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psr_reproduces_the_2012_papers_example() {
        // Bailey & López de Prado (2012): a monthly SR of 0.458 (annualised 1.59) over 24
        // months has PSR(0) = 0.982 for normal returns and 0.913 with γ₃ = −2.448,
        // γ₄ = 10.164.
        let normal = probabilistic_sharpe_ratio(0.458, 0.0, 24, 0.0, 3.0).expect("defined");
        assert_eq!((normal * 1000.0).round() / 1000.0, 0.982);
        let skewed = probabilistic_sharpe_ratio(0.458, 0.0, 24, -2.448, 10.164).expect("defined");
        assert_eq!((skewed * 1000.0).round() / 1000.0, 0.913);
    }

    #[test]
    fn dsr_reproduces_the_2014_papers_example() {
        // Bailey & López de Prado (2014), numerical example: N = 100 trials whose annualised
        // Sharpe ratios have variance 1/2, the best with annualised SR 2.5 over 5 years of
        // daily returns (T = 1250, 250 a year), γ₃ = −3, γ₄ = 10. The paper gets
        // SR*₀ ≈ 0.1132 (per day) and DSR ≈ 0.9004.
        let sr0 = expected_max_sharpe(100, 0.5 / 250.0).expect("defined");
        assert_eq!((sr0 * 10_000.0).round() / 10_000.0, 0.1132);
        let m = Moments {
            n: 1250,
            mean: 2.5 / 250f64.sqrt(),
            std: 1.0,
            skewness: -3.0,
            kurtosis: 10.0,
        };
        let d = deflated_sharpe_ratio_with(&m, 100, 0.5 / 250.0).expect("defined");
        assert_eq!((d.dsr * 10_000.0).round() / 10_000.0, 0.9004);
    }

    #[test]
    fn moments_of_a_small_sample() {
        // Hand-computed: x = 1, 2, 3, 10; mean 4; deviations −3, −2, −1, 6;
        // m2 = 50/4, m3 = (−27 − 8 − 1 + 216)/4 = 45, m4 = (81 + 16 + 1 + 1296)/4 = 348.5.
        let m = Moments::from_returns(&[1.0, 2.0, 3.0, 10.0]).expect("defined");
        assert_eq!(m.mean, 4.0);
        assert!((m.std - (50.0f64 / 3.0).sqrt()).abs() < 1e-15);
        assert!((m.skewness - 45.0 / 12.5f64.powf(1.5)).abs() < 1e-15);
        assert!((m.kurtosis - 348.5 / 156.25).abs() < 1e-15);
        assert!(Moments::from_returns(&[1.0]).is_none());
        assert!(Moments::from_returns(&[2.0, 2.0, 2.0]).is_none());
        assert!(Moments::from_returns(&[1.0, f64::NAN]).is_none());
        assert_eq!(sharpe_ratio(&[1.0, 2.0, 3.0, 10.0]), Some(m.sharpe()));
        assert_eq!(sharpe_ratio(&[0.0, 0.0]), None);
    }

    #[test]
    fn degenerate_inputs_give_none() {
        assert!(probabilistic_sharpe_ratio(0.1, 0.0, 1, 0.0, 3.0).is_none());
        assert!(probabilistic_sharpe_ratio(f64::NAN, 0.0, 10, 0.0, 3.0).is_none());
        // γ₄ < 1 + γ₃² cannot come from data; the variance term is negative here.
        assert!(probabilistic_sharpe_ratio(1.0, 0.0, 10, 3.0, 1.0).is_none());
        assert!(expected_max_sharpe(1, 0.5).is_none());
        assert!(expected_max_sharpe(10, -0.1).is_none());
        assert_eq!(expected_max_sharpe(10, 0.0), Some(0.0));
        let r = [0.01, -0.02, 0.03, 0.0, 0.01];
        assert!(deflated_sharpe_ratio(&r, &[0.1]).is_none());
        assert!(deflated_sharpe_ratio(&r, &[0.1, f64::NAN]).is_none());
        assert!(deflated_sharpe_ratio(&[0.0; 5], &[0.1, 0.2]).is_none());
    }

    #[test]
    fn more_trials_deflate_more() {
        let r: Vec<f64> = (0..500)
            .map(|i| 0.001 + 0.01 * ((i * 7919 % 101) as f64 / 50.0 - 1.0))
            .collect();
        let m = Moments::from_returns(&r).expect("defined");
        let few = deflated_sharpe_ratio_with(&m, 5, 0.001).expect("defined");
        let many = deflated_sharpe_ratio_with(&m, 500, 0.001).expect("defined");
        assert!(many.expected_max_sharpe > few.expected_max_sharpe);
        assert!(many.dsr < few.dsr);
        let psr0 = probabilistic_sharpe_ratio_of(&r, 0.0).expect("defined");
        assert!(few.dsr < psr0);
    }
}
