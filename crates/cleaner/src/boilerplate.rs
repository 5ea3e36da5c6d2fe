//! Words that page templates print around a story, in the common European
//! languages: a short line that is only such words is furniture ("Teilen",
//! "Publicité"), and a heading that opens such a block ("Mehr zum Thema",
//! "Lire aussi", "Comentarios", "Über den Autor") starts the end of the story.
//!
//! English, German, French, Spanish, Italian, Polish, Portuguese, Dutch.

/// Short lines that are page furniture in any outlet's template, compared
/// lower-case with surrounding punctuation trimmed.
const FURNITURE: &[&str] = &[
    // English
    "advert",
    "advertisement",
    "advertisements",
    "comments",
    "comment",
    "add comment",
    "leave a comment",
    "tell us what you think",
    "print",
    "story continues below",
    "story continues below advertisement",
    "continue reading",
    "continue reading below",
    "article continues below",
    "read more",
    "related",
    "related articles",
    "related stories",
    "share this article",
    "share",
    "share this",
    "sponsored",
    "skip advertisement",
    "supported by",
    "listen to this article",
    "click here",
    "(ap)",
    "be sociable, share",
    // German
    "anzeige",
    "werbung",
    "teilen",
    "drucken",
    "kommentare",
    "kommentieren",
    "weiterlesen",
    "mehr lesen",
    "artikel teilen",
    "bild anzeigen",
    "zum artikel",
    "mehr anzeigen",
    "artikel vorlesen",
    "merken",
    // French
    "publicité",
    "partager",
    "imprimer",
    "commentaires",
    "lire la suite",
    "lire aussi",
    "à lire aussi",
    "voir aussi",
    "commenter",
    // Spanish
    "publicidad",
    "compartir",
    "imprimir",
    "comentarios",
    "leer más",
    "seguir leyendo",
    "lee también",
    "ver más",
    // Italian
    "pubblicità",
    "condividi",
    "stampa",
    "commenti",
    "leggi anche",
    "continua a leggere",
    "leggi di più",
    // Polish
    "reklama",
    "udostępnij",
    "drukuj",
    "komentarze",
    "czytaj więcej",
    "czytaj dalej",
    "czytaj też",
    "czytaj także",
    "zobacz też",
    "zobacz także",
    // Portuguese
    "publicidade",
    "compartilhar",
    "compartilhe",
    "partilhar",
    "imprimir",
    "comentários",
    "leia mais",
    "leia também",
    "continue lendo",
    // Dutch
    "advertentie",
    "delen",
    "afdrukken",
    "reacties",
    "lees meer",
    "lees ook",
    "lees verder",
];

/// Openings of headings over a block of other stories, comments, the
/// author's profile or follow-up links: the story is over where they start.
const BLOCK_OPENERS: &[&str] = &[
    // English
    "related",
    "read more",
    "read also",
    "more from",
    "more on this",
    "more stories",
    "more news",
    "you might also like",
    "you may also like",
    "recommended",
    "about the author",
    "most read",
    "most popular",
    "latest news",
    "latest articles",
    "latest posts",
    "share this",
    "comments",
    "leave a reply",
    "leave a comment",
    "stay up-to-date",
    "stay up to date",
    "sign up for",
    "subscribe to",
    // German
    "mehr zum thema",
    "mehr zu diesem thema",
    "auch interessant",
    "das könnte sie auch",
    "das könnte dich auch",
    "das thema könnte",
    "lesen sie auch",
    "lesen sie mehr",
    "lies auch",
    "weitere artikel",
    "weitere beiträge",
    "weitere themen",
    "weitere meldungen",
    "weitere nachrichten",
    "weitere informationen",
    "weiterführende",
    "ähnliche beiträge",
    "ähnliche artikel",
    "verwandte artikel",
    "verwandte themen",
    "neueste artikel",
    "neueste beiträge",
    "meistgelesen",
    "beliebte beiträge",
    "über den autor",
    "über die autorin",
    "zum autor",
    "zur autorin",
    "kommentare",
    "schreibe einen kommentar",
    "hinterlasse einen kommentar",
    "diesen artikel teilen",
    "lust auf mehr",
    "quellenangaben",
    "newsletter",
    // French
    "lire aussi",
    "à lire aussi",
    "a lire aussi",
    "voir aussi",
    "sur le même sujet",
    "articles similaires",
    "articles liés",
    "à propos de l'auteur",
    "commentaires",
    "laisser un commentaire",
    "les plus lus",
    "derniers articles",
    "vous aimerez aussi",
    "dans la même rubrique",
    "à découvrir aussi",
    // Spanish
    "lee también",
    "lea también",
    "te puede interesar",
    "también te puede interesar",
    "noticias relacionadas",
    "artículos relacionados",
    "contexto de la noticia",
    "comentarios",
    "deja un comentario",
    "lo más leído",
    "más noticias",
    "últimas noticias",
    "sobre el autor",
    // Italian
    "leggi anche",
    "potrebbe interessarti",
    "ti potrebbe interessare",
    "articoli correlati",
    "notizie correlate",
    "commenti",
    "lascia un commento",
    "i più letti",
    "ultime notizie",
    "sull'autore",
    // Polish
    "czytaj też",
    "czytaj także",
    "zobacz też",
    "zobacz także",
    "polecamy",
    "podobne artykuły",
    "powiązane artykuły",
    "komentarze",
    "najczęściej czytane",
    "najnowsze",
    "o autorze",
    // Portuguese
    "leia também",
    "leia mais",
    "veja também",
    "notícias relacionadas",
    "artigos relacionados",
    "comentários",
    "deixe um comentário",
    "mais lidas",
    "sobre o autor",
    // Dutch
    "lees ook",
    "lees meer",
    "gerelateerde artikelen",
    "gerelateerd",
    "meer over dit onderwerp",
    "reacties",
    "meest gelezen",
    "over de auteur",
];

/// Lines longer than this are prose whatever words they hold.
const FURNITURE_MAX_CHARS: usize = 60;
/// Headings longer than this are a section of the story, not a block's label.
const OPENER_MAX_CHARS: usize = 80;

fn normalised(text: &str) -> String {
    text.trim_matches(|c: char| !c.is_alphanumeric() && c != '(' && c != ')')
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// A short line made only of template words.
pub fn is_furniture_line(line: &str) -> bool {
    line.chars().count() <= FURNITURE_MAX_CHARS && FURNITURE.contains(&normalised(line).as_str())
}

/// A line of its own that only labels a block of other stories, comments
/// or the author's profile ("Lesen Sie auch die folgenden Beiträge:",
/// "Über den Autor"), printed as a paragraph rather than a heading: short,
/// and no sentence after the label.
pub fn is_block_label_line(line: &str) -> bool {
    line.chars().count() <= FURNITURE_MAX_CHARS
        && !line.trim_end().ends_with('.')
        && opens_boilerplate_block(line)
}

/// A heading that labels a block of other stories, comments or the author's
/// profile: the phrase, then nothing or a word boundary ("Mehr zum Thema
/// Energie", "Comments (12)").
pub fn opens_boilerplate_block(heading: &str) -> bool {
    if heading.chars().count() > OPENER_MAX_CHARS {
        return false;
    }
    let heading = normalised(heading);
    BLOCK_OPENERS.iter().any(|opener| {
        heading
            .strip_prefix(opener)
            .is_some_and(|rest| rest.chars().next().is_none_or(|c| !c.is_alphanumeric()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn furniture_lines_of_every_language_are_recognised() {
        for line in [
            "Teilen",
            "Publicité",
            "Leer más…",
            "Udostępnij",
            "Lees ook:",
            "ANZEIGE",
            "Share",
        ] {
            assert!(is_furniture_line(line), "{line}");
        }
        assert!(!is_furniture_line(
            "Teilen ist die Grundlage der Genossenschaft."
        ));
    }

    #[test]
    fn block_labels_printed_as_paragraphs_are_recognised() {
        for line in [
            "Lesen Sie auch die folgenden Beiträge:",
            "Das Thema könnte dich auch interessieren:",
            "Über den Autor",
            "Lire aussi",
        ] {
            assert!(is_block_label_line(line), "{line}");
        }
        for line in [
            "Weitere Informationen zum Verfahren gibt das Amt auf Anfrage.",
            "Related stories of loss and hope were shared by the survivors at the memorial service on Sunday",
        ] {
            assert!(!is_block_label_line(line), "{line}");
        }
    }

    #[test]
    fn block_openers_of_every_language_are_recognised() {
        for heading in [
            "Mehr zum Thema",
            "Mehr zum Thema auf Example.de",
            "Das könnte Sie auch interessieren:",
            "À lire aussi",
            "Noticias relacionadas",
            "Leggi anche",
            "Czytaj także:",
            "Leia também",
            "Lees ook",
            "Über den Autor",
            "Comments (12)",
        ] {
            assert!(opens_boilerplate_block(heading), "{heading}");
        }
        for heading in [
            "Relatedness of species",
            "Kommentarlos durch die Krise",
            "Die Ergebnisse",
        ] {
            assert!(!opens_boilerplate_block(heading), "{heading}");
        }
    }
}
