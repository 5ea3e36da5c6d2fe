//! Dates as feeds and page metadata write them, shared by the fetcher and
//! the cleaner: RFC 822 and its many corruptions, W3C-DTF /
//! ISO 8601 (with reduced precision and 2-digit years), asctime, and a few
//! localised forms (Greek, Hungarian, Korean) seen in real feeds. Anything
//! that is not clearly a valid instant is `None`, never a guess.

use std::sync::LazyLock;

mod month_names;
pub use month_names::month_from_name;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use regex::Regex;

pub fn parse_date(input: &str) -> Option<DateTime<Utc>> {
    let text = input.trim();
    if text.is_empty() {
        return None;
    }
    if text.contains('년') || text.contains("오전") || text.contains("오후") {
        return parse_korean(text);
    }
    let text = translate_month_names(text);
    if text.starts_with(|c: char| c.is_ascii_digit() || c == '-') {
        if let Some(date) = parse_w3dtf(&text) {
            return Some(date);
        }
        if let Some(date) = parse_iso_short(&text) {
            return Some(date);
        }
    }
    parse_rfc822_like(&text)
}

static W3DTF: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?x)^(\d{4})(?:-(\d{1,3})(?:-(\d{1,2}))?)?
        (?:[T\ ](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?\s*(Z|[+-]\d{2}:?\d{2})?)?$",
    )
    .expect("static regex")
});

fn parse_w3dtf(text: &str) -> Option<DateTime<Utc>> {
    let c = W3DTF.captures(text)?;
    let year: i32 = c[1].parse().ok()?;
    let month: u32 = c.get(2).map_or(Some(1), |m| m.as_str().parse().ok())?;
    let day: u32 = c.get(3).map_or(Some(1), |m| m.as_str().parse().ok())?;
    let date = NaiveDate::from_ymd_opt(year, month, day)?;
    let time = match c.get(4) {
        Some(h) => NaiveTime::from_hms_opt(
            h.as_str().parse().ok()?,
            c[5].parse().ok()?,
            c.get(6).map_or(Some(0), |s| s.as_str().parse().ok())?,
        )?,
        None => NaiveTime::MIN,
    };
    let offset = match c.get(7).map(|m| m.as_str()) {
        None | Some("Z") => 0,
        Some(tz) => numeric_offset(tz)?,
    };
    Some(Utc.from_utc_datetime(&date.and_time(time)) - Duration::seconds(offset))
}

/// ISO 8601's reduced forms with 2-digit years: `03-12-31`, `031231`,
/// `-03-12`, `-0312` (year and month, the leading `-` marking the century).
fn parse_iso_short(text: &str) -> Option<DateTime<Utc>> {
    static SHORT: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^(-)?(\d{2})-?(\d{2})(?:-?(\d{2}))?$").expect("static regex")
    });
    let c = SHORT.captures(text)?;
    if c.get(1).is_some() == c.get(4).is_some() {
        return None;
    }
    let year = two_digit_year(c[2].parse().ok()?);
    let date = NaiveDate::from_ymd_opt(
        year,
        c[3].parse().ok()?,
        c.get(4).map_or(Some(1), |d| d.as_str().parse().ok())?,
    )?;
    Some(Utc.from_utc_datetime(&date.and_time(NaiveTime::MIN)))
}

fn two_digit_year(year: i32) -> i32 {
    if year < 70 {
        2000 + year
    } else {
        1900 + year
    }
}

/// `+HHMM`, `+HH:MM`, `-HH` → seconds east of UTC; out-of-range is `None`.
fn numeric_offset(tz: &str) -> Option<i64> {
    let sign = match tz.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits: String = tz[1..].chars().filter(|c| *c != ':').collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) || !matches!(digits.len(), 2 | 4) {
        return None;
    }
    let hours: i64 = digits[..2].parse().ok()?;
    let minutes: i64 = if digits.len() == 4 {
        digits[2..].parse().ok()?
    } else {
        0
    };
    if hours > 23 || minutes > 59 {
        return None;
    }
    Some(sign * (hours * 3600 + minutes * 60))
}

fn named_offset(name: &str) -> Option<i64> {
    let hours = match name.to_ascii_uppercase().as_str() {
        "UT" | "UTC" | "GMT" | "Z" | "ETC/GMT" | "ETC/UTC" | "WET" => 0,
        "EST" | "ET" => -5,
        "EDT" | "AT" | "AST" => -4,
        "ADT" => -3,
        "CST" | "CT" => -6,
        "CDT" => -5,
        "MST" | "MT" => -7,
        "MDT" => -6,
        "PST" | "PT" => -8,
        "PDT" => -7,
        "AKST" => -9,
        "AKDT" => -8,
        "HST" => -10,
        "MET" | "CET" | "BST" | "WEST" => 1,
        "MEST" | "CEST" | "EET" => 2,
        "EEST" | "MSK" => 3,
        "IST" => return Some(5 * 3600 + 1800),
        "HKT" | "AWST" | "SGT" => 8,
        "JST" | "KST" => 9,
        "AEST" => 10,
        "AEDT" => 11,
        "NZST" => 12,
        "NZDT" => 13,
        _ => return None,
    };
    Some(hours * 3600)
}

fn month_number(name: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let lower = name.to_ascii_lowercase();
    if lower.len() < 3 {
        return None;
    }
    let full = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    MONTHS
        .iter()
        .position(|m| lower.starts_with(m))
        .filter(|i| {
            let i = *i;
            full[i].starts_with(&lower) || lower == "sept"
        })
        .map(|i| i as u32 + 1)
}

fn is_weekday(token: &str) -> bool {
    let lower = token.to_ascii_lowercase();
    ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .iter()
        .any(|d| lower.starts_with(d))
        && lower.len() <= 9
}

/// RFC 822 and relatives: tokens in any of the orders feeds use —
/// `Thu, 01 Jan 2004 19:48:21 GMT`, `Thu Aug 30 2012 17:26:16 +0200`,
/// `Sun Jan  4 16:29:06 2004`, `Fri, 2006/09/15 08:19:53 EDT`.
fn parse_rfc822_like(text: &str) -> Option<DateTime<Utc>> {
    let mut year: Option<i32> = None;
    let mut month: Option<u32> = None;
    let mut day: Option<u32> = None;
    let mut short_numbers: Vec<u32> = Vec::new();
    let mut time: Option<NaiveTime> = None;
    let mut offset: Option<i64> = None;
    for token in text
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|t| !t.is_empty())
    {
        if let Some(gmt_offset) = token
            .strip_prefix("GMT")
            .or_else(|| token.strip_prefix("UTC"))
            .filter(|r| !r.is_empty())
        {
            offset = Some(numeric_offset(gmt_offset)?);
        } else if token.starts_with(['+', '-']) {
            offset = Some(numeric_offset(token)?);
        } else if token.contains(':') {
            time = Some(parse_clock(token)?);
        } else if token.contains('/') && token.starts_with(|c: char| c.is_ascii_digit()) {
            let parts: Vec<&str> = token.split('/').collect();
            let [y, m, d] = parts.as_slice() else {
                return None;
            };
            year = Some(y.parse().ok()?);
            month = Some(m.parse().ok()?);
            day = Some(d.parse().ok()?);
        } else if token.chars().all(|c| c.is_ascii_digit()) {
            if token.len() == 4 {
                year = Some(token.parse().ok()?);
            } else if token.len() <= 2 {
                short_numbers.push(token.parse().ok()?);
            } else {
                return None;
            }
        } else if let Some(m) = month_number(token) {
            month = Some(m);
        } else if let Some(tz) = named_offset(token) {
            offset = Some(tz);
        } else if is_weekday(token) || !token.is_ascii() {
            // Weekday names (any language) carry no information.
        } else {
            return None;
        }
    }
    let mut numbers = short_numbers.into_iter();
    if day.is_none() {
        day = numbers.next();
    }
    if year.is_none() {
        year = numbers.next().map(|y| two_digit_year(y as i32));
    }
    let date = NaiveDate::from_ymd_opt(year?, month?, day?)?;
    let local = date.and_time(time.unwrap_or(NaiveTime::MIN));
    Some(Utc.from_utc_datetime(&local) - Duration::seconds(offset.unwrap_or(0)))
}

fn parse_clock(token: &str) -> Option<NaiveTime> {
    let parts: Vec<&str> = token.split(':').collect();
    if !(2..=3).contains(&parts.len())
        || parts
            .iter()
            .any(|p| p.is_empty() || p.len() > 2 || !p.chars().all(|c| c.is_ascii_digit()))
    {
        return None;
    }
    let second = parts.get(2).map_or(Some(0), |s| s.parse().ok())?;
    NaiveTime::from_hms_opt(parts[0].parse().ok()?, parts[1].parse().ok()?, second)
}

/// Greek and Hungarian month names become English ones so one grammar
/// handles them.
fn translate_month_names(text: &str) -> String {
    const NAMES: &[(&str, &str)] = &[
        ("Ιαν", "Jan"),
        ("Φεβ", "Feb"),
        ("Μάώ", "Mar"),
        ("Μάρ", "Mar"),
        ("Μαρ", "Mar"),
        ("Απρ", "Apr"),
        ("Μάι", "May"),
        ("Μαΐ", "May"),
        ("Μαι", "May"),
        ("Ιούν", "Jun"),
        ("Ιουν", "Jun"),
        ("Ιούλ", "Jul"),
        ("Ιουλ", "Jul"),
        ("Αύγ", "Aug"),
        ("Αυγ", "Aug"),
        ("Σεπ", "Sep"),
        ("Οκτ", "Oct"),
        ("Νοέ", "Nov"),
        ("Νοε", "Nov"),
        ("Δεκ", "Dec"),
        ("január", "01"),
        ("február", "02"),
        ("március", "03"),
        ("április", "04"),
        ("május", "05"),
        ("június", "06"),
        ("július", "07"),
        ("augusztus", "08"),
        ("szeptember", "09"),
        ("október", "10"),
        ("november", "11"),
        ("december", "12"),
    ];
    let mut out = text.to_string();
    for (local, english) in NAMES {
        // Hungarian names sit between hyphens in an ISO-like date.
        if english.starts_with(|c: char| c.is_ascii_digit()) {
            let pattern = format!("-{local}-");
            if out.contains(&pattern) {
                out = out.replace(&pattern, &format!("-{english}-"));
            }
        } else if out.contains(local) {
            out = out.replace(local, english);
        }
    }
    out
}

/// `2004-05-25 오후 11:23:17` and `2004년 05월 28일  01:31:15`, Korean time.
fn parse_korean(text: &str) -> Option<DateTime<Utc>> {
    static KOREAN: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^(\d{4})(?:-|년\s*)(\d{1,2})(?:-|월\s*)(\d{1,2})일?\s+(오전|오후)?\s*(\d{1,2}):(\d{2}):(\d{2})$")
            .expect("static regex")
    });
    let c = KOREAN.captures(text)?;
    let mut hour: u32 = c[5].parse().ok()?;
    match c.get(4).map(|m| m.as_str()) {
        Some("오후") if hour < 12 => hour += 12,
        Some("오전") if hour == 12 => hour = 0,
        _ => {}
    }
    let date = NaiveDate::from_ymd_opt(c[1].parse().ok()?, c[2].parse().ok()?, c[3].parse().ok()?)?;
    let time = NaiveTime::from_hms_opt(hour, c[6].parse().ok()?, c[7].parse().ok()?)?;
    Some(Utc.from_utc_datetime(&date.and_time(time)) - Duration::hours(9))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iso(text: &str) -> Option<String> {
        parse_date(text).map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
    }

    #[test]
    fn common_feed_dates() {
        assert_eq!(
            iso("Thu, 01 Jan 2004 19:48:21 GMT").as_deref(),
            Some("2004-01-01T19:48:21Z")
        );
        assert_eq!(
            iso("2003-12-31T18:14:55+08:00").as_deref(),
            Some("2003-12-31T10:14:55Z")
        );
        assert_eq!(
            iso("Wed, 19 Feb 2012 22:40:00 GMT-01:01").as_deref(),
            Some("2012-02-19T23:41:00Z")
        );
        assert_eq!(
            iso("Sun Jul 15 01:16:00 +0000 2012").as_deref(),
            Some("2012-07-15T01:16:00Z")
        );
        assert_eq!(
            iso("2004년 05월 28일  01:31:15").as_deref(),
            Some("2004-05-27T16:31:15Z")
        );
    }

    #[test]
    fn invalid_dates_are_none() {
        for bad in [
            "",
            "Sun, 16 Dec 2012 1:2:3:4 GMT",
            "Sun, 99 Jun 2009 12:00:00 GMT",
            "2003-12-31T25:14:55Z",
            "2013-01-28T11:30:00-06:00Textra",
        ] {
            assert_eq!(iso(bad), None, "{bad}");
        }
    }
}
