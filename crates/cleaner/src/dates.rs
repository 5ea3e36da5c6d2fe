//! Publication times as pages write them: RFC 3339 and its common
//! near-misses (no colon in the offset, a space for `T`, no zone, a bare
//! date, RFC 2822, Unix seconds).

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};

pub fn parse_date(raw: &str) -> Option<DateTime<Utc>> {
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > 64 {
        return None;
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Some(t.with_timezone(&Utc));
    }
    let with_t = raw.replacen(' ', "T", 1);
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M%z",
        "%Y-%m-%dT%H:%M:%S%.f%#z",
    ] {
        if let Ok(t) = DateTime::parse_from_str(&with_t, format) {
            return Some(t.with_timezone(&Utc));
        }
    }
    if let Ok(t) = DateTime::parse_from_rfc2822(raw) {
        return Some(t.with_timezone(&Utc));
    }
    let no_zone = with_t.trim_end_matches('Z');
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(no_zone, format) {
            return Some(Utc.from_utc_datetime(&t));
        }
    }
    for format in ["%Y-%m-%d", "%Y/%m/%d", "%Y%m%d"] {
        if let Ok(d) = NaiveDate::parse_from_str(raw.get(..10).unwrap_or(raw), format) {
            return d.and_hms_opt(0, 0, 0).map(|t| Utc.from_utc_datetime(&t));
        }
    }
    if raw.len() >= 9 && raw.len() <= 13 && raw.bytes().all(|b| b.is_ascii_digit()) {
        let n: i64 = raw.parse().ok()?;
        // Thirteen digits are milliseconds.
        let seconds = if raw.len() == 13 { n / 1000 } else { n };
        return DateTime::from_timestamp(seconds, 0);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn common_forms_parse() {
        let expected = utc("2024-08-19T10:30:00Z");
        for raw in [
            "2024-08-19T10:30:00Z",
            "2024-08-19T12:30:00+02:00",
            "2024-08-19T12:30:00+0200",
            "2024-08-19 10:30:00Z",
            "2024-08-19T10:30:00.000Z",
            "2024-08-19T10:30:00",
            "Mon, 19 Aug 2024 10:30:00 +0000",
            "1724063400",
            "1724063400000",
        ] {
            assert_eq!(parse_date(raw), Some(expected), "{raw}");
        }
        assert_eq!(parse_date("2024-08-19"), Some(utc("2024-08-19T00:00:00Z")));
    }

    #[test]
    fn nonsense_is_none() {
        assert_eq!(parse_date("yesterday"), None);
        assert_eq!(parse_date(""), None);
        assert_eq!(parse_date("2024-13-45"), None);
    }
}
