//! A subscription's `fields`: the paths of `data` its receiver asked for, the simple form of
//! Saleor's payload selection. Deliveries carry `data` trimmed to them; everything else of
//! the envelope stays. Paths are written as in filters (`data.total`, `data.customer.email`)
//! and go through lists into each element (`data.items.sku` keeps each item's `sku`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::ValidationError;

/// The most paths a selection holds.
pub const MAX_FIELDS: usize = 50;
/// The most segments of a path, `data` included.
pub const MAX_SEGMENTS: usize = 16;
/// The longest path, in bytes.
pub const MAX_PATH_BYTES: usize = 256;

/// Validated paths into `data`, kept as written (duplicates dropped).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<String>", into = "Vec<String>")]
pub struct Selection(Vec<String>);

/// The paths as a tree: a leaf keeps the whole value below it.
#[derive(Default)]
struct Tree(BTreeMap<String, Tree>);

impl Selection {
    /// 1 to [`MAX_FIELDS`] paths, each `data.` and one or more field names.
    pub fn parse(paths: &[String]) -> Result<Self, ValidationError> {
        if paths.is_empty() || paths.len() > MAX_FIELDS {
            return Err(ValidationError::new(
                "fields",
                format!("must list 1 to {MAX_FIELDS} paths into data, such as data.total"),
            ));
        }
        let mut kept: Vec<String> = Vec::with_capacity(paths.len());
        for (i, path) in paths.iter().enumerate() {
            let segments: Vec<&str> = path.split('.').collect();
            let ok = segments.len() >= 2
                && segments[0] == "data"
                && segments.len() <= MAX_SEGMENTS
                && path.len() <= MAX_PATH_BYTES
                && segments
                    .iter()
                    .all(|s| !s.is_empty() && !s.starts_with('$'));
            if !ok {
                return Err(ValidationError::new(
                    format!("fields[{i}]"),
                    format!(
                        "must be a dotted path into data such as data.customer.email (no empty \
                         or $ segment, at most {MAX_SEGMENTS} segments and {MAX_PATH_BYTES} bytes)"
                    ),
                ));
            }
            if !kept.contains(path) {
                kept.push(path.clone());
            }
        }
        Ok(Self(kept))
    }

    pub fn paths(&self) -> &[String] {
        &self.0
    }

    /// `data` with only the selected paths; those it does not hold are left out.
    pub fn select(&self, data: &Value) -> Value {
        let mut tree = Tree::default();
        for path in &self.0 {
            // Skips `data.`: the paths are checked to start with it.
            let segments: Vec<&str> = path.split('.').skip(1).collect();
            tree.insert(&segments);
        }
        tree.pick(data).unwrap_or_else(|| Value::Object(Map::new()))
    }
}

impl Tree {
    fn insert(&mut self, segments: &[&str]) {
        let Some((first, rest)) = segments.split_first() else {
            return;
        };
        let child = self.0.entry((*first).to_owned()).or_default();
        // A shorter path already keeps everything below it.
        if child.is_leaf_marked() {
            return;
        }
        if rest.is_empty() {
            child.mark_leaf();
        } else {
            child.insert(rest);
        }
    }

    /// A leaf is a node with the one child `""`, which no checked path segment can be.
    fn mark_leaf(&mut self) {
        self.0.clear();
        self.0.insert(String::new(), Tree::default());
    }

    fn is_leaf_marked(&self) -> bool {
        self.0.len() == 1 && self.0.contains_key("")
    }

    /// What of `value` this tree keeps: `None` when nothing.
    fn pick(&self, value: &Value) -> Option<Value> {
        if self.is_leaf_marked() {
            return Some(value.clone());
        }
        match value {
            Value::Object(map) => {
                let picked: Map<String, Value> = self
                    .0
                    .iter()
                    .filter_map(|(key, child)| Some((key.clone(), child.pick(map.get(key)?)?)))
                    .collect();
                (!picked.is_empty()).then_some(Value::Object(picked))
            }
            Value::Array(items) => Some(Value::Array(
                items.iter().filter_map(|v| self.pick(v)).collect(),
            )),
            _ => None,
        }
    }
}

impl TryFrom<Vec<String>> for Selection {
    type Error = ValidationError;
    fn try_from(paths: Vec<String>) -> Result<Self, Self::Error> {
        Self::parse(&paths)
    }
}

impl From<Selection> for Vec<String> {
    fn from(selection: Selection) -> Self {
        selection.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn selection(paths: &[&str]) -> Selection {
        let paths: Vec<String> = paths.iter().map(|p| p.to_string()).collect();
        Selection::parse(&paths).unwrap()
    }

    #[test]
    fn keeps_only_the_selected_paths() {
        let data = json!({
            "id": "order_1",
            "total": "99.99",
            "customer": {"email": "a@example.com", "phone": "+234", "address": {"city": "Lagos"}},
            "items": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 2}, "odd"],
            "note": null,
        });
        let picked = selection(&[
            "data.id",
            "data.customer.email",
            "data.items.sku",
            "data.note",
            "data.missing.field",
        ])
        .select(&data);
        assert_eq!(
            picked,
            json!({
                "id": "order_1",
                "customer": {"email": "a@example.com"},
                "items": [{"sku": "A"}, {"sku": "B"}],
                "note": null,
            })
        );
    }

    #[test]
    fn a_shorter_path_keeps_everything_below_it_in_any_order() {
        let data = json!({"customer": {"email": "e", "address": {"city": "c"}}});
        for paths in [
            ["data.customer", "data.customer.email"],
            ["data.customer.email", "data.customer"],
        ] {
            assert_eq!(selection(&paths).select(&data), data, "{paths:?}");
        }
        assert_eq!(
            selection(&["data.nothing"]).select(&data),
            json!({}),
            "nothing selected is an empty object"
        );
    }

    #[test]
    fn paths_are_checked() {
        let err = |paths: &[&str]| {
            let paths: Vec<String> = paths.iter().map(|p| p.to_string()).collect();
            Selection::parse(&paths).unwrap_err().field
        };
        assert_eq!(err(&[]), "fields");
        assert_eq!(err(&["data.a", "total"]), "fields[1]");
        assert_eq!(err(&["data"]), "fields[0]");
        assert_eq!(err(&["data..a"]), "fields[0]");
        assert_eq!(err(&["data.$a"]), "fields[0]");
        assert_eq!(err(&["type"]), "fields[0]");
        let many: Vec<String> = (0..=MAX_FIELDS).map(|i| format!("data.f{i}")).collect();
        assert_eq!(Selection::parse(&many).unwrap_err().field, "fields");
        assert_eq!(selection(&["data.a", "data.a"]).paths(), ["data.a"]);
    }

    #[test]
    fn stored_as_the_list_of_paths() {
        let s = selection(&["data.a", "data.b.c"]);
        let stored = serde_json::to_value(&s).unwrap();
        assert_eq!(stored, json!(["data.a", "data.b.c"]));
        assert_eq!(serde_json::from_value::<Selection>(stored).unwrap(), s);
    }
}
