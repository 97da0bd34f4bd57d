//! Subscription filters: conditions on the event envelope (`type`, `id`, `timestamp`,
//! `tenant`, `data.…`) that an event must meet to be delivered, in the JSON syntax of
//! Convoy's filters (`{"data.total": {"$gte": 100}}`). A filter is parsed and checked once,
//! when it is set, and kept with its JSON form; evaluating it never fails.
//!
//! Semantics, with Convoy's as the reference (`pkg/compare` of frain-dev/convoy):
//! - nested objects are dotted paths: `{"data": {"total": 5}}` is `{"data.total": 5}`;
//! - a value that is not an operator object is `$eq`; several keys, or several operators
//!   under one key, must all hold;
//! - a condition on an array matches when the array or any element matches, and a path
//!   walks into every object of an array it meets (`data.items.sku`), or into one element
//!   by index (`data.items.0.sku`);
//! - numbers compare by value (`1` equals `1.0`), and a number in the filter also matches a
//!   string that holds that number (`"99.99"`), as Convoy does, since commerce payloads
//!   often carry amounts as strings;
//! - where Convoy skips a condition on a missing field, here it fails, and the negations
//!   (`$neq`, `$nin`, `$not`, `$exists: false`) are exactly the opposite of their positive
//!   forms, so they match a missing field.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;
use std::sync::{Arc, OnceLock};

use chrono::SecondsFormat;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Number, Value};

use super::{Event, ValidationError};

/// The largest filter, as compact JSON.
pub const MAX_BYTES: usize = 4096;
/// The deepest nesting of JSON objects and lists in a filter.
pub const MAX_DEPTH: usize = 8;
/// The most conditions (operators, explicit or implied) in a filter.
pub const MAX_CONDITIONS: usize = 50;
/// The most segments of a path.
pub const MAX_PATH_SEGMENTS: usize = 16;
/// The longest path, in bytes.
pub const MAX_PATH_BYTES: usize = 256;

/// The envelope fields a path starts from.
const ROOTS: &[&str] = &["data", "type", "id", "timestamp", "tenant"];

/// Every operator, for the error that names an unknown one.
const OPERATORS: &[&str] = &[
    "$eq", "$neq", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists", "$and", "$or", "$not",
];

/// A validated filter. Its JSON form is what the client sent; it is stored as that JSON
/// text and parsed again when read.
#[derive(Clone)]
pub struct Filter(Arc<Parsed>);

struct Parsed {
    source: Value,
    root: Node,
}

/// One condition of the tree, with its place in the filter (`filter.data.total.$gte`).
#[derive(Debug)]
struct Node {
    place: String,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    All(Vec<Node>),
    Any(Vec<Node>),
    Not(Box<Node>),
    Cond(Path, Op),
}

#[derive(Debug)]
struct Path {
    text: String,
    segments: Vec<String>,
}

#[derive(Debug)]
enum Op {
    Eq(Value),
    Neq(Value),
    Cmp(Ordering, bool, Number),
    In(Vec<Value>),
    Nin(Vec<Value>),
    Exists(bool),
}

/// Why an event does not match: the place of the condition that failed and what it found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// Where the failing condition sits in the filter, such as `filter.data.total.$gte`.
    pub place: String,
    /// What the event holds there and what the condition wants, in words.
    pub reason: String,
}

/// What a filter reads: the envelope's top-level fields. A JSON envelope is one; so is an
/// [`EventEnvelope`].
pub trait Envelope {
    fn field(&self, name: &str) -> Option<Cow<'_, Value>>;
}

impl Envelope for Value {
    fn field(&self, name: &str) -> Option<Cow<'_, Value>> {
        self.get(name).map(Cow::Borrowed)
    }
}

/// An [`Event`] as filters read it: its `data` (kept as JSON text) parsed once, when a filter
/// first reads it, however many filters and conditions read it after.
pub struct EventEnvelope<'a> {
    event: &'a Event,
    data: OnceLock<Value>,
}

impl<'a> EventEnvelope<'a> {
    pub fn new(event: &'a Event) -> Self {
        Self {
            event,
            data: OnceLock::new(),
        }
    }

    /// The envelope of `event` whose `data` is already parsed: `data` must be what its JSON
    /// text parses to ([`crate::domain::NewEvent::into_event_and_data`] gives both).
    pub fn with_data(event: &'a Event, data: Value) -> Self {
        Self {
            event,
            data: OnceLock::from(data),
        }
    }

    pub fn event(&self) -> &'a Event {
        self.event
    }
}

impl Envelope for EventEnvelope<'_> {
    fn field(&self, name: &str) -> Option<Cow<'_, Value>> {
        let text = |s: &str| Some(Cow::Owned(Value::String(s.to_owned())));
        let event = self.event;
        match name {
            "data" => Some(Cow::Borrowed(self.data.get_or_init(|| event.data.value()))),
            "type" => text(event.event_type.as_str()),
            "id" => text(event.id.as_str()),
            "tenant" => text(event.tenant.as_str()),
            // As the envelope serializes it (`super::event::rfc3339`).
            "timestamp" => text(&event.timestamp.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
            _ => None,
        }
    }
}

impl Filter {
    /// Checks and parses a filter, naming the place of the first problem
    /// (`filter.data.total.$gte: must be a number`).
    pub fn parse(source: &Value) -> Result<Self, ValidationError> {
        let size = serde_json::to_vec(source).map_or(usize::MAX, |b| b.len());
        if size > MAX_BYTES {
            return Err(ValidationError::new(
                "filter",
                format!("must be at most {MAX_BYTES} bytes of JSON (this one is {size})"),
            ));
        }
        let Value::Object(map) = source else {
            return Err(ValidationError::new(
                "filter",
                "must be a JSON object of conditions, such as {\"data.total\": {\"$gte\": 100}}",
            ));
        };
        let mut parser = Parser { conditions: 0 };
        let root = parser.conditions_of(map, &[], "filter", 1)?;
        Ok(Self(Arc::new(Parsed {
            source: source.clone(),
            root,
        })))
    }

    /// The filter as the client wrote it.
    pub fn as_json(&self) -> &Value {
        &self.0.source
    }

    /// Whether the event meets every condition.
    pub fn matches(&self, envelope: &impl Envelope) -> bool {
        self.0.root.eval(envelope)
    }

    /// The same answer as [`Filter::matches`], saying which condition failed and why.
    pub fn explain(&self, envelope: &impl Envelope) -> Result<(), Mismatch> {
        self.0.root.why_not(envelope).map_or(Ok(()), Err)
    }
}

impl fmt::Debug for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Filter({})", self.0.source)
    }
}

impl PartialEq for Filter {
    fn eq(&self, other: &Self) -> bool {
        self.0.source == other.0.source
    }
}

/// Stored as its JSON text: one string attribute, read back exactly as written.
impl Serialize for Filter {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.source.to_string())
    }
}

impl<'de> Deserialize<'de> for Filter {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let value: Value = serde_json::from_str(&text).map_err(serde::de::Error::custom)?;
        Filter::parse(&value).map_err(serde::de::Error::custom)
    }
}

struct Parser {
    conditions: usize,
}

impl Parser {
    /// An object of conditions, all of which must hold: paths (under `prefix`, for the
    /// nested form) and, where `prefix` is empty, `$and`, `$or` and `$not`.
    fn conditions_of(
        &mut self,
        map: &Map<String, Value>,
        prefix: &[String],
        place: &str,
        depth: usize,
    ) -> Result<Node, ValidationError> {
        too_deep(place, depth)?;
        let mut nodes = Vec::with_capacity(map.len());
        for (key, value) in map {
            let place = format!("{place}.{key}");
            if key.starts_with('$') {
                nodes.push(self.logic(key, value, &place, depth)?);
            } else {
                let path = path(prefix, key, &place)?;
                nodes.push(self.field(path, value, &place, depth)?);
            }
        }
        Ok(Node {
            place: place.to_owned(),
            kind: Kind::All(nodes),
        })
    }

    /// `$and`, `$or` or `$not` over whole conditions.
    fn logic(
        &mut self,
        key: &str,
        value: &Value,
        place: &str,
        depth: usize,
    ) -> Result<Node, ValidationError> {
        let kind = match key {
            "$and" | "$or" => {
                let Value::Array(items) = value else {
                    return Err(ValidationError::new(
                        place,
                        "must be a list of objects of conditions",
                    ));
                };
                if items.is_empty() {
                    return Err(ValidationError::new(
                        place,
                        "must list at least one object of conditions",
                    ));
                }
                too_deep(place, depth + 1)?;
                let mut nodes = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let place = format!("{place}[{i}]");
                    let Value::Object(map) = item else {
                        return Err(ValidationError::new(
                            place,
                            "must be an object of conditions",
                        ));
                    };
                    nodes.push(self.conditions_of(map, &[], &place, depth + 2)?);
                }
                if key == "$and" {
                    Kind::All(nodes)
                } else {
                    Kind::Any(nodes)
                }
            }
            "$not" => match value {
                Value::Object(map) if !map.is_empty() => {
                    Kind::Not(Box::new(self.conditions_of(map, &[], place, depth + 1)?))
                }
                _ => {
                    return Err(ValidationError::new(
                        place,
                        "must be an object of at least one condition",
                    ));
                }
            },
            op if is_field_operator(op) => {
                return Err(ValidationError::new(
                    place,
                    format!(
                        "{op} needs a field, as in {{\"data.total\": {{\"{op}\": 100}}}}; \
                         only $and, $or and $not stand on their own"
                    ),
                ));
            }
            unknown => return Err(unknown_operator(place, unknown)),
        };
        Ok(Node {
            place: place.to_owned(),
            kind,
        })
    }

    /// What a path's value in the filter means: an object of operators, an object of
    /// deeper paths, or a value to equal.
    fn field(
        &mut self,
        path: Path,
        value: &Value,
        place: &str,
        depth: usize,
    ) -> Result<Node, ValidationError> {
        let Value::Object(map) = value else {
            check_value_depth(place, value, depth)?;
            return self.condition(path, Op::Eq(value.clone()), place);
        };
        let operators = map.keys().filter(|k| k.starts_with('$')).count();
        if map.is_empty() {
            Err(ValidationError::new(
                place,
                "is an empty object: give a condition, or {\"$eq\": {}} to match an empty object",
            ))
        } else if operators == 0 {
            let prefix = path.segments;
            self.conditions_of(map, &prefix, place, depth + 1)
        } else if operators < map.len() {
            Err(ValidationError::new(
                place,
                "mixes operators ($…) with field names: put deeper fields in their own key",
            ))
        } else {
            self.operators(&path, map, place, depth + 1)
        }
    }

    /// An object of operators on one path, all of which must hold.
    fn operators(
        &mut self,
        path: &Path,
        map: &Map<String, Value>,
        place: &str,
        depth: usize,
    ) -> Result<Node, ValidationError> {
        too_deep(place, depth)?;
        let mut nodes = Vec::with_capacity(map.len());
        for (op, arg) in map {
            let place = format!("{place}.{op}");
            nodes.push(self.operator(path, op, arg, &place, depth)?);
        }
        Ok(Node {
            place: place.to_owned(),
            kind: Kind::All(nodes),
        })
    }

    fn operator(
        &mut self,
        path: &Path,
        op: &str,
        arg: &Value,
        place: &str,
        depth: usize,
    ) -> Result<Node, ValidationError> {
        let make_path = || Path {
            text: path.text.clone(),
            segments: path.segments.clone(),
        };
        let compare = |ordering, or_equal| match arg {
            Value::Number(n) => Ok(Op::Cmp(ordering, or_equal, n.clone())),
            _ => Err(ValidationError::new(place, "must be a number")),
        };
        let list = || match arg {
            Value::Array(items) => {
                check_value_depth(place, arg, depth)?;
                Ok(items.clone())
            }
            _ => Err(ValidationError::new(place, "must be a list of values")),
        };
        let op = match op {
            "$eq" | "$neq" => {
                check_value_depth(place, arg, depth)?;
                if op == "$eq" {
                    Op::Eq(arg.clone())
                } else {
                    Op::Neq(arg.clone())
                }
            }
            "$gt" => compare(Ordering::Greater, false)?,
            "$gte" => compare(Ordering::Greater, true)?,
            "$lt" => compare(Ordering::Less, false)?,
            "$lte" => compare(Ordering::Less, true)?,
            "$in" => Op::In(list()?),
            "$nin" => Op::Nin(list()?),
            // `$exist` is Convoy's spelling.
            "$exists" | "$exist" => match arg {
                Value::Bool(b) => Op::Exists(*b),
                _ => return Err(ValidationError::new(place, "must be true or false")),
            },
            "$not" => {
                let Value::Object(map) = arg else {
                    return Err(not_operators(place));
                };
                if map.is_empty() || !map.keys().all(|k| k.starts_with('$')) {
                    return Err(not_operators(place));
                }
                let inner = self.operators(path, map, place, depth + 1)?;
                return Ok(Node {
                    place: place.to_owned(),
                    kind: Kind::Not(Box::new(inner)),
                });
            }
            "$and" | "$or" => {
                return Err(ValidationError::new(
                    place,
                    format!(
                        "{op} combines whole conditions: put it at the top of the filter or \
                         inside $and, $or or $not, not under a field"
                    ),
                ));
            }
            unknown => return Err(unknown_operator(place, unknown)),
        };
        self.condition(make_path(), op, place)
    }

    fn condition(&mut self, path: Path, op: Op, place: &str) -> Result<Node, ValidationError> {
        self.conditions += 1;
        if self.conditions > MAX_CONDITIONS {
            return Err(ValidationError::new(
                place,
                format!("is one condition too many: a filter holds at most {MAX_CONDITIONS}"),
            ));
        }
        Ok(Node {
            place: place.to_owned(),
            kind: Kind::Cond(path, op),
        })
    }
}

fn is_field_operator(op: &str) -> bool {
    matches!(
        op,
        "$eq" | "$neq" | "$gt" | "$gte" | "$lt" | "$lte" | "$in" | "$nin" | "$exists" | "$exist"
    )
}

fn unknown_operator(place: &str, op: &str) -> ValidationError {
    let hint = match op {
        "$ne" => " (did you mean '$neq'?)".to_owned(),
        _ => match super::catalog::suggest(op, OPERATORS.iter().copied()).first() {
            Some(close) => format!(" (did you mean '{close}'?)"),
            None => String::new(),
        },
    };
    ValidationError::new(
        place,
        format!(
            "'{op}' is not an operator{hint}; the operators are {}",
            OPERATORS.join(", ")
        ),
    )
}

fn not_operators(place: &str) -> ValidationError {
    ValidationError::new(
        place,
        "must be an object of operators on the field, such as {\"$gte\": 100}",
    )
}

fn too_deep(place: &str, depth: usize) -> Result<(), ValidationError> {
    if depth > MAX_DEPTH {
        Err(ValidationError::new(
            place,
            format!("nests too deep: a filter has at most {MAX_DEPTH} levels of objects and lists"),
        ))
    } else {
        Ok(())
    }
}

/// A value compared against, found at `depth`, within the filter's depth.
fn check_value_depth(place: &str, value: &Value, depth: usize) -> Result<(), ValidationError> {
    // Iterative: a value's depth is measured without recursion.
    let mut stack = vec![(value, depth)];
    while let Some((value, depth)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match value {
            Value::Array(items) => Box::new(items.iter()),
            Value::Object(map) => Box::new(map.values()),
            _ => continue,
        };
        too_deep(place, depth + 1)?;
        stack.extend(children.map(|c| (c, depth + 1)));
    }
    Ok(())
}

/// `key` (dotted) under `prefix`, checked: it starts at an envelope field, and no segment is
/// empty or starts with `$`.
fn path(prefix: &[String], key: &str, place: &str) -> Result<Path, ValidationError> {
    let mut segments = prefix.to_vec();
    for segment in key.split('.') {
        if segment.is_empty() {
            return Err(ValidationError::new(
                place,
                "is not a path: a dotted path such as data.total has no empty segment",
            ));
        }
        if segment.starts_with('$') {
            return Err(ValidationError::new(
                place,
                "is not a path: only a whole key may be an operator ($…)",
            ));
        }
        segments.push(segment.to_owned());
    }
    let text = segments.join(".");
    let root = segments[0].as_str();
    if !ROOTS.contains(&root) {
        return Err(ValidationError::new(
            place,
            format!(
                "'{text}' is not a path of the envelope: paths start at data (data.total), \
                 type, id, timestamp or tenant"
            ),
        ));
    }
    if root != "data" && segments.len() > 1 {
        return Err(ValidationError::new(
            place,
            format!("'{text}' is not a path of the envelope: {root} is a string, with no fields"),
        ));
    }
    if segments.len() > MAX_PATH_SEGMENTS || text.len() > MAX_PATH_BYTES {
        return Err(ValidationError::new(
            place,
            format!(
                "is too long a path: at most {MAX_PATH_SEGMENTS} segments and {MAX_PATH_BYTES} bytes"
            ),
        ));
    }
    Ok(Path { text, segments })
}

impl Node {
    fn eval(&self, envelope: &impl Envelope) -> bool {
        match &self.kind {
            Kind::All(nodes) => nodes.iter().all(|n| n.eval(envelope)),
            Kind::Any(nodes) => nodes.iter().any(|n| n.eval(envelope)),
            Kind::Not(node) => !node.eval(envelope),
            Kind::Cond(path, op) => op.eval(path, envelope),
        }
    }

    fn why_not(&self, envelope: &impl Envelope) -> Option<Mismatch> {
        match &self.kind {
            Kind::All(nodes) => nodes.iter().find_map(|n| n.why_not(envelope)),
            Kind::Any(nodes) => {
                let reasons: Vec<Mismatch> = nodes
                    .iter()
                    .map(|n| n.why_not(envelope))
                    .collect::<Option<_>>()?;
                let each: Vec<String> = reasons
                    .iter()
                    .map(|m| format!("{}: {}", m.place, m.reason))
                    .collect();
                Some(Mismatch {
                    place: self.place.clone(),
                    reason: format!("no alternative matches ({})", each.join("; ")),
                })
            }
            Kind::Not(node) => node.eval(envelope).then(|| Mismatch {
                place: self.place.clone(),
                reason: "the conditions under $not match".to_owned(),
            }),
            Kind::Cond(path, op) => (!op.eval(path, envelope)).then(|| Mismatch {
                place: self.place.clone(),
                reason: format!(
                    "{} {}; the condition wants {op}",
                    path.text,
                    found(path, envelope)
                ),
            }),
        }
    }
}

impl Op {
    fn eval(&self, path: &Path, envelope: &impl Envelope) -> bool {
        match self {
            Op::Eq(want) => any_at(path, envelope, &mut |v| equal(v, want)),
            Op::Neq(want) => !any_at(path, envelope, &mut |v| equal(v, want)),
            Op::Cmp(ordering, or_equal, bound) => any_at(path, envelope, &mut |v| {
                compare(v, bound).is_some_and(|o| o == *ordering || (*or_equal && o.is_eq()))
            }),
            Op::In(list) => any_at(path, envelope, &mut |v| list.iter().any(|w| equal(v, w))),
            Op::Nin(list) => !any_at(path, envelope, &mut |v| list.iter().any(|w| equal(v, w))),
            Op::Exists(want) => any_at(path, envelope, &mut |_| true) == *want,
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Eq(v) => write!(f, "$eq {}", short(v)),
            Op::Neq(v) => write!(f, "$neq {}", short(v)),
            Op::Cmp(ordering, or_equal, n) => {
                let name = match (ordering, or_equal) {
                    (Ordering::Greater, false) => "$gt",
                    (Ordering::Greater, true) => "$gte",
                    (_, false) => "$lt",
                    (_, true) => "$lte",
                };
                write!(f, "{name} {n}")
            }
            Op::In(list) => write!(f, "$in {}", short(&Value::Array(list.clone()))),
            Op::Nin(list) => write!(f, "$nin {}", short(&Value::Array(list.clone()))),
            Op::Exists(b) => write!(f, "$exists {b}"),
        }
    }
}

/// What the envelope holds at `path`, in words: "is 50", "is missing", "is 1, 2 or 3".
fn found(path: &Path, envelope: &impl Envelope) -> String {
    const SHOWN: usize = 3;
    let mut values: Vec<String> = Vec::new();
    let mut more = false;
    let Some((root, rest)) = path.segments.split_first() else {
        return "is missing".to_owned();
    };
    if let Some(top) = envelope.field(root) {
        walk(&top, rest, &mut |v| {
            if values.len() < SHOWN {
                values.push(short(v));
            } else {
                more = true;
            }
            more
        });
    }
    match values.as_slice() {
        [] => "is missing".to_owned(),
        [one] => format!("is {one}"),
        many if more => format!("is {}, …", many.join(", ")),
        many => format!("is one of {}", many.join(", ")),
    }
}

/// A value as JSON, cut at 100 characters.
fn short(value: &Value) -> String {
    const LONGEST: usize = 100;
    let text = value.to_string();
    match text.char_indices().nth(LONGEST) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

/// Whether `test` holds for a value at `path`, or for an element of a list there.
fn any_at(path: &Path, envelope: &impl Envelope, test: &mut dyn FnMut(&Value) -> bool) -> bool {
    let Some((root, rest)) = path.segments.split_first() else {
        return false;
    };
    let Some(top) = envelope.field(root) else {
        return false;
    };
    walk(&top, rest, &mut |v| {
        test(v) || matches!(v, Value::Array(items) if items.iter().any(&mut *test))
    })
}

/// Calls `visit` on each value at `rest` below `value` until it answers `true`: a segment
/// picks an object's field, a list's element by index, or the field of each object in a
/// list. The recursion is as deep as the path, which is bounded.
fn walk(value: &Value, rest: &[String], visit: &mut dyn FnMut(&Value) -> bool) -> bool {
    let Some((segment, tail)) = rest.split_first() else {
        return visit(value);
    };
    match value {
        Value::Object(map) => map.get(segment).is_some_and(|v| walk(v, tail, visit)),
        Value::Array(items) => match segment.parse::<usize>() {
            Ok(i) => items.get(i).is_some_and(|v| walk(v, tail, visit)),
            Err(_) => items
                .iter()
                .any(|item| item.is_object() && walk(item, rest, visit)),
        },
        _ => false,
    }
}

/// JSON equality, numbers by value, and a filter's number equal to a string holding it.
fn equal(found: &Value, want: &Value) -> bool {
    match (found, want) {
        (Value::Number(a), Value::Number(b)) => compare_numbers(a, b) == Some(Ordering::Equal),
        (Value::String(s), Value::Number(b)) => {
            numeric(s).is_some_and(|a| b.as_f64().is_some_and(|b| a == b))
        }
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| equal(x, y))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len() && b.iter().all(|(k, y)| a.get(k).is_some_and(|x| equal(x, y)))
        }
        _ => found == want,
    }
}

/// How a found value compares with a filter's number: numbers and numeric strings only.
fn compare(found: &Value, bound: &Number) -> Option<Ordering> {
    match found {
        Value::Number(n) => compare_numbers(n, bound),
        Value::String(s) => numeric(s)?.partial_cmp(&bound.as_f64()?),
        _ => None,
    }
}

/// Exact for two integers, as `f64` otherwise.
fn compare_numbers(a: &Number, b: &Number) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return Some(x.cmp(&y));
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return Some(x.cmp(&y));
    }
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}

/// A string written as a JSON number (`"99.99"`, `"-5"`, `"1e3"`), as its value.
fn numeric(s: &str) -> Option<f64> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let json_like = digits.starts_with(|c: char| c.is_ascii_digit())
        && digits.ends_with(|c: char| c.is_ascii_digit())
        && digits
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
    json_like
        .then(|| s.parse::<f64>().ok())
        .flatten()
        .filter(|f| f.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn filter(source: Value) -> Filter {
        Filter::parse(&source).unwrap_or_else(|e| panic!("{source}: {e}"))
    }

    fn refused(source: Value) -> ValidationError {
        Filter::parse(&source).expect_err(&source.to_string())
    }

    fn order(data: Value) -> Value {
        json!({
            "id": "evt_1",
            "type": "order.created",
            "timestamp": "2026-11-25T10:00:00Z",
            "tenant": "acme",
            "data": data,
        })
    }

    /// Asserts which of `events` match, and that `explain` agrees with `matches`.
    fn check(f: &Filter, cases: &[(Value, bool)]) {
        for (event, want) in cases {
            assert_eq!(f.matches(event), *want, "{f:?} on {event}");
            assert_eq!(f.explain(event).is_ok(), *want, "{f:?} explains {event}");
        }
    }

    #[test]
    fn eq_compares_values_numbers_by_value() {
        let f = filter(json!({"data.status": {"$eq": "paid"}}));
        check(
            &f,
            &[
                (order(json!({"status": "paid"})), true),
                (order(json!({"status": "pending"})), false),
                (order(json!({})), false),
            ],
        );
        let f = filter(json!({"data.total": {"$eq": 100}}));
        check(
            &f,
            &[
                (order(json!({"total": 100.0})), true),
                (order(json!({"total": "100"})), true),
                (order(json!({"total": 100.5})), false),
                (order(json!({"total": true})), false),
            ],
        );
        // A string in the filter is no number: "100" does not equal 100.
        let f = filter(json!({"data.total": "100"}));
        check(
            &f,
            &[
                (order(json!({"total": 100})), false),
                (order(json!({"total": "100"})), true),
            ],
        );
        let f = filter(json!({"data.address": {"$eq": {"city": "Lagos", "zip": 1}}}));
        check(
            &f,
            &[
                (
                    order(json!({"address": {"zip": 1.0, "city": "Lagos"}})),
                    true,
                ),
                (order(json!({"address": {"city": "Lagos"}})), false),
            ],
        );
    }

    #[test]
    fn a_plain_value_is_eq_and_nested_objects_are_paths() {
        let flat = filter(json!({"data.customer.country": "NG"}));
        let nested = filter(json!({"data": {"customer": {"country": "NG"}}}));
        for f in [&flat, &nested] {
            check(
                f,
                &[
                    (order(json!({"customer": {"country": "NG"}})), true),
                    (order(json!({"customer": {"country": "GH"}})), false),
                    (order(json!({"customer": "NG"})), false),
                ],
            );
        }
        let null = filter(json!({"data.note": null}));
        check(
            &null,
            &[
                (order(json!({"note": null})), true),
                (order(json!({})), false),
            ],
        );
    }

    #[test]
    fn neq_is_the_opposite_of_eq_and_matches_a_missing_field() {
        let f = filter(json!({"data.status": {"$neq": "cancelled"}}));
        check(
            &f,
            &[
                (order(json!({"status": "paid"})), true),
                (order(json!({"status": "cancelled"})), false),
                (order(json!({})), true),
                (order(json!({"status": ["paid", "cancelled"]})), false),
            ],
        );
    }

    #[test]
    fn range_operators_compare_numbers_and_numeric_strings() {
        let cases = [
            ("$gt", [false, false, true]),
            ("$gte", [false, true, true]),
            ("$lt", [true, false, false]),
            ("$lte", [true, true, false]),
        ];
        for (op, [below, at, above]) in cases {
            let f = filter(json!({"data.total": {op: 100}}));
            check(
                &f,
                &[
                    (order(json!({"total": 99.5})), below),
                    (order(json!({"total": 100})), at),
                    (order(json!({"total": "100.00"})), at),
                    (order(json!({"total": 150})), above),
                    (order(json!({"total": "150"})), above),
                    // Neither a number nor a numeric string: no range condition holds.
                    (order(json!({"total": "a lot"})), false),
                    (order(json!({"total": null})), false),
                    (order(json!({"total": {"amount": 150}})), false),
                    (order(json!({})), false),
                ],
            );
        }
        let f = filter(json!({"data.total": {"$gt": 9007199254740992_u64}}));
        check(&f, &[(order(json!({"total": 9007199254740993_u64})), true)]);
        let f = filter(json!({"data.total": {"$gt": 1, "$lt": 10}}));
        check(
            &f,
            &[
                (order(json!({"total": 5})), true),
                (order(json!({"total": 10})), false),
            ],
        );
    }

    #[test]
    fn in_and_nin_test_membership() {
        let f = filter(json!({"data.country": {"$in": ["NG", "GH", 7]}}));
        check(
            &f,
            &[
                (order(json!({"country": "GH"})), true),
                (order(json!({"country": 7.0})), true),
                (order(json!({"country": "KE"})), false),
                (order(json!({})), false),
                (order(json!({"country": ["KE", "NG"]})), true),
            ],
        );
        let f = filter(json!({"data.country": {"$nin": ["NG", "GH"]}}));
        check(
            &f,
            &[
                (order(json!({"country": "KE"})), true),
                (order(json!({"country": "NG"})), false),
                (order(json!({})), true),
                (order(json!({"country": ["KE", "NG"]})), false),
            ],
        );
        let none = filter(json!({"data.country": {"$in": []}}));
        check(&none, &[(order(json!({"country": "NG"})), false)]);
    }

    #[test]
    fn exists_tests_presence_null_included() {
        let f = filter(json!({"data.coupon": {"$exists": true}}));
        check(
            &f,
            &[
                (order(json!({"coupon": "X"})), true),
                (order(json!({"coupon": null})), true),
                (order(json!({})), false),
            ],
        );
        let f = filter(json!({"data.coupon": {"$exists": false}}));
        check(
            &f,
            &[
                (order(json!({"coupon": "X"})), false),
                (order(json!({})), true),
            ],
        );
        let convoy = filter(json!({"data.coupon": {"$exist": true}}));
        check(&convoy, &[(order(json!({"coupon": 1})), true)]);
    }

    #[test]
    fn and_or_not_combine_conditions() {
        let f = filter(json!({"$and": [
            {"data.total": {"$gte": 100}},
            {"$or": [{"data.country": "NG"}, {"data.express": true}]},
        ]}));
        check(
            &f,
            &[
                (order(json!({"total": 150, "country": "NG"})), true),
                (
                    order(json!({"total": 150, "country": "GH", "express": true})),
                    true,
                ),
                (order(json!({"total": 150, "country": "GH"})), false),
                (order(json!({"total": 50, "country": "NG"})), false),
            ],
        );
        let f = filter(json!({"$not": {"data.status": "cancelled"}}));
        check(
            &f,
            &[
                (order(json!({"status": "paid"})), true),
                (order(json!({"status": "cancelled"})), false),
                (order(json!({})), true),
            ],
        );
        let f = filter(json!({"data.total": {"$not": {"$gte": 100}}}));
        check(
            &f,
            &[
                (order(json!({"total": 50})), true),
                (order(json!({"total": 150})), false),
                (order(json!({})), true),
            ],
        );
        // Several keys hold together, as an implicit $and.
        let f = filter(json!({"type": "order.created", "data.total": {"$gte": 100}}));
        check(
            &f,
            &[
                (order(json!({"total": 100})), true),
                (order(json!({"total": 99})), false),
            ],
        );
        check(&filter(json!({})), &[(order(json!({})), true)]);
    }

    #[test]
    fn a_condition_on_a_list_matches_when_any_element_does() {
        let data = json!({
            "tags": ["vip", "gift"],
            "items": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 5}],
        });
        let cases = [
            (json!({"data.tags": "vip"}), true),
            (json!({"data.tags": "sale"}), false),
            (json!({"data.tags": ["vip", "gift"]}), true),
            (json!({"data.items.sku": "B"}), true),
            (json!({"data.items.qty": {"$gt": 4}}), true),
            (json!({"data.items.qty": {"$gt": 5}}), false),
            (json!({"data.items.0.sku": "A"}), true),
            (json!({"data.items.0.sku": "B"}), false),
            (json!({"data.items.2.sku": {"$exists": true}}), false),
            (json!({"data.items.sku": {"$nin": ["C"]}}), true),
            (json!({"data.items.sku": {"$neq": "A"}}), false),
        ];
        for (source, want) in cases {
            check(&filter(source), &[(order(data.clone()), want)]);
        }
    }

    #[test]
    fn paths_reach_the_envelope_fields() {
        let event = order(json!({}));
        for (source, want) in [
            (json!({"type": "order.created"}), true),
            (json!({"type": {"$in": ["order.updated"]}}), false),
            (json!({"id": "evt_1"}), true),
            (json!({"tenant": "acme"}), true),
            (json!({"timestamp": "2026-11-25T10:00:00Z"}), true),
            (json!({"data": {"$exists": true}}), true),
        ] {
            check(&filter(source), &[(event.clone(), want)]);
        }
    }

    #[test]
    fn an_event_is_read_as_its_envelope() {
        let event: Event =
            serde_json::from_str(&order(json!({"total": "150"})).to_string()).unwrap();
        let envelope = EventEnvelope::new(&event);
        let f = filter(json!({
            "type": "order.created", "id": "evt_1", "tenant": "acme",
            "timestamp": "2026-11-25T10:00:00Z", "data.total": {"$gte": 100},
        }));
        assert!(f.matches(&envelope));
        assert_eq!(f.explain(&envelope), Ok(()));
        let f = filter(json!({"timestamp": {"$neq": "2026-11-25T10:00:00Z"}}));
        assert!(!f.matches(&envelope));
        let f = filter(json!({"data.total": {"$lt": 100}}));
        assert!(!f.matches(&envelope));
    }

    #[test]
    fn explain_names_the_failed_condition_and_what_it_found() {
        let f = filter(json!({"type": "order.created", "data": {"total": {"$gte": 100}}}));
        assert_eq!(
            f.explain(&order(json!({"total": 50}))),
            Err(Mismatch {
                place: "filter.data.total.$gte".into(),
                reason: "data.total is 50; the condition wants $gte 100".into(),
            })
        );
        assert_eq!(
            f.explain(&order(json!({}))).unwrap_err().reason,
            "data.total is missing; the condition wants $gte 100"
        );
        let f = filter(json!({"$or": [{"data.a": 1}, {"data.b": 2}]}));
        let m = f.explain(&order(json!({"a": 3}))).unwrap_err();
        assert_eq!(m.place, "filter.$or");
        assert_eq!(
            m.reason,
            "no alternative matches (filter.$or[0].data.a: data.a is 3; the condition wants \
             $eq 1; filter.$or[1].data.b: data.b is missing; the condition wants $eq 2)"
        );
        let f = filter(json!({"$not": {"data.a": 1}}));
        assert_eq!(
            f.explain(&order(json!({"a": 1}))).unwrap_err().place,
            "filter.$not"
        );
        let f = filter(json!({"data.items.sku": "Z"}));
        assert_eq!(
            f.explain(&order(json!({"items": [{"sku": "A"}, {"sku": "B"}]})))
                .unwrap_err()
                .reason,
            "data.items.sku is one of \"A\", \"B\"; the condition wants $eq \"Z\""
        );
    }

    #[test]
    fn refusals_name_the_place_and_the_rule() {
        let cases = [
            (json!([]), "filter", "must be a JSON object"),
            (
                json!({"data.total": {"$gte": "100"}}),
                "filter.data.total.$gte",
                "must be a number",
            ),
            (
                json!({"data": {"total": {"$gte": true}}}),
                "filter.data.total.$gte",
                "must be a number",
            ),
            (
                json!({"data.total": {"$gtee": 1}}),
                "filter.data.total.$gtee",
                "did you mean '$gte'?",
            ),
            (
                json!({"data.total": {"$ne": 1}}),
                "filter.data.total.$ne",
                "did you mean '$neq'?",
            ),
            (
                json!({"data.total": {"$regex": "x"}}),
                "filter.data.total.$regex",
                "is not an operator",
            ),
            (
                json!({"data.country": {"$in": "NG"}}),
                "filter.data.country.$in",
                "must be a list",
            ),
            (
                json!({"data.country": {"$nin": {}}}),
                "filter.data.country.$nin",
                "must be a list",
            ),
            (
                json!({"data.coupon": {"$exists": 1}}),
                "filter.data.coupon.$exists",
                "true or false",
            ),
            (json!({"$and": {}}), "filter.$and", "must be a list"),
            (json!({"$or": []}), "filter.$or", "at least one"),
            (
                json!({"$or": [{"data.a": 1}, 2]}),
                "filter.$or[1]",
                "must be an object",
            ),
            (json!({"$not": 1}), "filter.$not", "at least one condition"),
            (json!({"$not": {}}), "filter.$not", "at least one condition"),
            (json!({"$gte": 1}), "filter.$gte", "needs a field"),
            (
                json!({"data.a": {"$or": [{"data.b": 1}]}}),
                "filter.data.a.$or",
                "whole conditions",
            ),
            (
                json!({"data.a": {"$not": 1}}),
                "filter.data.a.$not",
                "object of operators",
            ),
            (
                json!({"data.a": {"$not": {"b": 1}}}),
                "filter.data.a.$not",
                "object of operators",
            ),
            (
                json!({"data.a": {"$gte": 1, "b": 2}}),
                "filter.data.a",
                "mixes operators",
            ),
            (json!({"data.a": {}}), "filter.data.a", "empty object"),
            (json!({"total": 1}), "filter.total", "paths start at data"),
            (
                json!({"data..total": 1}),
                "filter.data..total",
                "no empty segment",
            ),
            (
                json!({"data.total.": 1}),
                "filter.data.total.",
                "no empty segment",
            ),
            (json!({"data.$x": 1}), "filter.data.$x", "only a whole key"),
            (
                json!({"type.name": 1}),
                "filter.type.name",
                "with no fields",
            ),
            (
                json!({"$and": [{"$or": [{"data.a": 1}]}], "$bogus": 1}),
                "filter.$bogus",
                "is not an operator",
            ),
        ];
        for (source, place, rule) in cases {
            let e = refused(source.clone());
            assert_eq!(e.field, place, "{source}: {e}");
            assert!(e.rule.contains(rule), "{source}: {e}");
        }
    }

    #[test]
    fn size_depth_and_conditions_are_bounded() {
        let big = json!({"data.note": "x".repeat(MAX_BYTES)});
        let e = refused(big);
        assert_eq!(e.field, "filter");
        assert!(e.rule.contains("at most 4096 bytes"), "{e}");

        let path = (0..MAX_PATH_SEGMENTS)
            .map(|i| format!("f{i}"))
            .collect::<Vec<_>>()
            .join(".");
        let e = refused(json!({format!("data.{path}"): 1}));
        assert!(e.rule.contains("too long a path"), "{e}");

        // Eight levels are fine; nine are not, wherever the ninth is.
        filter(json!({"data.a": {"$eq": [[[[[[1]]]]]]}}));
        let deep = json!({"data.a": {"$eq": [[[[[[[1]]]]]]]}});
        let e = refused(deep);
        assert_eq!(e.field, "filter.data.a.$eq");
        assert!(e.rule.contains("at most 8 levels"), "{e}");
        let nested_logic = json!({"$and": [{"$or": [{"$and": [{"$or": [{"data.a": 1}]}]}]}]});
        let e = refused(nested_logic);
        assert_eq!(e.field, "filter.$and[0].$or[0].$and[0].$or[0]");
        filter(json!({"data": {"a": {"b": {"c": {"d": {"e": {"f": {"g": 1}}}}}}}}));
        let nested_paths =
            json!({"data": {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": 1}}}}}}}}});
        let e = refused(nested_paths);
        assert_eq!(e.field, "filter.data.a.b.c.d.e.f.g");

        let many: Map<String, Value> = (0..=MAX_CONDITIONS)
            .map(|i| (format!("data.f{i}"), json!(i)))
            .collect();
        let e = refused(Value::Object(many.clone()));
        assert!(e.rule.contains("at most 50"), "{e}");
        let fifty: Map<String, Value> = many.into_iter().take(MAX_CONDITIONS).collect();
        filter(Value::Object(fifty));
    }

    #[test]
    fn a_filter_is_stored_as_its_json_text_and_read_back_the_same() {
        let f = filter(json!({"data.total": {"$gte": 100}, "$or": [{"type": "order.created"}]}));
        let stored = serde_json::to_value(&f).unwrap();
        assert!(stored.is_string());
        let back: Filter = serde_json::from_value(stored).unwrap();
        assert_eq!(back, f);
        assert_eq!(back.as_json(), f.as_json());
        let bad: Result<Filter, _> = serde_json::from_value(json!("{\"$gte\": 1}"));
        assert!(bad.is_err(), "what is stored is checked again");
    }

    #[test]
    fn numeric_strings_are_written_as_json_numbers() {
        for (s, want) in [
            ("99.99", Some(99.99)),
            ("-5", Some(-5.0)),
            ("1e3", Some(1000.0)),
            ("0", Some(0.0)),
            ("inf", None),
            ("NaN", None),
            (" 1", None),
            ("1 ", None),
            ("", None),
            ("-", None),
            ("1e999", None),
            ("0x10", None),
        ] {
            assert_eq!(numeric(s), want, "{s:?}");
        }
    }
}

#[cfg(test)]
mod properties {
    //! Parse then evaluate never panics, on any JSON: random documents, documents shaped
    //! like filters (operators and paths among other keys), and filters valid by design.

    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn scalar() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            (-1e6..1e6f64).prop_map(Value::from),
            "[a-c0-9.$ -]{0,6}".prop_map(Value::String),
            prop_oneof![Just("99.99"), Just("100"), Just("-1e3"), Just("NaN")]
                .prop_map(|s| Value::String(s.to_owned())),
        ]
    }

    /// Any JSON, keys from a small set so that paths sometimes find them.
    fn json_value() -> impl Strategy<Value = Value> {
        let key = prop_oneof![
            Just("a"),
            Just("b"),
            Just("items"),
            Just("sku"),
            Just("0"),
            Just("total")
        ]
        .prop_map(str::to_owned);
        scalar().prop_recursive(5, 48, 5, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                prop::collection::btree_map(key.clone(), inner, 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// Objects whose keys are operators, paths, or neither.
    fn filter_like() -> impl Strategy<Value = Value> {
        let key = prop_oneof![
            Just("data.a"),
            Just("data.items.sku"),
            Just("data.items.0.total"),
            Just("data"),
            Just("type"),
            Just("total"),
            Just("data..a"),
            Just("$and"),
            Just("$or"),
            Just("$not"),
            Just("$eq"),
            Just("$neq"),
            Just("$gt"),
            Just("$gte"),
            Just("$lt"),
            Just("$lte"),
            Just("$in"),
            Just("$nin"),
            Just("$exists"),
            Just("$regex"),
        ]
        .prop_map(str::to_owned);
        scalar().prop_recursive(9, 64, 4, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(key.clone(), inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// Filters within the rules by construction.
    fn valid_filter() -> impl Strategy<Value = Value> {
        let path = prop_oneof![
            Just("data.a"),
            Just("data.b"),
            Just("data.items.sku"),
            Just("data.items.0.total"),
            Just("data.total"),
            Just("type"),
            Just("id"),
        ]
        .prop_map(str::to_owned);
        let number = (-1000i64..1000).prop_map(Value::from);
        let op = prop_oneof![
            scalar().prop_map(|v| json!({"$eq": v})),
            scalar().prop_map(|v| json!({"$neq": v})),
            scalar(),
            number.clone().prop_map(|n| json!({"$gt": n})),
            number.clone().prop_map(|n| json!({"$gte": n})),
            number.clone().prop_map(|n| json!({"$lt": n})),
            number.prop_map(|n| json!({"$lte": n, "$not": {"$eq": 0}})),
            prop::collection::vec(scalar(), 0..4).prop_map(|l| json!({"$in": l})),
            prop::collection::vec(scalar(), 0..4).prop_map(|l| json!({"$nin": l})),
            any::<bool>().prop_map(|b| json!({"$exists": b})),
        ];
        let condition = (path, op).prop_map(|(p, o)| json!({ p: o }));
        condition.prop_recursive(2, 12, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 1..3).prop_map(|l| json!({"$and": l})),
                prop::collection::vec(inner.clone(), 1..3).prop_map(|l| json!({"$or": l})),
                inner.prop_map(|f| json!({"$not": f})),
            ]
        })
    }

    fn envelope() -> impl Strategy<Value = Value> {
        (
            json_value(),
            prop_oneof![Just("order.created"), Just("payment.success")],
        )
            .prop_map(|(data, t)| {
                json!({"id": "evt_1", "type": t, "timestamp": "2026-11-25T10:00:00Z",
                       "tenant": "acme", "data": data})
            })
    }

    /// Evaluates an accepted filter, checks `explain` agrees and the stored form reads back.
    fn exercise(filter: &Filter, event: &Value) -> Result<(), TestCaseError> {
        let matches = filter.matches(event);
        prop_assert_eq!(filter.explain(event).is_ok(), matches);
        let stored = serde_json::to_string(filter).expect("a filter serializes");
        let back: Filter = serde_json::from_str(&stored).expect("a stored filter reads back");
        prop_assert_eq!(&back, filter);
        prop_assert_eq!(back.matches(event), matches);
        Ok(())
    }

    proptest! {
        #[test]
        fn any_json_parses_or_is_refused_without_panic(source in json_value(), event in envelope()) {
            if let Ok(filter) = Filter::parse(&source) {
                exercise(&filter, &event)?;
            }
        }

        #[test]
        fn filter_shaped_json_parses_or_is_refused_by_place(source in filter_like(), event in envelope()) {
            match Filter::parse(&source) {
                Ok(filter) => exercise(&filter, &event)?,
                Err(e) => prop_assert!(e.field.starts_with("filter"), "{}", e),
            }
        }

        #[test]
        fn valid_filters_are_accepted_and_evaluate(source in valid_filter(), event in envelope()) {
            let filter = Filter::parse(&source).map_err(|e| TestCaseError::fail(e.to_string()))?;
            exercise(&filter, &event)?;
            // $not is exactly the opposite.
            let negated = Filter::parse(&json!({"$not": source})).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(negated.matches(&event), !filter.matches(&event));
        }
    }
}
