//! The feasibility decision tree as a diagram: nodes coloured by their answer, the path walked
//! highlighted.

use super::theme::*;
use super::{Chart, DrawResult};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// How a node of the walk came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeStatus {
    /// The question was answered yes / the limit was met (or a go verdict).
    Pass,
    /// No / not met (or a no-go verdict).
    Fail,
    /// Conditional: met with conditions, or unclear.
    Conditional,
    /// Not reached on this walk.
    NotReached,
}

impl NodeStatus {
    fn color(self) -> RGBColor {
        match self {
            NodeStatus::Pass => GOOD,
            NodeStatus::Fail => BAD,
            NodeStatus::Conditional => AMBER,
            NodeStatus::NotReached => NEUTRAL,
        }
    }
    /// The status in words.
    pub fn label(self) -> &'static str {
        match self {
            NodeStatus::Pass => "pass",
            NodeStatus::Fail => "fail",
            NodeStatus::Conditional => "conditional",
            NodeStatus::NotReached => "not reached",
        }
    }
}

/// One node: a question or a verdict.
#[derive(Clone, Debug, PartialEq)]
pub struct TreeNode {
    /// Short text, e.g. `4. Business case: P(savings > payments) >= 70%?` or `No-go`.
    pub label: String,
    /// The evidence in one line, e.g. `P = 82.4% (limit 70%)`; empty for none.
    pub evidence: String,
    /// The answer.
    pub status: NodeStatus,
}

/// An arrow between nodes (indices into [`DecisionTree::nodes`]).
#[derive(Clone, Debug, PartialEq)]
pub struct TreeEdge {
    /// From.
    pub from: usize,
    /// To.
    pub to: usize,
    /// The answer that leads along it, e.g. `yes`.
    pub label: String,
}

/// The decision tree and the walk through it.
#[derive(Clone, Debug, PartialEq)]
pub struct DecisionTree {
    /// Title.
    pub title: String,
    /// Line under the title (e.g. the verdict).
    pub subtitle: String,
    /// Nodes; the first is the root.
    pub nodes: Vec<TreeNode>,
    /// Edges.
    pub edges: Vec<TreeEdge>,
    /// The nodes visited, in order.
    pub path: Vec<usize>,
}

impl DecisionTree {
    /// (level, column) of every node: levels by breadth-first distance from the root; a
    /// node's first child sits under it, further children to its right. Linear in the nodes
    /// and edges, however wide or deep the tree.
    fn layout(&self) -> Vec<(usize, usize)> {
        let n = self.nodes.len();
        // Each node's children in edge order, and whether any edge leaves it (a leaf: none).
        let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
        let mut leaves_from = vec![false; n];
        for e in &self.edges {
            if e.from < n {
                leaves_from[e.from] = true;
                if e.to < n {
                    children[e.from].push(e.to);
                }
            }
        }
        let mut pos: Vec<Option<(usize, usize)>> = vec![None; n];
        let mut taken: Vec<Row> = Vec::new();
        let place = |level: usize, want: usize, taken: &mut Vec<Row>| {
            while taken.len() <= level {
                taken.push(Row::default());
            }
            (level, taken[level].take_from(want))
        };
        let mut queue = std::collections::VecDeque::new();
        if n > 0 {
            pos[0] = Some(place(0, 0, &mut taken));
            queue.push_back(0);
        }
        let mut unplaced = 0;
        loop {
            while let Some(u) = queue.pop_front() {
                let (l, c) = pos[u].unwrap_or((0, 0));
                let mut k = 0;
                let mut side = 1;
                for &to in &children[u] {
                    if pos[to].is_some() {
                        continue;
                    }
                    let leaf = !leaves_from[to];
                    // A verdict leaf sits beside its question (same row) when there is room.
                    let beside = leaf && taken.get(l).is_none_or(|row| !row.is_taken(c + side));
                    pos[to] = Some(if beside {
                        side += 1;
                        place(l, c + side - 1, &mut taken)
                    } else {
                        k += 1;
                        place(l + 1, c + k - 1, &mut taken)
                    });
                    queue.push_back(to);
                }
            }
            // Nodes not reachable from the root start a new level below.
            while unplaced < n && pos[unplaced].is_some() {
                unplaced += 1;
            }
            if unplaced == n {
                break;
            }
            let l = taken.len();
            pos[unplaced] = Some(place(l, 0, &mut taken));
            queue.push_back(unplaced);
        }
        pos.into_iter().map(|p| p.unwrap_or((0, 0))).collect()
    }

    /// The edges of the path walked, each (from, to) once.
    fn path_edges(&self) -> std::collections::HashSet<(usize, usize)> {
        self.path.windows(2).map(|w| (w[0], w[1])).collect()
    }
}

/// The columns taken in one row of the layout. A taken column points at a column after it that
/// may be free, and a search for the first free column at or after another shortens the
/// pointers it follows, so placing every node of a row stays about linear.
#[derive(Default)]
struct Row(std::collections::HashMap<usize, usize>);

impl Row {
    fn is_taken(&self, c: usize) -> bool {
        self.0.contains_key(&c)
    }

    /// Takes the first free column at or after `c` and returns it.
    fn take_from(&mut self, c: usize) -> usize {
        let mut free = c;
        while let Some(&next) = self.0.get(&free) {
            free = next;
        }
        let mut at = c;
        while at != free {
            let next = self.0[&at];
            self.0.insert(at, free + 1);
            at = next;
        }
        self.0.insert(free, free + 1);
        free
    }
}

const NODE_H: i32 = 66;
const LEVEL_H: i32 = 104;

impl Chart for DecisionTree {
    fn title(&self) -> String {
        self.title.clone()
    }
    fn file_name(&self) -> String {
        "decision-tree".into()
    }
    fn size(&self) -> (u32, u32) {
        let levels = self.layout().iter().map(|p| p.0).max().unwrap_or(0) as u32 + 1;
        (1100, 150 + levels * LEVEL_H as u32)
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let area = titled(root, &self.title, &self.subtitle)?;
        let area = legend_strip(
            &area,
            &[
                ("Pass".into(), Mark::Fill(tint(GOOD, 0.7))),
                ("Fail".into(), Mark::Fill(tint(BAD, 0.7))),
                ("Conditional".into(), Mark::Fill(tint(AMBER, 0.7))),
                ("Not reached".into(), Mark::Fill(tint(NEUTRAL, 0.6))),
                ("Path walked".into(), Mark::Line(INK)),
            ],
        )?;
        let pos = self.layout();
        let cols = pos.iter().map(|p| p.1).max().unwrap_or(0) as i32 + 1;
        let (w, _) = area.dim_in_pixel();
        let col_w = (w as i32 - 40) / cols;
        let node_w = (col_w - 60).min(470);
        let center = |i: usize| {
            let (l, c) = pos[i];
            (
                20 + col_w * c as i32 + col_w / 2,
                10 + LEVEL_H * l as i32 + NODE_H / 2,
            )
        };
        let walked = self.path_edges();
        let mut visited = vec![false; self.nodes.len()];
        for &i in &self.path {
            if let Some(v) = visited.get_mut(i) {
                *v = true;
            }
        }
        // Edges first, under the nodes.
        for e in &self.edges {
            if e.from >= self.nodes.len() || e.to >= self.nodes.len() {
                continue;
            }
            let (x0, y0) = center(e.from);
            let (x1, y1) = center(e.to);
            let hot = walked.contains(&(e.from, e.to));
            let style = if hot {
                INK.stroke_width(3)
            } else {
                NEUTRAL.stroke_width(2)
            };
            let same_row = y0 == y1;
            let (a, b) = if same_row {
                let dir = if x1 > x0 { 1 } else { -1 };
                ((x0 + dir * node_w / 2, y0), (x1 - dir * node_w / 2, y1))
            } else if x0 == x1 {
                ((x0, y0 + NODE_H / 2), (x1, y1 - NODE_H / 2))
            } else {
                ((x0 + node_w / 2, y0), (x1, y1 - NODE_H / 2))
            };
            let pts = if same_row || x0 == x1 {
                vec![a, b]
            } else {
                vec![a, (b.0, a.1), b]
            };
            area.draw(&PathElement::new(pts.clone(), style))?;
            // Arrow head.
            let c = if hot { INK } else { NEUTRAL };
            let head = if same_row {
                let d = if b.0 > a.0 { -10 } else { 10 };
                vec![(b.0 + d, b.1 - 6), (b.0 + d, b.1 + 6), b]
            } else {
                vec![(b.0 - 6, b.1 - 10), (b.0 + 6, b.1 - 10), b]
            };
            area.draw(&Polygon::new(head, c.filled()))?;
            if !e.label.is_empty() {
                let (lx, ly) = if same_row {
                    ((a.0 + b.0) / 2 - 6, a.1 - 18)
                } else if x0 == x1 {
                    (a.0 + 8, (a.1 + b.1) / 2 - 6)
                } else {
                    ((a.0 + b.0) / 2, a.1 - 18)
                };
                let st = small_style().color(if hot { &INK } else { &MUTED });
                area.draw(&Text::new(e.label.clone(), (lx, ly), st))?;
            }
        }
        for (i, node) in self.nodes.iter().enumerate() {
            let (cx, cy) = center(i);
            let (x0, y0) = (cx - node_w / 2, cy - NODE_H / 2);
            let (x1, y1) = (cx + node_w / 2, cy + NODE_H / 2);
            let c = node.status.color();
            let visited = visited[i];
            area.draw(&Rectangle::new(
                [(x0, y0), (x1, y1)],
                tint(c, if visited { 0.7 } else { 0.85 }).filled(),
            ))?;
            area.draw(&Rectangle::new(
                [(x0, y0), (x1, y1)],
                if visited {
                    INK.stroke_width(3)
                } else {
                    c.stroke_width(1)
                },
            ))?;
            let chars = (node_w / 8).max(12) as usize;
            let mut lines = wrap(&node.label, chars);
            lines.truncate(2);
            let ev = if node.evidence.is_empty() {
                Vec::new()
            } else {
                let mut v = wrap(&node.evidence, (node_w / 7).max(12) as usize);
                v.truncate(3 - lines.len().min(2));
                v
            };
            let total = lines.len() + ev.len();
            let mut y = cy - (total as i32 * 18) / 2 + 1;
            for l in lines {
                area.draw(&Text::new(
                    l,
                    (cx, y),
                    bold_label_style().pos(Pos::new(HPos::Center, VPos::Top)),
                ))?;
                y += 18;
            }
            for l in ev {
                area.draw(&Text::new(
                    l,
                    (cx, y),
                    small_style()
                        .color(&MUTED)
                        .pos(Pos::new(HPos::Center, VPos::Top)),
                ))?;
                y += 18;
            }
        }
        Ok(())
    }
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let t: String = s.chars().take(n.saturating_sub(1)).collect();
        format!("{}…", t.trim_end())
    }
}

impl DecisionTree {
    /// The diagram of `walk` through `tree`: one box per question (the start first), one leaf
    /// per answer that ends the walk, nodes coloured by their answer and the path walked.
    pub fn from_walk(tree: &crate::feasibility::Tree, walk: &crate::feasibility::Walk) -> Self {
        use crate::feasibility::{Next, Shown, Test, Verdict};
        let n = tree.nodes.len();
        // Questions in display order: the start, then the rest in file order.
        let mut order: Vec<usize> = vec![tree.start];
        order.extend((0..n).filter(|&i| i != tree.start));
        let mut slots = vec![0; n];
        for (k, &i) in order.iter().enumerate() {
            slots[i] = k;
        }
        let slot = |i: usize| slots.get(i).copied().unwrap_or(0);
        // Each node's first step in the walk, and each id's node.
        let mut steps: std::collections::HashMap<&str, &crate::feasibility::Step> =
            std::collections::HashMap::new();
        for s in &walk.path {
            steps.entry(s.node.as_str()).or_insert(s);
        }
        let mut index: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
        for (i, q) in tree.nodes.iter().enumerate() {
            index.entry(q.id.as_str()).or_insert(i);
        }
        let mut nodes = Vec::new();
        for (k, &i) in order.iter().enumerate() {
            let q = &tree.nodes[i];
            let step = steps.get(q.id.as_str()).copied();
            let short = q.question.en.split('?').next().unwrap_or("").trim();
            let evidence = match step {
                None => String::new(),
                Some(s) => {
                    let (v, t) = (s.value.unwrap_or(f64::NAN), s.threshold.unwrap_or(f64::NAN));
                    // The figure and its limit, told apart where a no would read them the same.
                    let shown = |style: Shown| style.against(v, t, !s.answer);
                    match q.test {
                        Test::MkbaPresent if s.answer => "a value for every outcome".into(),
                        Test::MkbaPresent => "savings not defined for every outcome".into(),
                        Test::OutcomesMeasurable if s.answer => {
                            "every outcome measured, evidenced, priced".into()
                        }
                        Test::OutcomesMeasurable => {
                            "not every outcome measured, evidenced, priced".into()
                        }
                        Test::BeneficiariesAtMost => format!(
                            "{v} {} (limit {t})",
                            if v == 1.0 { "party" } else { "parties" }
                        ),
                        Test::PayersSaveMore => {
                            let (v, t) = if s.answer {
                                (percent(v), percent(t))
                            } else {
                                shown(Shown::Percent(1))
                            };
                            // The weakest payer's, where each payer is judged.
                            let whose =
                                s.party.as_ref().map_or(String::new(), |p| format!("{p}: "));
                            format!("{whose}P = {v} (limit {t})")
                        }
                        Test::CostShareAtMost => {
                            let (v, t) = shown(Shown::Percent(1));
                            format!("costs {v} of return (limit {t})")
                        }
                        Test::InvestorsOnBoard if s.answer => {
                            format!("capital cover {v:.2}, hurdles met")
                        }
                        Test::InvestorsOnBoard => {
                            // A no may come from a hurdle with the cover met: no extra digits.
                            let (v, t) = Shown::Number(2).against(v, t, v < t);
                            format!("capital cover {v} (limit {t}) or a hurdle missed")
                        }
                        Test::InflowGuaranteed => s
                            .evidence
                            .replace("inflow guaranteed", "inflow")
                            .replace("data delivery guaranteed", "data"),
                        Test::SibCostRatioAtMost => {
                            let (v, t) = shown(Shown::Number(2));
                            format!("cost ratio {v} (limit {t})")
                        }
                    }
                }
            };
            let short = q.label.clone().unwrap_or_else(|| format!("{short}?"));
            nodes.push(TreeNode {
                label: clip(&format!("{}. {short}", k + 1), 46),
                evidence,
                status: match step {
                    None => NodeStatus::NotReached,
                    Some(s) if s.answer => NodeStatus::Pass,
                    Some(s) if s.condition.is_some() => NodeStatus::Conditional,
                    Some(_) => NodeStatus::Fail,
                },
            });
        }
        let mut edges = Vec::new();
        let mut path: Vec<usize> = walk
            .path
            .iter()
            .filter_map(|s| index.get(s.node.as_str()).copied())
            .map(slot)
            .collect();
        let last = walk.path.last().map(|s| (s.node.as_str(), s.answer));
        for &i in &order {
            let q = &tree.nodes[i];
            let same = q.yes == q.no;
            for (next, label, answer) in [(q.yes, "yes", true), (q.no, "no", false)] {
                if same && !answer {
                    continue;
                }
                let label = if same { "either" } else { label }.to_string();
                match next {
                    Next::Node(j) => edges.push(TreeEdge {
                        from: slot(i),
                        to: slot(j),
                        label,
                    }),
                    Next::Exit(e) => {
                        let x = &tree.exits[e];
                        let reached = last == Some((q.id.as_str(), answer))
                            || (same && last.is_some_and(|l| l.0 == q.id));
                        let leaf = nodes.len();
                        let verdict = if reached { walk.verdict } else { x.verdict };
                        nodes.push(TreeNode {
                            label: match verdict {
                                Verdict::Go => "Go".to_string(),
                                Verdict::NoGo => format!("No-go ({})", x.id),
                                Verdict::Conditional => "Conditional go".to_string(),
                            },
                            evidence: clip(x.advice.en.split(':').next().unwrap_or(""), 46),
                            status: match (reached, verdict) {
                                (false, _) => NodeStatus::NotReached,
                                (true, Verdict::Go) => NodeStatus::Pass,
                                (true, Verdict::NoGo) => NodeStatus::Fail,
                                (true, Verdict::Conditional) => NodeStatus::Conditional,
                            },
                        });
                        if reached {
                            path.push(leaf);
                        }
                        edges.push(TreeEdge {
                            from: slot(i),
                            to: leaf,
                            label,
                        });
                    }
                }
            }
        }
        DecisionTree {
            title: format!("Feasibility: {}", tree.name),
            subtitle: format!(
                "Verdict: {}{}",
                walk.verdict.label(),
                if walk.conditions.is_empty() {
                    String::new()
                } else {
                    format!(
                        " ({})",
                        count(walk.conditions.len() as u64, "condition", "conditions")
                    )
                }
            ),
            nodes,
            edges,
            path,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A row gives the first free column at or after the one asked for.
    #[test]
    fn a_row_takes_the_first_free_column() {
        let mut row = Row::default();
        let got: Vec<usize> = [0, 0, 0, 5, 3, 0, 4, 2]
            .iter()
            .map(|&c| row.take_from(c))
            .collect();
        assert_eq!(got, [0, 1, 2, 5, 3, 4, 6, 7]);
        assert!(row.is_taken(6) && !row.is_taken(8));
    }

    /// Every node of a wide tree (each question leading to two more) gets a place of its own.
    #[test]
    fn a_wide_tree_is_laid_out_without_overlap() {
        let n = 3000;
        let node = || TreeNode {
            label: String::new(),
            evidence: String::new(),
            status: NodeStatus::NotReached,
        };
        let edges = (0..n)
            .flat_map(|i| [2 * i + 1, 2 * i + 2])
            .filter(|&j| j < n)
            .map(|j| TreeEdge {
                from: (j - 1) / 2,
                to: j,
                label: String::new(),
            })
            .collect();
        let t = DecisionTree {
            title: String::new(),
            subtitle: String::new(),
            nodes: (0..n).map(|_| node()).collect(),
            edges,
            path: Vec::new(),
        };
        let mut pos = t.layout();
        assert_eq!(pos[0], (0, 0));
        pos.sort_unstable();
        pos.dedup();
        assert_eq!(pos.len(), n);
    }
}
