//! ClickBank time formats and US Pacific offsets.
//!
//! ClickBank writes times with offsets in several shapes; all of them are parsed with
//! their offset into UTC by [`parse_time`]. The sandbox writes Pacific times like
//! ClickBank does, using the US daylight-saving rules ([`pacific_offset`]).

use chrono::{
    DateTime, Datelike, Duration, FixedOffset, NaiveDate, NaiveDateTime, Offset, TimeZone, Utc, Weekday,
};

/// A time text that matches none of ClickBank's formats.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a ClickBank date or time")]
pub struct TimeError(pub String);

const HOUR: i32 = 3600;

/// UTC offset in seconds of a North American zone abbreviation.
fn abbreviation_offset(abbr: &str) -> Option<i32> {
    let hours = match abbr.to_ascii_uppercase().as_str() {
        "UTC" | "GMT" | "Z" | "UT" => 0,
        "PST" => -8,
        "PDT" => -7,
        "MST" => -7,
        "MDT" => -6,
        "CST" => -6,
        "CDT" => -5,
        "EST" => -5,
        "EDT" => -4,
        "AKST" => -9,
        "AKDT" => -8,
        "HST" => -10,
        "CET" => 1,
        "CEST" => 2,
        "BST" => 1,
        _ => return None,
    };
    Some(hours * HOUR)
}

/// Parse any ClickBank time into UTC, honouring its offset.
///
/// Accepted: `2019-02-18T15:11:38-08:00` (RFC 3339, also with `Z` or fractions),
/// `2023-07-28T02:07:57+0000`, `2019-01-31 01:35:28 PST` (zone abbreviations),
/// compact `20220810T162015-0700`, a bare date `2019-03-18` (Pacific midnight, the
/// zone ClickBank keeps its calendar in), and Unix epoch seconds or milliseconds.
pub fn parse_time(text: &str) -> Result<DateTime<Utc>, TimeError> {
    let s = text.trim();
    let err = || TimeError(s.to_string());
    if s.is_empty() {
        return Err(err());
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%z",
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y%m%dT%H%M%S%z",
        "%Y-%m-%d %H:%M:%S%z",
        "%Y-%m-%d %H:%M:%S %z",
    ] {
        if let Ok(t) = DateTime::parse_from_str(s, fmt) {
            return Ok(t.with_timezone(&Utc));
        }
    }
    if let Some((local, abbr)) = s.rsplit_once(' ') {
        if let Some(offset) = abbreviation_offset(abbr) {
            let naive = NaiveDateTime::parse_from_str(local.trim(), "%Y-%m-%d %H:%M:%S")
                .or_else(|_| NaiveDateTime::parse_from_str(local.trim(), "%Y-%m-%dT%H:%M:%S"))
                .map_err(|_| err())?;
            let zone = FixedOffset::east_opt(offset).ok_or_else(err)?;
            return zone
                .from_local_datetime(&naive)
                .single()
                .map(|t| t.with_timezone(&Utc))
                .ok_or_else(err);
        }
    }
    if let Ok(date) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(pacific_midnight(date));
    }
    if s.bytes().all(|b| b.is_ascii_digit()) && (s.len() == 10 || s.len() == 13) {
        let n: i64 = s.parse().map_err(|_| err())?;
        let t = if s.len() == 13 {
            DateTime::from_timestamp_millis(n)
        } else {
            DateTime::from_timestamp(n, 0)
        };
        return t.ok_or_else(err);
    }
    Err(err())
}

/// Parse a `yyyy-mm-dd` date.
pub fn parse_date(text: &str) -> Result<NaiveDate, TimeError> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| TimeError(text.to_string()))
}

fn nth_weekday(year: i32, month: u32, weekday: Weekday, n: u8) -> NaiveDate {
    NaiveDate::from_weekday_of_month_opt(year, month, weekday, n).unwrap_or(NaiveDate::MIN)
}

fn last_weekday(year: i32, month: u32, weekday: Weekday) -> NaiveDate {
    (1..=5)
        .rev()
        .find_map(|n| NaiveDate::from_weekday_of_month_opt(year, month, weekday, n))
        .unwrap_or(NaiveDate::MIN)
}

/// True when US daylight-saving time is in effect in the Pacific zone at `t`.
pub fn is_pacific_dst(t: DateTime<Utc>) -> bool {
    let year = t.year();
    // Switch instants in UTC: 02:00 PST = 10:00 UTC, 02:00 PDT = 09:00 UTC.
    let (start, end) = if year >= 2007 {
        (
            nth_weekday(year, 3, Weekday::Sun, 2),
            nth_weekday(year, 11, Weekday::Sun, 1),
        )
    } else {
        (
            nth_weekday(year, 4, Weekday::Sun, 1),
            last_weekday(year, 10, Weekday::Sun),
        )
    };
    let start = start.and_hms_opt(10, 0, 0).map(|n| n.and_utc());
    let end = end.and_hms_opt(9, 0, 0).map(|n| n.and_utc());
    match (start, end) {
        (Some(start), Some(end)) => t >= start && t < end,
        _ => false,
    }
}

/// The US Pacific offset at `t`: -08:00 (PST) or -07:00 (PDT).
pub fn pacific_offset(t: DateTime<Utc>) -> FixedOffset {
    let hours = if is_pacific_dst(t) { -7 } else { -8 };
    // Whole-hour offsets are always in range; UTC is only a formal fallback.
    FixedOffset::east_opt(hours * HOUR).unwrap_or_else(|| Utc.fix())
}

/// `t` in US Pacific time.
pub fn to_pacific(t: DateTime<Utc>) -> DateTime<FixedOffset> {
    t.with_timezone(&pacific_offset(t))
}

/// The Pacific calendar date of `t` (ClickBank's day boundaries).
pub fn pacific_date(t: DateTime<Utc>) -> NaiveDate {
    to_pacific(t).date_naive()
}

/// The UTC instant of Pacific midnight starting `date`.
pub fn pacific_midnight(date: NaiveDate) -> DateTime<Utc> {
    let midnight = date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    let standard = midnight + Duration::hours(8);
    if is_pacific_dst(standard) {
        midnight + Duration::hours(7)
    } else {
        standard
    }
}

/// RFC 3339 with the Pacific offset, as the orders API writes: `2019-02-18T15:11:38-08:00`.
pub fn format_pacific(t: DateTime<Utc>) -> String {
    to_pacific(t).format("%Y-%m-%dT%H:%M:%S%:z").to_string()
}

/// Pacific time with a zone abbreviation, as product times: `2019-01-31 01:35:28 PST`.
pub fn format_pacific_abbrev(t: DateTime<Utc>) -> String {
    let abbr = if is_pacific_dst(t) { "PDT" } else { "PST" };
    format!("{} {abbr}", to_pacific(t).format("%Y-%m-%d %H:%M:%S"))
}

/// Compact INS 7.0 form with the Pacific offset: `20220810T162015-0700`.
pub fn format_pacific_compact(t: DateTime<Utc>) -> String {
    to_pacific(t).format("%Y%m%dT%H%M%S%z").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    #[test]
    fn parses_every_clickbank_format_with_its_offset() {
        assert_eq!(
            parse_time("2019-02-18T15:11:38-08:00").unwrap(),
            utc(2019, 2, 18, 23, 11, 38)
        );
        assert_eq!(
            parse_time("2019-03-18T15:11:38-07:00").unwrap(),
            utc(2019, 3, 18, 22, 11, 38)
        );
        assert_eq!(
            parse_time("2019-01-31 01:35:28 PST").unwrap(),
            utc(2019, 1, 31, 9, 35, 28)
        );
        assert_eq!(
            parse_time("2019-07-31 01:35:28 PDT").unwrap(),
            utc(2019, 7, 31, 8, 35, 28)
        );
        assert_eq!(
            parse_time("2019-07-31 01:35:28 MST").unwrap(),
            utc(2019, 7, 31, 8, 35, 28)
        );
        assert_eq!(
            parse_time("2019-07-31 01:35:28 EDT").unwrap(),
            utc(2019, 7, 31, 5, 35, 28)
        );
        assert_eq!(
            parse_time("20220810T162015-0700").unwrap(),
            utc(2022, 8, 10, 23, 20, 15)
        );
        assert_eq!(
            parse_time("2023-07-28T02:07:57+00:00").unwrap(),
            utc(2023, 7, 28, 2, 7, 57)
        );
        assert_eq!(
            parse_time("2023-07-28T02:07:57+0000").unwrap(),
            utc(2023, 7, 28, 2, 7, 57)
        );
        assert_eq!(
            parse_time("2023-07-28T02:07:57Z").unwrap(),
            utc(2023, 7, 28, 2, 7, 57)
        );
        assert_eq!(parse_time("1690510077").unwrap(), utc(2023, 7, 28, 2, 7, 57));
        // A bare date is Pacific midnight.
        assert_eq!(parse_time("2019-03-18").unwrap(), utc(2019, 3, 18, 7, 0, 0));
        assert_eq!(parse_time("2019-01-18").unwrap(), utc(2019, 1, 18, 8, 0, 0));
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "",
            "yesterday",
            "2019-13-01T00:00:00-08:00",
            "2019-01-31 01:35:28 XYZ",
        ] {
            assert!(parse_time(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn pacific_offsets_follow_us_dst() {
        // 2024: DST from Sun 10 March 10:00 UTC to Sun 3 November 09:00 UTC.
        assert_eq!(
            pacific_offset(utc(2024, 3, 10, 9, 59, 59)).local_minus_utc(),
            -8 * HOUR
        );
        assert_eq!(
            pacific_offset(utc(2024, 3, 10, 10, 0, 0)).local_minus_utc(),
            -7 * HOUR
        );
        assert_eq!(
            pacific_offset(utc(2024, 11, 3, 8, 59, 59)).local_minus_utc(),
            -7 * HOUR
        );
        assert_eq!(
            pacific_offset(utc(2024, 11, 3, 9, 0, 0)).local_minus_utc(),
            -8 * HOUR
        );
        // Pre-2007 rules: first Sunday of April.
        assert_eq!(
            pacific_offset(utc(2005, 4, 2, 12, 0, 0)).local_minus_utc(),
            -8 * HOUR
        );
        assert_eq!(
            pacific_offset(utc(2005, 4, 4, 12, 0, 0)).local_minus_utc(),
            -7 * HOUR
        );
    }

    #[test]
    fn formats_round_trip() {
        let t = utc(2019, 2, 18, 23, 11, 38);
        assert_eq!(format_pacific(t), "2019-02-18T15:11:38-08:00");
        assert_eq!(format_pacific_abbrev(t), "2019-02-18 15:11:38 PST");
        let s = utc(2022, 8, 10, 23, 20, 15);
        assert_eq!(format_pacific_compact(s), "20220810T162015-0700");
        assert_eq!(format_pacific_abbrev(s), "2022-08-10 16:20:15 PDT");
        for t in [t, s] {
            assert_eq!(parse_time(&format_pacific(t)).unwrap(), t);
            assert_eq!(parse_time(&format_pacific_abbrev(t)).unwrap(), t);
            assert_eq!(parse_time(&format_pacific_compact(t)).unwrap(), t);
        }
        assert_eq!(
            pacific_date(utc(2024, 1, 2, 7, 59, 0)),
            NaiveDate::from_ymd_opt(2024, 1, 1).unwrap()
        );
    }
}
