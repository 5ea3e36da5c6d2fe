//! Month names of the common European languages, for dates printed for
//! readers ("5. März 2024", "le 5 mars 2024", "5 de marzo de 2024",
//! "5 marca 2024"). Feeds use English names; pages use their own language's.

/// Full month names (and the Polish genitive, which dates use) by language:
/// English, German, French, Spanish, Italian, Polish, Portuguese, Dutch.
const NAMES: [&[&str]; 12] = [
    &[
        "january", "januar", "jänner", "janvier", "enero", "gennaio", "styczeń", "stycznia",
        "janeiro", "januari",
    ],
    &[
        "february",
        "februar",
        "feber",
        "février",
        "fevrier",
        "febrero",
        "febbraio",
        "luty",
        "lutego",
        "fevereiro",
        "februari",
    ],
    &[
        "march", "märz", "maerz", "mars", "marzo", "marzec", "marca", "março", "marco", "maart",
    ],
    &["april", "avril", "abril", "aprile", "kwiecień", "kwietnia"],
    &["may", "mai", "mayo", "maggio", "maj", "maja", "maio", "mei"],
    &[
        "june", "juni", "juin", "junio", "giugno", "czerwiec", "czerwca", "junho",
    ],
    &[
        "july", "juli", "juillet", "julio", "luglio", "lipiec", "lipca", "julho",
    ],
    &[
        "august",
        "août",
        "aout",
        "agosto",
        "sierpień",
        "sierpnia",
        "augustus",
    ],
    &[
        "september",
        "septembre",
        "septiembre",
        "setiembre",
        "settembre",
        "wrzesień",
        "września",
        "setembro",
    ],
    &[
        "october",
        "oktober",
        "octobre",
        "octubre",
        "ottobre",
        "październik",
        "października",
        "outubro",
    ],
    &[
        "november",
        "novembre",
        "noviembre",
        "listopad",
        "listopada",
        "novembro",
    ],
    &[
        "december",
        "dezember",
        "décembre",
        "decembre",
        "diciembre",
        "dicembre",
        "grudzień",
        "grudnia",
        "dezembro",
    ],
];

/// Shortest abbreviation read ("mar", "déc", "paź"): two letters name
/// nothing unambiguously.
const MIN_ABBREVIATION: usize = 3;

/// The month (1–12) a word names in any of the languages above, written out
/// or abbreviated ("Sept", "févr", "paź"), in any case. `None` when the
/// word names no month or could name more than one.
pub fn month_from_name(word: &str) -> Option<u32> {
    let word = word.trim_end_matches('.');
    if word.chars().count() < MIN_ABBREVIATION || !word.chars().all(char::is_alphabetic) {
        return None;
    }
    let lower = word.to_lowercase();
    let mut found = None;
    for (index, names) in NAMES.iter().enumerate() {
        if names.iter().any(|name| name.starts_with(lower.as_str())) {
            if found.is_some_and(|f| f != index) {
                return None;
            }
            found = Some(index);
        }
    }
    found.map(|index| index as u32 + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_names_of_every_language_are_read() {
        for (word, month) in [
            ("März", 3),
            ("mars", 3),
            ("marzo", 3),
            ("marca", 3),
            ("março", 3),
            ("maart", 3),
            ("Dezember", 12),
            ("grudnia", 12),
            ("août", 8),
            ("sierpnia", 8),
            ("października", 10),
            ("mei", 5),
            ("giugno", 6),
            ("Jänner", 1),
        ] {
            assert_eq!(month_from_name(word), Some(month), "{word}");
        }
    }

    #[test]
    fn abbreviations_are_read_when_they_name_one_month() {
        for (word, month) in [
            ("Sept.", 9),
            ("févr", 2),
            ("déc", 12),
            ("paź", 10),
            ("Okt", 10),
            ("gen", 1),
        ] {
            assert_eq!(month_from_name(word), Some(month), "{word}");
        }
    }

    #[test]
    fn words_naming_no_single_month_are_none() {
        for word in ["ma", "ju", "Montag", "the", "2024", "mär2"] {
            assert_eq!(month_from_name(word), None, "{word}");
        }
    }
}
