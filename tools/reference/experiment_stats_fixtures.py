#!/usr/bin/env python3
"""Reference values for aibt's experiment statistics (crates/aibt-core/src/experiment/).

Every number comes from a published package or a paper, never from aibt:

- arch 8.0.0: ``optimal_block_length`` (Politis & White 2004 with the Patton, Politis & White
  2009 correction) and ``StationaryBootstrap`` (Politis & Romano 1994), B = 20,000, seeded;
- scipy: skewness, kurtosis, ``special.ndtr`` / ``special.ndtri`` / ``special.erfc``,
  ``stats.percentileofscore``; mpmath (50 digits and more) for the exact normal values;
- quantstats: ``stats.probabilistic_sharpe_ratio`` (Bailey & Lopez de Prado 2012);
- the PSR and DSR formulas transcribed from the papers with scipy's normal distribution, and
  checked here against the papers' own worked examples.

Input: daily closes of crates/aibt-data/sample/GOOG_1d.csv and SPY_1d.csv. A long/flat
SMA(fast, slow) crossover strategy (long from the close after SMA(fast) > SMA(slow), flat
otherwise; no costs) against buy-and-hold of the same symbol; per-bar close-to-close returns.

Output: crates/aibt-core/tests/fixtures/experiment_stats.json (paths relative to this file).

    /root/.cache/aibt/pystats/bin/python tools/reference/experiment_stats_fixtures.py
"""
from __future__ import annotations

import csv
import json
import math
import platform
import sys
from importlib.metadata import version
from pathlib import Path

import mpmath
import numpy as np
import pandas as pd
import scipy
import scipy.special
import scipy.stats
from arch.bootstrap import StationaryBootstrap, optimal_block_length

import quantstats as qs

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
SAMPLE = REPO / "crates" / "aibt-data" / "sample"
OUTPUT = REPO / "crates" / "aibt-core" / "tests" / "fixtures" / "experiment_stats.json"

PERIODS_PER_YEAR = 252
RESAMPLES = 20_000
SEED = 20_260_601
CONFIDENCE = 0.95
EULER_GAMMA = float(np.euler_gamma)


def closes(symbol):
    with open(SAMPLE / f"{symbol}_1d.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    # float() of the decimal text is the nearest double, as Rust's str::parse::<f64> gives.
    return [r["timestamp"] for r in rows], np.array([float(r["close"]) for r in rows])


def sma_long_flat(close, fast, slow):
    """Per-bar returns of the strategy and of buy-and-hold, bar t = close[t]/close[t-1] - 1."""
    c = pd.Series(close)
    f = c.rolling(fast).mean().to_numpy()
    s = c.rolling(slow).mean().to_numpy()
    long = np.where(np.isnan(s), 0.0, (f > s).astype(float))
    bench = close[1:] / close[:-1] - 1.0
    strat = long[:-1] * bench
    return strat, bench


def sharpe(x):
    return float(np.mean(x) / np.std(x, ddof=1))


def moments(x):
    """The paper's gamma_3 and gamma_4 (raw) as moment estimators: scipy with bias=True."""
    return {
        "n": len(x),
        "mean": float(np.mean(x)),
        "std": float(np.std(x, ddof=1)),
        "sharpe": sharpe(x),
        "skewness": float(scipy.stats.skew(x, bias=True)),
        "kurtosis": float(scipy.stats.kurtosis(x, fisher=False, bias=True)),
    }


def psr(sr, sr_star, n, skew, kurt):
    """Bailey & Lopez de Prado (2012), section 3, transcribed."""
    return float(scipy.stats.norm.cdf(
        (sr - sr_star) * math.sqrt(n - 1) / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr**2)))


def expected_max_sharpe(trials, variance):
    """Bailey & Lopez de Prado (2014): SR*_0."""
    n = trials
    return float(math.sqrt(variance) * (
        (1 - EULER_GAMMA) * scipy.stats.norm.ppf(1 - 1 / n)
        + EULER_GAMMA * scipy.stats.norm.ppf(1 - 1 / (n * math.e))))


def paper_examples():
    # Bailey & Lopez de Prado (2012): monthly SR 0.458 over 24 months.
    normal = psr(0.458, 0.0, 24, 0.0, 3.0)
    skewed = psr(0.458, 0.0, 24, -2.448, 10.164)
    assert round(normal, 3) == 0.982 and round(skewed, 3) == 0.913, (normal, skewed)
    # Bailey & Lopez de Prado (2014): N = 100, V = 1/2 annualised, SR 2.5 annualised,
    # T = 1250 daily (250 a year), skew -3, kurtosis 10 -> SR*_0 ~ 0.1132, DSR ~ 0.9004.
    sr0 = expected_max_sharpe(100, 0.5 / 250)
    dsr = psr(2.5 / math.sqrt(250), sr0, 1250, -3.0, 10.0)
    assert round(sr0, 4) == 0.1132 and round(dsr, 4) == 0.9004, (sr0, dsr)
    return {
        "psr_2012": [
            {"sharpe": 0.458, "n": 24, "skewness": 0.0, "kurtosis": 3.0, "benchmark": 0.0,
             "paper": 0.982, "scipy": normal},
            {"sharpe": 0.458, "n": 24, "skewness": -2.448, "kurtosis": 10.164,
             "benchmark": 0.0, "paper": 0.913, "scipy": skewed},
        ],
        "dsr_2014": {
            "trials": 100, "variance": 0.5 / 250, "sharpe": 2.5 / math.sqrt(250), "n": 1250,
            "skewness": -3.0, "kurtosis": 10.0, "paper_expected_max_sharpe": 0.1132,
            "paper_dsr": 0.9004, "scipy_expected_max_sharpe": sr0, "scipy_dsr": dsr,
        },
    }


def bootstrap_case(name, series, strat, bench, block_length):
    """arch's stationary bootstrap of the pair: our statistics, B resamples, seeded."""
    sq = math.sqrt(PERIODS_PER_YEAR)

    def stats(s, b):
        return np.array([PERIODS_PER_YEAR * (np.mean(s) - np.mean(b)),
                         sq * (sharpe(s) - sharpe(b))])

    bs = StationaryBootstrap(block_length, strat, bench, seed=np.random.default_rng(SEED))
    draws = bs.apply(stats, RESAMPLES)
    assert np.isfinite(draws).all()
    estimate = stats(strat, bench)
    alpha = 1 - CONFIDENCE
    # arch's own percentile interval from the same draws (same seed) must be the same numbers.
    bs2 = StationaryBootstrap(block_length, strat, bench, seed=np.random.default_rng(SEED))
    ci = bs2.conf_int(stats, RESAMPLES, method="percentile", size=CONFIDENCE)
    out = {"name": name, "series": series, "block_length": float(block_length),
           "resamples": RESAMPLES, "seed": SEED, "confidence": CONFIDENCE}
    for j, key in enumerate(["mean_difference", "sharpe_difference"]):
        d = draws[:, j]
        lo, hi = np.percentile(d, [100 * alpha / 2, 100 * (1 - alpha / 2)])
        assert math.isclose(lo, ci[0, j], rel_tol=1e-12) and math.isclose(hi, ci[1, j], rel_tol=1e-12)
        extreme = np.sum(np.abs(d - estimate[j]) >= abs(estimate[j]))
        out[key] = {
            "estimate": float(estimate[j]),
            "std_error": float(np.std(d, ddof=1)),
            "low": float(lo),
            "high": float(hi),
            "p_value": float((1 + extreme) / (RESAMPLES + 1)),
        }
    return out


def block_lengths(named):
    """Each entry names its input: a series column, the strategy minus the benchmark of a
    series ("difference"), or values given inline (synthetic)."""
    out = []
    for entry, x in named:
        b = optimal_block_length(np.asarray(x))
        out.append({**entry, "stationary": float(b["stationary"].iloc[0])})
    return out


def normal_values():
    mpmath.mp.dps = 50
    zs = [-37.0, -30.0, -20.0, -10.0, -8.3, -5.0, -3.0, -1.96, -1.5, -1.0, -0.5, -1e-8, 0.0,
          1e-8, 0.3, 1.0, 1.7, 2.5, 4.0, 8.0, 9.0]
    cdf = [{"z": z, "scipy": float(scipy.special.ndtr(z)), "mpmath": float(mpmath.ncdf(z))}
           for z in zs]
    xs = [0.0, 1e-6, 0.5, 1.0, 1.2, 1.3, 2.0, 3.5, 5.0, 10.0, 20.0, 26.0]
    erfc = [{"x": x, "scipy": float(scipy.special.erfc(x)), "mpmath": float(mpmath.erfc(x))}
            for x in xs]
    ps = [1e-300, 1e-100, 1e-20, 1e-10, 1e-5, 0.001, 0.02, 0.02425, 0.1, 0.3, 0.4999, 0.5,
          0.7, 0.9, 0.97575, 0.99, 0.999999, 1 - 1e-12]
    quantile = []
    for p in ps:
        mpmath.mp.dps = 400
        mp = mpmath.mpf(p)
        exact = -mpmath.sqrt(2) * mpmath.erfinv(1 - 2 * mp)
        quantile.append({"p": p, "scipy": float(scipy.special.ndtri(p)), "mpmath": float(exact)})
    mpmath.mp.dps = 50
    return {"cdf": cdf, "erfc": erfc, "quantile": quantile}


def sharpe_section(goog_ts):
    """PSR of the GOOG SMA(10, 20) strategy (series "goog_sma_10_20"); DSR of the best of 12
    SMA trials (its returns inline)."""
    ts_g, c_g = goog_ts
    out = {}
    strat, _ = sma_long_flat(c_g, 10, 20)
    m = moments(strat)
    index = pd.DatetimeIndex(pd.to_datetime(ts_g[1:]))
    series = pd.Series(strat, index=index)
    qs_psr = float(qs.stats.probabilistic_sharpe_ratio(series))
    qs_sr = float(qs.stats.sharpe(series, annualize=False))
    qs_skew = float(qs.stats.skew(series, prepare_returns=False))
    qs_kurt = float(qs.stats.kurtosis(series, prepare_returns=False)) + 3
    # quantstats' PSR is the paper formula on its own (bias-corrected) moments.
    assert math.isclose(qs_psr, psr(qs_sr, 0.0, len(strat), qs_skew, qs_kurt), rel_tol=1e-14)
    out["psr"] = {
        "series": "goog_sma_10_20",
        "moments": m,
        "psr_0": psr(m["sharpe"], 0.0, m["n"], m["skewness"], m["kurtosis"]),
        "psr_0_02": psr(m["sharpe"], 0.02, m["n"], m["skewness"], m["kurtosis"]),
        "quantstats": {"psr": qs_psr, "sharpe": qs_sr, "skewness": qs_skew,
                       "kurtosis": qs_kurt, "n": len(strat)},
    }
    # DSR: 12 SMA crossover trials on GOOG; the best by Sharpe ratio is the selected one.
    trials = []
    for fast in (5, 10, 20):
        for slow in (30, 50, 100, 200):
            s, _ = sma_long_flat(c_g, fast, slow)
            trials.append((fast, slow, s))
    srs = [sharpe(s) for _, _, s in trials]
    best = int(np.argmax(srs))
    selected = trials[best][2]
    sm = moments(selected)
    variance = float(np.var(srs, ddof=1))
    sr0 = expected_max_sharpe(len(srs), variance)
    out["dsr"] = {
        "trials": [{"fast": f, "slow": s, "sharpe": sr} for (f, s, _), sr in zip(trials, srs)],
        "selected": {"fast": trials[best][0], "slow": trials[best][1]},
        "returns": [float(x) for x in selected],
        "moments": sm,
        "variance": variance,
        "expected_max_sharpe": sr0,
        "dsr": psr(sm["sharpe"], sr0, sm["n"], sm["skewness"], sm["kurtosis"]),
    }
    return out


def percentile_ranks():
    pop = np.round(np.random.default_rng(3).normal(0.0, 0.1, 50), 2)
    scores = [-0.05, 0.0, 0.02, float(pop.min()), float(pop.max()), float(pop[7]), 1.0, -1.0]
    return {"population": [float(x) for x in pop],
            "ranks": [{"score": s, "scipy": float(scipy.stats.percentileofscore(pop, s, kind="mean"))}
                      for s in scores]}


def repeats():
    values = [0.1523, -0.0412, 0.0875, 0.2031, 0.0875]
    v = np.array(values)
    return {"values": values, "mean": float(v.mean()), "min": float(v.min()),
            "max": float(v.max()), "std": float(v.std(ddof=1))}


def dump(value, indent=0):
    """JSON with one key per line but each list of numbers on one line (floats repr-exact)."""
    pad = " " * indent
    if isinstance(value, dict):
        items = [f'{pad} {json.dumps(k)}: {dump(v, indent + 1).lstrip()}' for k, v in value.items()]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if isinstance(value, list) and not all(isinstance(v, (int, float)) for v in value):
        items = [pad + " " + dump(v, indent + 1).lstrip() for v in value]
        return "[\n" + ",\n".join(items) + f"\n{pad}]"
    return json.dumps(value, allow_nan=False)


def main():
    goog = closes("GOOG")
    spy = closes("SPY")
    g_s, g_b = sma_long_flat(goog[1], 10, 20)
    spy_close = spy[1][-2501:]
    s_s, s_b = sma_long_flat(spy_close, 10, 20)
    rng = np.random.default_rng(1)
    e = rng.standard_normal(1000)
    ar = np.empty(1000)
    ar[0] = e[0]
    for t in range(1, 1000):
        ar[t] = 0.6 * ar[t - 1] + e[t]
    white = np.random.default_rng(2).standard_normal(1500)

    b_goog = float(optimal_block_length(g_s - g_b)["stationary"].iloc[0])
    b_spy = float(optimal_block_length(s_s - s_b)["stationary"].iloc[0])
    fixture = {
        "generator": "tools/reference/experiment_stats_fixtures.py",
        "versions": {"python": platform.python_version(), "numpy": np.__version__,
                     "scipy": scipy.__version__, "pandas": pd.__version__,
                     "arch": version("arch"), "quantstats": version("quantstats"),
                     "mpmath": mpmath.__version__},
        "periods_per_year": PERIODS_PER_YEAR,
        "series": {
            "goog_sma_10_20": {
                "about": "GOOG_1d.csv, all bars: SMA(10)/SMA(20) long/flat vs buy-and-hold",
                "strategy": [float(x) for x in g_s], "benchmark": [float(x) for x in g_b]},
            "spy_sma_10_20": {
                "about": "SPY_1d.csv, last 2,501 closes: SMA(10)/SMA(20) long/flat vs buy-and-hold",
                "strategy": [float(x) for x in s_s], "benchmark": [float(x) for x in s_b]},
        },
        "block_length": block_lengths([
            ({"series": "goog_sma_10_20", "column": "difference"}, g_s - g_b),
            ({"series": "goog_sma_10_20", "column": "strategy"}, g_s),
            ({"series": "goog_sma_10_20", "column": "benchmark"}, g_b),
            ({"series": "spy_sma_10_20", "column": "difference"}, s_s - s_b),
            ({"name": "ar1_phi_0_6", "values": [float(v) for v in ar]}, ar),
            ({"name": "white_noise", "values": [float(v) for v in white]}, white),
        ]),
        "bootstrap": [
            bootstrap_case("goog automatic", "goog_sma_10_20", g_s, g_b, max(b_goog, 1.0)),
            bootstrap_case("spy automatic", "spy_sma_10_20", s_s, s_b, max(b_spy, 1.0)),
            bootstrap_case("goog fixed 25", "goog_sma_10_20", g_s, g_b, 25.0),
            bootstrap_case("spy fixed 4", "spy_sma_10_20", s_s, s_b, 4.0),
        ],
        "sharpe": sharpe_section(goog),
        "papers": paper_examples(),
        "normal": normal_values(),
        "percentile_rank": percentile_ranks(),
        "repeats": repeats(),
    }
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    with open(OUTPUT, "w") as f:
        f.write(dump(fixture))
    OUTPUT.write_text(OUTPUT.read_text() + "\n")
    print(f"{OUTPUT.relative_to(REPO)}: block lengths GOOG {b_goog:.4f}, SPY {b_spy:.4f}; "
          f"DSR {fixture['sharpe']['dsr']['dsr']:.6f}; PSR(0) {fixture['sharpe']['psr']['psr_0']:.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
