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

/// Words that stand between a date's parts in some languages ("5 de marzo
/// de 2024", "le 5 mars", "the 5th of May") and say nothing about it.
const FILLERS: &[&str] = &[
    "de", "del", "di", "of", "the", "le", "el", "em", "den", "der", "am",
];

/// A date as pages print it for readers, in English or another common
/// European language: `19 NOV 2019`, `November 20, 2019 - 11:28 AMT`,
/// `5. März 2024, 10:30 Uhr`, `le 5 mars 2024`, `5 de marzo de 2024`,
/// `5 marca 2024 r.`, `05.03.2024`. Day, month name and year are found among
/// the words; a following `hh:mm` (with am/pm) is the time, read as UTC since
/// the zone names are ambiguous.
pub fn parse_written_date(text: &str) -> Option<DateTime<Utc>> {
    if let Some(date) = dotted_date(text) {
        return Some(date);
    }
    let words: Vec<String> = text
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | '.' | '-' | '/' | '|'))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .filter(|w| !FILLERS.contains(&w.as_str()))
        .collect();
    // The first word that names a month and has a day and year beside it:
    // "Sie" (German) or "set" (English) may name a month without being one.
    words
        .iter()
        .enumerate()
        .filter_map(|(at, w)| Some((at, newsflow_dates::month_from_name(w)?)))
        .find_map(|(month_at, month)| date_around(&words, month_at, month))
}

/// Day, month and year around the month name at `month_at`, and the time
/// after them.
fn date_around(words: &[String], month_at: usize, month: u32) -> Option<DateTime<Utc>> {
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

/// `05.03.2024` or `5.3.2024`: day first, as every European language writes
/// it with dots (slashed dates are left alone: `03/05/2024` is March in the
/// US and May elsewhere).
fn dotted_date(text: &str) -> Option<DateTime<Utc>> {
    text.split(|c: char| c.is_whitespace() || c == ',')
        .find_map(|word| {
            let mut parts = word.trim_end_matches('.').split('.');
            let (day, month, year) = (parts.next()?, parts.next()?, parts.next()?);
            if parts.next().is_some()
                || !(1..=2).contains(&day.len())
                || !(1..=2).contains(&month.len())
                || year.len() != 4
            {
                return None;
            }
            let (day, month, year): (u32, u32, i32) =
                (day.parse().ok()?, month.parse().ok()?, year.parse().ok()?);
            if !(1990..=2100).contains(&year) {
                return None;
            }
            NaiveDate::from_ymd_opt(year, month, day)
        })
        .map(|date| Utc.from_utc_datetime(&date.and_time(chrono::NaiveTime::MIN)))
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
        assert_eq!(parse_written_date("set 5 of 12"), None);
        assert_eq!(parse_written_date("May the force be with you"), None);
    }

    #[test]
    fn european_printed_dates_parse() {
        let march_5 = Some(utc("2024-03-05T00:00:00Z"));
        for text in [
            "5. März 2024",
            "Veröffentlicht am 5. März 2024",
            "le 5 mars 2024",
            "Publié le mardi 5 mars 2024",
            "5 de marzo de 2024",
            "5 marzo 2024",
            "5 marca 2024 r.",
            "5 de março de 2024",
            "5 maart 2024",
            "05.03.2024",
            "Stand: 5.3.2024",
        ] {
            assert_eq!(parse_written_date(text), march_5, "{text}");
        }
        assert_eq!(
            parse_written_date("5. März 2024, 10:30 Uhr"),
            Some(utc("2024-03-05T10:30:00Z"))
        );
        assert_eq!(
            parse_written_date("Sie schrieb am 12 października 2023"),
            Some(utc("2023-10-12T00:00:00Z"))
        );
        // Slashed dates are ambiguous between the US and Europe.
        assert_eq!(parse_written_date("03/05/2024"), None);
        assert_eq!(parse_written_date("31.02.2024"), None);
    }

    #[test]
    fn nonsense_is_none() {
        assert_eq!(parse_date("yesterday"), None);
        assert_eq!(parse_date(""), None);
        assert_eq!(parse_date("2024-13-45"), None);
    }
}
