//! Half-open time ranges and the set arithmetic the cache needs: what of a range is not yet
//! covered, and the union of what is.

use chrono::{DateTime, Utc};

/// `[start, end)`; never empty where the functions below produce it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Span {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Span {
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Span {
        Span { start, end }
    }

    pub fn is_empty(self) -> bool {
        self.end <= self.start
    }

    pub fn contains(self, at: DateTime<Utc>) -> bool {
        self.start <= at && at < self.end
    }
}

/// Sorted, with overlapping and touching spans joined and empty ones dropped.
pub(crate) fn union(mut spans: Vec<Span>) -> Vec<Span> {
    spans.retain(|s| !s.is_empty());
    spans.sort();
    let mut joined: Vec<Span> = Vec::with_capacity(spans.len());
    for span in spans {
        match joined.last_mut() {
            Some(last) if span.start <= last.end => last.end = last.end.max(span.end),
            _ => joined.push(span),
        }
    }
    joined
}

/// The parts of `wanted` outside every span of `covered` (which must be a [`union`]), in order.
pub(crate) fn missing(covered: &[Span], wanted: Span) -> Vec<Span> {
    let mut parts = Vec::new();
    let mut from = wanted.start;
    for span in covered {
        if span.end <= from {
            continue;
        }
        if span.start >= wanted.end {
            break;
        }
        if span.start > from {
            parts.push(Span::new(from, span.start));
        }
        from = from.max(span.end);
        if from >= wanted.end {
            return parts;
        }
    }
    if from < wanted.end {
        parts.push(Span::new(from, wanted.end));
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 1, 1, hour, 0, 0).unwrap()
    }

    fn span(a: u32, b: u32) -> Span {
        Span::new(at(a), at(b))
    }

    #[test]
    fn union_joins_overlapping_and_touching_spans() {
        let joined = union(vec![
            span(5, 7),
            span(1, 2),
            span(2, 3),
            span(6, 9),
            span(4, 4),
        ]);
        assert_eq!(joined, vec![span(1, 3), span(5, 9)]);
    }

    #[test]
    fn missing_is_what_no_covered_span_reaches() {
        let covered = union(vec![span(2, 4), span(6, 8)]);
        assert_eq!(
            missing(&covered, span(0, 10)),
            vec![span(0, 2), span(4, 6), span(8, 10)]
        );
        assert_eq!(missing(&covered, span(2, 4)), vec![]);
        assert_eq!(missing(&covered, span(3, 7)), vec![span(4, 6)]);
        assert_eq!(missing(&covered, span(7, 12)), vec![span(8, 12)]);
        assert_eq!(missing(&[], span(1, 2)), vec![span(1, 2)]);
        assert_eq!(missing(&covered, span(0, 1)), vec![span(0, 1)]);
    }
}
