//! Exact money and quantity arithmetic.
//!
//! Every amount that can become a ledger line is a [`Money`]: a whole number of cents held in an
//! `i64`. Quantities ([`Qty`]), prices ([`Price`]) and ratios ([`Ratio`]) are fixed-point decimals
//! with a stated number of decimal places. Products are formed exactly in `i128` and rounded once,
//! **half away from zero**, when they become cents. There is no floating point anywhere in this
//! module: the values are exact decimals, like `rust_decimal::Decimal`, but cheap enough to settle
//! millions of Monte Carlo trials. Conversion from and to [`Decimal`] happens at the edges
//! (scenario files, actuals, reports).

use rust_decimal::Decimal;
use std::fmt;

/// Decimal places carried by [`Qty`] and [`Price`].
pub const MICRO_DP: u32 = 6;
/// Decimal places carried by [`Ratio`].
pub const RATIO_DP: u32 = 12;
const MICRO: i128 = 1_000_000;
const RATIO_ONE: i128 = 1_000_000_000_000;

/// Rounds `n / d` to the nearest integer, halves away from zero. `d` must be positive.
#[inline]
pub fn div_round(n: i128, d: i128) -> i128 {
    debug_assert!(d > 0);
    // Fast path: 64-bit division when both fit (almost always); same result.
    if let (Ok(n64), Ok(d64)) = (i64::try_from(n), i64::try_from(d)) {
        return div_round_64(n64, d64) as i128;
    }
    let q = n / d;
    let r = n % d;
    if 2 * r.abs() >= d { q + n.signum() } else { q }
}

/// [`div_round`] in 64 bits. `d` must be positive.
#[inline]
fn div_round_64(n: i64, d: i64) -> i64 {
    let q = n / d;
    let r = n % d;
    if 2 * (r.unsigned_abs() as u128) >= d as u128 {
        q + n.signum()
    } else {
        q
    }
}

/// The largest numbers a scenario takes, for messages about a number too large.
pub const LARGEST_NUMBERS: &str =
    "amounts of money are at most 1,000,000,000,000 in size, other numbers at most 1,000,000,000";

/// The largest size of any number a scenario takes (an amount of money, in currency units):
/// the bound of a value given on the command line for a term (`--vary`, `--bounds`), which
/// [`LARGEST_NUMBERS`] puts in words.
pub const LARGEST_VALUE: i64 = 1_000_000_000_000;

/// The largest size of an amount a figure is compared with (`p_paid_above:city:AMOUNT`, a
/// target such as `net_mean:city >= X`): 100,000,000,000,000, the largest total a settlement
/// reaches ([`crate::settlement::LIMIT`]).
pub const LARGEST_TOTAL: f64 = 1e14;

/// Reads a number given on the command line for a figure (an amount, a target); a number
/// beyond [`LARGEST_TOTAL`] in size is [`NumberProblem::TooLarge`].
pub fn parse_figure_number(text: &str) -> Result<f64, NumberProblem> {
    use rust_decimal::prelude::ToPrimitive;
    match parse_number(text)?.to_f64() {
        Some(x) if x.abs() <= LARGEST_TOTAL => Ok(x),
        _ => Err(NumberProblem::TooLarge),
    }
}

/// Why a number written as text was not read by [`parse_number`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NumberProblem {
    /// Not a number at all.
    NotANumber,
    /// Beyond what a 28-digit decimal holds.
    TooLarge,
    /// More significant digits than a 28-digit decimal holds (it would be rounded).
    TooManyDigits,
    /// `nan` or `inf`: not a finite number.
    NotFinite,
}

impl NumberProblem {
    /// What is wrong, to follow the number in a message: "is not a number", ...; `too_large`
    /// for [`NumberProblem::TooLarge`], which depends on what the number is for.
    pub fn words(self, too_large: &str) -> String {
        match self {
            NumberProblem::NotANumber => "is not a number".into(),
            NumberProblem::TooLarge => format!("is out of range: {too_large}"),
            NumberProblem::TooManyDigits => {
                "has too many digits to read exactly (at most 28 significant digits)".into()
            }
            NumberProblem::NotFinite => "is not a finite number".into(),
        }
    }

    /// The problem of `text` in words, e.g. "`1e400` is too large; amounts of money are ...".
    pub fn describe(self, text: &str) -> String {
        match self {
            NumberProblem::NotANumber => format!("`{text}` is not a number"),
            NumberProblem::TooLarge if text.trim_start().starts_with('-') => {
                format!("`{text}` is too far below zero; {LARGEST_NUMBERS}")
            }
            NumberProblem::TooLarge => {
                format!("`{text}` is too large a number; {LARGEST_NUMBERS}")
            }
            NumberProblem::TooManyDigits => format!(
                "`{text}` has too many decimals to read exactly (a number here has at most 28 significant digits)"
            ),
            NumberProblem::NotFinite => {
                format!("`{text}` is not a finite number; give a number such as 1500 or 0.85")
            }
        }
    }
}

/// Reads a number written as text (`1500.10`, `-2`, `1.5e3`, `1_500`) exactly, or says why
/// not. A number with more significant digits than a 28-digit decimal holds is refused, never
/// rounded silently.
pub fn parse_number(text: &str) -> Result<Decimal, NumberProblem> {
    use std::str::FromStr;
    let clean: String = text
        .trim()
        .chars()
        .filter(|c| *c != '_' && *c != ' ')
        .collect();
    if clean.is_empty() || clean.len() > 400 {
        return Err(NumberProblem::NotANumber);
    }
    let parsed = Decimal::from_str(&clean).or_else(|_| Decimal::from_scientific(&clean));
    match parsed {
        Ok(d) => {
            // The decimals the text asks for, against those kept.
            let (mantissa, exp) = match clean.find(['e', 'E']) {
                Some(i) => (&clean[..i], clean[i + 1..].parse::<i64>().unwrap_or(0)),
                None => (clean.as_str(), 0),
            };
            // Its digits without sign and point, the point's place among them after the
            // exponent, and so the fewest decimals that hold the value.
            let m = mantissa.trim_start_matches(['-', '+']);
            let (int, frac) = m.split_once('.').unwrap_or((m, ""));
            let digits = format!("{int}{frac}");
            let point = int.len() as i64 + exp;
            let wanted = digits.trim_end_matches('0').len() as i64 - point;
            if wanted > d.normalize().scale() as i64 {
                Err(NumberProblem::TooManyDigits)
            } else {
                Ok(d)
            }
        }
        Err(_) => match clean.parse::<f64>() {
            // `nan`, `inf`, `infinity` (a number too large to read is finite in its digits).
            Ok(x)
                if !x.is_finite()
                    && clean
                        .chars()
                        .any(|c| c.is_ascii_alphabetic() && c != 'e' && c != 'E') =>
            {
                Err(NumberProblem::NotFinite)
            }
            Ok(x) if !x.is_finite() || x.abs() >= 1.0 => Err(NumberProblem::TooLarge),
            Ok(_) => Err(NumberProblem::TooManyDigits),
            Err(_) => Err(NumberProblem::NotANumber),
        },
    }
}

/// A decimal as a mantissa without trailing zeros and a power of ten: `m * 10^e`.
fn decimal_parts(d: Decimal) -> (i128, i32) {
    let (mut m, mut e) = (d.mantissa(), -(d.scale() as i32));
    while m != 0 && m % 10 == 0 {
        m /= 10;
        e += 1;
    }
    (m, e)
}

/// The decimal `m * 10^e`, if a [`Decimal`] holds it exactly (at most 28 decimals, a mantissa
/// below 2^96).
fn decimal_from_parts(mut m: i128, mut e: i32) -> Option<Decimal> {
    if m == 0 {
        return Some(Decimal::ZERO);
    }
    while m % 10 == 0 {
        m /= 10;
        e += 1;
    }
    if e >= 0 {
        let m = 10i128
            .checked_pow(e as u32)
            .and_then(|p| m.checked_mul(p))?;
        Decimal::try_from_i128_with_scale(m, 0).ok()
    } else if -e <= 28 {
        Decimal::try_from_i128_with_scale(m, (-e) as u32).ok()
    } else {
        None
    }
}

/// `a + b` exactly, or `None` where a [`Decimal`] cannot hold the sum without rounding it
/// (`Decimal`'s own `+` rounds a sum with too many digits, and panics beyond its range).
pub fn exact_add(a: Decimal, b: Decimal) -> Option<Decimal> {
    let ((ma, ea), (mb, eb)) = (decimal_parts(a), decimal_parts(b));
    if ma == 0 {
        return Some(b);
    }
    if mb == 0 {
        return Some(a);
    }
    // Aligned at the smaller exponent. A mantissa that overflows there makes a sum beyond
    // 2^96 (the other mantissa, without trailing zeros, leaves a last digit), so no decimal
    // holds it either.
    let (hi, lo, e) = if ea >= eb { (ma, mb, eb) } else { (mb, ma, ea) };
    let shift = (ea - eb).unsigned_abs();
    let sum = 10i128
        .checked_pow(shift)
        .and_then(|p| hi.checked_mul(p))
        .and_then(|h| h.checked_add(lo))?;
    decimal_from_parts(sum, e)
}

/// `a * b` exactly, or `None` where a [`Decimal`] cannot hold the product without rounding
/// it (`Decimal`'s `checked_mul` rounds a product with more than 28 decimals, down to 0 for a
/// very small one).
pub fn exact_mul(a: Decimal, b: Decimal) -> Option<Decimal> {
    let ((ma, ea), (mb, eb)) = (decimal_parts(a), decimal_parts(b));
    if ma == 0 || mb == 0 {
        return Some(Decimal::ZERO);
    }
    let negative = (ma < 0) != (mb < 0);
    let (mut ua, mut ub) = (ma.unsigned_abs(), mb.unsigned_abs());
    // The product's trailing zeros (pairs of a 2 and a 5 from either factor) are taken out
    // first, so that the product left is the mantissa itself: one that overflows `u128` is
    // beyond 2^96.
    let count = |mut x: u128, f: u128| {
        let mut n = 0;
        while x % f == 0 {
            x /= f;
            n += 1;
        }
        n
    };
    let zeros = (count(ua, 2) + count(ub, 2)).min(count(ua, 5) + count(ub, 5));
    for f in [2, 5] {
        for _ in 0..zeros {
            if ua % f == 0 {
                ua /= f;
            } else {
                ub /= f;
            }
        }
    }
    let m = i128::try_from(ua.checked_mul(ub)?).ok()?;
    decimal_from_parts(if negative { -m } else { m }, ea + eb + zeros)
}

/// Converts to `i64`, saturating at the bounds (callers that may exceed them check the result
/// against a limit far below `i64::MAX`, so a saturated value is always caught).
#[inline]
pub fn saturate(x: i128) -> i64 {
    x.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

/// An amount of money in whole cents of the contract's currency.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(pub i64);

impl Money {
    /// Zero cents.
    pub const ZERO: Money = Money(0);

    /// The amount in cents.
    #[inline]
    pub fn cents(self) -> i64 {
        self.0
    }

    /// The amount as an exact decimal in currency units (two decimal places).
    pub fn to_decimal(self) -> Decimal {
        Decimal::new(self.0, 2)
    }

    /// Converts a decimal amount to cents, rounding half away from zero. `None` if out of range.
    pub fn from_decimal(d: Decimal) -> Option<Money> {
        let r = d.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
        let scaled = r.checked_mul(Decimal::ONE_HUNDRED)?;
        i64::try_from(scaled.mantissa() / 10i128.pow(scaled.scale()))
            .ok()
            .map(Money)
    }

    /// The smaller of two amounts.
    #[inline]
    pub fn min(self, o: Money) -> Money {
        Money(self.0.min(o.0))
    }

    /// `max(self, 0)`.
    #[inline]
    pub fn non_negative(self) -> Money {
        Money(self.0.max(0))
    }

    /// `self x ratio`, rounded to cents half away from zero.
    #[inline]
    pub fn mul_ratio(self, r: Ratio) -> Money {
        Money(div_round(self.0 as i128 * r.0 as i128, RATIO_ONE) as i64)
    }

    /// The amount in currency units as `f64` (for statistics only, never for settlement).
    #[inline]
    pub fn to_f64(self) -> f64 {
        self.0 as f64 / 100.0
    }
}

impl std::ops::Add for Money {
    type Output = Money;
    #[inline]
    fn add(self, o: Money) -> Money {
        Money(self.0 + o.0)
    }
}
impl std::ops::Sub for Money {
    type Output = Money;
    #[inline]
    fn sub(self, o: Money) -> Money {
        Money(self.0 - o.0)
    }
}
impl std::ops::AddAssign for Money {
    #[inline]
    fn add_assign(&mut self, o: Money) {
        self.0 += o.0;
    }
}
impl std::ops::SubAssign for Money {
    #[inline]
    fn sub_assign(&mut self, o: Money) {
        self.0 -= o.0;
    }
}
impl std::iter::Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        Money(iter.map(|m| m.0).sum())
    }
}

impl fmt::Display for Money {
    /// Plain decimal with two places, e.g. `-1234.50`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let a = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", a / 100, a % 100)
    }
}

/// Formats an amount with thousands separators, e.g. `1,234,567.89`.
pub fn format_thousands(m: Money) -> String {
    format_thousands_wide(m.0 as i128)
}

/// [`format_thousands`] of an amount in cents that may pass `i64` (a sum being refused).
pub fn format_thousands_wide(cents: i128) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let a = cents.unsigned_abs();
    let whole = (a / 100).to_string();
    let mut grouped = String::with_capacity(whole.len() + whole.len() / 3);
    for (i, ch) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    format!("{sign}{grouped}.{:02}", a % 100)
}

/// A fixed-point quantity with six decimal places (units achieved, days saved, people).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Qty(pub i64);

impl Qty {
    /// Zero.
    pub const ZERO: Qty = Qty(0);

    /// A whole number of units.
    #[inline]
    pub fn from_int(n: i64) -> Qty {
        Qty(n * MICRO as i64)
    }
    /// `Some(n)` when the quantity is a whole number.
    pub fn as_int(self) -> Option<i64> {
        (self.0 % MICRO as i64 == 0).then_some(self.0 / MICRO as i64)
    }
    /// Exact decimal value.
    pub fn to_decimal(self) -> Decimal {
        Decimal::new(self.0, MICRO_DP)
    }
    /// Converts a decimal with at most six decimal places; `None` otherwise or if out of range.
    pub fn from_decimal(d: Decimal) -> Option<Qty> {
        fixed_from_decimal(d, MICRO_DP).map(Qty)
    }
    /// `self x ratio`, rounded half away from zero to six decimal places; saturates beyond
    /// `i64` (callers check the result against a limit far below that bound, so a product too
    /// large is reported, never wrapped into a small or negative quantity).
    #[inline]
    pub fn mul_ratio(self, r: Ratio) -> Qty {
        Qty(saturate(div_round(self.0 as i128 * r.0 as i128, RATIO_ONE)))
    }
    /// The value as `f64` (statistics only).
    #[inline]
    pub fn to_f64(self) -> f64 {
        self.0 as f64 / MICRO as f64
    }
    /// The smaller of two quantities.
    #[inline]
    pub fn min(self, o: Qty) -> Qty {
        Qty(self.0.min(o.0))
    }
    /// The larger of two quantities.
    #[inline]
    pub fn max(self, o: Qty) -> Qty {
        Qty(self.0.max(o.0))
    }
}

impl std::ops::Add for Qty {
    type Output = Qty;
    #[inline]
    fn add(self, o: Qty) -> Qty {
        Qty(self.0 + o.0)
    }
}
impl std::ops::Sub for Qty {
    type Output = Qty;
    #[inline]
    fn sub(self, o: Qty) -> Qty {
        Qty(self.0 - o.0)
    }
}
impl std::ops::AddAssign for Qty {
    #[inline]
    fn add_assign(&mut self, o: Qty) {
        self.0 += o.0;
    }
}
impl fmt::Display for Qty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_decimal().normalize())
    }
}

/// A price per unit (or an amount per participant) with six decimal places of the currency.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Price(pub i64);

impl Price {
    /// Converts a decimal with at most six decimal places; `None` otherwise or if out of range.
    pub fn from_decimal(d: Decimal) -> Option<Price> {
        fixed_from_decimal(d, MICRO_DP).map(Price)
    }
    /// Exact decimal value.
    pub fn to_decimal(self) -> Decimal {
        Decimal::new(self.0, MICRO_DP)
    }
    /// `units x price`, rounded half away from zero to cents; saturates beyond `i64` cents
    /// (the settlement rejects amounts far below that bound).
    #[inline]
    pub fn times(self, units: Qty) -> Money {
        // units: 1e-6, price: 1e-6 currency = 1e-4 cents -> product in 1e-10 cents.
        let n = units.0 as i128 * self.0 as i128;
        Money(match i64::try_from(n) {
            Ok(n) => div_round_64(n, 10_000_000_000),
            Err(_) => saturate(div_round(n, 10_000_000_000)),
        })
    }
    /// Exact cents when the price is a whole number of cents.
    #[inline]
    pub fn whole_cents(self) -> Option<Money> {
        (self.0 % 10_000 == 0).then_some(Money(self.0 / 10_000))
    }
}
impl fmt::Display for Price {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_decimal().normalize())
    }
}

/// A dimensionless fixed-point ratio with twelve decimal places (shares, rates, fractions).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ratio(pub i64);

impl Ratio {
    /// Zero.
    pub const ZERO: Ratio = Ratio(0);
    /// One.
    pub const ONE: Ratio = Ratio(RATIO_ONE as i64);
    /// Converts a decimal, rounding half away from zero to twelve places; `None` if out of range.
    pub fn from_decimal(d: Decimal) -> Option<Ratio> {
        let r = d.round_dp_with_strategy(
            RATIO_DP,
            rust_decimal::RoundingStrategy::MidpointAwayFromZero,
        );
        fixed_from_decimal(r, RATIO_DP).map(Ratio)
    }
    /// Exact decimal value.
    pub fn to_decimal(self) -> Decimal {
        Decimal::new(self.0, RATIO_DP)
    }
    /// The ratio `num / den` rounded half away from zero to twelve places (`den` positive),
    /// saturating at the ends of `i64`.
    #[inline]
    pub fn of(num: i64, den: i64) -> Ratio {
        // Saturating: a ratio past `i64` (ten million units a participant) stays the largest,
        // so a comparison with a limit still comes out right.
        let r = div_round(num as i128 * RATIO_ONE, den as i128);
        Ratio(r.clamp(i64::MIN as i128, i64::MAX as i128) as i64)
    }
    /// The value as `f64` (statistics and display only).
    #[inline]
    pub fn to_f64(self) -> f64 {
        self.0 as f64 / RATIO_ONE as f64
    }
}
impl fmt::Display for Ratio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_decimal().normalize())
    }
}

fn fixed_from_decimal(d: Decimal, dp: u32) -> Option<i64> {
    if d.scale() > dp {
        let r = d.round_dp(dp);
        if r != d {
            return None;
        }
        return fixed_from_decimal(r, dp);
    }
    let m = d.mantissa().checked_mul(10i128.pow(dp - d.scale()))?;
    i64::try_from(m).ok()
}

/// The period rate equivalent to an annual `rate` for `per_year` periods a year, compounded:
/// `(1 + rate)^(1/per_year) - 1`, to twelve decimal places (Newton's method in exact integers).
pub fn compound_period_rate(annual: Ratio, per_year: u32) -> Ratio {
    if per_year <= 1 || annual.0 == 0 {
        return annual;
    }
    // Work in 1e-30 fixed point with i128 where it fits; scale 1e18 is plenty for 12 places.
    const S: i128 = 1_000_000_000_000_000_000; // 1e18
    let a = S + annual.0 as i128 * 1_000_000; // 1 + r at 1e18
    let k = per_year as i128;
    let pow = |x: i128, n: i128| -> i128 {
        let mut acc = S;
        for _ in 0..n {
            acc = acc * x / S;
        }
        acc
    };
    let mut x = S + (annual.0 as i128 * 1_000_000) / k;
    for _ in 0..100 {
        let xk1 = pow(x, k - 1);
        let xk = xk1 * x / S;
        let step = (xk - a) * S / (k * xk1);
        x -= step;
        if step.abs() <= 1 {
            break;
        }
    }
    Ratio(div_round(x - S, 1_000_000) as i64)
}

/// Greatest common divisor (`gcd(0, b) = b`).
pub(crate) fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        let t = a % b;
        a = b;
        b = t;
    }
    a
}

/// Splits `total` cents over `weights` by the **largest remainder** method: every part gets the
/// floor of its exact quota, and the cents left over go one each to the largest fractional
/// remainders, ties to the party listed first. The parts always add up to `total` exactly.
/// All-zero (or empty-sum) weights split equally. `out` must be as long as `weights`.
pub fn split_largest_remainder(total: Money, weights: &[i64], out: &mut [Money]) {
    debug_assert_eq!(weights.len(), out.len());
    let n = weights.len();
    if n == 0 {
        return;
    }
    if n == 1 {
        out[0] = total;
        return;
    }
    let neg = total.0 < 0;
    let t = total.0.unsigned_abs();
    // Weights reduced by their greatest common divisor (0.40/0.35/0.25 at twelve decimals
    // become 8/7/5), so the products usually fit in 64 bits; the quotas are unchanged.
    let mut g: u64 = 0;
    let mut wsum: u128 = 0;
    for &w in weights {
        if w > 0 {
            g = gcd(g, w as u64);
        }
    }
    let equal = g == 0;
    let g = g.max(1);
    let weight = |i: usize| -> u64 {
        if equal {
            1
        } else {
            weights[i].max(0) as u64 / g
        }
    };
    for i in 0..n {
        wsum += weight(i) as u128;
    }
    const STACK: usize = 64;
    let mut rem_stack = [0i128; STACK];
    let mut rem_heap;
    let rems: &mut [i128] = if n <= STACK {
        &mut rem_stack[..n]
    } else {
        rem_heap = vec![0i128; n];
        &mut rem_heap
    };
    let mut given: u128 = 0;
    let ws64 = u64::try_from(wsum).ok();
    for i in 0..n {
        let w = weight(i);
        let (q, r) = match (t.checked_mul(w), ws64) {
            (Some(exact), Some(ws)) => ((exact / ws) as u128, (exact % ws) as u128),
            _ => {
                let exact = t as u128 * w as u128;
                (exact / wsum, exact % wsum)
            }
        };
        rems[i] = r as i128;
        out[i] = Money(q as i64);
        given += q;
    }
    let mut left = t as u128 - given;
    if n <= 16 {
        // Few parts: rescanning for the largest remainder per cent is cheapest.
        while left > 0 {
            let mut best = 0usize;
            let mut best_r = -1i128;
            for (i, &r) in rems.iter().enumerate() {
                if r > best_r {
                    best = i;
                    best_r = r;
                }
            }
            out[best].0 += 1;
            rems[best] = -2; // taken: each part gets at most one extra cent
            left -= 1;
        }
    } else if left > 0 {
        // Many parts: the `left` (< n) cents go to the `left` first parts in the order of
        // remainder descending, index ascending (ties to the party listed first), found by one
        // selection instead of a scan per cent.
        let left = left as usize;
        let mut idx_stack = [0u32; STACK];
        let mut idx_heap;
        let idx: &mut [u32] = if n <= STACK {
            &mut idx_stack[..n]
        } else {
            idx_heap = vec![0u32; n];
            &mut idx_heap
        };
        for (i, x) in idx.iter_mut().enumerate() {
            *x = i as u32;
        }
        let order = |a: &u32, b: &u32| {
            rems[*b as usize]
                .cmp(&rems[*a as usize])
                .then_with(|| a.cmp(b))
        };
        if left < n {
            idx.select_nth_unstable_by(left - 1, order);
        }
        for &i in &idx[..left.min(n)] {
            out[i as usize].0 += 1;
        }
    }
    if neg {
        for o in out.iter_mut() {
            o.0 = -o.0;
        }
    }
}

/// Weights prepared once for many splits (an outcome's payer shares, a guarantee's
/// guarantors): [`SplitWeights::split`] gives exactly what [`split_largest_remainder`] gives
/// for the same weights, without reducing them again on every call.
///
/// The weights are reduced by their greatest common divisor up front. When their sum `S` and
/// `S x max weight` fit in 32 bits (shares such as 0.40/0.35/0.25 become 8/7/5, `S = 20`), a
/// split takes one division of the total by `S` and small divisions for the parts:
/// `t = a S + b` gives `t w = (a w) S + b w`, so the quota of weight `w` is `a w + (b w) / S`
/// with remainder `(b w) % S`, the same integers as `(t w) / S` and `(t w) % S`. Those
/// divisions by the fixed `S` are done by multiplication with a precomputed inverse
/// ([`DivU32`]), exact for every 32-bit numerator; a hardware division takes up to a few dozen
/// cycles and a split used to wait on four of them.
///
/// The remainders, and so which parts get the cents left over, depend on `b = t mod S` alone:
/// the split of `t` is `a w` plus the split of `b` cents. When `S` is small (at most
/// [`SPLIT_TABLE_MAX`]), the splits of `0..S` cents are computed once, and a split is one
/// division by `S`, a multiplication per part and a table row.
#[derive(Clone, Debug)]
pub struct SplitWeights {
    /// The original weights (for the general path).
    raw: Vec<i64>,
    /// Reduced weights (`1` each when no weight is positive).
    reduced: Vec<u32>,
    /// Sum of the reduced weights, when the 32-bit path applies.
    sum: u32,
    /// Division by `sum`.
    div: DivU32,
    small: bool,
    /// With `S <= SPLIT_TABLE_MAX`: row `b` (`n` entries from `b * n`) is the split of `b`
    /// cents; empty otherwise.
    table: Vec<u32>,
}

/// The largest sum of reduced weights for which [`SplitWeights`] keeps a table of the splits of
/// `0..S` cents (at most `S x 16` entries).
pub const SPLIT_TABLE_MAX: u32 = 1024;

/// Exact division and remainder of 32-bit numbers by a fixed divisor `d >= 2` through a
/// multiplication (D. Lemire, O. Kaser, N. Kurz, "Faster remainder by direct computation",
/// 2019): with `m = ceil(2^64 / d)`, `n / d = (m n) >> 64` and
/// `n % d = ((m n mod 2^64) d) >> 64` for every `n < 2^32`.
#[derive(Clone, Copy, Debug)]
pub struct DivU32 {
    d: u32,
    m: u64,
}

impl DivU32 {
    /// Prepares division by `d`; `None` when `d < 2`.
    pub fn new(d: u32) -> Option<DivU32> {
        (d >= 2).then(|| DivU32 {
            d,
            m: u64::MAX / d as u64 + 1,
        })
    }

    /// `(n / d, n % d)`.
    #[inline]
    pub fn div_rem(self, n: u32) -> (u32, u32) {
        let low = self.m.wrapping_mul(n as u64);
        let q = ((self.m as u128 * n as u128) >> 64) as u32;
        let r = ((low as u128 * self.d as u128) >> 64) as u32;
        (q, r)
    }
}

impl SplitWeights {
    /// Prepares `weights` (as passed to [`split_largest_remainder`]).
    pub fn new(weights: &[i64]) -> Self {
        let mut g: u64 = 0;
        for &w in weights {
            if w > 0 {
                g = gcd(g, w as u64);
            }
        }
        let equal = g == 0;
        let g = g.max(1);
        let red: Vec<u64> = weights
            .iter()
            .map(|&w| if equal { 1 } else { w.max(0) as u64 / g })
            .collect();
        let sum: u128 = red.iter().map(|&w| w as u128).sum();
        let maxw = red.iter().copied().max().unwrap_or(0) as u128;
        let small = sum > 0 && sum.checked_mul(maxw).is_some_and(|x| x <= u32::MAX as u128);
        let div = if small { DivU32::new(sum as u32) } else { None };
        let small = small && div.is_some();
        let mut sw = SplitWeights {
            div: div.unwrap_or(DivU32 { d: 1, m: 0 }),
            raw: weights.to_vec(),
            reduced: if small {
                red.iter().map(|&w| w as u32).collect()
            } else {
                Vec::new()
            },
            sum: if small { sum as u32 } else { 0 },
            small,
            table: Vec::new(),
        };
        let n = weights.len();
        if small && (2..=16).contains(&n) && sw.sum <= SPLIT_TABLE_MAX {
            let mut table = vec![0u32; sw.sum as usize * n];
            let mut part = vec![Money::ZERO; n];
            for (b, row) in table.chunks_exact_mut(n).enumerate() {
                sw.split_by_remainders(Money(b as i64), &mut part);
                for (r, p) in row.iter_mut().zip(&part) {
                    *r = p.0 as u32;
                }
            }
            sw.table = table;
        }
        sw
    }

    /// Number of parts.
    #[inline]
    pub fn len(&self) -> usize {
        self.raw.len()
    }

    /// Whether there are no parts.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// Splits `total` into `out` (as long as the weights), exactly like
    /// [`split_largest_remainder`].
    #[inline]
    pub fn split(&self, total: Money, out: &mut [Money]) {
        let n = self.raw.len();
        if !self.table.is_empty() {
            debug_assert_eq!(out.len(), n);
            let (a, b) = self.div_rem_sum(total.0.unsigned_abs());
            let row = &self.table[b as usize * n..(b as usize + 1) * n];
            // Each part is at most `t`, so it fits in `i64`.
            for ((o, &w), &r) in out.iter_mut().zip(&self.reduced).zip(row) {
                o.0 = (a * w as u64 + r as u64) as i64;
            }
            if total.0 < 0 {
                for o in out.iter_mut() {
                    o.0 = -o.0;
                }
            }
            return;
        }
        self.split_by_remainders(total, out);
    }

    /// `(t / S, t % S)` for the sum `S` of the reduced weights (32-bit path only): by the
    /// prepared inverse when `t` fits in 32 bits.
    #[inline]
    fn div_rem_sum(&self, t: u64) -> (u64, u32) {
        match u32::try_from(t) {
            Ok(t) => {
                let (a, b) = self.div.div_rem(t);
                (a as u64, b)
            }
            Err(_) => (t / self.sum as u64, (t % self.sum as u64) as u32),
        }
    }

    /// [`SplitWeights::split`] without the table: the quotas and remainders of every part.
    fn split_by_remainders(&self, total: Money, out: &mut [Money]) {
        let n = self.raw.len();
        if !self.small || !(2..=16).contains(&n) {
            split_largest_remainder(total, &self.raw, out);
            return;
        }
        debug_assert_eq!(out.len(), n);
        let neg = total.0 < 0;
        let div = self.div;
        let (a, b) = self.div_rem_sum(total.0.unsigned_abs());
        let mut rems = [0u32; 16];
        let mut given_frac: u64 = 0;
        for (i, &w) in self.reduced.iter().enumerate() {
            let bw = b * w; // < S x max weight, fits in 32 bits
            let (f, r) = div.div_rem(bw);
            let q = a * w as u64 + f as u64;
            rems[i] = r;
            out[i] = Money(q as i64);
            given_frac += f as u64;
        }
        // The floors add up to a S + sum (b w) / S, so b - sum (b w) / S cents are left.
        let mut left = b as u64 - given_frac;
        while left > 0 {
            let mut best = 0usize;
            let mut best_r: i64 = -1;
            for (i, &r) in rems[..n].iter().enumerate() {
                if r as i64 > best_r {
                    best = i;
                    best_r = r as i64;
                }
            }
            out[best].0 += 1;
            // Taken: each part gets at most one extra cent. Marking it 0 is enough: the
            // remainders add up to `left x S` with each below `S`, so while cents are left some
            // part not yet taken has a remainder above 0 and wins (ties to the first, as in
            // `split_largest_remainder`).
            rems[best] = 0;
            left -= 1;
        }
        if neg {
            for o in out.iter_mut() {
                o.0 = -o.0;
            }
        }
    }
}

/// A xorshift64 generator for unit tests' random cases (deterministic, no dependencies).
#[cfg(test)]
pub(crate) fn xorshift(mut x: u64) -> impl FnMut() -> u64 {
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    /// Exact sums and products, and `None` wherever `Decimal` would round or overflow.
    #[test]
    fn exact_decimal_arithmetic_refuses_what_it_cannot_hold() {
        let add = |a: &str, b: &str| exact_add(d(a), d(b)).map(|x| x.normalize().to_string());
        let mul = |a: &str, b: &str| exact_mul(d(a), d(b)).map(|x| x.normalize().to_string());
        assert_eq!(add("1000", "0.45").as_deref(), Some("1000.45"));
        assert_eq!(add("0.5", "-0.5").as_deref(), Some("0"));
        assert_eq!(add("-2.25", "0").as_deref(), Some("-2.25"));
        assert_eq!(
            add("1e27", "1e27").as_deref(),
            Some("2000000000000000000000000000")
        );
        assert_eq!(add("79228162514264337593543950335", "1"), None);
        assert_eq!(add("1000000000000", "0.0000000000000000000000000001"), None);
        assert_eq!(add("70000000000000000000000000000", "0.3"), None);
        assert_eq!(add("-5e28", "-5e28"), None);
        assert_eq!(mul("1000", "1.0005").as_deref(), Some("1000.5"));
        assert_eq!(mul("-40", "0.5125").as_deref(), Some("-20.5"));
        assert_eq!(mul("1e-25", "1e-28"), None);
        assert_eq!(mul("0.1", "0.0000000000000000000000000001"), None);
        assert_eq!(mul("0.3", "0.1234567890123456789012345678"), None);
        assert_eq!(mul("5e28", "2"), None);
        assert_eq!(mul("0", "1e-28").as_deref(), Some("0"));
        // A product of two long mantissas with trailing zeros between them: 2^90 x 5^38 is
        // 2^52 x 10^38, beyond a decimal; divided by 10^56 it is 2^52 / 10^18.
        let two90 = Decimal::from_i128_with_scale(1i128 << 90, 28);
        let five38 = Decimal::from_i128_with_scale(5i128.pow(38), 28);
        assert_eq!(
            exact_mul(two90, five38)
                .map(|x| x.normalize().to_string())
                .as_deref(),
            Some("0.004503599627370496")
        );
        for (a, b) in [("1.5", "2.25"), ("-0.001", "123456.789"), ("7", "1e-20")] {
            assert_eq!(exact_mul(d(a), d(b)), d(a).checked_mul(d(b)));
            assert_eq!(exact_add(d(a), d(b)), d(a).checked_add(d(b)));
        }
    }

    #[test]
    fn division_by_a_prepared_divisor_is_exact() {
        assert!(DivU32::new(0).is_none());
        assert!(DivU32::new(1).is_none());
        let mut next = xorshift(0x9e37_79b9_7f4a_7c15);
        let mut divisors = vec![
            2u32,
            3,
            5,
            7,
            20,
            1000,
            65_535,
            65_536,
            u32::MAX - 1,
            u32::MAX,
        ];
        divisors.extend((0..200).map(|_| (next() as u32).max(2)));
        divisors.extend((0..200).map(|_| ((next() % 5000) as u32).max(2)));
        for &d in &divisors {
            let div = DivU32::new(d).unwrap();
            let mut ns = vec![0u32, 1, d - 1, d, d.wrapping_add(1), u32::MAX, u32::MAX - 1];
            ns.extend((0..200).map(|_| next() as u32));
            ns.extend((0..50).map(|_| (next() % 100_000) as u32));
            for &n in &ns {
                assert_eq!(div.div_rem(n), (n / d, n % d), "{n} / {d}");
            }
        }
    }

    #[test]
    fn tabled_split_equals_the_general_split_for_every_remainder() {
        let mut next = xorshift(0x0bad_cafe_f00d_d00d);
        let fixed: [&[i64]; 4] = [
            &[400_000_000_000, 350_000_000_000, 250_000_000_000],
            &[1, 1, 1],
            &[3, 0, 5, 1],
            &[511, 513],
        ];
        for w in fixed {
            let sw = SplitWeights::new(w);
            assert!(!sw.table.is_empty(), "weights {w:?} use the table");
            let s = sw.sum as i64;
            let mut a = vec![Money::ZERO; w.len()];
            let mut b = vec![Money::ZERO; w.len()];
            for base in [0, s * 1_000, s * (u32::MAX as i64 / s), s * (1 << 40)] {
                for r in 0..s {
                    for total in [base + r, -(base + r)] {
                        let total = total + (next() % 3) as i64 * s;
                        split_largest_remainder(Money(total), w, &mut a);
                        sw.split(Money(total), &mut b);
                        assert_eq!(a, b, "weights {w:?} total {total}");
                    }
                }
            }
        }
        // Past the table's bound the remainders are computed each time.
        assert!(
            SplitWeights::new(&[SPLIT_TABLE_MAX as i64, 1])
                .table
                .is_empty()
        );
    }

    #[test]
    fn prepared_split_equals_the_general_split() {
        let mut next = xorshift(0x1234_5678_9abc_def1);
        let fixed: [&[i64]; 6] = [
            &[400_000_000_000, 350_000_000_000, 250_000_000_000],
            &[1, 1, 1],
            &[0, 0, 0],
            &[0, 5, 0, -3],
            &[7],
            &[i64::MAX, 1],
        ];
        for round in 0..20_000 {
            let w: Vec<i64> = if round < fixed.len() * 50 {
                fixed[round % fixed.len()].to_vec()
            } else {
                let n = 2 + (next() % 6) as usize;
                let scale = [10u64, 1000, 1 << 20, 1 << 40][(next() % 4) as usize];
                (0..n)
                    .map(|_| (next() % scale) as i64 - (next() % 3 == 0) as i64)
                    .collect()
            };
            let total = match next() % 4 {
                0 => (next() % 1000) as i64,
                1 => (next() % 1_000_000_000_000) as i64,
                2 => -((next() % 1_000_000_000) as i64),
                _ => (next() >> 2) as i64,
            };
            let mut a = vec![Money::ZERO; w.len()];
            let mut b = vec![Money::ZERO; w.len()];
            split_largest_remainder(Money(total), &w, &mut a);
            SplitWeights::new(&w).split(Money(total), &mut b);
            assert_eq!(a, b, "weights {w:?} total {total}");
        }
    }

    #[test]
    fn rounding_is_half_away_from_zero() {
        assert_eq!(div_round(5, 10), 1);
        assert_eq!(div_round(-5, 10), -1);
        assert_eq!(div_round(4, 10), 0);
        assert_eq!(div_round(-4, 10), 0);
        assert_eq!(div_round(15, 10), 2);
        assert_eq!(div_round(25, 10), 3);
        assert_eq!(Money::from_decimal(d("0.005")), Some(Money(1)));
        assert_eq!(Money::from_decimal(d("-0.005")), Some(Money(-1)));
        assert_eq!(Money::from_decimal(d("2.675")), Some(Money(268)));
        assert_eq!(Money::from_decimal(d("2.6749")), Some(Money(267)));
    }

    #[test]
    fn price_times_units_rounds_once() {
        let p = Price::from_decimal(d("33.333333")).unwrap();
        // 3 x 33.333333 = 99.999999 -> 100.00
        assert_eq!(p.times(Qty::from_int(3)), Money(10000));
        let p = Price::from_decimal(d("0.125")).unwrap();
        assert_eq!(p.times(Qty::from_int(1)), Money(13));
        assert_eq!(p.times(Qty::from_int(2)), Money(25));
        let half = Qty::from_decimal(d("0.5")).unwrap();
        assert_eq!(
            Price::from_decimal(d("0.01")).unwrap().times(half),
            Money(1)
        );
    }

    #[test]
    fn fixed_point_rejects_excess_precision() {
        assert!(Qty::from_decimal(d("1.0000001")).is_none());
        assert_eq!(Qty::from_decimal(d("1.5000000")), Some(Qty(1_500_000)));
        assert!(Price::from_decimal(d("1e20")).is_none());
    }

    #[test]
    fn largest_remainder_ties_go_first() {
        let mut out = [Money::ZERO; 3];
        split_largest_remainder(Money(100), &[1, 1, 1], &mut out);
        assert_eq!(out, [Money(34), Money(33), Money(33)]);
        split_largest_remainder(Money(101), &[4, 35, 25], &mut out);
        // quotas 6.3125, 55.234375, 39.453125 -> 6, 55, 39, and the left-over cent goes to the largest remainder (.453125)
        assert_eq!(out, [Money(6), Money(55), Money(40)]);
        split_largest_remainder(Money(-100), &[1, 1, 1], &mut out);
        assert_eq!(out, [Money(-34), Money(-33), Money(-33)]);
        split_largest_remainder(Money(5), &[0, 0, 0], &mut out);
        assert_eq!(out, [Money(2), Money(2), Money(1)]);
    }

    #[test]
    fn compound_rate() {
        let r = compound_period_rate(Ratio::from_decimal(d("0.12")).unwrap(), 4);
        // 1.12^(1/4) - 1 = 0.028737345215...
        assert_eq!(r.to_decimal().round_dp(9), d("0.028737345"));
        let r = compound_period_rate(Ratio::from_decimal(d("0.05")).unwrap(), 12);
        assert_eq!(r.to_decimal().round_dp(9), d("0.004074124"));
    }

    #[test]
    fn thousands() {
        assert_eq!(format_thousands(Money(123456789)), "1,234,567.89");
        assert_eq!(format_thousands(Money(-5)), "-0.05");
        assert_eq!(format_thousands(Money(100000)), "1,000.00");
    }
}

macro_rules! serialize_as_decimal {
    ($($t:ty),*) => {$(
        impl serde::Serialize for $t {
            /// Exact decimal text, e.g. `"1500.00"`, so no precision is lost in JSON.
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(&self.to_decimal())
            }
        }
    )*};
}
serialize_as_decimal!(Money, Qty, Price, Ratio);
