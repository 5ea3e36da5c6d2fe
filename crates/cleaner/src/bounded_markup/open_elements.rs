//! A model of the HTML parser's stack of open elements and list of active
//! formatting elements, kept so that it never holds fewer entries than the
//! parser would: where the model cannot tell whether the parser closes an
//! element, it keeps it open. Every question (is `p` in button scope, is
//! there a `b` after the last marker) is answered in constant time from
//! per-name and per-category position lists, so a hostile page cannot make
//! the model itself quadratic.

use std::collections::HashMap;

use super::element_kinds as kinds;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Namespace {
    Html,
    Svg,
    MathMl,
}

struct Entry {
    /// The interned key: the name, `svg:`/`math:`-prefixed for foreign ones.
    key: u32,
    namespace: Namespace,
    integration_point: bool,
    /// This entry (a marker or a scope boundary) set a floor on the
    /// formatting list: the list's length then, and whether closing the
    /// element clears the list back to it.
    floor: Option<(usize, bool)>,
}

/// Categories whose topmost member the scope searches need.
#[derive(Clone, Copy)]
enum Category {
    /// Ends a search in the default scope.
    Scope,
    /// Ends a search in button scope (default scope and `button`).
    ButtonScope,
    /// Ends a search in list item scope (default scope, `ol`, `ul`).
    ListScope,
    /// Ends a search in table scope.
    TableScope,
    /// Ends a search in select scope (all but `option`, `optgroup`).
    SelectScope,
    /// Ends the search of an end tag for its element, and the `li`/`dd`
    /// start tag's search for an open one (except `address`, `div`, `p`).
    Special,
    SpecialForListItems,
    /// HTML elements (foreign end tags look only above the topmost).
    Html,
}

const CATEGORIES: usize = 8;

pub struct OpenElements {
    entries: Vec<Entry>,
    /// Keys seen so far, each with its number and its categories.
    keys: HashMap<Box<str>, (u32, u8)>,
    /// Stack positions of open elements, by key number.
    positions: Vec<Vec<u32>>,
    categories: [Vec<u32>; CATEGORIES],
    /// Names on the list of active formatting elements, oldest first.
    formatting: Vec<&'static str>,
    /// Of those, the ones other than `a` (an `a` replaces the open one).
    formatting_other_than_a: usize,
    /// Formatting-list lengths below which an end tag cannot remove an
    /// entry: one per open marker or scope boundary.
    floors: Vec<usize>,
    /// Key numbers and categories of `COMMON_NAMES`, in order.
    common: Vec<(u32, u8)>,
}

/// The names most tags have, and those the scope searches ask for: looked
/// up by a `match` instead of hashing.
const COMMON_NAMES: [&str; 40] = [
    "p", "li", "dd", "dt", "td", "th", "tr", "tbody", "thead", "tfoot", "button", "select",
    "option", "optgroup", "a", "template", "table", "h1", "h2", "h3", "h4", "h5", "h6", "div",
    "span", "ul", "ol", "section", "article", "strong", "em", "b", "i", "figure", "header",
    "footer", "nav", "main", "aside", "time",
];

/// `COMMON_NAMES.iter().position(..)`, as a `match` the compiler turns
/// into a switch on length and a comparison or two.
fn common_index(name: &str) -> Option<usize> {
    Some(match name {
        "p" => 0,
        "li" => 1,
        "dd" => 2,
        "dt" => 3,
        "td" => 4,
        "th" => 5,
        "tr" => 6,
        "tbody" => 7,
        "thead" => 8,
        "tfoot" => 9,
        "button" => 10,
        "select" => 11,
        "option" => 12,
        "optgroup" => 13,
        "a" => 14,
        "template" => 15,
        "table" => 16,
        "h1" => 17,
        "h2" => 18,
        "h3" => 19,
        "h4" => 20,
        "h5" => 21,
        "h6" => 22,
        "div" => 23,
        "span" => 24,
        "ul" => 25,
        "ol" => 26,
        "section" => 27,
        "article" => 28,
        "strong" => 29,
        "em" => 30,
        "b" => 31,
        "i" => 32,
        "figure" => 33,
        "header" => 34,
        "footer" => 35,
        "nav" => 36,
        "main" => 37,
        "aside" => 38,
        "time" => 39,
        _ => return None,
    })
}

impl OpenElements {
    pub fn new() -> Self {
        let mut open = OpenElements {
            entries: Vec::with_capacity(64),
            keys: HashMap::default(),
            positions: Vec::new(),
            categories: Default::default(),
            formatting: Vec::new(),
            formatting_other_than_a: 0,
            floors: Vec::new(),
            common: Vec::with_capacity(COMMON_NAMES.len()),
        };
        // Numbered in list order, so `common_key` finds them without hashing.
        for name in COMMON_NAMES {
            debug_assert_eq!(common_index(name), Some(open.common.len()));
            let known = open.intern(name, true);
            open.common.push(known);
        }
        open
    }

    pub fn depth(&self) -> usize {
        self.entries.len()
    }

    pub fn formatting_other_than_a(&self) -> usize {
        self.formatting_other_than_a
    }

    pub fn formatting_len(&self) -> usize {
        self.formatting.len()
    }

    fn top(&self) -> Option<&Entry> {
        self.entries.last()
    }

    pub fn top_is(&self, name: &str) -> bool {
        let key = self.known_key(name).map(|(key, _)| key);
        self.top()
            .is_some_and(|e| e.namespace == Namespace::Html && Some(e.key) == key)
    }

    /// Whether start tags are read as SVG/MathML rather than HTML: the
    /// current element is foreign and not an integration point.
    pub fn in_foreign_content(&self) -> bool {
        self.top()
            .is_some_and(|e| e.namespace != Namespace::Html && !e.integration_point)
    }

    pub fn top_namespace(&self) -> Namespace {
        self.top().map_or(Namespace::Html, |e| e.namespace)
    }

    fn known_key(&self, key: &str) -> Option<(u32, u8)> {
        match common_index(key) {
            Some(index) => self.common.get(index).copied(),
            None => self.keys.get(key).copied(),
        }
    }

    fn topmost(&self, key: &str) -> Option<usize> {
        let (key, _) = self.known_key(key)?;
        self.positions[key as usize].last().map(|&p| p as usize)
    }

    fn topmost_in(&self, category: Category) -> Option<usize> {
        self.categories[category as usize]
            .last()
            .map(|&p| p as usize)
    }

    /// Where the HTML element `name` is on the stack if no element of
    /// `category` stands above it.
    fn in_scope(&self, name: &str, category: Category) -> Option<usize> {
        let at = self.topmost(name)?;
        match self.topmost_in(category) {
            Some(bound) if bound > at => None,
            _ => Some(at),
        }
    }

    pub fn find_in_scope(&self, name: &str) -> Option<usize> {
        self.in_scope(name, Category::Scope)
    }

    pub fn find_in_button_scope(&self, name: &str) -> Option<usize> {
        self.in_scope(name, Category::ButtonScope)
    }

    pub fn find_in_list_scope(&self, name: &str) -> Option<usize> {
        self.in_scope(name, Category::ListScope)
    }

    pub fn find_in_table_scope(&self, name: &str) -> Option<usize> {
        self.in_scope(name, Category::TableScope)
    }

    pub fn find_in_select_scope(&self, name: &str) -> Option<usize> {
        self.in_scope(name, Category::SelectScope)
    }

    /// Whether an HTML element `name` is open anywhere on the stack.
    pub fn is_open(&self, name: &str) -> bool {
        self.topmost(name).is_some()
    }

    /// The topmost open `name` with no special element above it.
    pub fn find_above_special(&self, name: &str) -> Option<usize> {
        self.in_scope(name, Category::Special)
    }

    /// The topmost open `name` (an `li`, `dd`, `dt`) with no special
    /// element other than `address`, `div` and `p` above it.
    pub fn find_list_item(&self, name: &str) -> Option<usize> {
        self.in_scope(name, Category::SpecialForListItems)
    }

    /// The topmost foreign element `key` above every HTML element.
    pub fn find_foreign(&self, key: &str) -> Option<usize> {
        self.in_scope(key, Category::Html)
    }

    /// Pops entries until the stack is `len` long.
    pub fn truncate(&mut self, len: usize) {
        while self.entries.len() > len {
            self.pop();
        }
    }

    fn pop(&mut self) {
        let Some(entry) = self.entries.pop() else {
            return;
        };
        let at = self.entries.len() as u32;
        self.positions[entry.key as usize].pop();
        for list in &mut self.categories {
            if list.last() == Some(&at) {
                list.pop();
            }
        }
        if let Some((floor, clears)) = entry.floor {
            self.floors.pop();
            if clears {
                self.clear_formatting_to(floor);
            }
        }
    }

    fn clear_formatting_to(&mut self, len: usize) {
        while self.formatting.len() > len {
            if let Some(name) = self.formatting.pop() {
                if name != "a" {
                    self.formatting_other_than_a -= 1;
                }
            }
        }
    }

    /// Pops foreign elements until the current one is HTML or an
    /// integration point (a breakout tag or `</p>`/`</br>` in SVG/MathML).
    pub fn pop_foreign(&mut self) {
        while self.in_foreign_content() {
            self.pop();
        }
    }

    pub fn push(&mut self, name: &str, namespace: Namespace) {
        let at = self.entries.len() as u32;
        let html = namespace == Namespace::Html;
        let (key, categories) = match namespace {
            Namespace::Html => self.intern(name, html),
            Namespace::Svg => self.intern(&format!("svg:{name}"), html),
            Namespace::MathMl => self.intern(&format!("math:{name}"), html),
        };
        for (index, list) in self.categories.iter_mut().enumerate() {
            if categories & (1 << index) != 0 {
                list.push(at);
            }
        }
        // Markers clear the formatting list back when closed; scope
        // boundaries (and select, whose end tags the parser ignores inside)
        // only stop end tags from removing what came before them.
        let floor = if html && kinds::is_marker(name) {
            Some((self.formatting.len(), true))
        } else if !html || matches!(name, "table" | "select" | "html") {
            Some((self.formatting.len(), false))
        } else {
            None
        };
        if let Some((len, _)) = floor {
            self.floors.push(len);
        }
        self.positions[key as usize].push(at);
        self.entries.push(Entry {
            key,
            namespace,
            integration_point: !html && kinds::is_integration_point(name),
            floor,
        });
    }

    /// The number of a key and its categories, numbering it if new.
    fn intern(&mut self, key: &str, html: bool) -> (u32, u8) {
        if let Some(known) = self.known_key(key) {
            return known;
        }
        let name = key.split_once(':').map_or(key, |(_, local)| local);
        let mut categories = 0u8;
        for (index, category) in ALL_CATEGORIES.into_iter().enumerate() {
            if is_in(category, name, html) {
                categories |= 1 << index;
            }
        }
        let number = self.positions.len() as u32;
        self.positions.push(Vec::new());
        // Common names are found through `common` (set up for every page,
        // so never hashed nor allocated).
        if common_index(key).is_none() {
            self.keys.insert(key.into(), (number, categories));
        }
        (number, categories)
    }

    fn formatting_floor(&self) -> usize {
        self.floors.last().copied().unwrap_or(0)
    }

    /// Where the newest formatting entry `name` after the last marker is.
    fn formatting_entry(&self, name: &str) -> Option<usize> {
        let floor = self.formatting_floor();
        self.formatting[floor..]
            .iter()
            .rposition(|n| *n == name)
            .map(|i| floor + i)
    }

    pub fn has_formatting_entry(&self, name: &str) -> bool {
        self.formatting_entry(name).is_some()
    }

    pub fn add_formatting(&mut self, name: &'static str) {
        if name != "a" {
            self.formatting_other_than_a += 1;
        }
        self.formatting.push(name);
    }

    /// Removes the newest entry `name` after the last marker, as the
    /// adoption agency algorithm does when it finds one.
    pub fn remove_formatting(&mut self, name: &str) -> bool {
        let Some(at) = self.formatting_entry(name) else {
            return false;
        };
        self.formatting.remove(at);
        if name != "a" {
            self.formatting_other_than_a -= 1;
        }
        true
    }
}

const ALL_CATEGORIES: [Category; CATEGORIES] = [
    Category::Scope,
    Category::ButtonScope,
    Category::ListScope,
    Category::TableScope,
    Category::SelectScope,
    Category::Special,
    Category::SpecialForListItems,
    Category::Html,
];

fn is_in(category: Category, name: &str, html: bool) -> bool {
    if !html {
        // Foreign elements end every search: the model does not track
        // which of them the standard lists, and stopping early only keeps
        // more open.
        return !matches!(category, Category::Html);
    }
    match category {
        Category::Scope => kinds::bounds_scope(name),
        Category::ButtonScope => kinds::bounds_scope(name) || name == "button",
        Category::ListScope => kinds::bounds_scope(name) || matches!(name, "ol" | "ul"),
        Category::TableScope => kinds::bounds_table_scope(name),
        Category::SelectScope => !matches!(name, "option" | "optgroup"),
        Category::Special => kinds::is_special(name),
        Category::SpecialForListItems => {
            kinds::is_special(name) && !matches!(name, "address" | "div" | "p")
        }
        Category::Html => true,
    }
}
