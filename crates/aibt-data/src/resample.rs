//! A series turned into a coarser one: minute bars into hourly or daily bars, hourly into
//! daily. A bucket's bar opens at its first bar's open, closes at its last bar's close, has the
//! highest high and the lowest low, and the summed volume (pandas'
//! `resample(rule, closed="left", label="left").agg(first, max, min, last, sum)`, the fixtures'
//! reference). A bucket with no bar is left out, never invented.
//!
//! Buckets follow the clock of a time zone, UTC unless one is named: an hour starts at a whole
//! hour there (at :30 UTC in India), a day at its midnight. An hourly bar is stored at the
//! instant its hour began; a daily bar at 00:00 UTC of its date in that zone, as aibt stores the
//! dates of a daily file, so that a day of Shanghai trading is that Shanghai date.

use aibt_core::{Bar, TimeGranularity};
use chrono::{DateTime, NaiveDate, Offset, TimeZone, Utc};
use chrono_tz::Tz;

/// Why a series cannot be resampled as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResampleError {
    #[error(
        "time_granularity: {from} bars cannot become {to} bars: the target must be coarser (minute → hourly → daily)"
    )]
    NotCoarser {
        from: TimeGranularity,
        to: TimeGranularity,
    },
    #[error(
        "time_zone: {0:?} is not a time zone of the IANA database (e.g. UTC, America/New_York, Asia/Shanghai)"
    )]
    UnknownZone(String),
    #[error("the bars at {at} do not make a valid {to} bar: {reason}")]
    Bar {
        at: DateTime<Utc>,
        to: TimeGranularity,
        reason: String,
    },
}

/// Reads an IANA time zone name (`Asia/Shanghai`); `UTC` when absent or empty.
pub fn parse_zone(name: Option<&str>) -> Result<Tz, ResampleError> {
    match name.map(str::trim).filter(|n| !n.is_empty()) {
        None => Ok(Tz::UTC),
        Some(name) => name
            .parse::<Tz>()
            .map_err(|_| ResampleError::UnknownZone(name.to_string())),
    }
}

fn rank(granularity: TimeGranularity) -> u8 {
    match granularity {
        TimeGranularity::Minute => 0,
        TimeGranularity::Hourly => 1,
        TimeGranularity::Daily => 2,
    }
}

/// The bucket a bar falls in, as the time the coarser bar is stored at.
fn bucket(ts: DateTime<Utc>, to: TimeGranularity, zone: Tz) -> DateTime<Utc> {
    let local = zone.from_utc_datetime(&ts.naive_utc());
    match to {
        TimeGranularity::Daily => start_of(local.date_naive()),
        // The offset in force at the bar: around a change of clocks the two hours that share
        // a local name are still two buckets.
        _ => {
            let offset = i64::from(local.offset().fix().local_minus_utc());
            let seconds = ts.timestamp();
            let into_hour = (seconds + offset).rem_euclid(3600);
            let granule = match to {
                TimeGranularity::Minute => (seconds + offset).rem_euclid(60),
                _ => into_hour,
            };
            Utc.timestamp_opt(seconds - granule, 0)
                .single()
                .unwrap_or(ts)
        }
    }
}

fn start_of(date: NaiveDate) -> DateTime<Utc> {
    aibt_core::time::start_of_day(date)
}

/// `bars` (ascending, of granularity `from`) as bars of `to`, buckets in `zone`.
pub fn resample(
    bars: &[Bar],
    from: TimeGranularity,
    to: TimeGranularity,
    zone: Tz,
) -> Result<Vec<Bar>, ResampleError> {
    if rank(to) <= rank(from) {
        return Err(ResampleError::NotCoarser { from, to });
    }
    let mut out: Vec<Bar> = Vec::new();
    let mut current: Option<(DateTime<Utc>, Bar)> = None;
    for bar in bars {
        let key = bucket(bar.ts, to, zone);
        current = Some(match current.take() {
            Some((open_key, mut acc)) if open_key == key => {
                acc.high = acc.high.max(bar.high);
                acc.low = acc.low.min(bar.low);
                acc.close = bar.close;
                acc.volume =
                    acc.volume
                        .checked_add(bar.volume)
                        .map_err(|e| ResampleError::Bar {
                            at: key,
                            to,
                            reason: e.to_string(),
                        })?;
                (open_key, acc)
            }
            previous => {
                if let Some((_, done)) = previous {
                    out.push(done);
                }
                let mut first = *bar;
                first.ts = key;
                (key, first)
            }
        });
    }
    if let Some((_, done)) = current {
        out.push(done);
    }
    // Each bar is checked again as a whole, as an imported one would be.
    out.into_iter()
        .map(|b| {
            Bar::new(b.ts, b.open, b.high, b.low, b.close, b.volume).map_err(|e| {
                ResampleError::Bar {
                    at: b.ts,
                    to,
                    reason: e.reason,
                }
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aibt_core::{Money, Quantity};

    fn bar(ts: &str, o: &str, h: &str, l: &str, c: &str, v: &str) -> Bar {
        Bar::new(
            aibt_core::time::parse_timestamp(ts).unwrap(),
            Money::parse(o).unwrap(),
            Money::parse(h).unwrap(),
            Money::parse(l).unwrap(),
            Money::parse(c).unwrap(),
            Quantity::parse(v).unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn a_bucket_takes_first_open_extremes_last_close_and_summed_volume() {
        let bars = [
            bar("2024-01-02T09:00:00Z", "10", "11", "9", "10.5", "1.5"),
            bar("2024-01-02T09:30:00Z", "10.5", "12", "10", "11", "2.25"),
            bar("2024-01-02T11:59:00Z", "11", "11", "8", "9", "1"),
        ];
        let hourly = resample(
            &bars,
            TimeGranularity::Minute,
            TimeGranularity::Hourly,
            Tz::UTC,
        )
        .unwrap();
        assert_eq!(hourly.len(), 2, "the empty 10:00 hour is left out");
        assert_eq!(
            hourly[0],
            bar("2024-01-02T09:00:00Z", "10", "12", "9", "11", "3.75")
        );
        assert_eq!(hourly[1].ts.to_rfc3339(), "2024-01-02T11:00:00+00:00");
    }

    #[test]
    fn zones_move_hours_and_days() {
        let bars = [
            bar("2024-01-02T15:59:00Z", "1", "1", "1", "1", "1"),
            bar("2024-01-02T16:00:00Z", "2", "2", "2", "2", "1"),
        ];
        let shanghai = parse_zone(Some("Asia/Shanghai")).unwrap();
        let daily = resample(
            &bars,
            TimeGranularity::Minute,
            TimeGranularity::Daily,
            shanghai,
        )
        .unwrap();
        let days: Vec<String> = daily.iter().map(|b| b.ts.to_rfc3339()).collect();
        assert_eq!(
            days,
            ["2024-01-02T00:00:00+00:00", "2024-01-03T00:00:00+00:00"]
        );
        let kolkata = parse_zone(Some("Asia/Kolkata")).unwrap();
        let hourly = resample(
            &bars,
            TimeGranularity::Minute,
            TimeGranularity::Hourly,
            kolkata,
        )
        .unwrap();
        assert_eq!(hourly.len(), 1);
        assert_eq!(hourly[0].ts.to_rfc3339(), "2024-01-02T15:30:00+00:00");
    }

    #[test]
    fn only_coarser_targets_and_known_zones_are_accepted() {
        assert!(matches!(
            resample(
                &[],
                TimeGranularity::Daily,
                TimeGranularity::Hourly,
                Tz::UTC
            ),
            Err(ResampleError::NotCoarser { .. })
        ));
        assert!(
            resample(
                &[],
                TimeGranularity::Hourly,
                TimeGranularity::Hourly,
                Tz::UTC
            )
            .is_err()
        );
        assert_eq!(parse_zone(None).unwrap(), Tz::UTC);
        let err = parse_zone(Some("Mars/Olympus")).unwrap_err();
        assert!(err.to_string().contains("Mars/Olympus"), "{err}");
    }
}
