//! The one search: the longest prefix of the member stream whose framed size fits the budget.
//!
//! `size(k)` is non-decreasing in `k`, so the answer is the boundary between a fitting and a
//! non-fitting count. The search keeps a bracket `lo` (fits) / `hi` (does not fit, or past the
//! member cap) and chooses the next count to probe by:
//!
//! 1. **extrapolation** while no upper bound is known: `lo * budget / size(lo)`, aimed a little
//!    high so the next probe usually brackets the answer, and at most `16 * lo` so one unusually
//!    short early member cannot send a probe far past the answer (this replaces blind doubling:
//!    a few probes near the answer instead of `log2(k)` probes of growing prefixes);
//! 2. **interpolation** between the bracket ends once both sizes are known;
//! 3. **bisection** whenever, with both ends measured, the previous guided step failed to halve
//!    the bracket, which bounds the worst case, once the answer is bracketed, at about twice the
//!    probes of a plain binary search.
//!    Bisection never runs towards an unmeasured cap, which may be `usize::MAX`.
//!
//! The probe decides what a probe costs: the re-encode sizing encodes the whole prefix, the
//! encode-once sizing reads recorded offsets. Neither changes which `k` is found.

/// What a probe of `k` members learned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// `size(k)` is at most the budget; the value is `size(k)`.
    Fits(usize),
    /// `size(at)` exceeds the budget for some `at <= k` (the probe may stop early).
    Exceeds {
        /// A member count known not to fit.
        at: usize,
        /// Its framed size (exact or a lower bound; only used to steer).
        size: usize,
    },
}

/// Outcome of a search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// The longest fitting prefix has `members` members and `size` bytes.
    Prefix {
        /// Member count, at least 1.
        members: usize,
        /// Framed size.
        size: usize,
    },
    /// Not even one member fits; `first_size` is the framed size of the one-member block.
    Nothing {
        /// Framed size of the first member alone.
        first_size: usize,
    },
}

/// Finds the largest `k` in `1..=cap` with `size(k) <= budget`, asking `probe` for sizes.
///
/// Callers bound `cap` by the budget (every framed member takes at least one byte), so no probe
/// ever asks for more members than could possibly fit.
pub fn longest_prefix(budget: usize, cap: usize, mut probe: impl FnMut(usize) -> Probe) -> Found {
    let cap = cap.max(1);
    let (mut lo, mut lo_size) = match probe(1) {
        Probe::Fits(size) => (1usize, size),
        Probe::Exceeds { size, .. } => return Found::Nothing { first_size: size },
    };
    // `hi` is the smallest count known not to fit, or `cap + 1` (never probed).
    let mut hi = cap.saturating_add(1);
    let mut hi_size: Option<usize> = None;
    let mut guided = true;
    // While no count is known not to fit: the least the next probe asks for. It doubles after
    // an extrapolation that fitted but grew `lo` by less than half, which happens when early
    // members are much longer than later ones; growth is then geometric, not a crawl.
    let mut floor = 0usize;
    while hi - lo > 1 {
        let width = hi - lo;
        let guess = if guided { guided_guess(budget, lo, lo_size, hi, hi_size) } else { lo + width / 2 };
        let guess = if hi_size.is_none() { guess.max(floor) } else { guess };
        let k = guess.clamp(lo + 1, hi - 1);
        match probe(k) {
            Probe::Fits(size) => {
                floor = if k < lo + lo / 2 { k.saturating_mul(2) } else { 0 };
                lo = k;
                lo_size = size;
            }
            Probe::Exceeds { at, size } => {
                // A correct probe reports `lo < at <= k`; clamp to the probed `k` so a faulty one
                // (reporting `at >= hi`) still shrinks the bracket and cannot repeat this probe.
                hi = at.clamp(lo + 1, k);
                hi_size = Some(size);
            }
        }
        // Once both ends are measured, guided steps must at least halve the bracket or the next
        // step bisects. Before that, extrapolation (with the floor above) grows `lo`.
        guided = hi_size.is_none() || hi - lo <= width / 2;
    }
    Found::Prefix { members: lo, size: lo_size }
}

/// The interpolated (or, without an upper size, extrapolated) count where `size` meets `budget`.
fn guided_guess(budget: usize, lo: usize, lo_size: usize, hi: usize, hi_size: Option<usize>) -> usize {
    let (lo_w, budget_w, lo_size_w) = (lo as u128, budget as u128, lo_size.max(1) as u128);
    let guess = match hi_size {
        Some(hs) if hs > lo_size => {
            let span = (hi - lo) as u128;
            lo_w + (budget_w.saturating_sub(lo_size as u128)) * span / (hs - lo_size) as u128
        }
        _ => {
            // Extrapolate from the average framed member so far, and aim 1/32 high so the next
            // probe most likely lands just past the answer and closes the bracket.
            // Growth is capped at 16x per step: a short first member would otherwise make a
            // re-encode probe generate and encode many times the budget.
            let est = lo_w * budget_w / lo_size_w;
            (est + est / 32 + 1).min(lo_w.saturating_mul(16))
        }
    };
    usize::try_from(guess).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    /// A probe over fixed member sizes, counting calls.
    fn run(sizes: &[usize], budget: usize, cap: usize) -> (Found, usize) {
        let calls = Cell::new(0);
        let found = longest_prefix(budget, cap, |k| {
            calls.set(calls.get() + 1);
            let size: usize = sizes.iter().take(k).sum::<usize>() + 2;
            if size <= budget { Probe::Fits(size) } else { Probe::Exceeds { at: k, size } }
        });
        (found, calls.get())
    }

    fn brute(sizes: &[usize], budget: usize, cap: usize) -> Found {
        let mut best = None;
        for k in 1..=cap.min(sizes.len()) {
            let size: usize = sizes.iter().take(k).sum::<usize>() + 2;
            if size <= budget {
                best = Some((k, size));
            } else {
                break;
            }
        }
        match best {
            Some((members, size)) => Found::Prefix { members, size },
            None => Found::Nothing { first_size: sizes[0] + 2 },
        }
    }

    #[test]
    fn matches_brute_force_on_irregular_sizes() {
        let mut rng = crate::rng::BlockRng::for_block(3, 3);
        for trial in 0..300 {
            let n = 2000;
            let sizes: Vec<usize> =
                (0..n).map(|_| 1 + rng.below(if trial % 3 == 0 { 2000 } else { 40 }) as usize).collect();
            let budget = rng.inclusive(1, 60_000) as usize;
            let cap = if trial % 5 == 0 { 1 + rng.below(50) as usize } else { n - 1 };
            let (found, calls) = run(&sizes, budget, cap);
            assert_eq!(found, brute(&sizes, budget, cap), "trial {trial} budget {budget} cap {cap}");
            assert!(calls <= 2 * 64, "too many probes: {calls}");
        }
    }

    #[test]
    fn uniform_members_need_few_probes() {
        let sizes = vec![100usize; 100_000];
        let (found, calls) = run(&sizes, 1 << 20, usize::MAX);
        assert_eq!(found, Found::Prefix { members: 10_485, size: 1_048_502 });
        assert!(calls <= 8, "{calls} probes");
    }

    #[test]
    fn undershooting_extrapolation_grows_instead_of_jumping_to_the_cap() {
        // A long first member makes the extrapolation undershoot while nothing bounds the search
        // from above; the next step must stay near the answer, not bisect towards `usize::MAX`.
        let mut sizes = vec![10usize; 5_000];
        sizes[0] = 1_000;
        let largest = Cell::new(0);
        let found = longest_prefix(10_000, usize::MAX, |k| {
            largest.set(largest.get().max(k));
            let size: usize = sizes.iter().take(k).sum::<usize>() + 2;
            if size <= 10_000 { Probe::Fits(size) } else { Probe::Exceeds { at: k, size } }
        });
        assert_eq!(found, Found::Prefix { members: 900, size: 9_992 });
        assert!(largest.get() < 4 * 900, "probed {} members", largest.get());
    }

    #[test]
    fn an_unbounded_search_never_probes_far_past_the_answer() {
        // A large first member and a small second one: the extrapolated step fits without
        // halving the (unbounded) bracket, which must not send the next probe towards `cap`.
        let sizes = [1500usize, 50, 2000, 2000];
        let most = Cell::new(0);
        let found = longest_prefix(2048, usize::MAX, |k| {
            most.set(most.get().max(k));
            let size: usize = sizes.iter().take(k).sum::<usize>() + 2;
            if size <= 2048 { Probe::Fits(size) } else { Probe::Exceeds { at: k, size } }
        });
        assert_eq!(found, Found::Prefix { members: 2, size: 1552 });
        assert!(most.get() <= 4, "probed {} members", most.get());
    }

    /// Probes and total prefix sizes asked for (what a re-encode probe would encode, capped at
    /// the first overflow) over explicit member sizes.
    fn cost(sizes: &[usize], budget: usize) -> (Found, usize, usize) {
        let (calls, encoded) = (Cell::new(0), Cell::new(0));
        let found = longest_prefix(budget, usize::MAX, |k| {
            calls.set(calls.get() + 1);
            let mut size = 2;
            for (i, s) in sizes.iter().take(k).enumerate() {
                size += s;
                if size > budget {
                    encoded.set(encoded.get() + size);
                    return Probe::Exceeds { at: i + 1, size };
                }
            }
            encoded.set(encoded.get() + size);
            if size <= budget { Probe::Fits(size) } else { Probe::Exceeds { at: k, size } }
        });
        (found, calls.get(), encoded.get())
    }

    #[test]
    fn a_long_first_member_does_not_make_the_search_crawl() {
        // A first member that nearly fills the budget makes every extrapolation undershoot.
        for (first, rest) in [(1_000_000usize, 100usize), (1_040_000, 2)] {
            let mut sizes = vec![rest; 100_000];
            sizes[0] = first;
            let (found, calls, encoded) = cost(&sizes, 1 << 20);
            let Found::Prefix { members, size } = found else { panic!("nothing fits") };
            assert!(size <= 1 << 20 && size + rest > 1 << 20, "not maximal: {members} members, {size} bytes");
            assert!(calls <= 40, "{calls} probes for {members} members");
            assert!(encoded <= 30 << 20, "encoded {encoded} bytes for a 1 MiB block");
        }
    }

    #[test]
    fn a_probe_reporting_a_count_past_the_bracket_cannot_loop() {
        // A faulty probe: every count from 10 on "exceeds", but it names a count at or past the
        // bracket's upper end. The search must still end, at the last count that fitted.
        for bad_at in [usize::MAX, 1_000_000, 51] {
            let calls = Cell::new(0);
            let found = longest_prefix(1 << 20, 50, |k| {
                calls.set(calls.get() + 1);
                assert!(calls.get() < 200, "the search repeats probe {k}");
                if k < 10 { Probe::Fits(k * 10) } else { Probe::Exceeds { at: bad_at, size: 1 << 21 } }
            });
            assert_eq!(found, Found::Prefix { members: 9, size: 90 }, "at = {bad_at}");
        }
    }

    #[test]
    fn nothing_fits() {
        assert_eq!(run(&[50, 1], 10, 10).0, Found::Nothing { first_size: 52 });
    }

    #[test]
    fn cap_is_respected() {
        let sizes = vec![1usize; 100];
        assert_eq!(run(&sizes, 1000, 7).0, Found::Prefix { members: 7, size: 9 });
        assert_eq!(run(&sizes, 1000, 1).0, Found::Prefix { members: 1, size: 3 });
    }
}
