//! Charts: every chart renders from a small run (and from made-up data for the charts whose
//! computations live elsewhere) to a valid PNG and SVG with its title and axis titles, using
//! only the embedded font; `sibsim chart` and `simulate --charts` write them; bad input fails
//! cleanly.

use sibsim::chart::{
    self, Chart, DecisionTree, Format, Heatmap, MunicipalityNet, NodeStatus, Sweep, SweepPoint,
    SweepSeries, Tornado, TornadoBar, TreeEdge, TreeNode, ValueFormat,
};
use sibsim::montecarlo::{Distribution, SimConfig, SummaryFile};
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn sibsim(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sibsim"))
        .args(args)
        .current_dir(root())
        // No system fonts reachable: charts must use the embedded one.
        .env("FONTCONFIG_FILE", "/nonexistent")
        .env("FONTCONFIG_PATH", "/nonexistent")
        .env("XDG_DATA_DIRS", "/nonexistent")
        .output()
        .expect("run sibsim")
}

/// A small simulation of the reference scenario, as `summary.json` holds it.
pub fn small_summary() -> SummaryFile {
    let path = root().join("scenarios/reference.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let (s, model) = sibsim::scenario::parse_with_model("scenarios/reference.toml", &text).unwrap();
    let c = &s.contract;
    let r = sibsim::montecarlo::simulate(
        c,
        &model,
        &SimConfig {
            trials: 400,
            seed: 4,
            threads: Some(1),
        },
    );
    SummaryFile {
        scenario: sibsim::montecarlo::ScenarioInfo {
            file: "scenarios/reference.toml".into(),
            name: c.name().to_string(),
            currency: c.currency().to_string(),
            period: c.period_length().singular().into(),
            overrides: Vec::new(),
            text: text.clone(),
        },
        seed: 4,
        trials: r.trials,
        sibsim_version: env!("CARGO_PKG_VERSION").into(),
        summary_format: sibsim::montecarlo::SUMMARY_FORMAT,
        results: r,
    }
}

/// Checks a PNG: signature, size and that it is not blank (text and marks were drawn).
fn check_png(bytes: &[u8], name: &str) {
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "{name}: not a PNG");
    let dec = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = dec.read_info().expect("PNG header");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("PNG data");
    assert!(info.width >= 600 && info.height >= 300, "{name}: tiny");
    let dark = buf[..info.buffer_size()]
        .chunks(3)
        .filter(|p| p.iter().all(|&c| c < 90))
        .count();
    // Title and labels are near-black text: thousands of dark pixels when the font works.
    assert!(
        dark > 1500,
        "{name}: only {dark} dark pixels; text missing?"
    );
}

/// Checks an SVG: well-formed enough, with the title and the expected texts.
fn check_svg(svg: &str, name: &str, expect: &[&str]) {
    assert!(
        svg.contains("<svg") && svg.trim_end().ends_with("</svg>"),
        "{name}: not an SVG"
    );
    assert_eq!(
        svg.matches("<text").count(),
        svg.matches("</text>").count(),
        "{name}"
    );
    for e in expect {
        let escaped = e
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        assert!(
            svg.contains(e) || svg.contains(&escaped),
            "{name}: SVG lacks `{e}`"
        );
    }
}

fn both<C: Chart>(c: &C, expect: &[&str]) {
    let png = chart::render(c, Format::Png).unwrap();
    check_png(&png.bytes, &png.name);
    let svg = chart::render(c, Format::Svg).unwrap();
    let text = String::from_utf8(svg.bytes.clone()).unwrap();
    let mut all = vec![c.title()];
    all.extend(expect.iter().map(|s| s.to_string()));
    let all: Vec<&str> = all.iter().map(|s| s.as_str()).collect();
    check_svg(&text, &svg.name, &all);
    // Set SIBSIM_CHART_DIR to look at them.
    if let Some(dir) = std::env::var_os("SIBSIM_CHART_DIR") {
        let dir = Path::new(&dir);
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join(format!("{}.png", png.name)), &png.bytes).unwrap();
        std::fs::write(dir.join(format!("{}.svg", svg.name)), &svg.bytes).unwrap();
    }
}

#[test]
fn every_simulation_chart_renders_as_png_and_svg_with_titles_and_axes() {
    let doc = small_summary();
    let pngs = chart::simulation_charts(&doc, "quarter", Format::Png).unwrap();
    let svgs = chart::simulation_charts(&doc, "quarter", Format::Svg).unwrap();
    let names: Vec<&str> = pngs.iter().map(|c| c.name.as_str()).collect();
    for want in [
        "payout-bank",
        "payout-fund",
        "irr-senior",
        "irr-junior",
        "risk-distribution",
        "cash-fan-enschede",
        "cash-fan-fund",
        "cash-fan-provider",
        "municipality-net-enschede",
        "municipality-net-all-payers",
    ] {
        assert!(names.contains(&want), "no chart {want} in {names:?}");
    }
    assert_eq!(pngs.len(), svgs.len());
    for (p, s) in pngs.iter().zip(&svgs) {
        assert_eq!(p.name, s.name);
        check_png(&p.bytes, &p.name);
        let text = String::from_utf8(s.bytes.clone()).unwrap();
        let axes: &[&str] = if p.name.starts_with("payout") {
            &[
                "Total received (EUR)",
                "Share of trials (%)",
                "Share of trials at or below",
                "Principal",
                "P50",
            ]
        } else if p.name.starts_with("irr") {
            &["Annualised IRR (%)", "Share of trials (%)", "Cap"]
        } else if p.name.starts_with("municipality-net") {
            &[
                "Net: savings minus payments and costs (EUR)",
                "Share of trials (%)",
                "Break-even",
            ]
        } else if p.name.starts_with("cash-fan") {
            &[
                "Quarter (end of)",
                "Cumulative net cash (EUR)",
                "P25-P75",
                "P5-P95",
            ]
        } else {
            &[
                "Share of expected loss",
                "Share of loss in the worst 5% of trials",
                "Share (%)",
            ]
        };
        let mut expect = vec![p.title.as_str()];
        expect.extend_from_slice(axes);
        check_svg(&text, &p.name, &expect);
    }
}

#[test]
fn amounts_have_thousands_separators_and_the_currency() {
    let doc = small_summary();
    let c = chart::Payout::from_results(&doc, 5).unwrap();
    let svg = String::from_utf8(chart::render(&c, Format::Svg).unwrap().bytes).unwrap();
    assert!(
        svg.contains("EUR 3") || svg.contains("EUR 4"),
        "no EUR amounts"
    );
    assert!(
        regex_like_thousands(&svg),
        "no 1,234-style number in the payout SVG"
    );
}

fn regex_like_thousands(s: &str) -> bool {
    let b = s.as_bytes();
    (0..b.len().saturating_sub(4)).any(|i| {
        b[i].is_ascii_digit()
            && b[i + 1] == b','
            && b[i + 2..i + 5].iter().all(|c| c.is_ascii_digit())
    })
}

fn made_up_distribution(center: f64, spread: f64) -> Distribution {
    let counts: Vec<u64> = (0..50)
        .map(|i| {
            let z = (i as f64 - 25.0) / 8.0;
            (1000.0 * (-z * z / 2.0).exp()) as u64
        })
        .collect();
    Distribution {
        lo: center - spread,
        hi: center + spread,
        counts,
        below: 10,
        above: 10,
        quantiles: (1..200)
            .map(|i| center + spread * 0.8 * ((i as f64 / 200.0) * 2.0 - 1.0))
            .collect(),
        quantile_error: 0.0,
    }
}

#[test]
fn municipality_net_chart_renders_from_plain_data() {
    both(
        &MunicipalityNet {
            id: "enschede".into(),
            name: "Gemeente Enschede".into(),
            currency: "EUR".into(),
            trials: 10_000,
            net: made_up_distribution(150_000.0, 400_000.0),
            mean: 150_000.0,
            p5: -180_000.0,
            p50: 150_000.0,
            p95: 470_000.0,
            prob_loss: 0.23,
        },
        &[
            "Net: savings minus payments and costs (EUR)",
            "Share of trials (%)",
            "Break-even",
            "23.0%",
        ],
    );
}

/// The Rotterdam walk with made-up answers: six questions, each with a no-go exit.
pub fn made_up_tree() -> DecisionTree {
    let qs = [
        (
            "1. Social returns clear?",
            "MKBA present; 5 of 5 outcomes valued",
            NodeStatus::Pass,
        ),
        (
            "2. Returns measurable and monetisable?",
            "every outcome has a price and a value",
            NodeStatus::Pass,
        ),
        (
            "3. Number of beneficiaries manageable?",
            "4 payers (limit 5)",
            NodeStatus::Pass,
        ),
        (
            "4. Business case: savings exceed payments?",
            "P = 62.0% (limit 70%)",
            NodeStatus::Conditional,
        ),
        (
            "5. Scale sufficient?",
            "preparation 4.1% of payments (limit 10%)",
            NodeStatus::Pass,
        ),
        (
            "6. Investors on board?",
            "committed EUR 1,000,000 covers the need",
            NodeStatus::NotReached,
        ),
    ];
    let mut nodes: Vec<TreeNode> = qs
        .iter()
        .map(|(l, e, s)| TreeNode {
            label: l.to_string(),
            evidence: e.to_string(),
            status: *s,
        })
        .collect();
    let mut edges = Vec::new();
    for i in 0..qs.len() {
        let exit = nodes.len();
        nodes.push(TreeNode {
            label: if i == 3 {
                "Conditional: tighten the cap".into()
            } else {
                "No-go".into()
            },
            evidence: String::new(),
            status: if i == 3 {
                NodeStatus::Conditional
            } else {
                NodeStatus::NotReached
            },
        });
        if i + 1 < qs.len() {
            edges.push(TreeEdge {
                from: i,
                to: i + 1,
                label: "yes".into(),
            });
        }
        edges.push(TreeEdge {
            from: i,
            to: exit,
            label: "no".into(),
        });
    }
    DecisionTree {
        title: "Feasibility: the Rotterdam decision tree".into(),
        subtitle: "Verdict: conditional (question 4 below its limit)".into(),
        nodes,
        edges,
        path: vec![0, 1, 2, 3, 9],
    }
}

#[test]
fn decision_tree_renders_with_nodes_and_path() {
    let t = made_up_tree();
    both(
        &t,
        &[
            "1. Social returns clear?",
            "P = 62.0% (limit 70%)",
            "Path walked",
            "yes",
            "no",
        ],
    );
}

#[test]
fn stress_charts_render_from_plain_data() {
    both(
        &Tornado {
            title: "Fund: mean net when one input moves".into(),
            subtitle: "Each input from its low to its high value, the others at base.".into(),
            file_name: "tornado-fund".into(),
            base: -88_000.0,
            value_title: "Mean net of the fund (EUR)".into(),
            format: ValueFormat::Money("EUR".into()),
            bars: vec![
                TornadoBar {
                    label: "Work rate".into(),
                    low: -250_000.0,
                    high: 40_000.0,
                    low_label: "0.35".into(),
                    high_label: "0.55".into(),
                },
                TornadoBar {
                    label: "Referral inflow".into(),
                    low: -150_000.0,
                    high: -20_000.0,
                    low_label: "70%".into(),
                    high_label: "100%".into(),
                },
                TornadoBar {
                    label: "Cost per participant".into(),
                    low: -70_000.0,
                    high: -110_000.0,
                    low_label: "1,500".into(),
                    high_label: "3,000".into(),
                },
            ],
        },
        &[
            "Mean net of the fund (EUR)",
            "Work rate",
            "Base case EUR -88,000",
        ],
    );
    both(
        &Sweep {
            title: "Probability of full repayment as the price of work varies".into(),
            subtitle: "10,000 trials per point; band ±2 standard errors.".into(),
            file_name: "sweep-price-work".into(),
            x_title: "Price per work outcome (EUR)".into(),
            y_title: "Probability of full repayment (%)".into(),
            x_format: ValueFormat::Money("EUR".into()),
            y_format: ValueFormat::Percent,
            x_reference: Some((5_000.0, "Contract price".into())),
            y_reference: None,
            series: vec![
                SweepSeries {
                    name: "senior (bank)".into(),
                    color_index: 4,
                    points: (0..8)
                        .map(|i| SweepPoint {
                            x: 2_000.0 + 1_000.0 * i as f64,
                            y: 0.6 + 0.05 * i as f64,
                            se: 0.01,
                        })
                        .collect(),
                },
                SweepSeries {
                    name: "junior (fund)".into(),
                    color_index: 5,
                    points: (0..8)
                        .map(|i| SweepPoint {
                            x: 2_000.0 + 1_000.0 * i as f64,
                            y: 0.1 + 0.08 * i as f64,
                            se: 0.02,
                        })
                        .collect(),
                },
            ],
        },
        &[
            "Price per work outcome (EUR)",
            "Probability of full repayment (%)",
            "senior (bank)",
            "Contract price",
        ],
    );
    both(
        &Heatmap {
            title: "Municipality: probability of a loss by price and cap".into(),
            subtitle: "Each cell 2,000 trials.".into(),
            file_name: "heatmap-price-cap".into(),
            x_title: "Price per work outcome (EUR)".into(),
            y_title: "Total cap (EUR)".into(),
            x_labels: ["3,000", "4,000", "5,000", "6,000"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            y_labels: ["800,000", "1,000,000", "1,200,000"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            values: vec![
                vec![0.05, 0.08, 0.12, 0.2],
                vec![0.07, 0.12, 0.2, 0.31],
                vec![0.09, 0.15, 0.26, f64::NAN],
            ],
            value_title: "P(loss)".into(),
            format: ValueFormat::Percent,
            midpoint: None,
        },
        &[
            "Price per work outcome (EUR)",
            "Total cap (EUR)",
            "26.0%",
            "5,000",
        ],
    );
}

#[test]
fn chart_command_writes_every_chart_from_summary_json_without_fonts() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let charts = dir.path().join("charts");
    let o = sibsim(&[
        "simulate",
        "scenarios/reference.toml",
        "--trials",
        "300",
        "--out",
        out.to_str().unwrap(),
        "--charts",
        charts.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let again = dir.path().join("again");
    let o = sibsim(&[
        "chart",
        out.join("summary.json").to_str().unwrap(),
        "--out",
        again.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let a = crate::cli::file_names(&charts);
    assert!(
        a.contains(&"payout-fund.png".to_string())
            && a.contains(&"risk-distribution.svg".to_string()),
        "{a:?}"
    );
    for name in &a {
        // Same summary, same charts: `chart` needs no re-run.
        let x = std::fs::read(charts.join(name)).unwrap();
        let y = std::fs::read(again.join(name)).unwrap();
        assert!(x == y, "{name} differs between simulate --charts and chart");
        if name.ends_with(".png") {
            check_png(&x, name);
        }
    }
}

#[test]
fn chart_command_rejects_bad_summaries_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str)] = &[
        ("garbage.json", "this is not json"),
        ("other.json", "{\"hello\": 1}"),
        (
            "old.json",
            "{\"results\": {}, \"sibsim_version\": \"0.0.1\", \"seed\": 1, \"trials\": 1}",
        ),
        (
            "broken.json",
            "{\"results\": {\"trials\": \"many\"}, \"sibsim_version\": \"0.1.0\", \"summary_format\": 1, \"seed\": 1, \"trials\": 1, \"scenario\": {}}",
        ),
    ];
    for (name, text) in cases {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        let o = sibsim(&[
            "chart",
            p.to_str().unwrap(),
            "--out",
            dir.path().join("c").to_str().unwrap(),
        ]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{name}: {err}");
        assert!(
            err.starts_with("error: ") && err.contains(name),
            "{name}: {err}"
        );
        assert!(!err.contains("panicked"), "{name}: {err}");
    }
    let o = sibsim(&["chart", "no/such/summary.json", "--out", "x"]);
    assert_eq!(o.status.code(), Some(2));
    // An output folder that cannot be created.
    let f = dir.path().join("file");
    std::fs::write(&f, "x").unwrap();
    let good = dir.path().join("good");
    let o = sibsim(&[
        "simulate",
        "scenarios/reference.toml",
        "--trials",
        "50",
        "--out",
        good.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    let o = sibsim(&[
        "chart",
        good.join("summary.json").to_str().unwrap(),
        "--out",
        f.join("sub").to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot create"));
}

#[test]
fn decision_tree_diagram_follows_a_real_walk() {
    let path = root().join("scenarios/reference.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let (s, model) = sibsim::scenario::parse_with_model("reference.toml", &text).unwrap();
    let r = sibsim::montecarlo::simulate(
        &s.contract,
        &model,
        &SimConfig {
            trials: 300,
            seed: 5,
            threads: Some(1),
        },
    );
    let tree = sibsim::feasibility::default_tree();
    let walk = sibsim::feasibility::walk(&tree, &s.contract, Some(&r));
    let d = DecisionTree::from_walk(&tree, &walk);
    // Every question is a box, visited ones in walk order, ending at the exit reached.
    assert_eq!(d.path.len(), walk.path.len() + 1);
    assert!(d.nodes.len() > tree.nodes().len());
    for (k, step) in walk.path.iter().enumerate() {
        let node = &d.nodes[d.path[k]];
        let want = match (step.answer, &step.condition) {
            (true, _) => NodeStatus::Pass,
            (false, Some(_)) => NodeStatus::Conditional,
            (false, None) => NodeStatus::Fail,
        };
        assert_eq!(node.status, want, "{}", node.label);
    }
    let leaf = &d.nodes[*d.path.last().unwrap()];
    assert_ne!(leaf.status, NodeStatus::NotReached);
    // Each path step is joined by an edge.
    for w in d.path.windows(2) {
        assert!(
            d.edges.iter().any(|e| e.from == w[0] && e.to == w[1]),
            "{w:?}"
        );
    }
    let svg = chart::render(&d, Format::Svg).unwrap();
    let text = String::from_utf8(svg.bytes).unwrap();
    check_svg(
        &text,
        "decision-tree",
        &["1. Social returns clear?", "4. Business case?", "Verdict"],
    );
    check_png(
        &chart::render(&d, Format::Png).unwrap().bytes,
        "decision-tree",
    );
}

/// A subtitle longer than the chart is wide wraps at word boundaries onto more lines instead
/// of running off the edge (a two-term sweep's heatmap lost "common
/// random numbers" that way).
#[test]
fn a_long_subtitle_wraps_instead_of_being_cut() {
    let subtitle = "By contract.total_cap (rows) and outcomes.housing.price (columns); 200 trials per cell, seed 1, common random numbers.";
    let map = Heatmap {
        title: "p_full_repayment:bank".into(),
        subtitle: subtitle.into(),
        file_name: "heatmap-long".into(),
        x_title: "outcomes.housing.price".into(),
        y_title: "contract.total_cap".into(),
        x_labels: vec!["1,000".into(), "2,000".into()],
        y_labels: vec!["800,000".into(), "1,500,000".into()],
        values: vec![vec![0.9, 0.95], vec![0.92, 0.98]],
        value_title: "P".into(),
        format: ValueFormat::Percent,
        midpoint: None,
    };
    let svg = String::from_utf8(chart::render(&map, Format::Svg).unwrap().bytes).unwrap();
    // The subtitle's lines are the text elements that start with its words, in order.
    let texts: Vec<&str> = svg
        .split("<text")
        .skip(1)
        .filter_map(|t| {
            t.split_once('>')
                .and_then(|(_, rest)| rest.split_once("</text>"))
        })
        .map(|(inner, _)| inner.trim())
        .collect();
    let first = texts
        .iter()
        .position(|t| t.starts_with("By contract"))
        .unwrap();
    let lines: Vec<&str> = texts[first..]
        .iter()
        .take_while(|t| subtitle.contains(*t))
        .copied()
        .collect();
    assert!(lines.len() >= 2, "{lines:?}");
    assert_eq!(lines.join(" "), subtitle);
}

/// The labels of reference lines (P5, P50, P95, the principal, a rate cap) never run into
/// each other: on the same row, each starts after the one before it ends (its width estimated
/// from DejaVu Sans' advances, a little generously), and every one lies inside the picture. The bundled scenarios have the close lines that
/// used to collide: the reference junior tranche's P95 at its 10% cap and the fund's principal
/// beside its P95; Colour Kitchen's junior P50, P95 and 8% cap within 70 pixels.
#[test]
fn reference_line_labels_do_not_overlap() {
    // A text's width in ems: DejaVu Sans' advances, rounded up a little.
    let ems = |t: &str| -> f64 {
        t.chars()
            .map(|c| match c {
                'A'..='Z' => 0.68,
                '0'..='9' => 0.64,
                '%' => 0.95,
                ' ' | '.' | ',' | ':' | 'i' | 'l' | 'j' => 0.32,
                _ => 0.56,
            })
            .sum()
    };
    let dir = tempfile::tempdir().unwrap();
    for scenario in ["reference", "colour-kitchen-utrecht"] {
        let o = sibsim(&[
            "simulate",
            &format!("scenarios/{scenario}.toml"),
            "--charts",
            dir.path().to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    for chart in [
        "irr-junior.svg",
        "payout-fund.svg",
        "irr-senior.svg",
        "payout-bank.svg",
        "irr-start-junior.svg",
        "irr-rabobank-senior.svg",
    ] {
        let svg = std::fs::read_to_string(dir.path().join(chart)).unwrap();
        let width: f64 = svg
            .split("width=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .and_then(|s| s.parse().ok())
            .unwrap();
        // (y, x, font size, text) of each reference label.
        let mut labels: Vec<(i64, f64, f64, String)> = Vec::new();
        for part in svg.split("<text ").skip(1) {
            let attr = |name: &str| -> Option<f64> {
                part.split(&format!(" {name}=\""))
                    .nth(1)
                    .or_else(|| part.strip_prefix(&format!("{name}=\"")))?
                    .split('"')
                    .next()?
                    .parse()
                    .ok()
            };
            let text = part
                .split('>')
                .nth(1)
                .unwrap_or("")
                .split('<')
                .next()
                .unwrap_or("");
            let text = text.trim();
            // Labels drawn above the plot (bottom-aligned) are the reference lines'.
            if part.contains("dy=\"-0.5ex\"") {
                let (x, y, size) = (
                    attr("x").unwrap(),
                    attr("y").unwrap(),
                    attr("font-size").unwrap(),
                );
                labels.push((y as i64, x, size, text.to_string()));
            }
        }
        assert!(!labels.is_empty(), "{chart}: no reference line labels");
        labels.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
        for w in labels.windows(2) {
            let (a, b) = (&w[0], &w[1]);
            let end = a.1 + a.2 * ems(&a.3);
            assert!(a.0 != b.0 || b.1 >= end, "{chart}: {a:?} runs into {b:?}");
        }
        for l in &labels {
            assert!(
                l.1 >= 0.0 && l.1 + l.2 * ems(&l.3) <= width,
                "{chart}: {l:?}"
            );
        }
    }
}

/// Charts of a run whose trials all have one value (here one trial) still show it: the
/// histogram's bar has a width, the subtitles say "1 trial", and a risk chart without any loss
/// says so instead of drawing bars of 0 without a word.
#[test]
fn charts_of_a_single_trial_show_it() {
    let dir = tempfile::tempdir().unwrap();
    let o = sibsim(&[
        "simulate",
        "scenarios/reference.toml",
        "--trials",
        "1",
        // A trial in which no party loses anything.
        "--seed",
        "3",
        "--charts",
        dir.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for name in crate::cli::file_names(dir.path()) {
        if name.ends_with(".svg") {
            let svg = std::fs::read_to_string(dir.path().join(&name)).unwrap();
            assert!(!svg.contains("1 trials"), "{name}");
        }
    }
    let payout = std::fs::read_to_string(dir.path().join("payout-fund.svg")).unwrap();
    assert!(payout.contains("1 trial."));
    // The investor's bar: a filled rectangle taller than the legend's swatch, with a width.
    let bar = payout
        .split("<rect ")
        .skip(1)
        .filter_map(|r| {
            let num = |k: &str| -> Option<f64> {
                r.split(&format!("{k}=\""))
                    .nth(1)?
                    .split('"')
                    .next()?
                    .parse()
                    .ok()
            };
            Some((num("width")?, num("height")?))
        })
        .find(|&(w, h)| h > 50.0 && w < 1000.0);
    assert!(matches!(bar, Some((w, _)) if w >= 2.0), "{bar:?}");
    let risk = std::fs::read_to_string(dir.path().join("risk-distribution.svg")).unwrap();
    assert!(
        risk.contains("No trial has a loss"),
        "the single trial has no loss"
    );
}

/// A payout chart says how many trials its bars leave out on each side (a loss tail below
/// the axis is what a credit committee looks for), and says nothing when none are.
#[test]
fn a_payout_chart_says_which_trials_its_bars_leave_out() {
    let mut doc = small_summary();
    let bank = doc
        .results
        .parties
        .iter()
        .position(|p| p.id == "bank")
        .unwrap();
    let svg_of = |doc: &SummaryFile| {
        let svgs = chart::simulation_charts(doc, "quarter", Format::Svg).unwrap();
        let c = svgs.iter().find(|c| c.name == "payout-bank").unwrap();
        String::from_utf8(c.bytes.clone()).unwrap()
    };
    // The chart draws the distribution of what the bank received.
    fn received(doc: &mut SummaryFile, bank: usize) -> &mut Distribution {
        doc.results.parties[bank]
            .received_summary
            .as_mut()
            .unwrap()
            .distribution
            .as_mut()
            .unwrap()
    }
    assert!(
        received(&mut doc, bank).below > 0,
        "the test needs trials below the bars"
    );
    let text = svg_of(&doc);
    assert!(text.contains("Bars:"), "no note of the trials left out");
    assert!(text.contains(" below EUR "), "the lowest value drawn");
    let d = received(&mut doc, bank);
    d.counts[0] += d.below + d.above;
    d.below = 0;
    d.above = 0;
    assert!(!svg_of(&doc).contains("Bars:"));
}

/// `(x, y, text)` of every text element of an SVG.
fn svg_texts(svg: &str) -> Vec<(f64, f64, String)> {
    svg.split("<text ")
        .skip(1)
        .filter_map(|part| {
            let attr = |name: &str| -> Option<f64> {
                part.split(&format!("{name}=\""))
                    .nth(1)?
                    .split('"')
                    .next()?
                    .parse()
                    .ok()
            };
            let text = part.split_once('>')?.1.split("</text>").next()?.trim();
            Some((attr("x")?, attr("y")?, text.to_string()))
        })
        .collect()
}

const LONG: [&str; 3] = [
    "Gemeente Súdwest-Fryslân en de Samenwerkende Waddengemeenten Regio Noord-Nederland",
    "Stichting Regionaal Maatschappelijk Impactfonds voor Noord- en Oost-Nederland B.V.",
    "Coöperatieve Begeleidings- en Coachingsonderneming voor Jongeren U.A. (sociale onderneming)",
];

/// Names of 60 characters and more wrap in a column of their own: the risk chart's bars keep
/// their width, and no text runs past the picture's right edge.
#[test]
fn long_names_wrap_and_bars_keep_their_width() {
    let risk = chart::RiskChart {
        currency: "EUR".into(),
        trials: 2_000,
        expected_total: 10_239.0,
        tail_total: 39_540.0,
        rows: LONG
            .iter()
            .enumerate()
            .map(|(i, n)| chart::RiskRow {
                name: n.to_string(),
                color_index: i,
                expected_loss: if i == 1 { 10_239.0 } else { 0.0 },
                share_expected: if i == 1 { 1.0 } else { 0.0 },
                share_tail: if i == 1 { 1.0 } else { 0.0 },
            })
            .collect(),
    };
    both(&risk, &["Gemeente Súdwest-Fryslân", "100.0%"]);
    let svg = String::from_utf8(chart::render(&risk, Format::Svg).unwrap().bytes).unwrap();
    // No name is written whole on one line.
    for (_, _, t) in svg_texts(&svg) {
        assert!(!LONG.contains(&t.as_str()), "{t}");
    }
    // The 100% bar is a wide rectangle in the party's colour.
    let color = chart::theme::css(chart::party_color(1)).to_uppercase();
    let widest = svg
        .split("<rect ")
        .skip(1)
        .filter(|r| r.to_uppercase().contains(&color))
        .filter_map(|r| {
            r.split("width=\"")
                .nth(1)?
                .split('"')
                .next()?
                .parse::<f64>()
                .ok()
        })
        .fold(0.0, f64::max);
    assert!(widest > 250.0, "the bar is {widest} pixels wide");
    // A long name in the title of a payout chart wraps or is shortened within the picture.
    let mut doc = small_summary();
    doc.results.parties[5].name = LONG[1].to_string();
    let c = chart::Payout::from_results(&doc, 5).unwrap();
    let svg = String::from_utf8(chart::render(&c, Format::Svg).unwrap().bytes).unwrap();
    check_png(&chart::render(&c, Format::Png).unwrap().bytes, "payout");
    let title = chart::theme::title_style();
    for (x, _, t) in svg_texts(&svg) {
        if LONG[1].starts_with(&t) || t.contains("distribution of total received") {
            let w = chart::theme::text_width(&t, &title) as f64;
            assert!(x + w <= 1200.0 - 20.0, "{t}");
        }
    }
}

/// A tornado's bar-end labels stay in the plot, never over the inputs' names.
#[test]
fn tornado_labels_do_not_cover_the_names() {
    let bar = |label: &str, low: f64, high: f64, l: &str, h: &str| TornadoBar {
        label: label.into(),
        low,
        high,
        low_label: l.into(),
        high_label: h.into(),
    };
    let t = Tornado {
        title: "Sensitivity of the mean net cash: gemeente".into(),
        subtitle: "Figure net_mean:gemeente.".into(),
        file_name: "tornado-net-mean-gemeente".into(),
        base: -469_940.0,
        value_title: "Mean net cash: gemeente (EUR)".into(),
        format: ValueFormat::Money("EUR".into()),
        bars: vec![
            bar("fill rate", -404_591.0, -518_932.0, "72.0%", "99.7%"),
            bar(
                "success rate of no-reoffence",
                -418_388.0,
                -521_428.0,
                "48.0%",
                "72.0%",
            ),
            bar(
                "success rate of job-held-six-consecutive-months-24-hours-per-week-verified-by-uwv",
                -428_060.0,
                -511_721.0,
                "52.0%",
                "78.0%",
            ),
            bar("shock 1", -469_940.0, -469_940.0, "off", "on"),
        ],
    };
    both(&t, &["fill rate", "99.7%: EUR -518,932"]);
    let svg = String::from_utf8(chart::render(&t, Format::Svg).unwrap().bytes).unwrap();
    let texts = svg_texts(&svg);
    // Names are right-aligned at the names' column edge; labels start right of it.
    let names_end = texts
        .iter()
        .filter(|(_, _, s)| s == "fill rate" || s == "shock 1")
        .map(|(x, _, _)| *x)
        .fold(0.0, f64::max);
    let small = chart::theme::small_style();
    for (x, _, s) in &texts {
        if s.contains(": EUR") {
            assert!(*x > names_end + 4.0, "{s} at {x}, names end at {names_end}");
            let w = chart::theme::text_width(s, &small) as f64;
            assert!(x + w <= 1100.0 - 30.0, "{s} leaves the plot");
        }
    }
}

/// The heatmap's legend names the lowest and highest cells (not the break-even the colour
/// scale reaches), and says what a `-` cell is.
#[test]
fn heatmap_legend_names_the_lowest_cell_and_the_cells_without_value() {
    let map = Heatmap {
        title: "Mean business case: gemeente".into(),
        subtitle: "Figure mkba_net_mean:gemeente.".into(),
        file_name: "heatmap-mkba".into(),
        x_title: "Size of c1".into(),
        y_title: "Price of job-6m (EUR)".into(),
        x_labels: vec!["1,000".into(), "2,000".into()],
        y_labels: vec!["200,000".into(), "300,000".into()],
        values: vec![
            vec![183_155_828.0, 372_761_483.0],
            vec![127_262_880.0, f64::NAN],
        ],
        value_title: "Mean business case: gemeente (EUR)".into(),
        format: ValueFormat::Money("EUR".into()),
        midpoint: Some(0.0),
    };
    both(
        &map,
        &[
            "lowest EUR 127,262,880",
            "highest EUR 372,761,483",
            "no value",
        ],
    );
    let svg = String::from_utf8(chart::render(&map, Format::Svg).unwrap().bytes).unwrap();
    assert!(!svg.contains("lowest EUR 0"));
}

/// The decision tree's count of benefiting parties reads in the singular for one ("1 party
/// (limit 4)", not "1 parties") and in the plural otherwise.
#[test]
fn the_tree_counts_parties_in_words() {
    for (name, want) in [
        ("scenarios/small-bond-scale.toml", "1 party (limit"),
        ("scenarios/reference.toml", "4 parties (limit"),
    ] {
        let text = std::fs::read_to_string(root().join(name)).unwrap();
        let (s, model) = sibsim::scenario::parse_with_model(name, &text).unwrap();
        let r = sibsim::montecarlo::simulate(
            &s.contract,
            &model,
            &SimConfig {
                trials: 100,
                seed: 5,
                threads: Some(1),
            },
        );
        let tree = sibsim::feasibility::default_tree();
        let walk = sibsim::feasibility::walk(&tree, &s.contract, Some(&r));
        let d = DecisionTree::from_walk(&tree, &walk);
        let all: Vec<&str> = d.nodes.iter().map(|n| n.evidence.as_str()).collect();
        assert!(all.iter().any(|e| e.contains(want)), "{name}: {all:?}");
        assert!(
            !all.iter().any(|e| e.contains("1 parties")),
            "{name}: {all:?}"
        );
    }
}

/// A grid too fine for a label in every cell and at every tick (a 30 x 30 sweep) leaves the
/// cells' labels out and labels every k-th tick, instead of overlapping text; a coarse grid
/// keeps them all.
#[test]
fn a_fine_heatmap_thins_its_labels() {
    let map = |n: usize| Heatmap {
        title: "Mean outcome payments".into(),
        subtitle: "Figure payments_mean.".into(),
        file_name: "heatmap".into(),
        x_title: "Total cap (EUR)".into(),
        y_title: "Price (EUR)".into(),
        x_labels: (0..n).map(|i| format!("1,{i:03},000,000")).collect(),
        y_labels: (0..n).map(|i| format!("{}", 1_000 + 7 * i)).collect(),
        values: (0..n)
            .map(|j| {
                (0..n)
                    .map(|i| 900_000.0 + (i * 1_000 + j * 37) as f64)
                    .collect()
            })
            .collect(),
        value_title: "Mean outcome payments (EUR)".into(),
        format: ValueFormat::Money("EUR".into()),
        midpoint: None,
    };
    let svg =
        |n: usize| String::from_utf8(chart::render(&map(n), Format::Svg).unwrap().bytes).unwrap();
    let coarse = svg(6);
    let has = |svg: &str, text: &str| svg.contains(&format!("\n{text}\n"));
    assert!(has(&coarse, "EUR 900,000") && has(&coarse, "EUR 905,185"));
    assert!(has(&coarse, "1,005,000,000") && has(&coarse, "1035"));
    let fine = svg(30);
    assert!(
        !has(&fine, "EUR 900,000") && !has(&fine, "EUR 929,073"),
        "cell labels left out"
    );
    let shown = (0..30)
        .filter(|i| has(&fine, &format!("1,{i:03},000,000")))
        .count();
    assert!((3..30).contains(&shown), "{shown} of 30 x ticks labelled");
    assert!(
        has(&fine, "1,000,000,000"),
        "the first tick keeps its label"
    );
}
