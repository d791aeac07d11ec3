//! Numerical helpers for the Monte Carlo engine: special functions (normal CDF, regularized
//! incomplete beta, Beta quantile), IRR and NPV of period cash flows, and **merge-order
//! independent** streaming statistics.
//!
//! Every accumulator here holds integers only (`i128` sums, `u64` counts), so merging partial
//! results in any order, on any number of threads, gives bit-identical results. Floating point
//! is used only when a finished accumulator is read.

/// `ln Γ(x)` for `x > 0` (Lanczos, g = 7, n = 9; relative error about 1e-15).
pub fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection.
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + G + 0.5;
    for (i, &c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// `erfc(x)`, to within a few units in the last place, in the tails too (the `libm` crate's
/// port of FreeBSD's msun: rational approximations, about 50 operations). The power series it
/// replaced cost about 600 instructions a call near `|x| = 3` and lost its relative accuracy
/// there to cancellation (1e-10 at 2.9).
pub fn erfc(x: f64) -> f64 {
    libm::erfc(x)
}

/// The standard normal CDF `Φ(z)`.
pub fn normal_cdf(z: f64) -> f64 {
    0.5 * erfc(-z / std::f64::consts::SQRT_2)
}

/// Regularized incomplete beta function `I_x(a, b)` (continued fraction, Numerical Recipes
/// `betacf` with modified Lentz; relative error about 1e-14 for moderate `a`, `b`).
pub fn inc_beta(a: f64, b: f64, x: f64) -> f64 {
    inc_beta_with(a, b, ln_beta_inv(a, b), x)
}

/// `ln(1 / B(a, b)) = ln Γ(a + b) - ln Γ(a) - ln Γ(b)`, the part of [`inc_beta`] that depends
/// on the shape only.
fn ln_beta_inv(a: f64, b: f64) -> f64 {
    ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b)
}

/// [`inc_beta`] with `ln_beta_inv` computed once by the caller (the same operations in the
/// same order, so the same result to the bit).
pub fn inc_beta_with(a: f64, b: f64, ln_beta_inv: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = ln_beta_inv + a * x.ln() + b * (1.0 - x).ln();
    let front = ln_front.exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_cf(a, b, x) / a
    } else {
        1.0 - front * beta_cf(b, a, 1.0 - x) / b
    }
}

fn beta_cf(a: f64, b: f64, x: f64) -> f64 {
    let tiny = 1e-300;
    let qab = a + b;
    let qap = a + 1.0;
    let qam = a - 1.0;
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < tiny {
        d = tiny;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..1000 {
        let m = m as f64;
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        if d.abs() < tiny {
            d = tiny;
        }
        c = 1.0 + aa / c;
        if c.abs() < tiny {
            c = tiny;
        }
        d = 1.0 / d;
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        if d.abs() < tiny {
            d = tiny;
        }
        c = 1.0 + aa / c;
        if c.abs() < tiny {
            c = tiny;
        }
        d = 1.0 / d;
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < 1e-15 {
            break;
        }
    }
    h
}

/// The `u`-quantile of Beta(a, b): Newton's method on [`inc_beta`] (its slope is the Beta
/// density), safeguarded by a bracket that every evaluation narrows and by bisection when a step
/// would leave it; it stops when a step or the bracket is below 1e-15. About 6 evaluations
/// instead of the 50 of plain bisection to the same tolerance.
pub fn beta_quantile(a: f64, b: f64, u: f64) -> f64 {
    if u <= 0.0 {
        return 0.0;
    }
    if u >= 1.0 {
        return 1.0;
    }
    // From the mean: the quantile function is smooth there.
    beta_quantile_from(a, b, ln_beta_inv(a, b), u, a / (a + b))
}

/// [`beta_quantile`] at each of the ascending probabilities `us`: the search for each starts
/// from the quantile before (the first from the mean), two or three Newton steps instead of
/// five to eight, for a table of quantiles along a grid (more in an upper tail where the
/// distribution function is flat to its last bit: there the search bisects).
pub fn beta_quantiles_ascending(a: f64, b: f64, us: impl IntoIterator<Item = f64>) -> Vec<f64> {
    let shape = ln_beta_inv(a, b);
    // The quantile found before and its probability (none yet: from the mean).
    let mut before: Option<(f64, f64)> = None;
    us.into_iter()
        .map(|u| {
            if u <= 0.0 {
                return 0.0;
            }
            if u >= 1.0 {
                return 1.0;
            }
            let start = match before {
                None => a / (a + b),
                Some((q, v)) => {
                    // Taylor from the quantile before: Q' = 1 / density(Q) and
                    // Q'' = -(f'/f)(Q) Q'^2, so most searches end after two steps.
                    let slope = (-(shape + (a - 1.0) * q.ln() + (b - 1.0) * (1.0 - q).ln())).exp();
                    let bend = -((a - 1.0) / q - (b - 1.0) / (1.0 - q)) * slope * slope;
                    let du = u - v;
                    let x = q + slope * du + 0.5 * bend * du * du;
                    if x > q && x < 1.0 { x } else { q }
                }
            };
            let x = beta_quantile_from(a, b, shape, u, inside(start));
            before = Some((inside(x), u));
            x
        })
        .collect()
}

/// [`beta_quantile`] for `u` strictly between 0 and 1, its Newton steps starting from `x`
/// (guarded by bisection, so any start in (0, 1) converges; a start near the answer, such as
/// the quantile of a nearby probability, saves most of the steps).
fn beta_quantile_from(a: f64, b: f64, shape: f64, u: f64, mut x: f64) -> f64 {
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    for _ in 0..200 {
        let f = inc_beta_with(a, b, shape, x) - u;
        if f < 0.0 {
            lo = x;
        } else {
            hi = x;
        }
        if hi - lo < 1e-15 {
            return 0.5 * (lo + hi);
        }
        let density = (shape + (a - 1.0) * x.ln() + (b - 1.0) * (1.0 - x).ln()).exp();
        let step = f / density;
        // A Newton step this small is the answer, even where it does not leave `x` (which
        // is then an end of the bracket): bisecting instead jumped halfway across the bracket
        // and took a dozen or more evaluations to come back. (Where `f` is exactly 0, in a
        // tail where the distribution function is flat to its last bit over a stretch of
        // `x`, the bisection goes on to the stretch's lower end, as it always did.)
        if step.abs() < 1e-15 && f != 0.0 {
            return x - step;
        }
        let mut next = x - step;
        if !(next > lo && next < hi) {
            next = 0.5 * (lo + hi);
        }
        if (next - x).abs() < 1e-15 {
            return next;
        }
        x = next;
    }
    x
}

/// `x` moved into the open interval (0, 1), where the Beta's log-density is finite.
fn inside(x: f64) -> f64 {
    x.clamp(f64::MIN_POSITIVE, 1.0 - f64::EPSILON)
}

/// Knots of [`BetaQuantiles`]: the quantile function is tabulated at `k / BETA_KNOTS`...
const BETA_KNOTS: usize = 256;
/// ... for `k` from `BETA_TAIL` to `BETA_KNOTS - BETA_TAIL`; below and above, where the
/// quantile function behaves as a power of the probability that a cubic follows poorly, it is
/// computed exactly. The error of the quintic next to them falls as `BETA_TAIL^-6`.
const BETA_TAIL: usize = 8;

/// The quantile function of a Beta(a, b) with `a, b >= 1` (a PERT's shape), for sampling by
/// inversion at the cost of a table look-up: [`beta_quantile`] at 241 knots with its first
/// and second derivatives there, a quintic Hermite between them, and [`beta_quantile`] itself
/// in the first and last thirty-second of probability, where its slope grows without bound
/// (building a table costs about 1.5M instructions, half a millisecond). Within 1e-9 of
/// [`beta_quantile`] everywhere (a unit test checks a fine grid of shapes and probabilities)
/// and increasing in the probability, so a draw moves steadily as the shape changes: common random numbers keep
/// their meaning across variants of a PERT's bounds, as they do for the other distributions.
#[derive(Clone, Debug, PartialEq)]
pub struct BetaQuantiles {
    a: f64,
    b: f64,
    /// `ln(1 / B(a, b))`.
    shape: f64,
    /// `(Q, Q', Q'')` at knot `BETA_TAIL + i`: the quantile, its slope `1 / density(Q)` and
    /// its second derivative.
    knots: Vec<(f64, f64, f64)>,
}

impl BetaQuantiles {
    /// The table for Beta(`a`, `b`); `a` and `b` at least 1 (a PERT's are 1 to 5).
    pub fn new(a: f64, b: f64) -> Self {
        let shape = ln_beta_inv(a, b);
        // Each knot's Newton steps start from the one before (the first from the exact
        // quantile): two or three steps each instead of five to eight from the mean.
        let mut q = beta_quantile(a, b, BETA_TAIL as f64 / BETA_KNOTS as f64);
        let knots = (BETA_TAIL..=BETA_KNOTS - BETA_TAIL)
            .map(|k| {
                q = beta_quantile_from(a, b, shape, k as f64 / BETA_KNOTS as f64, q);
                let ln_density = shape + (a - 1.0) * q.ln() + (b - 1.0) * (1.0 - q).ln();
                let slope = (-ln_density).exp();
                // Q'' = -(f'/f)(Q) Q'^2, with f'/f = (a - 1)/x - (b - 1)/(1 - x).
                let bend = -((a - 1.0) / q - (b - 1.0) / (1.0 - q)) * slope * slope;
                (q, slope, bend)
            })
            .collect();
        BetaQuantiles { a, b, shape, knots }
    }

    /// The `u`-quantile (`u` in [0, 1)).
    #[inline]
    pub fn at(&self, u: f64) -> f64 {
        let t = u * BETA_KNOTS as f64;
        let k = t as usize;
        if k < BETA_TAIL {
            if u <= 0.0 {
                return 0.0;
            }
            // Near 0 the quantile grows as `u^(1/a)`: from the first knot along that power,
            // two or three Newton steps instead of six to eight from the mean.
            let q = self.knots[0].0;
            let x = q * (t / BETA_TAIL as f64).powf(1.0 / self.a);
            return beta_quantile_from(self.a, self.b, self.shape, u, inside(x));
        }
        if k >= BETA_KNOTS - BETA_TAIL {
            if u >= 1.0 {
                return 1.0;
            }
            // Near 1, `1 - Q` shrinks as `(1 - u)^(1/b)`.
            let q = self.knots[self.knots.len() - 1].0;
            let x =
                1.0 - (1.0 - q) * ((BETA_KNOTS as f64 - t) / BETA_TAIL as f64).powf(1.0 / self.b);
            return beta_quantile_from(self.a, self.b, self.shape, u, inside(x));
        }
        let (q0, s0, c0) = self.knots[k - BETA_TAIL];
        let (q1, s1, c1) = self.knots[k + 1 - BETA_TAIL];
        let h = 1.0 / BETA_KNOTS as f64;
        let f = t - k as f64;
        let f2 = f * f;
        let f3 = f2 * f;
        let f4 = f3 * f;
        let f5 = f4 * f;
        // The quintic Hermite basis: values, slopes and second derivatives at both ends.
        let x = (1.0 - 10.0 * f3 + 15.0 * f4 - 6.0 * f5) * q0
            + (f - 6.0 * f3 + 8.0 * f4 - 3.0 * f5) * h * s0
            + 0.5 * (f2 - 3.0 * f3 + 3.0 * f4 - f5) * h * h * c0
            + (10.0 * f3 - 15.0 * f4 + 6.0 * f5) * q1
            + (-4.0 * f3 + 7.0 * f4 - 3.0 * f5) * h * s1
            + 0.5 * (f3 - 2.0 * f4 + f5) * h * h * c1;
        x.clamp(q0, q1)
    }
}

/// The nearest rank of the `q`-quantile among `n` values (1-based): `ceil(q n)`, where a product
/// a rounding error above a whole number counts as that number (`0.35000000000000003 x 500` is
/// rank 175, as 0.35 of 500 is).
pub fn nearest_rank(q: f64, n: u64) -> u64 {
    let x = q * n as f64;
    let whole = x.round();
    let r = if (x - whole).abs() <= 1e-9 * whole.max(1.0) {
        whole
    } else {
        x.ceil()
    };
    (r as u64).clamp(1, n.max(1))
}

/// The bisection [`beta_quantile`] replaced (50 evaluations), kept to test it against.
#[cfg(test)]
fn beta_quantile_bisection(a: f64, b: f64, u: f64) -> f64 {
    if u <= 0.0 {
        return 0.0;
    }
    if u >= 1.0 {
        return 1.0;
    }
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        if inc_beta(a, b, mid) < u {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo < 1e-15 {
            break;
        }
    }
    0.5 * (lo + hi)
}

/// Beta shape parameters `(a, b)` with the given mean and standard deviation; requires
/// `0 < mean < 1` and `0 < sd^2 < mean (1 - mean)`.
pub fn beta_params(mean: f64, sd: f64) -> (f64, f64) {
    let k = mean * (1.0 - mean) / (sd * sd) - 1.0;
    (mean * k, (1.0 - mean) * k)
}

/// Net present value of `flows[1..]` (index 0 ignored) at the per-period rate `r`, discounting
/// period `p` by `(1 + r)^p`.
pub fn npv(flows: &[i64], r: f64) -> f64 {
    let d = 1.0 / (1.0 + r);
    let mut f = d;
    let mut acc = 0.0;
    for &x in flows.iter().skip(1) {
        acc += x as f64 * f;
        f *= d;
    }
    acc
}

/// Discount factors `d[p] = (1 + r)^-p` for periods `0..=periods`, built by the same repeated
/// multiplication as [`npv`], so [`npv_with`] gives bit-identical results.
pub fn discount_factors(r: f64, periods: usize) -> Vec<f64> {
    let d = 1.0 / (1.0 + r);
    let mut out = Vec::with_capacity(periods + 1);
    out.push(1.0);
    let mut f = d;
    for _ in 0..periods {
        out.push(f);
        f *= d;
    }
    out
}

/// [`npv`] with precomputed [`discount_factors`] (index 0 ignored, as in [`npv`]).
#[inline]
pub fn npv_with(flows: &[i64], factors: &[f64]) -> f64 {
    let n = flows.len().min(factors.len());
    let (x, f) = (&flows[1.min(n)..n], &factors[1.min(n)..n]);
    // Four terms a step, added in the same order as one at a time (so the same result), with
    // a quarter of the loop's bookkeeping; the rest one at a time.
    let mut acc = 0.0;
    let (x4, f4) = (x.chunks_exact(4), f.chunks_exact(4));
    let (xr, fr) = (x4.remainder(), f4.remainder());
    for (x, f) in x4.zip(f4) {
        acc += x[0] as f64 * f[0];
        acc += x[1] as f64 * f[1];
        acc += x[2] as f64 * f[2];
        acc += x[3] as f64 * f[3];
    }
    for (&x, &f) in xr.iter().zip(fr) {
        acc += x as f64 * f;
    }
    acc
}

/// [`npv_with`] of several rows of a row-major matrix at once: `out[r]` becomes the NPV of
/// row `r` for each `r` in `rows` (`stride` values each; index 0 of a row ignored); other
/// entries of `out` are left alone. Each row is summed in the same
/// order as [`npv_with`], so each result is bit-identical to it; the rows are summed side by
/// side, four at a time, so their independent additions overlap instead of waiting on one
/// another.
#[inline]
pub fn npv_rows(data: &[i64], stride: usize, rows: &[usize], factors: &[f64], out: &mut [f64]) {
    let f = &factors[..stride.min(factors.len())];
    for rows in rows.chunks(4) {
        if let &[a, b, c, d] = rows {
            let (ra, rb) = (
                &data[a * stride..][..f.len()],
                &data[b * stride..][..f.len()],
            );
            let (rc, rd) = (
                &data[c * stride..][..f.len()],
                &data[d * stride..][..f.len()],
            );
            let mut acc = [0.0f64; 4];
            for t in 1..f.len() {
                acc[0] += ra[t] as f64 * f[t];
                acc[1] += rb[t] as f64 * f[t];
                acc[2] += rc[t] as f64 * f[t];
                acc[3] += rd[t] as f64 * f[t];
            }
            (out[a], out[b], out[c], out[d]) = (acc[0], acc[1], acc[2], acc[3]);
        } else {
            for &r in rows {
                out[r] = npv_with(&data[r * stride..(r + 1) * stride], factors);
            }
        }
    }
}

/// Annualised internal rate of return of period cash flows `flows[1..]` (positive = received).
///
/// Solves `NPV(r) = 0` for the period rate in [-0.9999, 10] by Newton's method safeguarded by
/// bisection (precision far below 1e-9), then annualises: `(1 + r)^per_year - 1`.
/// Returns `Some(-1.0)` (-100%) when money went out and nothing came back, `None` when nothing
/// went out or no root exists in the bracket.
pub fn irr(flows: &[i64], per_year: u32) -> Option<f64> {
    // Trailing zero flows add exactly +0 to the NPV and its slope while the discount factors
    // are finite (about 1e4^t at the bracket's low end: up to 77 periods), so they are left out
    // (beyond that, leaving them out also avoids 0 x inf = NaN).
    let end = flows.iter().rposition(|&x| x != 0).map_or(0, |i| i + 1);
    let flows = &flows[..end];
    let body = flows.get(1..).unwrap_or(&[]);
    // The money out and back with their weighted dates (for the starting guess below); money
    // went out when `out > 0` and came back when `back > 0`.
    let (mut out, mut back, mut t_out, mut t_back) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    for (t, &x) in body.iter().enumerate() {
        let x = x as f64;
        if x < 0.0 {
            out -= x;
            t_out -= x * t as f64;
        } else {
            back += x;
            t_back += x * t as f64;
        }
    }
    if out == 0.0 {
        return None;
    }
    if back == 0.0 {
        return Some(-1.0);
    }
    // The sign of the NPV at `r`. Near the bracket's low end the discount factors
    // `1e4^t` overflow past about 77 periods, and the NPV of flows of both signs is
    // inf - inf = NaN: its sign is then taken from the NPV times `(1 + r)^T`, a polynomial in
    // `1 + r < 1` that cannot overflow (before, a NaN read as "not the low end's sign" sent
    // every step down, and a 120-period fund repaid with a profit read -100%).
    let sign = |v: f64, r: f64| {
        if v.is_nan() {
            npv_scaled(flows, r).signum()
        } else {
            v.signum()
        }
    };
    let (mut lo, mut hi) = (-0.9999f64, 10.0f64);
    let (flo, fhi) = (sign(npv(flows, lo), lo), sign(npv(flows, hi), hi));
    if flo == fhi {
        return None;
    }
    // Newton's method on the period rate, safeguarded by the bracket [lo, hi]: a step that
    // leaves the bracket is replaced by bisection, so it converges like bisection at worst.
    // Started from the rate that turns the money out into the money back over the time between
    // their weighted mean dates (exact for one outflow and one inflow), which saves a few
    // iterations on loan-like flows.
    let span = t_back / back - t_out / out;
    let guess = if span >= 1.0 {
        (back / out).powf(1.0 / span) - 1.0
    } else {
        0.01
    };
    let mut r = if guess > lo && guess < hi {
        guess
    } else {
        0.01
    };
    // A Newton step is taken only while the steps shrink (each at most half the one before
    // the last, as in Numerical Recipes' `rtsafe`): far from the root of long flows, Newton
    // creeps by a constant step (1/T of the rate) and 200 of them did not get there (a
    // 445-period flow read -20.5% for +1.7%).
    let (mut step_before, mut step_last) = (hi - lo, hi - lo);
    for _ in 0..200 {
        let (v, dv) = npv_and_slope(flows, r);
        if v == 0.0 {
            break;
        }
        if sign(v, r) == flo {
            lo = r;
        } else {
            hi = r;
        }
        let newton = if dv != 0.0 { v / dv } else { f64::NAN };
        // At the root within what a rate can resolve (the NPV is rounding noise there, and
        // its sign may put the root itself at an end of the bracket).
        if newton.abs() < 1e-14 {
            break;
        }
        let mut next = r - newton;
        if !(next > lo && next < hi) || (2.0 * newton).abs() > step_before.abs() {
            next = 0.5 * (lo + hi);
        }
        step_before = step_last;
        step_last = next - r;
        let step = (next - r).abs();
        r = next;
        if step < 1e-14 || hi - lo < 1e-13 {
            break;
        }
    }
    Some((1.0 + r).powi(per_year as i32) - 1.0)
}

/// The NPV of `flows[1..]` at period rate `r` times `(1 + r)^T`, `T` the last period: the
/// same sign, and finite for `-1 < r <= 0` however long the flows (Horner's rule in `1 + r`).
fn npv_scaled(flows: &[i64], r: f64) -> f64 {
    let q = 1.0 + r;
    flows.iter().skip(1).fold(0.0, |acc, &x| acc * q + x as f64)
}

/// NPV of `flows[1..]` at period rate `r` and its derivative with respect to `r`.
fn npv_and_slope(flows: &[i64], r: f64) -> (f64, f64) {
    let d = 1.0 / (1.0 + r);
    let mut f = d;
    let (mut v, mut dv) = (0.0, 0.0);
    for (t, &x) in flows.iter().enumerate().skip(1) {
        let x = x as f64;
        v += x * f;
        dv -= t as f64 * x * f * d;
        f *= d;
    }
    (v, dv)
}

/// Scale of quantised ratios (IRR, multiples): 1e-9.
pub const RATIO_SCALE: f64 = 1e9;

/// Quantises a ratio to an integer number of 1e-9 (so sums are merge-order independent).
#[inline]
pub fn quantise(x: f64) -> i64 {
    round_to_i64(x * RATIO_SCALE)
}

/// Exactly `x.round() as i64` (half away from zero; saturating; NaN to 0), without the call to
/// `round` (not an instruction on the baseline x86-64 target, and a few dozen in software).
///
/// `x as i64` truncates (saturating), and for `|x| < 2^63` the fraction `x - trunc(x)` is exact;
/// at or beyond `2^63` the truncation already saturated, and the saturating step keeps it there.
#[inline]
pub fn round_to_i64(x: f64) -> i64 {
    let t = x as i64;
    let frac = x - t as f64;
    if frac >= 0.5 {
        t.saturating_add(1)
    } else if frac <= -0.5 {
        t.saturating_sub(1)
    } else {
        t
    }
}

/// Count, sum and sum of squares of integer samples, exact in `i128`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Moments {
    /// Number of samples.
    pub n: u64,
    /// Sum of samples.
    pub sum: i128,
    /// Sum of squared samples, modulo 2^128: only the sum of squared deviations from the
    /// mean, formed from it in [`Moments::sd`], needs to fit (it does where the spread times the
    /// number of samples does), not the squares of large samples themselves.
    pub sumsq: i128,
}

impl Moments {
    /// Adds a sample.
    #[inline]
    pub fn add(&mut self, x: i64) {
        self.n += 1;
        self.sum += x as i128;
        self.sumsq = self.sumsq.wrapping_add((x as i128) * (x as i128));
    }
    /// Adds another accumulator.
    pub fn merge(&mut self, o: &Moments) {
        self.n += o.n;
        self.sum += o.sum;
        self.sumsq = self.sumsq.wrapping_add(o.sumsq);
    }
    /// The mean (`0` with no samples).
    pub fn mean(&self) -> f64 {
        if self.n == 0 {
            0.0
        } else {
            self.sum as f64 / self.n as f64
        }
    }
    /// The sample standard deviation (`0` with fewer than two samples). Computed exactly in
    /// integers around the floor of the mean, then in `f64`.
    pub fn sd(&self) -> f64 {
        if self.n < 2 {
            return 0.0;
        }
        let n = self.n as i128;
        let q = self.sum.div_euclid(n);
        let r = self.sum.rem_euclid(n);
        // sum (x - q)^2 = sumsq - 2 q sum + n q^2; fits in i128 even where the terms do not.
        let ssq = self
            .sumsq
            .wrapping_sub(2i128.wrapping_mul(q).wrapping_mul(self.sum))
            .wrapping_add(n.wrapping_mul(q).wrapping_mul(q));
        let ss = ssq as f64 - (r as f64) * (r as f64) / self.n as f64;
        (ss.max(0.0) / (self.n - 1) as f64).sqrt()
    }
    /// Monte Carlo standard error of the mean: `sd / sqrt(n)`.
    pub fn se(&self) -> f64 {
        if self.n == 0 {
            0.0
        } else {
            self.sd() / (self.n as f64).sqrt()
        }
    }
}

/// Most anchors a [`Histogram`] counts around besides 0 (see [`choose_anchors`]).
pub const MAX_ANCHORS: usize = 3;

/// A log-linear (HDR-style) histogram of signed integers with `k` mantissa bits, counted around
/// *anchors*.
///
/// Every value is counted as its distance from its anchor, the nearest of up to
/// [`MAX_ANCHORS`] + 1 values fixed before the first sample: 0 alone for [`Histogram::new`];
/// for the engine's figures, 0 and the medians of the point masses and tight clusters a pilot
/// found ([`choose_anchors`]). The anchors' *zones* meet halfway between neighbouring anchors.
/// Distances `|d| < 2^k` have their own bucket (exact). Larger distances fall in buckets given
/// by the leading bit and the next `k` bits of `|d|`, so a bucket spans at most `2^-k` of the
/// distance; a percentile read as the bucket's midpoint (clipped to its zone) is within
/// `2^-(k+1)` of its distance from its anchor of the actual sample at that rank.
///
/// So a value within `2^k` of an anchor (a point mass, such as a loan repaid at exactly its
/// rate, or a tight cluster) is read exactly, and while 0 is an anchor no value is read more
/// coarsely than by the plain log-linear histogram around 0 alone. ([`choose_anchors`] leaves 0
/// out only when no pilot value is nearer to 0 than to another anchor.)
///
/// Layout, chosen for the cache (a simulation adds to a few hundred histograms per trial): per
/// zone and sign one contiguous window of counts over the binary orders of magnitude seen so far
/// (blocks of `2^k` buckets), grown on demand. The window of a figure that spans a few orders
/// of magnitude is a few KiB. Counts are 16-bit, so twice as many buckets share a cache line;
/// a count that would pass `u16::MAX` wraps and the wrap is recorded separately, so counts are
/// exact for any number of samples. Memory: at most `2 x (65 - k) x 2^k x 2` bytes per zone
/// (k = 10: 0.25 MiB; k = 7: 16 KiB), in practice a few blocks.
#[derive(Clone, Debug)]
pub struct Histogram {
    k: u32,
    /// Most samples kept in `exact` ([`Histogram::exact_up_to`]; 0 by default).
    exact_limit: u32,
    /// The zones in ascending order of value; the first starts at `i64::MIN`, and one has anchor 0.
    zones: Vec<Zone>,
    /// Samples added but not yet counted: adding is a write to this buffer, and the buffer is
    /// counted in one go when full (or before the buckets are read). A simulation adds to a few
    /// hundred histograms per trial; counting in batches keeps each histogram's buckets in the
    /// cache for a whole batch instead of missing the cache on almost every sample.
    pending: Vec<i64>,
    /// A recording histogram ([`Histogram::recording`]) keeps its samples here, uncounted, until
    /// [`Histogram::anchor_on_record`] chooses its anchors from them.
    record: Option<Vec<i64>>,
    /// The probabilities the histogram will be read at ([`Histogram::read_at`]): where a
    /// recording histogram plans its [`Focus`] stretches.
    levels: &'static [f64],
    /// Finely counted stretches of values around the expected places of `levels`' quantiles
    /// (planned from the record, [`Histogram::anchor_on_record_for`]); disjoint, ascending.
    focus: Vec<Focus>,
    /// Every sample counted, in no order, while there are at most `exact_limit` (`None` once
    /// there were more, or when the limit is 0): its quantiles and tail mean are then read
    /// exactly.
    exact: Option<Vec<i64>>,
}

/// A stretch of values a [`Histogram`] also counts in equal buckets of `2^shift` units, fine
/// enough that a quantile read there is within a small share of its Monte Carlo error (see
/// [`Histogram::anchor_on_record_for`]). With the count of the samples below it, a quantile
/// whose rank falls inside is read from these buckets: exactly, where the stretch is on a
/// [`Lattice`] and the samples in the bucket read were on it or listed as [`Strays`].
#[derive(Clone, Debug)]
struct Focus {
    /// The least value counted.
    lo: i64,
    /// Buckets are `2^shift` units wide.
    shift: u32,
    /// `counts.len() << shift` (at most 2^62): values `lo..lo + span` are counted.
    span: u64,
    /// Samples below `lo`.
    below: u64,
    /// Samples seen (in or out of the stretch); a stretch is only read when it saw every sample
    /// of its histogram.
    n: u64,
    /// 16-bit counts, as the log-linear buckets' (twice as many to a cache line).
    counts: Vec<u16>,
    /// Buckets whose 16-bit count wrapped: bucket -> wraps of 2^16 (a point mass, or a lattice
    /// point, holds far more samples than a bucket of a smooth stretch).
    wraps: std::collections::BTreeMap<u32, u64>,
    /// The lattice the record's values in the stretch lie on, where its step is at least a
    /// bucket's width (each bucket then holds at most one lattice point).
    lattice: Option<Lattice>,
    /// The samples in the stretch that were off `lattice`.
    strays: Strays,
}

/// The samples of a [`Focus`] off its lattice (rare: a lattice seen in the record that a few
/// trials leave, such as a guarantee call in odd cents): each exactly while they are few, so
/// that a bucket is still read exactly, else the buckets that hold any. Either way a function
/// of the samples counted, not of their order or how they were split and merged.
#[derive(Clone, Debug, PartialEq)]
enum Strays {
    /// Every one (at most [`MAX_STRAYS`]), in no order.
    Listed(Vec<i64>),
    /// A bit per bucket: whether it holds one.
    Dirty(Vec<u64>),
}

/// Most strays a [`Focus`] lists before it marks their buckets instead.
const MAX_STRAYS: usize = 64;

impl Strays {
    /// A bit per bucket of a stretch (from `lo`, `2^shift` wide, `buckets` of them): whether
    /// it holds one of `values`.
    fn dirty(values: &[i64], lo: i64, shift: u32, buckets: usize) -> Vec<u64> {
        let mut bits = vec![0u64; buckets.div_ceil(64)];
        for &v in values {
            Strays::mark(&mut bits, (v.wrapping_sub(lo) as u64 >> shift) as usize);
        }
        bits
    }

    /// Sets bucket `b`'s bit.
    fn mark(bits: &mut [u64], b: usize) {
        bits[b / 64] |= 1 << (b % 64);
    }

    /// Adds the strays of the same stretch of another histogram.
    fn merge(&mut self, o: &Strays, lo: i64, shift: u32, buckets: usize) {
        let bits = |s: &Strays| match s {
            Strays::Listed(v) => Strays::dirty(v, lo, shift, buckets),
            Strays::Dirty(b) => b.clone(),
        };
        match (&mut *self, o) {
            (Strays::Listed(a), Strays::Listed(b)) if a.len() + b.len() <= MAX_STRAYS => {
                a.extend_from_slice(b)
            }
            _ => {
                let mut mine = bits(self);
                for (a, b) in mine.iter_mut().zip(bits(o)) {
                    *a |= b;
                }
                *self = Strays::Dirty(mine);
            }
        }
    }
}

/// Values `lo + j step` (`j` an integer) of a [`Focus`] whose buckets are at most `step` wide:
/// a sample in a bucket is then that bucket's one lattice point, exactly. Amounts in a bond are
/// often on such a lattice (units times a price, split in fixed shares), and a quantile there
/// sits on one point for most seeds, so its Monte Carlo error is far below any bucket's width.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Lattice {
    /// The distance between lattice points (at least 2).
    step: u64,
    /// `step`'s odd part's inverse modulo 2^64.
    inverse: u64,
    /// `step`'s trailing zero bits.
    zeros: u32,
    /// `u64::MAX / step`.
    limit: u64,
}

impl Lattice {
    fn new(step: u64) -> Self {
        debug_assert!(step >= 2);
        let zeros = step.trailing_zeros();
        let odd = step >> zeros;
        // Newton's iteration doubles the correct low bits: 3 -> 6 -> 12 -> 24 -> 48 -> 96.
        let mut inverse = odd;
        for _ in 0..5 {
            inverse = inverse.wrapping_mul(2u64.wrapping_sub(odd.wrapping_mul(inverse)));
        }
        Lattice {
            step,
            inverse,
            zeros,
            limit: u64::MAX / step,
        }
    }

    /// Whether `step` divides `d`, without a division: `d = step x q` exactly when `d` times
    /// the odd part's inverse, rotated right by the trailing zeros, is at most `u64::MAX /
    /// step` (Granlund and Montgomery's test).
    #[inline(always)]
    fn divides(&self, d: u64) -> bool {
        d.wrapping_mul(self.inverse).rotate_right(self.zeros) <= self.limit
    }
}

/// How many standard errors either side of a quantile's estimate from the record a [`Focus`]
/// reaches (in ranks of the record, distribution-free): the run's quantile falls outside with a
/// chance of about 6e-5, and is then read from the log-linear buckets.
const FOCUS_Z: f64 = 4.0;
/// A focus bucket's half-width, at most, as a share of the Monte Carlo standard error of
/// the quantile read there (planned from the record's density; the power-of-two widths make it
/// finer still).
pub const FOCUS_SHARE: f64 = 0.1;
/// Most buckets in one [`Focus`] (64 KiB); a wider stretch gets wider buckets.
const MAX_FOCUS_BUCKETS: u64 = 1 << 15;
/// Stretches stay within +/- this, where every value is exact as an `f64`.
const FOCUS_LIMIT: i64 = 1 << 52;

/// The longest run `sorted[i..=j]` of the ascending `sorted` whose values span at most `span`
/// (`sorted[j] - sorted[i] <= span`), as indices plus `offset`; the first of the longest.
fn widest_within(sorted: &[i64], span: u64, offset: usize) -> (usize, usize) {
    let (mut best, mut i) = ((0, 0), 0);
    for (j, &v) in sorted.iter().enumerate() {
        while v.abs_diff(sorted[i]) > span {
            i += 1;
        }
        if j - i > best.1 - best.0 {
            best = (i, j);
        }
    }
    (best.0 + offset, best.1 + offset)
}

/// Record values per [`densest`] run: the density a focus is planned for is read over runs of
/// this many consecutive values (enough that a run's spread is a fair measure of the density,
/// few enough to see where the values crowd inside a stretch).
const FOCUS_RUN: usize = 16;

/// The most values per unit over any run of `run` consecutive values of the ascending
/// `sorted` (of `len - 1` steps where it is shorter) whose ends differ: where the density of a
/// stretch is highest. A stretch's average understates it wherever the density varies over
/// the stretch (the bank's cash at a 5th percentile, at the edge of the cluster of trials that
/// repaid it in full: the average planned buckets whose half-width was 0.27 of the Monte Carlo
/// error, where 0.1 was meant), and many times over where the stretch spans a gap between
/// clusters. `0` where every value is the same.
fn densest(sorted: &[i64], run: usize) -> f64 {
    let run = run.min(sorted.len().saturating_sub(1)).max(1);
    sorted
        .iter()
        .zip(sorted.iter().skip(run))
        .filter(|(a, b)| b > a)
        .map(|(a, b)| run as f64 / (*b as i128 - *a as i128) as f64)
        .fold(0.0, f64::max)
}

impl Focus {
    fn empty_like(&self) -> Self {
        Focus {
            below: 0,
            n: 0,
            counts: vec![0; self.counts.len()],
            wraps: Default::default(),
            strays: Strays::Listed(Vec::new()),
            ..*self
        }
    }

    /// Counts `values` (see [`count_focus`]), with AVX2 where the processor has it.
    #[inline]
    fn count(&mut self, values: &[i64]) {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the processor has AVX2, checked just above.
            unsafe { count_focus_avx2(self, values) }
        } else {
            count_focus(self, values)
        }
        #[cfg(not(target_arch = "x86_64"))]
        count_focus(self, values);
        self.n += values.len() as u64;
    }

    /// Adds the counts of the same stretch of another histogram, in a loop the compiler
    /// vectorises; a second pass finds the buckets that wrapped, only if one did.
    fn merge(&mut self, o: &Focus) {
        debug_assert_eq!((self.lo, self.shift, self.span), (o.lo, o.shift, o.span));
        debug_assert_eq!(self.lattice, o.lattice);
        self.n += o.n;
        self.below += o.below;
        let buckets = self.counts.len();
        self.strays.merge(&o.strays, self.lo, self.shift, buckets);
        for (&i, &c) in &o.wraps {
            *self.wraps.entry(i).or_insert(0) += c;
        }
        let mut carried = false;
        for (a, &b) in self.counts.iter_mut().zip(&o.counts) {
            let sum = a.wrapping_add(b);
            carried |= sum < b;
            *a = sum;
        }
        if carried {
            // The 16-bit sum wrapped exactly when it came out below what was added.
            for (i, (&a, &b)) in self.counts.iter().zip(&o.counts).enumerate() {
                if a < b {
                    *self.wraps.entry(i as u32).or_insert(0) += 1;
                }
            }
        }
    }

    /// The sample of rank `t` (1-based) in bucket `i` of a stretch on lattice `l`, exactly:
    /// the bucket holds its one lattice point and the strays listed in it. `None` where a
    /// stray in it was not listed.
    fn exact(&self, l: Lattice, i: usize, t: u64) -> Option<i64> {
        let step = i128::from(l.step);
        let from = (i as i128) << self.shift;
        let point = self.lo as i128 + (from + step - 1) / step * step;
        let mut mine: Vec<i64> = match &self.strays {
            Strays::Listed(v) => v
                .iter()
                .copied()
                .filter(|&v| (v.wrapping_sub(self.lo) as u64 >> self.shift) as usize == i)
                .collect(),
            Strays::Dirty(bits) if bits[i / 64] >> (i % 64) & 1 == 1 => return None,
            Strays::Dirty(_) => Vec::new(),
        };
        mine.sort_unstable();
        // In order: the strays below the point, the point's samples, the strays above.
        let on = self.bucket(i) - mine.len() as u64;
        debug_assert!(on == 0 || point < from + self.lo as i128 + (1i128 << self.shift));
        let under = mine.partition_point(|&v| (v as i128) < point) as u64;
        Some(if t <= under {
            mine[t as usize - 1]
        } else if t <= under + on {
            point as i64
        } else {
            mine[(t - on) as usize - 1]
        })
    }

    /// Samples counted in bucket `i`.
    fn bucket(&self, i: usize) -> u64 {
        let wraps = if self.wraps.is_empty() {
            0
        } else {
            self.wraps.get(&(i as u32)).copied().unwrap_or(0)
        };
        u64::from(self.counts[i]) + (wraps << 16)
    }

    /// Reads the samples of the ascending `ranks` (1-based, of `n`) that fall in the stretch
    /// into `out` as (the sample, 0) on a lattice, else (the midpoint of the bucket, the most
    /// that midpoint can be from the sample), where that is closer than what `out` holds.
    fn read(&self, n: u64, ranks: &[u64], out: &mut [(f64, f64)]) {
        if self.n != n {
            return;
        }
        let below = self.below;
        let half = 0.5 * ((1u64 << self.shift) - 1) as f64;
        let first = ranks.partition_point(|&r| r <= below);
        let (mut seen, mut i) = (below, 0usize);
        for (o, &rank) in out[first..].iter_mut().zip(&ranks[first..]) {
            while let Some(c) = (i < self.counts.len()).then(|| self.bucket(i))
                && seen + c < rank
            {
                seen += c;
                i += 1;
            }
            if i == self.counts.len() {
                return;
            }
            if o.1 == 0.0 {
                continue;
            }
            match self.lattice.and_then(|l| self.exact(l, i, rank - seen)) {
                Some(x) => *o = (x as f64, 0.0),
                None if half < o.1 => {
                    let from = self.lo as i128 + ((i as i128) << self.shift);
                    *o = (from as f64 + half, half)
                }
                None => {}
            }
        }
    }
}

/// The shift of a [`Focus`] on a lattice of `step` (the record's values in the stretch, less its
/// least, have `step` as their gcd): the widest power of two up to `step`, so that a bucket
/// holds at most one lattice point; `None` where that is finer than `shift`, the width the
/// Monte Carlo error asks for (the lattice would cost more buckets than it saves error), or
/// for a step below 2 (every integer).
fn lattice_shift(step: u64, shift: u32) -> Option<u32> {
    let exact = step.checked_ilog2()?;
    (step >= 2 && exact >= shift).then_some(exact)
}

/// Counts `values` in the stretch `f`'s buckets and the samples below it, without a branch per
/// value: a chunk's values below the stretch are counted, and those in it marked in a 64-bit
/// mask, in loops the compiler vectorises (with AVX2, see [`count_focus_avx2`]); only the
/// marked ones are then counted in their buckets (and checked against the lattice). (A branch
/// per value on whether it is in the stretch is mispredicted for a large share of the values
/// around a central quantile.)
#[inline(always)]
fn count_focus(f: &mut Focus, values: &[i64]) {
    let (lo, span, shift, lattice) = (f.lo, f.span, f.shift, f.lattice);
    let mut below = 0u64;
    for chunk in values.chunks(64) {
        below += chunk.iter().filter(|&&v| v < lo).count() as u64;
        // `v - lo` modulo 2^64 is below `span` exactly when `v` is in the stretch: the
        // stretch does not wrap around (|lo| <= 2^52, span <= 2^62).
        let mut inside = chunk.iter().enumerate().fold(0u64, |m, (j, &v)| {
            m | ((((v.wrapping_sub(lo) as u64) < span) as u64) << j)
        });
        while inside != 0 {
            let j = inside.trailing_zeros() as usize;
            inside &= inside - 1;
            let d = chunk[j].wrapping_sub(lo) as u64;
            let b = (d >> shift) as usize;
            if let Some(l) = &lattice
                && !l.divides(d)
            {
                focus_stray(f, chunk[j], b);
            }
            if let Some(c) = f.counts.get_mut(b) {
                *c = c.wrapping_add(1);
                if *c == 0 {
                    focus_wrapped(&mut f.wraps, b);
                }
            }
        }
    }
    f.below += below;
}

/// Notes the stray `v`, in bucket `b` of `f`.
#[cold]
fn focus_stray(f: &mut Focus, v: i64, b: usize) {
    if let Strays::Listed(list) = &mut f.strays {
        if list.len() < MAX_STRAYS {
            list.push(v);
            return;
        }
        f.strays = Strays::Dirty(Strays::dirty(list, f.lo, f.shift, f.counts.len()));
    }
    if let Strays::Dirty(bits) = &mut f.strays {
        Strays::mark(bits, b);
    }
}

/// Adds a wrap of 2^16 to bucket `b`.
#[cold]
fn focus_wrapped(wraps: &mut std::collections::BTreeMap<u32, u64>, b: usize) {
    *wraps.entry(b as u32).or_insert(0) += 1;
}

/// [`count_focus`] compiled for AVX2 (64-bit comparisons four at a time).
///
/// # Safety
/// The processor must have AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn count_focus_avx2(f: &mut Focus, values: &[i64]) {
    count_focus(f, values)
}

/// The values of a [`Histogram`] nearest to one anchor: `from` up to the next zone's `from`.
#[derive(Clone, Debug)]
struct Zone {
    /// The least value of the zone.
    from: i64,
    anchor: i64,
    /// Samples counted.
    n: u64,
    /// Magnitudes of negative distances from the anchor.
    neg: Window,
    /// Non-negative distances.
    pos: Window,
    /// Buckets whose 16-bit count wrapped: (negative, global bucket index) -> wraps.
    wraps: std::collections::BTreeMap<(bool, u32), u64>,
}

/// Samples a [`Histogram`] buffers before counting them.
const PENDING: usize = 256;

/// Counts of the buckets `lo..lo + counts.len()` (global bucket index `block << k | within`).
#[derive(Clone, Debug, Default)]
struct Window {
    lo: u32,
    counts: Vec<u16>,
}

impl Window {
    /// Makes room for global bucket `g` (whole blocks of `2^k`) and returns its offset.
    #[cold]
    fn grow(&mut self, g: u32, k: u32) -> usize {
        self.cover(g, g, k);
        (g - self.lo) as usize
    }

    /// Makes room for the global buckets `lo..=hi` (whole blocks of `2^k`) in one step: filling
    /// a window from a known set of values this way copies it once, not once per new block.
    fn cover(&mut self, lo: u32, hi: u32, k: u32) {
        let (old_lo, old_len) = (self.lo, self.counts.len() as u32);
        if old_len > 0 && lo >= old_lo && hi < old_lo + old_len {
            return;
        }
        let (lo_b, hi_b) = if old_len == 0 {
            (lo >> k, (hi >> k) + 1)
        } else {
            (
                (old_lo >> k).min(lo >> k),
                ((old_lo + old_len) >> k).max((hi >> k) + 1),
            )
        };
        let new_lo = lo_b << k;
        let mut counts = vec![0u16; ((hi_b - lo_b) << k) as usize];
        let at = (old_lo - new_lo.min(old_lo)) as usize;
        if old_len > 0 {
            counts[at..at + old_len as usize].copy_from_slice(&self.counts);
        }
        self.lo = new_lo;
        self.counts = counts;
    }

    #[inline]
    fn slot(&mut self, g: u32, k: u32) -> &mut u16 {
        let off = g.wrapping_sub(self.lo) as usize;
        if off < self.counts.len() {
            &mut self.counts[off]
        } else {
            let off = self.grow(g, k);
            &mut self.counts[off]
        }
    }
}

impl Zone {
    fn new(from: i64, anchor: i64) -> Self {
        Zone {
            from,
            anchor,
            n: 0,
            neg: Window::default(),
            pos: Window::default(),
            wraps: std::collections::BTreeMap::new(),
        }
    }

    /// Counts distance `d` (from the anchor) in its bucket; the caller adds it to `n`.
    #[inline]
    fn count_one(&mut self, k: u32, d: i64) {
        let negative = d < 0;
        let (win, m) = if negative {
            (&mut self.neg, d.unsigned_abs())
        } else {
            (&mut self.pos, d as u64)
        };
        let g = Histogram::index(k, m);
        let slot = win.slot(g, k);
        *slot = slot.wrapping_add(1);
        if *slot == 0 {
            self.wrapped(negative, g, 1);
        }
    }

    /// Adds `c` wraps of 2^16 to bucket `(negative, g)`.
    #[cold]
    fn wrapped(&mut self, negative: bool, g: u32, c: u64) {
        *self.wraps.entry((negative, g)).or_insert(0) += c;
    }

    /// Adds the counts of the same zone of another histogram: window to window, slice to
    /// slice (the window made to cover the other's first), which the compiler vectorises; a
    /// second pass finds the buckets that wrapped, only if one did.
    fn merge(&mut self, k: u32, o: &Zone) {
        debug_assert_eq!((self.from, self.anchor), (o.from, o.anchor));
        self.n += o.n;
        let mut wrapped: Vec<(bool, u32)> = Vec::new();
        for (negative, mine, theirs) in [
            (true, &mut self.neg, &o.neg),
            (false, &mut self.pos, &o.pos),
        ] {
            let len = theirs.counts.len();
            if len == 0 {
                continue;
            }
            mine.cover(theirs.lo, theirs.lo + len as u32 - 1, k);
            let at = (theirs.lo - mine.lo) as usize;
            let dst = &mut mine.counts[at..at + len];
            let mut carried = false;
            for (a, &b) in dst.iter_mut().zip(&theirs.counts) {
                let sum = a.wrapping_add(b);
                // The 16-bit sum wrapped exactly when it came out below what was added.
                carried |= sum < b;
                *a = sum;
            }
            if carried {
                for (i, (a, &b)) in dst.iter().zip(&theirs.counts).enumerate() {
                    if *a < b {
                        wrapped.push((negative, theirs.lo + i as u32));
                    }
                }
            }
        }
        for (negative, g) in wrapped {
            self.wrapped(negative, g, 1);
        }
        for (&(negative, g), &c) in &o.wraps {
            self.wrapped(negative, g, c);
        }
    }

    /// The exact count of bucket `i` of a window.
    #[inline]
    fn count_at(&self, negative: bool, win: &Window, i: usize) -> u64 {
        let c = win.counts[i] as u64;
        if self.wraps.is_empty() {
            return c;
        }
        let g = win.lo + i as u32;
        let w = self.wraps.get(&(negative, g)).copied().unwrap_or(0);
        c + (w << 16)
    }

    /// Calls `f(lower, upper, count)` for every non-empty bucket in ascending value order,
    /// clipped to `[self.from, to)`, but for the runs of buckets `skip` takes (see
    /// [`Zone::visit`]); `false` when `f` asked to stop.
    fn for_each(
        &self,
        k: u32,
        to: f64,
        mut skip: impl FnMut(u64) -> bool,
        mut f: impl FnMut(f64, f64, u64) -> bool,
    ) -> bool {
        let (a, from) = (self.anchor as f64, self.from as f64);
        let mut emit = |vlo: f64, vhi: f64, c: u64| f((a + vlo).max(from), (a + vhi).min(to), c);
        // Negative distances by falling magnitude, then the others by rising magnitude.
        self.visit::<true>(&mut skip, |g, c| {
            let (lo, width) = Histogram::bounds(k, g);
            // magnitudes [lo, lo + width) -> distances (-(lo + width), -lo]
            if g >> k == 0 {
                emit(-lo, -lo, c)
            } else {
                emit(-(lo + width), -lo, c)
            }
        }) && self.visit::<false>(&mut skip, |g, c| {
            let (lo, width) = Histogram::bounds(k, g);
            if g >> k == 0 {
                emit(lo, lo, c)
            } else {
                emit(lo, lo + width, c)
            }
        })
    }

    /// Calls `f(bucket, count)` for every non-empty bucket of one sign's window, by falling
    /// bucket for the negative side (so by rising value), by rising bucket otherwise; `false`
    /// when `f` asked to stop. (The side is a constant, so each gets its own loop.) Where no
    /// count wrapped, each non-empty run of 64 buckets is first offered to `skip` with its
    /// total count, and passed over if `skip` takes it.
    fn visit<const NEGATIVE: bool>(
        &self,
        mut skip: impl FnMut(u64) -> bool,
        mut f: impl FnMut(u32, u64) -> bool,
    ) -> bool {
        let negative = NEGATIVE;
        let win = if negative { &self.neg } else { &self.pos };
        // Windows are mostly empty: each run of 64 buckets is turned into a mask of the
        // non-empty ones (a wrapped bucket can read 0 in 16 bits: with wraps, every bucket
        // is looked at), and only those are visited.
        let all = !self.wraps.is_empty();
        let mut mask = |chunk: &[u16]| {
            if all {
                return u64::MAX >> (64 - chunk.len());
            }
            // Most runs are empty: their total (a vectorised sum) finds them first.
            let total: u32 = chunk.iter().map(|&c| u32::from(c)).sum();
            if total == 0 || skip(u64::from(total)) {
                return 0;
            }
            chunk
                .iter()
                .enumerate()
                .fold(0u64, |m, (j, &c)| m | (((c != 0) as u64) << j))
        };
        let mut run = |ci: usize, mut m: u64| {
            while m != 0 {
                let j = if negative {
                    63 - m.leading_zeros() as usize
                } else {
                    m.trailing_zeros() as usize
                };
                m &= !(1u64 << j);
                let i = ci * 64 + j;
                let c = self.count_at(negative, win, i);
                if c > 0 && !f(win.lo + i as u32, c) {
                    return false;
                }
            }
            true
        };
        let chunks = win.counts.chunks(64).enumerate();
        if negative {
            chunks.rev().all(|(ci, chunk)| run(ci, mask(chunk)))
        } else {
            chunks.into_iter().all(|(ci, chunk)| run(ci, mask(chunk)))
        }
    }
}

impl Histogram {
    /// An empty histogram with `k` mantissa bits (1..=16), counted around 0 only.
    pub fn new(k: u32) -> Self {
        Self::with_anchors(k, &[0])
    }

    /// An empty histogram with `k` mantissa bits counted around `anchors` (the first
    /// [`MAX_ANCHORS`] + 1 distinct ones; around 0 when there are none).
    pub fn with_anchors(k: u32, anchors: &[i64]) -> Self {
        let mut a: Vec<i64> = Vec::with_capacity(MAX_ANCHORS + 1);
        for &x in anchors {
            if a.len() <= MAX_ANCHORS && !a.contains(&x) {
                a.push(x);
            }
        }
        if a.is_empty() {
            a.push(0);
        }
        a.sort_unstable();
        let zones = a
            .iter()
            .enumerate()
            .map(|(i, &anchor)| {
                // Halfway between the neighbouring anchors (the upper one takes the middle):
                // above the lower anchor and at most the upper one.
                let from = if i == 0 {
                    i64::MIN
                } else {
                    (((a[i - 1] as i128 + anchor as i128) >> 1) + 1) as i64
                };
                Zone::new(from, anchor)
            })
            .collect();
        Histogram {
            k,
            zones,
            pending: Vec::new(),
            record: None,
            levels: &[],
            focus: Vec::new(),
            exact: None,
            exact_limit: 0,
        }
    }

    /// The same histogram, to be read at the ascending probabilities `levels`: a recording
    /// histogram plans its fine stretches around their quantiles
    /// ([`Histogram::anchor_on_record_for`]). Reading at other probabilities works as well.
    pub fn read_at(mut self, levels: &'static [f64]) -> Self {
        debug_assert!(levels.is_sorted() && levels.iter().all(|&q| q > 0.0 && q < 1.0));
        self.levels = levels;
        self
    }

    /// The same histogram, also keeping its samples as they are while it has at most `limit`
    /// (merges included): until then its quantiles ([`Histogram::quantiles_within`], with a
    /// bound of 0) and [`Histogram::lower_tail_mean`] are exact. A short run reads its
    /// percentiles as its trial values instead of bucket midpoints; past `limit` the samples
    /// are dropped and nothing else changes (the buckets count every sample either way).
    pub fn exact_up_to(mut self, limit: u32) -> Self {
        self.set_exact_limit(limit);
        self
    }

    /// As [`Histogram::exact_up_to`], in place.
    pub fn set_exact_limit(&mut self, limit: u32) {
        self.exact_limit = limit;
        if self.count() == 0 {
            self.exact = Self::no_samples_yet(limit);
        } else if self
            .exact
            .as_ref()
            .is_some_and(|e| e.len() > limit as usize)
        {
            self.exact = None;
        }
    }

    /// The kept samples of an empty histogram with `limit`.
    fn no_samples_yet(limit: u32) -> Option<Vec<i64>> {
        (limit > 0).then(Default::default)
    }

    /// The most samples kept as they are ([`Histogram::exact_up_to`]).
    pub fn exact_limit(&self) -> u32 {
        self.exact_limit
    }

    /// The probabilities given to [`Histogram::read_at`].
    pub fn levels(&self) -> &'static [f64] {
        self.levels
    }

    /// An empty histogram that keeps its samples instead of counting them, until
    /// [`Histogram::anchor_on_record`] chooses its anchors from them (a pilot's histograms).
    pub fn recording(k: u32) -> Self {
        Histogram {
            record: Some(Vec::new()),
            ..Self::new(k)
        }
    }

    /// Whether `self` and `o` are both recording ([`Histogram::recording`]) and have kept the
    /// same samples in the same order.
    pub fn same_record(&self, o: &Histogram) -> bool {
        match (&self.record, &o.record) {
            (Some(a), Some(b)) => {
                a.len() + self.pending.len() == b.len() + o.pending.len()
                    && a.iter().chain(&self.pending).eq(b.iter().chain(&o.pending))
            }
            _ => false,
        }
    }

    /// A recording histogram chooses its anchors from the samples it kept
    /// ([`choose_anchors`]) and counts them; it then counts like any other. Otherwise nothing
    /// changes.
    pub fn anchor_on_record(&mut self) {
        self.anchor_on_record_for(0);
    }

    /// As [`Histogram::anchor_on_record`], for a histogram that will count about `samples`
    /// samples in all (the record's included): it also plans its *focus*, stretches of values
    /// counted a second time in equal buckets fine enough for a run of `samples` (below, the
    /// record's size `r`).
    ///
    /// For each probability `q` of [`Histogram::read_at`], the stretch runs from the record's
    /// order statistic of rank `q r - 4 s - 1` to that of rank `q r + 4 s + 1`, where
    /// `s = sqrt(r q (1 - q))` (a distribution-free interval that holds the run's quantile
    /// unless it is more than 4 standard errors from the record's). A quantile's Monte Carlo
    /// standard error over `samples` is `sqrt(q (1 - q) / samples) / f`, with `f` the density
    /// there, and a bucket `w` wide holds about `samples f w` samples: so the bucket width is the
    /// largest power of two with `samples f w <= 2 x` [`FOCUS_SHARE`] `x sqrt(samples q (1 -
    /// q))`, `f` taken as the record's density where it is highest in the stretch ([`densest`]:
    /// over runs of [`FOCUS_RUN`] values, not the stretch's average, which a stretch across a
    /// gap between clusters understates many times over). A quantile read in a stretch
    /// is then the midpoint of a bucket whose half-width is about `FOCUS_SHARE` of its Monte
    /// Carlo error or less, whatever the number of samples.
    ///
    /// Where the record's values in a stretch lie on a lattice (`lo + j step`; `step` the gcd
    /// of the values less `lo`) whose step is at least that width, the buckets are instead the
    /// widest power of two up to the step, one lattice point to a bucket, and a quantile read
    /// there is exact: the bucket's lattice point, or a listed value off the lattice (up to
    /// 64). Where one value fills the interval (a point mass), the stretch reaches the
    /// record's values either side of it.
    /// Overlapping stretches are joined (with the finer width, and the gcd of both lattices).
    /// No stretch is planned where the log-linear buckets are already as fine (exact, for a
    /// lattice), beyond +/- 2^52, or for fewer than 16 recorded samples.
    pub fn anchor_on_record_for(&mut self, samples: u64) {
        let Some(mut record) = self.record.take() else {
            return;
        };
        record.append(&mut self.pending);
        let anchors = choose_anchors(&mut record, self.k);
        let levels = self.levels;
        *self = Self::with_anchors(self.k, &anchors)
            .read_at(levels)
            .exact_up_to(self.exact_limit);
        self.focus = self.plan_focus(&record, samples);
        self.cover(&record);
        self.add_all_now(&record);
    }

    /// The focus for `samples` samples from the sorted record `sorted` (see
    /// [`Histogram::anchor_on_record_for`]).
    fn plan_focus(&self, sorted: &[i64], samples: u64) -> Vec<Focus> {
        let r = sorted.len();
        if r < 16 || samples < r as u64 {
            return Vec::new();
        }
        let n = samples as f64;
        // (lo, hi inclusive, shift for the Monte Carlo error, gcd of the record's values less
        // lo), ascending.
        let mut stretches: Vec<(i64, i64, u32, u64)> = Vec::new();
        for &q in self.levels {
            let (m, s) = (q * r as f64, (r as f64 * q * (1.0 - q)).sqrt());
            let mut l = ((m - FOCUS_Z * s).floor() - 1.0).clamp(0.0, (r - 1) as f64) as usize;
            let mut u = ((m + FOCUS_Z * s).ceil() + 1.0).clamp(0.0, (r - 1) as f64) as usize;
            if sorted[l] == sorted[u] {
                // One point mass fills the interval: the stretch reaches the values either
                // side, where the run's quantile may fall instead.
                let x = sorted[l];
                l = sorted.partition_point(|&v| v < x).saturating_sub(1);
                u = sorted.partition_point(|&v| v <= x).min(r - 1);
            }
            if sorted[l] < -FOCUS_LIMIT || sorted[u] > FOCUS_LIMIT {
                continue;
            }
            // The record is one value: one bucket of 1, for that value.
            let shift = if sorted[l] == sorted[u] {
                0
            } else {
                let density = densest(&sorted[l..=u], FOCUS_RUN) / r as f64;
                let width = 2.0 * FOCUS_SHARE * (q * (1.0 - q) / n).sqrt() / density;
                if width < 2.0 {
                    0
                } else {
                    (width.log2().floor() as u32).min(62)
                }
            };
            let gcd_from = |l: usize, u: usize| {
                sorted[l..=u]
                    .iter()
                    .fold(0, |g, &v| crate::money::gcd(g, v.abs_diff(sorted[l])))
            };
            let mut step = gcd_from(l, u);
            // A stretch across a gap, too wide for buckets that fine, keeps the most record
            // values it can at that width (where the values crowd, and the run's quantile most
            // likely falls; a quantile beyond it is read from the log-linear buckets, which are
            // relatively finer where the values are thin). Wider buckets over all of it would
            // be coarser where it matters than the log-linear buckets.
            let exact = lattice_shift(step, shift).unwrap_or(shift);
            // (True only for `exact` below 38, as a stretch spans less than 2^53: the shift
            // below cannot overflow.)
            if (sorted[u].abs_diff(sorted[l]) >> exact) >= MAX_FOCUS_BUCKETS {
                (l, u) = widest_within(&sorted[l..=u], (MAX_FOCUS_BUCKETS << exact) - 1, l);
                step = gcd_from(l, u);
            }
            let (lo, hi) = (sorted[l], sorted[u]);
            // Where the log-linear buckets are as fine already, nothing to gain.
            let fine = match lattice_shift(step, shift) {
                Some(_) => 1,
                None => 1u64 << shift,
            };
            if self.bucket_width(lo).max(self.bucket_width(hi)) <= fine {
                continue;
            }
            stretches.push((lo, hi, shift, step));
            // Overlapping stretches are joined, so that they stay disjoint (one widened around
            // a point mass can reach below the one before, and take it in).
            while let [.., a, b] = stretches[..]
                && b.0 <= a.1
            {
                let gcd = crate::money::gcd;
                let joined = (
                    a.0.min(b.0),
                    a.1.max(b.1),
                    a.2.min(b.2),
                    gcd(gcd(a.3, b.3), a.0.abs_diff(b.0)),
                );
                stretches.pop();
                *stretches.last_mut().expect("two stretches") = joined;
            }
        }
        stretches
            .into_iter()
            .filter_map(|(lo, hi, shift, step)| {
                let range = (hi as i128 - lo as i128) as u128;
                let (mut shift, mut lattice) = match lattice_shift(step, shift) {
                    Some(exact) => (exact, Some(Lattice::new(step))),
                    None => (shift, None),
                };
                while (range >> shift) + 1 > MAX_FOCUS_BUCKETS as u128 {
                    shift += 1;
                }
                if lattice.is_some_and(|l| 1u64 << shift > l.step) {
                    lattice = None;
                }
                let buckets = ((range >> shift) + 1) as u64;
                let span = buckets
                    .checked_shl(shift)
                    .filter(|&s| s >> shift == buckets && s <= 1 << 62)?;
                Some(Focus {
                    lo,
                    shift,
                    span,
                    below: 0,
                    n: 0,
                    counts: vec![0; buckets as usize],
                    wraps: Default::default(),
                    lattice,
                    strays: Strays::Listed(Vec::new()),
                })
            })
            .collect()
    }

    /// Width of the log-linear bucket that counts `v` (1: exact).
    fn bucket_width(&self, v: i64) -> u64 {
        let zone = &self.zones[self.zone_of(v)];
        let g = Self::index(self.k, v.saturating_sub(zone.anchor).unsigned_abs());
        Self::bounds(self.k, g).1 as u64
    }

    /// Sizes the windows for `values` at once (before counting them).
    fn cover(&mut self, values: &[i64]) {
        let k = self.k;
        // Per zone and sign, the least and greatest bucket.
        let mut range = vec![[(u32::MAX, 0u32); 2]; self.zones.len()];
        for &v in values {
            let i = self.zone_of(v);
            let d = v.saturating_sub(self.zones[i].anchor);
            let g = Self::index(k, d.unsigned_abs());
            let r = &mut range[i][(d >= 0) as usize];
            *r = (r.0.min(g), r.1.max(g));
        }
        for (zone, r) in self.zones.iter_mut().zip(range) {
            for (win, (lo, hi)) in [(&mut zone.neg, r[0]), (&mut zone.pos, r[1])] {
                if lo <= hi {
                    win.cover(lo, hi, k);
                }
            }
        }
    }

    /// Mantissa bits.
    pub fn k(&self) -> u32 {
        self.k
    }

    /// The anchors, ascending.
    pub fn anchors(&self) -> Vec<i64> {
        self.zones.iter().map(|z| z.anchor).collect()
    }

    /// An empty histogram with the same `k` and anchors (never recording).
    pub fn empty_like(&self) -> Self {
        Histogram {
            k: self.k,
            zones: self
                .zones
                .iter()
                .map(|z| Zone::new(z.from, z.anchor))
                .collect(),
            pending: Vec::new(),
            record: None,
            levels: self.levels,
            focus: self.focus.iter().map(Focus::empty_like).collect(),
            exact: Self::no_samples_yet(self.exact_limit),
            exact_limit: self.exact_limit,
        }
    }

    /// Number of samples.
    pub fn count(&self) -> u64 {
        self.zones.iter().map(|z| z.n).sum::<u64>()
            + self.pending.len() as u64
            + self.record.as_ref().map_or(0, |r| r.len() as u64)
    }

    /// Global bucket index (`block << k | within`) of magnitude `m`, without a branch.
    ///
    /// Below `2^k` the index is `m` itself (block 0). From `2^k` on, with `e` the position of the
    /// leading bit, the block is `e - k + 1` and `within` the `k` bits after the leading one;
    /// `m >> (e - k)` is `2^k + within`, so the index is `(e - k) << k` plus that. Taking `e`
    /// of `m | 2^k` gives a shift of 0 below `2^k`, where the same sum is `m`.
    #[inline]
    fn index(k: u32, m: u64) -> u32 {
        let shift = (63 - (m | (1u64 << k)).leading_zeros()) - k;
        (shift << k) + (m >> shift) as u32
    }

    /// Lower bound and width of the magnitudes in global bucket `g`.
    fn bounds(k: u32, g: u32) -> (f64, f64) {
        let (block, within) = (g >> k, g & ((1 << k) - 1));
        if block == 0 {
            (within as f64, 1.0)
        } else {
            let shift = block - 1;
            // 2^shift, exactly (shift < 64), built from its exponent bits: `powi` is a call.
            let width = f64::from_bits((1023 + shift as u64) << 52);
            let lo = ((1u64 << k) + within as u64) as f64 * width;
            (lo, width)
        }
    }

    /// Adds a sample.
    #[inline]
    pub fn add(&mut self, v: i64) {
        if self.pending.len() == self.pending.capacity() {
            self.flush();
            if self.pending.capacity() < PENDING {
                self.pending.reserve_exact(PENDING);
            }
        }
        self.pending.push(v);
    }

    /// Counts the buffered samples.
    #[inline(never)]
    pub fn flush(&mut self) {
        let mut pending = std::mem::take(&mut self.pending);
        self.add_all_now(&pending);
        pending.clear();
        self.pending = pending;
    }

    /// The histogram with its buffer counted (and its anchors chosen, if it was recording):
    /// `self` when nothing is buffered.
    fn counted(&self) -> std::borrow::Cow<'_, Histogram> {
        if self.pending.is_empty() && self.record.is_none() {
            std::borrow::Cow::Borrowed(self)
        } else {
            let mut h = self.clone();
            h.flush();
            h.anchor_on_record();
            std::borrow::Cow::Owned(h)
        }
    }

    /// Adds samples, counting them at once (for callers that batch their samples themselves).
    #[inline]
    pub fn add_all_now(&mut self, values: &[i64]) {
        if let Some(r) = &mut self.record {
            r.extend_from_slice(values);
            return;
        }
        if let Some(e) = &mut self.exact {
            if e.len() + values.len() <= self.exact_limit as usize {
                e.extend_from_slice(values);
            } else {
                self.exact = None;
            }
        }
        for f in &mut self.focus {
            f.count(values);
        }
        // The engine's `k` values get their own copy of the loop, with shifts by constants
        // (fewer instructions and registers per sample).
        match self.k {
            crate::montecarlo::BAND_BITS => self.count_all(crate::montecarlo::BAND_BITS, values),
            crate::montecarlo::HIST_BITS => self.count_all(crate::montecarlo::HIST_BITS, values),
            k => self.count_all(k, values),
        }
    }

    /// Counts `values`; `k` is `self.k`.
    #[inline(always)]
    fn count_all(&mut self, k: u32, values: &[i64]) {
        if let [zone] = &mut self.zones[..] {
            // One zone (most histograms): no zone to look up.
            let a = zone.anchor;
            for &v in values {
                zone.count_one(k, v.saturating_sub(a));
            }
            zone.n += values.len() as u64;
        } else if let [low, high] = &mut self.zones[..] {
            // Two zones (0 and one anchor, the next most common).
            let split = high.from;
            for &v in values {
                let zone = if v >= split { &mut *high } else { &mut *low };
                zone.count_one(k, v.saturating_sub(zone.anchor));
                zone.n += 1;
            }
        } else {
            for &v in values {
                self.count_one(k, v);
            }
        }
    }

    /// The zone of `v`: zones ascend, and `v`'s is the last that starts at or below it.
    #[inline]
    fn zone_of(&self, v: i64) -> usize {
        self.zones[1..].iter().take_while(|z| v >= z.from).count()
    }

    /// Counts `v` in its zone.
    #[inline]
    fn count_one(&mut self, k: u32, v: i64) {
        let i = self.zone_of(v);
        let zone = &mut self.zones[i];
        zone.count_one(k, v.saturating_sub(zone.anchor));
        zone.n += 1;
    }

    /// Adds another histogram with the same `k` and anchors.
    pub fn merge(&mut self, o: &Histogram) {
        debug_assert_eq!(self.k, o.k);
        debug_assert_eq!(
            self.anchors(),
            o.anchors(),
            "histograms merge with the same anchors"
        );
        self.flush();
        let k = self.k;
        // The other's uncounted samples, counted (or recorded) here.
        self.add_all_now(&o.pending);
        if let Some(r) = &o.record {
            self.add_all_now(r);
        }
        for (a, b) in self.zones.iter_mut().zip(&o.zones) {
            a.merge(k, b);
        }
        debug_assert_eq!(
            self.focus.len(),
            o.focus.len(),
            "histograms merge with the same focus"
        );
        for (a, b) in self.focus.iter_mut().zip(&o.focus) {
            a.merge(b);
        }
        self.exact = match (self.exact.take(), &o.exact) {
            (Some(mut a), Some(b)) if a.len() + b.len() <= self.exact_limit as usize => {
                a.extend_from_slice(b);
                Some(a)
            }
            _ => None,
        };
    }

    /// Every sample, ascending, where the histogram kept them all ([`Histogram::exact_up_to`]).
    fn exact_sorted(&self) -> Option<Vec<i64>> {
        let mut e = self.exact.clone()?;
        debug_assert_eq!(
            e.len() as u64,
            self.count(),
            "exact samples are every sample"
        );
        e.sort_unstable();
        Some(e)
    }

    /// Calls `f(lower, upper, count)` for every non-empty bucket in ascending value order.
    pub fn for_each_bucket(&self, f: impl FnMut(f64, f64, u64) -> bool) {
        self.counted().for_each_counted(f)
    }

    fn for_each_counted(&self, f: impl FnMut(f64, f64, u64) -> bool) {
        self.for_each_counted_skipping(|_| false, f)
    }

    /// [`Histogram::for_each_counted`], offering `skip` the total count of each run of up to
    /// 64 buckets first (where no count wrapped): a run it takes (`true`) is passed over
    /// whole, its buckets not visited.
    fn for_each_counted_skipping(
        &self,
        mut skip: impl FnMut(u64) -> bool,
        mut f: impl FnMut(f64, f64, u64) -> bool,
    ) {
        for (i, zone) in self.zones.iter().enumerate() {
            let to = self
                .zones
                .get(i + 1)
                .map_or(f64::INFINITY, |z| z.from as f64);
            if !zone.for_each(self.k, to, &mut skip, &mut f) {
                return;
            }
        }
    }

    /// The quantiles at the ascending probabilities `qs` (each as [`Histogram::quantile`]), in
    /// one pass over the buckets.
    pub fn quantiles(&self, qs: &[f64]) -> Vec<f64> {
        self.quantiles_within(qs)
            .into_iter()
            .map(|(x, _)| x)
            .collect()
    }

    /// The quantiles at the ascending probabilities `qs`, each with the most it can be from the
    /// sample at its rank: half the width of the bucket it was read from (0: exact). A rank
    /// inside a focus stretch is read from whichever of its two buckets is narrower.
    pub fn quantiles_within(&self, qs: &[f64]) -> Vec<(f64, f64)> {
        debug_assert!(qs.is_sorted());
        let n = self.count();
        if n == 0 {
            return vec![(0.0, 0.0); qs.len()];
        }
        let ranks: Vec<u64> = qs.iter().map(|&q| nearest_rank(q, n)).collect();
        self.at_ranks_within(&ranks)
    }

    /// The samples of the ascending 1-based `ranks` (each at most [`Histogram::count`]), each
    /// with the most it can be from the sample of that rank, as
    /// [`Histogram::quantiles_within`] reads them; `(0, 0)` each when empty.
    pub fn at_ranks_within(&self, ranks: &[u64]) -> Vec<(f64, f64)> {
        debug_assert!(ranks.is_sorted());
        let h = self.counted();
        let mut out = vec![(0.0, 0.0); ranks.len()];
        let n = h.count();
        if n == 0 {
            return out;
        }
        debug_assert!(ranks.iter().all(|&r| (1..=n).contains(&r)));
        if let Some(sorted) = h.exact_sorted() {
            for (o, &r) in out.iter_mut().zip(ranks) {
                *o = (sorted[r as usize - 1] as f64, 0.0);
            }
            return out;
        }
        let next = std::cell::Cell::new(0usize);
        let seen = std::cell::Cell::new(0u64);
        h.for_each_counted_skipping(
            // A run of buckets that holds no rank wanted is counted whole.
            |total| {
                let s = seen.get() + total;
                let skip = ranks.get(next.get()).is_some_and(|&r| s < r);
                if skip {
                    seen.set(s);
                }
                skip
            },
            |lo, hi, c| {
                seen.set(seen.get() + c);
                while next.get() < ranks.len() && seen.get() >= ranks[next.get()] {
                    // Values are integers: the bucket's midpoint is at most half its width
                    // from any.
                    out[next.get()] = (0.5 * (lo + hi), 0.5 * (hi - lo));
                    next.set(next.get() + 1);
                }
                next.get() < ranks.len()
            },
        );
        for f in &h.focus {
            f.read(n, ranks, &mut out);
        }
        out
    }

    /// The `q`-quantile (0 < q < 1) by nearest rank: the midpoint of the bucket holding the
    /// sample of rank `ceil(q n)` (as [`Histogram::quantiles`]). `0` when empty.
    pub fn quantile(&self, q: f64) -> f64 {
        self.quantiles(&[q])[0]
    }

    /// Mean of the lowest fraction `q` of the samples ([`tail_mass`]: the lowest `floor(q n)`
    /// whole and the next one in part), each read as its bucket's midpoint (exact where the
    /// histogram kept every sample, [`Histogram::exact_up_to`]).
    pub fn lower_tail_mean(&self, q: f64) -> f64 {
        self.lower_tail_mean_within(q).0
    }

    /// [`Histogram::lower_tail_mean`] with the most it can be from the exact mean of those
    /// samples: half the width of the widest bucket read (each sample is an integer within
    /// half its bucket's width of the midpoint, so their mean is too); 0 when exact.
    pub fn lower_tail_mean_within(&self, q: f64) -> (f64, f64) {
        if self.count() == 0 {
            return (0.0, 0.0);
        }
        let want = tail_mass(q, self.count());
        let h = self.counted();
        if let Some(sorted) = h.exact_sorted() {
            let whole = (want.floor() as usize).min(sorted.len());
            let sum: i128 = sorted[..whole].iter().map(|&v| v as i128).sum();
            let part = sorted
                .get(whole)
                .map_or(0.0, |&v| (want - whole as f64) * v as f64);
            return ((sum as f64 + part) / want, 0.0);
        }
        let mut taken = 0.0f64;
        let (mut acc, mut within) = (0.0, 0.0f64);
        h.for_each_counted(|lo, hi, c| {
            let t = (c as f64).min(want - taken);
            acc += t * 0.5 * (lo + hi);
            if t > 0.0 {
                within = within.max(0.5 * (hi - lo));
            }
            taken += t;
            taken < want
        });
        (acc / want, within)
    }
}

/// How many of `n` samples make up the fraction `q` of them (`0 < q <= 1`), for a tail mean:
/// `q n` itself, not rounded up, so that a tail of 5% of 21 trials is the worst trial and
/// 5% of the next one (the empirical expected shortfall of Acerbi and Tasche). A product
/// within a millionth of a whole number is that number (5% of 10,000 is 500, not 500 and a
/// rounding error); at least 1 when `n > 0`, so a tail is never empty. `0` when `n = 0`.
pub fn tail_mass(q: f64, n: u64) -> f64 {
    if n == 0 {
        return 0.0;
    }
    let m = q * n as f64;
    let r = m.round();
    let m = if (m - r).abs() <= 1e-6 { r } else { m };
    m.clamp(1.0, n as f64)
}

/// Anchors for a [`Histogram`] with `k` mantissa bits, from a sample of the values it will count
/// (a pilot; sorted in place).
///
/// The anchors are the medians of up to [`MAX_ANCHORS`] *clusters*, densest first, and 0. A
/// cluster is a run of sample values spanning less than `2^k`, so that every value in it is
/// within `2^k` of its median and counted exactly. It must hold at least 2% of the sample (and at
/// least two values), and at least half of the sample values within `8 x 2^k` of it: a point
/// mass or a tight cluster, not a dense stretch of a smooth distribution (where an anchor
/// would spread the counts over more memory for little gain). A cluster that 0 or an anchor
/// already chosen counts exactly is passed over. Then the sample's least and greatest values,
/// where either is repeated in at least 1% of the sample (and at least 3 times), are anchors
/// too (a cap or a floor the trials reach), within the same limit of anchors. Last, an anchor
/// (0 included) that no sample value is nearest to is dropped: its zone would cost a
/// comparison per value and count nothing. Depends only on the multiset of values.
pub fn choose_anchors(values: &mut [i64], k: u32) -> Vec<i64> {
    values.sort_unstable();
    let need = values.len().div_ceil(50).max(2);
    let width = 1i128 << k;
    let exact = |a: i64, v: i64| (v as i128 - a as i128).abs() < width;
    // Sample values within [lo, hi].
    let within = |lo: i128, hi: i128| {
        values.partition_point(|&v| (v as i128) <= hi)
            - values.partition_point(|&v| (v as i128) < lo)
    };
    // The values not yet in a cluster, as ranges of `values`.
    let mut free = Vec::with_capacity(2 * MAX_ANCHORS + 1);
    free.push(0..values.len());
    let mut anchors = Vec::new();
    // The densest few clusters are the candidates.
    for _ in 0..2 * MAX_ANCHORS {
        if anchors.len() == MAX_ANCHORS {
            break;
        }
        // The densest window of free values spanning less than `width`: (count, range, segment).
        let mut best: Option<(usize, std::ops::Range<usize>, usize)> = None;
        for (s, seg) in free.iter().enumerate() {
            let mut j = seg.start;
            for i in seg.clone() {
                while j < seg.end && (values[j] as i128 - values[i] as i128) < width {
                    j += 1;
                }
                if best.as_ref().is_none_or(|b| j - i > b.0) {
                    best = Some((j - i, i..j, s));
                }
            }
        }
        let Some((count, run, s)) = best else { break };
        if count < need {
            break;
        }
        let seg = free.swap_remove(s);
        free.push(seg.start..run.start);
        free.push(run.end..seg.end);
        let (lo, hi) = (values[run.start], values[run.end - 1]);
        let tight = 2 * count >= within(lo as i128 - 8 * width, hi as i128 + 8 * width);
        let counted = |a: i64| exact(a, lo) && exact(a, hi);
        if tight && !counted(0) && !anchors.iter().any(|&a| counted(a)) {
            anchors.push(values[run.start + (count - 1) / 2]);
        }
    }
    // A repeated extreme (a cap, a floor, a whole loss) is a point mass where an outer
    // percentile may well fall: anchored from 1% of the sample (at least 3 values), as a
    // cluster of 2% there is often missed by a short pilot (a total cap reached in 2% of the
    // trials is 5 values of 255, one short), and its percentile then read as the midpoint of a
    // bucket that reaches past the cap.
    let least = values.len().div_ceil(100).max(3);
    for &x in [values.first(), values.last()].into_iter().flatten() {
        if anchors.len() < MAX_ANCHORS
            && within(x.into(), x.into()) >= least
            && !std::iter::once(&0).chain(&anchors).any(|&a| exact(a, x))
        {
            anchors.push(x);
        }
    }
    anchors.push(0);
    let h = Histogram::with_anchors(k, &anchors);
    let mut used = vec![false; h.zones.len()];
    for &v in values.iter() {
        used[h.zone_of(v)] = true;
    }
    let kept: Vec<i64> = h
        .zones
        .iter()
        .zip(&used)
        .filter(|&(_, &u)| u)
        .map(|(zone, _)| zone.anchor)
        .collect();
    if kept.is_empty() { vec![0] } else { kept }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nearest_rank_of_a_level_on_a_grid_is_its_exact_rank() {
        // Every level i / 200 and i x 0.005 (a rounding error above i / 200 at some i) times
        // every count up to 2,000 gives ceil(i n / 200), computed in integers.
        for n in 1..=2000u64 {
            for i in 1..200u64 {
                let exact = (i * n).div_ceil(200).clamp(1, n);
                assert_eq!(nearest_rank(i as f64 / 200.0, n), exact, "{i}/200 of {n}");
                assert_eq!(
                    nearest_rank(i as f64 * 0.005, n),
                    exact,
                    "{i} x 0.005 of {n}"
                );
            }
        }
        assert_eq!(nearest_rank(0.0, 10), 1);
        assert_eq!(nearest_rank(1.0, 10), 10);
        assert_eq!(nearest_rank(0.5, 0), 1);
    }

    #[test]
    fn beta_quantile_table_is_within_1e_9_and_increasing() {
        let mut worst = 0.0f64;
        for i in 0..=40 {
            let a = 1.0 + 4.0 * i as f64 / 40.0;
            let b = 6.0 - a;
            let t = BetaQuantiles::new(a, b);
            let mut last = -1.0;
            for j in 0..20_000 {
                let u = (j as f64 + 0.5) / 20_000.0;
                let x = t.at(u);
                worst = worst.max((x - beta_quantile(a, b, u)).abs());
                assert!(x >= last, "a {a}: decreasing at {u}");
                last = x;
            }
        }
        assert!(worst < 1e-9, "{worst:e}");
        // The tails are exact: Newton's steps to the same tolerance from a nearer start.
        for (a, b) in [(4.2, 1.8), (1.0, 5.0), (5.0, 1.0), (3.0, 3.0)] {
            let t = BetaQuantiles::new(a, b);
            for u in [
                0.0,
                1e-300,
                1e-9,
                1e-4,
                0.01,
                0.03,
                0.97,
                0.99,
                1.0 - 1e-12,
                1.0,
            ] {
                let (x, exact) = (t.at(u), beta_quantile(a, b, u));
                // Both stop within a few 1e-15 of the root (absolute).
                assert!((x - exact).abs() <= 1e-14, "{a} {b} {u}: {x} {exact}");
            }
        }
    }

    #[test]
    fn beta_quantiles_by_newton_match_bisection() {
        // Every shape the engine builds a table for (mean 0.02 to 0.98, sd up to 90% of the
        // feasible maximum, U-shapes included), at the table's levels from Φ(-6) to Φ(6).
        let mut worst = 0.0f64;
        for mean in [0.02, 0.1, 0.3, 0.45, 0.6, 0.85, 0.98] {
            for frac in [0.05, 0.2, 0.5, 0.75, 0.9] {
                let sd = frac * (mean * (1.0f64 - mean)).sqrt();
                let (a, b) = beta_params(mean, sd);
                let us: Vec<f64> = (0..=96)
                    .map(|i| normal_cdf(-6.0 + 12.0 * i as f64 / 96.0))
                    .collect();
                // The table's way: each search from the quantile before.
                let along = beta_quantiles_ascending(a, b, us.iter().copied());
                for (&u, &z) in us.iter().zip(&along) {
                    let x = beta_quantile(a, b, u);
                    let y = beta_quantile_bisection(a, b, u);
                    assert!((0.0..=1.0).contains(&x), "{a} {b} {u}: {x}");
                    worst = worst.max((x - y).abs()).max((z - y).abs());
                    // Both to within the incomplete beta function's own accuracy (about
                    // 1e-14), which moves a quantile by that over the density there.
                    let density =
                        (ln_beta_inv(a, b) + (a - 1.0) * y.ln() + (b - 1.0) * (1.0 - y).ln()).exp();
                    let tol = 1e-14 * (1.0 + 1.0 / density);
                    assert!(
                        (x - y).abs() <= tol && (z - y).abs() <= tol,
                        "mean {mean} sd {sd} u {u}: {x} and {z} against {y} (tolerance {tol})"
                    );
                }
            }
        }
        assert!(worst < 1e-12);
    }

    #[test]
    #[allow(clippy::excessive_precision)] // the reference values as mpmath printed them
    fn erfc_is_exact_to_a_few_units_in_the_last_place_in_both_tails() {
        // Against 30-digit values (mpmath).
        for (x, want) in [
            (-3.5, 1.9999992569016276586),
            (-1.0, 1.8427007929497148693),
            (0.1, 0.8875370839817151016),
            (0.5, 0.47950012218695346232),
            (1.0, 0.15729920705028513066),
            (2.9, 0.000041097878099458857996),
            (3.1, 0.000011648657367199589313),
            (4.24, 2.0190681385881753112e-9),
            (6.0, 2.1519736712498913117e-17),
            (10.0, 2.088487583762544757e-45),
            (26.0, 5.6631924088561428465e-296),
        ] {
            let got = erfc(x);
            assert!(
                (got - want).abs() <= 4.0 * f64::EPSILON * want,
                "erfc({x}) = {got:e}, not {want:e}"
            );
        }
        assert!(erfc(f64::NAN).is_nan());
        assert_eq!((erfc(f64::INFINITY), erfc(f64::NEG_INFINITY)), (0.0, 2.0));
    }

    #[test]
    fn special_functions() {
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-15);
        assert!((normal_cdf(1.959963984540054) - 0.975).abs() < 1e-12);
        assert!((normal_cdf(-4.0) - 3.167124183311992e-5).abs() < 1e-12);
        assert!((normal_cdf(-6.0) - 9.865_876_450_377e-10).abs() < 1e-18);
        assert!((ln_gamma(5.0) - 24f64.ln()).abs() < 1e-13);
        // I_0.5(2, 3) = 11/16
        assert!((inc_beta(2.0, 3.0, 0.5) - 0.6875).abs() < 1e-13);
        let q = beta_quantile(2.0, 3.0, 0.6875);
        assert!((q - 0.5).abs() < 1e-12);
    }

    #[test]
    fn irr_and_npv() {
        // -100 now, +110 one period later: 10% per period.
        let r = irr(&[0, -100, 110], 1).unwrap();
        assert!((r - 0.10).abs() < 1e-9, "{r}");
        let r = irr(&[0, -100, 0, 0, 0, 110], 4).unwrap();
        assert!((r - 0.10).abs() < 1e-9, "{r}");
        assert_eq!(irr(&[0, -100, 0], 4), Some(-1.0));
        assert_eq!(irr(&[0, 100, 0], 4), None);
        assert!((npv(&[0, 100], 0.0) - 100.0).abs() < 1e-12);
        // Loan-like flows (several out, several back): the rate found zeroes the NPV.
        for flows in [
            vec![0, -600, -400, 0, 300, 400, 500],
            vec![0, -600, -400, 0, 100, 100, 700, 0, 0, 1],
            vec![0, -1000, 10, 10, 10, 10],
        ] {
            let a = irr(&flows, 4).unwrap();
            let r = (1.0 + a).powf(0.25) - 1.0;
            assert!(npv(&flows, r).abs() < 1e-7, "{flows:?}: {a}");
        }
        // Long flows: past about 77 periods the discount factors at the bracket's low end
        // overflow. A fund drawn in month 1, paid 1% a month and repaid at par in month 120
        // (or 1,200) earns exactly 1% a month; before, its IRR read -100%.
        for t in [60usize, 78, 120, 600, 1200] {
            let mut flows = vec![0i64; t + 1];
            flows[1] = -100_000;
            for x in flows.iter_mut().skip(2) {
                *x = 1_000;
            }
            flows[t] += 100_000;
            let a = irr(&flows, 12).unwrap();
            assert!(
                (a - (1.01f64.powi(12) - 1.0)).abs() < 1e-9,
                "{t} periods: {a}"
            );
            // Money lost over as long: the rate is below 0, not -100%.
            let mut lost = vec![0i64; t + 1];
            lost[1] = -100_000;
            lost[t] = 50_000;
            let a = irr(&lost, 12).unwrap();
            let want = 0.5f64.powf(12.0 / (t - 1) as f64) - 1.0;
            assert!(
                (a - want).abs() < 1e-9,
                "{t} periods, half lost: {a} against {want}"
            );
        }
        let flows = [0, -1000, 250, 0, 400, 500, 7];
        for r in [0.0, 0.005, 0.02, 0.3] {
            let f = discount_factors(r, flows.len() - 1);
            assert_eq!(npv(&flows, r).to_bits(), npv_with(&flows, &f).to_bits());
        }
        // Four terms a step give what one at a time gives, for every length and either
        // slice the shorter.
        let long: Vec<i64> = (0..40).map(|t| (t * 7919 % 1013) - 500).collect();
        let f = discount_factors(0.0123, 45);
        for n in 0..=40usize {
            for m in [n, n + 3, n.saturating_sub(2)] {
                let (x, g) = (&long[..n], &f[..m.min(f.len())]);
                let mut one = 0.0f64;
                for (&a, &b) in x.iter().zip(g).skip(1) {
                    one += a as f64 * b;
                }
                assert_eq!(one.to_bits(), npv_with(x, g).to_bits(), "n {n}, m {m}");
            }
        }
        // Several rows at once: each bit-identical to `npv_with` on its own, in any grouping.
        let mut next = crate::money::xorshift(0x9e37_79b9_7f4a_7c15);
        let stride = 9;
        let data: Vec<i64> = (0..7 * stride)
            .map(|_| (next() % 2_000_001) as i64 - 1_000_000)
            .collect();
        let f = discount_factors(0.013, stride - 1);
        for rows in [
            vec![0, 1, 2, 3, 4, 5, 6],
            vec![6, 2, 5],
            vec![3, 3, 0, 1, 4],
            vec![],
        ] {
            let mut out = vec![f64::NAN; 7];
            npv_rows(&data, stride, &rows, &f, &mut out);
            for (r, x) in out.iter().enumerate() {
                if rows.contains(&r) {
                    let alone = npv_with(&data[r * stride..(r + 1) * stride], &f);
                    assert_eq!(x.to_bits(), alone.to_bits(), "row {r} of {rows:?}");
                } else {
                    assert!(x.is_nan(), "row {r} is not in {rows:?} but was written");
                }
            }
        }
    }

    #[test]
    fn round_to_i64_is_round_as_i64() {
        let mut xs = vec![
            0.0,
            -0.0,
            0.5,
            -0.5,
            1.5,
            -1.5,
            2.5,
            0.49999999999999994,
            -0.49999999999999994,
            4503599627370495.5,
            -4503599627370495.5,
            4503599627370497.0,
            i64::MAX as f64,
            (i64::MAX as f64).next_down(),
            (i64::MAX as f64).next_up(),
            i64::MIN as f64,
            (i64::MIN as f64).next_down(),
            (i64::MIN as f64).next_up(),
            1e300,
            -1e300,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            f64::MIN_POSITIVE,
            f64::EPSILON,
        ];
        let mut x = 1e-3f64;
        while x < 1e20 {
            for y in [
                x,
                x + 0.5,
                x.floor() + 0.5,
                x.next_up(),
                (x + 0.5).next_down(),
            ] {
                xs.extend([y, -y]);
            }
            x *= 1.37;
        }
        for x in xs {
            assert_eq!(round_to_i64(x), x.round() as i64, "{x:e}");
        }
    }

    #[test]
    fn moments_are_exact() {
        let mut m = Moments::default();
        for x in [1_000_000_000_001i64, 1_000_000_000_003, 1_000_000_000_005] {
            m.add(x);
        }
        assert!((m.sd() - 2.0).abs() < 1e-9);
        assert!((m.mean() - 1_000_000_000_003.0).abs() < 1e-3);
    }

    #[test]
    fn moments_of_samples_whose_squares_overflow() {
        // Squares near 8.5e37: two of them pass i128::MAX, their spread does not.
        let big = i64::MAX - 10;
        let mut a = Moments::default();
        let mut b = Moments::default();
        for x in [big - 4, big - 2] {
            a.add(x);
        }
        b.add(big);
        a.merge(&b);
        assert_eq!(a.n, 3);
        assert!((a.sd() - 2.0).abs() < 1e-9, "{}", a.sd());
        assert_eq!(a.sum, 3 * (big as i128) - 6);
    }

    #[test]
    fn histogram_quantiles() {
        let mut h = Histogram::new(10);
        for v in -500..=500i64 {
            h.add(v * 1000);
        }
        let med = h.quantile(0.5);
        assert!(med.abs() <= 1.0, "{med}");
        let p10 = h.quantile(0.1);
        assert!((p10 - -400_000.0).abs() <= 400_000.0 / 1024.0, "{p10}");
        let mut a = Histogram::new(10);
        let mut b = Histogram::new(10);
        for v in 0..100 {
            a.add(v);
            b.add(-v * 7919);
        }
        a.merge(&b);
        assert_eq!(a.count(), 200);
        assert!(a.lower_tail_mean(0.05) < 0.0);
        let qs = [0.01, 0.05, 0.5, 0.5, 0.95, 0.99];
        let one: Vec<f64> = qs.iter().map(|&q| a.quantile(q)).collect();
        assert_eq!(a.quantiles(&qs), one);
    }

    #[test]
    fn reading_at_ranks_passes_over_runs_of_buckets_as_a_walk_over_every_bucket_reads() {
        // Dense and sparse data of both signs, one zone and three (anchors), a few values a
        // long way out: the ranks read (passing over runs of 64 buckets that hold none)
        // against a plain cumulative walk over every bucket.
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(7);
        for (k, anchors, spread) in [
            (10u32, vec![], 1e6),
            (13, vec![], 3e8),
            (7, vec![-40_000i64, 90_000], 2e5),
            (10, vec![5_000_000], 1e4),
        ] {
            let mut h = Histogram::with_anchors(k, &anchors);
            for i in 0..30_000u32 {
                let x: f64 = rng.random::<f64>() - 0.3;
                let v = (x * x * x * spread) as i64 + if i % 3 == 0 { 5_000_000 } else { 0 };
                h.add(v);
            }
            for v in [i64::MIN / 4, -(1 << 40), 1 << 50] {
                h.add(v);
            }
            let n = h.count();
            let mut ranks: Vec<u64> = [1, 2, 63, 64, 65, n / 100, n / 3, n / 2, n - 1, n]
                .into_iter()
                .chain((0..200).map(|_| rng.random_range(1..=n)))
                .collect();
            ranks.sort_unstable();
            let mut want = Vec::new();
            let (mut seen, mut next) = (0u64, 0usize);
            h.for_each_bucket(|lo, hi, c| {
                seen += c;
                while next < ranks.len() && seen >= ranks[next] {
                    want.push((0.5 * (lo + hi), 0.5 * (hi - lo)));
                    next += 1;
                }
                next < ranks.len()
            });
            assert_eq!(
                h.at_ranks_within(&ranks),
                want,
                "k {k}, anchors {anchors:?}"
            );
        }
    }

    #[test]
    fn histogram_index_matches_the_two_case_formula() {
        let two_case = |k: u32, m: u64| -> u32 {
            if m < (1u64 << k) {
                m as u32
            } else {
                let e = 63 - m.leading_zeros();
                ((e - k + 1) << k) | ((m >> (e - k)) & ((1u64 << k) - 1)) as u32
            }
        };
        for k in [1, 7, 8, 10, 16] {
            let mut ms: Vec<u64> = (0..5000).collect();
            for e in 0..64 {
                let p = 1u64 << e;
                ms.extend([p - 1, p, p + 1, p | (p >> 1), p.wrapping_mul(3) / 2]);
            }
            ms.push(u64::MAX);
            for m in ms {
                assert_eq!(Histogram::index(k, m), two_case(k, m), "k {k}, m {m}");
            }
        }
    }

    #[test]
    fn histogram_windows_grow_both_ways_and_counts_never_wrap() {
        let mut h = Histogram::new(7);
        for v in [5_000_000i64, 3, 1 << 40, -7, -(1 << 30), 200] {
            h.add(v);
        }
        let mut seen = Vec::new();
        h.for_each_bucket(|lo, hi, c| {
            seen.push((lo, hi, c));
            true
        });
        assert_eq!(seen.len(), 6);
        assert!(seen.windows(2).all(|w| w[0].1 <= w[1].0));
        // A bucket past u16::MAX: two halves merged, then one more sample.
        let mut a = Histogram::new(7);
        a.add(42);
        a.flush();
        let lo = a.zones[0].pos.lo as usize;
        a.zones[0].pos.counts[42 - lo] = u16::MAX;
        a.zones[0].n = u16::MAX as u64;
        let b = a.clone();
        a.merge(&b);
        a.add(42);
        let mut total = 0;
        a.for_each_bucket(|_, _, c| {
            total += c;
            true
        });
        assert_eq!(total, 2 * u16::MAX as u64 + 1);
        // Wrapping through `add` many times, in two buckets.
        let mut h = Histogram::new(7);
        for i in 0..300_000i64 {
            h.add(if i % 3 == 0 { -5 } else { 1 << 20 });
        }
        let mut seen = Vec::new();
        h.for_each_bucket(|lo, _, c| {
            seen.push((lo, c));
            true
        });
        assert_eq!(seen, vec![(-5.0, 100_000), ((1u64 << 20) as f64, 200_000)]);
        assert_eq!(total, a.count());
    }

    /// A fixed pseudo-random sequence (splitmix64), for samples of a known shape.
    fn noise(n: usize, seed: u64) -> Vec<u64> {
        let mut x = seed;
        (0..n)
            .map(|_| {
                x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
                let mut z = x;
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                z ^ (z >> 31)
            })
            .collect()
    }

    #[test]
    fn anchors_are_point_masses_and_tight_clusters_not_smooth_stretches() {
        // 255 values: 40% an IRR of 5% jittered by a few 1e-9 (a loan repaid at its rate), 10%
        // exactly -100%, 6% exactly 0, the rest spread smoothly over [-50%, 5%].
        let r = noise(255, 7);
        let values: Vec<i64> = (0..255)
            .map(|i| match i % 20 {
                0..8 => 50_000_000 + (r[i] % 41) as i64 - 20,
                8..10 => -1_000_000_000,
                10 => 0,
                _ => -500_000_000 + (r[i] % 550_000_000) as i64,
            })
            .collect();
        let anchors = choose_anchors(&mut values.clone(), 13);
        assert_eq!(anchors.len(), 3, "{anchors:?}");
        assert_eq!(anchors[0], -1_000_000_000);
        assert_eq!(anchors[1], 0);
        assert!((anchors[2] - 50_000_000).abs() <= 20, "{anchors:?}");
        // Reading: the masses exactly, and every value of the jittered cluster exactly.
        let mut h = Histogram::with_anchors(13, &anchors);
        let mut plain = Histogram::new(13);
        for &v in &values {
            h.add(v);
            plain.add(v);
        }
        let mut sorted = values.clone();
        sorted.sort_unstable();
        for q in [0.05, 0.1, 0.5, 0.6, 0.7, 0.9, 0.99] {
            let rank = ((q * 255.0f64).ceil() as usize).clamp(1, 255);
            let x = sorted[rank - 1];
            if x == -1_000_000_000 || x == 0 || (x - 50_000_000).abs() <= 20 {
                assert_eq!(h.quantile(q), x as f64, "q {q}");
            }
        }
        // The plain histogram reads the cluster at its bucket's midpoint instead.
        assert_eq!(plain.quantile(0.9), 50_001_920.0);
        assert!((h.quantile(0.9) - 50_000_000.0).abs() <= 20.0);
        // A smooth sample has no anchor but 0; one far from 0 has its own and not 0.
        let smooth: Vec<i64> = r.iter().map(|&x| (x % 1_000_000_000) as i64).collect();
        assert_eq!(choose_anchors(&mut smooth.clone(), 13), vec![0]);
        let far: Vec<i64> = (0..100).map(|i| 7_000_000 + i % 7).collect();
        assert_eq!(choose_anchors(&mut far.clone(), 10), vec![7_000_003]);
        assert_eq!(choose_anchors(&mut [], 10), vec![0]);
        // At most MAX_ANCHORS besides 0, densest first.
        let mut many: Vec<i64> = (0..400)
            .map(|i| (i % 5 + 1) * 1_000_000 + (i % 4))
            .collect();
        many.extend([1_000_000; 10]);
        let a = choose_anchors(&mut many, 10);
        assert_eq!(a.len(), MAX_ANCHORS, "{a:?}");
        // Each anchor the median of one cluster (spanning 4 units); the densest among them.
        assert!(a.iter().all(|&x| x % 1_000_000 <= 3), "{a:?}");
        assert!(a.iter().any(|&x| x / 1_000_000 == 1), "{a:?}");
    }

    #[test]
    fn a_recording_histogram_counts_as_one_anchored_on_its_record() {
        let r = noise(600, 3);
        let values: Vec<i64> = (0..600)
            .map(|i| {
                if i % 3 == 0 {
                    -7_500_000
                } else {
                    (r[i] % 10_000_000) as i64 - 5_000_000
                }
            })
            .collect();
        let mut rec = Histogram::recording(10);
        for &v in &values {
            rec.add(v);
        }
        assert_eq!(rec.count(), 600);
        let qs = [0.01, 0.2, 0.34, 0.5, 0.9];
        // Read while recording: as if anchored now.
        let early = rec.quantiles(&qs);
        rec.anchor_on_record();
        let anchors = choose_anchors(&mut values.clone(), 10);
        assert_eq!(rec.anchors(), anchors);
        assert!(anchors.contains(&-7_500_000), "{anchors:?}");
        let mut direct = Histogram::with_anchors(10, &anchors);
        for &v in &values {
            direct.add(v);
        }
        assert_eq!(rec.quantiles(&qs), direct.quantiles(&qs));
        assert_eq!(early, direct.quantiles(&qs));
        assert_eq!(rec.quantile(0.2), -7_500_000.0);
        // Two halves merged read as the whole; an empty copy has the anchors and nothing else.
        let mut a = direct.empty_like();
        let mut b = direct.empty_like();
        assert_eq!(a.count(), 0);
        assert_eq!(a.anchors(), anchors);
        for (i, &v) in values.iter().enumerate() {
            if i % 2 == 0 { a.add(v) } else { b.add(v) }
        }
        a.merge(&b);
        assert_eq!(a.quantiles(&qs), direct.quantiles(&qs));
        assert_eq!(a.lower_tail_mean(0.1), direct.lower_tail_mean(0.1));
    }

    #[test]
    fn anchored_histograms_take_the_extremes_of_i64() {
        let extremes = [i64::MIN, i64::MIN + 1, -1, 0, 1, i64::MAX - 1, i64::MAX];
        let values: Vec<i64> = extremes.iter().cycle().take(70).copied().collect();
        let anchors = choose_anchors(&mut values.clone(), 13);
        // The clusters at both ends, by their (lower) medians, and 0.
        assert_eq!(anchors, vec![i64::MIN, 0, i64::MAX - 1]);
        let mut h = Histogram::with_anchors(13, &anchors);
        for &v in &values {
            h.add(v);
        }
        let mut seen = Vec::new();
        h.for_each_bucket(|lo, hi, c| {
            seen.push((lo, hi, c));
            true
        });
        assert_eq!(seen.iter().map(|x| x.2).sum::<u64>(), 70);
        assert!(seen.windows(2).all(|w| w[0].0 <= w[1].0), "{seen:?}");
        assert_eq!(h.quantile(0.01), i64::MIN as f64);
        assert_eq!(h.quantile(0.99), i64::MAX as f64);
        assert_eq!(h.quantile(0.5), 0.0);
    }

    #[test]
    fn a_cap_that_a_short_pilot_sees_a_few_times_is_anchored_and_read_exactly() {
        // 10,000 amounts spread over [5e7, 1.48e8) cents, 2% of them exactly at a cap of 1.5e8:
        // the P99 is the cap. A pilot of 255 holds about 5 of them, under the 2% (6 values) a
        // cluster needs, but a repeated greatest value is anchored from 3.
        const CAP: i64 = 150_000_000;
        let sample = |seed: u64| -> Vec<i64> {
            noise(10_000, seed)
                .iter()
                .map(|&x| match x % 1_000_000 {
                    u if u < 20_000 => CAP,
                    u => 50_000_000 + (u as i64 - 20_000) * 100,
                })
                .collect()
        };
        let at_cap = |v: &[i64]| v.iter().filter(|&&x| x == CAP).count();
        let values = (1..100)
            .map(sample)
            .find(|v| (3..6).contains(&at_cap(&v[..255])))
            .expect("a sample whose pilot holds 3 to 5 values at the cap");
        assert!(at_cap(&values) > 100, "the cap holds the top 1% at least");
        assert!(choose_anchors(&mut values[..255].to_vec(), 13).contains(&CAP));
        let h = planned(13, &values, 255);
        assert_eq!(h.quantiles_within(&LEVELS)[8], (CAP as f64, 0.0));
        // Every percentile within its stated bound (checked by `bound_over_se`).
        bound_over_se(&h, &values, |_| 1.0);
        let mut sorted = values.clone();
        sorted.sort_unstable();
        // The same at the bottom: a floor repeated 3 times in 255 is anchored; a greatest
        // value seen twice is not (3 at least).
        let mut floor = values[..255].iter().map(|&v| -v).collect::<Vec<_>>();
        let least = *floor.iter().min().expect("values");
        assert!(choose_anchors(&mut floor, 13).contains(&least));
        let mut twice: Vec<i64> = sorted[..253].to_vec();
        let top = twice[252] + 1_000_000;
        twice.extend([top, top]);
        assert!(!choose_anchors(&mut twice, 13).contains(&top));
    }

    #[test]
    fn chart_bins_never_put_a_trial_inside_the_window_outside_it() {
        // Amounts on a lattice of 50,000 cents (read exactly by the focus), 0.8% of them at a
        // cap of 1.5e8: too few in the pilot (2 of 255) for an anchor, but above 0.5%, so the
        // chart window's upper edge (P99.5) is the cap, read exactly, while the log-linear
        // bucket holding the cap has its midpoint above it.
        const CAP: i64 = 150_000_000;
        let r = noise(10_000, 5);
        let values: Vec<i64> = (0..10_000)
            .map(|i| {
                if i % 125 == 7 {
                    CAP
                } else {
                    (1_000 + (r[i] % 1_960) as i64) * 50_000
                }
            })
            .collect();
        assert_eq!(values[..255].iter().filter(|&&v| v == CAP).count(), 2);
        let h = planned(13, &values, 255);
        let d = crate::montecarlo::distribution(&h, 1.0).expect("samples");
        assert_eq!(d.hi, CAP as f64, "the window ends at the cap, read exactly");
        let outside = |f: &dyn Fn(i64) -> bool| values.iter().filter(|&&v| f(v)).count() as u64;
        assert!(
            d.below <= outside(&|v| (v as f64) < d.lo),
            "{} below",
            d.below
        );
        assert!(
            d.above <= outside(&|v| (v as f64) > d.hi),
            "{} above",
            d.above
        );
        assert_eq!(d.above, 0, "no trial is above the cap");
        assert_eq!(d.total(), 10_000);
        assert!(
            d.counts[d.counts.len() - 1] >= 80,
            "the cap's trials in the last bin"
        );
    }

    /// Trials a hair past the chart window's edge (a loan's IRR a cent's rounding above its
    /// coupon, above P99.5) are drawn in it, the window reaching them; trials far past an edge
    /// stay left out and counted, and no others.
    #[test]
    fn chart_window_takes_in_trials_just_past_its_edge() {
        let r = noise(10_000, 11);
        let spread = |i: usize| (r[i] % 100_000) as i64;
        // 0.4% at 100,020: above P99.5 (just under 100,000), within a bin (2,000) of it.
        let values: Vec<i64> = (0..10_000)
            .map(|i| if i % 250 == 3 { 100_020 } else { spread(i) })
            .collect();
        let h = planned(13, &values, 1_000);
        let d = crate::montecarlo::distribution(&h, 1.0).expect("samples");
        assert_eq!(d.above, 0, "none above: the window reaches 100,020");
        assert!(d.hi >= 100_020.0 && d.hi < 102_000.0, "hi {}", d.hi);
        assert_eq!(d.total(), 10_000);
        // The same far past the edge: left out, and counted as such.
        let values: Vec<i64> = (0..10_000)
            .map(|i| if i % 250 == 3 { 400_000 } else { spread(i) })
            .collect();
        let h = planned(13, &values, 1_000);
        let d = crate::montecarlo::distribution(&h, 1.0).expect("samples");
        assert_eq!(d.above, 40, "the far trials are left out, and only they");
        assert!(d.hi < 102_000.0, "hi {}", d.hi);
        assert_eq!(d.total(), 10_000);
    }

    const LEVELS: [f64; 9] = [0.01, 0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95, 0.99];

    /// A histogram planned for all of `values` from its first `pilot`, then given the rest.
    fn planned(k: u32, values: &[i64], pilot: usize) -> Histogram {
        let mut h = Histogram::recording(k).read_at(&LEVELS);
        h.add_all_now(&values[..pilot]);
        h.anchor_on_record_for(values.len() as u64);
        for &v in &values[pilot..] {
            h.add(v);
        }
        h.flush();
        h
    }

    /// Each quantile of `h` against the exact order statistic of `values`: within the stated
    /// bound, and the bound (divided by the Monte Carlo standard error `se(q)`) returned.
    fn bound_over_se(h: &Histogram, values: &[i64], se: impl Fn(f64) -> f64) -> Vec<f64> {
        let mut sorted = values.to_vec();
        sorted.sort_unstable();
        let n = sorted.len();
        h.quantiles_within(&LEVELS)
            .iter()
            .zip(LEVELS)
            .map(|(&(x, bound), q)| {
                let exact = sorted[((q * n as f64).ceil() as usize).clamp(1, n) - 1] as f64;
                assert!(
                    (x - exact).abs() <= bound,
                    "q {q}: {x} against {exact}, bound {bound}"
                );
                bound / se(q)
            })
            .collect()
    }

    #[test]
    fn focus_reads_smooth_quantiles_within_a_tenth_of_their_monte_carlo_error() {
        let n = 200_000;
        let r = noise(n, 11);
        // Uniform on [0, 1e9): density 1e-9, so a quantile's standard error is
        // sqrt(q (1 - q) / n) x 1e9.
        let uniform: Vec<i64> = r.iter().map(|&x| (x % 1_000_000_000) as i64).collect();
        let h = planned(10, &uniform, n / 64);
        assert!(!h.focus.is_empty());
        let se = |q: f64| (q * (1.0 - q) / n as f64).sqrt() * 1e9;
        let ratios = bound_over_se(&h, &uniform, se);
        assert!(ratios.iter().all(|&x| x <= FOCUS_SHARE), "{ratios:?}");
        // Without a record, no focus: the log-linear bound reaches 1.2 standard errors at P99
        // (2^-11 of 9.9e8 against 2.2e5), 16 times the focus's.
        let plain = planned(10, &uniform, 0);
        assert!(plain.focus.is_empty());
        let coarse = bound_over_se(&plain, &uniform, se);
        assert!(
            coarse[8] > 10.0 * ratios[8],
            "{coarse:?} against {ratios:?}"
        );
        // Exponential with mean 1e8, density e^(-x / 1e8) / 1e8 at x: skewed, the density
        // varying over a stretch; the bound stays near its share.
        let expo: Vec<i64> = r
            .iter()
            .map(|&x| (-(1.0 - (x >> 11) as f64 / (1u64 << 53) as f64).ln() * 1e8) as i64)
            .collect();
        let h = planned(13, &expo, n / 64);
        let se = |q: f64| {
            let x = -(1.0 - q).ln() * 1e8;
            (q * (1.0 - q) / n as f64).sqrt() / ((-x / 1e8).exp() / 1e8)
        };
        let ratios = bound_over_se(&h, &expo, se);
        assert!(ratios.iter().all(|&x| x <= 1.5 * FOCUS_SHARE), "{ratios:?}");
        // Merging two halves planned alike reads as the whole.
        let mut a = Histogram::recording(13).read_at(&LEVELS);
        a.add_all_now(&expo[..n / 64]);
        a.anchor_on_record_for(n as u64);
        let mut b = a.empty_like();
        for (i, &v) in expo[n / 64..].iter().enumerate() {
            if i % 2 == 0 { a.add(v) } else { b.add(v) }
        }
        a.merge(&b);
        assert_eq!(a.quantiles_within(&LEVELS), h.quantiles_within(&LEVELS));
    }

    #[test]
    fn a_focus_across_a_gap_is_planned_for_where_the_values_crowd() {
        // 4% spread thinly over [-1e9, 0), 96% packed into [1e6, 1.1e6): the 5% quantile is
        // just inside the cluster, and the record's stretch around it (4 standard errors
        // either side) reaches far into the thin part, so its average density is thousands of
        // times below the density where the quantile is (as a party's cash that crosses
        // zero between two clusters).
        let n = 200_000;
        let values: Vec<i64> = noise(n, 29)
            .iter()
            .map(|&x| {
                let u = (x >> 11) as f64 / (1u64 << 53) as f64;
                if u < 0.04 {
                    -(u / 0.04 * 1e9) as i64
                } else {
                    1_000_000 + ((u - 0.04) / 0.96 * 1e5) as i64
                }
            })
            .collect();
        let h = planned(10, &values, n / 64);
        let se = |q: f64| {
            let density = if q < 0.04 { 0.04 / 1e9 } else { 0.96 / 1e5 };
            (q * (1.0 - q) / n as f64).sqrt() / density
        };
        let ratios = bound_over_se(&h, &values, se);
        assert!(ratios.iter().all(|&x| x <= FOCUS_SHARE), "{ratios:?}");
        // The densest run of a record: where the values crowd, not the average.
        let gap: Vec<i64> = (0..10).map(|i| i * 1000).chain(10_000..10_100).collect();
        assert_eq!(densest(&gap, 16), 1.0);
        let even: Vec<i64> = (0..50).map(|i| 7 * i).collect();
        assert_eq!(densest(&even, 16), 1.0 / 7.0);
        // Shorter than a run: over all of it; one value repeated: no density.
        assert_eq!(densest(&[0, 10, 30], 16), 2.0 / 30.0);
        assert_eq!(densest(&[5; 40], 16), 0.0);
        // The longest run within a span (indices offset by where the slice starts).
        assert_eq!(widest_within(&gap, 99, 0), (10, 109));
        assert_eq!(widest_within(&gap, 1098, 5), (14, 113));
        assert_eq!(widest_within(&gap, 1099, 5), (14, 114));
        assert_eq!(widest_within(&[0, 5, 9, 20], 3, 2), (2, 2));
    }

    #[test]
    fn the_scalar_and_avx2_focus_counts_agree() {
        let r = noise(5_000, 9);
        let values: Vec<i64> = r
            .iter()
            .map(|&x| (x % 2_000_000) as i64 - 1_000_000)
            .collect();
        let mut h = Histogram::recording(7).read_at(&LEVELS);
        h.add_all_now(&values[..500]);
        h.anchor_on_record_for(1_000_000);
        assert!(!h.focus.is_empty());
        for f in &h.focus {
            let (mut a, mut b) = (f.empty_like(), f.empty_like());
            a.count(&values);
            count_focus(&mut b, &values);
            assert_eq!(
                (a.below, &a.strays, &a.counts, &a.wraps),
                (b.below, &b.strays, &b.counts, &b.wraps)
            );
            let exact = values.iter().filter(|&&v| v < f.lo).count() as u64;
            assert_eq!(b.below, exact);
            let inside = values
                .iter()
                .filter(|&&v| v >= f.lo && ((v - f.lo) as u64) < f.span)
                .count() as u64;
            assert_eq!(b.counts.iter().map(|&c| c as u64).sum::<u64>(), inside);
        }
    }

    #[test]
    fn a_focus_whose_counts_wrap_reads_true() {
        // Planned on a smooth record, then given 150,000 copies of one value inside a stretch:
        // its 16-bit count wraps twice, and the quantiles are still read from the stretch,
        // within their bound (against the exact order statistics), also after a merge that
        // wraps a count once more.
        let r = noise(4_000, 5);
        let mut values: Vec<i64> = r.iter().map(|&x| (x % 1_000_000_000) as i64).collect();
        let mut h = Histogram::recording(7).read_at(&LEVELS);
        h.add_all_now(&values);
        h.anchor_on_record_for(300_000);
        let (mid, fine) = h.quantiles_within(&[0.5])[0];
        let mass = vec![mid as i64; 150_000];
        h.add_all_now(&mass);
        values.extend(&mass);
        assert!(h.focus.iter().any(|f| f.wraps.values().sum::<u64>() == 2));
        let got = h.quantiles_within(&LEVELS);
        assert!(got[2].1 <= fine, "{got:?}");
        bound_over_se(&h, &values, |_| 1.0);
        let mut other = h.empty_like();
        other.add_all_now(&mass[..50_000]);
        values.extend(&mass[..50_000]);
        h.merge(&other);
        assert!(h.focus.iter().any(|f| f.wraps.values().sum::<u64>() == 3));
        bound_over_se(&h, &values, |_| 1.0);
    }

    #[test]
    fn the_lattice_test_agrees_with_the_remainder() {
        let r = noise(20_000, 3);
        for step in [2u64, 3, 7, 37_500, 60_000, 1 << 20, 3 << 40, (1 << 53) - 1] {
            let l = Lattice::new(step);
            for (i, &x) in r.iter().enumerate() {
                let d = match i % 3 {
                    0 => x >> 2,
                    1 => (x % 1_000) * step,
                    _ => (x % 1_000) * step + 1 + x % (step - 1),
                };
                assert_eq!(l.divides(d), d % step == 0, "{d} by {step}");
            }
            assert!(l.divides(0) && l.divides(step) && !l.divides(step - 1));
        }
    }

    #[test]
    fn a_lattice_reads_its_quantiles_exactly() {
        // Amounts of 375.00 a unit (a 25% share of 1,500.00) for 0 to 40 units: on a lattice
        // of 37,500 cents. The log-linear buckets there are 2^-8 of the value wide; the
        // stretches, one lattice point to a bucket, read every level exactly, also where a
        // point holds more than 2^16 samples (its count wraps).
        let n = 400_000;
        let r = noise(n, 21);
        let values: Vec<i64> = r
            .iter()
            .map(|&x| -37_500 * ((x % 41 + x / 41 % 41) / 2) as i64)
            .collect();
        let h = planned(7, &values, n / 64);
        assert!(h.focus.iter().all(|f| f.lattice.is_some()) && !h.focus.is_empty());
        let mut sorted = values.clone();
        sorted.sort_unstable();
        for (&q, (got, stated)) in LEVELS.iter().zip(h.quantiles_within(&LEVELS)) {
            let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
            assert_eq!((got, stated), (sorted[rank - 1] as f64, 0.0), "q {q}");
        }
        // Samples off the lattice in the stretches (after the record): while few, each is
        // listed and every level is still read exactly; beyond MAX_STRAYS, their buckets are
        // marked, and only a level read in a marked bucket is read as its midpoint.
        let mut off = h.clone();
        let mut with = values.clone();
        let strays: Vec<i64> = off.focus.iter().map(|f| f.lo + 1).collect();
        off.add_all_now(&strays);
        with.extend(&strays);
        assert!(matches!(&off.focus[0].strays, Strays::Listed(v) if v.len() == 1));
        let exact = bound_over_se(&off, &with, |_| 1.0);
        assert!(exact.iter().all(|&b| b == 0.0), "{exact:?}");
        let many = vec![off.focus[0].lo + 1; MAX_STRAYS];
        off.add_all_now(&many);
        with.extend(&many);
        assert!(matches!(&off.focus[0].strays, Strays::Dirty(_)));
        bound_over_se(&off, &with, |_| 1.0);
        // A merge lists or marks as one histogram would, whatever the order.
        let (mut a, mut b) = (h.clone(), h.empty_like());
        a.add_all_now(&strays);
        b.add_all_now(&many);
        let mut ab = a.clone();
        ab.merge(&b);
        b.merge(&a);
        assert_eq!(ab.focus[0].strays, off.focus[0].strays);
        assert_eq!(ab.quantiles_within(&LEVELS), off.quantiles_within(&LEVELS));
        assert_eq!(b.quantiles_within(&LEVELS), off.quantiles_within(&LEVELS));
    }

    #[test]
    fn a_histogram_keeping_its_samples_reads_them_exactly_until_it_has_more() {
        // 600 smooth values far from 0 (buckets up to 2^17 wide): split in three, one part
        // recorded and anchored as a pilot is, merged in two orders.
        let v: Vec<i64> = noise(600, 3)
            .iter()
            .map(|&x| 1_000_000_000 + (x % 2_000_000_000) as i64)
            .collect();
        let mut sorted = v.clone();
        sorted.sort_unstable();
        let exact = |q: f64| sorted[((q * 600.0).ceil() as usize).clamp(1, 600) - 1] as f64;
        let part = |vs: &[i64], limit: u32, recording: bool| {
            let mut h = if recording {
                Histogram::recording(13)
            } else {
                Histogram::new(13)
            }
            .read_at(&LEVELS)
            .exact_up_to(limit);
            for &x in vs {
                h.add(x);
            }
            h.anchor_on_record_for(600);
            h
        };
        for limit in [0, 599, 600, 5000] {
            let a = part(&v[..200], limit, true);
            let (mut b, mut c) = (a.empty_like(), a.empty_like());
            for &x in &v[200..450] {
                b.add(x);
            }
            for &x in &v[450..] {
                c.add(x);
            }
            let (mut ab, mut cb) = (a.clone(), c.clone());
            ab.merge(&b);
            ab.merge(&c);
            cb.merge(&b);
            cb.merge(&a);
            let q = ab.quantiles_within(&LEVELS);
            assert_eq!(q, cb.quantiles_within(&LEVELS), "limit {limit}");
            let tail = ab.lower_tail_mean(0.05);
            assert_eq!(tail, cb.lower_tail_mean(0.05));
            let worst = sorted[..30].iter().sum::<i64>() as f64 / 30.0;
            if limit >= 600 {
                for (&l, &(x, e)) in LEVELS.iter().zip(&q) {
                    assert_eq!((x, e), (exact(l), 0.0), "limit {limit} q {l}");
                }
                assert_eq!(tail, worst);
            } else {
                // Past the limit, exactly what a histogram that keeps nothing reads.
                let plain = part(&v[..200], 0, true);
                let mut all = plain.clone();
                for &x in &v[200..] {
                    all.add(x);
                }
                assert_eq!(q, all.quantiles_within(&LEVELS), "limit {limit}");
                assert_eq!(tail, all.lower_tail_mean(0.05));
                assert!(q.iter().any(|&(_, e)| e > 0.0));
                assert_ne!(tail, worst);
            }
        }
    }

    #[test]
    fn a_tail_mean_counts_the_trial_at_the_edge_in_part() {
        // 5% of 21 values is 1.05: the lowest whole and 5% of the next.
        let mut h = Histogram::new(8).exact_up_to(100);
        for v in (1..=21).rev() {
            h.add(v * 100);
        }
        let want = (100.0 + 0.05 * 200.0) / 1.05;
        assert!((h.lower_tail_mean(0.05) - want).abs() < 1e-9);
        // Whole where q n is whole up to rounding (5% of 10,000 is 500), never below 1.
        assert_eq!(tail_mass(0.05, 10_000), 500.0);
        assert_eq!(tail_mass(0.05, 21), 0.05 * 21.0);
        assert_eq!(tail_mass(0.05, 3), 1.0);
        assert_eq!(tail_mass(0.05, 0), 0.0);
    }
}
