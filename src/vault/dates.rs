//! Lenient parsing of the dates people write in frontmatter.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};

/// Parses a frontmatter date the way a person would read it, or `None` when it is not a date.
///
/// Accepts RFC 3339, `YYYY-MM-DD[ T]HH:MM[:SS]`, `YYYY-MM-DD`, `YYYY/MM/DD`, `DD.MM.YYYY`,
/// `Month D, YYYY`, `D Month YYYY` and Unix seconds. Times without a zone are taken as UTC.
pub fn parse_date(raw: &str) -> Option<DateTime<Utc>> {
    let s = raw.trim().trim_matches(|c| c == '"' || c == '\'').trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(dt.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%d %H:%M:%S%.f %z",
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%d %H:%M:%S%z",
    ] {
        if let Ok(dt) = DateTime::parse_from_str(s, fmt) {
            return Some(dt.with_timezone(&Utc));
        }
    }
    const DATETIMES: &[&str] = &[
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
        "%Y/%m/%d %H:%M:%S",
        "%Y/%m/%d %H:%M",
    ];
    for fmt in DATETIMES {
        if let Ok(dt) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(Utc.from_utc_datetime(&dt));
        }
    }
    const DATES: &[&str] = &[
        "%Y-%m-%d",
        "%Y/%m/%d",
        "%d.%m.%Y",
        "%B %d, %Y",
        "%b %d, %Y",
        "%d %B %Y",
        "%d %b %Y",
        "%B %d %Y",
        "%b %d %Y",
        "%Y%m%d",
    ];
    for fmt in DATES {
        if let Ok(d) = NaiveDate::parse_from_str(s, fmt) {
            return d.and_hms_opt(0, 0, 0).map(|dt| Utc.from_utc_datetime(&dt));
        }
    }
    if s.len() >= 9 && s.len() <= 11 && s.bytes().all(|b| b.is_ascii_digit()) {
        return s
            .parse::<i64>()
            .ok()
            .and_then(|secs| Utc.timestamp_opt(secs, 0).single());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: Option<&str>) {
        let got = parse_date(input).map(|d| d.to_rfc3339());
        assert_eq!(got.as_deref(), expected, "input {input:?}");
    }

    #[test]
    fn lenient_dates() {
        check("2024-03-05", Some("2024-03-05T00:00:00+00:00"));
        check("2024-03-05T10:20:00", Some("2024-03-05T10:20:00+00:00"));
        check("2024-03-05 10:20", Some("2024-03-05T10:20:00+00:00"));
        check(
            "2024-03-05T10:20:00+02:00",
            Some("2024-03-05T08:20:00+00:00"),
        );
        check("2025-06-29 14:00:44", Some("2025-06-29T14:00:44+00:00"));
        check("March 5, 2024", Some("2024-03-05T00:00:00+00:00"));
        check("5 Mar 2024", Some("2024-03-05T00:00:00+00:00"));
        check("05.03.2024", Some("2024-03-05T00:00:00+00:00"));
        check("'2024-03-05'", Some("2024-03-05T00:00:00+00:00"));
        check("1700000000", Some("2023-11-14T22:13:20+00:00"));
        check("someday", None);
        check("", None);
        check("2024-13-45", None);
    }
}
