//! The body's language as an ISO 639-3 code, from the text itself; the
//! page's `<html lang>` only settles a detection that is unsure.

use crate::CleanerConfig;

/// Confidence at which an unreliable detection is kept when the page declares no language.
const MIN_UNDECLARED_CONFIDENCE: f64 = 0.5;

pub fn detect_language(
    body: &str,
    declared: Option<&str>,
    config: &CleanerConfig,
) -> Option<String> {
    let sample_end = body
        .char_indices()
        .nth(config.language_sample_chars)
        .map_or(body.len(), |(i, _)| i);
    let info = whatlang::detect(&body[..sample_end])?;
    let guess = info.lang().code();
    if info.is_reliable() {
        return Some(guess.to_string());
    }
    // Unsure: a declared language settles it; without one, a guess more
    // likely right than not is kept.
    let accepted = match declared.and_then(|d| d.split(['-', '_']).next()) {
        Some(declared) => iso639_1_to_3(declared) == Some(guess),
        None => info.confidence() >= MIN_UNDECLARED_CONFIDENCE,
    };
    accepted.then(|| guess.to_string())
}

/// The two-letter codes pages declare, for the languages whatlang knows.
fn iso639_1_to_3(code: &str) -> Option<&'static str> {
    Some(match code {
        "en" => "eng",
        "de" => "deu",
        "fr" => "fra",
        "es" => "spa",
        "it" => "ita",
        "pt" => "por",
        "nl" => "nld",
        "ru" => "rus",
        "uk" => "ukr",
        "pl" => "pol",
        "cs" => "ces",
        "sk" => "slk",
        "sv" => "swe",
        "da" => "dan",
        "nb" | "no" => "nob",
        "fi" => "fin",
        "tr" => "tur",
        "az" => "aze",
        "hy" => "hye",
        "ka" => "kat",
        "ar" => "ara",
        "fa" => "pes",
        "he" => "heb",
        "hi" => "hin",
        "zh" => "cmn",
        "ja" => "jpn",
        "ko" => "kor",
        "el" => "ell",
        "hu" => "hun",
        "ro" => "ron",
        "bg" => "bul",
        "sr" => "srp",
        "hr" => "hrv",
        "lt" => "lit",
        "lv" => "lav",
        "et" => "est",
        "id" => "ind",
        "vi" => "vie",
        "th" => "tha",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_and_russian_are_detected() {
        let config = CleanerConfig::default();
        let en = "The president arrived in Baku on Monday for talks with his counterpart about the peace treaty.";
        assert_eq!(detect_language(en, None, &config).as_deref(), Some("eng"));
        let ru =
            "Президент прибыл в Баку в понедельник для переговоров о мирном договоре с коллегой.";
        assert_eq!(
            detect_language(ru, Some("ru"), &config).as_deref(),
            Some("rus")
        );
    }

    #[test]
    fn empty_text_has_no_language() {
        assert_eq!(
            detect_language("", Some("en"), &CleanerConfig::default()),
            None
        );
    }
}
