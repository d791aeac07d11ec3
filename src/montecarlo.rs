//! The Monte Carlo engine (docs/domain.md sections 4 and 5): per trial, draw ([`Model::draw`]) ->
//! settle (the same [`Settler`] as real actuals) -> per-party summary; trials run in parallel
//! with rayon and are aggregated as they stream by.
//!
//! # Reproducibility
//!
//! Trial `i` draws from its own `Pcg64Mcg` whose 128-bit state is derived from `(seed, i)` by
//! SplitMix64 ([`trial_rng`]), so a trial's numbers do not depend on which thread runs it.
//! Every accumulator is an exact integer (money in cents summed in `i128`; IRR and multiples
//! quantised to 1e-9 first; percentiles from integer-count histograms), so merging partial
//! results in any order gives **bit-identical results for any number of threads**.
//!
//! # Memory
//!
//! Nothing is kept per trial beyond small batches. Each accumulator holds, per reported party,
//! a few moment accumulators, a sum per period (the cash bands' means) and `T + 3` histograms
//! (`k = 13` bits for the main figures, relative error of a percentile at most 2^-14 ≈ 0.006%;
//! `k = 10` for the per-period bands, 2^-11 ≈ 0.05%) with 16-bit counts in one window per sign
//! over the binary orders of magnitude actually seen: at most `2 x 52 x 8192 x 2` bytes
//! (1.7 MiB) per `k = 13` histogram and `2 x 55 x 1024 x 2` bytes (220 KiB) per `k = 10`
//! histogram. On the reference scenario at 1,000,000 trials an accumulator's 20 main
//! histograms (figures and business case) count in about 7.5 MB, its 168 band histograms in
//! 5.3 MB and their focus stretches in 0.3 MB (measured before the 65 bands that repeat the
//! period before became aliases, which keep their histograms empty); the whole run peaks at
//! about 45 MB on 2 threads (49 MB at 10,000,000 trials). Each histogram buffers up to 256
//! samples (2 KiB) before counting them, and the cash bands are counted in batches of 64 trials
//! (`64 x parties x T` values, 86 KiB on the reference scenario): counting straight into a few
//! hundred histograms per trial missed the cache on almost every value. Trials run in
//! consecutive windows of [`WINDOW`] trials, each window in parallel; a worker (settler,
//! buffers and one accumulator) is leased from a pool by each parallel split (the pilot's
//! included) and returned after it, so about one worker per thread exists for the whole run
//! (2 on 2 threads, counted) and memory is bounded independently of the number of trials.
//! The windows also bound how far out of order trials are reported to a per-trial callback
//! (at most one window), which lets a caller write rows in trial order.
//!
//! # Percentile and tail error
//!
//! Percentiles are the midpoints of histogram buckets or exact, and each is reported with its
//! bound (`errors`, and their largest `error`: half the width of the bucket read, 0 when
//! exact). Around each percentile a histogram is read at, a *focus* stretch planned from the
//! pilot is counted in equal buckets whose half-width is at most 0.1 of that percentile's
//! Monte Carlo error for the run's number of trials ([`crate::stats::FOCUS_SHARE`]), or, where
//! the pilot's values there lie on a lattice (amounts that are units times a price, in fixed
//! shares), one lattice point to a bucket, read exactly; a percentile outside its stretch is
//! read from the log-linear buckets around the anchors. Measured over 6 seeds of 1,000,000
//! trials of the reference scenario (`benches/percentile_error.py`): 65 of the 180 main
//! percentiles and 578 of the 840 cash-band percentiles are exact, and the bound of the rest
//! is at most 0.23 (median 0.043) of a main percentile's Monte Carlo standard deviation and
//! at most 0.49 (median 0.080) of a cash band's.
//! Expected shortfall reads each of the worst 5% of trials as the midpoint of its log-linear
//! bucket (within the bucket's half-width, a relative 2^-14 of its distance from the anchor);
//! the tail loss shares sum each bucket's losses exactly and prorate only the one bucket that
//! straddles the 5% boundary. A run of at most [`EXACT_SAMPLES`] trials keeps every value as
//! it is, and its percentiles, expected shortfall and tail loss shares are exact (trials tied
//! at the 5% boundary share it equally). The stretches
//! add at most `2^15` 16-bit counts each (in practice a few hundred to a few thousand; about
//! 8 MB more peak memory at 1,000,000 trials).

use crate::actuals::Actuals;
use crate::contract::{Contract, Role};
use crate::model::{DrawScratch, Model};
use crate::money::compound_period_rate;
use crate::settlement::{LedgerLine, LedgerSink, Rule, Settlement, Settler, Termination};
use crate::stats::{
    Histogram, Moments, RATIO_SCALE, discount_factors, irr, npv_rows, npv_with, quantise,
    round_to_i64,
};
use rand_pcg::Pcg64Mcg;
use rayon::prelude::*;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// Mantissa bits of the main histograms (relative percentile error at most 2^-14).
pub const HIST_BITS: u32 = 13;
/// Mantissa bits of the per-period band histograms (relative error at most 2^-11).
pub const BAND_BITS: u32 = 10;
/// Trials up to which every histogram also keeps its values as they are, so that a run of
/// at most this many trials reads its percentiles, expected shortfall and tail loss shares
/// exactly (error 0; the tail from every trial's losses, [`RiskDistribution`]):
/// a quick look at a few hundred trials, or one trial, shows trial values, not bucket
/// midpoints. 8 KiB a histogram at most; in a run of more trials no histogram keeps any.
pub const EXACT_SAMPLES: u32 = 1024;
/// An empty histogram for a [`Summary`]: `HIST_BITS`, read at [`SUMMARY_LEVELS`], keeping
/// up to [`EXACT_SAMPLES`] values.
pub(crate) fn summary_histogram() -> Histogram {
    Histogram::new(HIST_BITS)
        .read_at(&SUMMARY_LEVELS)
        .exact_up_to(EXACT_SAMPLES)
}
/// The percentiles of a [`Summary`] (P1, P5, P10, P25, P50, P75, P90, P95, P99).
pub const SUMMARY_LEVELS: [f64; 9] = [0.01, 0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95, 0.99];
/// The percentiles of a cash [`Band`] (P5, P25, P50, P75, P95).
pub const BAND_LEVELS: [f64; 5] = [0.05, 0.25, 0.50, 0.75, 0.95];
/// Mantissa bits of the tail-loss split histogram.
pub const TAIL_BITS: u32 = 8;

/// How to run a simulation.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SimConfig {
    /// Number of trials.
    pub trials: u64,
    /// Seed of the trial generators.
    pub seed: u64,
    /// Worker threads (1 to [`MAX_THREADS`]; more are taken as that many); `None`: the current
    /// rayon pool. Results are the same for every number. [`run_trials`] runs `Some(1)` on the
    /// calling thread, without a pool.
    pub threads: Option<usize>,
}

/// The most worker threads a run uses ([`SimConfig::threads`]): each is an operating-system
/// thread with its own settler and accumulator.
pub const MAX_THREADS: usize = 1024;

#[inline]
fn splitmix64(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The generator of trial `trial` under `seed`: `Pcg64Mcg` with a 128-bit state from SplitMix64
/// of (seed, trial).
pub fn trial_rng(seed: u64, trial: u64) -> Pcg64Mcg {
    let mut s = seed;
    let mut s = splitmix64(&mut s) ^ trial;
    let hi = splitmix64(&mut s);
    let lo = splitmix64(&mut s);
    Pcg64Mcg::new(((hi as u128) << 64) | lo as u128)
}

/// Per-trial ledger summary: per-party and per-tranche cash flows by period (fixed arrays,
/// no allocation per trial).
#[derive(Debug)]
pub struct TrialSink {
    n_periods: usize,
    /// `[party][period]` net cash flow (received - paid).
    pub net: Vec<i64>,
    /// `[tranche][period]` investor's cash flow of the tranche (- drawdowns + distributions +
    /// guarantee calls).
    pub tranche: Vec<i64>,
    /// `[party]` guarantee calls paid.
    pub guarantee_paid: Vec<i64>,
    /// `[party]` outcome payments paid.
    pub outcome_paid: Vec<i64>,
    /// `[party]` inflow-guarantee compensation paid (kept only if the contract has inflow
    /// guarantees).
    pub inflow_paid: Vec<i64>,
    inflow: bool,
    /// `[party]` fees received.
    pub fees_received: Vec<i64>,
}

impl TrialSink {
    /// Sized for `contract`.
    pub fn new(contract: &Contract) -> Self {
        let n_periods = contract.periods as usize + 1;
        let n = contract.parties.len();
        TrialSink {
            n_periods,
            net: vec![0; n * n_periods],
            tranche: vec![0; contract.tranches.len() * n_periods],
            guarantee_paid: vec![0; n],
            outcome_paid: vec![0; n],
            inflow_paid: vec![0; n],
            inflow: !contract.inflow_guarantees.is_empty(),
            fees_received: vec![0; n],
        }
    }
    fn clear(&mut self) {
        self.net.fill(0);
        self.tranche.fill(0);
        self.guarantee_paid.fill(0);
        self.outcome_paid.fill(0);
        if self.inflow {
            self.inflow_paid.fill(0);
        }
        self.fees_received.fill(0);
    }
    /// Net flows of `party` by period (index 0 unused).
    pub fn party_flows(&self, party: usize) -> &[i64] {
        &self.net[party * self.n_periods..(party + 1) * self.n_periods]
    }
    /// Flows of tranche `i` by period (index 0 unused).
    pub fn tranche_flows(&self, i: usize) -> &[i64] {
        &self.tranche[i * self.n_periods..(i + 1) * self.n_periods]
    }
}

impl LedgerSink for TrialSink {
    #[inline(always)]
    fn line(&mut self, l: &LedgerLine) {
        let np = self.n_periods;
        let p = l.period as usize;
        let a = l.amount.0;
        self.net[l.from * np + p] -= a;
        self.net[l.to * np + p] += a;
        match l.rule {
            Rule::Drawdown { tranche } => self.tranche[tranche as usize * np + p] -= a,
            Rule::Distribution { tranche } => self.tranche[tranche as usize * np + p] += a,
            Rule::GuaranteeCall { tranche } => {
                self.tranche[tranche as usize * np + p] += a;
                self.guarantee_paid[l.from] += a;
            }
            Rule::OutcomePayment { .. } => self.outcome_paid[l.from] += a,
            Rule::Fee { .. } => self.fees_received[l.to] += a,
            Rule::InflowGuarantee { .. } => self.inflow_paid[l.from] += a,
            _ => {}
        }
    }
}

/// One trial's figures, handed to the optional per-trial callback (for `--trials-out`). Slices
/// are indexed like [`Results::parties`] and [`Results::tranches`].
#[derive(Debug)]
pub struct TrialRecord<'a> {
    /// Trial index.
    pub trial: u64,
    /// Net cash (received - paid) per reported party, cents.
    pub net: &'a [i64],
    /// Loss per reported party, cents (see [`RiskDistribution`]).
    pub loss: &'a [i64],
    /// Annualised IRR per tranche.
    pub irr: &'a [Option<f64>],
    /// Whether each tranche was fully repaid.
    pub repaid: &'a [bool],
    /// The shocks that happened: bit `i` is `Model::shocks[i]`.
    pub shocks: u64,
    /// The settlement of the trial.
    pub settlement: &'a Settlement,
    /// The business case per contract party, cents: (PV savings, PV savings - PV payments -
    /// costs); empty when the scenario has no `[mkba]` block.
    pub business: &'a [(i64, i64)],
    /// Inflow-guarantee compensation paid per contract party, cents (all 0 without inflow
    /// guarantees).
    pub inflow_paid: &'a [i64],
    /// Net present value of each contract party's net cash flow at the contract's discount
    /// rate, cents (unrounded; [`PartyResult::npv`] averages it rounded to the cent).
    pub npv: &'a [f64],
}

#[derive(Clone, Debug)]
struct PartyAcc {
    paid: Moments,
    received: Moments,
    net: Moments,
    net_hist: Histogram,
    /// Distribution of the total received (investors only, for the payout chart).
    received_hist: Option<Histogram>,
    npv: Moments,
    loss: Moments,
    loss_n: u64,
    neg_n: u64,
    guarantee: Moments,
    outcome_paid: Moments,
    /// Inflow compensation paid, and in how many trials any (only with inflow guarantees).
    inflow: Moments,
    inflow_n: u64,
}

/// The per-period cumulative cash of every reported party over the trials (the cash bands),
/// counted in batches: each trial adds one value per band (`parties x periods` bands), and a
/// full batch is counted band by band. Counting one band's batch at a time keeps that band's
/// histogram in the cache; counting every trial straight into a few hundred histograms missed
/// the cache on almost every value.
///
/// The batch is stored band-major (a band's pending values are contiguous), so counting a band
/// reads one short slice.
///
/// A band that equals the party's band of the period before in every trial of the pilot (no
/// money moves for that party in that period: 65 of the reference scenario's 168 bands) is an
/// *alias*: it keeps no counts of its own while its values stay equal to those of its root (the
/// first band of the run of equal periods), and is read from the root's histogram. In the
/// first batch where they differ, it takes a copy of the root's histogram as it was before that
/// batch and counts on its own from then on. Either way its histogram holds exactly the counts
/// of its own values, so results do not change; a batch that stays equal costs a comparison
/// instead of counting.
#[derive(Clone, Debug)]
struct Bands {
    /// Periods per party (bands are `party * periods + period - 1`).
    periods: usize,
    /// Trials counted.
    n: u64,
    /// Per band, the sum of the values counted (a band reports its mean, not its spread).
    sums: Vec<i128>,
    /// Per band, its histogram (anchored by the run's pilot, see [`PILOT`]); an alias's is not
    /// kept up to date (its root's is read instead).
    hists: Vec<Histogram>,
    /// Per band, the root it is an alias of (an earlier band of the same party), or `None`
    /// where its own histogram counts.
    alias: Vec<Option<u32>>,
    /// Pending values, [`BAND_BATCH`] slots per band (`band * BAND_BATCH + trial`); allocated
    /// with the first trial.
    pending: Vec<i64>,
    /// Trials pending (below [`BAND_BATCH`] between calls).
    pending_n: usize,
}

/// Writes the cumulative net cash at the end of each period, from net flows by period
/// (`flows[1..]`; index 0 unused), to `out`, as many as it has slots: what the cash bands hold.
/// A plain loop, as it runs once per trial and party (an iterator `scan` cost 0.7k more
/// instructions a trial).
#[inline(always)]
fn cumulative<'a>(flows: &[i64], out: impl Iterator<Item = &'a mut i64>) {
    let mut cum = 0i64;
    for (o, &x) in out.zip(&flows[1..]) {
        cum += x;
        *o = cum;
    }
}

/// Trials of [`Bands`] counted at a time.
const BAND_BATCH: usize = 64;

impl Bands {
    /// Bands of `parties x periods`.
    fn new(parties: usize, periods: usize) -> Self {
        let width = parties * periods;
        Bands {
            periods,
            n: 0,
            sums: vec![0; width],
            hists: (0..width)
                .map(|_| {
                    Histogram::new(BAND_BITS)
                        .read_at(&BAND_LEVELS)
                        .exact_up_to(EXACT_SAMPLES)
                })
                .collect(),
            alias: vec![None; width],
            pending: Vec::new(),
            pending_n: 0,
        }
    }

    /// Makes every band whose recorded values (the pilot's, in trial order) equal those of the
    /// same party's band of the period before an alias of that band's root.
    ///
    /// An alias's own histogram is never read (an alias that comes to differ copies its
    /// root's), so it is dropped here, record and all, and never anchored: a contract whose
    /// parties' cash stops moving long before its last period (1,200 monthly periods for a
    /// programme of 24) kept a full set of windows for each of thousands of repeated bands.
    fn alias_repeats(&mut self) {
        for b in 1..self.hists.len() {
            if b % self.periods != 0 && self.hists[b].same_record(&self.hists[b - 1]) {
                self.alias[b] = Some(self.alias[b - 1].unwrap_or(b as u32 - 1));
            }
        }
        for (h, a) in self.hists.iter_mut().zip(&self.alias) {
            if a.is_some() {
                *h = Histogram::new(BAND_BITS)
                    .read_at(&BAND_LEVELS)
                    .exact_up_to(h.exact_limit());
            }
        }
    }

    /// Adds one trial: per reported party (in order), its cumulative net cash at the end of
    /// each period, from its net flows by period (`flows[1..]`; index 0 unused).
    #[inline]
    fn add<'a>(&mut self, flows: impl Iterator<Item = &'a [i64]>) {
        if self.pending.is_empty() {
            self.pending = vec![0; self.sums.len() * BAND_BATCH];
        }
        let at = self.pending_n;
        for (party, f) in self
            .pending
            .chunks_exact_mut(self.periods * BAND_BATCH)
            .zip(flows)
        {
            cumulative(
                f,
                party.chunks_exact_mut(BAND_BATCH).map(|band| &mut band[at]),
            );
        }
        self.pending_n += 1;
        if self.pending_n == BAND_BATCH {
            self.flush();
        }
    }

    /// Counts the pending trials.
    fn flush(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        self.count(&pending, self.pending_n);
        self.pending = pending;
        self.n += self.pending_n as u64;
        self.pending_n = 0;
    }

    /// Counts the first `n` values of every band of the band-major batch `pending`. The bands go
    /// from last to first, so that a root has not yet counted the batch when an alias of it
    /// (a later band) finds its own values different and copies the root's histogram.
    fn count(&mut self, pending: &[i64], n: usize) {
        if n == 0 {
            return;
        }
        for b in (0..self.hists.len()).rev() {
            let values = &pending[b * BAND_BATCH..][..n];
            self.sums[b] += values.iter().map(|&v| i128::from(v)).sum::<i128>();
            if let Some(r) = self.alias[b] {
                let r = r as usize;
                if values == &pending[r * BAND_BATCH..][..n] {
                    continue;
                }
                self.hists[b] = self.hists[r].clone();
                self.alias[b] = None;
            }
            self.hists[b].add_all_now(values);
        }
    }

    /// The histogram of band `b` (its root's, for an alias).
    fn hist(&self, b: usize) -> &Histogram {
        &self.hists[self.alias[b].map_or(b, |r| r as usize)]
    }

    /// The `qs`-quantiles of band `b` (as [`Histogram::quantiles`], in cents).
    fn quantiles(&self, b: usize, qs: &[f64]) -> Vec<(f64, f64)> {
        self.hist(b).quantiles_within(qs)
    }

    /// Mean of band `b` (`0` with no trials counted), as [`Moments::mean`] would give it.
    fn mean(&self, b: usize) -> f64 {
        if self.n == 0 {
            0.0
        } else {
            self.sums[b] as f64 / self.n as f64
        }
    }

    fn merge(&mut self, o: &Bands) {
        // The other's pending trials are counted here.
        self.count(&o.pending, o.pending_n);
        self.n += o.n + o.pending_n as u64;
        for (a, b) in self.sums.iter_mut().zip(&o.sums) {
            *a += b;
        }
        // An alias here that counts on its own there copies its root first, before the roots
        // take in the other's counts. (Both accumulators come from one pilot, so an alias of
        // both has the same root in both.)
        for b in 0..self.hists.len() {
            if let (Some(r), None) = (self.alias[b], o.alias[b]) {
                self.hists[b] = self.hists[r as usize].clone();
                self.alias[b] = None;
            }
        }
        for b in 0..self.hists.len() {
            match (self.alias[b], o.alias[b]) {
                (Some(_), _) => {}
                (None, None) => self.hists[b].merge(&o.hists[b]),
                (None, Some(r)) => self.hists[b].merge(&o.hists[r as usize]),
            }
        }
    }
}

#[derive(Clone, Debug)]
struct TrancheAcc {
    drawn: Moments,
    received: Moments,
    irr: Moments,
    irr_hist: Histogram,
    multiple: Moments,
    multiple_hist: Histogram,
    unrecovered: Moments,
    guarantee: Moments,
    npv: Moments,
    repaid_n: u64,
    loss_n: u64,
}

/// Total loss histogram with per-bucket per-party loss sums (for the tail loss shares).
#[derive(Clone, Debug)]
struct TailSplit {
    n_parties: usize,
    counts: Vec<Option<Box<[u64]>>>,
    sums: Vec<Option<Box<[i128]>>>,
    /// Every trial's total loss and its parties' losses (`n_parties + 1` values a trial),
    /// while there are at most `limit` trials (`None` past that, or when `limit` is 0): the
    /// tail is then taken exactly ([`TailSplit::tail`]), as a short run's percentiles are.
    rows: Option<Vec<i64>>,
    limit: u32,
}

impl TailSplit {
    fn new(n_parties: usize) -> Self {
        let blocks = (65 - TAIL_BITS) as usize;
        TailSplit {
            n_parties,
            counts: vec![None; blocks],
            sums: vec![None; blocks],
            rows: None,
            limit: 0,
        }
    }
    /// Keeps every trial's row while there are at most `limit` (set before the first trial).
    fn keep_up_to(&mut self, limit: u32) {
        debug_assert!(
            self.counts.iter().all(Option::is_none),
            "set before any trial"
        );
        self.limit = limit;
        self.rows = (limit > 0).then(Vec::new);
    }
    /// Keeps no rows from now on.
    fn keep_none(&mut self) {
        self.limit = 0;
        self.rows = None;
    }
    /// Trials in `rows`.
    fn kept(rows: &[i64], n_parties: usize) -> usize {
        rows.len() / (n_parties + 1)
    }
    fn index(m: u64) -> (usize, usize) {
        let k = TAIL_BITS;
        if m < (1u64 << k) {
            (0, m as usize)
        } else {
            let e = 63 - m.leading_zeros();
            (
                (e - k + 1) as usize,
                ((m >> (e - k)) & ((1u64 << k) - 1)) as usize,
            )
        }
    }
    fn add(&mut self, total: i64, losses: &[i64]) {
        if let Some(r) = &mut self.rows {
            if Self::kept(r, self.n_parties) < self.limit as usize {
                r.push(total);
                r.extend_from_slice(losses);
            } else {
                self.rows = None;
            }
        }
        let w = 1usize << TAIL_BITS;
        let (b, i) = Self::index(total.max(0) as u64);
        let c = self.counts[b].get_or_insert_with(|| vec![0; w].into_boxed_slice());
        c[i] += 1;
        let s = self.sums[b].get_or_insert_with(|| vec![0; w * self.n_parties].into_boxed_slice());
        for (k, &l) in losses.iter().enumerate() {
            s[i * self.n_parties + k] += l as i128;
        }
    }
    fn merge(&mut self, o: &TailSplit) {
        let np = self.n_parties;
        self.rows = match (self.rows.take(), &o.rows) {
            (Some(mut a), Some(b))
                if Self::kept(&a, np) + Self::kept(b, np) <= self.limit as usize =>
            {
                a.extend_from_slice(b);
                Some(a)
            }
            _ => None,
        };
        for (m, t) in self.counts.iter_mut().zip(&o.counts) {
            if let Some(t) = t {
                let m = m.get_or_insert_with(|| vec![0; t.len()].into_boxed_slice());
                m.iter_mut().zip(t.iter()).for_each(|(a, b)| *a += *b);
            }
        }
        for (m, t) in self.sums.iter_mut().zip(&o.sums) {
            if let Some(t) = t {
                let m = m.get_or_insert_with(|| vec![0; t.len()].into_boxed_slice());
                m.iter_mut().zip(t.iter()).for_each(|(a, b)| *a += *b);
            }
        }
    }
    /// Per-party loss (cents, f64) summed over the `want` trials with the largest total loss
    /// (a [`crate::stats::tail_mass`]: the last trial may count in part); the bucket
    /// straddling the boundary is prorated. Where every trial's row was kept, the trials
    /// themselves: those above the boundary whole, and those tied with the trial at it
    /// prorated (each the same share), so the result does not depend on their order.
    /// Also returns the most the total of the per-party sums can be from the exact one (cents):
    /// the trials taken from the bucket at the boundary are prorated, and each of them is
    /// within the bucket's width of any other in it; and per party the most its sum can be off:
    /// the exact trials taken from that bucket hold between none and all of the party's losses
    /// in it, so its prorated part `f s` is within `max(f, 1 - f) s` of theirs.
    fn tail(&self, want: f64) -> (Vec<f64>, f64, Vec<f64>) {
        if let Some(rows) = &self.rows {
            let exact = Self::exact_tail(rows, self.n_parties, want);
            return (exact, 0.0, vec![0.0; self.n_parties]);
        }
        let mut out = vec![0.0; self.n_parties];
        let mut party_error = vec![0.0; self.n_parties];
        let mut taken = 0.0f64;
        let mut error = 0.0f64;
        for b in (0..self.counts.len()).rev() {
            let (Some(c), Some(s)) = (&self.counts[b], &self.sums[b]) else {
                continue;
            };
            for i in (0..c.len()).rev() {
                if c[i] == 0 || taken >= want {
                    continue;
                }
                let t = (c[i] as f64).min(want - taken);
                let frac = t / c[i] as f64;
                if frac < 1.0 && b > 1 {
                    // Bucket `b > 0` holds the `2^(b - 1)` integers from its lower edge up.
                    error += t * ((1u64 << (b - 1)) - 1) as f64;
                }
                for (k, o) in out.iter_mut().enumerate() {
                    let sum = s[i * self.n_parties + k] as f64;
                    *o += sum * frac;
                    if frac < 1.0 {
                        party_error[k] += sum.abs() * frac.max(1.0 - frac);
                    }
                }
                taken += t;
            }
        }
        (out, error, party_error)
    }
    /// [`TailSplit::tail`] from every trial's row (total loss as the buckets count it: at
    /// least 0).
    fn exact_tail(rows: &[i64], n_parties: usize, want: f64) -> Vec<f64> {
        let mut trials: Vec<&[i64]> = rows.chunks_exact(n_parties + 1).collect();
        trials.sort_unstable_by_key(|r| std::cmp::Reverse(r[0].max(0)));
        let want = want.min(trials.len() as f64);
        let mut out = vec![0.0; n_parties];
        // The trial the tail ends in (in part, where `want` is not whole).
        let last = (want.ceil() as usize).min(trials.len());
        let Some(edge) = last.checked_sub(1).map(|i| trials[i][0].max(0)) else {
            return out;
        };
        let above = trials.partition_point(|r| r[0].max(0) > edge);
        let tied = trials.partition_point(|r| r[0].max(0) >= edge) - above;
        let mut sums = vec![(0i128, 0i128); n_parties];
        for (i, r) in trials[..above + tied].iter().enumerate() {
            for (k, &l) in r[1..].iter().enumerate() {
                if i < above {
                    sums[k].0 += l as i128;
                } else {
                    sums[k].1 += l as i128;
                }
            }
        }
        let frac = (want - above as f64) / tied as f64;
        for (o, (a, t)) in out.iter_mut().zip(sums) {
            *o = a as f64 + t as f64 * frac;
        }
        out
    }
}

/// Aggregates of all trials seen so far (merge-order independent).
#[derive(Clone, Debug)]
struct Acc {
    trials: u64,
    failed: u64,
    /// The failed trial with the lowest index and why (independent of merge order).
    first_failure: Option<(u64, String)>,
    terminated: u64,
    /// Trials that ended early because the enterprise ran out of cash.
    out_of_cash: u64,
    /// Cash left in the contract account at the end, and the trials that leave any.
    held: Moments,
    held_n: u64,
    /// Unspent capital the enterprise paid back at the end, and the trials in which it did.
    returned: Moments,
    returned_n: u64,
    parties: Vec<PartyAcc>,
    tranches: Vec<TrancheAcc>,
    outcome_payments: Moments,
    outcome_hist: Histogram,
    per_outcome: Vec<Moments>,
    total_loss: Moments,
    tail: TailSplit,
    programme_costs: Moments,
    bands: Bands,
    business: Option<crate::mkba::BusinessAcc>,
}

impl Acc {
    /// Empty, with histograms counted around 0 only.
    fn new(c: &Contract, n_parties: usize) -> Self {
        let t = c.periods as usize;
        Acc {
            trials: 0,
            failed: 0,
            first_failure: None,
            terminated: 0,
            out_of_cash: 0,
            held: Moments::default(),
            held_n: 0,
            returned: Moments::default(),
            returned_n: 0,
            parties: (0..n_parties)
                .map(|k| PartyAcc {
                    paid: Moments::default(),
                    received: Moments::default(),
                    net: Moments::default(),
                    net_hist: summary_histogram(),
                    received_hist: reported_parties(c)
                        .get(k)
                        .filter(|&&p| c.parties[p].role == Role::Investor)
                        .map(|_| summary_histogram()),
                    npv: Moments::default(),
                    loss: Moments::default(),
                    loss_n: 0,
                    neg_n: 0,
                    guarantee: Moments::default(),
                    outcome_paid: Moments::default(),
                    inflow: Moments::default(),
                    inflow_n: 0,
                })
                .collect(),
            tranches: c
                .tranches
                .iter()
                .map(|_| TrancheAcc {
                    drawn: Moments::default(),
                    received: Moments::default(),
                    irr: Moments::default(),
                    irr_hist: summary_histogram(),
                    multiple: Moments::default(),
                    multiple_hist: summary_histogram(),
                    unrecovered: Moments::default(),
                    guarantee: Moments::default(),
                    npv: Moments::default(),
                    repaid_n: 0,
                    loss_n: 0,
                })
                .collect(),
            outcome_payments: Moments::default(),
            outcome_hist: summary_histogram(),
            per_outcome: vec![Moments::default(); c.outcomes.len()],
            total_loss: Moments::default(),
            tail: {
                let mut t = TailSplit::new(n_parties);
                t.keep_up_to(EXACT_SAMPLES);
                t
            },
            programme_costs: Moments::default(),
            bands: Bands::new(n_parties, t),
            business: crate::mkba::BusinessAcc::new(c),
        }
    }

    /// Every histogram, in an order fixed by the contract (so that two accumulators' lists
    /// match up).
    fn histograms_mut(&mut self) -> Vec<&mut Histogram> {
        let mut out = Vec::new();
        for p in &mut self.parties {
            out.push(&mut p.net_hist);
            out.extend(p.received_hist.as_mut());
        }
        for t in &mut self.tranches {
            out.push(&mut t.irr_hist);
            out.push(&mut t.multiple_hist);
        }
        out.push(&mut self.outcome_hist);
        out.extend(self.bands.hists.iter_mut());
        if let Some(b) = &mut self.business {
            out.extend(b.histograms_mut());
        }
        out
    }

    /// Empty, with every histogram recording (the pilot's accumulator, see [`PILOT`]).
    fn recording(c: &Contract, n_parties: usize) -> Self {
        let mut acc = Acc::new(c, n_parties);
        for h in acc.histograms_mut() {
            *h = Histogram::recording(h.k())
                .read_at(h.levels())
                .exact_up_to(h.exact_limit());
        }
        acc
    }

    /// Empty, with the histograms anchored as `self`'s.
    fn empty_like(&mut self, c: &Contract, n_parties: usize) -> Self {
        let mut acc = Acc::new(c, n_parties);
        for (h, o) in acc.histograms_mut().into_iter().zip(self.histograms_mut()) {
            *h = o.empty_like();
        }
        acc.tail.keep_up_to(self.tail.limit);
        acc.bands.alias.clone_from(&self.bands.alias);
        acc
    }

    fn merge(&mut self, o: &Acc) {
        self.trials += o.trials;
        self.failed += o.failed;
        if let Some((t, e)) = &o.first_failure
            && self.first_failure.as_ref().is_none_or(|(u, _)| t < u)
        {
            self.first_failure = Some((*t, e.clone()));
        }
        self.terminated += o.terminated;
        self.held.merge(&o.held);
        self.held_n += o.held_n;
        self.returned.merge(&o.returned);
        self.returned_n += o.returned_n;
        self.out_of_cash += o.out_of_cash;
        for (a, b) in self.parties.iter_mut().zip(&o.parties) {
            a.paid.merge(&b.paid);
            a.received.merge(&b.received);
            a.net.merge(&b.net);
            a.net_hist.merge(&b.net_hist);
            if let (Some(x), Some(y)) = (&mut a.received_hist, &b.received_hist) {
                x.merge(y);
            }
            a.npv.merge(&b.npv);
            a.loss.merge(&b.loss);
            a.loss_n += b.loss_n;
            a.neg_n += b.neg_n;
            a.guarantee.merge(&b.guarantee);
            a.outcome_paid.merge(&b.outcome_paid);
            a.inflow.merge(&b.inflow);
            a.inflow_n += b.inflow_n;
        }
        for (a, b) in self.tranches.iter_mut().zip(&o.tranches) {
            a.drawn.merge(&b.drawn);
            a.received.merge(&b.received);
            a.irr.merge(&b.irr);
            a.irr_hist.merge(&b.irr_hist);
            a.multiple.merge(&b.multiple);
            a.multiple_hist.merge(&b.multiple_hist);
            a.unrecovered.merge(&b.unrecovered);
            a.guarantee.merge(&b.guarantee);
            a.npv.merge(&b.npv);
            a.repaid_n += b.repaid_n;
            a.loss_n += b.loss_n;
        }
        self.outcome_payments.merge(&o.outcome_payments);
        self.outcome_hist.merge(&o.outcome_hist);
        for (a, b) in self.per_outcome.iter_mut().zip(&o.per_outcome) {
            a.merge(b);
        }
        self.total_loss.merge(&o.total_loss);
        self.tail.merge(&o.tail);
        self.programme_costs.merge(&o.programme_costs);
        self.bands.merge(&o.bands);
        if let (Some(a), Some(b)) = (&mut self.business, &o.business) {
            a.merge(b);
        }
    }
}

/// Per-thread state: the settler, actuals and scratch, reused for every trial.
struct Worker<'c> {
    c: &'c Contract,
    model: &'c Model,
    seed: u64,
    /// Reported parties (indices into `contract.parties`).
    parties: &'c [usize],
    /// Discount factors per period at the contract's discount rate.
    discount: Vec<f64>,
    /// The settler of each of the trial's possible contracts (index: the variant
    /// [`Model::draw`] returns; 0 is the scenario's, the others are made on first use).
    settlers: Vec<Option<Settler<'c>>>,
    actuals: Actuals,
    scratch: DrawScratch,
    sink: TrialSink,
    net: Vec<i64>,
    loss: Vec<i64>,
    /// This trial's NPV of each party's net flows at the discount rate (reported parties
    /// only; indexed like `contract.parties`).
    npv: Vec<f64>,
    irr: Vec<Option<f64>>,
    repaid: Vec<bool>,
    acc: Acc,
}

impl<'c> Worker<'c> {
    fn new(c: &'c Contract, model: &'c Model, seed: u64, parties: &'c [usize], acc: Acc) -> Self {
        Worker {
            c,
            model,
            seed,
            parties,
            discount: discount_factors(
                compound_period_rate(c.discount_rate, c.period_length.per_year()).to_f64(),
                c.periods as usize,
            ),
            settlers: std::iter::once(Some(Settler::new(c)))
                .chain(model.delayed.iter().map(|_| None))
                .collect(),
            actuals: Actuals::new(c),
            scratch: DrawScratch::default(),
            sink: TrialSink::new(c),
            net: vec![0; parties.len()],
            loss: vec![0; parties.len()],
            npv: vec![0.0; c.parties.len()],
            irr: vec![None; c.tranches.len()],
            repaid: vec![false; c.tranches.len()],
            acc,
        }
    }

    /// Runs trial `trial`: draws, settles, hands its record to `on_trial`, and with `SUMMARY`
    /// adds it to the accumulator (without, only its count and any failure are kept: see
    /// [`run_trials`]).
    fn run<const SUMMARY: bool, F: Fn(&TrialRecord) + Sync>(
        &mut self,
        trial: u64,
        on_trial: Option<&F>,
    ) {
        let c = self.c;
        let mut rng = trial_rng(self.seed, trial);
        let model = self.model;
        let v = model.draw(c, &mut rng, &mut self.actuals, &mut self.scratch);
        self.sink.clear();
        let settler = match &mut self.settlers[v] {
            Some(s) => s,
            slot => slot.insert(Settler::new(model.contract(c, v))),
        };
        let s = match settler.settle(&self.actuals, &mut self.sink) {
            Ok(s) => s,
            Err(e) => {
                let acc = &mut self.acc;
                acc.failed += 1;
                if acc.first_failure.as_ref().is_none_or(|(u, _)| trial < *u) {
                    acc.first_failure = Some((trial, e.to_string()));
                }
                return;
            }
        };
        let acc = &mut self.acc;
        acc.trials += 1;
        if let Some((_, why)) = s.termination {
            acc.terminated += 1;
            if why == Termination::EnterpriseOutOfCash {
                acc.out_of_cash += 1;
            }
        }
        if SUMMARY {
            let held = s.held_at_end().0;
            acc.held.add(held);
            acc.held_n += (held > 0) as u64;
            let returned = s.unspent_returned.0;
            acc.returned.add(returned);
            acc.returned_n += (returned > 0) as u64;
        }
        let per_year = c.period_length.per_year();
        // Tranches.
        for (i, tr) in c.tranches.iter().enumerate() {
            let r = &s.tranches[i];
            let flows = self.sink.tranche_flows(i);
            let x = irr(flows, per_year);
            self.irr[i] = x;
            let repaid = r.outstanding.0 == 0;
            self.repaid[i] = repaid;
            if SUMMARY {
                let ta = &mut acc.tranches[i];
                let received = r.distributed + r.guaranteed;
                ta.drawn.add(r.drawn.0);
                ta.received.add(received.0);
                ta.unrecovered.add(r.unrecovered_principal.0);
                ta.guarantee.add(r.guaranteed.0);
                ta.npv.add(round_to_i64(npv_with(flows, &self.discount)));
                if let Some(x) = x {
                    let q = quantise(x);
                    ta.irr.add(q);
                    ta.irr_hist.add(q);
                }
                if r.drawn.0 > 0 {
                    let m = quantise(received.0 as f64 / r.drawn.0 as f64);
                    ta.multiple.add(m);
                    ta.multiple_hist.add(m);
                }
                if repaid {
                    ta.repaid_n += 1;
                }
                if r.unrecovered_principal.0 > 0 {
                    ta.loss_n += 1;
                }
            }
            let _ = tr;
        }
        // Parties.
        npv_rows(
            &self.sink.net,
            self.sink.n_periods,
            self.parties,
            &self.discount,
            &mut self.npv,
        );
        let mut total_loss = 0i64;
        let has_inflow = !c.inflow_guarantees.is_empty();
        for (k, &p) in self.parties.iter().enumerate() {
            let pa = &mut acc.parties[k];
            let paid = s.paid[p].0;
            let received = s.received[p].0;
            let net = received - paid;
            self.net[k] = net;
            let inflow = self.sink.inflow_paid[p];
            if SUMMARY {
                pa.paid.add(paid);
                pa.received.add(received);
                pa.net.add(net);
                pa.net_hist.add(net);
                if let Some(h) = &mut pa.received_hist {
                    h.add(received);
                }
                if net < 0 {
                    pa.neg_n += 1;
                }
                pa.npv.add(round_to_i64(self.npv[p]));
                pa.guarantee.add(self.sink.guarantee_paid[p]);
                pa.outcome_paid.add(self.sink.outcome_paid[p]);
                if has_inflow {
                    pa.inflow.add(inflow);
                    pa.inflow_n += (inflow > 0) as u64;
                }
            }
            let loss = match c.parties[p].role {
                Role::Investor => c
                    .tranches
                    .iter()
                    .enumerate()
                    .filter(|(_, t)| t.investor == p)
                    .map(|(i, _)| s.tranches[i].unrecovered_principal.0)
                    .sum(),
                Role::Payer | Role::Guarantor => self.sink.guarantee_paid[p] + inflow,
                Role::Enterprise => s.unpaid_costs.0 + s.deferred_fees_owed.0,
                Role::FeeRecipient => {
                    let due: i64 = c
                        .fees
                        .iter()
                        .filter(|f| f.payee == p)
                        .map(|f| {
                            f.schedule[1..=s.final_period as usize]
                                .iter()
                                .map(|m| m.0)
                                .sum::<i64>()
                        })
                        .sum();
                    (due - self.sink.fees_received[p]).max(0)
                }
                Role::Account | Role::External => 0,
            };
            self.loss[k] = loss;
            if SUMMARY {
                pa.loss.add(loss);
                if loss > 0 {
                    pa.loss_n += 1;
                }
            }
            total_loss += loss;
        }
        if SUMMARY {
            // Cash bands: cumulative net cash per party and period.
            acc.bands
                .add(self.parties.iter().map(|&p| self.sink.party_flows(p)));
            acc.total_loss.add(total_loss);
            acc.tail.add(total_loss, &self.loss);
            acc.outcome_payments.add(s.outcome_payments.0);
            acc.outcome_hist.add(s.outcome_payments.0);
            for (o, r) in s.outcomes.iter().enumerate() {
                acc.per_outcome[o].add(r.paid.0);
            }
            // What the enterprise paid is its costs, and any unspent capital it paid back
            // (`return_unspent`), which is not a cost.
            acc.programme_costs
                .add(s.paid[c.enterprise].0 - s.unspent_returned.0 + s.unpaid_costs.0);
        }
        if let Some(b) = &mut acc.business {
            let sink = &self.sink;
            let delays = if v == 0 {
                &[][..]
            } else {
                &model.shifts[v - 1]
            };
            if !b.add(c, &s.outcomes, |p| sink.party_flows(p), &self.npv, delays) {
                // A failed trial, not a settled one (its other figures are counted, but a
                // failure stops the run and no result is shown): settled + failed = trials.
                acc.trials -= 1;
                acc.failed += 1;
                if acc.first_failure.as_ref().is_none_or(|(u, _)| trial < *u) {
                    acc.first_failure = Some((
                        trial,
                        format!(
                            "the business case's savings (the MKBA's values times the cases) pass {}: lower the values per case (EUR/IND)",
                            crate::money::format_thousands(crate::settlement::LIMIT)
                        ),
                    ));
                }
            }
        }
        if let Some(f) = on_trial {
            f(&TrialRecord {
                trial,
                net: &self.net,
                loss: &self.loss,
                irr: &self.irr,
                repaid: &self.repaid,
                shocks: self.scratch.shocks(),
                settlement: s,
                business: acc.business.as_ref().map_or(&[][..], |b| b.per_party()),
                inflow_paid: &self.sink.inflow_paid,
                npv: &self.npv,
            });
        }
    }
}

/// Mean with its Monte Carlo standard error, in currency units.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MeanSe {
    /// Mean.
    pub mean: f64,
    /// Standard error of the mean.
    pub se: f64,
}

/// Mean, spread and percentiles of one figure over the trials.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    /// Mean.
    pub mean: f64,
    /// Standard deviation.
    pub sd: f64,
    /// Monte Carlo standard error of the mean.
    pub se: f64,
    /// Percentiles P1, P5, P10, P25, P50, P75, P90, P95, P99.
    pub p1: f64,
    /// P5.
    pub p5: f64,
    /// P10.
    pub p10: f64,
    /// P25.
    pub p25: f64,
    /// P50 (median).
    pub p50: f64,
    /// P75.
    pub p75: f64,
    /// P90.
    pub p90: f64,
    /// P95.
    pub p95: f64,
    /// P99.
    pub p99: f64,
    /// The most any of the percentiles above can be from the trial value at its rank (half
    /// the width of the histogram bucket it was read from; 0 when every one is exact); absent
    /// in files written before sibsim stated it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<f64>,
    /// Each percentile's own bound (as `error`), in the order P1 to P99; absent in files
    /// written before sibsim stated it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<f64>>,
    /// The Monte Carlo standard error of each percentile, in the order P1 to P99: how far
    /// another run's percentile would typically be (the standard deviation of its bootstrap
    /// distribution, from the trials ranked near it: see [`percentile_ses`]); absent for fewer
    /// than 2 trials and in files written before sibsim stated it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percentile_se: Option<Vec<f64>>,
    /// The shape of the figure over the trials (for histograms and CDFs); absent in files
    /// written before sibsim 0.1 had charts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distribution: Option<Distribution>,
}

/// Bins of [`Distribution`].
pub const DIST_BINS: usize = 50;
/// Step of the quantile grid of [`Distribution`] (0.5%, 1%, ..., 99.5%).
pub const DIST_QUANTILE_STEP: f64 = 0.005;

/// The shape of one figure over the trials, compact enough for `summary.json`: equal-width
/// bins between about P0.5 and P99.5 and a fine quantile grid, computed at the end of a
/// simulation from the figure's log-linear histogram (the same one that gives the
/// percentiles, so within its relative error of `2^-14`).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Distribution {
    /// Lower edge of the first bin: about P0.5, or lower to take in trials less than a bin
    /// below it.
    pub lo: f64,
    /// Upper edge of the last bin: about P99.5, or higher to take in trials less than a bin
    /// above it.
    pub hi: f64,
    /// Trials per bin: `counts.len()` equal-width bins from `lo` to `hi` (a bucket of the
    /// underlying histogram goes to the bin of its midpoint; one that holds `lo` or `hi` to the
    /// first or last bin).
    pub counts: Vec<u64>,
    /// Trials below `lo`.
    pub below: u64,
    /// Trials above `hi`.
    pub above: u64,
    /// Quantiles at 0.5%, 1.0%, ..., 99.5% (199 values, ascending), for the CDF.
    pub quantiles: Vec<f64>,
    /// The most any of `quantiles` can be from the trial value at its rank (0: all exact). A
    /// grid level away from the headline percentiles is read from the histogram's log-linear
    /// buckets, not its fine stretches, so this can exceed the `Summary`'s `error`.
    #[serde(default)]
    pub quantile_error: f64,
}

impl Distribution {
    /// Trials counted (in and outside the bins).
    pub fn total(&self) -> u64 {
        self.counts.iter().sum::<u64>() + self.below + self.above
    }
    /// Width of one bin.
    pub fn bin_width(&self) -> f64 {
        (self.hi - self.lo) / self.counts.len().max(1) as f64
    }
    /// The probabilities of the quantile grid, matching [`Distribution::quantiles`].
    pub fn quantile_levels(&self) -> impl Iterator<Item = f64> + '_ {
        let n = (1.0 / DIST_QUANTILE_STEP).round();
        (1..=self.quantiles.len()).map(move |i| i as f64 / n)
    }
    /// The same distribution with every value moved by `dx` (e.g. net + principal = received).
    pub fn shifted(&self, dx: f64) -> Distribution {
        Distribution {
            lo: self.lo + dx,
            hi: self.hi + dx,
            counts: self.counts.clone(),
            below: self.below,
            above: self.above,
            quantiles: self.quantiles.iter().map(|q| q + dx).collect(),
            quantile_error: self.quantile_error,
        }
    }
}

/// The [`Distribution`] of histogram `h` divided by `scale`.
pub fn distribution(h: &Histogram, scale: f64) -> Option<Distribution> {
    if h.count() == 0 {
        return None;
    }
    // The quantile levels and the window's two ends in one pass (each as `h.quantile`).
    let n = (1.0 / DIST_QUANTILE_STEP).round() as usize;
    // `i / n`, the level as written (0.35), not `i x 0.005` (0.35000000000000003, whose rank
    // at 500 trials is 176, not 175).
    let levels: Vec<f64> = (1..n).map(|i| i as f64 / n as f64).collect();
    let mut wanted = levels.clone();
    wanted.push(DIST_QUANTILE_STEP);
    wanted.push(1.0 - DIST_QUANTILE_STEP);
    let mut order: Vec<usize> = (0..wanted.len()).collect();
    order.sort_by(|&a, &b| wanted[a].total_cmp(&wanted[b]));
    let sorted: Vec<f64> = order.iter().map(|&i| wanted[i]).collect();
    let mut got = vec![0.0; wanted.len()];
    let mut quantile_error = 0.0f64;
    for (&i, (q, e)) in order.iter().zip(h.quantiles_within(&sorted)) {
        got[i] = q;
        if i < levels.len() {
            quantile_error = quantile_error.max(e / scale);
        }
    }
    let quantiles = got[..levels.len()].iter().map(|q| q / scale).collect();
    let mut lo = got[levels.len()] / scale;
    let mut hi = got[levels.len() + 1] / scale;
    if hi - lo <= 0.0 {
        // (Almost) one value: a narrow window around it.
        let pad = (lo.abs() * 0.01).max(1.0 / scale).max(1e-9);
        lo -= pad;
        hi += pad;
    }
    // Trials just outside the window (within a bin of its edge: a loan's IRR a hair above
    // its coupon, from rounding to cents) are no tail to leave out: the window takes them in.
    let near = (hi - lo) / DIST_BINS as f64;
    let (lo0, hi0) = (lo, hi);
    h.for_each_bucket(|a, b, _| {
        let (a, b) = (a / scale, b / scale);
        if b < lo0 && a >= lo0 - near {
            lo = lo.min(a);
        } else if a > hi0 && b <= hi0 + near {
            hi = hi.max(b);
        }
        true
    });
    let w = (hi - lo) / DIST_BINS as f64;
    let mut counts = vec![0u64; DIST_BINS];
    let (mut below, mut above) = (0u64, 0u64);
    // A bucket is outside the window only when all of it is (its bounds, either of which it
    // may include, beyond an edge): one that holds an edge (read exactly, as the focus or an
    // anchor may, while the bucket reaches past it) goes to the edge's bin, so `below` and
    // `above` never count a trial inside the window.
    h.for_each_bucket(|a, b, c| {
        let (a, b) = (a / scale, b / scale);
        if b < lo {
            below += c;
        } else if a > hi {
            above += c;
        } else {
            let x = (0.5 * (a + b)).clamp(lo, hi);
            counts[bin_of(x, lo, w, DIST_BINS)] += c;
        }
        true
    });
    Some(Distribution {
        lo,
        hi,
        counts,
        below,
        above,
        quantiles,
        quantile_error,
    })
}

/// The bin of `x` among `n` bins of width `w` from `lo`, where bin `i` runs from `lo + i * w`
/// (as a chart draws its edge) up to the next edge: a value on an edge is in the bin above
/// it, whatever the rounding of `(x - lo) / w` (a tenth of the edges of a window from -3.3
/// to 0.4 would fall a bin low), and `hi` itself is in the last bin.
pub(crate) fn bin_of(x: f64, lo: f64, w: f64, n: usize) -> usize {
    let last = n.saturating_sub(1);
    if w.is_nan() || w <= 0.0 {
        return 0;
    }
    let mut i = (((x - lo) / w).max(0.0) as usize).min(last);
    if i < last && lo + (i + 1) as f64 * w <= x {
        i += 1;
    } else if i > 0 && lo + i as f64 * w > x {
        i -= 1;
    }
    i
}

/// The bounds of quantile readings `q` (as [`Histogram::quantiles_within`]) in units of
/// `scale`: their largest, and each (`Summary::error` and `Summary::errors`).
fn bounds(q: &[(f64, f64)], scale: f64) -> (Option<f64>, Option<Vec<f64>>) {
    let errors: Vec<f64> = q.iter().map(|x| x.1 / scale).collect();
    (
        Some(errors.iter().copied().fold(0.0, f64::max)),
        Some(errors),
    )
}

/// The Monte Carlo standard error of the percentiles at `levels` of the `n` samples in `h`
/// (`None` for fewer than 2), in `h`'s units: the standard deviation of each percentile's
/// bootstrap distribution, computed exactly from the samples ranked near it
/// ([`crate::metrics::quantile_se_from`], as the term-design commands compute a percentile's
/// error), read as [`Histogram::at_ranks_within`] reads them. It counts the jumps of a
/// percentile that sits at a cluster of equal values (a capped return, a lattice of payment
/// amounts), which a density-based error misses.
pub fn percentile_ses(h: &Histogram, levels: &[f64]) -> Option<Vec<f64>> {
    let n = h.count();
    if n < 2 {
        return None;
    }
    // Every rank any level reads, each once, ascending.
    let mut ranks: Vec<u64> = levels
        .iter()
        .flat_map(|&q| {
            let (lo, hi) = crate::metrics::quantile_se_window(n, q);
            lo..=hi
        })
        .collect();
    ranks.sort_unstable();
    ranks.dedup();
    let values = h.at_ranks_within(&ranks);
    Some(
        levels
            .iter()
            .map(|&q| {
                // A level's window is a whole run of the ranks: found once, then read in step.
                let lo = crate::metrics::quantile_se_window(n, q).0;
                let at = ranks.partition_point(|&r| r < lo);
                let value = |j: u64| values[at + (j - lo) as usize].0;
                crate::metrics::quantile_se_from(n, q, value)
            })
            .collect(),
    )
}

pub(crate) fn summary(m: &Moments, h: &Histogram, scale: f64) -> Summary {
    let q = h.quantiles_within(&SUMMARY_LEVELS);
    let (error, errors) = bounds(&q, scale);
    let percentile_se =
        percentile_ses(h, &SUMMARY_LEVELS).map(|v| v.into_iter().map(|x| x / scale).collect());
    let q = |i: usize| q[i].0 / scale;
    Summary {
        mean: m.mean() / scale,
        sd: m.sd() / scale,
        se: m.se() / scale,
        p1: q(0),
        p5: q(1),
        p10: q(2),
        p25: q(3),
        p50: q(4),
        p75: q(5),
        p90: q(6),
        p95: q(7),
        p99: q(8),
        error,
        errors,
        percentile_se,
        distribution: distribution(h, scale),
    }
}

pub(crate) fn mean_se(m: &Moments) -> MeanSe {
    MeanSe {
        mean: m.mean() / 100.0,
        se: m.se() / 100.0,
    }
}

/// Cumulative net cash of a party at the end of one period over the trials.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Band {
    /// Period.
    pub period: u16,
    /// Mean.
    pub mean: f64,
    /// P5.
    pub p5: f64,
    /// P25.
    pub p25: f64,
    /// P50.
    pub p50: f64,
    /// P75.
    pub p75: f64,
    /// P95.
    pub p95: f64,
    /// The most any of the percentiles above can be from the trial value at its rank (as
    /// [`Summary::error`]); absent in files written before sibsim stated it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<f64>,
    /// Each percentile's own bound, in the order P5 to P95; absent in files written before
    /// sibsim stated it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<f64>>,
}

/// Results for one party (amounts in currency units).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PartyResult {
    /// Party id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Total paid.
    pub paid: MeanSe,
    /// Total received.
    pub received: MeanSe,
    /// Net (received - paid).
    pub net: Summary,
    /// Distribution of the total received (investors only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_summary: Option<Summary>,
    /// Value at risk at 95%: `-P5` of net (positive when the 5% worst trials lose money).
    pub var95: f64,
    /// Expected shortfall at 95%: minus the mean net of the worst 5% of trials.
    pub expected_shortfall95: f64,
    /// The most [`PartyResult::expected_shortfall95`] can be from the exact mean of those
    /// trials (0 where exact; see [`Summary::errors`]).
    #[serde(default)]
    pub expected_shortfall95_error: f64,
    /// Probability that net is below zero.
    pub prob_net_negative: f64,
    /// NPV of the party's net cash flows at the contract's discount rate.
    pub npv: MeanSe,
    /// Loss as defined in [`RiskDistribution`].
    pub loss: MeanSe,
    /// Probability of any loss.
    pub prob_loss: f64,
    /// Guarantee calls paid.
    pub guarantee_calls_paid: MeanSe,
    /// Outcome payments paid.
    pub outcome_payments: MeanSe,
    /// A payer's compensation under inflow guarantees (absent without any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inflow_compensation: Option<InflowCompensation>,
    /// Cumulative net cash by period.
    pub cash_bands: Vec<Band>,
}

/// What a payer paid for referrals short of its promises.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InflowCompensation {
    /// Compensation paid (currency units).
    pub paid: MeanSe,
    /// Probability that it pays any.
    pub probability: f64,
}

/// Mean, spread and percentiles of a ratio (IRR, multiple), with the share of trials in which
/// it is defined.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RatioSummary {
    /// Share of trials where the figure is defined.
    pub defined: f64,
    /// Summary over those trials.
    #[serde(flatten)]
    pub summary: Summary,
}

/// Results for one tranche (amounts in currency units, IRR and multiples as fractions).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrancheStats {
    /// Tranche id.
    pub id: String,
    /// Investor party id.
    pub investor: String,
    /// Committed capital (currency units).
    #[serde(default)]
    pub committed: f64,
    /// Annual rate as written: the loan's coupon or the fund's return cap (a fraction).
    #[serde(default)]
    pub annual_rate: f64,
    /// Priority rank (1 is paid first).
    #[serde(default)]
    pub rank: u16,
    /// Capital drawn.
    pub drawn: MeanSe,
    /// Distributions plus guarantee calls received.
    pub received: MeanSe,
    /// Annualised IRR (-1 when nothing came back).
    pub irr: RatioSummary,
    /// Received / drawn.
    pub multiple: RatioSummary,
    /// Unrecovered principal.
    pub unrecovered_principal: MeanSe,
    /// Guarantee calls received.
    pub guarantee_calls: MeanSe,
    /// NPV of the tranche's cash flows at the discount rate.
    pub npv: MeanSe,
    /// Probability that the claim was paid in full (nothing outstanding at the end).
    pub prob_full_repayment: f64,
    /// Probability of losing any principal.
    pub prob_principal_loss: f64,
}

/// One party's part in the risk distribution.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RiskShare {
    /// Party id.
    pub party: String,
    /// Expected loss (currency units).
    pub expected_loss: f64,
    /// Share of the total expected loss.
    pub share_of_expected_loss: f64,
    /// Share of the total loss in the worst 5% of trials by total loss.
    pub share_of_tail_loss: f64,
    /// The most `share_of_tail_loss` can be from the share in the exact worst 5%: 0 where
    /// that is exact (a run of at most [`EXACT_SAMPLES`] trials, or an edge between buckets);
    /// absent in files written before sibsim stated it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share_of_tail_loss_error: Option<f64>,
}

/// Who carries the risk. A party's loss per trial: investors their unrecovered principal;
/// payers and guarantors the guarantee calls they paid, and payers the compensation they paid
/// for referrals short of an inflow guarantee; the enterprise its unpaid costs plus
/// deferred fees not received; fee recipients fees not received. Shares add up to 1 when any
/// loss exists (all 0 otherwise).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RiskDistribution {
    /// Mean total loss over all parties.
    pub expected_total_loss: f64,
    /// Mean total loss in the worst 5% of trials.
    pub tail_total_loss: f64,
    /// The most `tail_total_loss` can be from the exact mean: 0 where it is exact (a run of
    /// at most [`EXACT_SAMPLES`] trials, or a boundary that falls between buckets); absent
    /// in files written before sibsim stated it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tail_total_loss_error: Option<f64>,
    /// Per party.
    pub parties: Vec<RiskShare>,
}

/// Results per outcome.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OutcomeStats {
    /// Outcome id.
    pub id: String,
    /// Amount paid.
    pub paid: MeanSe,
}

/// Everything a simulation produces (serialises to `summary.json`).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Results {
    /// Trials settled.
    pub trials: u64,
    /// Trials whose settlement failed. Any failure makes the results unusable (they leave out
    /// trials, most likely the extreme ones), so a run stops at the end of the window of
    /// [`WINDOW`] trials in which one fails; callers check [`Results::failure`].
    pub failed_trials: u64,
    /// Why the failed trial with the lowest index could not be settled; `None` when every
    /// trial was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// Seed.
    pub seed: u64,
    /// Probability that the contract ended early.
    pub prob_early_termination: f64,
    /// Probability that it ended early because the enterprise ran out of cash (the rest of
    /// the early endings are checkpoints that failed).
    #[serde(default)]
    pub prob_out_of_cash: f64,
    /// Total outcome payments.
    pub outcome_payments: Summary,
    /// Per outcome.
    pub outcomes: Vec<OutcomeStats>,
    /// Parties (all but the contract account and the outside world), in contract order.
    pub parties: Vec<PartyResult>,
    /// Tranches.
    pub tranches: Vec<TrancheStats>,
    /// The risk distribution.
    pub risk: RiskDistribution,
    /// The provider's costs incurred (operating and per participant, paid or not): what
    /// financing the provider directly would cost.
    pub programme_costs: MeanSe,
    /// Cash left in the contract account at the end (paid in, paid to no party: under
    /// `remainder = "hold"`, or not yet owed to anyone); the payers' nets count it as paid.
    #[serde(default)]
    pub held_at_end: MeanSe,
    /// Probability that the account holds any cash at the end.
    #[serde(default)]
    pub prob_held: f64,
    /// Unspent capital the enterprise paid back to the investors at the end
    /// (`enterprise.return_unspent`).
    #[serde(default)]
    pub capital_returned: MeanSe,
    /// Probability that the enterprise pays any capital back.
    #[serde(default)]
    pub prob_capital_returned: f64,
    /// The business case (MKBA) per trial, when the scenario has an `[mkba]` block.
    pub business_case: Option<crate::mkba::BusinessCaseResults>,
}

impl Results {
    /// The most any amount percentile a summary shows (P5, P50 and P95 of the outcome
    /// payments, each party's net, each payer's business case and the social return) or any
    /// party's expected shortfall can be from the exact value, in currency units (0: exact).
    pub fn shown_amounts_within(&self) -> f64 {
        let shown = std::iter::once(&self.outcome_payments)
            .chain(self.parties.iter().map(|p| &p.net))
            .chain(self.business_case.iter().flat_map(|b| {
                b.payers
                    .iter()
                    .chain(std::iter::once(&b.all_payers))
                    .map(|p| &p.net)
                    .chain(std::iter::once(&b.total_impact))
            }));
        shown
            .flat_map(|s| s.errors.iter().flat_map(|e| [e[1], e[4], e[7]]))
            .chain(self.parties.iter().map(|p| p.expected_shortfall95_error))
            .fold(0.0, f64::max)
    }

    /// The largest Monte Carlo standard error ([`Summary::percentile_se`]) of the percentiles
    /// the screen shows for the parties' net (P5, P50, P95); `None` for fewer than 2 trials.
    pub fn shown_percentiles_se(&self) -> Option<f64> {
        self.parties
            .iter()
            .map(|p| {
                p.net
                    .percentile_se
                    .as_ref()
                    .map(|e| e[1].max(e[4]).max(e[7]))
            })
            .try_fold(0.0f64, |m, e| e.map(|e| m.max(e)))
    }

    /// The largest Monte Carlo standard error of a probability over these trials, in
    /// percentage points: `sqrt(p (1 - p) / n)` at `p = 1/2`.
    pub fn probability_se_bound(&self) -> f64 {
        50.0 / (self.trials.max(1) as f64).sqrt()
    }
}

/// The parties reported: all but the contract account and the outside world.
pub fn reported_parties(c: &Contract) -> Vec<usize> {
    (0..c.parties.len())
        .filter(|&p| !matches!(c.parties[p].role, Role::Account | Role::External))
        .collect()
}

/// Why a run with a model made for a contract of another form draws no trial.
const MISFIT: &str = "the model was made for a contract of another form (its periods, cohorts, or outcomes' kinds, measurement windows, prerequisites or cap), so no trial was drawn; parse the model with its contract (`scenario::parse_with_model`)";

/// Trials run in consecutive windows of this many, each window in parallel. A trial is
/// reported through `on_trial` (see [`simulate_with`]) only after every trial of the windows
/// before its own, so a caller writing rows in trial order holds at most about one window.
pub const WINDOW: u64 = 1 << 16;

/// Runs `config.trials` trials of `model` on `contract`.
///
/// `model` must be the one parsed with `contract` ([`crate::scenario::parse_with_model`]), or
/// one of a contract of the same form ([`Model::fits`]); with any other, no trial runs and
/// [`Results::failure`] says why ([`run_trials`] returns it as its error). A run of 0 trials
/// gives results with `trials` 0 and every figure 0; check [`Results::failure`] before using
/// a run's figures (a trial that cannot be settled stops the run).
pub fn simulate(contract: &Contract, model: &Model, config: &SimConfig) -> Results {
    simulate_with(contract, model, config, None::<&fn(&TrialRecord)>)
}

/// Like [`simulate`], calling `on_trial` after every trial (from worker threads, out of order
/// within a window of [`WINDOW`] trials, windows in order; each record carries its trial
/// index). Use it for per-trial rows or a progress counter.
pub fn simulate_with<F: Fn(&TrialRecord) + Sync>(
    contract: &Contract,
    model: &Model,
    config: &SimConfig,
    on_trial: Option<&F>,
) -> Results {
    match config.threads {
        Some(n) => match rayon::ThreadPoolBuilder::new()
            .num_threads(n.clamp(1, MAX_THREADS))
            .build()
        {
            Ok(pool) => pool.install(|| run(contract, model, config, on_trial, None)),
            Err(_) => run(contract, model, config, on_trial, None),
        },
        None => run(contract, model, config, on_trial, None),
    }
    .unwrap_or_else(|| unreachable!("a run without a stop flag always ends"))
}

/// Like [`simulate_with`], but stops soon after `stop` is set (from another thread: a cancel
/// button, a deadline), within a block of 256 trials per worker thread, and then returns
/// `None`: a run that was stopped has no results, as the trials it left out would bias them.
/// A run that ends before `stop` is set returns its results as [`simulate_with`] does.
pub fn simulate_with_stop<F: Fn(&TrialRecord) + Sync>(
    contract: &Contract,
    model: &Model,
    config: &SimConfig,
    on_trial: Option<&F>,
    stop: &AtomicBool,
) -> Option<Results> {
    match config.threads {
        Some(n) => match rayon::ThreadPoolBuilder::new()
            .num_threads(n.clamp(1, MAX_THREADS))
            .build()
        {
            Ok(pool) => pool.install(|| run(contract, model, config, on_trial, Some(stop))),
            Err(_) => run(contract, model, config, on_trial, Some(stop)),
        },
        None => run(contract, model, config, on_trial, Some(stop)),
    }
}

/// Runs the trials of [`simulate_with`] for their records only: `on_trial` sees exactly the
/// records `simulate_with` would give it, but nothing is summarised (no pilot, no anchors, no
/// moments, histograms or cash bands, no percentiles): a trial costs about a fifth less, and a
/// short run several times less (the term-design commands run many). Returns the trials settled, or why the failed trial with the lowest index could not
/// be settled ([`Results::failure`]); a run stops at the end of the window in which a trial
/// fails.
pub fn run_trials<F: Fn(&TrialRecord) + Sync>(
    contract: &Contract,
    model: &Model,
    config: &SimConfig,
    on_trial: &F,
) -> Result<u64, String> {
    if !model.fits(contract) {
        return Err(MISFIT.to_string());
    }
    // One thread: the trials run on the calling thread, with one worker and no pool of its
    // own (the term-design commands run one variant per thread this way).
    let one = config.threads == Some(1);
    let go = || {
        let parties = reported_parties(contract);
        let mut template = Acc::new(contract, parties.len());
        // Nothing is read from the accumulators but the counts and failures; the business case
        // still adds each trial to its own (it computes the record's figures), kept short.
        template.tail.keep_none();
        for h in template.histograms_mut() {
            h.set_exact_limit(0);
        }
        let workers = windows::<false, F>(
            contract,
            model,
            config,
            Some(on_trial),
            &parties,
            Vec::new(),
            &template,
            0,
            false,
            &Stop {
                flag: None,
                skipped: &AtomicBool::new(false),
            },
            one,
        );
        let mut settled = 0;
        let mut first: Option<(u64, String)> = None;
        for w in workers {
            settled += w.acc.trials;
            if let Some((t, why)) = w.acc.first_failure
                && first.as_ref().is_none_or(|(u, _)| t < *u)
            {
                first = Some((t, why));
            }
        }
        match first {
            Some((t, why)) => Err(format!("trial {t} could not be settled: {why}")),
            None => Ok(settled),
        }
    };
    match config.threads {
        Some(n) if n > 1 => match rayon::ThreadPoolBuilder::new()
            .num_threads(n.min(MAX_THREADS))
            .build()
        {
            Ok(pool) => pool.install(go),
            Err(_) => go(),
        },
        _ => go(),
    }
}

/// Runs the trials; `None` when `stop` was set before every trial had run (see
/// [`simulate_with_stop`]).
fn run<F: Fn(&TrialRecord) + Sync>(
    c: &Contract,
    model: &Model,
    cfg: &SimConfig,
    on_trial: Option<&F>,
    stop: Option<&AtomicBool>,
) -> Option<Results> {
    if model.fits(c) {
        return run_fitted(c, model, cfg, on_trial, stop);
    }
    // No trial is drawn with a model of another contract: the run of none, failed.
    let none = SimConfig {
        trials: 0,
        ..cfg.clone()
    };
    let mut r = run_fitted(c, model, &none, on_trial, stop)?;
    r.failure = Some(MISFIT.to_string());
    Some(r)
}

/// [`run`] with a model that fits the contract.
fn run_fitted<F: Fn(&TrialRecord) + Sync>(
    c: &Contract,
    model: &Model,
    cfg: &SimConfig,
    on_trial: Option<&F>,
    stop: Option<&AtomicBool>,
) -> Option<Results> {
    let skipped = AtomicBool::new(false);
    let stop = Stop {
        flag: stop,
        skipped: &skipped,
    };
    let parties = reported_parties(c);
    let n_parties = parties.len();
    let seed = cfg.seed;
    const BLOCK: u64 = 256;
    // The pilot: the run's first trials, in parallel, with histograms that record their
    // values; each then chooses its anchors and plans its focus from them and counts them (see
    // [`PILOT`]). Every other accumulator starts with the same anchors and focus, so all of
    // them merge. (The record depends only on which trials ran, not on the threads: the
    // anchors and focus depend only on the values' multiset.) Its splits lease workers from
    // their own pool as the run's do: each split creating one made 10 to 13 workers on 2
    // threads (each with a settler and an accumulator, all kept for the run and merged at the
    // end), about 10 MB more peak memory at 1,000,000 trials.
    let n_hists = Acc::new(c, n_parties).histograms_mut().len() as u64;
    let pilot_n = pilot_trials(cfg.trials).min((PILOT_SAMPLES / n_hists.max(1)).max(PILOT));
    let pilot_pool: Mutex<Vec<Worker>> = Mutex::new(Vec::new());
    (0..pilot_n.div_ceil(BLOCK)).into_par_iter().for_each_init(
        || Lease {
            worker: pilot_pool.lock().ok().and_then(|mut p| p.pop()),
            pool: &pilot_pool,
        },
        |lease, b| {
            if stop.now() {
                return;
            }
            let w = lease.worker.get_or_insert_with(|| {
                Worker::new(c, model, seed, &parties, Acc::recording(c, n_parties))
            });
            for t in b * BLOCK..((b + 1) * BLOCK).min(pilot_n) {
                w.run::<true, F>(t, on_trial);
            }
        },
    );
    let mut workers = pilot_pool.into_inner().unwrap_or_else(|e| e.into_inner());
    if stop.happened() {
        return None;
    }
    if workers.is_empty() {
        workers.push(Worker::new(
            c,
            model,
            seed,
            &parties,
            Acc::new(c, n_parties),
        ));
    }
    let mut pilot = std::mem::replace(&mut workers[0].acc, Acc::new(c, n_parties));
    for w in &workers[1..] {
        pilot.merge(&w.acc);
    }
    pilot.bands.flush();
    pilot.bands.alias_repeats();
    let run_trials = cfg.trials;
    if run_trials > EXACT_SAMPLES as u64 {
        // Too many trials to keep their values: no accumulator of the run collects any.
        pilot.tail.keep_none();
        for h in pilot.histograms_mut() {
            h.set_exact_limit(0);
        }
    }
    pilot.histograms_mut().into_par_iter().for_each(|h| {
        // The samples it will count over the run, at the pilot's rate per trial.
        let samples = (run_trials as u128 * h.count() as u128 / pilot_n.max(1) as u128) as u64;
        h.anchor_on_record_for(samples);
    });
    let template = pilot.empty_like(c, n_parties);
    for w in &mut workers {
        w.acc = template.clone();
    }
    let failed = pilot.failed > 0;
    let workers = windows::<true, F>(
        c, model, cfg, on_trial, &parties, workers, &template, pilot_n, failed, &stop, false,
    );
    if stop.happened() {
        return None;
    }
    // Merged into the accumulator with the most trials: its windows are the widest already, so
    // merging the others grows them least.
    let mut accs: Vec<Acc> = workers.into_iter().map(|w| w.acc).collect();
    accs.push(pilot);
    let base = (0..accs.len()).max_by_key(|&i| accs[i].trials).unwrap_or(0);
    let mut acc = accs.swap_remove(base);
    for o in &accs {
        acc.merge(o);
    }
    Some(finish(c, &parties, cfg, acc))
}

/// A run's stop flag, if any, and whether a block of trials was left out for it.
struct Stop<'a> {
    flag: Option<&'a AtomicBool>,
    skipped: &'a AtomicBool,
}

impl Stop<'_> {
    /// Whether the run is to stop now (noting that a block is left out).
    fn now(&self) -> bool {
        let stop = self.flag.is_some_and(|f| f.load(Ordering::Relaxed));
        if stop {
            self.skipped.store(true, Ordering::Relaxed);
        }
        stop
    }
    /// Whether any block was left out.
    fn happened(&self) -> bool {
        self.skipped.load(Ordering::Relaxed)
    }
}

/// Runs trials `from..cfg.trials` in windows of [`WINDOW`] (see [`simulate_with`]), adding
/// them to the accumulators with `SUMMARY` (see `Worker::run`), on
/// `workers` and the workers it makes (each with a copy of `template`'s accumulator), and
/// returns them all; stops at the end of the window in which a trial fails (`failed`: one
/// before `from` did, in the same window). `on_this_thread`: the blocks run one after another
/// on the calling thread, with one worker, instead of in parallel.
#[allow(clippy::too_many_arguments)]
fn windows<'c, const SUMMARY: bool, F: Fn(&TrialRecord) + Sync>(
    c: &'c Contract,
    model: &'c Model,
    cfg: &SimConfig,
    on_trial: Option<&F>,
    parties: &'c [usize],
    workers: Vec<Worker<'c>>,
    template: &Acc,
    from: u64,
    mut failed: bool,
    stop: &Stop<'_>,
    on_this_thread: bool,
) -> Vec<Worker<'c>> {
    const BLOCK: u64 = 256;
    let seed = cfg.seed;
    // Workers (settler, buffers, accumulator) outlive the windows: each parallel split leases
    // one from the pool and gives it back when the split ends, so a run creates about one per
    // thread however many windows it has. Their accumulators merge at the end (merge order
    // never changes a result).
    let pool: Mutex<Vec<Worker>> = Mutex::new(workers);
    // Windows of `WINDOW` trials from trial 0; the pilot is the start of the first.
    let mut first = from;
    while first < cfg.trials {
        let end = (first / WINDOW + 1).saturating_mul(WINDOW).min(cfg.trials);
        let blocks = (end - first).div_ceil(BLOCK);
        let lease = || Lease {
            worker: pool.lock().ok().and_then(|mut p| p.pop()),
            pool: &pool,
        };
        let block = |lease: &mut Lease<'_, 'c>, b: u64| {
            if stop.now() {
                return;
            }
            let w = lease
                .worker
                .get_or_insert_with(|| Worker::new(c, model, seed, parties, template.clone()));
            let start = first + b * BLOCK;
            for t in start..(start + BLOCK).min(end) {
                w.run::<SUMMARY, F>(t, on_trial);
            }
        };
        if on_this_thread {
            let mut l = lease();
            for b in 0..blocks {
                block(&mut l, b);
            }
        } else {
            (0..blocks).into_par_iter().for_each_init(lease, block);
        }
        first = end;
        // A trial that cannot be settled makes the run's results wrong (see
        // `Results::failure`): stop at the end of its window.
        failed |= pool
            .lock()
            .map(|p| p.iter().any(|w| w.acc.failed > 0))
            .unwrap_or(false);
        if failed || stop.happened() {
            break;
        }
    }
    pool.into_inner().unwrap_or_else(|e| e.into_inner())
}

/// Trials of the pilot of a run of `trials`: one in [`PILOT_SHARE`], at least [`PILOT`] and at
/// most [`MAX_PILOT`] (all of them in a run of at most `PILOT`).
pub fn pilot_trials(trials: u64) -> u64 {
    (trials / PILOT_SHARE).clamp(PILOT, MAX_PILOT).min(trials)
}

/// Most values the pilot records over all its histograms (8 bytes each; twice that while the
/// workers' records merge): a contract with many histograms (a cash band per party and
/// period: 8,400 at 1,200 periods and 7 parties) has a shorter pilot, at least [`PILOT`]
/// trials, so that its memory stays bounded (1.8 GB at 1,000,000 trials of such a contract
/// before). The reference scenario's pilot, about 250 histograms, is not shortened.
pub const PILOT_SAMPLES: u64 = 8_000_000;

/// A run's pilot is at least one in this many of its trials (see [`pilot_trials`]).
pub const PILOT_SHARE: u64 = 64;
/// Most trials of a pilot.
pub const MAX_PILOT: u64 = 16383;

/// Least trials of the pilot: the first [`pilot_trials`] trials of a run (all of them in a
/// shorter run) are run first, in parallel, and every histogram of the results (figures and
/// cash bands) chooses its anchors from their values ([`crate::stats::choose_anchors`]): 0 and the medians
/// of up to [`crate::stats::MAX_ANCHORS`] point masses or tight clusters, each holding at least
/// 2% of the pilot, or a least or greatest value repeated in 1% of it (a cap or a floor; at
/// least 3 values). A histogram counts each value as its distance from the nearest anchor, so
/// a figure that is the same, or nearly the same, in many trials (a senior loan repaid at
/// exactly its 5%, an IRR capped at 10%, a whole tranche lost, a drawdown schedule, nothing
/// paid yet) is read exactly where a percentile falls on it, instead of as the midpoint of the
/// bucket around it (0.05000192 for that 5%, -75,018.24 for a drawdown of exactly -75,000).
/// The pilot's trials are part of the run (counted once, in the first window); the anchors
/// depend only on the scenario, the seed and the number of trials, never on the thread count.
pub const PILOT: u64 = 255;

/// A worker leased from the pool for one parallel split; dropping the lease returns it.
struct Lease<'p, 'c> {
    worker: Option<Worker<'c>>,
    pool: &'p Mutex<Vec<Worker<'c>>>,
}

impl Drop for Lease<'_, '_> {
    fn drop(&mut self) {
        if let Some(w) = self.worker.take() {
            match self.pool.lock() {
                Ok(mut p) => p.push(w),
                Err(e) => e.into_inner().push(w),
            }
        }
    }
}

fn finish(c: &Contract, parties: &[usize], cfg: &SimConfig, mut acc: Acc) -> Results {
    acc.bands.flush();
    // Counted now, so that reading a histogram never copies it to count its buffer.
    for h in acc.histograms_mut() {
        h.flush();
    }
    let acc = &acc;
    let n = acc.trials.max(1) as f64;
    let t = c.periods as usize;
    // The parties' summaries (and the business case beside them) are read from the finished
    // histograms independently: in parallel, each as it would be alone.
    let (parties_out, business_case) = rayon::join(
        || {
            parties
                .par_iter()
                .zip(acc.parties.par_iter())
                .enumerate()
                .map(|(k, (&p, pa))| {
                    let net = summary(&pa.net, &pa.net_hist, 100.0);
                    let es95 = pa.net_hist.lower_tail_mean_within(0.05);
                    PartyResult {
                        id: c.parties[p].id.clone(),
                        name: c.parties[p].name.clone(),
                        role: c.parties[p].role,
                        paid: mean_se(&pa.paid),
                        received: mean_se(&pa.received),
                        received_summary: pa
                            .received_hist
                            .as_ref()
                            .map(|h| summary(&pa.received, h, 100.0)),
                        var95: -net.p5,
                        expected_shortfall95: -es95.0 / 100.0,
                        expected_shortfall95_error: es95.1 / 100.0,
                        net,
                        prob_net_negative: pa.neg_n as f64 / n,
                        npv: mean_se(&pa.npv),
                        loss: mean_se(&pa.loss),
                        prob_loss: pa.loss_n as f64 / n,
                        guarantee_calls_paid: mean_se(&pa.guarantee),
                        outcome_payments: mean_se(&pa.outcome_paid),
                        // Only for a payer that gives an inflow guarantee: the others never pay
                        // compensation.
                        inflow_compensation: (c.parties[p].role == Role::Payer
                            && c.inflow_guarantees.iter().any(|ig| ig.payer == p))
                        .then(|| InflowCompensation {
                            paid: mean_se(&pa.inflow),
                            probability: pa.inflow_n as f64 / n,
                        }),
                        cash_bands: (0..t)
                            .map(|i| {
                                // The last period's cumulative cash is the party's net, trial by
                                // trial: read it where the net is read, so the fan ends at the table's
                                // percentiles (the same sum says it is the same series).
                                let last = i + 1 == t && acc.bands.sums[k * t + i] == pa.net.sum;
                                let q = if last {
                                    pa.net_hist.quantiles_within(&BAND_LEVELS)
                                } else {
                                    acc.bands.quantiles(k * t + i, &BAND_LEVELS)
                                };
                                let (error, errors) = bounds(&q, 100.0);
                                Band {
                                    period: i as u16 + 1,
                                    mean: acc.bands.mean(k * t + i) / 100.0,
                                    p5: q[0].0 / 100.0,
                                    p25: q[1].0 / 100.0,
                                    p50: q[2].0 / 100.0,
                                    p75: q[3].0 / 100.0,
                                    p95: q[4].0 / 100.0,
                                    error,
                                    errors,
                                }
                            })
                            .collect(),
                    }
                })
                .collect::<Vec<PartyResult>>()
        },
        || acc.business.as_ref().and_then(|b| b.finish(c)),
    );
    let tranches = c
        .tranches
        .iter()
        .zip(&acc.tranches)
        .map(|(tr, ta)| TrancheStats {
            id: tr.id.clone(),
            investor: c.parties[tr.investor].id.clone(),
            committed: tr.committed.0 as f64 / 100.0,
            annual_rate: tr.annual_rate.to_f64(),
            rank: tr.rank,
            drawn: mean_se(&ta.drawn),
            received: mean_se(&ta.received),
            irr: RatioSummary {
                defined: ta.irr.n as f64 / n,
                summary: summary(&ta.irr, &ta.irr_hist, RATIO_SCALE),
            },
            multiple: RatioSummary {
                defined: ta.multiple.n as f64 / n,
                summary: summary(&ta.multiple, &ta.multiple_hist, RATIO_SCALE),
            },
            unrecovered_principal: mean_se(&ta.unrecovered),
            guarantee_calls: mean_se(&ta.guarantee),
            npv: mean_se(&ta.npv),
            prob_full_repayment: ta.repaid_n as f64 / n,
            prob_principal_loss: ta.loss_n as f64 / n,
        })
        .collect();
    // Risk distribution.
    let total_sum: i128 = acc.parties.iter().map(|p| p.loss.sum).sum();
    let want = crate::stats::tail_mass(0.05, acc.trials);
    let (tail, tail_error, party_error) = acc.tail.tail(want);
    let tail_total: f64 = tail.iter().sum();
    let risk = RiskDistribution {
        expected_total_loss: acc.total_loss.mean() / 100.0,
        tail_total_loss: if acc.trials > 0 {
            tail_total / want / 100.0
        } else {
            0.0
        },
        tail_total_loss_error: Some(if acc.trials > 0 {
            tail_error / want / 100.0
        } else {
            0.0
        }),
        parties: parties
            .iter()
            .zip(&acc.parties)
            .zip(tail.iter().zip(&party_error))
            .map(|((&p, pa), (&t, &e))| RiskShare {
                party: c.parties[p].id.clone(),
                expected_loss: pa.loss.mean() / 100.0,
                share_of_expected_loss: if total_sum > 0 {
                    pa.loss.sum as f64 / total_sum as f64
                } else {
                    0.0
                },
                share_of_tail_loss: if tail_total > 0.0 {
                    t / tail_total
                } else {
                    0.0
                },
                // The share `t / total` with `t` off by at most `e` and the total by at most
                // the total's bound: within `(e + share x bound) / (total - bound)`, and never
                // more than 1.
                share_of_tail_loss_error: Some(if e == 0.0 && tail_error == 0.0 {
                    0.0
                } else if tail_total > tail_error {
                    ((e + t / tail_total * tail_error) / (tail_total - tail_error)).min(1.0)
                } else {
                    1.0
                }),
            })
            .collect(),
    };
    Results {
        trials: acc.trials,
        failed_trials: acc.failed,
        failure: acc
            .first_failure
            .as_ref()
            .map(|(t, e)| format!("trial {t} could not be settled: {e}")),
        seed: cfg.seed,
        prob_early_termination: acc.terminated as f64 / n,
        prob_out_of_cash: acc.out_of_cash as f64 / n,
        outcome_payments: summary(&acc.outcome_payments, &acc.outcome_hist, 100.0),
        outcomes: c
            .outcomes
            .iter()
            .zip(&acc.per_outcome)
            .map(|(o, m)| OutcomeStats {
                id: o.id.clone(),
                paid: mean_se(m),
            })
            .collect(),
        parties: parties_out,
        tranches,
        risk,
        programme_costs: mean_se(&acc.programme_costs),
        held_at_end: mean_se(&acc.held),
        prob_held: acc.held_n as f64 / n,
        capital_returned: mean_se(&acc.returned),
        prob_capital_returned: acc.returned_n as f64 / n,
        business_case,
    }
}

/// The `summary_format` this version of sibsim writes and reads.
pub const SUMMARY_FORMAT: u32 = 1;

/// Which scenario produced a [`SummaryFile`].
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ScenarioInfo {
    /// The scenario file as given on the command line.
    pub file: String,
    /// The contract's name.
    pub name: String,
    /// The contract's currency code.
    pub currency: String,
    /// One period in words (`quarter`); absent in older files.
    #[serde(default = "default_period")]
    pub period: String,
    /// The `--set` overrides applied to the file, as given, in order (empty in older files).
    #[serde(default)]
    pub overrides: Vec<String>,
    /// The scenario file's text as it was read (before the overrides): with them, the terms
    /// that produced the results, even if the file changes later (empty in older files).
    #[serde(default)]
    pub text: String,
}

fn default_period() -> String {
    "period".into()
}

/// The document `simulate --out` writes as `summary.json` (fields in alphabetical order, as
/// the file has always had them).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SummaryFile {
    /// Everything the simulation produced.
    pub results: Results,
    /// The scenario.
    pub scenario: ScenarioInfo,
    /// Seed.
    pub seed: u64,
    /// The sibsim version that wrote it.
    pub sibsim_version: String,
    /// Layout version of this document ([`SUMMARY_FORMAT`]); 0 in files from before it had
    /// one (those have no distributions to chart).
    #[serde(default)]
    pub summary_format: u32,
    /// Trials.
    pub trials: u64,
}

impl SummaryFile {
    /// Reads a `summary.json`, or says in one sentence why it cannot be used (`name` names the
    /// file in the message).
    pub fn from_json(name: &str, text: &str) -> Result<SummaryFile, String> {
        let v: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| format!("{name} is not valid JSON ({e}); give the summary.json that `sibsim simulate --out DIR` wrote"))?;
        let format = v
            .get("summary_format")
            .and_then(|f| f.as_u64())
            .unwrap_or(0);
        if v.get("results").is_none() || v.get("sibsim_version").is_none() {
            return Err(format!(
                "{name} is not a sibsim summary (it has no `results` or `sibsim_version`); give the summary.json that `sibsim simulate --out DIR` wrote"
            ));
        }
        if format != SUMMARY_FORMAT as u64 {
            let writer = v["sibsim_version"].as_str().unwrap_or("an unknown version");
            return Err(format!(
                "{name} has summary format {format}, written by sibsim {writer}, but this sibsim ({}) reads format {SUMMARY_FORMAT}; run `sibsim simulate SCENARIO --out DIR` again to write it anew",
                env!("CARGO_PKG_VERSION")
            ));
        }
        let doc: SummaryFile = serde_path_to_error::deserialize(v).map_err(|e| {
            format!(
                "{name} does not have the layout of a sibsim summary at `{}`: {}; run `sibsim simulate SCENARIO --out DIR` again to write it anew",
                e.path(),
                e.inner()
            )
        })?;
        Ok(doc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A value on a bin's edge, as a chart draws the edge (`lo + i * w`), is in the bin above
    /// it for every window, not a bin low where `(x - lo) / w` rounds down; the window's ends
    /// are in the first and last bins, and a value between edges in the bin that holds it.
    #[test]
    fn a_value_on_a_bin_edge_is_in_the_bin_above_it() {
        let n = DIST_BINS;
        let mut below_by_division = 0;
        for i in 0..60 {
            let lo = 0.1 * i as f64 - 3.3;
            for j in 1..40 {
                let hi = lo + 0.7 * j as f64 + 0.3;
                let w = (hi - lo) / n as f64;
                for k in 0..n {
                    let x = lo + k as f64 * w;
                    below_by_division += usize::from((((x - lo) / w) as usize) < k);
                    assert_eq!(bin_of(x, lo, w, n), k, "lo {lo}, hi {hi}, edge {k}");
                    let mid = lo + (k as f64 + 0.5) * w;
                    assert_eq!(bin_of(mid, lo, w, n), k);
                }
                assert_eq!(bin_of(hi, lo, w, n), n - 1);
                assert_eq!(bin_of(lo - w, lo, w, n), 0);
            }
        }
        // The grid does hold edges that the division alone puts a bin low.
        assert!(below_by_division > 1000, "{below_by_division}");
        assert_eq!(bin_of(5.0, 1.0, 0.0, n), 0);
    }

    /// The pilot is shortened only for contracts with many histograms: the reference
    /// scenario's keeps its full length (so its results are as before the bound), one of 1,200
    /// periods records at most [`PILOT_SAMPLES`] values.
    #[test]
    fn the_pilot_records_a_bounded_number_of_values() {
        let hists = |text: &str| {
            let sc = crate::scenario::parse("t.toml", text).expect("valid");
            let n = reported_parties(&sc.contract).len();
            Acc::new(&sc.contract, n).histograms_mut().len() as u64
        };
        let reference = include_str!("../scenarios/reference.toml");
        let n = hists(reference);
        assert!(n * MAX_PILOT <= PILOT_SAMPLES, "{n} histograms");
        let long = reference.replace("periods = 24\n", "periods = 1200\n");
        assert!(
            long != reference,
            "the reference's periods are written as expected"
        );
        let n = hists(&long);
        assert!(n * MAX_PILOT > 4 * PILOT_SAMPLES, "{n} histograms");
    }

    /// Net flows by period (index 0 unused) of two parties in trial `t`. Party 0 moves no money
    /// in periods 2 and 3 (its bands of those periods repeat that of period 1) but in period 3
    /// of every third trial from `diverge` to `diverge + 30`. Party 1 moves money in every
    /// period.
    fn flows(t: u64, diverge: u64) -> [[i64; 5]; 2] {
        let x = (t * 7919 % 1000) as i64;
        let late = if (diverge..diverge.saturating_add(30)).contains(&t) && t % 3 == 0 {
            100 + x
        } else {
            0
        };
        [[0, 50 * x - 20_000, 0, late, 3 * x], [0, x, 2 * x, -x, 5]]
    }

    fn add(b: &mut Bands, trials: std::ops::Range<u64>, diverge: u64) {
        for t in trials {
            let f = flows(t, diverge);
            b.add(f.iter().map(|r| &r[..]));
        }
    }

    /// A pilot of `pilot` trials, anchored, with or without aliases.
    fn pilot(alias: bool, pilot: u64, diverge: u64) -> Bands {
        let mut b = Bands::new(2, 4);
        for h in &mut b.hists {
            *h = Histogram::recording(BAND_BITS).read_at(&BAND_LEVELS);
        }
        add(&mut b, 0..pilot, diverge);
        b.flush();
        if alias {
            b.alias_repeats();
        }
        for h in &mut b.hists {
            h.anchor_on_record_for(5_000);
        }
        b
    }

    /// Runs `trials` trials as a pilot and two workers that take alternate stretches of 100 (of
    /// a template copied from the pilot, as the engine does), merged into the pilot.
    fn run(alias: bool, trials: u64, diverge: u64) -> Bands {
        let mut p = pilot(alias, 300, diverge);
        let mut template = p.clone();
        template.n = 0;
        template.sums.fill(0);
        for h in &mut template.hists {
            *h = h.empty_like();
        }
        let (mut w1, mut w2) = (template.clone(), template);
        for (i, start) in (300..trials).step_by(100).enumerate() {
            let w = if i % 2 == 0 { &mut w1 } else { &mut w2 };
            add(w, start..(start + 100).min(trials), diverge);
        }
        p.merge(&w1);
        p.merge(&w2);
        p
    }

    #[test]
    fn aliased_bands_read_exactly_as_bands_that_count_on_their_own() {
        for diverge in [u64::MAX, 0, 1_000, 2_345, 4_980] {
            let (a, plain) = (run(true, 5_000, diverge), run(false, 5_000, diverge));
            let every: Vec<f64> = (1..100).map(|i| i as f64 / 100.0).collect();
            for b in 0..8 {
                assert_eq!(a.mean(b), plain.mean(b), "band {b}, diverge {diverge}");
                assert_eq!(a.hist(b).count(), 5_000, "band {b}, diverge {diverge}");
                assert_eq!(plain.hist(b).count(), 5_000, "band {b}, diverge {diverge}");
                assert_eq!(
                    a.hist(b).quantiles_within(&every),
                    plain.hist(b).quantiles_within(&every),
                    "band {b}, diverge {diverge}"
                );
            }
        }
        // Before they diverge, the repeating bands are aliases of the party's first band; the
        // other party's bands and party 0's period 4 count on their own.
        let p = pilot(true, 300, u64::MAX);
        assert_eq!(
            p.alias,
            [None, Some(0), Some(0), None, None, None, None, None]
        );
        // An alias keeps no histogram of its own (neither record nor counts): its root's is
        // read, and copied if it comes to differ.
        for b in [1, 2] {
            assert_eq!(p.hists[b].count(), 0, "band {b}");
            assert!(p.hists[b].anchors().len() <= 1, "band {b}");
        }
        assert_eq!(p.hist(1).count(), 300);
        // A divergence in the pilot leaves period 3 counting on its own; one after it makes it
        // copy its root when it first differs, and period 2 stays an alias throughout.
        assert_eq!(pilot(true, 300, 0).alias[1..4], [Some(0), None, None]);
        assert_eq!(run(true, 5_000, 1_000).alias[1..4], [Some(0), None, None]);
        assert_eq!(
            run(true, 5_000, u64::MAX).alias[1..4],
            [Some(0), Some(0), None]
        );
    }
}
