//! Publication times as pages write them. Machine-readable ones (meta tags,
//! JSON-LD) go through the parser the fetcher uses for feeds, plus the forms
//! only pages use (Unix seconds, slashed and compact dates); dates printed
//! for readers have their own reader below.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};

pub fn parse_date(raw: &str) -> Option<DateTime<Utc>> {
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > 64 {
        return None;
    }
    // Unix times turn up in page metadata, never in feeds.
    if raw.len() >= 9 && raw.len() <= 13 && raw.bytes().all(|b| b.is_ascii_digit()) {
        let n: i64 = raw.parse().ok()?;
        // Thirteen digits are milliseconds.
        let seconds = if raw.len() == 13 { n / 1000 } else { n };
        return DateTime::from_timestamp(seconds, 0);
    }
    newsflow_dates::parse_date(raw).or_else(|| {
        ["%Y-%m-%d", "%Y/%m/%d", "%Y%m%d"]
            .iter()
            .find_map(|format| {
                NaiveDate::parse_from_str(raw.get(..10).unwrap_or(raw), format)
                    .ok()
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
                    .map(|t| Utc.from_utc_datetime(&t))
            })
    })
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

/// A date as pages print it for readers, in English: `19 NOV 2019`,
/// `November 20, 2019 - 11:28 AMT`, `Aug. 19, 2024 8:03 am ET`. Day, month
/// name and year are found among the words; a following `hh:mm` (with
/// am/pm) is the time, read as UTC since the zone names are ambiguous.
pub fn parse_written_date(text: &str) -> Option<DateTime<Utc>> {
    let words: Vec<String> = text
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | '.' | '-' | '/' | '|'))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let month_at = words.iter().position(|w| {
        w.len() >= 3
            && MONTHS.iter().any(|m| w.starts_with(m))
            && w.chars().all(char::is_alphabetic)
    })?;
    let month = MONTHS.iter().position(|m| words[month_at].starts_with(m))? as u32 + 1;
    let number = |i: usize| -> Option<u32> {
        let w = words.get(i)?;
        let digits = w.trim_end_matches(|c: char| c.is_alphabetic());
        digits.parse().ok()
    };
    // Day before the month ("19 Nov 2019") or after it ("Nov 19, 2019").
    let (day, year_at) = match (
        month_at.checked_sub(1).and_then(number),
        number(month_at + 1),
    ) {
        (Some(d), Some(y)) if (1..=31).contains(&d) && y > 1900 => (d, month_at + 1),
        (_, Some(d)) if (1..=31).contains(&d) => (d, month_at + 2),
        _ => return None,
    };
    let year = number(year_at).filter(|y| (1990..=2100).contains(y))?;
    let date = NaiveDate::from_ymd_opt(year as i32, month, day)?;
    let time = words[year_at + 1..]
        .iter()
        .take(3)
        .enumerate()
        .find_map(|(k, w)| {
            let (h, m) = w.split_once(':')?;
            let (mut h, m): (u32, u32) = (h.parse().ok()?, m.get(..2)?.parse().ok()?);
            let meridiem = words.get(year_at + 2 + k).map(String::as_str);
            if meridiem == Some("pm") && h < 12 {
                h += 12;
            } else if meridiem == Some("am") && h == 12 {
                h = 0;
            }
            chrono::NaiveTime::from_hms_opt(h, m, 0)
        });
    Some(Utc.from_utc_datetime(&date.and_time(time.unwrap_or_default())))
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
    fn written_dates_parse() {
        assert_eq!(
            parse_written_date("19 NOV 2019"),
            Some(utc("2019-11-19T00:00:00Z"))
        );
        assert_eq!(
            parse_written_date("November 20, 2019 - 11:28 AMT"),
            Some(utc("2019-11-20T11:28:00Z"))
        );
        assert_eq!(
            parse_written_date("Nov. 19, 2019 8:03 pm ET"),
            Some(utc("2019-11-19T20:03:00Z"))
        );
        assert_eq!(
            parse_written_date("Updated 3rd March 2021"),
            Some(utc("2021-03-03T00:00:00Z"))
        );
        assert_eq!(parse_written_date("5 hours ago"), None);
        assert_eq!(parse_written_date("May the force be with you"), None);
    }

    #[test]
    fn nonsense_is_none() {
        assert_eq!(parse_date("yesterday"), None);
        assert_eq!(parse_date(""), None);
        assert_eq!(parse_date("2024-13-45"), None);
    }
}
