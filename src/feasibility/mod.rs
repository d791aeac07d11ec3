//! The feasibility check: Rotterdam's decision tree (beslisboom, docs/domain.md section 7) as data.
//!
//! A [`Tree`] is a set of nodes, each with a question (English and Dutch), a [`Test`] on the
//! scenario's declared facts or on a simulated figure with a threshold, and where a yes or a
//! no leads: another node or an [`Exit`] (go, no-go with advice such as "pool with other
//! municipalities", or conditional). A node may attach a condition when its answer is no and
//! the walk goes on; a `go` reached with conditions is `conditional`.
//!
//! [`default_tree`] is Rotterdam's six questions in the seed's order plus two checks from
//! Dutch practice (`rotterdam.toml` beside this file); [`parse_tree`] reads a custom tree and
//! rejects unknown nodes, cycles, missing exits and unreachable nodes with positioned errors.
//! [`walk`] answers every node from a [`Contract`] and, for the quantitative questions, the
//! [`Results`] of a simulation. No IO here.

use crate::contract::{Contract, Pricing};
use crate::error::{Diagnostic, Diagnostics};
use crate::money::{Money, format_thousands};
use crate::montecarlo::Results;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The default tree's text (TOML).
pub const DEFAULT_TREE: &str = include_str!("rotterdam.toml");

/// What a node checks. Each test documents its threshold and default.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Test {
    /// An MKBA is declared and every outcome has a value per case (fact; no threshold).
    MkbaPresent,
    /// Every outcome has a measurement method, evidence, a price and an MKBA value (fact).
    OutcomesMeasurable,
    /// At most `threshold` parties benefit (default 4; a whole number).
    BeneficiariesAtMost,
    /// For each payer, P(its PV savings exceed its PV payments plus costs) >= `threshold`
    /// (0.70): yes only when every payer's does (the weakest decides). With the node's
    /// `payers = "pooled"`, the probability of all payers together instead.
    PayersSaveMore,
    /// Preparation and transaction costs / expected PV of impact <= `threshold` (0.15).
    CostShareAtMost,
    /// Every tranche is committed with a hurdle its median IRR meets, and committed capital
    /// (the tranches whose investors are committed) / the provider's expected costs >=
    /// `threshold` (1.0).
    InvestorsOnBoard,
    /// Inflow and data delivery are guaranteed (facts).
    InflowGuaranteed,
    /// (Payers' expected outlay + transaction costs) / the provider's expected costs <=
    /// `threshold` (1.0).
    SibCostRatioAtMost,
}

impl Test {
    /// All tests.
    pub const ALL: [Test; 8] = [
        Test::MkbaPresent,
        Test::OutcomesMeasurable,
        Test::BeneficiariesAtMost,
        Test::PayersSaveMore,
        Test::CostShareAtMost,
        Test::InvestorsOnBoard,
        Test::InflowGuaranteed,
        Test::SibCostRatioAtMost,
    ];

    /// The name used in tree files.
    pub fn name(self) -> &'static str {
        match self {
            Test::MkbaPresent => "mkba-present",
            Test::OutcomesMeasurable => "outcomes-measurable",
            Test::BeneficiariesAtMost => "beneficiaries-at-most",
            Test::PayersSaveMore => "payers-save-more",
            Test::CostShareAtMost => "cost-share-at-most",
            Test::InvestorsOnBoard => "investors-on-board",
            Test::InflowGuaranteed => "inflow-guaranteed",
            Test::SibCostRatioAtMost => "sib-cost-ratio-at-most",
        }
    }

    /// The default threshold and the range allowed, for tests that take one.
    pub fn threshold_range(self) -> Option<(f64, f64, f64)> {
        match self {
            Test::BeneficiariesAtMost => Some((4.0, 1.0, 1000.0)),
            Test::PayersSaveMore => Some((0.70, 0.0, 1.0)),
            Test::CostShareAtMost => Some((0.15, 0.0, 10.0)),
            Test::InvestorsOnBoard => Some((1.0, 0.0, 10.0)),
            Test::SibCostRatioAtMost => Some((1.0, 0.0, 10.0)),
            _ => None,
        }
    }

    /// What the threshold counts, for a test whose threshold is a count (a whole number).
    pub fn counts(self) -> Option<&'static str> {
        match self {
            Test::BeneficiariesAtMost => Some("parties"),
            _ => None,
        }
    }

    /// Checks `x` as this test's threshold, for the node or test named `what`: it must be in
    /// the test's range and, where it counts something, a whole number.
    fn check_threshold(self, what: &str, x: f64) -> Result<(), String> {
        let Some((_, lo, hi)) = self.threshold_range() else {
            return Ok(());
        };
        match self.counts() {
            Some(unit) if !(lo..=hi).contains(&x) || x.fract() != 0.0 => Err(format!(
                "the threshold of `{what}` is a number of {unit}: a whole number from {lo} to {hi}, got {x}"
            )),
            None if !(lo..=hi).contains(&x) => Err(format!(
                "the threshold of `{what}` must be between {lo} and {hi}, got {x}"
            )),
            _ => Ok(()),
        }
    }

    /// Whether the test needs simulation results.
    pub fn needs_simulation(self) -> bool {
        matches!(
            self,
            Test::PayersSaveMore
                | Test::CostShareAtMost
                | Test::InvestorsOnBoard
                | Test::SibCostRatioAtMost
        )
    }
}

/// Whose business case the `payers-save-more` test judges (a node's `payers`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Payers {
    /// Every payer on its own: yes only when each payer's probability meets the threshold
    /// (who benefits is not always who pays, docs/domain.md section 6).
    #[default]
    Each,
    /// All payers together, as if one budget paid and saved: a pooled surplus can hide a
    /// payer that pays more than it saves.
    Pooled,
}

/// A verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Go ahead.
    Go,
    /// Do not make this a SIB (an exit's advice may name an alternative).
    NoGo,
    /// Go ahead only under the conditions listed.
    Conditional,
}

impl Verdict {
    /// Display label.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Go => "GO",
            Verdict::NoGo => "NO-GO",
            Verdict::Conditional => "CONDITIONAL",
        }
    }
}

/// Text in English and Dutch.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bilingual {
    /// English.
    pub en: String,
    /// Dutch.
    #[serde(default)]
    pub nl: String,
}

/// Where an answer leads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Another node (index).
    Node(usize),
    /// An exit (index).
    Exit(usize),
}

/// One question.
#[derive(Clone, Debug)]
pub struct Node {
    /// Identifier.
    pub id: String,
    /// The question.
    pub question: Bilingual,
    /// A short label for diagrams (e.g. `Business case?`).
    pub label: Option<String>,
    /// What is checked.
    pub test: Test,
    /// The threshold in force (the test's default unless changed).
    pub threshold: Option<f64>,
    /// Whose business case `payers-save-more` judges (each payer unless the node says
    /// `payers = "pooled"`).
    pub payers: Payers,
    /// Where yes leads.
    pub yes: Next,
    /// Where no leads.
    pub no: Next,
    /// Condition attached when the answer is no.
    pub condition: Option<String>,
}

/// An end of the walk.
#[derive(Clone, Debug)]
pub struct Exit {
    /// Identifier.
    pub id: String,
    /// Verdict.
    pub verdict: Verdict,
    /// What to do.
    pub advice: Bilingual,
}

/// A validated tree: read through its methods, and changed only by [`Tree::set_thresholds`], so
/// every index in it stays in range.
#[derive(Clone, Debug)]
pub struct Tree {
    /// Name.
    pub(crate) name: String,
    /// First node.
    pub(crate) start: usize,
    /// Nodes in file order.
    pub(crate) nodes: Vec<Node>,
    /// Exits.
    pub(crate) exits: Vec<Exit>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTree {
    name: Option<String>,
    start: Option<String>,
    #[serde(default)]
    node: Vec<RawNode>,
    #[serde(default)]
    exit: Vec<RawExit>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNode {
    id: String,
    question: Bilingual,
    label: Option<String>,
    test: String,
    threshold: Option<f64>,
    payers: Option<Payers>,
    yes: Option<String>,
    no: Option<String>,
    condition: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExit {
    id: String,
    verdict: Verdict,
    #[serde(default)]
    advice: Bilingual,
}

/// The default tree (Rotterdam's six questions plus the Dutch practice checks).
pub fn default_tree() -> Tree {
    match parse_tree("rotterdam.toml", DEFAULT_TREE) {
        Ok(t) => t,
        // The embedded tree is checked by a unit test.
        Err(e) => unreachable!("the default tree is invalid: {e}"),
    }
}

/// The tree a scenario is walked with: `tree` (the [`default_tree`] where `None`) with the
/// scenario's own `[feasibility] thresholds` (in `c.facts.thresholds`) set, as `sibsim
/// feasibility` walks it. The problems name `feasibility.thresholds.ID` without a line (see
/// [`crate::scenario::position`] to place them in the file).
pub fn tree_for(c: &Contract, tree: Option<Tree>) -> Result<Tree, Vec<crate::error::Diagnostic>> {
    let mut t = tree.unwrap_or_else(default_tree);
    t.set_thresholds(&c.facts.thresholds)?;
    Ok(t)
}

/// The most nodes, and the most exits, a tree may have: far above any real one (Rotterdam's has
/// 8 questions), low enough that every check, the walk and the diagram stay quick.
pub const MAX_NODES: usize = 1000;

/// Parses and checks a tree file: at most [`MAX_NODES`] nodes and exits, unique ids, known
/// tests, thresholds in range, every yes and no leading to a known node or exit, no cycle,
/// every node reachable from the start.
pub fn parse_tree(file: &str, text: &str) -> Result<Tree, Diagnostics> {
    let raw: RawTree = crate::scenario::deserialize(file, text)?;
    // A tree beyond the limit is refused before anything else is said about it (a problem on
    // every one of its nodes would bury the one that matters).
    for (what, table, n) in [
        ("nodes", "node", raw.node.len()),
        ("exits", "exit", raw.exit.len()),
    ] {
        if n > MAX_NODES {
            return Err(crate::scenario::position(
                file,
                text,
                vec![Diagnostic::new(
                    format!("{table}[{MAX_NODES}].id"),
                    format!(
                        "the tree has {} {what}; a tree has at most {} (Rotterdam's has 8 questions and 7 exits)",
                        thousands(n),
                        thousands(MAX_NODES)
                    ),
                )],
            ));
        }
    }
    let mut errs: Vec<Diagnostic> = Vec::new();
    let mut ids: BTreeMap<&str, Next> = BTreeMap::new();
    for (i, n) in raw.node.iter().enumerate() {
        if n.id.trim().is_empty() {
            errs.push(Diagnostic::new(
                format!("node[{i}].id"),
                "a node needs an id",
            ));
        } else if ids.insert(&n.id, Next::Node(i)).is_some() {
            errs.push(Diagnostic::new(
                format!("node[{i}].id"),
                format!("`{}` is used twice; node and exit ids must be unique", n.id),
            ));
        }
    }
    for (i, e) in raw.exit.iter().enumerate() {
        if ids.insert(&e.id, Next::Exit(i)).is_some() {
            errs.push(Diagnostic::new(
                format!("exit[{i}].id"),
                format!("`{}` is used twice; node and exit ids must be unique", e.id),
            ));
        }
    }
    if raw.node.is_empty() {
        errs.push(Diagnostic::new(
            "",
            "the tree has no [[node]]; give at least one question",
        ));
    }
    // The ids a reference may name: all of them in a tree of a usual size, the first few of
    // a large one (a message per node, each listing every id, would grow with its square).
    let known = || {
        const LISTED: usize = 30;
        let mut s = ids
            .keys()
            .take(LISTED)
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ");
        if ids.len() > LISTED {
            s.push_str(&format!(", ... ({} in all)", thousands(ids.len())));
        }
        s
    };
    let resolve = |errs: &mut Vec<Diagnostic>, path: String, t: &Option<String>| -> Next {
        match t {
            None => {
                errs.push(Diagnostic::new(
                    path,
                    "missing exit: say where this answer leads (a node's or an exit's id)",
                ));
                Next::Exit(usize::MAX)
            }
            Some(t) => match ids.get(t.as_str()) {
                Some(n) => *n,
                None => {
                    errs.push(Diagnostic::new(
                        path,
                        format!("unknown node or exit `{t}`; known: {}", known()),
                    ));
                    Next::Exit(usize::MAX)
                }
            },
        }
    };
    let mut nodes = Vec::new();
    for (i, n) in raw.node.iter().enumerate() {
        let known_test = Test::ALL.iter().find(|t| t.name() == n.test);
        let test = match known_test {
            Some(t) => *t,
            None => {
                let names = Test::ALL.iter().map(|t| t.name());
                let hint = crate::scenario::overrides::nearest(&n.test, names)
                    .map_or(String::new(), |m| format!("; did you mean `{m}`?"));
                errs.push(Diagnostic::new(
                    format!("node[{i}].test"),
                    format!(
                        "unknown test `{}`; use one of {}{hint}",
                        n.test,
                        Test::ALL
                            .iter()
                            .map(|t| format!("`{}`", t.name()))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
                Test::MkbaPresent
            }
        };
        // An unknown test's threshold cannot be judged: its own error says enough.
        let range = if known_test.is_some() {
            test.threshold_range()
        } else {
            None
        };
        let threshold = match (range, n.threshold.filter(|_| known_test.is_some())) {
            (None, Some(_)) => {
                errs.push(Diagnostic::new(
                    format!("node[{i}].threshold"),
                    format!("test `{}` takes no threshold", test.name()),
                ));
                None
            }
            (Some((d, _, _)), None) => Some(d),
            (Some(_), Some(x)) => {
                if let Err(e) = test.check_threshold(test.name(), x) {
                    errs.push(Diagnostic::new(format!("node[{i}].threshold"), e));
                }
                Some(x)
            }
            (None, None) => None,
        };
        if n.payers.is_some() && known_test.is_some() && test != Test::PayersSaveMore {
            errs.push(Diagnostic::new(
                format!("node[{i}].payers"),
                format!(
                    "`payers` (\"each\" or \"pooled\") belongs to test `{}`; test `{}` takes none",
                    Test::PayersSaveMore.name(),
                    test.name()
                ),
            ));
        }
        let yes = resolve(&mut errs, format!("node[{i}].yes"), &n.yes);
        let no = resolve(&mut errs, format!("node[{i}].no"), &n.no);
        nodes.push(Node {
            id: n.id.clone(),
            question: n.question.clone(),
            label: n.label.clone(),
            test,
            threshold,
            payers: n.payers.unwrap_or_default(),
            yes,
            no,
            condition: n.condition.clone(),
        });
    }
    let start = match &raw.start {
        None => Next::Node(0),
        Some(s) => match ids.get(s.as_str()) {
            Some(Next::Node(i)) => Next::Node(*i),
            _ => {
                errs.push(Diagnostic::new(
                    "start",
                    format!("`{s}` is not a node of the tree; known: {}", known()),
                ));
                Next::Node(0)
            }
        },
    };
    if errs.is_empty() {
        check_graph(&nodes, start, &mut errs);
    }
    if !errs.is_empty() {
        return Err(crate::scenario::position(file, text, errs));
    }
    let Next::Node(start) = start else {
        unreachable!()
    };
    Ok(Tree {
        name: raw.name.unwrap_or_else(|| file.to_string()),
        start,
        nodes,
        exits: raw
            .exit
            .into_iter()
            .map(|e| Exit {
                id: e.id,
                verdict: e.verdict,
                advice: e.advice,
            })
            .collect(),
    })
}

/// `n` with thousands separators (`100,000`).
fn thousands(n: usize) -> String {
    crate::chart::theme::thousands(n as f64)
}

/// Cycles (depth-first search with colours) and unreachable nodes. The search keeps its own
/// stack, so a tree as deep as it is long (a chain of questions) needs no deeper call stack.
fn check_graph(nodes: &[Node], start: Next, errs: &mut Vec<Diagnostic>) {
    // 0 = unseen, 1 = on the stack, 2 = done.
    let mut colour = vec![0u8; nodes.len()];
    let Next::Node(s) = start else { return };
    // The path from the start: each node with the number of its answers (yes, no) looked at.
    let mut stack: Vec<(usize, usize)> = vec![(s, 0)];
    colour[s] = 1;
    let mut cycle = None;
    while let Some(top) = stack.last_mut() {
        let (i, k) = *top;
        if k == 2 {
            stack.pop();
            colour[i] = 2;
            continue;
        }
        top.1 += 1;
        let Next::Node(j) = (if k == 0 { nodes[i].yes } else { nodes[i].no }) else {
            continue;
        };
        match colour[j] {
            1 => {
                let from = stack.iter().position(|&(n, _)| n == j).unwrap_or(0);
                let mut cyc: Vec<usize> = stack[from..].iter().map(|&(n, _)| n).collect();
                cyc.push(j);
                cycle = Some(cyc);
                break;
            }
            0 => {
                colour[j] = 1;
                stack.push((j, 0));
            }
            _ => {}
        }
    }
    if let Some(cyc) = cycle {
        let path: Vec<&str> = cyc.iter().map(|&i| nodes[i].id.as_str()).collect();
        let last = cyc[cyc.len() - 2];
        let field = if nodes[last].yes == Next::Node(cyc[cyc.len() - 1]) {
            "yes"
        } else {
            "no"
        };
        errs.push(Diagnostic::new(
            format!("node[{last}].{field}"),
            format!(
                "the tree has a cycle: {}; every path must end at an exit",
                path.join(" -> ")
            ),
        ));
        return;
    }
    for (i, c) in colour.iter().enumerate() {
        if *c == 0 {
            errs.push(Diagnostic::new(
                format!("node[{i}].id"),
                format!(
                    "node `{}` is never reached from the start; remove it or lead a yes or no to it",
                    nodes[i].id
                ),
            ));
        }
    }
}

impl Tree {
    /// Name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// First node.
    pub fn start(&self) -> usize {
        self.start
    }

    /// Nodes in file order.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// Exits.
    pub fn exits(&self) -> &[Exit] {
        &self.exits
    }

    /// Applies `(node id, threshold)` changes (from a scenario's `[feasibility] thresholds`);
    /// problems carry the path `feasibility.thresholds.<id>`.
    pub fn set_thresholds(&mut self, changes: &[(String, f64)]) -> Result<(), Vec<Diagnostic>> {
        let mut errs = Vec::new();
        for (id, x) in changes {
            let path = format!("feasibility.thresholds.{id}");
            match self.nodes.iter_mut().find(|n| &n.id == id) {
                None => errs.push(Diagnostic::new(
                    path,
                    format!(
                        "the tree has no node `{id}`; its nodes are {}",
                        self.nodes
                            .iter()
                            .map(|n| format!("`{}`", n.id))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )),
                Some(n) if n.test.threshold_range().is_none() => errs.push(Diagnostic::new(
                    path,
                    format!("node `{id}` (test `{}`) takes no threshold", n.test.name()),
                )),
                Some(n) => match n.test.check_threshold(id, *x) {
                    Err(e) => errs.push(Diagnostic::new(path, e)),
                    Ok(()) => n.threshold = Some(*x),
                },
            }
        }
        if errs.is_empty() { Ok(()) } else { Err(errs) }
    }

    /// Whether any node needs simulation results.
    pub fn needs_simulation(&self) -> bool {
        self.nodes.iter().any(|n| n.test.needs_simulation())
    }
}

/// One answered question.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Step {
    /// Node id.
    pub node: String,
    /// The question.
    pub question: Bilingual,
    /// Test name.
    pub test: &'static str,
    /// The answer.
    pub answer: bool,
    /// The figure tested, when the test is quantitative (for `payers-save-more`, the weakest
    /// payer's probability, or the pooled one).
    pub value: Option<f64>,
    /// The party whose figure was tested, where the test judges each payer: the weakest.
    pub party: Option<String>,
    /// The threshold it was held against.
    pub threshold: Option<f64>,
    /// The evidence in words and numbers.
    pub evidence: String,
    /// The condition attached (answer no, walk went on).
    pub condition: Option<String>,
}

/// The result of a walk.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Walk {
    /// Tree name.
    pub tree: String,
    /// Verdict.
    pub verdict: Verdict,
    /// The exit reached.
    pub exit: String,
    /// The exit's advice.
    pub advice: Bilingual,
    /// Conditions collected on the way.
    pub conditions: Vec<String>,
    /// The questions answered, in order.
    pub path: Vec<Step>,
    /// Trials and seed of the simulation used (when one was).
    pub trials: Option<u64>,
    /// Seed.
    pub seed: Option<u64>,
}

fn eur(c: &Contract, x: f64) -> String {
    format!(
        "{} {}",
        c.currency,
        format_thousands(Money((x.round() * 100.0) as i64)).trim_end_matches(".00")
    )
}

/// How evidence shows a figure held against a threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shown {
    /// A number with this many decimals: `0.79`.
    Number(usize),
    /// A share as a percentage with this many decimals: `11.0%`.
    Percent(usize),
}

impl Shown {
    fn show(self, x: f64, decimals: usize) -> String {
        match self {
            Shown::Number(_) => format!("{x:.decimals$}"),
            Shown::Percent(_) => format!("{:.decimals$}%", x * 100.0),
        }
    }

    /// `value` and `threshold` as the evidence shows them, side by side: with this style's
    /// decimals, or, where the comparison shown between them is `strict` (`<`, `>`) and the
    /// two would read the same, with as many more as it takes to tell them apart
    /// (`0.61260 < 0.61261`, never `0.61 < 0.61`). Every node's evidence uses it.
    pub fn against(self, value: f64, threshold: f64, strict: bool) -> (String, String) {
        let (Shown::Number(d) | Shown::Percent(d)) = self;
        // The figure's decimals and the threshold's: both grow to tell two equal readings
        // apart; the figure's alone to keep a figure that is not 0 from reading as 0 (0.004
        // of trials is not "never"), the threshold staying as written (`0.004 < 0.70`).
        let (mut dv, mut dt) = (d, d);
        loop {
            let (v, t) = (self.show(value, dv), self.show(threshold, dt));
            // An f64 has at most 17 significant digits; past them more decimals show nothing.
            if !value.is_finite() || dv >= 17 {
                return (v, t);
            }
            if strict && v == t && value != threshold {
                dv += 1;
                dt += 1;
            } else if value != 0.0 && !v.chars().any(|ch| ('1'..='9').contains(&ch)) {
                dv += 1;
            } else {
                return (v, t);
            }
        }
    }
}

fn pct(x: f64) -> String {
    Shown::Percent(1).show(x, 1)
}

/// Answers one node: (answer, value tested, evidence), and the party whose figure was tested
/// where the test judges each payer.
fn answer(
    n: &Node,
    c: &Contract,
    r: Option<&Results>,
) -> (bool, Option<f64>, String, Option<String>) {
    let (ok, value, evidence) = match n.test {
        Test::PayersSaveMore => match payers_save_more(n, c, r) {
            Ok((ok, value, evidence, party)) => return (ok, Some(value), evidence, party),
            Err(why) => (false, None, why),
        },
        test => answer_test(test, n.threshold, c, r),
    };
    (ok, value, evidence, None)
}

/// The `payers-save-more` test: (answer, value, evidence, the deciding payer), or why it
/// cannot be answered.
fn payers_save_more(
    n: &Node,
    c: &Contract,
    r: Option<&Results>,
) -> Result<(bool, f64, String, Option<String>), String> {
    let th = n.threshold.unwrap_or(0.0);
    let Some(r) = r else {
        return Err(NO_SIMULATION.into());
    };
    let Some(b) = &r.business_case else {
        return Err("no [mkba] block: the payers' savings are unknown".into());
    };
    let against = |p: f64| {
        let ok = p >= th;
        let (ps, ts) = Shown::Number(2).against(p, th, !ok);
        format!("{ps} {} {ts}", if ok { ">=" } else { "<" })
    };
    let means = |p: &crate::mkba::PayerCase| {
        format!(
            "mean net {} with savings {} against payments {} and costs {}",
            eur(c, p.net.mean),
            eur(c, p.savings.mean),
            eur(c, p.payments.mean),
            eur(c, p.costs),
        )
    };
    let basis = format!(
        "present values at {:.2}%{}",
        b.discount_rate * 100.0,
        if b.effect_from == crate::mkba::EffectFrom::Measurement {
            ", effects from each case's measurement"
        } else {
            ""
        }
    );
    // The payers from the weakest business case up (contract order among equals).
    let mut payers: Vec<&crate::mkba::PayerCase> = b.payers.iter().collect();
    payers.sort_by(|a, b| a.prob_saves_more.total_cmp(&b.prob_saves_more));
    let Some(weakest) = payers.first() else {
        return Err("the contract has no payer whose business case to judge".into());
    };
    match n.payers {
        Payers::Pooled => {
            let all = &b.all_payers;
            let p = all.prob_saves_more;
            let weakest = if payers.len() > 1 {
                format!(
                    "; the weakest payer on its own, {}: {:.2}",
                    weakest.id, weakest.prob_saves_more
                )
            } else {
                String::new()
            };
            Ok((
                p >= th,
                p,
                format!(
                    "P(all payers' pooled savings > their payments + costs) = {} ({basis}; {}{weakest})",
                    against(p),
                    means(all)
                ),
                None,
            ))
        }
        Payers::Each if payers.len() == 1 => {
            let p = weakest.prob_saves_more;
            Ok((
                p >= th,
                p,
                format!(
                    "P({}'s savings > its payments + costs) = {} ({basis}; {})",
                    weakest.id,
                    against(p),
                    means(weakest)
                ),
                Some(weakest.id.clone()),
            ))
        }
        Payers::Each => {
            let p = weakest.prob_saves_more;
            let each: Vec<String> = payers
                .iter()
                .map(|q| format!("{} {}", q.id, against(q.prob_saves_more)))
                .collect();
            Ok((
                p >= th,
                p,
                format!(
                    "P(savings > payments + costs), each payer: {}; all payers pooled {:.2}, for reference ({basis}; the weakest, {}: {})",
                    each.join(", "),
                    b.all_payers.prob_saves_more,
                    weakest.id,
                    means(weakest)
                ),
                Some(weakest.id.clone()),
            ))
        }
    }
}

const NO_SIMULATION: &str = "no simulation results (run with trials > 0)";

/// Answers a test that judges no party on its own: (answer, value tested, evidence).
fn answer_test(
    test: Test,
    threshold: Option<f64>,
    c: &Contract,
    r: Option<&Results>,
) -> (bool, Option<f64>, String) {
    let th = threshold.unwrap_or(0.0);
    let need_sim = || (false, None, NO_SIMULATION.to_string());
    match test {
        Test::MkbaPresent => match &c.mkba {
            None => (
                false,
                None,
                "no [mkba] block: the savings per outcome are not defined".into(),
            ),
            Some(m) => {
                let mut missing = Vec::new();
                let mut shown = Vec::new();
                for (o, out) in c.outcomes.iter().enumerate() {
                    match m.outcomes.iter().find(|l| l.outcome == o) {
                        Some(l) if l.value_per_case().0 > 0 => shown.push(format!(
                            "{} {}",
                            out.id,
                            eur(c, l.value_per_case().to_f64())
                        )),
                        _ => missing.push(out.id.clone()),
                    }
                }
                if missing.is_empty() {
                    (
                        true,
                        None,
                        format!("MKBA declared; value per case: {}", shown.join(", ")),
                    )
                } else {
                    (
                        false,
                        None,
                        format!(
                            "MKBA declared, but no value per case for: {}",
                            missing.join(", ")
                        ),
                    )
                }
            }
        },
        Test::OutcomesMeasurable => {
            let mut gaps = Vec::new();
            for (o, out) in c.outcomes.iter().enumerate() {
                let f = &c.facts.outcomes[o];
                let mut why = Vec::new();
                if f.measurement.is_none() {
                    why.push("no measurement method");
                }
                if f.evidence.is_none() {
                    why.push("no evidence");
                }
                let priced = match &out.pricing {
                    Pricing::Flat(p) => p.0 > 0,
                    _ => true,
                };
                if !priced {
                    why.push("no price");
                }
                let valued = c.mkba.as_ref().is_some_and(|m| {
                    m.outcomes
                        .iter()
                        .any(|l| l.outcome == o && l.value_per_case().0 > 0)
                });
                if !valued {
                    why.push("no MKBA value");
                }
                if !why.is_empty() {
                    gaps.push(format!("{} ({})", out.id, why.join(", ")));
                }
            }
            let n = c.outcomes.len();
            if gaps.is_empty() {
                let all = if n == 1 {
                    "the only outcome has".to_string()
                } else {
                    format!("all {n} outcomes have")
                };
                (
                    true,
                    None,
                    format!("{all} a measurement method, evidence, a price and a value"),
                )
            } else {
                let short = match (gaps.len(), n) {
                    (_, 1) => "the only outcome falls short".to_string(),
                    (1, _) => format!("1 of {n} outcomes falls short"),
                    (g, _) => format!("{g} of {n} outcomes fall short"),
                };
                (false, None, format!("{short}: {}", gaps.join("; ")))
            }
        }
        Test::BeneficiariesAtMost => match &c.mkba {
            None => (
                false,
                None,
                "no [mkba] block: who benefits is not declared".into(),
            ),
            Some(m) => {
                let ids: Vec<&str> = m
                    .beneficiaries
                    .iter()
                    .enumerate()
                    .filter(|(b, _)| {
                        m.outcomes
                            .iter()
                            .any(|l| l.values.iter().any(|(x, v)| x == b && v.0 > 0))
                    })
                    .map(|(_, b)| b.id.as_str())
                    .collect();
                let n = ids.len() as f64;
                let ok = n <= th;
                let (ns, ts) = Shown::Number(0).against(n, th, !ok);
                (
                    ok,
                    Some(n),
                    format!(
                        "{ns} {} ({}) {} {ts}",
                        if ids.len() == 1 {
                            "party benefits"
                        } else {
                            "parties benefit"
                        },
                        ids.join(", "),
                        if ok { "<=" } else { ">" },
                    ),
                )
            }
        },
        Test::PayersSaveMore => unreachable!("answered by payers_save_more"),
        Test::CostShareAtMost => {
            let Some(r) = r else { return need_sim() };
            let costs = c.facts.total_costs().to_f64();
            let Some(b) = &r.business_case else {
                return (
                    false,
                    None,
                    "no [mkba] block: the return to set the costs against is unknown".into(),
                );
            };
            let impact = b.total_impact.mean;
            if impact <= 0.0 {
                return (
                    false,
                    None,
                    format!(
                        "preparation and transaction costs {} against no expected social return",
                        eur(c, costs)
                    ),
                );
            }
            let share = costs / impact;
            let ok = share <= th;
            let (ss, ts) = Shown::Percent(1).against(share, th, !ok);
            (
                ok,
                Some(share),
                format!(
                    "preparation and transaction costs {} = {} of the expected social return (PV of impact {}) {} {}",
                    eur(c, costs),
                    ss,
                    eur(c, impact),
                    if ok { "<=" } else { ">" },
                    ts
                ),
            )
        }
        Test::InvestorsOnBoard => {
            let Some(r) = r else { return need_sim() };
            let mut ok = true;
            let mut parts = Vec::new();
            for (i, t) in c.tranches.iter().enumerate() {
                let f = &c.facts.tranches[i];
                let irr = r
                    .tranches
                    .get(i)
                    .map(|s| s.irr.summary.p50)
                    .unwrap_or(f64::NAN);
                let committed = f.committed == Some(true);
                let hurdle = f.hurdle_irr.map(|h| h.to_f64());
                let meets = hurdle.is_some_and(|h| irr >= h);
                ok &= committed && meets;
                let against = match hurdle {
                    Some(h) => {
                        let (is, hs) = Shown::Percent(1).against(irr, h, !meets);
                        format!("{is} {} hurdle {hs}", if meets { ">=" } else { "<" })
                    }
                    None => format!("{} (no hurdle declared)", pct(irr)),
                };
                parts.push(format!(
                    "{}: {}, median IRR {against}",
                    t.id,
                    if committed {
                        "committed"
                    } else {
                        "not committed"
                    },
                ));
            }
            // Committed capital: the tranches whose investors the facts say are committed.
            let (mut capital, mut open) = (0.0, Vec::new());
            for (t, f) in c.tranches.iter().zip(&c.facts.tranches) {
                if f.committed == Some(true) {
                    capital += t.committed.to_f64();
                } else {
                    open.push(format!("{} {}", t.id, eur(c, t.committed.to_f64())));
                }
            }
            let open = if open.is_empty() {
                String::new()
            } else {
                format!(" (not committed: {})", open.join(", "))
            };
            let need = r.programme_costs.mean;
            let cover = if need > 0.0 {
                capital / need
            } else {
                f64::INFINITY
            };
            let covered = cover >= th;
            let (cs, ts) = Shown::Number(2).against(cover, th, !covered);
            ok &= covered && !c.tranches.is_empty();
            if c.tranches.is_empty() {
                parts.push("no tranches".into());
            }
            (
                ok,
                Some(cover),
                format!(
                    "capital committed {}{open} / provider's expected costs {} = {cs} {} {ts}; {}",
                    eur(c, capital),
                    eur(c, need),
                    if covered { ">=" } else { "<" },
                    parts.join("; ")
                ),
            )
        }
        Test::InflowGuaranteed => {
            let f = &c.facts;
            let show = |x: Option<bool>| match x {
                Some(true) => "yes",
                Some(false) => "no",
                None => "not declared",
            };
            // A guarantee in the contract answers the question when the facts leave it open.
            let n = c.inflow_guarantees.len();
            let (inflow, inflow_text) = match f.inflow_guaranteed {
                None if n > 0 => (
                    Some(true),
                    format!(
                        "yes (the contract's {} inflow guarantee{})",
                        n,
                        if n == 1 { "" } else { "s" }
                    ),
                ),
                x => (x, show(x).to_string()),
            };
            let ok = inflow == Some(true) && f.data_delivery_guaranteed == Some(true);
            (
                ok,
                None,
                format!(
                    "inflow guaranteed: {inflow_text}; data delivery guaranteed: {}",
                    show(f.data_delivery_guaranteed)
                ),
            )
        }
        Test::SibCostRatioAtMost => {
            let Some(r) = r else { return need_sim() };
            let payers: Vec<usize> = c.payers().collect();
            let outlay: f64 = r
                .parties
                .iter()
                .filter(|p| payers.iter().any(|&q| c.parties[q].id == p.id))
                .map(|p| -p.net.mean)
                .sum();
            let tx: f64 = c.facts.transaction_costs.iter().map(|m| m.to_f64()).sum();
            let direct = r.programme_costs.mean;
            if direct <= 0.0 {
                return (
                    false,
                    None,
                    "the provider has no expected costs to compare with".into(),
                );
            }
            let ratio = (outlay + tx) / direct;
            let ok = ratio <= th;
            let (rs, ts) = Shown::Number(2).against(ratio, th, !ok);
            (
                ok,
                Some(ratio),
                format!(
                    "SIB: payers' expected outlay {} + transaction costs {} = {} against direct finance of the provider's expected costs {}: ratio {rs} {} {ts}",
                    eur(c, outlay),
                    eur(c, tx),
                    eur(c, outlay + tx),
                    eur(c, direct),
                    if ok { "<=" } else { ">" },
                ),
            )
        }
    }
}

/// Walks `tree` for contract `c`, using simulation results `r` for the quantitative tests.
/// The scenario's `[feasibility] thresholds` are not applied here: walk the tree from
/// [`tree_for`] to have them. A question that needs results, walked without them, is
/// answered as not met (see [`Tree::needs_simulation`]).
pub fn walk(tree: &Tree, c: &Contract, r: Option<&Results>) -> Walk {
    let mut path = Vec::new();
    let mut conditions = Vec::new();
    let mut at = Next::Node(tree.start);
    // The tree is acyclic (checked when parsed), so this ends within nodes.len() steps.
    for _ in 0..=tree.nodes.len() {
        let Next::Node(i) = at else { break };
        let n = &tree.nodes[i];
        let (ok, value, evidence, party) = answer(n, c, r);
        let condition = if ok { None } else { n.condition.clone() };
        if let Some(cond) = &condition {
            conditions.push(cond.clone());
        }
        path.push(Step {
            node: n.id.clone(),
            question: n.question.clone(),
            test: n.test.name(),
            answer: ok,
            value,
            party,
            threshold: n.threshold,
            evidence,
            condition,
        });
        at = if ok { n.yes } else { n.no };
    }
    let (exit, verdict, advice) = match at {
        Next::Exit(e) => {
            let x = &tree.exits[e];
            let v = if x.verdict == Verdict::Go && !conditions.is_empty() {
                Verdict::Conditional
            } else {
                x.verdict
            };
            (x.id.clone(), v, x.advice.clone())
        }
        Next::Node(_) => ("(none)".into(), Verdict::NoGo, Bilingual::default()),
    };
    Walk {
        tree: tree.name.clone(),
        verdict,
        exit,
        advice,
        conditions,
        path,
        trials: r.map(|r| r.trials),
        seed: r.map(|r| r.seed),
    }
}

/// The walk as text a council member can follow.
pub fn render_text(w: &Walk, c: &Contract) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(s, "Feasibility of \"{}\"", c.name);
    let _ = writeln!(s, "Tree: {}", w.tree);
    if let (Some(t), Some(seed)) = (w.trials, w.seed) {
        let _ = writeln!(
            s,
            "Simulated figures: {}, seed {seed}",
            crate::chart::theme::count(t, "trial", "trials")
        );
    }
    let _ = writeln!(s);
    for (k, st) in w.path.iter().enumerate() {
        let _ = writeln!(s, "{}. {}", k + 1, st.question.en);
        if !st.question.nl.is_empty() {
            let _ = writeln!(s, "   ({})", st.question.nl);
        }
        let _ = writeln!(
            s,
            "   {}  {}",
            if st.answer { "YES" } else { "NO " },
            st.evidence
        );
        if let Some(cd) = &st.condition {
            let _ = writeln!(s, "   condition: {cd}");
        }
        let _ = writeln!(s);
    }
    let ids: Vec<&str> = w.path.iter().map(|p| p.node.as_str()).collect();
    let _ = writeln!(s, "Path: {} -> {}", ids.join(" -> "), w.exit);
    let _ = writeln!(s, "Verdict: {}", w.verdict.label());
    if !w.advice.en.is_empty() {
        let _ = writeln!(s, "Advice: {}", w.advice.en);
    }
    if !w.advice.nl.is_empty() {
        let _ = writeln!(s, "Advies: {}", w.advice.nl);
    }
    for cd in &w.conditions {
        let _ = writeln!(s, "Condition: {cd}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: usize) -> Vec<Node> {
        (0..n)
            .map(|i| Node {
                id: format!("n{i}"),
                question: Bilingual::default(),
                label: None,
                test: Test::MkbaPresent,
                threshold: None,
                payers: Payers::default(),
                yes: if i + 1 < n {
                    Next::Node(i + 1)
                } else {
                    Next::Exit(0)
                },
                no: Next::Exit(0),
                condition: None,
            })
            .collect()
    }

    /// The graph check keeps its own stack: a chain far deeper than a call stack allows is
    /// checked, and a cycle through all of it is found and named at the node that closes it.
    #[test]
    fn the_graph_check_takes_a_chain_of_any_depth() {
        let mut nodes = chain(200_000);
        let mut errs = Vec::new();
        check_graph(&nodes, Next::Node(0), &mut errs);
        assert!(errs.is_empty(), "{errs:?}");
        nodes[199_999].no = Next::Node(0);
        check_graph(&nodes, Next::Node(0), &mut errs);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].path, "node[199999].no");
        assert!(
            errs[0]
                .message
                .starts_with("the tree has a cycle: n0 -> n1 -> ")
                && errs[0].message.contains("n199999 -> n0;"),
            "{}",
            &errs[0].message[..100]
        );
        // Unreachable nodes are still found.
        let mut nodes = chain(3);
        nodes[0].yes = Next::Exit(0);
        let mut errs = Vec::new();
        check_graph(&nodes, Next::Node(0), &mut errs);
        let paths: Vec<&str> = errs.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["node[1].id", "node[2].id"]);
    }
}
