//! Property tests: random valid contracts and actuals, settled, and the money rules of
//! docs/domain.md section 3.4 checked on every ledger line.
//!
//! A contract is generated as TOML text from a stream of random choices (so shrinking a failing
//! case drives the choices to zero, which switches optional features off and gives a smaller
//! contract), parsed with `scenario::parse`, filled with random actuals through the `Actuals`
//! API and settled. The checks are:
//!
//! - conservation to the cent: the contract account's balance per period, every party's totals,
//!   and the enterprise's cash never negative;
//! - caps: outcome amount and unit caps, the total cap, tranche claims (replayed from the ledger),
//!   guarantee limits, fees and the per-participant cap;
//! - no negative claim or ledger amount;
//! - exact splits between payers, pro rata tranches and returned remainders (largest remainder:
//!   every part within one cent of its exact quota), and `split_largest_remainder` itself;
//! - determinism: settling twice gives identical ledgers;
//! - claims: one per measurement settled, adding up to each outcome's results, each within its
//!   caps, and paid by the ledger (in full where no total cap or pay-only-due cuts).

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use sibsim::contract::{Allocation, Baseline, Contract, InflowJudged, OutcomeKind, Pricing, Role};
use sibsim::money::{Money, Qty, SplitWeights, split_largest_remainder};
use sibsim::settlement::{Claim, ClaimVerdict, Recorded, Rule, Settlement};
use sibsim::{Actuals, LedgerLine, Settler};
use std::collections::BTreeMap;
use std::fmt::Write as _;

// ---------------------------------------------------------------------------------------------
// Random choices
// ---------------------------------------------------------------------------------------------

/// A stream of random choices; past its end every choice is 0 (the simplest option).
struct Src {
    data: Vec<u32>,
    pos: usize,
}

impl Src {
    fn new(data: Vec<u32>) -> Self {
        Src { data, pos: 0 }
    }
    fn next(&mut self) -> u32 {
        let v = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        v
    }
    /// `0..n` (0 when `n` is 0).
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() as u64 % n }
    }
    /// `lo..=hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            lo
        } else {
            lo + self.below((hi - lo + 1) as u64) as i64
        }
    }
    /// True with probability `pct`%; a zero choice gives false.
    fn chance(&mut self, pct: u64) -> bool {
        self.below(100) >= 100 - pct
    }
    /// A random non-empty subset of `0..n`, in ascending order.
    fn subset(&mut self, n: usize) -> Vec<usize> {
        let mut v: Vec<usize> = (0..n).filter(|_| self.chance(60)).collect();
        if v.is_empty() {
            v.push(self.below(n as u64) as usize);
        }
        v
    }
}

/// An amount of money in TOML: an integer, a float with cents, or a string.
fn money_lit(src: &mut Src, cents: i64) -> String {
    let text = format!("{}.{:02}", cents / 100, cents % 100);
    match src.below(3) {
        0 if cents % 100 == 0 => format!("{}", cents / 100),
        1 => format!("\"{text}\""),
        _ => text,
    }
}

/// A price with six decimals (cents and sub-cent digits).
fn price_lit(src: &mut Src, max_units: i64) -> String {
    let micro = src.range(0, max_units * 1_000_000);
    let text = format!("{}.{:06}", micro / 1_000_000, micro % 1_000_000);
    if src.chance(30) {
        format!("\"{text}\"")
    } else {
        text
    }
}

/// Shares of `k` parties adding up to one, in one of three styles: hundredths as floats,
/// integer weights over their total as 12-decimal strings (the last share takes the rounding
/// difference, so the sum is exactly one), or thirds-like floats summing to within 1e-9 of one.
fn shares(src: &mut Src, k: usize) -> Vec<String> {
    if k == 1 {
        return vec![if src.chance(50) {
            "1.0".into()
        } else {
            "1".into()
        }];
    }
    match src.below(3) {
        0 => {
            // Hundredths: k-1 distinct cut points in 1..100.
            let mut cuts: Vec<i64> = Vec::new();
            while cuts.len() < k - 1 {
                let c = src.range(1, 99);
                if !cuts.contains(&c) {
                    cuts.push(c);
                }
                if src.pos > src.data.len() + 1000 {
                    // Out of choices: fall back to even cuts.
                    cuts = (1..k as i64).map(|i| i * 100 / k as i64).collect();
                }
            }
            cuts.sort_unstable();
            let mut out = Vec::new();
            let mut prev = 0;
            for c in cuts.iter().copied().chain(std::iter::once(100)) {
                let h = c - prev;
                prev = c;
                out.push(format!("{}", h as f64 / 100.0));
            }
            out
        }
        1 => {
            // Integers over their total, 12 decimals, last share exact remainder.
            let w: Vec<i64> = (0..k).map(|_| src.range(1, 9)).collect();
            let tot: i64 = w.iter().sum();
            let one: i128 = 1_000_000_000_000;
            let mut given = 0i128;
            let mut out = Vec::new();
            for (i, &x) in w.iter().enumerate() {
                let s = if i + 1 == k {
                    one - given
                } else {
                    (x as i128 * one + tot as i128 / 2) / tot as i128
                };
                given += s;
                out.push(format!("\"0.{:012}\"", s));
            }
            out
        }
        _ => {
            // Equal shares written with 12 decimals; they add up to 1 - k*1e-12 or so.
            let s = 1_000_000_000_000i64 / k as i64;
            (0..k).map(|_| format!("0.{:012}", s)).collect()
        }
    }
}

/// A period schedule `{ amount = X, from = a, to = b }` or `{ at = [[p, X], ...] }` inside
/// `1..=last`; returns the TOML and the total.
fn schedule(src: &mut Src, last: i64, lo_cents: i64, hi_cents: i64) -> (String, i64) {
    if src.chance(50) {
        let n = src.range(1, 3.min(last));
        let mut ps: Vec<i64> = Vec::new();
        for _ in 0..n {
            let p = src.range(1, last);
            if !ps.contains(&p) {
                ps.push(p);
            }
        }
        let mut total = 0;
        let items: Vec<String> = ps
            .iter()
            .map(|p| {
                let a = src.range(lo_cents, hi_cents);
                total += a;
                format!("[{p}, {}]", money_lit(src, a))
            })
            .collect();
        (format!("{{ at = [{}] }}", items.join(", ")), total)
    } else {
        let a = src.range(lo_cents, hi_cents);
        let from = src.range(1, last);
        let to = src.range(from, last);
        let mut t = format!("{{ amount = {}", money_lit(src, a));
        if from != 1 || src.chance(50) {
            let _ = write!(t, ", from = {from}");
        }
        // `to` defaults to the contract's last period, which may be after `last`: always give it.
        let _ = write!(t, ", to = {to}");
        t.push_str(" }");
        (t, a * (to - from + 1))
    }
}

struct Gen {
    toml: String,
}

/// Generates the TOML text of a random valid contract.
fn gen_contract(src: &mut Src) -> Gen {
    let mut s = String::new();
    let t = src.range(6, 14);
    let period = ["month", "quarter", "half-year", "year"][src.below(4) as usize];
    let remainder = ["hold", "return-to-payers", "enterprise"][src.below(3) as usize];
    s.push_str("[contract]\nname = \"Random SIB\"\n");
    let _ = writeln!(s, "periods = {t}\nperiod = \"{period}\"");
    let _ = writeln!(s, "pay_only_due = {}", src.chance(40));
    if src.chance(70) {
        let _ = writeln!(s, "remainder = \"{remainder}\"");
    }
    if src.chance(20) {
        s.push_str("rate_basis = \"simple\"\n");
    }
    if src.chance(30) {
        let cap = src.range(10_000, 20_000_000);
        let _ = writeln!(s, "total_cap = {}", money_lit(src, cap));
    }

    let n_payers = src.range(1, 3) as usize;
    let n_inv = src.range(1, 2) as usize;
    let has_guarantor = src.chance(30);
    let has_fees = src.chance(30);
    for i in 0..n_payers {
        let _ = writeln!(s, "\n[[payers]]\nid = \"p{i}\"\nname = \"Payer {i}\"");
    }
    for i in 0..n_inv {
        let _ = writeln!(s, "\n[[investors]]\nid = \"i{i}\"");
    }
    if has_guarantor {
        s.push_str("\n[[guarantors]]\nid = \"g0\"\n");
    }
    if has_fees {
        s.push_str("\n[[fee_recipients]]\nid = \"f0\"\n");
    }

    s.push_str("\n[enterprise]\nid = \"ent\"\n");
    if src.chance(60) {
        let (sch, _) = schedule(src, t, 0, 150_000);
        let _ = writeln!(s, "fixed_costs = {sch}");
    }
    if src.chance(50) {
        let _ = writeln!(s, "per_participant_cost = {}", price_lit(src, 200));
    }
    if src.chance(30) {
        let (sch, _) = schedule(src, t, 0, 200_000);
        let _ = writeln!(s, "deferred_fees = {sch}");
    }
    if src.chance(30) {
        let _ = writeln!(s, "performance_share = {}", src.range(0, 50) as f64 / 100.0);
    }
    if src.chance(30) {
        let rule = ["never", "on-termination", "at-end"][src.range(0, 2) as usize];
        let _ = writeln!(s, "return_unspent = \"{rule}\"");
    }

    // Cohorts: enrol in 1..=3 so every outcome has room to be measured and paid.
    let n_coh = src.range(1, 3) as usize;
    let mut max_enrol = 1;
    // The earliest enrolment of a cohort with anyone planned (of any cohort if none has).
    let (mut min_enrol, mut min_any) = (i64::MAX, 3);
    let mut cohort_ids = Vec::new();
    for i in 0..n_coh {
        let enrol = src.range(1, 3);
        max_enrol = max_enrol.max(enrol);
        let size = if src.chance(10) { 0 } else { src.range(1, 60) };
        min_any = min_any.min(enrol);
        if size > 0 {
            min_enrol = min_enrol.min(enrol);
        }
        let _ = writeln!(
            s,
            "\n[[cohorts]]\nid = \"c{i}\"\nenrol = {enrol}\nsize = {size}"
        );
        cohort_ids.push(format!("c{i}"));
    }
    if min_enrol == i64::MAX {
        min_enrol = min_any;
    }
    let budget = t - max_enrol; // periods after the latest enrolment

    // Outcomes.
    let n_out = src.range(1, 4) as usize;
    let pp_enabled = src.chance(35);
    // (kind is count, per participant, lag)
    let mut outs: Vec<(bool, bool, i64)> = Vec::new();
    let mut pp_ids = Vec::new();
    let mut outcome_ids = Vec::new();
    for i in 0..n_out {
        let id = format!("o{i}");
        let pp = pp_enabled && src.chance(60);
        let count = pp || !src.chance(25);
        let mut requires = None;
        if count && i > 0 && src.chance(40) {
            let cands: Vec<usize> = (0..i)
                .filter(|&j| outs[j].0 && (!pp || outs[j].1))
                .collect();
            if !cands.is_empty() {
                requires = Some(cands[src.below(cands.len() as u64) as usize]);
            }
        }
        let lag = match requires {
            Some(j) => outs[j].2 + src.range(0, (budget - outs[j].2).min(1)),
            None => src.range(0, budget.min(3)),
        };
        let mp = src.range(1, (budget - lag + 1).min(3));
        let pay_lag = src.range(0, (budget - lag - mp + 1).min(2));
        let _ = writeln!(s, "\n[[outcomes]]\nid = \"{id}\"");
        if !count {
            s.push_str("kind = \"quantity\"\nunit = \"day\"\n");
        } else if src.chance(20) {
            s.push_str("kind = \"count\"\n");
        }
        if let Some(j) = requires {
            let _ = writeln!(s, "requires = \"o{j}\"");
        }
        let _ = writeln!(s, "lag = {lag}");
        if mp != 1 || src.chance(30) {
            let _ = writeln!(s, "measure_periods = {mp}");
        }
        if pay_lag != 0 || src.chance(30) {
            let _ = writeln!(s, "pay_lag = {pay_lag}");
        }
        if count && !pp && src.chance(15) {
            s.push_str("repeatable = true\n");
        }
        // Baseline (never on per-participant outcomes).
        let mut baseline = false;
        if !pp && src.chance(45) {
            baseline = true;
            match src.below(4) {
                0 | 1 => {
                    let rate = if count {
                        src.range(0, 500) as f64 / 1000.0
                    } else {
                        src.range(0, 500) as f64 / 100.0
                    };
                    let _ = writeln!(s, "baseline = {{ kind = \"rate\", rate = {rate} }}");
                }
                2 => s.push_str("baseline = { kind = \"control-group\" }\n"),
                _ => {
                    let items: Vec<String> = cohort_ids
                        .iter()
                        .map(|c| format!("{c} = {}", src.range(0, 2000) as f64 / 100.0))
                        .collect();
                    let _ = writeln!(
                        s,
                        "baseline = {{ kind = \"forecast\", forecast = {{ {} }} }}",
                        items.join(", ")
                    );
                }
            }
            let decrease = src.chance(20);
            if decrease {
                s.push_str("direction = \"decrease\"\n");
            }
            // Where fewer is better the improvement is at most 1: a level above is refused.
            let top = if decrease { 100 } else { 200 };
            if src.chance(50) {
                let mut parts = Vec::new();
                if src.chance(60) {
                    parts.push(format!(
                        "per_cohort = {}",
                        src.range(-50, top) as f64 / 100.0
                    ));
                }
                if parts.is_empty() || src.chance(40) {
                    parts.push(format!("overall = {}", src.range(-50, top) as f64 / 100.0));
                }
                let _ = writeln!(s, "threshold = {{ {} }}", parts.join(", "));
            }
        }
        // Pricing.
        let grid = baseline && src.chance(15);
        if grid {
            let kind = if src.chance(50) { "linear" } else { "step" };
            let a = src.range(-20, 50);
            let b = a + src.range(1, 100);
            // Per participant (the default, or written), or for the cohort as a whole.
            let per =
                ["", ", per = \"participant\"", ", per = \"cohort\""][src.range(0, 2) as usize];
            let _ = writeln!(
                s,
                "grid = {{ kind = \"{kind}\", points = [[{}, {}], [{}, {}]]{per} }}",
                a as f64 / 100.0,
                price_lit(src, 100),
                b as f64 / 100.0,
                price_lit(src, 400)
            );
        } else if !pp && src.chance(25) {
            let n = src.range(1, 3);
            let mut up = 0;
            let mut tiers = Vec::new();
            for k in 0..n {
                let price = price_lit(src, 3000);
                if k + 1 == n {
                    tiers.push(format!("{{ price = {price} }}"));
                } else {
                    up += src.range(1, 20);
                    tiers.push(format!("{{ up_to = {up}, price = {price} }}"));
                }
            }
            let _ = writeln!(s, "tiers = [{}]", tiers.join(", "));
        } else {
            let _ = writeln!(s, "price = {}", price_lit(src, 5000));
        }
        // Caps.
        if src.chance(35) {
            let mut parts = Vec::new();
            if !grid && src.chance(50) {
                let u = if count {
                    format!("{}", src.range(1, 80))
                } else {
                    format!("{}", src.range(1, 50000) as f64 / 100.0)
                };
                parts.push(format!("units = {u}"));
            }
            if !grid && src.chance(40) {
                parts.push(format!("share = {}", src.range(0, 100) as f64 / 100.0));
            }
            if parts.is_empty() || src.chance(50) {
                let a = src.range(1, 10_000_000);
                parts.push(format!("amount = {}", money_lit(src, a)));
            }
            let _ = writeln!(s, "cap = {{ {} }}", parts.join(", "));
        }
        // Payers.
        if n_payers > 1 || src.chance(50) {
            let who = src.subset(n_payers);
            let sh = shares(src, who.len());
            let items: Vec<String> = who
                .iter()
                .zip(&sh)
                .map(|(p, x)| format!("p{p} = {x}"))
                .collect();
            let _ = writeln!(s, "payers = {{ {} }}", items.join(", "));
        }
        if pp {
            pp_ids.push(format!("\"{id}\""));
        }
        outs.push((count, pp, lag));
        outcome_ids.push(id);
    }
    if !pp_ids.is_empty() {
        let a = src.range(100, 800_000);
        let _ = writeln!(
            s,
            "\n[participant_cap]\namount = {}\noutcomes = [{}]",
            money_lit(src, a),
            pp_ids.join(", ")
        );
    }

    if src.chance(20) {
        for _ in 0..src.range(1, 2) {
            let a = src.range(1, 2_000_000);
            let _ = writeln!(
                s,
                "\n[[fixed_payments]]\nperiod = {}\npayer = \"p{}\"\namount = {}",
                src.range(1, t),
                src.below(n_payers as u64),
                money_lit(src, a)
            );
        }
    }
    if src.chance(15) {
        let o = src.below(n_out as u64);
        let _ = writeln!(
            s,
            "\n[[checkpoints]]\nperiod = {}\noutcome = \"o{o}\"\nmin_rate = {}",
            // From the outcome's first measurement (an earlier one would judge nothing).
            src.range(min_enrol + outs[o as usize].2, t),
            src.range(0, 30) as f64 / 100.0
        );
    }

    // Tranches.
    let n_tr = src.range(1, 3);
    for k in 0..n_tr {
        let (sch, total) = schedule(src, t.min(6), 10_000, 2_000_000);
        let extra = if src.chance(50) {
            src.range(0, 5_000_000)
        } else {
            0
        };
        let _ = writeln!(
            s,
            "\n[[tranches]]\nid = \"t{k}\"\ninvestor = \"i{}\"\ncommitted = {}\nrank = {}",
            src.below(n_inv as u64),
            money_lit(src, total + extra),
            src.range(1, 3)
        );
        if src.chance(80) {
            let _ = writeln!(s, "rate = {}", src.range(0, 150) as f64 / 1000.0);
        }
        let _ = writeln!(s, "drawdowns = {sch}");
        if src.chance(30) {
            let mut pool: Vec<String> = (0..n_payers).map(|i| format!("p{i}")).collect();
            if has_guarantor {
                pool.push("g0".into());
            }
            let who = src.subset(pool.len());
            let sh = shares(src, who.len());
            let items: Vec<String> = who
                .iter()
                .zip(&sh)
                .map(|(g, x)| format!("{} = {x}", pool[*g]))
                .collect();
            let mut g = format!("guarantee = {{ guarantors = {{ {} }}", items.join(", "));
            if src.chance(40) {
                let l = src.range(1, 3_000_000);
                let _ = write!(g, ", limit = {}", money_lit(src, l));
            }
            if src.chance(40) {
                let _ = write!(g, ", fraction = {}", src.range(0, 100) as f64 / 100.0);
            }
            g.push_str(" }");
            let _ = writeln!(s, "{g}");
        }
    }
    if has_fees {
        for k in 0..src.range(1, 2) {
            let (sch, _) = schedule(src, t, 0, 200_000);
            let _ = writeln!(
                s,
                "\n[[fees]]\nid = \"fee{k}\"\npayee = \"f0\"\nschedule = {sch}"
            );
        }
    }
    // Inflow guarantees (drawn last, so the rest of a contract does not depend on them).
    if src.chance(25) {
        for _ in 0..src.range(1, 2) {
            let micro = src.range(1, 5_000 * 1_000_000);
            let _ = writeln!(
                s,
                "\n[[inflow_guarantees]]\npayer = \"p{}\"\nper_missing = \"{}.{:06}\"\npay_lag = {}",
                src.below(n_payers as u64),
                micro / 1_000_000,
                micro % 1_000_000,
                src.range(0, t - max_enrol)
            );
            if src.chance(70) {
                let _ = writeln!(s, "share = {}", src.range(1, 100) as f64 / 100.0);
            }
            if src.chance(50) {
                let ids: Vec<String> = src
                    .subset(n_coh)
                    .iter()
                    .map(|&i| format!("\"{}\"", cohort_ids[i]))
                    .collect();
                let _ = writeln!(s, "cohorts = [{}]", ids.join(", "));
            }
            if src.chance(30) {
                s.push_str("to = \"enterprise\"\n");
            }
            if src.chance(40) {
                s.push_str("judged = \"overall\"\n");
            }
        }
    }
    // Interest-first tranches (drawn last too; the line goes under the tranche's id).
    for k in 0..n_tr {
        if src.chance(35) {
            let id = format!("id = \"t{k}\"\n");
            s = s.replacen(&id, &format!("{id}allocation = \"interest-first\"\n"), 1);
        }
    }
    Gen { toml: s }
}

/// Random actuals within the measurement windows of `c`, and the same actuals with each
/// cohort's participant classes added at once as masks over shared slots
/// ([`Actuals::add_classes`], as the simulator adds them) instead of one by one.
fn gen_actuals(src: &mut Src, c: &Contract) -> (Actuals, Actuals) {
    let mut a = Actuals::new(c);
    for (ci, coh) in c.cohorts().iter().enumerate() {
        if src.chance(30) {
            a.set_enrolled(ci, src.range(0, coh.size as i64 + 10) as u32);
        }
    }
    for (o, out) in c.outcomes().iter().enumerate() {
        if out.per_participant {
            continue;
        }
        for (ci, coh) in c.cohorts().iter().enumerate() {
            let en = a.enrolled()[ci] as i64;
            for p in out.first_measure(coh.enrol_period)..=out.last_measure(coh.enrol_period) {
                let p = p as usize;
                if src.chance(75) {
                    let q = match out.kind {
                        OutcomeKind::Count => Qty::from_int(src.range(0, (en / 2).max(1))),
                        OutcomeKind::Quantity => Qty(src.range(0, en * 300) * 10_000),
                    };
                    a.set_units(o, ci, p, q);
                }
                match out.baseline {
                    Baseline::ControlGroup => {
                        a.set_baseline(o, ci, p, Qty(src.range(0, 1_000_000)));
                    }
                    Baseline::Forecast(_) if src.chance(30) => {
                        a.set_baseline(o, ci, p, Qty(src.range(0, 3000) * 10_000));
                    }
                    _ => {}
                }
            }
        }
    }
    // Per-participant outcomes: classes of identical participants.
    let mut masked = a.clone();
    if let Some(pc) = &c.participant_cap() {
        for (ci, coh) in c.cohorts().iter().enumerate() {
            let mut cohort_classes: Vec<(u32, Vec<(u16, u16)>)> = Vec::new();
            let mut left = a.enrolled()[ci];
            for _ in 0..src.range(0, 3) {
                if left == 0 {
                    break;
                }
                let count = src.range(1, left.min(5) as i64) as u32;
                left -= count;
                let mut when: BTreeMap<usize, u16> = BTreeMap::new();
                for &o in &pc.outcomes {
                    let out = &c.outcomes()[o];
                    let mut first = out.first_measure(coh.enrol_period);
                    let last = out.last_measure(coh.enrol_period);
                    if let Some(r) = out.requires {
                        match when.get(&r) {
                            Some(&pr) => first = first.max(pr),
                            None => continue,
                        }
                    }
                    if first > last || !src.chance(70) {
                        continue;
                    }
                    when.insert(o, src.range(first as i64, last as i64) as u16);
                }
                let mut ev: Vec<(u16, u16)> = when.iter().map(|(&o, &p)| (p, o as u16)).collect();
                ev.sort_unstable();
                a.add_class(ci, count, &ev);
                cohort_classes.push((count, ev));
            }
            let mut slots: Vec<(u16, u16)> = cohort_classes
                .iter()
                .flat_map(|(_, ev)| ev.clone())
                .collect();
            slots.sort_unstable();
            slots.dedup();
            let masks: Vec<(u32, u64)> = cohort_classes
                .iter()
                .map(|(count, ev)| {
                    let mask = ev.iter().fold(0u64, |m, e| {
                        m | 1 << slots.binary_search(e).expect("a slot per event")
                    });
                    (*count, mask)
                })
                .collect();
            masked.add_classes(ci, &slots, &masks);
        }
    }
    (a, masked)
}

// ---------------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------------

/// `|part - total * w / wsum| < 1 cent`, exactly, in integers.
fn within_one_cent(part: i64, total: i64, w: i64, wsum: i64) -> bool {
    let lhs = (part as i128 * wsum as i128 - total as i128 * w as i128).abs();
    lhs < wsum as i128
}

fn fail(msg: String) -> TestCaseError {
    TestCaseError::fail(msg)
}

/// Upper bound of what the per-participant outcomes of cohort `ci` can pay: each participant
/// gets at most `min(cap, sum of its achievements' prices)`.
fn participant_bound(c: &Contract, a: &Actuals, ci: usize) -> Money {
    let Some(pc) = &c.participant_cap() else {
        return Money::ZERO;
    };
    let mut bound = Money::ZERO;
    for class in a.classes().iter().filter(|k| k.cohort as usize == ci) {
        let mut full = Money::ZERO;
        for (_, o) in a.class_events(class) {
            if let Pricing::Flat(p) = c.outcomes()[o as usize].pricing {
                full += p.times(Qty::from_int(1));
            }
        }
        bound += Money(full.min(pc.amount).0 * class.count as i64);
    }
    bound
}

/// The inflow compensation lines of `ledger`, against an independent computation.
fn check_inflow(
    c: &Contract,
    a: &Actuals,
    s: &Settlement,
    ledger: &[LedgerLine],
) -> Result<(), String> {
    use rust_decimal::{Decimal, RoundingStrategy};
    let fin = s.final_period;
    let ended_early = s.termination.is_some();
    let mut want: Vec<(u16, usize, usize, Rule, Money)> = Vec::new();
    for (g, ig) in c.inflow_guarantees().iter().enumerate() {
        let owed = |target: i64, enrolled: i64| -> Money {
            let short = ig.share.to_decimal() * Decimal::from(target) - Decimal::from(enrolled);
            if short <= Decimal::ZERO {
                return Money::ZERO;
            }
            let eur = (ig.per_missing.to_decimal() * short)
                .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
            Money::from_decimal(eur).expect("within range")
        };
        let when = |p: u16| if ended_early { p.min(fin) } else { p };
        let enrolled: Vec<usize> = ig
            .cohorts
            .iter()
            .copied()
            .filter(|&k| c.cohorts()[k].enrol_period <= fin)
            .collect();
        match ig.judged {
            InflowJudged::PerCohort => {
                for &k in &enrolled {
                    let m = owed(c.cohorts()[k].size as i64, a.enrolled()[k] as i64);
                    let rule = Rule::InflowGuarantee {
                        guarantee: g as u16,
                        cohort: Some(k as u16),
                    };
                    want.push((
                        when(c.cohorts()[k].enrol_period + ig.pay_lag),
                        ig.payer,
                        ig.to,
                        rule,
                        m,
                    ));
                }
            }
            InflowJudged::Overall => {
                if enrolled.is_empty() {
                    continue;
                }
                let target: i64 = enrolled.iter().map(|&k| c.cohorts()[k].size as i64).sum();
                let got: i64 = enrolled.iter().map(|&k| a.enrolled()[k] as i64).sum();
                let last = enrolled
                    .iter()
                    .map(|&k| c.cohorts()[k].enrol_period)
                    .max()
                    .unwrap_or(0);
                let at = if enrolled.len() == ig.cohorts.len() {
                    when(last + ig.pay_lag)
                } else {
                    fin // ended before its last cohort enrolled: judged at the end
                };
                let rule = Rule::InflowGuarantee {
                    guarantee: g as u16,
                    cohort: None,
                };
                want.push((at, ig.payer, ig.to, rule, owed(target, got)));
            }
        }
    }
    want.retain(|w| w.4.0 > 0);
    let mut got: Vec<(u16, usize, usize, Rule, Money)> = ledger
        .iter()
        .filter(|l| matches!(l.rule, Rule::InflowGuarantee { .. }))
        .map(|l| (l.period, l.from, l.to, l.rule, l.amount))
        .collect();
    let key = |x: &(u16, usize, usize, Rule, Money)| format!("{x:?}");
    want.sort_by_key(key);
    got.sort_by_key(key);
    if want != got {
        return Err(format!(
            "inflow compensation: expected {want:?}, got {got:?}"
        ));
    }
    let total: Money = got.iter().map(|x| x.4).sum();
    if total != s.inflow_compensation {
        return Err(format!(
            "inflow compensation total {} != its lines {total}",
            s.inflow_compensation
        ));
    }
    Ok(())
}

/// The claims of a settlement (a [`Recorded`] sink's) against its results and ledger: one per
/// measurement settled; per outcome they add up to the achieved and baseline units, the
/// payable units and the amount earned; each is within its caps; an unpaid verdict earns
/// nothing; and the ledger's outcome payments for a cohort are at most what its claims earned
/// and falling due by the last period settled, all of it where neither the total cap nor
/// pay-only-due cuts.
/// A grid outcome's claim earned is priced at the grid's value at its improvement, times the
/// cohort's realised enrolment (`per = "participant"`) or once (`per = "cohort"`).
fn check_grids(c: &Contract, a: &Actuals, claims: &[Claim]) -> Result<(), String> {
    use sibsim::contract::GridPer;
    for k in claims.iter().filter(|k| k.verdict == ClaimVerdict::Earned) {
        let out = &c.outcomes()[k.outcome as usize];
        let Pricing::Grid { kind, points, per } = &out.pricing else {
            continue;
        };
        let v = sibsim::settlement::grid_value(*kind, points, k.improvement.unwrap_or_default());
        let times = match per {
            GridPer::Participant => a.enrolled()[k.cohort as usize] as i64,
            GridPer::Cohort => 1,
        };
        let want = v.times(Qty::from_int(times));
        if k.amount != want {
            return Err(format!(
                "grid claim {k:?}: amount {} != {want} ({per:?})",
                k.amount
            ));
        }
    }
    Ok(())
}

fn check_claims(
    c: &Contract,
    s: &Settlement,
    claims: &[Claim],
    paid_claims: &[sibsim::settlement::ClaimPayment],
    ledger: &[LedgerLine],
) -> Result<(), String> {
    // Each claim's payment is paid at most once, at most what it earned, and the payments
    // add up to the ledger's outcome payments per outcome and cohort.
    let n_c0 = c.cohorts().len();
    let mut by_payment = BTreeMap::new();
    let (mut cut_by_cap, mut not_due) = (Money::ZERO, Money::ZERO);
    for x in paid_claims {
        if by_payment.insert(x.payment, (x.period, x.paid)).is_some() {
            return Err(format!("payment {} paid twice", x.payment));
        }
        // The total cap cuts first, then pay-only-due, each at most what is left.
        if x.paid.0 < 0 || x.paid > x.after_total_cap {
            return Err(format!("{x:?}: paid outside 0..=after the total cap"));
        }
        if let Some(k) = claims.iter().find(|k| k.payment == Some(x.payment)) {
            if x.after_total_cap > k.earned {
                return Err(format!(
                    "{x:?}: more left by the total cap than {k:?} earned"
                ));
            }
            cut_by_cap += k.earned - x.after_total_cap;
        }
        not_due += x.after_total_cap - x.paid;
    }
    // Per claim, the cuts add up to the settlement's.
    if (cut_by_cap, not_due) != (s.cut_by_total_cap, s.not_due) {
        return Err(format!(
            "claims cut {cut_by_cap} by the total cap and {not_due} as not due; the settlement {} and {}",
            s.cut_by_total_cap, s.not_due
        ));
    }
    let mut claimed_paid = vec![Money::ZERO; c.outcomes().len() * n_c0];
    for k in claims {
        match (k.payment, k.verdict) {
            (Some(n), ClaimVerdict::Earned) => {
                if let Some(&(period, m)) = by_payment.get(&n) {
                    if m.0 < 0 || m > k.earned || period < k.measured {
                        return Err(format!("claim {k:?} paid {m} in period {period}"));
                    }
                    claimed_paid[k.outcome as usize * n_c0 + k.cohort as usize] += m;
                } else if !s.interim && s.termination.is_none() && k.due <= s.final_period {
                    return Err(format!("claim {k:?} due by the end but never paid"));
                }
            }
            (Some(_), _) => return Err(format!("an unpaid verdict with a payment: {k:?}")),
            (None, _) => {
                if k.earned.0 != 0 {
                    return Err(format!("earned without a payment: {k:?}"));
                }
            }
        }
    }
    let mut ledger_paid = vec![Money::ZERO; c.outcomes().len() * n_c0];
    for l in ledger {
        if let Rule::OutcomePayment { outcome, cohort } = l.rule {
            ledger_paid[outcome as usize * n_c0 + cohort as usize] += l.amount;
        }
    }
    if claimed_paid != ledger_paid {
        return Err(format!(
            "claims paid {claimed_paid:?}, the ledger's outcome payments {ledger_paid:?}"
        ));
    }
    let n_c = c.cohorts().len();
    let mut seen = std::collections::BTreeSet::new();
    let mut sums = vec![(Qty::ZERO, Qty::ZERO, Qty::ZERO, Money::ZERO); c.outcomes().len()];
    let mut due_by = vec![Money::ZERO; c.outcomes().len() * n_c];
    for k in claims {
        if !seen.insert((k.outcome, k.cohort, k.measured)) {
            return Err(format!("two claims for one measurement: {k:?}"));
        }
        if k.measured == 0 || k.measured > s.final_period {
            return Err(format!(
                "claim outside periods 1..={}: {k:?}",
                s.final_period
            ));
        }
        if k.units < Qty::ZERO || k.units > k.payable || k.payable < Qty::ZERO {
            return Err(format!("units paid for outside 0..=payable: {k:?}"));
        }
        if k.earned.0 < 0 || k.earned > k.amount {
            return Err(format!("earned outside 0..=amount: {k:?}"));
        }
        match k.verdict {
            ClaimVerdict::Earned => {
                if k.due < k.measured || k.due > c.periods() {
                    return Err(format!("due outside measured..=T: {k:?}"));
                }
            }
            ClaimVerdict::Held if !s.interim => {
                return Err(format!("a final settlement holds a claim: {k:?}"));
            }
            _ => {
                if k.units.0 != 0 || k.earned.0 != 0 || k.due != 0 {
                    return Err(format!("an unpaid verdict with units or money: {k:?}"));
                }
            }
        }
        let o = &c.outcomes()[k.outcome as usize];
        if o.caps.max_units.is_none()
            && o.caps.max_share.is_none()
            && k.units != k.payable
            && k.verdict == ClaimVerdict::Earned
        {
            return Err(format!("units cut without a unit cap: {k:?}"));
        }
        if o.caps.max_amount.is_none() && k.earned != k.amount {
            return Err(format!("amount cut without an amount cap: {k:?}"));
        }
        let e = &mut sums[k.outcome as usize];
        e.0 += k.achieved;
        e.1 += k.baseline;
        e.2 += k.units;
        e.3 += k.earned;
        let due = match s.termination {
            Some((t, _)) => k.due.min(t),
            None => k.due,
        };
        if k.verdict == ClaimVerdict::Earned && due <= s.final_period {
            due_by[k.outcome as usize * n_c + k.cohort as usize] += k.earned;
        }
    }
    for (o, (r, e)) in s.outcomes.iter().zip(&sums).enumerate() {
        if (r.achieved, r.baseline, r.payable_units, r.earned) != *e {
            return Err(format!(
                "outcome {o}: results {r:?} but its claims add up to {e:?}"
            ));
        }
    }
    let mut paid = vec![Money::ZERO; c.outcomes().len() * n_c];
    for l in ledger {
        if let Rule::OutcomePayment { outcome, cohort } = l.rule {
            paid[outcome as usize * n_c + cohort as usize] += l.amount;
        }
    }
    let cut = c.total_cap().is_some() || c.pay_only_due();
    for (i, (&p, &d)) in paid.iter().zip(&due_by).enumerate() {
        if p > d || (!cut && p != d) {
            return Err(format!(
                "outcome {} cohort {}: paid {p}, claims falling due by period {} earned {d}",
                i / n_c,
                i % n_c,
                s.final_period
            ));
        }
    }
    Ok(())
}

fn check_settlement(c: &Contract, a: &Actuals, toml: &str) -> Result<(), TestCaseError> {
    let mut ledger = Vec::<LedgerLine>::new();
    let mut settler = Settler::new(c);
    let s = match settler.settle(a, &mut ledger) {
        Ok(s) => s.clone(),
        Err(e) => return Err(fail(format!("settle failed: {e}\n{toml}"))),
    };
    let ctx = |m: String| fail(format!("{m}\n--- contract ---\n{toml}"));
    let np = c.parties().len();
    let fin = s.final_period as usize;
    prop_assert!(fin >= 1 && fin <= c.periods() as usize);

    // (c) every ledger amount is positive, every line is within the settled periods.
    for l in &ledger {
        if l.amount.0 <= 0 {
            return Err(ctx(format!("non-positive ledger line {l:?}")));
        }
        if l.period == 0 || l.period as usize > fin {
            return Err(ctx(format!("line outside periods 1..={fin}: {l:?}")));
        }
        if l.from == l.to {
            return Err(ctx(format!("line pays itself: {l:?}")));
        }
    }

    // (a) per-party totals match the ledger; total paid equals total received.
    let mut paid = vec![Money::ZERO; np];
    let mut recv = vec![Money::ZERO; np];
    for l in &ledger {
        paid[l.from] += l.amount;
        recv[l.to] += l.amount;
    }
    prop_assert_eq!(&paid, &s.paid);
    prop_assert_eq!(&recv, &s.received);
    let tp: Money = s.paid.iter().copied().sum();
    let tr: Money = s.received.iter().copied().sum();
    prop_assert_eq!(tp, tr);

    // (b) inflow guarantees: the compensation recomputed in decimals from the contract and
    // the actuals, rounded once half away from zero, paid by the payer to the recipient in
    // enrolment + pay_lag (or the final period of a contract that ended early).
    check_inflow(c, a, &s, &ledger).map_err(ctx)?;

    // (a) the contract account, period by period: held[p-1] + in == out + held[p].
    prop_assert_eq!(s.held[0], Money::ZERO);
    for p in 1..=fin {
        let inn: Money = ledger
            .iter()
            .filter(|l| l.period as usize == p && l.to == c.account())
            .map(|l| l.amount)
            .sum();
        let out: Money = ledger
            .iter()
            .filter(|l| l.period as usize == p && l.from == c.account())
            .map(|l| l.amount)
            .sum();
        if s.held[p - 1] + inn != out + s.held[p] {
            return Err(ctx(format!(
                "account not conserved in period {p}: held {} + in {inn} != out {out} + held {}",
                s.held[p - 1],
                s.held[p]
            )));
        }
        if s.held[p].0 < 0 {
            return Err(ctx(format!("negative account balance in period {p}")));
        }
    }
    prop_assert_eq!(
        s.received[c.account()] - s.paid[c.account()],
        s.held_at_end()
    );

    // (a) the enterprise's cash never goes negative, line by line.
    let mut cash = Money::ZERO;
    for l in &ledger {
        if l.to == c.enterprise() {
            cash += l.amount;
        }
        if l.from == c.enterprise() {
            cash -= l.amount;
            if cash.0 < 0 {
                return Err(ctx(format!("enterprise cash negative after {l:?}")));
            }
        }
    }
    prop_assert_eq!(cash, s.enterprise_cash);
    // (a') unspent capital: at most one line, from the enterprise to the account, in the final
    // period of a settlement to the end, as the contract's rule says, of at most what it drew
    // less the costs it paid (every line before it is counted); all of it goes to the fees
    // and the tranches in that period's waterfall: either it is all the capital left, or the
    // tranches and fees are paid in full; nothing of that period goes to deferred fees, a
    // performance share or the remainder, and the account is left empty.
    let unspent: Vec<&LedgerLine> = ledger
        .iter()
        .filter(|l| l.rule == Rule::UnspentCapital)
        .collect();
    prop_assert!(unspent.len() <= 1, "{unspent:?}");
    let mut returned = Money::ZERO;
    if let Some(l) = unspent.first() {
        use sibsim::contract::ReturnUnspent;
        prop_assert_eq!((l.from, l.to), (c.enterprise(), c.account()));
        prop_assert_eq!(l.period, s.final_period);
        prop_assert!(!s.interim, "an interim settlement returned capital: {l:?}");
        let allowed = match c.enterprise_terms().return_unspent {
            ReturnUnspent::Never => false,
            ReturnUnspent::OnTermination => s.termination.is_some(),
            ReturnUnspent::AtEnd => true,
        };
        prop_assert!(
            allowed,
            "{l:?} under {:?}",
            c.enterprise_terms().return_unspent
        );
        let upto = |pred: &dyn Fn(&LedgerLine) -> bool| -> Money {
            ledger
                .iter()
                .take_while(|x| !std::ptr::eq(*x, *l))
                .filter(|x| pred(x))
                .map(|x| x.amount)
                .sum()
        };
        let drawn = upto(&|x| matches!(x.rule, Rule::Drawdown { .. }));
        let spent = upto(&|x| matches!(x.rule, Rule::OperatingCost | Rule::ParticipantCost { .. }));
        let capital = drawn - spent;
        prop_assert!(l.amount <= capital, "{l:?}: capital left {capital}");
        // Less than all of it only where the waterfall then paid the fees and every claim.
        let claims: Money = s
            .tranches
            .iter()
            .map(|t| t.outstanding + t.guaranteed)
            .sum();
        prop_assert!(
            l.amount == capital || (s.fees_owed.0 == 0 && claims.0 == 0),
            "{l:?}: capital left {capital}, fees owed {}, tranches {:?}",
            s.fees_owed,
            s.tranches
        );
        let after = ledger.iter().filter(|x| {
            x.period == l.period
                && matches!(
                    x.rule,
                    Rule::DeferredFee | Rule::PerformanceShare | Rule::Remainder
                )
        });
        prop_assert_eq!(after.count(), 0, "paid from the capital returned: {:?}", l);
        prop_assert_eq!(s.held[l.period as usize], Money::ZERO);
        returned = l.amount;
    }
    prop_assert_eq!(returned, s.unspent_returned);
    // The outside world only receives; investors only pay drawdowns.
    prop_assert_eq!(s.paid[c.external()], Money::ZERO);

    // (b), (d) outcome payments: caps, and exact splits between payers.
    let mut per_outcome = vec![Money::ZERO; c.outcomes().len()];
    let mut per_oc = vec![Money::ZERO; c.outcomes().len() * c.cohorts().len()];
    let mut groups: BTreeMap<(u16, u16, u16), Vec<(usize, Money)>> = BTreeMap::new();
    for l in &ledger {
        if let Rule::OutcomePayment { outcome, cohort } = l.rule {
            if l.to != c.account() || c.parties()[l.from].role != Role::Payer {
                return Err(ctx(format!(
                    "outcome payment not from a payer to the account: {l:?}"
                )));
            }
            per_outcome[outcome as usize] += l.amount;
            per_oc[outcome as usize * c.cohorts().len() + cohort as usize] += l.amount;
            groups
                .entry((l.period, outcome, cohort))
                .or_default()
                .push((l.from, l.amount));
        }
    }
    let mut earned_total = Money::ZERO;
    for (o, out) in c.outcomes().iter().enumerate() {
        let r = &s.outcomes[o];
        earned_total += r.earned;
        prop_assert_eq!(per_outcome[o], r.paid, "outcome {} paid", out.id);
        prop_assert!(
            r.paid <= r.earned,
            "outcome {} paid more than earned",
            out.id
        );
        prop_assert!(r.paid.0 >= 0 && r.earned.0 >= 0 && r.payable_units.0 >= 0);
        if let Some(ma) = out.caps.max_amount {
            if r.earned > ma || r.paid > ma {
                return Err(ctx(format!(
                    "outcome {} earned {} / paid {} over its cap {ma}",
                    out.id, r.earned, r.paid
                )));
            }
        }
        if let Some(mu) = out.caps.max_units {
            if r.payable_units > mu {
                return Err(ctx(format!(
                    "outcome {} made {} units payable over its cap {mu}",
                    out.id, r.payable_units
                )));
            }
        }
        if let Some(ms) = out.caps.max_share {
            if !out.per_participant {
                let units: Qty = (0..c.cohorts().len())
                    .map(|ci| Qty::from_int(a.enrolled()[ci] as i64).mul_ratio(ms))
                    .fold(Qty::ZERO, |x, y| x + y);
                prop_assert!(
                    r.payable_units <= units,
                    "outcome {} over its share cap",
                    out.id
                );
            }
        }
    }
    prop_assert_eq!(
        per_outcome.iter().copied().sum::<Money>(),
        s.outcome_payments
    );
    if let Some(cap) = c.total_cap() {
        if s.outcome_payments > cap {
            return Err(ctx(format!(
                "outcome payments {} over the total cap {cap}",
                s.outcome_payments
            )));
        }
    }
    prop_assert!(s.cut_by_total_cap.0 >= 0 && s.not_due.0 >= 0);
    if earned_total != s.outcome_payments + s.cut_by_total_cap + s.not_due {
        return Err(ctx(format!(
            "earned {earned_total} != paid {} + cut by total cap {} + not due {}",
            s.outcome_payments, s.cut_by_total_cap, s.not_due
        )));
    }
    for ((p, o, ci), lines) in &groups {
        let out = &c.outcomes()[*o as usize];
        let total: Money = lines.iter().map(|x| x.1).sum();
        let wsum: i64 = out.payers.iter().map(|x| x.1.0).sum();
        // One payment per measurement, unless held measurements are released together or a
        // termination pulls later payments forward.
        let entries = if s.termination.is_none() && out.threshold.overall.is_none() {
            1
        } else {
            out.measure_periods as i64
        };
        let mut by_payer: Vec<(usize, Money, i64)> = Vec::new();
        for &(party, part) in lines {
            match by_payer.iter_mut().find(|x| x.0 == party) {
                Some(x) => {
                    x.1 += part;
                    x.2 += 1;
                }
                None => by_payer.push((party, part, 1)),
            }
        }
        for &(party, part, n) in &by_payer {
            let Some(&(_, w)) = out.payers.iter().find(|x| x.0 == party) else {
                return Err(ctx(format!(
                    "party {} pays outcome {} but is not its payer",
                    party, out.id
                )));
            };
            if n > entries {
                return Err(ctx(format!("too many lines for one payer in {p}/{o}/{ci}")));
            }
            let err = (part.0 as i128 * wsum as i128 - total.0 as i128 * w.0 as i128).abs();
            if err >= entries as i128 * wsum as i128 {
                return Err(ctx(format!(
                    "period {p}, outcome {}, cohort {ci}: payer {} pays {part} of {total}, not within {entries} cent(s) of its share {}",
                    out.id,
                    c.parties()[party].id,
                    w
                )));
            }
        }
        if entries == 1 {
            // Payers in the order listed, each once.
            let idx: Vec<usize> = lines
                .iter()
                .map(|(party, _)| {
                    out.payers
                        .iter()
                        .position(|x| x.0 == *party)
                        .unwrap_or(usize::MAX)
                })
                .collect();
            prop_assert!(
                idx.windows(2).all(|w| w[0] < w[1]),
                "payer lines out of order: {:?}",
                idx
            );
        }
    }

    // (b) the per-participant cap.
    if let Some(pc) = &c.participant_cap() {
        for ci in 0..c.cohorts().len() {
            let got: Money = pc
                .outcomes
                .iter()
                .map(|&o| per_oc[o * c.cohorts().len() + ci])
                .sum();
            let bound = participant_bound(c, a, ci);
            if got > bound {
                return Err(ctx(format!(
                    "cohort {}: per-participant outcomes paid {got}, more than the participants' capped total {bound}",
                    c.cohorts()[ci].id
                )));
            }
        }
    }

    // (b), (c) tranches: replay each claim from the ledger; distributions never exceed the claim.
    let nt = c.tranches().len();
    let mut claim = vec![Money::ZERO; nt];
    let mut accrued = vec![Money::ZERO; nt];
    let mut drawn = vec![Money::ZERO; nt];
    let mut dist = vec![Money::ZERO; nt];
    let mut guar = vec![Money::ZERO; nt];
    // Principal outstanding, repaid by each distribution as its tranche's allocation says.
    let mut principal = vec![Money::ZERO; nt];
    for p in 1..=fin as u16 {
        for i in 0..nt {
            let acc = claim[i].mul_ratio(c.tranches()[i].period_rate);
            claim[i] += acc;
            accrued[i] += acc;
        }
        for l in ledger.iter().filter(|l| l.period == p) {
            if let Rule::Drawdown { tranche } = l.rule {
                let i = tranche as usize;
                prop_assert_eq!(l.from, c.tranches()[i].investor);
                prop_assert_eq!(l.to, c.enterprise());
                claim[i] += l.amount;
                drawn[i] += l.amount;
                principal[i] += l.amount;
            }
        }
        let mut dist_p = vec![Money::ZERO; nt];
        for l in ledger.iter().filter(|l| l.period == p) {
            if let Rule::Distribution { tranche } = l.rule {
                prop_assert_eq!(l.to, c.tranches()[tranche as usize].investor);
                dist_p[tranche as usize] += l.amount;
            }
        }
        // Equal ranks share pro rata to their claims.
        let mut ranks: Vec<u16> = c.tranches().iter().map(|t| t.rank).collect();
        ranks.sort_unstable();
        ranks.dedup();
        for r in ranks {
            let g: Vec<usize> = (0..nt).filter(|&i| c.tranches()[i].rank == r).collect();
            let pay: Money = g.iter().map(|&i| dist_p[i]).sum();
            let wsum: i64 = g.iter().map(|&i| claim[i].0).sum();
            if g.len() > 1 && pay.0 > 0 {
                for &i in &g {
                    if !within_one_cent(dist_p[i].0, pay.0, claim[i].0, wsum) {
                        return Err(ctx(format!(
                            "period {p}: tranche {} got {} of {pay}, not pro rata to its claim {} of {wsum}",
                            c.tranches()[i].id,
                            dist_p[i],
                            claim[i]
                        )));
                    }
                }
            }
        }
        for i in 0..nt {
            if dist_p[i] > claim[i] {
                return Err(ctx(format!(
                    "period {p}: tranche {} got {} but its claim is {}",
                    c.tranches()[i].id,
                    dist_p[i],
                    claim[i]
                )));
            }
            let to_principal = match c.tranches()[i].allocation {
                Allocation::PrincipalFirst => dist_p[i],
                // Interest (the claim beyond the principal) first, then principal.
                Allocation::InterestFirst => (dist_p[i] - (claim[i] - principal[i])).non_negative(),
            };
            principal[i] = (principal[i] - to_principal).non_negative();
            claim[i] -= dist_p[i];
            dist[i] += dist_p[i];
        }
    }
    for l in &ledger {
        if let Rule::GuaranteeCall { tranche } = l.rule {
            prop_assert_eq!(
                l.period as usize,
                fin,
                "guarantee calls come in the final period"
            );
            prop_assert_eq!(l.to, c.tranches()[tranche as usize].investor);
            guar[tranche as usize] += l.amount;
        }
    }
    for i in 0..nt {
        let r = &s.tranches[i];
        let t = &c.tranches()[i];
        prop_assert_eq!(r.drawn, drawn[i], "tranche {} drawn", t.id);
        prop_assert_eq!(r.accrued, accrued[i], "tranche {} accrued", t.id);
        prop_assert_eq!(r.distributed, dist[i], "tranche {} distributed", t.id);
        prop_assert_eq!(r.guaranteed, guar[i], "tranche {} guaranteed", t.id);
        prop_assert!(r.drawn <= t.committed);
        let expect = (claim[i] - guar[i]).non_negative();
        prop_assert_eq!(r.outstanding, expect, "tranche {} outstanding", t.id);
        if r.outstanding.0 < 0 || r.unrecovered_principal.0 < 0 {
            return Err(ctx(format!("tranche {} has a negative claim: {r:?}", t.id)));
        }
        // The principal not repaid by distributions: drawn less distributed (principal
        // first), or the principal outstanding (interest first, at least as much).
        let base = match t.allocation {
            Allocation::PrincipalFirst => (drawn[i] - dist[i]).non_negative(),
            Allocation::InterestFirst => principal[i],
        };
        prop_assert!(base >= (drawn[i] - dist[i]).non_negative());
        prop_assert_eq!(
            r.unrecovered_principal,
            (base - guar[i]).non_negative(),
            "tranche {} unrecovered principal",
            t.id
        );
        match &t.guarantee {
            None => prop_assert_eq!(guar[i], Money::ZERO),
            Some(g) => {
                prop_assert!(guar[i] <= base, "guarantee beyond unrecovered principal");
                // The call is all the unrecovered principal its limits allow.
                if !s.interim && (s.termination.is_some() || fin == c.periods() as usize) {
                    let mut call = base;
                    if let Some(l) = g.limit {
                        call = call.min(l);
                    }
                    if let Some(f) = g.fraction {
                        call = call.min(drawn[i].mul_ratio(f));
                    }
                    prop_assert_eq!(guar[i], call, "tranche {} guarantee call", t.id);
                }
                if let Some(l) = g.limit {
                    prop_assert!(guar[i] <= l, "guarantee beyond its limit");
                }
                if let Some(f) = g.fraction {
                    prop_assert!(
                        guar[i] <= drawn[i].mul_ratio(f),
                        "guarantee beyond its fraction"
                    );
                }
                // The call is split between guarantors by largest remainder.
                let wsum: i64 = g.guarantors.iter().map(|x| x.1.0).sum();
                for &(party, w) in &g.guarantors {
                    let part: Money = ledger
                        .iter()
                        .filter(|l| {
                            l.rule == Rule::GuaranteeCall { tranche: i as u16 } && l.from == party
                        })
                        .map(|l| l.amount)
                        .sum();
                    prop_assert!(
                        within_one_cent(part.0, guar[i].0, w.0, wsum),
                        "guarantee split"
                    );
                }
            }
        }
    }

    // Fees and deferred fees: never more than fell due; what is owed is the rest.
    let mut due_fees = Money::ZERO;
    for (f, fee) in c.fees().iter().enumerate() {
        let due: Money = fee.schedule[1..=fin].iter().copied().sum();
        let got: Money = ledger
            .iter()
            .filter(|l| l.rule == Rule::Fee { fee: f as u16 })
            .map(|l| l.amount)
            .sum();
        prop_assert!(got <= due, "fee {} paid {} of {}", fee.id, got, due);
        due_fees += due - got;
    }
    prop_assert_eq!(s.fees_owed, due_fees);
    let due_def: Money = c.enterprise_terms().deferred_fees[1..=fin]
        .iter()
        .copied()
        .sum();
    let got_def: Money = ledger
        .iter()
        .filter(|l| l.rule == Rule::DeferredFee)
        .map(|l| l.amount)
        .sum();
    prop_assert!(got_def <= due_def);
    prop_assert_eq!(s.deferred_fees_owed, due_def - got_def);
    prop_assert!(s.unpaid_costs.0 >= 0);

    // The remainder returned to payers is split in proportion to what each has paid so far.
    if c.remainder() == sibsim::contract::Remainder::ReturnToPayers {
        for p in 1..=fin as u16 {
            let back: Vec<&LedgerLine> = ledger
                .iter()
                .filter(|l| l.period == p && l.rule == Rule::Remainder)
                .collect();
            let total: Money = back.iter().map(|l| l.amount).sum();
            if total.0 == 0 {
                continue;
            }
            let payers: Vec<usize> = c.payers().collect();
            let w: Vec<i64> = payers
                .iter()
                .map(|&i| {
                    ledger
                        .iter()
                        .filter(|l| {
                            l.period <= p
                                && l.from == i
                                && !matches!(l.rule, Rule::GuaranteeCall { .. })
                        })
                        .map(|l| l.amount.0)
                        .sum()
                })
                .collect();
            let wsum: i64 = w.iter().sum();
            for (k, &i) in payers.iter().enumerate() {
                let part: Money = back.iter().filter(|l| l.to == i).map(|l| l.amount).sum();
                let (wk, ws) = if wsum == 0 {
                    (1, payers.len() as i64)
                } else {
                    (w[k], wsum)
                };
                if !within_one_cent(part.0, total.0, wk, ws) {
                    return Err(ctx(format!(
                        "period {p}: remainder {total} returned to payers not pro rata: {w:?}"
                    )));
                }
            }
        }
    }

    // (e) determinism: the same settler again, and a fresh one, give identical results.
    let mut again = Vec::<LedgerLine>::new();
    let s2 = settler
        .settle(a, &mut again)
        .map_err(|e| fail(e.to_string()))?
        .clone();
    prop_assert_eq!(&again, &ledger);
    prop_assert_eq!(format!("{s2:?}"), format!("{s:?}"));
    let mut fresh = Vec::<LedgerLine>::new();
    let s3 = Settler::new(c)
        .settle(a, &mut fresh)
        .map_err(|e| fail(e.to_string()))?
        .clone();
    prop_assert_eq!(&fresh, &ledger);
    prop_assert_eq!(format!("{s3:?}"), format!("{s:?}"));
    Ok(())
}

/// A random valid contract from `data`: the source (for the draws that follow), the
/// generator's output and the validated contract.
fn random_contract(data: Vec<u32>) -> Result<(Src, Gen, Contract), TestCaseError> {
    let mut src = Src::new(data);
    let g = gen_contract(&mut src);
    match sibsim::scenario::parse("random.toml", &g.toml) {
        Ok(s) => Ok((src, g, s.contract)),
        Err(d) => Err(fail(format!(
            "generator bug: the validator rejects\n{}\n{d}",
            g.toml
        ))),
    }
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200)
}

proptest! {
    // 200 cases by default; PROPTEST_CASES=5000 for a longer hunt.
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    /// Every money rule holds on random valid contracts settled against random actuals.
    #[test]
    fn settlement_keeps_the_money_rules(data in prop::collection::vec(any::<u32>(), 700)) {
        let (mut src, g, c) = random_contract(data)?;
        let (a, masked) = gen_actuals(&mut src, &c);
        check_settlement(&c, &a, &g.toml)?;
        // A sink that keeps the claims too gets the same ledger, and claims that add up.
        let mut rec = Recorded::default();
        let mut plain = Vec::<LedgerLine>::new();
        let mut settler = Settler::new(&c);
        let s = settler.settle(&a, &mut rec).map_err(|e| fail(format!("{e}")))?.clone();
        settler.settle(&a, &mut plain).map_err(|e| fail(format!("{e}")))?;
        prop_assert_eq!(&rec.ledger, &plain);
        check_claims(&c, &s, &rec.claims, &rec.paid, &rec.ledger).map_err(|m| fail(format!("{m}\n{}", g.toml)))?;
        check_grids(&c, &a, &rec.claims).map_err(|m| fail(format!("{m}\n{}", g.toml)))?;
        // Classes as masks over shared slots settle exactly like classes with their own events.
        let mut settler = Settler::new(&c);
        let (mut one, mut other) = (Vec::<LedgerLine>::new(), Vec::<LedgerLine>::new());
        let s1 = settler.settle(&a, &mut one).map(|s| format!("{s:?}"));
        let s2 = settler.settle(&masked, &mut other).map(|s| format!("{s:?}"));
        prop_assert_eq!(s1, s2);
        prop_assert_eq!(one, other);
        prop_assert_eq!(a.classes().len(), masked.classes().len());
        for (x, y) in a.classes().iter().zip(masked.classes()) {
            prop_assert!(a.class_events(x).eq(masked.class_events(y)));
        }
    }

    /// An interim settlement through period `p` is the full settlement's first `p` periods:
    /// the same ledger lines (the contract ending later calls no guarantee before its end),
    /// flagged interim, and what it earned is paid, cut, not due or pending, to the cent. A
    /// settlement through a period at or after the end is the full settlement.
    #[test]
    fn interim_settlement_is_the_prefix_of_the_full_one(data in prop::collection::vec(any::<u32>(), 700)) {
        let (mut src, g, c) = random_contract(data)?;
        let (a, _) = gen_actuals(&mut src, &c);
        let through = 1 + src.below(c.periods() as u64) as u16;
        let mut settler = Settler::new(&c);
        let mut full_ledger = Vec::<LedgerLine>::new();
        let full = settler.settle(&a, &mut full_ledger).map_err(|e| fail(format!("{e}\n{}", g.toml)))?.clone();
        let mut rec = Recorded::default();
        let part = settler.settle_through(&a, &mut rec, through).map_err(|e| fail(format!("{e}\n{}", g.toml)))?.clone();
        let ledger = rec.ledger;
        check_claims(&c, &part, &rec.claims, &rec.paid, &ledger).map_err(|m| fail(format!("through {through}: {m}\n{}", g.toml)))?;
        if part.interim {
            // What is pending is what the claims earned falling due later; what is held, the
            // units of the claims held.
            let later: Money = rec.claims.iter().filter(|k| k.verdict == ClaimVerdict::Earned && k.due > through).map(|k| k.earned).sum();
            prop_assert_eq!(later, part.pending, "through {}\n{}", through, g.toml);
            for (o, &held) in part.held_units.iter().enumerate() {
                let units = rec.claims.iter().filter(|k| k.verdict == ClaimVerdict::Held && k.outcome as usize == o).fold(Qty::ZERO, |t, k| t + k.payable);
                prop_assert_eq!(units, held, "through {}\n{}", through, g.toml);
            }
        }
        if through >= full.final_period {
            prop_assert_eq!(format!("{part:?}"), format!("{full:?}"));
            prop_assert_eq!(&ledger, &full_ledger);
            prop_assert!(!part.interim);
            prop_assert!(part.held_units.is_empty());
        } else {
            prop_assert!(part.interim, "through {through}, full ended at {}\n{}", full.final_period, g.toml);
            prop_assert_eq!(part.final_period, through);
            prop_assert!(part.termination.is_none());
            let prefix: Vec<LedgerLine> = full_ledger.iter().filter(|l| l.period <= through).cloned().collect();
            prop_assert_eq!(&ledger, &prefix, "through {}\n{}", through, g.toml);
            prop_assert!(part.tranches.iter().all(|t| t.guaranteed.0 == 0));
            let earned: Money = part.outcomes.iter().map(|r| r.earned).sum();
            prop_assert!(part.pending.0 >= 0);
            prop_assert_eq!(
                earned,
                part.outcome_payments + part.cut_by_total_cap + part.not_due + part.pending,
                "through {}\n{}", through, g.toml
            );
            for (i, tr) in part.tranches.iter().enumerate() {
                prop_assert!(tr.drawn <= full.tranches[i].drawn && tr.distributed <= full.tranches[i].distributed);
            }
            // What falls due later, per payer and period, adds up to the pending totals, falls
            // due within the contract after the stop, and is owed by a payer of the contract.
            let later: Money = part.pending_payments.iter().map(|x| x.amount).sum();
            prop_assert_eq!(later, part.pending + part.inflow_pending, "through {}\n{}", through, g.toml);
            for &sibsim::settlement::PendingPayment { period: q, payer, amount: m, .. } in &part.pending_payments {
                prop_assert!(q > through && q <= c.periods() && m.0 >= 0);
                prop_assert!(c.payers().any(|x| x == payer));
            }
            // Units held for an overall threshold are those of outcomes that have one.
            prop_assert_eq!(part.held_units.len(), c.outcomes().len());
            for (o, &held) in part.held_units.iter().enumerate() {
                prop_assert!(held.0 >= 0);
                if c.outcomes()[o].threshold.overall.is_none() {
                    prop_assert_eq!(held, Qty::ZERO);
                }
            }
        }
    }

    /// Largest remainder: parts add up, each is within one cent of its exact quota, the
    /// left-over cents go to the largest remainders with ties to the party listed first, and a
    /// negative total splits as the mirror image of the positive one.
    #[test]
    fn largest_remainder_split_is_exact(
        total in -1_000_000_000i64..1_000_000_000,
        weights in prop::collection::vec(prop_oneof![3 => 0i64..1_000_000, 1 => 0i64..3, 1 => Just(0i64)], 1..9),
    ) {
        let n = weights.len();
        let mut out = vec![Money::ZERO; n];
        split_largest_remainder(Money(total), &weights, &mut out);
        prop_assert_eq!(out.iter().map(|m| m.0).sum::<i64>(), total);
        let wsum: i64 = weights.iter().sum();
        let (w, ws): (Vec<i64>, i64) = if wsum == 0 { (vec![1; n], n as i64) } else { (weights.clone(), wsum) };
        let t = total.abs();
        let sign = if total < 0 { -1 } else { 1 };
        for i in 0..n {
            prop_assert!(within_one_cent(out[i].0, total, w[i], ws), "part {} = {} of {} by {:?}", i, out[i], total, weights);
            // Floor or floor + 1 of the exact quota, in absolute terms.
            let floor = (t as i128 * w[i] as i128 / ws as i128) as i64;
            let got = out[i].0 * sign;
            prop_assert!(got == floor || got == floor + 1);
        }
        // The extra cents go to the largest remainders, ties to the first.
        let rem = |i: usize| (t as i128 * w[i] as i128) % ws as i128;
        let extra = |i: usize| out[i].0 * sign > (t as i128 * w[i] as i128 / ws as i128) as i64;
        for i in 0..n {
            for j in 0..n {
                if extra(i) && !extra(j) {
                    prop_assert!(rem(i) > rem(j) || (rem(i) == rem(j) && i < j),
                        "cent went to {} (remainder {}) before {} (remainder {})", i, rem(i), j, rem(j));
                }
            }
        }
        // Mirror image.
        let mut neg = vec![Money::ZERO; n];
        split_largest_remainder(Money(-total), &weights, &mut neg);
        prop_assert!(out.iter().zip(&neg).all(|(a, b)| a.0 == -b.0));
    }

    /// `split_largest_remainder` and `SplitWeights::split` give, for up to 200 parts with many
    /// equal weights and remainders, exactly what the rule gives done the plain way: floors of
    /// the quotas, then one cent at a time to the largest remainder not yet served, ties to the
    /// party listed first.
    #[test]
    fn largest_remainder_split_matches_reference(
        total in prop_oneof![
            2 => -1_000_000_000_000i64..1_000_000_000_000,
            2 => -500i64..500,
            1 => 0i64..5_000,
        ],
        weights in prop::collection::vec(
            prop_oneof![
                2 => 0i64..1_000_000,
                2 => 0i64..4,
                1 => Just(0i64),
                1 => Just(250_000_000_000i64),
                1 => prop::sample::select(vec![1i64, 2, 3, 7, 400_000_000_000, 350_000_000_000]),
            ],
            1..200,
        ),
    ) {
        let n = weights.len();
        let want = reference_split(total, &weights);
        let mut out = vec![Money::ZERO; n];
        split_largest_remainder(Money(total), &weights, &mut out);
        prop_assert_eq!(out.iter().map(|m| m.0).collect::<Vec<_>>(), want.clone(), "weights {:?}", weights);
        let prepared = SplitWeights::new(&weights);
        let mut out2 = vec![Money::ZERO; n];
        prepared.split(Money(total), &mut out2);
        prop_assert_eq!(out2.iter().map(|m| m.0).collect::<Vec<_>>(), want, "weights {:?}", weights);
    }
}

/// The largest remainder rule done the plain way (the engine's code before selection replaced
/// its scan per cent): floors of the exact quotas, then one cent at a time to the largest
/// remainder not yet served, the first such part on ties. Negative weights count as 0; all-zero
/// weights split equally; a negative total splits as the mirror image.
fn reference_split(total: i64, weights: &[i64]) -> Vec<i64> {
    let n = weights.len();
    if n == 1 {
        return vec![total];
    }
    let t = total.unsigned_abs() as i128;
    let mut w: Vec<i128> = weights.iter().map(|&x| x.max(0) as i128).collect();
    if w.iter().all(|&x| x == 0) {
        w = vec![1; n];
    }
    let ws: i128 = w.iter().sum();
    let mut out: Vec<i128> = w.iter().map(|&x| t * x / ws).collect();
    let mut rems: Vec<i128> = w.iter().map(|&x| t * x % ws).collect();
    let mut left = t - out.iter().sum::<i128>();
    while left > 0 {
        let mut best = 0;
        for i in 1..n {
            if rems[i] > rems[best] {
                best = i;
            }
        }
        out[best] += 1;
        rems[best] = -1;
        left -= 1;
    }
    let sign = if total < 0 { -1 } else { 1 };
    out.iter().map(|&x| x as i64 * sign).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    /// An anchored histogram (anchors chosen from its first 255 values, as the engine's pilot
    /// does) reads every percentile within half a bucket of the exact nearest-rank order
    /// statistic, a bucket being at most 2^-k of the distance to the nearest anchor, and exactly
    /// within 2^k of an anchor; two halves merged read as the whole, and the merged histogram
    /// reads the same whichever half it starts from.
    #[test]
    fn anchored_histograms_read_within_their_bound(
        k in prop::sample::select(vec![7u32, 10, 13]),
        masses in prop::collection::vec((-1_000_000_000_000i64..1_000_000_000_000, 1usize..300, 0i64..300), 0..5),
        spread in prop::collection::vec(-1_000_000_000_000i64..1_000_000_000_000, 0..400),
        order in any::<u64>(),
        planned_for in prop::sample::select(vec![1u64, 100, 10_000]),
        lattice in prop::option::of((2i64..100_000, -1_000_000_000i64..1_000_000_000, 1usize..2_000, 1i64..60)),
        strays in prop::collection::vec((0i64..60, 1i64..100_000), 0..6),
    ) {
        use sibsim::stats::{Histogram, choose_anchors};
        const QS: [f64; 9] = [0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99];
        // Point masses (each with a jitter of up to +/- `j`), then a smooth spread.
        let mut values = Vec::new();
        for &(c, m, j) in &masses {
            for i in 0..m as i64 {
                values.push(c + if j == 0 { 0 } else { (i * 7919) % (2 * j + 1) - j });
            }
        }
        values.extend(&spread);
        // Amounts on a lattice (`base + step j`, `j` below `points`, as units times a price).
        if let Some((step, base, m, points)) = lattice {
            for i in 0..m as i64 {
                values.push(base + step * ((i * 7919 + i * i) % points));
            }
        }
        prop_assume!(!values.is_empty());
        // Shuffled (Fisher-Yates on a fixed generator), so the pilot is a sample of them all.
        let mut x = order | 1;
        for i in (1..values.len()).rev() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            values.swap(i, (x % (i as u64 + 1)) as usize);
        }
        // A few values off the lattice, after the pilot (so that it never saw them), each
        // beside a quantile that will be read (where a stretch is).
        if let Some((step, ..)) = lattice {
            let mut sorted = values.clone();
            sorted.sort_unstable();
            for &(j, off) in &strays {
                let q = QS[j as usize % QS.len()];
                values.push(sorted[(q * sorted.len() as f64) as usize] + off % step);
            }
        }
        let pilot = values.len().min(255);
        let anchors = choose_anchors(&mut values[..pilot].to_vec(), k);
        prop_assert!(!anchors.is_empty() && anchors.len() <= sibsim::stats::MAX_ANCHORS + 1);
        // As the engine does: the pilot recorded, then anchors and focus planned from it (for
        // `planned_for` times the samples it will actually count, so stretches of every
        // width are tried), the rest added to it or to copies, and the copies merged.
        let mut whole = Histogram::recording(k).read_at(&QS);
        whole.add_all_now(&values[..pilot]);
        whole.anchor_on_record_for(values.len() as u64 * planned_for);
        prop_assert_eq!(whole.anchors(), anchors.clone());
        let (mut a, mut b) = (whole.clone(), whole.empty_like());
        for (i, &v) in values[pilot..].iter().enumerate() {
            whole.add(v);
            if i % 3 == 0 { a.add(v) } else { b.add(v) }
        }
        let got = whole.quantiles_within(&QS);
        let mut ab = a.clone();
        ab.merge(&b);
        b.merge(&a);
        prop_assert_eq!(&ab.quantiles_within(&QS), &got);
        prop_assert_eq!(&b.quantiles_within(&QS), &got);
        prop_assert_eq!(ab.lower_tail_mean(0.05), whole.lower_tail_mean(0.05));
        let mut sorted = values.clone();
        sorted.sort_unstable();
        let n = sorted.len();
        for (q, (got, stated)) in QS.iter().zip(got) {
            let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
            let x = sorted[rank - 1];
            // The log-linear bound: exact within 2^k of an anchor, else 2^-(k+1) of the distance.
            let d = anchors.iter().map(|&a| (x as f64 - a as f64).abs()).fold(f64::INFINITY, f64::min);
            let bound = if d < (1u64 << k) as f64 {
                0.0
            } else {
                d * 2f64.powi(-(k as i32 + 1)) * (1.0 + 1e-12) + 1e-3 * d.max(1.0) * f64::EPSILON
            };
            let slack = 1e-3 * (x as f64).abs().max(1.0) * f64::EPSILON;
            prop_assert!(stated <= bound + slack, "q {}: stated {} beyond the log-linear bound {}", q, stated, bound);
            prop_assert!((got - x as f64).abs() <= stated + slack,
                "q {}: read {} against {} (stated bound {}, nearest anchor {} away), anchors {:?}", q, got, x, stated, d, anchors);
        }
    }
}

/// A fixed example of the generator's output, so that a change to the TOML format shows up
/// as one clear failure rather than as 200 random ones.
#[test]
fn generator_produces_valid_contracts() {
    for seed in 0..50u32 {
        let data: Vec<u32> = (0..700u32)
            .map(|i| {
                i.wrapping_mul(2654435761)
                    .wrapping_add(seed.wrapping_mul(40503))
            })
            .collect();
        let mut src = Src::new(data);
        let g = gen_contract(&mut src);
        if let Err(d) = sibsim::scenario::parse("gen.toml", &g.toml) {
            panic!("generator bug (seed {seed}):\n{}\n{d}", g.toml);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    /// A number written as text is read exactly (plain, with `_`, in scientific form), and one
    /// with a significant digit past what a 28-digit decimal holds is refused, never rounded.
    #[test]
    fn numbers_are_read_exactly_or_refused(m in any::<i64>(), scale in 0u32..=18, exp in -5i32..=5) {
        use rust_decimal::Decimal;
        use sibsim::money::{NumberProblem, parse_number};
        let d = Decimal::new(m, scale);
        let text = d.to_string();
        prop_assert_eq!(parse_number(&text), Ok(d));
        let sci = format!("{}e{exp}", text);
        let want = if exp >= 0 {
            d * Decimal::from(10i64.pow(exp as u32))
        } else {
            d / Decimal::from(10i64.pow((-exp) as u32))
        };
        prop_assert_eq!(parse_number(&sci).map(|x| x.normalize()), Ok(want.normalize()));
        // 30 decimals: a trailing 1 that would be rounded away.
        let long = format!("{}.{}1", m, "0".repeat(29));
        prop_assert_eq!(parse_number(&long), Err(NumberProblem::TooManyDigits));
    }
}

/// `nan` and `inf` written as text are not finite numbers, and say so; a number too large to
/// read is too large; a word is not a number.
#[test]
fn words_for_no_number_are_named() {
    use sibsim::money::{NumberProblem, parse_number};
    for t in ["nan", "NaN", "inf", "-inf", "+infinity", "Infinity"] {
        assert_eq!(parse_number(t), Err(NumberProblem::NotFinite), "{t}");
    }
    assert_eq!(parse_number("1e400"), Err(NumberProblem::TooLarge));
    assert_eq!(parse_number("-1e400"), Err(NumberProblem::TooLarge));
    assert_eq!(parse_number("many"), Err(NumberProblem::NotANumber));
    assert!(
        NumberProblem::NotFinite
            .describe("nan")
            .contains("not a finite number")
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    /// The IRR of investor-like flows (money out over the first periods, back over later
    /// ones, any length up to 1,200 periods) is their one root, found here independently by
    /// bisection on a form of the NPV that cannot overflow; money that never comes back reads
    /// -100%. (Up to 2026-12-07 flows longer than about 77 periods could read -100% where the
    /// discount factors at the bracket's low end overflowed.)
    #[test]
    fn irr_is_the_root_of_long_flows(
        len in 2usize..=1200,
        out_n in 1usize..=8,
        outs in prop::collection::vec(1i64..=100_000_000, 8),
        backs in prop::collection::vec(0i64..=200_000_000, 1..=40),
        gap in 0usize..=1200,
        per_year in prop::sample::select(vec![1u32, 2, 4, 12]),
    ) {
        let mut flows = vec![0i64; len + 1];
        let out_n = out_n.min(len);
        for (t, x) in outs.iter().take(out_n).enumerate() {
            flows[1 + t] = -x;
        }
        // The money back, spread from after the last outflow (and a gap) to the end.
        let first_back = (out_n + 1 + gap).min(len);
        let span = len - first_back + 1;
        for (k, x) in backs.iter().enumerate() {
            flows[first_back + (k * span) / backs.len()] += x;
        }
        let back: i64 = flows.iter().filter(|x| **x > 0).sum();
        let a = sibsim::stats::irr(&flows, per_year);
        if back == 0 {
            prop_assert_eq!(a, Some(-1.0));
            return Ok(());
        }
        // The sign of the NPV at 1 + r = q: times q^T (Horner in q) for q <= 1, where the
        // discount factors would overflow; as it is above, where q^T would.
        let sign = |q: f64| -> f64 {
            let v = if q <= 1.0 {
                flows.iter().skip(1).fold(0.0, |acc, &x| acc * q + x as f64)
            } else {
                sibsim::stats::npv(&flows, q - 1.0)
            };
            v.signum()
        };
        // One sign change (out, then back): one root. Money out first makes the NPV's
        // sign at q near 0 that of the last flow (back: +) and at q large that of the first.
        let (mut lo, mut hi) = (1.0 - 0.9999, 11.0);
        if sign(lo) == sign(hi) {
            prop_assert_eq!(a, None, "no root within the bracket");
            return Ok(());
        }
        let s_lo = sign(lo);
        for _ in 0..200 {
            let m = 0.5 * (lo + hi);
            if sign(m) == s_lo { lo = m } else { hi = m }
        }
        let want = 0.5 * (lo + hi) - 1.0;
        let Some(a) = a else {
            return Err(TestCaseError::fail(format!("no IRR, but the root is {want}")));
        };
        let r = (1.0 + a).powf(1.0 / f64::from(per_year)) - 1.0;
        prop_assert!(
            (r - want).abs() <= 1e-7 * (1.0 + want.abs()),
            "period rate {r} (IRR {a}), the root is {want}"
        );
    }

}

/// Any TOML value (text with any characters, keys that need quotes, floats of every size,
/// nested arrays and tables).
fn toml_value() -> impl Strategy<Value = toml::Value> {
    // Any characters, control characters (DEL included) among them: `any::<String>()` draws
    // none of those.
    let text = || proptest::collection::vec(any::<char>(), 0..8).prop_map(String::from_iter);
    let leaf = prop_oneof![
        text().prop_map(toml::Value::String),
        any::<i64>().prop_map(toml::Value::Integer),
        any::<f64>()
            .prop_filter("NaN is never equal", |f| !f.is_nan())
            .prop_map(toml::Value::Float),
        any::<bool>().prop_map(toml::Value::Boolean),
    ];
    leaf.prop_recursive(3, 24, 4, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(toml::Value::Array),
            proptest::collection::btree_map(text(), inner, 0..4)
                .prop_map(|m| toml::Value::Table(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    /// The inline TOML an override's value is written as (the default `delay` stress writes
    /// the scenario's shocks so) reads back as the same value.
    #[test]
    fn an_override_value_written_as_toml_reads_back_the_same(v in toml_value()) {
        let text = format!("x = {}", sibsim::scenario::overrides::value_text(&v));
        let doc: toml::Table = text.parse().map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!(doc.get("x"), Some(&v), "{}", text);
    }
}
