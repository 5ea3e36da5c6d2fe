//! The JSON Feed counterpart of `bound_markup`: reads the document once with
//! serde_json (whose recursion limit of 128 levels stays on: a deeper
//! document is refused, never a stack overflow) and keeps at most N items,
//! skipping the rest without building them.

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// The document with at most `max_items` items, and how many were left out.
/// A document within the limit comes back as it was.
pub(crate) fn bound_json_items(
    text: &str,
    max_items: usize,
) -> Result<(Cow<'_, str>, usize), serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let (document, dropped) = TopLevel { max_items }.deserialize(&mut deserializer)?;
    deserializer.end()?;
    if dropped == 0 {
        return Ok((Cow::Borrowed(text), 0));
    }
    Ok((
        Cow::Owned(serde_json::to_string(&Value::Object(document))?),
        dropped,
    ))
}

struct TopLevel {
    max_items: usize,
}

impl<'de> DeserializeSeed<'de> for TopLevel {
    type Value = (Map<String, Value>, usize);

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for TopLevel {
    type Value = (Map<String, Value>, usize);

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON Feed object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut document = Map::new();
        let mut dropped = 0;
        while let Some(key) = map.next_key::<String>()? {
            if key == "items" {
                let (items, left_out) = map.next_value_seed(CappedItems {
                    max_items: self.max_items,
                })?;
                dropped += left_out;
                document.insert(key, items);
            } else {
                document.insert(key, map.next_value::<Value>()?);
            }
        }
        Ok((document, dropped))
    }
}

struct CappedItems {
    max_items: usize,
}

impl<'de> DeserializeSeed<'de> for CappedItems {
    type Value = (Value, usize);

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for CappedItems {
    type Value = (Value, usize);

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of items")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        let mut dropped = 0;
        while items.len() < self.max_items {
            match seq.next_element::<Value>()? {
                Some(item) => items.push(item),
                None => return Ok((Value::Array(items), 0)),
            }
        }
        // Skipped without being built (serde_json skips iteratively).
        while seq.next_element::<IgnoredAny>()?.is_some() {
            dropped += 1;
        }
        Ok((Value::Array(items), dropped))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_past_the_limit_are_left_out() {
        let items: Vec<String> = (0..10).map(|i| format!("{{\"id\":\"{i}\"}}")).collect();
        let text = format!("{{\"version\":\"x\",\"items\":[{}]}}", items.join(","));
        let (bounded, dropped) = bound_json_items(&text, 3).unwrap();
        assert_eq!(dropped, 7);
        let value: Value = serde_json::from_str(&bounded).unwrap();
        assert_eq!(value["items"].as_array().unwrap().len(), 3);
        assert_eq!(value["items"][2]["id"], "2");
        let (same, dropped) = bound_json_items(&text, 10).unwrap();
        assert_eq!((same.as_ref(), dropped), (text.as_str(), 0));
    }

    #[test]
    fn deep_nesting_is_refused_not_a_stack_overflow() {
        let depth = 200_000;
        let text = format!(
            "{{\"items\":[{{\"x\":{}1{}}}]}}",
            "[".repeat(depth),
            "]".repeat(depth)
        );
        assert!(bound_json_items(&text, 10).is_err());
        // Also where the items are skipped rather than read.
        let text = format!(
            "{{\"items\":[{{}},{{\"x\":{}1{}}}]}}",
            "[".repeat(depth),
            "]".repeat(depth)
        );
        assert!(bound_json_items(&text, 1).is_ok());
    }
}
