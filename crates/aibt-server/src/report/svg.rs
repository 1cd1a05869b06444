//! Charts drawn on the server as inline SVG, so that a report needs no script and nothing
//! beside it, and prints as sharply as its text: lines over time (equity against buy-and-hold,
//! a drawdown filled down from zero) and horizontal ranges (each variant's return with its
//! min–max, against buy-and-hold and the random runs' spread).

use std::fmt::Write;

use chrono::{DateTime, Utc};

/// Colours of lines and bars, in order.
pub const PALETTE: &[&str] = &[
    "#2563eb", "#ea580c", "#16a34a", "#9333ea", "#0891b2", "#db2777", "#ca8a04", "#4b5563",
];
/// Buy-and-hold's colour.
pub const HOLD: &str = "#6b7280";
const DOWN: &str = "#dc2626";

const WIDTH: f64 = 960.0;
const TEXT: &str = "#374151";
const GRID: &str = "#e5e7eb";

/// Text as it may stand inside an SVG element or attribute.
fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// About how wide a label is drawn at 12px (CJK characters are about twice as wide).
fn text_width(text: &str) -> f64 {
    text.chars()
        .map(|c| if c.is_ascii() { 6.8 } else { 12.5 })
        .sum()
}

/// Round ticks (steps of 1, 2 or 5 times a power of ten) inside `low..high`, about `count`.
fn ticks(low: f64, high: f64, count: usize) -> Vec<f64> {
    let span = high - low;
    if !span.is_finite() || span <= 0.0 {
        return vec![low];
    }
    let raw = span / count.max(1) as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    // The round step nearest to the raw one (by ratio), so that about `count` ticks show.
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .min_by(|a, b| {
            let off = |s: &f64| (s / raw).ln().abs();
            off(a).total_cmp(&off(b))
        })
        .unwrap_or(magnitude);
    let first = (low / step).ceil() as i64;
    let last = (high / step).floor() as i64;
    (first..=last).map(|i| i as f64 * step + 0.0).collect()
}

/// The labels of a set of ticks: as many decimals as their step needs, thousands as `k` and
/// millions as `M` when the axis reaches them.
fn tick_labels(ticks: &[f64], unit: &str) -> Vec<String> {
    let step = match ticks {
        [a, b, ..] => (b - a).abs(),
        _ => 1.0,
    };
    let top = ticks.iter().fold(0.0f64, |m, t| m.max(t.abs()));
    let (scale, suffix) = if top >= 1e6 {
        (1e6, "M")
    } else if top >= 1e4 {
        (1e3, "k")
    } else {
        (1.0, "")
    };
    let scaled = step / scale;
    let places = if scaled >= 1.0 {
        0
    } else if scaled >= 0.1 {
        1
    } else {
        2
    };
    ticks
        .iter()
        .map(|t| format!("{:.*}{suffix}{unit}", places, t / scale + 0.0))
        .collect()
}

/// A time axis label, as precise as the span needs.
fn time_label(ts: i64, span_seconds: i64) -> String {
    let Some(time) = DateTime::<Utc>::from_timestamp(ts, 0) else {
        return String::new();
    };
    let format = if span_seconds > 2 * 365 * 86_400 {
        "%Y-%m"
    } else if span_seconds > 3 * 86_400 {
        "%Y-%m-%d"
    } else {
        "%m-%d %H:%M"
    };
    time.format(format).to_string()
}

/// A line of a chart over time.
pub struct Line {
    pub label: String,
    pub color: &'static str,
    pub dashed: bool,
    /// (unix seconds, value), oldest first.
    pub points: Vec<(i64, f64)>,
}

/// The legend across the top: a swatch and a label each.
fn legend(svg: &mut String, entries: &[(String, &str, bool)], left: f64) {
    let mut x = left;
    for (label, color, dashed) in entries {
        let dash = if *dashed {
            " stroke-dasharray=\"5 3\""
        } else {
            ""
        };
        let _ = write!(
            svg,
            r#"<line x1="{x:.1}" y1="12" x2="{:.1}" y2="12" stroke="{color}" stroke-width="3"{dash}/><text x="{:.1}" y="16">{}</text>"#,
            x + 18.0,
            x + 23.0,
            esc(label)
        );
        x += 23.0 + text_width(label) + 18.0;
    }
}

fn open(height: f64, title: &str) -> String {
    format!(
        r#"<svg class="chart" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" aria-label="{}" font-family="system-ui, sans-serif" font-size="12" fill="{TEXT}">"#,
        esc(title)
    )
}

/// Lines over time with a value axis (`unit` after each tick, `%` say); with `fill_to_zero`
/// the first line's area down (or up) to zero is shaded, as a drawdown is drawn.
pub fn line_chart(title: &str, lines: &[Line], unit: &str, fill_to_zero: bool) -> String {
    let all = || lines.iter().flat_map(|l| l.points.iter());
    let (Some(t0), Some(t1)) = (all().map(|p| p.0).min(), all().map(|p| p.0).max()) else {
        return String::new();
    };
    let mut low = all().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let mut high = all().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    if fill_to_zero {
        low = low.min(0.0);
        high = high.max(0.0);
    }
    if high - low < 1e-9 {
        (low, high) = (low - 1.0, high + 1.0);
    }
    let pad = (high - low) * 0.05;
    let (low, high) = (low - pad, high + pad);
    let height = if fill_to_zero { 200.0 } else { 300.0 };
    let (left, right, top, bottom) = (64.0, WIDTH - 16.0, 28.0, height - 26.0);
    let span = (t1 - t0).max(1);
    let x = |t: i64| left + (t - t0) as f64 / span as f64 * (right - left);
    let y = |v: f64| bottom - (v - low) / (high - low) * (bottom - top);
    let mut svg = open(height, title);
    let value_ticks = ticks(low, high, 5);
    for (tick, label) in value_ticks.iter().zip(tick_labels(&value_ticks, unit)) {
        let _ = write!(
            svg,
            r#"<line x1="{left}" y1="{0:.1}" x2="{right}" y2="{0:.1}" stroke="{GRID}"/><text x="{1}" y="{2:.1}" text-anchor="end">{label}</text>"#,
            y(*tick),
            left - 6.0,
            y(*tick) + 4.0,
        );
    }
    for i in 0..=5 {
        let t = t0 + span * i / 5;
        let anchor = match i {
            0 => "start",
            5 => "end",
            _ => "middle",
        };
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{}" text-anchor="{anchor}">{}</text>"#,
            x(t),
            height - 8.0,
            time_label(t, span)
        );
    }
    let _ = write!(
        svg,
        r#"<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="{TEXT}"/>"#
    );
    for (i, line) in lines.iter().enumerate() {
        let path: Vec<String> = line
            .points
            .iter()
            .map(|&(t, v)| format!("{:.1},{:.1}", x(t), y(v)))
            .collect();
        if path.is_empty() {
            continue;
        }
        if fill_to_zero && i == 0 {
            let (first, last) = (line.points[0].0, line.points[line.points.len() - 1].0);
            let _ = write!(
                svg,
                r#"<polygon points="{:.1},{zero:.1} {} {:.1},{zero:.1}" fill="{}" fill-opacity="0.25"/>"#,
                x(first),
                path.join(" "),
                x(last),
                line.color,
                zero = y(0.0),
            );
        }
        let dash = if line.dashed {
            r#" stroke-dasharray="6 4""#
        } else {
            ""
        };
        let _ = write!(
            svg,
            r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="{}" stroke-linejoin="round"{dash}/>"#,
            path.join(" "),
            line.color,
            if line.dashed { 1.5 } else { 2.0 },
        );
    }
    let entries: Vec<_> = lines
        .iter()
        .map(|l| (l.label.clone(), l.color, l.dashed))
        .collect();
    legend(&mut svg, &entries, left);
    svg.push_str("</svg>");
    svg
}

/// A drawdown line: how far below its running peak each point of `equity` is, in percent.
pub fn drawdown(equity: &[(i64, f64)]) -> Vec<(i64, f64)> {
    let mut peak = f64::NEG_INFINITY;
    equity
        .iter()
        .map(|&(t, v)| {
            peak = peak.max(v);
            (
                t,
                if peak > 0.0 {
                    (v / peak - 1.0) * 100.0
                } else {
                    0.0
                },
            )
        })
        .collect()
}

/// One variant's spread: its mean with a whisker from its min to its max.
pub struct Range {
    pub label: String,
    pub color: &'static str,
    pub mean: f64,
    pub min: f64,
    pub max: f64,
}

/// A value marked across every row (buy-and-hold's return).
pub struct Mark {
    pub label: String,
    pub value: f64,
}

/// A span shaded behind every row (the random runs' min–max), with its mean.
pub struct Band {
    pub label: String,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
}

/// Each variant's return as a bar from zero to its mean with a min–max whisker, against a
/// mark and a band, on one axis (`unit` after each tick).
pub fn range_chart(
    title: &str,
    rows: &[Range],
    mark: Option<&Mark>,
    band: Option<&Band>,
    unit: &str,
) -> String {
    if rows.is_empty() {
        return String::new();
    }
    let mut values: Vec<f64> = vec![0.0];
    values.extend(rows.iter().flat_map(|r| [r.min, r.max, r.mean]));
    values.extend(mark.map(|m| m.value));
    values.extend(band.iter().flat_map(|b| [b.min, b.max]));
    let low = values.iter().copied().fold(f64::INFINITY, f64::min);
    let high = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let pad = ((high - low) * 0.06).max(1e-9);
    let (low, high) = (low - pad, high + pad);
    let label_width = rows
        .iter()
        .map(|r| text_width(&r.label))
        .fold(80.0, f64::max)
        .min(260.0);
    let (left, right, top) = (label_width + 16.0, WIDTH - 56.0, 30.0);
    let row_height = 28.0;
    let bottom = top + row_height * rows.len() as f64;
    let height = bottom + 26.0;
    let x = |v: f64| left + (v - low) / (high - low) * (right - left);
    let mut svg = open(height, title);
    if let Some(b) = band {
        let _ = write!(
            svg,
            r##"<rect x="{:.1}" y="{top}" width="{:.1}" height="{:.1}" fill="#9ca3af" fill-opacity="0.22"/><line x1="{3:.1}" y1="{top}" x2="{3:.1}" y2="{bottom}" stroke="#6b7280" stroke-dasharray="2 3"/>"##,
            x(b.min),
            (x(b.max) - x(b.min)).max(1.0),
            bottom - top,
            x(b.mean),
        );
    }
    let value_ticks = ticks(low, high, 6);
    for (tick, label) in value_ticks.iter().zip(tick_labels(&value_ticks, unit)) {
        let _ = write!(
            svg,
            r#"<line x1="{0:.1}" y1="{top}" x2="{0:.1}" y2="{bottom}" stroke="{GRID}" stroke-opacity="0.7"/><text x="{0:.1}" y="{1}" text-anchor="middle">{label}</text>"#,
            x(*tick),
            bottom + 16.0,
        );
    }
    let _ = write!(
        svg,
        r#"<line x1="{0:.1}" y1="{top}" x2="{0:.1}" y2="{bottom}" stroke="{TEXT}"/>"#,
        x(0.0)
    );
    for (i, row) in rows.iter().enumerate() {
        let middle = top + row_height * (i as f64 + 0.5);
        let color = row.color;
        let (from, to) = (x(0.0).min(x(row.mean)), x(0.0).max(x(row.mean)));
        let _ = write!(
            svg,
            r#"<text x="{}" y="{:.1}" text-anchor="end">{}</text><rect x="{from:.1}" y="{:.1}" width="{:.1}" height="12" fill="{color}" fill-opacity="0.8"/>"#,
            left - 8.0,
            middle + 4.0,
            esc(&row.label),
            middle - 6.0,
            (to - from).max(1.0),
        );
        if row.max > row.min {
            let _ = write!(
                svg,
                r#"<path d="M{0:.1} {1:.1}H{2:.1}M{0:.1} {3:.1}V{4:.1}M{2:.1} {3:.1}V{4:.1}" stroke="{TEXT}" stroke-width="1.5" fill="none"/>"#,
                x(row.min),
                middle,
                x(row.max),
                middle - 6.0,
                middle + 6.0,
            );
        }
        // The value beside the bar's far end, outside its whisker.
        let (at, anchor) = if row.mean < 0.0 {
            (x(row.min.min(row.mean)) - 6.0, "end")
        } else {
            (x(row.max.max(row.mean)) + 6.0, "start")
        };
        let _ = write!(
            svg,
            r#"<text x="{at:.1}" y="{:.1}" text-anchor="{anchor}" font-weight="600">{:+.1}{unit}</text>"#,
            middle + 4.0,
            row.mean + 0.0,
        );
    }
    if let Some(m) = mark {
        let _ = write!(
            svg,
            r#"<line x1="{0:.1}" y1="{1}" x2="{0:.1}" y2="{bottom}" stroke="{DOWN}" stroke-width="2" stroke-dasharray="6 4"/>"#,
            x(m.value),
            top - 4.0
        );
    }
    let mut entries = Vec::new();
    entries.extend(mark.map(|m| (m.label.clone(), DOWN, true)));
    entries.extend(band.map(|b| (b.label.clone(), "#9ca3af", false)));
    legend(&mut svg, &entries, left);
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_inside_the_range() {
        assert_eq!(ticks(0.0, 10.0, 5), vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        assert_eq!(
            ticks(-13.0, 48.0, 6),
            vec![-10.0, 0.0, 10.0, 20.0, 30.0, 40.0]
        );
        assert_eq!(
            ticks(9_000.0, 21_000.0, 5),
            vec![10_000.0, 12_000.0, 14_000.0, 16_000.0, 18_000.0, 20_000.0]
        );
        assert_eq!(ticks(1.0, 1.0, 5), vec![1.0]);
    }

    #[test]
    fn tick_labels_say_as_much_as_their_step_needs() {
        assert_eq!(
            tick_labels(&[5_000.0, 10_000.0, 15_000.0], ""),
            ["5k", "10k", "15k"]
        );
        assert_eq!(tick_labels(&[-10.0, 0.0, 10.0], "%"), ["-10%", "0%", "10%"]);
        assert_eq!(tick_labels(&[0.5, 1.0, 1.5], ""), ["0.5", "1.0", "1.5"]);
        assert_eq!(tick_labels(&[12_000.0, 12_500.0], ""), ["12.0k", "12.5k"]);
    }

    #[test]
    fn labels_are_escaped_and_nothing_is_loaded() {
        let line = Line {
            label: "<script>alert(1)</script> & co".into(),
            color: PALETTE[0],
            dashed: false,
            points: vec![(0, 10_000.0), (86_400 * 400, 12_000.0)],
        };
        let svg = line_chart("equity", &[line], "", false);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; co"));
        assert!(!svg.contains("<script") && !svg.contains("http"));
        let ranges = [Range {
            label: "sma \"fast\"".into(),
            color: PALETTE[0],
            mean: 12.0,
            min: -3.0,
            max: 20.0,
        }];
        let mark = Mark {
            label: "B&H".into(),
            value: 5.0,
        };
        let svg = range_chart("returns", &ranges, Some(&mark), None, "%");
        assert!(svg.contains("sma &quot;fast&quot;") && svg.contains("B&amp;H"));
        assert!(svg.contains("+12.0%"));
    }

    #[test]
    fn a_drawdown_is_the_fall_from_the_running_peak() {
        let dd = drawdown(&[(0, 100.0), (1, 120.0), (2, 90.0), (3, 130.0)]);
        assert_eq!(dd[0].1, 0.0);
        assert_eq!(dd[1].1, 0.0);
        assert!((dd[2].1 + 25.0).abs() < 1e-9);
        assert_eq!(dd[3].1, 0.0);
    }

    #[test]
    fn nothing_to_draw_draws_nothing() {
        assert_eq!(line_chart("empty", &[], "", false), "");
        assert_eq!(range_chart("empty", &[], None, None, "%"), "");
    }
}
