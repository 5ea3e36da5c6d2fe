fn main() {
    let path = std::env::args().nth(1).unwrap();
    let needle = std::env::args().nth(2).unwrap();
    let text = String::from_utf8_lossy(&std::fs::read(path).unwrap()).into_owned();
    let html = scraper::Html::parse_document(&text);
    for node in html.tree.nodes() {
        if let scraper::Node::Text(t) = node.value() {
            if t.contains(needle.as_str()) {
                let mut cur = node.parent();
                while let Some(n) = cur {
                    if let Some(e) = n.value().as_element() {
                        println!(
                            "{} {:?} {:?} style={:?} hidden={:?}",
                            e.name(),
                            e.id(),
                            e.attr("class").map(|c| &c[..c.len().min(60)]),
                            e.attr("style"),
                            e.attr("aria-hidden")
                        );
                    }
                    cur = n.parent();
                }
                println!("--");
            }
        }
    }
}
