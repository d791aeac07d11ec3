//! Overrides: `PATH=VALUE` changes to a scenario, applied to the parsed TOML document before the
//! ordinary deserialisation and validation, so an overridden value is checked exactly like one
//! written in the file.
//!
//! # Syntax
//!
//! ```text
//! contract.total_cap=1200000          set a value
//! outcomes.housing.price=1800         an array-of-tables entry by its `id` ...
//! outcomes[0].price=1800              ... or by its index (also `outcomes.0.price`)
//! uncertainty.fill.mean-=0.15         add (+=) or subtract (-=) a number
//! enterprise.per_participant_cost*=1.2          multiply by a number
//! uncertainty.outcomes.*.rate.mean*=0.85        `*`: every entry of a table or array
//! uncertainty.fill={ mean = 0.7, sd = 0.05 }    any TOML value, including inline tables
//! contract.remainder=payers           a bare word is text
//! ```
//!
//! Keys are separated by `.`; a key holding a dot (or a space, a bracket, `=`, a quote) is
//! written in double quotes, a quote or a backslash in it after a backslash
//! (`"say \"hi\""`). A value is read as a TOML value (number, `"text"`, `true`, array, inline
//! table); anything else that is a single bare word is read as text. Arithmetic (`+=`, `-=`, `*=`) is exact decimal arithmetic;
//! a whole number in the file stays a whole number (rounded half away from zero). A path with
//! `*` applies wherever the rest of the path exists and is an error only when it matches
//! nothing.
//!
//! An override may replace an existing value of the same kind or add a key that the file leaves
//! out (an optional field, checked by the validation like any other); it cannot create tables
//! or array entries on the way.

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use std::fmt;
use std::str::FromStr;
use toml::{Table, Value};

/// One step of an override path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// A table key, or an array-of-tables entry's `id` (or its index, written as digits).
    Key(String),
    /// An array index (`[N]`).
    Index(usize),
    /// Every entry (`*` or `[*]`).
    All,
}

/// What an override does to the value at its path.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// Replace with a TOML value (stored as its text, re-parsed when applied).
    Set(String),
    /// Replace a number with this number (exactly, as `PATH=VALUE` does).
    SetNumber(Decimal),
    /// Add this number.
    Add(Decimal),
    /// Multiply by this number.
    Mul(Decimal),
}

/// A parsed override.
#[derive(Clone, Debug, PartialEq)]
pub struct Override {
    /// The text as given (for messages).
    pub text: String,
    /// The path.
    pub path: Vec<Step>,
    /// The change.
    pub op: Op,
    /// Who made the change, for the messages that name it ([`Override::cited`]).
    pub origin: Origin,
}

/// Who made an override: the command line's `--set`, or a variant that names its own changes
/// (a sweep's point, a stress, the solver's trial value).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Origin {
    /// The command line's `--set` (a library caller's own override is named alike).
    #[default]
    Set,
    /// A change named as the words say: `its set`, `--vary point`, the `delay` stress's
    /// change.
    Named(String),
}

/// Why an override could not be read or applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OverrideError(pub String);

impl fmt::Display for OverrideError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for OverrideError {}

fn err<T>(msg: impl Into<String>) -> Result<T, OverrideError> {
    Err(OverrideError(msg.into()))
}

/// Reads a number as written on a command line or in a file: `1_500`, `0.85`, `1e3`, `-2`.
pub fn parse_decimal(s: &str) -> Option<Decimal> {
    crate::money::parse_number(s).ok()
}

/// Parses an override path such as `outcomes.housing.price` or `uncertainty.shocks[0].factor`.
pub fn parse_path(s: &str) -> Result<Vec<Step>, OverrideError> {
    let s = s.trim();
    if s.is_empty() {
        return err("the path is empty; write it as in the file, e.g. `outcomes.housing.price`");
    }
    let chars: Vec<char> = s.chars().collect();
    let mut steps = Vec::new();
    let mut i = 0;
    let mut expect_key = true;
    while i < chars.len() {
        let c = chars[i];
        if expect_key {
            if c == '"' {
                // A quoted key; `\"` and `\\` in it are a quote and a backslash.
                let mut key = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return err(format!("unclosed quote in path `{s}`")),
                        Some('"') => break,
                        Some('\\') if matches!(chars.get(i + 1), Some('"' | '\\')) => {
                            key.push(chars[i + 1]);
                            i += 2;
                        }
                        Some(&x) => {
                            key.push(x);
                            i += 1;
                        }
                    }
                }
                steps.push(Step::Key(key));
                i += 1;
            } else {
                let start = i;
                while i < chars.len() && !matches!(chars[i], '.' | '[' | ']' | '"') {
                    i += 1;
                }
                let key: String = chars[start..i].iter().collect();
                if key.is_empty() {
                    return err(format!(
                        "empty key at character {} of path `{s}`; keys are separated by single dots",
                        start + 1
                    ));
                }
                if key.chars().any(char::is_whitespace) {
                    return err(format!(
                        "key `{key}` in path `{s}` contains a space; quote it: \"{key}\""
                    ));
                }
                steps.push(if key == "*" {
                    Step::All
                } else {
                    Step::Key(key)
                });
            }
            expect_key = false;
            continue;
        }
        match c {
            '.' => {
                expect_key = true;
                i += 1;
                if i == chars.len() {
                    return err(format!("path `{s}` ends with a dot"));
                }
            }
            '[' => {
                let start = i + 1;
                let Some(end) = chars[start..].iter().position(|&x| x == ']') else {
                    return err(format!("unclosed `[` in path `{s}`"));
                };
                let inner: String = chars[start..start + end].iter().collect();
                let inner = inner.trim();
                if inner == "*" {
                    steps.push(Step::All);
                } else {
                    match inner.parse::<usize>() {
                        Ok(n) => steps.push(Step::Index(n)),
                        Err(_) => {
                            return err(format!(
                                "`[{inner}]` in path `{s}` is not an index; write `[0]`, `[1]`, ... or `[*]`, or address an entry by its id with a dot: `outcomes.housing`"
                            ));
                        }
                    }
                }
                i = start + end + 1;
            }
            other => {
                return err(format!(
                    "unexpected `{other}` at character {} of path `{s}`",
                    i + 1
                ));
            }
        }
    }
    Ok(steps)
}

/// A key as a path writes it: as it is, or in double quotes where it holds a dot, a space or
/// anything else a path or an override reads otherwise (`"a.b"`, `"say \"hi\""`), so that
/// any id can be addressed.
pub fn key_text(k: &str) -> String {
    let plain = !k.is_empty()
        && k != "*"
        && !k
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '.' | '[' | ']' | '"' | '\\' | '='))
        && !k.ends_with(['+', '-', '*']);
    if plain {
        k.to_string()
    } else {
        format!("\"{}\"", k.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

/// A TOML value as inline TOML text (`{ probability = 1.0, outcomes = ["a", "b"] }`), as an
/// override's value is written: parsing it back gives the same value.
pub fn value_text(v: &Value) -> String {
    let mut s = String::new();
    write_value(&mut s, v);
    s
}

/// `x` as a TOML basic string: `"` and `\` escaped, and every control character (U+0000 to
/// U+001F and U+007F, which TOML does not allow raw) as `\uXXXX`.
fn basic_string(s: &mut String, x: &str) {
    s.push('"');
    for c in x.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            c if c.is_control() && (c as u32) < 0x80 => {
                s.push_str(&format!("\\u{:04X}", c as u32));
            }
            c => s.push(c),
        }
    }
    s.push('"');
}

fn write_value(s: &mut String, v: &Value) {
    match v {
        Value::String(x) => basic_string(s, x),
        Value::Integer(i) => s.push_str(&i.to_string()),
        Value::Float(f) if f.is_nan() => s.push_str("nan"),
        Value::Float(f) if f.is_infinite() => s.push_str(if *f > 0.0 { "inf" } else { "-inf" }),
        // `{:?}` keeps the point (`1.0`) and every digit that tells the value apart.
        Value::Float(f) => s.push_str(&format!("{f:?}")),
        Value::Boolean(b) => s.push_str(if *b { "true" } else { "false" }),
        Value::Datetime(d) => s.push_str(&d.to_string()),
        Value::Array(a) => {
            s.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    s.push_str(", ");
                }
                write_value(s, x);
            }
            s.push(']');
        }
        Value::Table(t) => {
            s.push('{');
            for (i, (k, x)) in t.iter().enumerate() {
                s.push_str(if i > 0 { ", " } else { " " });
                // A bare key is letters, digits, `_` and `-`; any other is a quoted one.
                let bare = !k.is_empty()
                    && k.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                if bare {
                    s.push_str(k);
                } else {
                    basic_string(s, k);
                }
                s.push_str(" = ");
                write_value(s, x);
            }
            s.push_str(if t.is_empty() { "}" } else { " }" });
        }
    }
}

/// Renders a path as written (`outcomes.housing.price`).
pub fn path_text(path: &[Step]) -> String {
    let mut s = String::new();
    for (i, st) in path.iter().enumerate() {
        match st {
            Step::Key(k) => {
                if i > 0 {
                    s.push('.');
                }
                s.push_str(&key_text(k));
            }
            Step::Index(n) => s.push_str(&format!("[{n}]")),
            Step::All => s.push_str(if i == 0 { "*" } else { ".*" }),
        }
    }
    s
}

impl Override {
    /// Parses `PATH=VALUE`, `PATH+=X`, `PATH-=X` or `PATH*=X`.
    pub fn parse(text: &str) -> Result<Override, OverrideError> {
        // The first `=` outside quotes separates the path from the value.
        let mut in_quote = false;
        let mut escaped = false;
        let mut eq = None;
        for (i, c) in text.char_indices() {
            if escaped {
                escaped = false;
                continue;
            }
            match c {
                '\\' if in_quote => escaped = true,
                '"' => in_quote = !in_quote,
                '=' if !in_quote => {
                    eq = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let Some(eq) = eq else {
            if in_quote {
                return err(format!(
                    "`{text}` has a `\"` that is not closed; quote a key with dots as `outcomes.\"my.id\".price=1800`"
                ));
            }
            return err(format!(
                "`{text}` has no `=`; write PATH=VALUE, e.g. `outcomes.housing.price=1800`"
            ));
        };
        let (mut lhs, value) = (&text[..eq], text[eq + 1..].trim());
        let mut kind = '=';
        if let Some(last) = lhs.chars().last() {
            if matches!(last, '+' | '-' | '*') {
                kind = last;
                lhs = &lhs[..lhs.len() - 1];
            }
        }
        let path = parse_path(lhs).map_err(|e| OverrideError(format!("in `{text}`: {e}")))?;
        if value.is_empty() {
            return err(format!("`{text}` has no value after `=`"));
        }
        let number = || {
            crate::money::parse_number(value).map_err(|p| {
                OverrideError(match p {
                    crate::money::NumberProblem::NotANumber => format!(
                        "in `{text}`: `{value}` is not a number; `{kind}=` takes a number such as 1.2 or -0.15"
                    ),
                    p => format!("in `{text}`: {}", p.describe(value)),
                })
            })
        };
        let op = match kind {
            '+' => Op::Add(number()?),
            '-' => Op::Add(-number()?),
            '*' => Op::Mul(number()?),
            _ => {
                if Value::from_str(value).is_err() && !is_bare_word(value) {
                    return err(format!(
                        "in `{text}`: `{value}` is not a value; write a number (1800, 0.85), text (payers or \"two words\"), true/false, an array [..] or an inline table {{ .. }}"
                    ));
                }
                Op::Set(value.to_string())
            }
        };
        Ok(Override {
            text: text.to_string(),
            path,
            op,
            origin: Origin::Set,
        })
    }

    /// The same change, named `by` in messages: `(after {by} `TEXT`)` instead of
    /// `(after --set TEXT)`.
    pub fn by(mut self, by: impl Into<String>) -> Override {
        self.origin = Origin::Named(by.into());
        self
    }

    /// The change as messages name it: `--set PATH=VALUE`, or its [`Origin::Named`] words
    /// and its text.
    pub fn cited(&self) -> String {
        match &self.origin {
            Origin::Set => format!("--set {}", self.text),
            Origin::Named(by) => format!("{by} `{}`", self.text),
        }
    }

    /// An override setting `path` to a number (used by sweeps and the solver).
    pub fn number(path: &[Step], x: Decimal) -> Override {
        Override {
            text: format!("{}={}", path_text(path), x.normalize()),
            path: path.to_vec(),
            op: Op::SetNumber(x),
            origin: Origin::Set,
        }
    }
}

fn is_bare_word(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 200
        && s.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | ':' | '%' | '+'))
}

/// Edit distance, for "did you mean".
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The nearest of `options` to `key`, if close enough to be a likely typo.
pub fn nearest<'a>(key: &str, options: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (key.chars().count() / 3).max(1) + 1;
    options
        .into_iter()
        .map(|o| (distance(key, o), o))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, o)| o)
}

fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "text",
        Value::Integer(_) => "a whole number",
        Value::Float(_) => "a number",
        Value::Boolean(_) => "true or false",
        Value::Datetime(_) => "a date",
        Value::Array(_) => "an array",
        Value::Table(_) => "a table",
    }
}

/// The number a value holds (numbers, and text holding a number such as "1500.10").
fn value_decimal(v: &Value) -> Option<Decimal> {
    match v {
        Value::Integer(i) => Some(Decimal::from(*i)),
        // As the scenario reads it (see `raw::Num`).
        Value::Float(f) if f.is_finite() => super::raw::float_decimal(*f),
        Value::String(s) => parse_decimal(s),
        _ => None,
    }
}

/// The float for the number `x`, which reads back as exactly `x` (see [`super::raw::Num`]); a
/// number with more significant digits than a float keeps is refused, never rounded.
fn float_value(x: Decimal, text: &str) -> Result<Value, OverrideError> {
    // The nearest float, through the decimal text (`Decimal::to_f64` is not always nearest).
    let f = x
        .normalize()
        .to_string()
        .parse::<f64>()
        .ok()
        .filter(|f| super::raw::float_decimal(*f) == Some(x));
    match f {
        Some(f) => Ok(Value::Float(f)),
        None => err(format!(
            "in `{text}`: the result {} cannot be held exactly: a number with a fraction keeps at most 15 significant digits (as one written in the file); give a value or a factor with fewer digits",
            x.normalize()
        )),
    }
}

/// A value for the number `x` where the file has `old`: whole numbers stay whole (rounded half
/// away from zero), text stays text, anything else becomes a float that holds `x` exactly.
fn number_value(x: Decimal, old: &Value, text: &str) -> Result<Value, OverrideError> {
    let out_of_range = || {
        OverrideError(format!(
            "in `{text}`: the result {x} is out of range; {}",
            crate::money::LARGEST_NUMBERS
        ))
    };
    Ok(match old {
        Value::Integer(_) => Value::Integer(
            x.round_dp_with_strategy(0, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
                .to_i64()
                .ok_or_else(out_of_range)?,
        ),
        Value::String(_) => Value::String(x.normalize().to_string()),
        _ => float_value(x, text)?,
    })
}

/// Parses the value of `PATH=VALUE`: a TOML value, or a bare word as text.
fn parse_value(value: &str, text: &str) -> Result<Value, OverrideError> {
    match Value::from_str(value) {
        Ok(v) => Ok(v),
        // A number TOML cannot hold (`1e400`, 25 digits) is not text.
        Err(_)
            if value.starts_with(|c: char| c.is_ascii_digit() || matches!(c, '-' | '+' | '.'))
                && value.parse::<f64>().is_ok() =>
        {
            match crate::money::parse_number(value) {
                Err(p) => err(format!("in `{text}`: {}", p.describe(value))),
                Ok(_) => err(format!(
                    "in `{text}`: `{value}` is too large a number; {}",
                    crate::money::LARGEST_NUMBERS
                )),
            }
        }
        Err(_) if is_bare_word(value) => Ok(Value::String(value.to_string())),
        Err(_) => err(format!("in `{text}`: `{value}` is not a value")),
    }
}

/// Where overrides landed: the concrete paths they changed, in the form validation messages
/// use (`outcomes[0].price`), with the override that changed each.
#[derive(Clone, Debug, Default)]
pub struct Applied {
    /// (concrete path, the override as messages name it: [`Override::cited`]).
    pub paths: Vec<(String, String)>,
    /// Concrete paths where arithmetic left a fraction in a number the file writes whole, with
    /// the result rounded half away from zero: the value used where the term must be a whole
    /// number (a size, a lag, a period); elsewhere (a price, an amount) the exact result stays.
    pub rounded: Vec<(String, i64)>,
}

impl Applied {
    /// The override ([`Override::cited`]) that changed `path` or a value inside or around it, if any: the last
    /// one, whose value stands.
    pub fn cause(&self, path: &str) -> Option<&str> {
        self.paths
            .iter()
            .rev()
            .find(|(p, _)| {
                p == path
                    || path.is_empty()
                    || p.starts_with(&format!("{path}."))
                    || p.starts_with(&format!("{path}["))
                    || path.starts_with(&format!("{p}."))
                    || path.starts_with(&format!("{p}["))
            })
            .map(|(_, t)| t.as_str())
    }
}

/// What names an array entry: its `id`, or for an entry without one (an MKBA line) the
/// `outcome` it is about.
fn entry_label(v: &Value) -> Option<&str> {
    match v {
        Value::Table(t) => t
            .get("id")
            .or_else(|| t.get("outcome"))
            .and_then(Value::as_str),
        _ => None,
    }
}

/// Applies `overrides` in order to the document `doc`.
pub fn apply(doc: &mut Table, overrides: &[Override]) -> Result<Applied, OverrideError> {
    let mut applied = Applied::default();
    for o in overrides {
        let mut hits = Hits {
            found: Vec::new(),
            whole: &applied.rounded,
        };
        let mut root = Value::Table(std::mem::take(doc));
        let r = apply_at(&mut root, &o.path, 0, String::new(), o, &mut hits);
        let hits = hits.found;
        if let Value::Table(t) = root {
            *doc = t;
        }
        r?;
        if hits.is_empty() {
            return err(format!(
                "`{}`: the path `{}` matches nothing in this scenario",
                o.text,
                path_text(&o.path)
            ));
        }
        for (h, rounded) in hits {
            // The last change of a path decides its rounding.
            applied.rounded.retain(|(p, _)| *p != h);
            if let Some(r) = rounded {
                applied.rounded.push((h.clone(), r));
            }
            applied.paths.push((h, o.cited()));
        }
    }
    Ok(applied)
}

fn join_key(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

/// The paths one override changed, with the rounded result where it left a fraction in a
/// whole number (see [`Applied::rounded`]); and the paths earlier overrides left holding such
/// a fraction, which the file writes whole.
struct Hits<'a> {
    found: Vec<(String, Option<i64>)>,
    whole: &'a [(String, i64)],
}

fn apply_at(
    cur: &mut Value,
    path: &[Step],
    depth: usize,
    concrete: String,
    o: &Override,
    hits: &mut Hits<'_>,
) -> Result<(), OverrideError> {
    // Below a wildcard, entries without the rest of the path are skipped.
    let wild = o.path[..depth].contains(&Step::All);
    let here = || {
        if depth == 0 {
            "the scenario".to_string()
        } else {
            format!("`{}`", path_text(&o.path[..depth]))
        }
    };
    let Some((step, rest)) = path.split_first() else {
        let whole = hits.whole.iter().any(|(p, _)| *p == concrete);
        return change(cur, o, &concrete, whole)
            .map(|rounded| hits.found.push((concrete, rounded)));
    };
    match cur {
        Value::Table(t) => match step {
            Step::All => {
                let keys: Vec<String> = t.keys().cloned().collect();
                for k in keys {
                    let v = t.get_mut(&k).expect("key listed");
                    apply_at(v, rest, depth + 1, join_key(&concrete, &k), o, hits)?;
                }
                Ok(())
            }
            Step::Key(k) => {
                if let Some(v) = t.get_mut(k.as_str()) {
                    return apply_at(v, rest, depth + 1, join_key(&concrete, k), o, hits);
                }
                if wild {
                    return Ok(());
                }
                if rest.is_empty() && !matches!(o.op, Op::Add(_) | Op::Mul(_)) {
                    // A key the file leaves out: add it; validation checks it is allowed.
                    let v = match &o.op {
                        Op::Set(s) => parse_value(s, &o.text)?,
                        Op::SetNumber(x) => float_value(*x, &o.text)?,
                        _ => unreachable!(),
                    };
                    t.insert(k.clone(), v);
                    hits.found.push((join_key(&concrete, k), None));
                    return Ok(());
                }
                let keys: Vec<&str> = t.keys().map(String::as_str).collect();
                let hint = match nearest(k, keys.iter().copied()) {
                    Some(n) => format!("did you mean `{n}`? "),
                    None => String::new(),
                };
                // Not a typo and more path to come: perhaps an optional table the file leaves
                // out, which an override adds whole.
                let whole = if hint.is_empty() && !rest.is_empty() {
                    format!(
                        "; if `{k}` is an optional table the file leaves out, set it whole, e.g. `{}={{ ... }}`",
                        join_key(&concrete, k)
                    )
                } else {
                    String::new()
                };
                err(format!(
                    "`{}`: unknown path: {} has no `{k}`; {hint}it has {}{whole}",
                    o.text,
                    here(),
                    if keys.is_empty() {
                        "no fields".to_string()
                    } else {
                        keys.iter()
                            .map(|k| format!("`{k}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                ))
            }
            Step::Index(_) => err(format!(
                "`{}`: {} is a table, not an array; address its fields by name",
                o.text,
                here()
            )),
        },
        Value::Array(a) => {
            let idx: Option<usize> = match step {
                Step::All => {
                    for (i, v) in a.iter_mut().enumerate() {
                        apply_at(v, rest, depth + 1, format!("{concrete}[{i}]"), o, hits)?;
                    }
                    return Ok(());
                }
                Step::Index(i) => Some(*i),
                Step::Key(k) => a
                    .iter()
                    .position(|v| entry_label(v) == Some(k.as_str()))
                    .or_else(|| k.parse::<usize>().ok()),
            };
            let n = a.len();
            let ids: Vec<String> = a
                .iter()
                .filter_map(|v| entry_label(v).map(str::to_string))
                .collect();
            match idx.and_then(|i| a.get_mut(i).map(|v| (i, v))) {
                Some((i, v)) => apply_at(v, rest, depth + 1, format!("{concrete}[{i}]"), o, hits),
                None if wild => Ok(()),
                None => {
                    let what = match step {
                        Step::Key(k) if k.parse::<usize>().is_err() => {
                            format!("no entry with id `{k}`")
                        }
                        _ => "no such entry".to_string(),
                    };
                    let hint = match step {
                        Step::Key(k) => match nearest(k, ids.iter().map(String::as_str)) {
                            Some(x) => format!("did you mean `{x}`? "),
                            None => String::new(),
                        },
                        _ => String::new(),
                    };
                    let listing = if ids.len() == n && n > 0 {
                        format!(
                            "its entries are {} (or by index 0 to {})",
                            ids.iter()
                                .map(|k| format!("`{k}`"))
                                .collect::<Vec<_>>()
                                .join(", "),
                            n - 1
                        )
                    } else if n > 0 {
                        format!("it has {n} entries, index 0 to {}", n - 1)
                    } else {
                        "it is empty".to_string()
                    };
                    err(format!(
                        "`{}`: unknown path: {} has {what}; {hint}{listing}",
                        o.text,
                        here()
                    ))
                }
            }
        }
        other if wild => {
            let _ = other;
            Ok(())
        }
        other => err(format!(
            "`{}`: unknown path: {} is {}, which has no fields",
            o.text,
            here(),
            kind_name(other)
        )),
    }
}

/// Changes the value `cur` as `o` says; returns the rounded result where arithmetic left a
/// fraction in a number the file writes whole (see [`Applied::rounded`]). `was_whole`: the
/// file writes it whole, though an earlier override left a fraction in it (the fraction is
/// kept exact, so overrides in a row round once, at the end).
fn change(
    cur: &mut Value,
    o: &Override,
    concrete: &str,
    was_whole: bool,
) -> Result<Option<i64>, OverrideError> {
    let text = &o.text;
    let numeric = |cur: &Value| {
        value_decimal(cur).ok_or_else(|| {
            OverrideError(match cur {
                Value::Float(f) if f.is_finite() => format!(
                    "`{text}`: `{concrete}` is {f:e}, too large to be changed by arithmetic; {}",
                    crate::money::LARGEST_NUMBERS
                ),
                _ => format!(
                    "`{text}`: `{concrete}` is {}, not a number, so it cannot be changed by arithmetic",
                    kind_name(cur)
                ),
            })
        })
    };
    // A result a decimal cannot hold exactly: beyond its range, or with more than 28
    // significant digits, which `Decimal` would round (a product of two small numbers to 0).
    let inexact = |a: Decimal, op: char, b: Decimal, rounded: Option<Decimal>| match rounded {
        None => OverrideError(format!(
            "`{text}`: {} {op} {} at `{concrete}` is out of range; {}",
            a.normalize(),
            b.normalize(),
            crate::money::LARGEST_NUMBERS
        )),
        Some(r) => OverrideError(format!(
            "`{text}`: {} {op} {} at `{concrete}` cannot be held exactly: a number has at most 28 significant digits and at most 28 decimals, and this one would be rounded to {}",
            a.normalize(),
            b.normalize(),
            r.normalize()
        )),
    };
    // Arithmetic is exact: a fraction where the file has a whole number stays a fraction, and
    // the caller rounds it only where the term must be whole.
    let whole = was_whole || matches!(cur, Value::Integer(_));
    // What the file writes: a whole number, or the value as it is.
    let written = |cur: &Value| {
        if whole {
            Value::Integer(0)
        } else {
            cur.clone()
        }
    };
    let exact = |x: Decimal, cur: &Value| -> Result<(Value, Option<i64>), OverrideError> {
        if whole && !x.fract().is_zero() {
            let f = float_value(x, text)?;
            let r = number_value(x, &Value::Integer(0), text)?.as_integer();
            Ok((f, r))
        } else {
            Ok((number_value(x, &written(cur), text)?, None))
        }
    };
    let mut rounded = None;
    let new = match &o.op {
        Op::Add(d) => {
            let a = numeric(cur)?;
            let x = crate::money::exact_add(a, *d).ok_or_else(|| {
                let (op, b) = if d.is_sign_negative() {
                    ('-', -*d)
                } else {
                    ('+', *d)
                };
                inexact(a, op, b, a.checked_add(*d))
            })?;
            let (v, r) = exact(x, cur)?;
            rounded = r;
            v
        }
        Op::Mul(d) => {
            let a = numeric(cur)?;
            let x = crate::money::exact_mul(a, *d)
                .ok_or_else(|| inexact(a, '×', *d, a.checked_mul(*d)))?;
            let (v, r) = exact(x, cur)?;
            rounded = r;
            v
        }
        Op::SetNumber(x) => {
            numeric(cur)?;
            // As `PATH=VALUE`: a fraction where the file has a whole number is kept as it is
            // (a price written `1_500` may take decimals; validation refuses it where a whole
            // number is required).
            if whole && !x.fract().is_zero() {
                float_value(*x, text)?
            } else {
                number_value(*x, &written(cur), text)?
            }
        }
        Op::Set(s) => {
            let v = match parse_value(s, text) {
                Ok(v) => v,
                // A number too large to hold, given for text (an id): say it is not text,
                // rather than how large numbers may be.
                Err(_)
                    if s.parse::<f64>().is_ok()
                        && matches!(&*cur, Value::String(old) if parse_decimal(old).is_none()) =>
                {
                    return err(format!(
                        "`{text}`: `{concrete}` is text in the scenario, but `{s}` is a number"
                    ));
                }
                Err(e) => return Err(e),
            };
            let ok = match (&*cur, &v) {
                (Value::Integer(_) | Value::Float(_), Value::Integer(_) | Value::Float(_)) => true,
                (Value::Integer(_) | Value::Float(_), Value::String(s)) => {
                    parse_decimal(s).is_some()
                }
                (Value::String(old), Value::Integer(_) | Value::Float(_)) => {
                    parse_decimal(old).is_some()
                }
                (a, b) => std::mem::discriminant(a) == std::mem::discriminant(b),
            };
            if !ok {
                let fields = match &*cur {
                    Value::Table(t) => format!(
                        "; set one of its fields instead: {}",
                        t.keys()
                            .map(|k| format!("`{concrete}.{k}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    _ => String::new(),
                };
                return err(format!(
                    "`{text}`: `{concrete}` is {} in the scenario, but `{s}` is {}{fields}",
                    kind_name(cur),
                    kind_name(&v)
                ));
            }
            v
        }
    };
    *cur = new;
    Ok(rounded)
}

/// The value at `path` in `doc`, by the rules an override follows (a key of an array of
/// tables names the entry with that `id`, or its index); `None` where the path matches nothing
/// or goes through a wildcard. Reads ids as they are, whatever characters they hold.
pub fn value_at<'a>(doc: &'a Table, path: &[Step]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    let Step::Key(k) = first else { return None };
    let mut cur = doc.get(k.as_str())?;
    for step in rest {
        cur = match (cur, step) {
            (Value::Table(t), Step::Key(k)) => t.get(k.as_str())?,
            (Value::Array(a), Step::Index(i)) => a.get(*i)?,
            (Value::Array(a), Step::Key(k)) => a
                .iter()
                .position(|v| entry_label(v) == Some(k.as_str()))
                .or_else(|| k.parse::<usize>().ok())
                .and_then(|i| a.get(i))?,
            _ => return None,
        };
    }
    Some(cur)
}

/// Sets the value at the concrete path `concrete` (`cohorts[0].size`, as in
/// [`Applied::paths`]) of `doc`; false when the path is not there.
pub fn set_concrete(doc: &mut Table, concrete: &str, v: Value) -> bool {
    let mut parts: Vec<Result<&str, usize>> = Vec::new();
    for part in concrete.split('.') {
        let (key, mut rest) = part.split_at(part.find('[').unwrap_or(part.len()));
        if !key.is_empty() {
            parts.push(Ok(key));
        }
        while let Some(end) = rest.find(']') {
            match rest[1..end].parse() {
                Ok(i) => parts.push(Err(i)),
                Err(_) => return false,
            }
            rest = &rest[end + 1..];
        }
    }
    let Some((last, path)) = parts.split_last() else {
        return false;
    };
    let mut cur: &mut Value = match path.first() {
        Some(Ok(k)) => match doc.get_mut(*k) {
            Some(v) => v,
            None => return false,
        },
        Some(Err(_)) => return false,
        None => {
            return match last {
                Ok(k) if doc.contains_key(*k) => {
                    doc.insert((*k).to_string(), v);
                    true
                }
                _ => false,
            };
        }
    };
    for part in &path[1..] {
        cur = match (cur, part) {
            (Value::Table(t), Ok(k)) => match t.get_mut(*k) {
                Some(v) => v,
                None => return false,
            },
            (Value::Array(a), Err(i)) => match a.get_mut(*i) {
                Some(v) => v,
                None => return false,
            },
            _ => return false,
        };
    }
    match (cur, last) {
        (Value::Table(t), Ok(k)) if t.contains_key(*k) => {
            t.insert((*k).to_string(), v);
            true
        }
        (Value::Array(a), Err(i)) if *i < a.len() => {
            a[*i] = v;
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> Table {
        Table::from_str(
            r#"
[contract]
total_cap = 1_500_000
period = "quarter"
[[outcomes]]
id = "housing"
price = 1500
[[outcomes]]
id = "work"
price = 2500.5
[uncertainty]
fill = { mean = 0.85, sd = 0.08 }
[uncertainty.outcomes.housing]
rate = { mean = 0.6, sd = 0.08 }
[uncertainty.outcomes.work]
rate = { mean = 0.4, sd = 0.08 }
"#,
        )
        .unwrap()
    }

    fn get<'a>(t: &'a Table, path: &[&str]) -> &'a Value {
        let mut v = t.get(path[0]).unwrap();
        for p in &path[1..] {
            v = match v {
                Value::Table(t) => t.get(*p).unwrap(),
                Value::Array(a) => &a[p.parse::<usize>().unwrap()],
                _ => panic!(),
            };
        }
        v
    }

    fn set(d: &mut Table, s: &str) -> Result<Applied, OverrideError> {
        apply(d, &[Override::parse(s)?])
    }

    #[test]
    fn paths_by_id_index_and_wildcard() {
        let mut d = doc();
        let a = set(&mut d, "outcomes.housing.price=1800").unwrap();
        assert_eq!(a.paths[0].0, "outcomes[0].price");
        assert_eq!(get(&d, &["outcomes", "0", "price"]), &Value::Integer(1800));
        set(&mut d, "outcomes[1].price*=2").unwrap();
        assert_eq!(get(&d, &["outcomes", "1", "price"]), &Value::Float(5001.0));
        set(&mut d, "outcomes.1.price+=-1").unwrap();
        assert_eq!(get(&d, &["outcomes", "1", "price"]), &Value::Float(5000.0));
        set(&mut d, "uncertainty.fill.mean-=0.15").unwrap();
        assert_eq!(
            get(&d, &["uncertainty", "fill", "mean"]),
            &Value::Float(0.7)
        );
        let a = set(&mut d, "uncertainty.outcomes.*.rate.mean*=0.5").unwrap();
        assert_eq!(a.paths.len(), 2);
        assert_eq!(
            get(&d, &["uncertainty", "outcomes", "work", "rate", "mean"]),
            &Value::Float(0.2)
        );
        set(&mut d, "contract.total_cap*=0.85").unwrap();
        assert_eq!(
            get(&d, &["contract", "total_cap"]),
            &Value::Integer(1_275_000)
        );
        set(&mut d, "contract.period=year").unwrap();
        assert_eq!(
            get(&d, &["contract", "period"]),
            &Value::String("year".into())
        );
        set(&mut d, "uncertainty.fill={ mean = 0.5, sd = 0.1 }").unwrap();
        set(&mut d, "contract.remainder=payers").unwrap();
    }

    /// Any id can be written as a key of a path and read back: quoted where it holds a dot, a
    /// quote, a backslash, a bracket, `=`, a space or ends like an operator.
    #[test]
    fn every_key_reads_back_as_written() {
        for k in [
            "housing",
            "a.b",
            "say \"hi\"",
            "back\\slash",
            "end\\",
            "[0]",
            "a=b",
            "x+",
            "y-",
            "*",
            "two words",
            "",
            "ci,ty",
            "é",
        ] {
            let path = vec![Step::Key("outcomes".into()), Step::Key(k.into())];
            let text = path_text(&path);
            assert_eq!(parse_path(&text).unwrap(), path, "{k}: {text}");
            let o = Override::parse(&format!("{text}.price*=2")).unwrap();
            assert_eq!(o.path[1], Step::Key(k.into()), "{k}: {text}");
            assert_eq!(o.op, Op::Mul(Decimal::from(2)));
        }
        assert_eq!(
            path_text(&[Step::Key("benefit-days".into())]),
            "benefit-days"
        );
    }

    #[test]
    fn clear_errors() {
        let mut d = doc();
        let e = set(&mut d, "outcomes.hosuing.price=1").unwrap_err().0;
        assert!(
            e.contains("no entry with id `hosuing`") && e.contains("did you mean `housing`"),
            "{e}"
        );
        // A key the file leaves out is added; validation then judges it (see tests/stress.rs).
        assert!(set(&mut d, "contract.totl_cap=1").is_ok());
        let e = set(&mut d, "contract.period.x=1").unwrap_err().0;
        assert!(e.contains("has no fields"), "{e}");
        let e = set(&mut d, "outcomes.housing.price=abc").unwrap_err().0;
        assert!(
            e.contains("is a whole number in the scenario, but `abc` is text"),
            "{e}"
        );
        // A number too large to hold, given for text, is told it is not text.
        let e = set(&mut d, "outcomes.housing.id=18446744073709551616")
            .unwrap_err()
            .0;
        assert!(
            e.contains("is text in the scenario, but `18446744073709551616` is a number")
                && !e.contains("amounts of money"),
            "{e}"
        );
        let e = set(&mut d, "uncertainty.fill=0.5").unwrap_err().0;
        assert!(e.contains("`uncertainty.fill.mean`"), "{e}");
        let e = set(&mut d, "contract.period*=2").unwrap_err().0;
        assert!(e.contains("not a number"), "{e}");
        let e = set(&mut d, "nothing.*.x=1").unwrap_err().0;
        assert!(e.contains("unknown path"), "{e}");
        let e = set(&mut d, "uncertainty.outcomes.*.quantity.mean=1")
            .unwrap_err()
            .0;
        assert!(e.contains("matches nothing"), "{e}");
        assert!(Override::parse("price").is_err());
        assert!(Override::parse("a..b=1").is_err());
        assert!(Override::parse("a[x]=1").is_err());
        assert!(Override::parse("a=[1,").is_err());
        assert!(Override::parse("a*=x").is_err());
    }
}
