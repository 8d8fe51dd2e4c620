//! Latency of the units a run delivered, in two histograms ([`hdrhistogram`]):
//!
//! * **service**: how long the receiver took with the unit's last attempt: HTTP, from sending
//!   the request to its answer; streams, how long the write blocked; datagrams, the send call.
//! * **scheduled**: from the time the run's schedule meant the unit to go (the token bucket's
//!   due time for its first attempt; the moment it was picked up when there is no rate) to the
//!   end of its last attempt. It includes waiting for tokens, retries and backoff.
//!
//! A sender that waits for an answer cannot send what the schedule holds meanwhile: a receiver
//! that stalls for 200 ms delays every send due in those 200 ms, but only one of them is
//! measured (coordinated omission). With a rate, each scheduled latency longer than the
//! connection's expected interval between units also records the sends the schedule missed
//! meanwhile (latency minus one interval, minus two, ...), as wrk2 and HdrHistogram's
//! `record_correct` do, so a stalled receiver shows up in the percentiles instead of hiding.
//!
//! Each connection keeps its own [`Recorder`] (no lock per unit); the run merges them. Values
//! are microseconds from 1 µs to one hour, with two significant digits (1% resolution).

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// The largest value recorded, in microseconds (one hour); longer values are recorded as it.
const MAX_MICROS: u64 = 3_600_000_000;
/// At most this many coordinated-omission samples are added per unit; beyond, each added
/// sample stands for several (its count grows instead).
const MAX_CORRECTIONS: u64 = 4096;

/// One connection's histograms.
#[derive(Debug, Clone)]
pub struct Recorder {
    service: Option<Histogram<u64>>,
    scheduled: Option<Histogram<u64>>,
}

fn histogram() -> Option<Histogram<u64>> {
    Histogram::new_with_bounds(1, MAX_MICROS, 2).ok()
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).clamp(1, MAX_MICROS)
}

impl Recorder {
    /// Empty histograms.
    pub fn new() -> Self {
        Self { service: histogram(), scheduled: histogram() }
    }

    /// Records one delivered unit: its `service` time and its latency from the `scheduled`
    /// time; `interval` is the connection's expected time between units under the rate
    /// (`None` without a rate: no correction).
    pub fn record(&mut self, service: Duration, scheduled: Duration, interval: Option<Duration>) {
        if let Some(h) = &mut self.service {
            h.saturating_record(micros(service));
        }
        let Some(h) = &mut self.scheduled else { return };
        let value = micros(scheduled);
        h.saturating_record(value);
        let Some(step) = interval.map(micros).filter(|&s| s > 0 && value > s) else { return };
        let missed = (value - 1) / step;
        let (stride, weight) =
            if missed > MAX_CORRECTIONS { (value / MAX_CORRECTIONS, missed / MAX_CORRECTIONS) } else { (step, 1) };
        let mut v = value.saturating_sub(stride);
        let mut added = 0;
        while v >= step.min(stride).max(1) && added < MAX_CORRECTIONS {
            let _ = h.record_n(v, weight);
            v = v.saturating_sub(stride);
            added += 1;
        }
    }

    /// Adds `other`'s samples.
    pub fn merge(&mut self, other: &Recorder) {
        for (mine, theirs) in [(&mut self.service, &other.service), (&mut self.scheduled, &other.scheduled)] {
            if let (Some(m), Some(t)) = (mine.as_mut(), theirs.as_ref()) {
                let _ = m.add(t);
            }
        }
    }

    /// The percentiles; `service_is` says what the service time measures.
    pub fn summary(&self, service_is: &'static str) -> Latency {
        Latency {
            service_is,
            service: self.service.as_ref().map(Percentiles::of).unwrap_or_default(),
            scheduled: self.scheduled.as_ref().map(Percentiles::of).unwrap_or_default(),
        }
    }
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

/// A histogram's percentiles, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Percentiles {
    /// Samples (with coordinated-omission corrections, for the scheduled latency).
    pub count: u64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p99_9_ms: f64,
    /// The largest sample.
    pub max_ms: f64,
}

impl Percentiles {
    fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Self::default();
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Self {
            count: h.len(),
            p50_ms: ms(h.value_at_quantile(0.50)),
            p90_ms: ms(h.value_at_quantile(0.90)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p99_9_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
        }
    }

    /// `p50 1.2 ms  p90 ...` for people.
    pub fn line(&self) -> String {
        format!(
            "p50 {:.3} ms  p90 {:.3} ms  p99 {:.3} ms  p99.9 {:.3} ms  max {:.3} ms  ({} samples)",
            self.p50_ms, self.p90_ms, self.p99_ms, self.p99_9_ms, self.max_ms, self.count
        )
    }
}

/// The run's latency, in the summary and `--stats-json`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Latency {
    /// What the service time measures: `request` (HTTP), `write blocked` (streams) or
    /// `datagram send`.
    pub service_is: &'static str,
    /// The receiver's time per unit.
    pub service: Percentiles,
    /// From the scheduled send time, corrected for coordinated omission.
    pub scheduled: Percentiles,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stall_shows_in_the_scheduled_latency_only_through_its_corrections() {
        let mut r = Recorder::new();
        let ms = Duration::from_millis;
        for _ in 0..99 {
            r.record(ms(1), ms(1), Some(ms(10)));
        }
        // One unit stalls 200 ms: 19 sends of the schedule were due meanwhile.
        r.record(ms(200), ms(200), Some(ms(10)));
        let s = r.summary("request");
        assert_eq!(s.service.count, 100);
        assert_eq!(s.scheduled.count, 100 + 19);
        assert!(s.service.p90_ms < 2.0 && s.scheduled.p90_ms > 50.0, "{s:?}");
        assert!((s.service.max_ms - 200.0).abs() < 2.0 && (s.scheduled.max_ms - 200.0).abs() < 2.0);
        // Without a rate there is no schedule to miss.
        let mut plain = Recorder::new();
        plain.record(ms(200), ms(200), None);
        assert_eq!(plain.summary("request").scheduled.count, 1);
        let mut merged = Recorder::new();
        merged.merge(&r);
        merged.merge(&plain);
        assert_eq!(merged.summary("request").service.count, 101);
        // A huge stall at a tiny interval adds a bounded number of samples.
        let mut huge = Recorder::new();
        huge.record(Duration::from_secs(30), Duration::from_secs(30), Some(Duration::from_micros(1)));
        let h = huge.summary("request").scheduled;
        assert!(h.count > 1_000_000 && h.p50_ms > 10_000.0, "{h:?}");
    }
}
