//! Which column of a bar file is the time, the open, …: recognised from the header's names
//! (English, Chinese, the usual exports; units in brackets ignored), or named by the person
//! with a map such as `time=日期,open=开盘`. A file with both a close and an adjusted close
//! is never read until the person says which close to use.

use std::collections::BTreeMap;
use std::fmt;

/// A column a bar needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Time,
    Open,
    High,
    Low,
    Close,
    Volume,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Time,
        Role::Open,
        Role::High,
        Role::Low,
        Role::Close,
        Role::Volume,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Role::Time => "time",
            Role::Open => "open",
            Role::High => "high",
            Role::Low => "low",
            Role::Close => "close",
            Role::Volume => "volume",
        }
    }

    /// Header names that mean this role, in their matching form (see [`match_form`]).
    fn names(self) -> &'static [&'static str] {
        match self {
            Role::Time => &[
                "timestamp",
                "datetime",
                "日期时间",
                "date",
                "日期",
                "交易日期",
                "time",
                "时间",
                "交易时间",
            ],
            Role::Open => &["open", "开盘", "开盘价", "今开"],
            Role::High => &["high", "最高", "最高价"],
            Role::Low => &["low", "最低", "最低价"],
            Role::Close => &["close", "收盘", "收盘价"],
            Role::Volume => &["volume", "vol", "成交量"],
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Names of a date-only column and of a time-of-day column: exports from MetaTrader and 通达信
/// give minute bars as `Date,Time,…` / `日期,时间,…`, which are read together.
const DATE_NAMES: &[&str] = &["date", "日期", "交易日期"];
const TIME_OF_DAY_NAMES: &[&str] = &["time", "时间", "交易时间"];
const ADJUSTED_CLOSE_NAMES: &[&str] = &["adjclose", "adjustedclose", "复权收盘价"];

/// A header name as matched: lower case, without a unit in brackets (`成交量(手)`,
/// `收盘价（元）`) and without spaces, underscores, hyphens or dots (`Adj Close`, `adj_close`).
pub fn match_form(name: &str) -> String {
    let name = name.trim().trim_start_matches('\u{feff}');
    let name = name.split(['(', '（', '[']).next().unwrap_or(name);
    name.chars()
        .filter(|c| !matches!(c, ' ' | '_' | '-' | '.'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Which close a file with both a close and an adjusted close is read with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum CloseChoice {
    /// The close as traded.
    Raw,
    /// The adjusted close, with open, high and low scaled by the same factor (adjusted close
    /// over close), as yfinance's `auto_adjust` does, so that the bar stays whole.
    Adjusted,
}

impl std::str::FromStr for CloseChoice {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "raw" => Ok(CloseChoice::Raw),
            "adjusted" | "adj" => Ok(CloseChoice::Adjusted),
            other => Err(format!("{other:?} is neither raw nor adjusted")),
        }
    }
}

/// Columns the person named, by role. The time may be two columns, `日期+时间`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ColumnMap {
    entries: Vec<(Role, String)>,
}

impl ColumnMap {
    /// Reads `time=日期,open=开盘,…` (roles in any case, each at most once).
    pub fn parse(text: &str) -> Result<ColumnMap, String> {
        let mut map = ColumnMap::default();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (role, column) = entry
                .split_once('=')
                .ok_or_else(|| format!("{entry:?} is not ROLE=COLUMN (e.g. time=日期)"))?;
            let role = parse_role(role)?;
            map.set(role, column)?;
        }
        Ok(map)
    }

    /// Names the column of `role`; an empty name leaves the role to recognition.
    pub fn set(&mut self, role: Role, column: &str) -> Result<(), String> {
        let column = column.trim();
        if column.is_empty() {
            return Ok(());
        }
        if self.get(role).is_some() {
            return Err(format!("{role} is mapped twice"));
        }
        self.entries.push((role, column.to_string()));
        Ok(())
    }

    pub fn get(&self, role: Role) -> Option<&str> {
        self.entries
            .iter()
            .find(|(r, _)| *r == role)
            .map(|(_, c)| c.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl fmt::Display for ColumnMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .entries
            .iter()
            .map(|(role, column)| format!("{role}={column}"))
            .collect();
        f.write_str(&parts.join(","))
    }
}

fn parse_role(text: &str) -> Result<Role, String> {
    let wanted = text.trim().to_ascii_lowercase();
    Role::ALL
        .into_iter()
        .find(|role| role.name() == wanted)
        .ok_or_else(|| {
            format!("{text:?} is not a column role (time, open, high, low, close, volume)")
        })
}

/// How a bar file is read: its column map, its close, its sheet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportOptions {
    pub map: ColumnMap,
    pub close: Option<CloseChoice>,
    /// A workbook's sheet by name; the first sheet when absent.
    pub sheet: Option<String>,
}

/// Where a bar's time is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeColumns {
    One(usize),
    /// A date column and a time-of-day column.
    DateAndTime(usize, usize),
}

/// The columns a file's bars are read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Columns {
    pub time: TimeColumns,
    /// Open, high, low, close.
    pub prices: [usize; 4],
    pub volume: Option<usize>,
    /// The adjusted close to scale the bar by (the person chose `adjusted`).
    pub adjusted_close: Option<usize>,
}

impl Columns {
    /// The header text of `role`'s column, as a preview and a map show it.
    pub fn describe(&self, header: &[String], role: Role) -> Option<String> {
        let name = |index: usize| header.get(index).cloned().unwrap_or_default();
        match role {
            Role::Time => Some(match self.time {
                TimeColumns::One(column) => name(column),
                TimeColumns::DateAndTime(date, time) => format!("{}+{}", name(date), name(time)),
            }),
            Role::Open => Some(name(self.prices[0])),
            Role::High => Some(name(self.prices[1])),
            Role::Low => Some(name(self.prices[2])),
            Role::Close => Some(name(self.adjusted_close.unwrap_or(self.prices[3]))),
            Role::Volume => self.volume.map(name),
        }
    }
}

/// Whether a row names at least two of a bar's columns: the header test of a bar file.
pub fn looks_like_bar_header(names: &[String]) -> bool {
    let forms: Vec<String> = names.iter().map(|n| match_form(n)).collect();
    Role::ALL
        .iter()
        .filter(|role| forms.iter().any(|f| role.names().contains(&f.as_str())))
        .count()
        >= 2
}

/// The header test when the person mapped columns: the row holding every mapped name.
pub fn holds_mapped_names(map: &ColumnMap, names: &[String]) -> bool {
    !map.is_empty()
        && map.entries.iter().all(|(_, column)| {
            column
                .split('+')
                .all(|part| names.iter().any(|n| n.trim() == part.trim()))
        })
}

/// Finds each role's column in `header` (mapped first, recognised otherwise).
/// `first_row` decides whether a `time` column next to a date column is a time of day.
pub fn resolve(
    header: &[String],
    options: &ImportOptions,
    first_row: Option<&[String]>,
) -> Result<Columns, String> {
    let forms: Vec<String> = header.iter().map(|n| match_form(n)).collect();
    let mut seen = std::collections::HashSet::new();
    for (name, form) in header.iter().zip(&forms) {
        if !form.is_empty() && !seen.insert(form) {
            return Err(format!("the header names column {name:?} twice"));
        }
    }
    let by_name = |column: &str| -> Result<usize, String> {
        let column = column.trim();
        header
            .iter()
            .position(|n| n == column)
            .or_else(|| forms.iter().position(|f| *f == match_form(column)))
            .ok_or_else(|| {
                format!(
                    "the map names column {column:?}, which the header does not have (it has {})",
                    header.join(", ")
                )
            })
    };
    let recognised = |role: Role| -> Option<usize> {
        role.names()
            .iter()
            .find_map(|name| forms.iter().position(|f| f == name))
    };
    let find = |role: Role| -> Result<Option<usize>, String> {
        match options.map.get(role) {
            Some(column) => by_name(column).map(Some),
            None => Ok(recognised(role)),
        }
    };
    let time = match options.map.get(Role::Time) {
        Some(column) => match column.split_once('+') {
            Some((date, time)) => TimeColumns::DateAndTime(by_name(date)?, by_name(time)?),
            None => TimeColumns::One(by_name(column)?),
        },
        None => recognise_time(&forms, first_row).ok_or_else(|| missing(Role::Time, header))?,
    };
    let mut prices = [0; 4];
    for (slot, role) in prices
        .iter_mut()
        .zip([Role::Open, Role::High, Role::Low, Role::Close])
    {
        *slot = find(role)?.ok_or_else(|| missing(role, header))?;
    }
    let adjusted = forms
        .iter()
        .position(|f| ADJUSTED_CLOSE_NAMES.contains(&f.as_str()));
    let adjusted_close = match (options.close, adjusted) {
        (Some(CloseChoice::Adjusted), Some(column)) => Some(column),
        (Some(CloseChoice::Adjusted), None) => {
            return Err(format!(
                "close=adjusted, but the header has no adjusted close column (Adj Close; it has {})",
                header.join(", ")
            ));
        }
        (None, Some(column)) if options.map.get(Role::Close).is_none() => {
            return Err(format!(
                "the file has two closes, {:?} and {:?}: say which to use, raw (prices as \
                 traded) or adjusted ({:?}, with open, high and low scaled by the same factor)",
                header[prices[3]], header[column], header[column]
            ));
        }
        _ => None,
    };
    Ok(Columns {
        time,
        prices,
        volume: find(Role::Volume)?,
        adjusted_close,
    })
}

/// A single date-time column; else a date column with a time-of-day column beside it; else a
/// date column alone.
fn recognise_time(forms: &[String], first_row: Option<&[String]>) -> Option<TimeColumns> {
    let position = |names: &[&str]| {
        names
            .iter()
            .find_map(|name| forms.iter().position(|f| f == name))
    };
    if let Some(column) = position(&["timestamp", "datetime", "日期时间"]) {
        return Some(TimeColumns::One(column));
    }
    match (position(DATE_NAMES), position(TIME_OF_DAY_NAMES)) {
        (Some(date), Some(time)) => {
            let is_time_of_day = first_row
                .and_then(|row| row.get(time))
                .is_some_and(|text| crate::bar_time::parse_time_of_day(text).is_some());
            Some(if is_time_of_day {
                TimeColumns::DateAndTime(date, time)
            } else {
                TimeColumns::One(date)
            })
        }
        (Some(column), None) | (None, Some(column)) => Some(TimeColumns::One(column)),
        (None, None) => None,
    }
}

/// Whether a header name is an adjusted close (`Adj Close`).
pub fn is_adjusted_close(name: &str) -> bool {
    ADJUSTED_CLOSE_NAMES.contains(&match_form(name).as_str())
}

/// Each role's column that can be told on its own (mapped, or recognised), when the whole
/// file cannot yet be read: a preview shows these and asks for the rest.
pub fn found_so_far(
    header: &[String],
    options: &ImportOptions,
    first_row: Option<&[String]>,
) -> BTreeMap<String, String> {
    let forms: Vec<String> = header.iter().map(|n| match_form(n)).collect();
    let mut found = BTreeMap::new();
    for role in Role::ALL {
        let column = match options.map.get(role) {
            Some(column) => Some(column.to_string()),
            None if role == Role::Time => {
                recognise_time(&forms, first_row).map(|time| match time {
                    TimeColumns::One(c) => header[c].clone(),
                    TimeColumns::DateAndTime(d, t) => format!("{}+{}", header[d], header[t]),
                })
            }
            None => role
                .names()
                .iter()
                .find_map(|name| forms.iter().position(|f| f == name))
                .map(|c| header[c].clone()),
        };
        if let Some(column) = column {
            found.insert(role.name().to_string(), column);
        }
    }
    found
}

fn missing(role: Role, header: &[String]) -> String {
    let known = role.names().join(", ");
    format!(
        "no {role} column: the header has {}, none of which aibt knows as the {role} ({known}); \
         map the columns by name, e.g. time=COLUMN,open=COLUMN,high=COLUMN,low=COLUMN,close=COLUMN,volume=COLUMN",
        header.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(names: &str) -> Vec<String> {
        names.split(',').map(str::to_string).collect()
    }

    fn resolve_plain(names: &str) -> Result<Columns, String> {
        resolve(&header(names), &ImportOptions::default(), None)
    }

    #[test]
    fn chinese_headers_with_units_are_recognised() {
        let columns = resolve_plain("日期,开盘价,最高价,最低价,收盘价(元),成交量(手)").unwrap();
        assert_eq!(columns.time, TimeColumns::One(0));
        assert_eq!(columns.prices, [1, 2, 3, 4]);
        assert_eq!(columns.volume, Some(5));
    }

    #[test]
    fn a_date_and_a_time_of_day_column_are_read_together() {
        let names = header("Date,Time,Open,High,Low,Close,Volume");
        let row = header("2024.01.02,09:35,1,1,1,1,1");
        let columns = resolve(&names, &ImportOptions::default(), Some(&row)).unwrap();
        assert_eq!(columns.time, TimeColumns::DateAndTime(0, 1));
        assert_eq!(columns.describe(&names, Role::Time).unwrap(), "Date+Time");
    }

    #[test]
    fn two_closes_are_never_chosen_silently() {
        let names = "Date,Open,High,Low,Close,Adj Close,Volume";
        let err = resolve_plain(names).unwrap_err();
        assert!(
            err.contains("two closes") && err.contains("Adj Close"),
            "{err}"
        );
        let adjusted = ImportOptions {
            close: Some(CloseChoice::Adjusted),
            ..ImportOptions::default()
        };
        assert_eq!(
            resolve(&header(names), &adjusted, None)
                .unwrap()
                .adjusted_close,
            Some(5)
        );
        let raw = ImportOptions {
            close: Some(CloseChoice::Raw),
            ..ImportOptions::default()
        };
        let columns = resolve(&header(names), &raw, None).unwrap();
        assert_eq!((columns.prices[3], columns.adjusted_close), (4, None));
    }

    #[test]
    fn a_map_names_columns_by_their_header_text() {
        let options = ImportOptions {
            map: ColumnMap::parse("time=日子, open=开, high=高,low=低,close=收,volume=量").unwrap(),
            ..ImportOptions::default()
        };
        let columns = resolve(&header("量,日子,开,高,低,收"), &options, None).unwrap();
        assert_eq!(
            (columns.time, columns.prices, columns.volume),
            (TimeColumns::One(1), [2, 3, 4, 5], Some(0))
        );
        let err = resolve(&header("日子,开"), &options, None).unwrap_err();
        assert!(err.contains("does not have"), "{err}");
    }

    #[test]
    fn an_unknown_header_lists_what_was_found_and_how_to_map_it() {
        let err = resolve_plain("日子,开,高,低,收").unwrap_err();
        assert!(
            err.starts_with("no time column: the header has 日子, 开, 高, 低, 收"),
            "{err}"
        );
        assert!(err.contains("time=COLUMN"), "{err}");
    }

    #[test]
    fn bad_maps_are_refused() {
        assert!(
            ColumnMap::parse("when=日期")
                .unwrap_err()
                .contains("not a column role")
        );
        assert!(
            ColumnMap::parse("time")
                .unwrap_err()
                .contains("ROLE=COLUMN")
        );
        assert!(
            ColumnMap::parse("time=a,TIME=b")
                .unwrap_err()
                .contains("twice")
        );
        assert_eq!(
            ColumnMap::parse("Time=日期+时间").unwrap().to_string(),
            "time=日期+时间"
        );
    }

    #[test]
    fn match_forms_drop_units_case_and_separators() {
        assert_eq!(match_form("Adj Close"), "adjclose");
        assert_eq!(match_form("成交量（股）"), "成交量");
        assert_eq!(match_form("\u{feff}Date"), "date");
    }
}
