//! Scenario files: TOML text -> validated [`Scenario`].
//!
//! Parsing happens in three steps: the TOML is parsed into a spanned document; the document is
//! deserialized into plain structs ([`raw`]) that reject unknown fields; the structs are checked
//! for meaning ([`validate`]) and converted into domain types. Every problem becomes a
//! [`Diagnostic`] whose field path is looked up in the spanned document to give a line and column.
//! This module does no IO: the caller passes the file's name and text.

mod business;
pub mod overrides;
pub mod raw;
pub mod validate;

use crate::contract::Contract;
use crate::error::{Diagnostic, Diagnostics};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// A validated scenario: the contract (and, later, its uncertainty model).
#[derive(Clone, Debug)]
pub struct Scenario {
    /// The contract's terms.
    pub contract: Contract,
    /// The `[uncertainty]` table as written, for the Monte Carlo model.
    pub uncertainty: Option<toml::Table>,
    /// Named stresses (`[[stresses]]`), in file order.
    pub stresses: Vec<StressDef>,
}

/// A named stress from the file: a set of overrides with a description.
#[derive(Clone, Debug, PartialEq)]
pub struct StressDef {
    /// Short name (`recession`).
    pub id: String,
    /// What it means, for people.
    pub description: String,
    /// The overrides.
    pub set: Vec<overrides::Override>,
}

/// The most stresses a scenario may name: each is checked by reading the scenario with it, so
/// reading a file takes time in proportion to their number times its length.
pub const MAX_STRESSES: usize = 200;

fn stresses(raw: &raw::RawScenario) -> Result<Vec<StressDef>, Vec<Diagnostic>> {
    let mut out = Vec::new();
    let mut errs = Vec::new();
    if raw.stresses.len() > MAX_STRESSES {
        return Err(vec![Diagnostic::new(
            "stresses",
            format!(
                "{} stresses; a scenario has at most {MAX_STRESSES} (each is checked by reading the scenario with it); keep the others in a second file",
                raw.stresses.len()
            ),
        )]);
    }
    for (i, st) in raw.stresses.iter().enumerate() {
        if st.id.trim().is_empty() {
            errs.push(Diagnostic::new(
                format!("stresses[{i}].id"),
                "a stress needs a name",
            ));
        }
        if raw.stresses[..i].iter().any(|o| o.id == st.id) {
            errs.push(Diagnostic::new(
                format!("stresses[{i}].id"),
                format!("stress `{}` is defined twice", st.id),
            ));
        }
        if st.set.is_empty() {
            errs.push(Diagnostic::new(
                format!("stresses[{i}].set"),
                "a stress needs at least one override, e.g. set = [\"uncertainty.fill.mean-=0.15\"]",
            ));
        }
        let mut set = Vec::new();
        for (j, s) in st.set.iter().enumerate() {
            match overrides::Override::parse(s) {
                Ok(o) => set.push(o.by("its set")),
                Err(e) => errs.push(Diagnostic::new(format!("stresses[{i}].set[{j}]"), e.0)),
            }
        }
        out.push(StressDef {
            id: st.id.clone(),
            description: st.description.clone().unwrap_or_default(),
            set,
        });
    }
    if errs.is_empty() { Ok(out) } else { Err(errs) }
}

/// Parses TOML `text` into the plain serde type `T` (unknown fields rejected), with the
/// problem's line and column; `file` names it in messages. Used for scenario and tree files.
pub fn deserialize<T: serde::de::DeserializeOwned>(
    file: &str,
    text: &str,
) -> Result<T, Diagnostics> {
    let fail = |items: Vec<Diagnostic>| {
        Diagnostics {
            file: file.to_string(),
            items,
        }
        .sorted()
    };
    let doc = match DeTable::parse(text) {
        Ok(d) => d,
        Err(e) => {
            let mut d = Diagnostic::new("", format!("not valid TOML: {}", e.message().trim()));
            if let Some(span) = e.span() {
                let (l, c) = line_col(text, span.start);
                d = d.at(l, c);
            }
            return Err(fail(vec![d]));
        }
    };
    // Text too long to show (a table's column, a chart's file name) is refused first.
    let mut long = Vec::new();
    long_texts_de(doc.get_ref(), "", &mut long);
    if !long.is_empty() {
        return Err(fail(
            long.into_iter()
                .map(|(path, m, off)| {
                    let (l, c) = line_col(text, off);
                    Diagnostic::new(path, m).at(l, c)
                })
                .collect(),
        ));
    }
    let de = toml::Deserializer::from(doc.clone());
    match serde_path_to_error::deserialize(de) {
        Ok(r) => Ok(r),
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let path = if path == "." { String::new() } else { path };
            let mut message = friendly_serde(inner.message());
            message = narrowed(&path, message);
            if let Some(hint) = unknown_field_hint(&message) {
                message.push_str(&hint);
            }
            let mut d = Diagnostic::new(path.clone(), message);
            let pos = inner
                .span()
                .map(|s| s.start)
                .or_else(|| locate(&doc, &path));
            if let Some(off) = pos {
                let (l, c) = line_col(text, off);
                d = d.at(l, c);
            }
            let mut items = Vec::new();
            if let Some(key) = missing_key(inner.message()) {
                items = more_missing::<T>(text, &doc, &path, key);
                // Where the first was placed, the others in its table are too.
                for x in items.iter_mut().filter(|x| x.path == d.path) {
                    x.line = d.line;
                    x.column = d.column;
                }
            }
            items.insert(0, d);
            Err(fail(items))
        }
    }
}

/// The most characters an `id` may have: ids name chart files and line up in tables.
pub const MAX_ID_CHARS: usize = 64;
/// The most characters a `name` may have.
pub const MAX_NAME_CHARS: usize = 120;
/// The most characters of `currency` (a code such as EUR, shown beside every amount).
pub const MAX_CURRENCY_CHARS: usize = 12;
/// The most characters of any other text (a description, a tree's advice) and of a key.
pub const MAX_TEXT_CHARS: usize = 2_000;

/// The most characters a string under `key` may have, and what it is called in a message.
fn text_limit(key: &str) -> (usize, &'static str) {
    match key {
        "id" => (MAX_ID_CHARS, "an id"),
        "name" => (MAX_NAME_CHARS, "a name"),
        "currency" => (MAX_CURRENCY_CHARS, "the currency"),
        _ => (MAX_TEXT_CHARS, "a text"),
    }
}

/// The problem with `s`, written at `key`, if it is longer than its kind allows.
fn too_long(key: &str, s: &str, is_key: bool) -> Option<String> {
    let (max, what) = if is_key {
        (MAX_TEXT_CHARS, "a key")
    } else {
        text_limit(key)
    };
    let n = s.chars().count();
    (n > max).then(|| {
        format!(
            "{what} may have at most {max} characters; this one (`{}`) has {n}",
            head_of(s)
        )
    })
}

/// The first 24 characters of `s`, with "…" where there are more.
fn head_of(s: &str) -> String {
    let mut head: String = s.chars().take(24).collect();
    if head.len() < s.len() {
        head.push('…');
    }
    head
}

/// Texts and keys of a parsed TOML file longer than [`text_limit`] allows, with their paths
/// and byte offsets.
fn long_texts_de(table: &DeTable<'_>, path: &str, out: &mut Vec<(String, String, usize)>) {
    for (k, v) in table {
        let key = k.get_ref().as_ref();
        if let Some(m) = too_long(key, key, true) {
            out.push((join_path(path, &head_of(key)), m, k.span().start));
            continue;
        }
        long_texts_value_de(key, v, &join_path(path, key), out);
    }
}

fn long_texts_value_de(
    key: &str,
    v: &Spanned<DeValue<'_>>,
    path: &str,
    out: &mut Vec<(String, String, usize)>,
) {
    match v.get_ref() {
        DeValue::String(s) => {
            if let Some(m) = too_long(key, s, false) {
                out.push((path.to_string(), m, v.span().start));
            }
        }
        DeValue::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                long_texts_value_de(key, x, &format!("{path}[{i}]"), out);
            }
        }
        DeValue::Table(t) => long_texts_de(t, path, out),
        _ => {}
    }
}

/// [`long_texts_de`] for a document as a [`toml::Table`] (after overrides), without offsets.
/// `path` is the table's own path, a buffer that each entry's path is written into in turn (a
/// design command checks hundreds of documents, and most have no long text at all).
fn long_texts(table: &toml::Table, path: &mut String, out: &mut Vec<Diagnostic>) {
    fn value(key: &str, v: &toml::Value, path: &mut String, out: &mut Vec<Diagnostic>) {
        match v {
            toml::Value::String(s) => {
                if let Some(m) = too_long(key, s, false) {
                    out.push(Diagnostic::new(path.as_str(), m));
                }
            }
            toml::Value::Array(a) => {
                let len = path.len();
                for (i, x) in a.iter().enumerate() {
                    use std::fmt::Write;
                    let _ = write!(path, "[{i}]");
                    value(key, x, path, out);
                    path.truncate(len);
                }
            }
            toml::Value::Table(t) => long_texts(t, path, out),
            _ => {}
        }
    }
    for (k, v) in table {
        if let Some(m) = too_long(k, k, true) {
            out.push(Diagnostic::new(join_path(path, &head_of(k)), m));
            continue;
        }
        let len = path.len();
        if len > 0 {
            path.push('.');
        }
        path.push_str(k);
        value(k, v, path, out);
        path.truncate(len);
    }
}

fn join_path(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// The field a serde "missing field `x`" message names.
fn missing_key(msg: &str) -> Option<&str> {
    msg.trim()
        .strip_prefix("missing field `")?
        .split('`')
        .next()
}

/// The value at `path` (as serde_path_to_error writes it: `a.b[2].c`, empty for the root).
fn value_at<'a>(root: &'a mut toml::Value, path: &str) -> Option<&'a mut toml::Value> {
    let mut cur = root;
    for seg in segments(path) {
        cur = match (cur, seg) {
            (toml::Value::Table(t), Seg::Key(k)) => t.get_mut(k)?,
            (toml::Value::Array(a), Seg::Index(i)) => a.get_mut(i)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// The other required fields missing from `text` besides `first` (missing in the table at
/// `path`): serde stops at the first, so each is given a stand-in (of whichever kind the field
/// takes) and the file read again, until it reads or fails for another reason. Each is
/// reported at its table.
fn more_missing<T: serde::de::DeserializeOwned>(
    text: &str,
    doc: &Spanned<DeTable<'_>>,
    path: &str,
    first: &str,
) -> Vec<Diagnostic> {
    use std::str::FromStr;
    let stand_in = |k: usize| -> Option<toml::Value> {
        Some(match k {
            0 => toml::Value::Integer(1),
            1 => toml::Value::String("x".into()),
            2 => toml::Value::Array(Vec::new()),
            3 => toml::Value::Table(toml::Table::new()),
            4 => toml::Value::Boolean(false),
            5 => toml::Value::Float(0.5),
            _ => return None,
        })
    };
    let Ok(plain) = toml::Table::from_str(text) else {
        return Vec::new();
    };
    let mut root = toml::Value::Table(plain);
    let join = |p: &str, k: &str| {
        if p.is_empty() {
            k.to_string()
        } else {
            format!("{p}.{k}")
        }
    };
    // Each stand-in's field path and the kind it has now.
    let mut placed: Vec<(String, usize)> = Vec::new();
    let place = |root: &mut toml::Value, table: &str, key: &str, kind: usize| -> bool {
        match (value_at(root, table), stand_in(kind)) {
            (Some(toml::Value::Table(t)), Some(v)) => {
                t.insert(key.to_string(), v);
                true
            }
            _ => false,
        }
    };
    if !place(&mut root, path, first, 0) {
        return Vec::new();
    }
    placed.push((join(path, first), 0));
    let mut out = Vec::new();
    for _ in 0..200 {
        let Err(e) = serde_path_to_error::deserialize::<_, T>(root.clone()) else {
            break;
        };
        let at = e.path().to_string();
        let at = if at == "." { String::new() } else { at };
        // A problem with a stand-in itself: give it the next kind.
        if let Some(k) = placed.iter().position(|(p, _)| {
            at == *p || at.starts_with(&format!("{p}.")) || at.starts_with(&format!("{p}["))
        }) {
            let (field, kind) = &mut placed[k];
            *kind += 1;
            let (table, key) = field.rsplit_once('.').unwrap_or(("", field.as_str()));
            let (table, key) = (table.to_string(), key.to_string());
            let kind = *kind;
            if !place(&mut root, &table, &key, kind) {
                break;
            }
            continue;
        }
        let Some(key) = missing_key(e.inner().message()) else {
            break; // another kind of problem: it is reported once these are filled in
        };
        let mut d = Diagnostic::new(at.clone(), format!("required field `{key}` is missing"));
        if let Some(off) = locate(doc, &at) {
            let (l, c) = line_col(text, off);
            d = d.at(l, c);
        }
        out.push(d);
        if !place(&mut root, &at, key, 0) {
            break;
        }
        placed.push((join(&at, key), 0));
    }
    out
}

/// Parses and validates scenario `text`; `file` names it in messages.
pub fn parse(file: &str, text: &str) -> Result<Scenario, Diagnostics> {
    parse_raw(file, text).map(|(_, sc)| sc)
}

/// [`parse`], keeping the deserialized file (the delayed contracts of the model are built
/// from it).
fn parse_raw(file: &str, text: &str) -> Result<(raw::RawScenario, Scenario), Diagnostics> {
    let raw: raw::RawScenario = deserialize(file, text)?;
    validated(raw, |errs| position(file, text, errs))
}

/// The scenario of the deserialized file `raw`, its problems placed in the file by `place`.
fn validated(
    mut raw: raw::RawScenario,
    place: impl Fn(Vec<Diagnostic>) -> Diagnostics,
) -> Result<(raw::RawScenario, Scenario), Diagnostics> {
    let stresses = stresses(&raw).map_err(&place)?;
    let contract = validate::contract(&raw).map_err(&place)?;
    // The contract is read without the uncertainty table: it moves to the scenario.
    let sc = Scenario {
        contract,
        uncertainty: raw.uncertainty.take(),
        stresses,
    };
    Ok((raw, sc))
}

/// The uncertainty model of a scenario read as `raw`: a delayed contract is `raw` with the
/// lags and enrolment periods moved, validated like the file.
fn model(raw: &raw::RawScenario, sc: &Scenario) -> Result<crate::model::Model, Vec<Diagnostic>> {
    let c = &sc.contract;
    let delayed = |lags: &[u16], enrol: u16| -> Result<Contract, String> {
        let mut r = raw.clone();
        for (o, &d) in lags.iter().enumerate() {
            if d > 0
                && let Some(ro) = r.outcomes.iter_mut().find(|x| x.id == c.outcomes[o].id)
            {
                ro.lag += d as i64;
            }
        }
        if enrol > 0 {
            for rc in &mut r.cohorts {
                rc.enrol += enrol as i64;
                if rc.enrol > c.periods as i64 {
                    return Err(format!(
                        "cohort `{}` would enrol in period {}, after the contract's last period {}; shorten the delay or lengthen the contract",
                        rc.id, rc.enrol, c.periods
                    ));
                }
            }
        }
        // The first problem; its message names the cohort and outcome it concerns.
        validate::contract(&r).map_err(|errs| {
            errs.first().map_or_else(String::new, |e| {
                e.message
                    .replace(
                        "shorten the lags or lengthen the contract",
                        "shorten the delay or lengthen the contract",
                    )
                    .replace(
                        "move the checkpoint to period",
                        "shorten the delay or move the checkpoint to period",
                    )
            })
        })
    };
    crate::model::Model::from_table(c, sc.uncertainty.as_ref(), &delayed)
}

/// Parses a scenario and its uncertainty model ([`crate::model::Model`]) for simulation. The
/// model's problems are positioned like the contract's (line and column from the field path).
pub fn parse_with_model(
    file: &str,
    text: &str,
) -> Result<(Scenario, crate::model::Model), Diagnostics> {
    let (raw, sc) = parse_raw(file, text)?;
    match model(&raw, &sc) {
        Ok(m) => Ok((sc, m)),
        Err(items) => Err(position(file, text, items)),
    }
}

/// Parses and validates scenario `text` with `overrides` applied to the document first (see
/// [`overrides`]), so overridden values are validated exactly like values in the file. A
/// problem caused by an override names it; an override that cannot be applied (unknown path,
/// wrong kind of value) is reported as a problem of the scenario.
pub fn parse_with_overrides(
    file: &str,
    text: &str,
    overrides: &[overrides::Override],
) -> Result<Scenario, Diagnostics> {
    parse_raw_with_overrides(file, text, overrides).map(|(_, sc)| sc)
}

/// [`parse_with_overrides`], keeping the deserialized document.
fn parse_raw_with_overrides(
    file: &str,
    text: &str,
    overrides: &[overrides::Override],
) -> Result<(raw::RawScenario, Scenario), Diagnostics> {
    if overrides.is_empty() {
        return parse_raw(file, text);
    }
    let (mut doc, applied) = overridden(file, text, overrides)?;
    let annotate = |items: Vec<Diagnostic>| annotate(file, text, &applied, items);
    let mut long = Vec::new();
    long_texts(&doc, &mut String::new(), &mut long);
    if !long.is_empty() {
        return Err(annotate(long));
    }
    // Arithmetic leaves exact results; one the file's format wants whole (a size, a lag) is
    // rounded half away from zero, as the reader finds them (it stops at the first).
    let mut tries = applied.rounded.len() + 1;
    let raw: raw::RawScenario = loop {
        // The document is kept for another try only where a value may need rounding.
        let this = if applied.rounded.is_empty() {
            std::mem::take(&mut doc)
        } else {
            doc.clone()
        };
        let e = match serde_path_to_error::deserialize(toml::Value::Table(this)) {
            Ok(r) => break r,
            Err(e) => e,
        };
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        let msg = e.into_inner().to_string();
        tries -= 1;
        if tries > 0
            && msg.contains("floating point")
            && let Some((_, r)) = applied.rounded.iter().find(|(p, _)| *p == path)
            && overrides::set_concrete(&mut doc, &path, toml::Value::Integer(*r))
        {
            continue;
        }
        let message = narrowed(&path, friendly_serde(&msg));
        return Err(annotate(vec![Diagnostic::new(path, message)]));
    };
    validated(raw, annotate)
}

/// [`parse_with_overrides`] plus the uncertainty model.
pub fn parse_with_model_overrides(
    file: &str,
    text: &str,
    overrides: &[overrides::Override],
) -> Result<(Scenario, crate::model::Model), Diagnostics> {
    if overrides.is_empty() {
        return parse_with_model(file, text);
    }
    let (raw, mut sc) = parse_raw_with_overrides(file, text, overrides)?;
    let mut tries = 0;
    loop {
        let items = match model(&raw, &sc) {
            Ok(m) => return Ok((sc, m)),
            Err(items) => items,
        };
        let (_, applied) = overridden(file, text, overrides)?;
        // Arithmetic that left a fraction in a whole number of the model (a delay) is rounded,
        // as in the contract (see `parse_with_overrides`).
        tries += 1;
        if tries <= applied.rounded.len()
            && let Some(u) = sc.uncertainty.take()
        {
            let mut doc = toml::Table::new();
            doc.insert("uncertainty".into(), toml::Value::Table(u));
            let mut changed = false;
            for i in &items {
                if i.message.contains("whole number")
                    && let Some((_, r)) = applied.rounded.iter().find(|(p, _)| *p == i.path)
                {
                    changed |= overrides::set_concrete(&mut doc, &i.path, toml::Value::Integer(*r));
                }
            }
            sc.uncertainty = match doc.remove("uncertainty") {
                Some(toml::Value::Table(u)) => Some(u),
                _ => None,
            };
            if changed {
                continue;
            }
        }
        return Err(annotate(file, text, &applied, items));
    }
}

/// The document of `text` with `overrides` applied (the file's own problems come first).
fn overridden(
    file: &str,
    text: &str,
    overrides: &[overrides::Override],
) -> Result<(toml::Table, overrides::Applied), Diagnostics> {
    // A file that does not parse: report it as without overrides.
    let mut doc = match read_toml(text) {
        Ok(d) => d,
        Err(()) => {
            return Err(match parse(file, text) {
                Err(d) => d,
                Ok(_) => position(file, text, vec![Diagnostic::new("", "not valid TOML")]),
            });
        }
    };
    match overrides::apply(&mut doc, overrides) {
        Ok(a) => Ok((doc, a)),
        Err(e) => Err(Diagnostics {
            file: file.to_string(),
            items: vec![Diagnostic::new("", e.0)],
        }),
    }
}

/// `text` read as a TOML table. The term-design commands validate one text with hundreds of
/// sets of overrides, so each thread keeps the last text it read with its table and hands out
/// a copy when the same text comes again (copying a table costs a fraction of reading it).
fn read_toml(text: &str) -> Result<toml::Table, ()> {
    use std::cell::RefCell;
    use std::str::FromStr;
    thread_local! {
        static LAST: RefCell<Option<(String, toml::Table)>> = const { RefCell::new(None) };
    }
    LAST.with(|last| {
        if let Some((t, doc)) = last.borrow().as_ref()
            && t == text
        {
            return Ok(doc.clone());
        }
        let doc = toml::Table::from_str(text).map_err(|_| ())?;
        *last.borrow_mut() = Some((text.to_string(), doc.clone()));
        Ok(doc)
    })
}

/// "; did you mean `x`?" for serde's "unknown field `y`, expected one of `x`, ..." messages.
fn unknown_field_hint(msg: &str) -> Option<String> {
    let rest = msg.split("unknown field `").nth(1)?;
    let (key, rest) = rest.split_once('`')?;
    let options: Vec<&str> = rest.split('`').skip(1).step_by(2).collect();
    overrides::nearest(key, options.iter().copied()).map(|n| format!("; did you mean `{n}`?"))
}

/// Positions `items` in the file and names the override that caused each, where one did.
fn annotate(
    file: &str,
    text: &str,
    applied: &overrides::Applied,
    items: Vec<Diagnostic>,
) -> Diagnostics {
    // A problem the file has without the overrides is the file's own; one it does not have
    // came from the overrides, even where it is reported at another field (a lag moved past a
    // checkpoint, a delayed contract that no longer holds).
    let mut original: Option<Vec<(String, String)>> = None;
    let mut in_file = |d: &Diagnostic| {
        original
            .get_or_insert_with(|| match parse_with_model(file, text) {
                Ok(_) => Vec::new(),
                Err(e) => e.items.into_iter().map(|i| (i.path, i.message)).collect(),
            })
            .iter()
            .any(|(p, m)| *p == d.path && *m == d.message)
    };
    let items = items
        .into_iter()
        .map(|mut d| {
            if let Some(hint) = unknown_field_hint(&d.message)
                && !d.message.contains("; did you mean")
            {
                d.message.push_str(&hint);
            }
            if let Some(cause) = applied.cause(&d.path) {
                d.message = format!("{} (after {cause})", d.message);
            } else if !applied.paths.is_empty() && !in_file(&d) {
                let all: Vec<&str> = applied.paths.iter().map(|(_, t)| t.as_str()).collect();
                d.message = format!("{} (after {})", d.message, all.join(", "));
            }
            d
        })
        .collect();
    position(file, text, items)
}

/// Positions `items`, problems found in the scenario `text` read with `overrides` (by a check
/// outside the parser: the decision tree's thresholds), and names the override that caused
/// each, as the parser does with its own.
pub fn position_with_overrides(
    file: &str,
    text: &str,
    overrides: &[overrides::Override],
    items: Vec<Diagnostic>,
) -> Diagnostics {
    match overridden(file, text, overrides) {
        Ok((_, applied)) if !overrides.is_empty() => annotate(file, text, &applied, items),
        _ => position(file, text, items),
    }
}

/// Adds line and column to `items` by looking up each field path in `text`, and sorts them.
pub fn position(file: &str, text: &str, items: Vec<Diagnostic>) -> Diagnostics {
    let doc = DeTable::parse(text).ok();
    let items = items
        .into_iter()
        .map(
            |d| match doc.as_ref().and_then(|doc| locate(doc, &d.path)) {
                Some(off) => {
                    let (l, c) = line_col(text, off);
                    d.at(l, c)
                }
                None => d,
            },
        )
        .collect();
    Diagnostics {
        file: file.to_string(),
        items,
    }
    .sorted()
}

/// What a whole-number field at `path` takes, where its range is narrower than the numbers of
/// [`crate::money::LARGEST_NUMBERS`] (so that `periods = 1e400` is told 1 to 1,200, not the
/// bound of every number): "a whole number from 1 to 1,200".
fn whole_number_range(path: &str) -> Option<String> {
    use validate::{MAX_COHORT, MAX_PERIODS};
    let field = path.rsplit('.').next()?;
    let (lo, hi) = match field {
        "periods" if path == "contract.periods" => (1, MAX_PERIODS),
        "size" => (0, MAX_COHORT),
        "lag" | "pay_lag" => (0, MAX_PERIODS),
        "measure_periods" => (1, MAX_PERIODS),
        "rank" => (1, 1000),
        "enrol" | "period" | "from" | "to" => {
            return Some("a period of the contract, a whole number from 1 to its `periods`".into());
        }
        _ => return None,
    };
    let t = |x: i64| crate::chart::theme::thousands(x as f64);
    Some(format!("a whole number from {} to {}", t(lo), t(hi)))
}

/// `message` about a number too large to read at `path`, with the range of a narrow
/// whole-number field ([`whole_number_range`]) instead of the bound of every number.
fn narrowed(path: &str, message: String) -> String {
    match whole_number_range(path) {
        Some(range) if message.contains(crate::money::LARGEST_NUMBERS) => message.replace(
            crate::money::LARGEST_NUMBERS,
            &format!("it must be {range}"),
        ),
        _ => message,
    }
}

fn friendly_serde(msg: &str) -> String {
    // The TOML value deserializer appends "\nin `outcomes.price`": the diagnostic has the path.
    let m = msg.trim();
    let m = m
        .split_once("\nin `")
        .map_or(m, |(first, _)| first.trim_end());
    if let Some(rest) = m.strip_prefix("missing field ") {
        return format!("required field {rest} is missing");
    }
    // `1e400`, an integer past 64 bits: the reader cannot hold it; say what the fields take.
    const LARGEST: &str = crate::money::LARGEST_NUMBERS;
    if m.contains("number overflowed") || m.contains("value was too large") {
        return format!("the number is too large to read; {LARGEST}");
    }
    if m.contains(" as i128") || (m.contains("integer `") && m.contains("expected i64")) {
        let n = m.split('`').nth(1).unwrap_or("");
        return format!("the whole number `{n}` is too large; {LARGEST}");
    }
    // Say what is allowed in the file's terms, not in Rust's (`i64`, `struct RawContract`,
    // `sequence`, `tuple`): "expected text, got an array".
    let expected = |e: &str| -> String {
        if e.starts_with("struct Raw") || e == "a map" {
            return "a table".into();
        }
        if let Some(n) = e.strip_prefix("a tuple of size ") {
            return format!("an array of {n} values, e.g. [1, 10000]");
        }
        match e {
            "i64" | "u16" | "u32" | "u64" | "usize" => "a whole number".into(),
            "a string" => "text".into(),
            "a sequence" => "an array".into(),
            "a boolean" => "true or false".into(),
            "fewer elements in array" => "fewer values".into(),
            _ => e.to_string(),
        }
    };
    let got = |u: &str| -> String {
        if let Some(x) = u.strip_prefix("floating point ") {
            format!("the number {}", x.trim_matches('`'))
        } else if let Some(x) = u.strip_prefix("integer ") {
            format!("the number {}", x.trim_matches('`'))
        } else if let Some(x) = u.strip_prefix("string ") {
            format!("the text {x}")
        } else if let Some(x) = u.strip_prefix("boolean ") {
            x.trim_matches('`').to_string()
        } else {
            match u {
                "sequence" => "an array".into(),
                "map" => "a table".into(),
                _ => u.to_string(),
            }
        }
    };
    if let Some(rest) = m.strip_prefix("invalid type: ")
        && let Some((u, e)) = rest.split_once(", expected ")
    {
        return format!("expected {}, got {}", expected(e), got(u));
    }
    if let Some(rest) = m.strip_prefix("invalid length ")
        && let Some((n, e)) = rest.split_once(", expected ")
    {
        let n: usize = n.parse().unwrap_or(0);
        return format!(
            "expected {}, got {}",
            expected(e),
            match n {
                0 => "an empty array".to_string(),
                1 => "an array of 1 value".to_string(),
                n => format!("an array of {n} values"),
            }
        );
    }
    let mut s = m
        .replace("expected i64", "expected a whole number")
        .replace("expected a map", "expected a table")
        .replace("expected a sequence", "expected an array");
    if let Some(i) = s.find("expected struct Raw") {
        s.truncate(i);
        s.push_str("expected a table");
    }
    s
}

/// 1-based line and column of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let off = offset.min(text.len());
    let before = &text.as_bytes()[..off];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map(|i| i + 1)
        .unwrap_or(0);
    let col = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    (line, col)
}

/// Splits `a.b[2].c` into segments.
fn segments(path: &str) -> Vec<Seg<'_>> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let mut rest = part;
        if let Some(i) = rest.find('[') {
            let name = &rest[..i];
            if !name.is_empty() {
                out.push(Seg::Key(name));
            }
            rest = &rest[i..];
            while let Some(end) = rest.find(']') {
                // `get`: a key such as `x[0]]` leaves `]` here, and `1..0` is no range.
                if let Some(Ok(n)) = rest.get(1..end).map(str::parse) {
                    out.push(Seg::Index(n));
                }
                rest = &rest[end + 1..];
            }
        } else if !rest.is_empty() {
            out.push(Seg::Key(rest));
        }
    }
    out
}

enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

/// Byte offset of the deepest existing value along `path` (the key itself for table entries);
/// `None` where `path` names an array entry the file does not have.
pub fn locate(doc: &Spanned<DeTable<'_>>, path: &str) -> Option<usize> {
    let segs = segments(path);
    let mut best = None;
    let mut cur: Option<&DeValue<'_>> = None;
    let mut table: Option<&DeTable<'_>> = Some(doc.get_ref());
    for seg in segs {
        match seg {
            Seg::Key(k) => {
                let t = match (table, cur) {
                    (Some(t), _) => t,
                    (None, Some(DeValue::Table(t))) => t,
                    _ => return best,
                };
                let Some((key, val)) = t.get_key_value(k) else {
                    return best;
                };
                best = Some(key.span().start);
                cur = Some(val.get_ref());
                table = None;
            }
            Seg::Index(i) => {
                let arr = match cur {
                    Some(DeValue::Array(a)) => a,
                    _ => return best,
                };
                // An entry the file does not have (an override added it) has no place in the
                // file: the array's first entry would point at another one.
                let v = arr.get(i)?;
                best = Some(v.span().start);
                cur = Some(v.get_ref());
                table = None;
            }
        }
    }
    best
}
