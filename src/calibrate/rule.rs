//! The decision rule: which strategy `auto` uses for one format at one block size.
//!
//! All of it lives in [`decide`]; the thresholds are the constants below. See [`decide`] for the
//! exact definition and why memory differences are compared with tolerance bands.

use std::fmt;

/// A strategy is *slower* only if its median time exceeds the fastest median by more than this
/// factor (5%, lading's time threshold) **and** its time range does not overlap the fastest's.
pub const SLOWER_FACTOR: f64 = 1.05;

/// Allocations per MiB within 20% of the fewest (lading's allocation threshold), or within
/// [`ALLOCS_SLACK_PER_MIB`] of it, count as a tie.
pub const ALLOCS_BAND: f64 = 0.20;
/// Absolute slack on allocations per MiB: one allocation per MiB emitted is noise-free but
/// immaterial (a reuse buffer growing once during a long run).
pub const ALLOCS_SLACK_PER_MIB: f64 = 1.0;

/// Bytes allocated per MiB within 10% of the fewest (lading's memory threshold), or within
/// [`BYTES_SLACK_PER_MIB`] of it, count as a tie.
pub const BYTES_BAND: f64 = 0.10;
/// Absolute slack on bytes allocated per MiB emitted: 1 KiB.
pub const BYTES_SLACK_PER_MIB: f64 = 1024.0;

/// Peak live bytes within 10% of the lowest (lading's memory threshold), or within
/// [`PEAK_SLACK`] of it, count as a tie.
pub const PEAK_BAND: f64 = 0.10;
/// Absolute slack on peak live bytes: 4 KiB.
pub const PEAK_SLACK: f64 = 4096.0;

/// The figures of one strategy that the rule looks at. Times are seconds for the same volume
/// (every strategy emits identical blocks, so equal volumes are equal work).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Candidate {
    /// Median time of the repetitions.
    pub median: f64,
    /// Fastest repetition.
    pub min: f64,
    /// Slowest repetition.
    pub max: f64,
    /// Allocations per MiB emitted (steady state).
    pub allocs_per_mib: f64,
    /// Bytes allocated per MiB emitted (steady state).
    pub bytes_per_mib: f64,
    /// Peak live bytes while generating.
    pub peak_live_bytes: f64,
}

/// Why a row was chosen or not: the step of [`decide`] that settled it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// Chosen: the only strategy that is not slower, or the fastest among memory ties.
    Fastest,
    /// Chosen: not slower, and the only one with the fewest allocations (beyond the band).
    FewerAllocs,
    /// Chosen: tied on allocations, fewest bytes allocated.
    FewerBytes,
    /// Chosen: tied on allocations and bytes, lowest peak live bytes.
    LowerPeak,
    /// Chosen: tied on all memory figures, and the fastest median among those ties (the fastest
    /// overall having been ruled out by memory).
    Faster,
    /// Rejected: more than 5% slower than the fastest, with non-overlapping ranges.
    Slower,
    /// Rejected: not slower, but more allocations than the band allows.
    MoreAllocs,
    /// Rejected: tied on allocations, more bytes allocated.
    MoreBytes,
    /// Rejected: tied on allocations and bytes, higher peak.
    HigherPeak,
    /// Rejected: tied on everything, a slower median than the chosen one.
    NotChosen,
}

impl Verdict {
    /// The label reports and the selection file use, e.g. `tie→fewer-allocs`.
    pub const fn label(self) -> &'static str {
        match self {
            Verdict::Fastest => "fastest",
            Verdict::FewerAllocs => "tie→fewer-allocs",
            Verdict::FewerBytes => "tie→fewer-bytes",
            Verdict::LowerPeak => "tie→lower-peak",
            Verdict::Faster => "tie→faster",
            Verdict::Slower => "slower",
            Verdict::MoreAllocs => "more-allocs",
            Verdict::MoreBytes => "more-bytes",
            Verdict::HigherPeak => "higher-peak",
            Verdict::NotChosen => "not-chosen",
        }
    }

    /// True for the verdict of the chosen strategy.
    pub const fn is_chosen(self) -> bool {
        matches!(
            self,
            Verdict::Fastest | Verdict::FewerAllocs | Verdict::FewerBytes | Verdict::LowerPeak | Verdict::Faster
        )
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// The outcome of [`decide`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Index of the chosen candidate.
    pub chosen: usize,
    /// Index of the candidate with the lowest median time.
    pub fastest: usize,
    /// One verdict per candidate, in input order.
    pub verdicts: Vec<Verdict>,
}

/// One memory step of [`decide`]: a figure, its tie band, and the verdicts it hands out.
struct MemoryStep {
    figure: fn(&Candidate) -> f64,
    band: f64,
    slack: f64,
    win: Verdict,
    lose: Verdict,
}

/// Steps 2 to 4 of [`decide`], in order.
const MEMORY_STEPS: [MemoryStep; 3] = [
    MemoryStep {
        figure: |c| c.allocs_per_mib,
        band: ALLOCS_BAND,
        slack: ALLOCS_SLACK_PER_MIB,
        win: Verdict::FewerAllocs,
        lose: Verdict::MoreAllocs,
    },
    MemoryStep {
        figure: |c| c.bytes_per_mib,
        band: BYTES_BAND,
        slack: BYTES_SLACK_PER_MIB,
        win: Verdict::FewerBytes,
        lose: Verdict::MoreBytes,
    },
    MemoryStep {
        figure: |c| c.peak_live_bytes,
        band: PEAK_BAND,
        slack: PEAK_SLACK,
        win: Verdict::LowerPeak,
        lose: Verdict::HigherPeak,
    },
];

/// Decides among the strategies measured for one format and block size. Returns `None` only for
/// an empty slice.
///
/// The rule, step by step (each step narrows the *contenders*; rows dropped at a step get that
/// step's rejection verdict, and the chosen row gets the verdict of the step that left it alone):
///
/// 1. **Time.** The fastest is the lowest median (first in input order on equal medians). A
///    strategy is *slower* when `median > 1.05 × fastest median` **and** its `[min, max]` range
///    does not overlap the fastest's. Everything else, the fastest included, stays in.
///    One contender left: it wins as `fastest`.
/// 2. **Allocations.** Keep contenders whose allocations per MiB are at most
///    `fewest × 1.20 + 1` (lading's 20% allocation threshold, plus one allocation per MiB of
///    absolute slack); the others are `more-allocs`. One left: `tie→fewer-allocs`.
/// 3. **Bytes allocated.** Same with bytes per MiB: at most `fewest × 1.10 + 1 KiB` (lading's
///    10% memory threshold); the others are `more-bytes`. One left: `tie→fewer-bytes`.
/// 4. **Peak live bytes.** At most `lowest × 1.10 + 4 KiB`; the others are `higher-peak`. One
///    left: `tie→lower-peak`.
/// 5. **Still tied.** The lowest median among the contenders wins: `fastest` if it is the fastest
///    overall, `tie→faster` otherwise; the rest are `not-chosen`.
///
/// Why bands rather than "strictly fewer": allocation counts are exact, but a 3% difference in
/// allocations is not worth more than a 3× difference in bytes allocated. A band lets the next
/// criterion speak when the previous one barely separates the strategies; it is never wider than
/// the thresholds lading's reviews treat as a real change. Bands are measured from the best
/// contender, so they cannot chain (A near B near C does not tie A with C).
pub fn decide(candidates: &[Candidate]) -> Option<Decision> {
    let fastest = (0..candidates.len()).min_by(|&a, &b| candidates[a].median.total_cmp(&candidates[b].median))?;
    let best = candidates[fastest];
    let mut verdicts = vec![Verdict::NotChosen; candidates.len()];
    let mut contenders: Vec<usize> = Vec::with_capacity(candidates.len());
    for (i, c) in candidates.iter().enumerate() {
        let overlaps = c.min <= best.max && best.min <= c.max;
        if c.median > best.median * SLOWER_FACTOR && !overlaps {
            verdicts[i] = Verdict::Slower;
        } else {
            contenders.push(i);
        }
    }
    let mut decided_by = Verdict::Fastest;
    for step in &MEMORY_STEPS {
        if contenders.len() == 1 {
            break;
        }
        let low = contenders.iter().map(|&i| (step.figure)(&candidates[i])).fold(f64::INFINITY, f64::min);
        let limit = low * (1.0 + step.band) + step.slack;
        contenders.retain(|&i| {
            let keep = (step.figure)(&candidates[i]) <= limit;
            if !keep {
                verdicts[i] = step.lose;
            }
            keep
        });
        decided_by = step.win;
    }
    let chosen = if contenders.len() == 1 {
        contenders[0]
    } else {
        decided_by = Verdict::Faster;
        contenders
            .iter()
            .copied()
            .min_by(|&a, &b| candidates[a].median.total_cmp(&candidates[b].median))
            .unwrap_or(fastest)
    };
    if chosen == fastest && matches!(decided_by, Verdict::Faster) {
        decided_by = Verdict::Fastest;
    }
    verdicts[chosen] = decided_by;
    Some(Decision { chosen, fastest, verdicts })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A candidate with time range `median ± spread` and the given memory figures.
    fn c(median: f64, spread: f64, allocs: f64, bytes: f64, peak: f64) -> Candidate {
        Candidate {
            median,
            min: median - spread,
            max: median + spread,
            allocs_per_mib: allocs,
            bytes_per_mib: bytes,
            peak_live_bytes: peak,
        }
    }

    fn labels(cands: &[Candidate]) -> (usize, Vec<&'static str>) {
        let d = decide(cands).unwrap();
        assert_eq!(d.verdicts.iter().filter(|v| v.is_chosen()).count(), 1, "exactly one chosen");
        assert!(d.verdicts[d.chosen].is_chosen());
        (d.chosen, d.verdicts.iter().map(|v| v.label()).collect())
    }

    #[test]
    fn empty_has_no_decision() {
        assert!(decide(&[]).is_none());
    }

    #[test]
    fn single_clear_winner_is_fastest() {
        let (chosen, v) = labels(&[c(1.0, 0.01, 100.0, 1e6, 1e6), c(2.0, 0.01, 0.0, 0.0, 0.0)]);
        assert_eq!(chosen, 0);
        assert_eq!(v, ["fastest", "slower"]);
    }

    #[test]
    fn within_five_percent_is_a_tie_even_without_overlap() {
        // 4% slower, ranges disjoint: not slower, so fewer allocations decide.
        let (chosen, v) = labels(&[c(1.00, 0.001, 100.0, 1e6, 1e6), c(1.04, 0.001, 0.0, 0.0, 0.0)]);
        assert_eq!(chosen, 1);
        assert_eq!(v, ["more-allocs", "tie→fewer-allocs"]);
    }

    #[test]
    fn overlapping_ranges_are_a_tie_even_beyond_five_percent() {
        // 20% slower in the median but the noisy ranges overlap.
        let (chosen, v) = labels(&[c(1.0, 0.15, 100.0, 1e6, 1e6), c(1.2, 0.1, 0.0, 0.0, 0.0)]);
        assert_eq!(chosen, 1);
        assert_eq!(v, ["more-allocs", "tie→fewer-allocs"]);
    }

    #[test]
    fn beyond_five_percent_and_disjoint_is_slower() {
        // lading's msgpack case: fewer bytes allocated, but measurably slower.
        let (chosen, v) = labels(&[c(1.0, 0.01, 50.0, 1e6, 1e6), c(1.066, 0.01, 50.0, 3.2e5, 1e6)]);
        assert_eq!(chosen, 0);
        assert_eq!(v, ["fastest", "slower"]);
    }

    #[test]
    fn allocation_band_lets_bytes_decide() {
        // 10% fewer allocations is within the 20% band: bytes decide.
        let (chosen, v) = labels(&[c(1.0, 0.1, 90.0, 3e6, 1e6), c(1.0, 0.1, 100.0, 1e6, 1e6)]);
        assert_eq!(chosen, 1);
        assert_eq!(v, ["more-bytes", "tie→fewer-bytes"]);
    }

    #[test]
    fn bytes_band_lets_peak_decide() {
        let (chosen, v) =
            labels(&[c(1.0, 0.1, 10.0, 1.05e6, 1e6), c(1.0, 0.1, 10.0, 1.0e6, 5e6), c(3.0, 0.1, 0.0, 0.0, 0.0)]);
        assert_eq!(chosen, 0);
        assert_eq!(v, ["tie→lower-peak", "higher-peak", "slower"]);
    }

    #[test]
    fn full_tie_goes_to_the_fastest_median() {
        let (chosen, v) = labels(&[c(1.02, 0.1, 0.0, 0.0, 100.0), c(1.0, 0.1, 0.0, 0.0, 100.0)]);
        assert_eq!(chosen, 1);
        assert_eq!(v, ["not-chosen", "fastest"]);
    }

    #[test]
    fn full_tie_after_the_fastest_lost_on_memory_is_tie_faster() {
        let (chosen, v) =
            labels(&[c(1.00, 0.1, 500.0, 1e6, 1e6), c(1.03, 0.1, 0.0, 0.0, 1e6), c(1.02, 0.1, 0.5, 100.0, 1e6)]);
        assert_eq!(chosen, 2);
        assert_eq!(v, ["more-allocs", "not-chosen", "tie→faster"]);
    }

    #[test]
    fn equal_medians_pick_the_first() {
        let same = c(1.0, 0.0, 1.0, 1.0, 1.0);
        let (chosen, v) = labels(&[same, same, same, same]);
        assert_eq!(chosen, 0);
        assert_eq!(v, ["fastest", "not-chosen", "not-chosen", "not-chosen"]);
    }

    #[test]
    fn zero_spread_single_repetition() {
        // One repetition: min = max = median, so only the 5% threshold separates.
        let (chosen, v) =
            labels(&[c(1.0, 0.0, 9.0, 9.0, 9.0), c(1.05, 0.0, 0.0, 0.0, 0.0), c(1.06, 0.0, 0.0, 0.0, 0.0)]);
        assert_eq!(chosen, 1);
        assert_eq!(v, ["more-allocs", "tie→fewer-allocs", "slower"]);
    }

    #[test]
    fn bands_do_not_chain() {
        // 0 and 1 are within the absolute slack; 2 is not, though it is within 20% of 1.
        let (_, v) = labels(&[c(1.0, 0.1, 0.0, 5e5, 0.0), c(1.0, 0.1, 1.0, 1e6, 0.0), c(1.0, 0.1, 1.5, 0.0, 0.0)]);
        assert_eq!(v, ["tie→fewer-bytes", "more-bytes", "more-allocs"]);
    }
}
