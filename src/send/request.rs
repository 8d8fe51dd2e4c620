//! The request-and-answer delivery both HTTP and gRPC use: one unit per request, answered with a
//! status, retried with backoff under the run's rate.
//!
//! A protocol ([`super::http`], [`super::grpc`]) makes one attempt ([`Exchange::attempt`]) and
//! says what its answer means ([`Verdict`]); the loop here owns what must be the same for every
//! protocol: every attempt takes its bytes from the token bucket, so retries count against
//! `--rate`; backoff is jittered, honours a `Retry-After`, and is reset by a success, not per
//! unit; once the run is stopping, a retryable answer keeps being retried for up to
//! [`super::conn::STOP_GRACE`], and after a transport error the unit is given up at once; a
//! failure that ends the run (a refused certificate) ends it. Latency is recorded for every
//! answered unit, delivered or rejected.

use std::time::{Duration, Instant};

use super::conn::{Backoff, Ctx, Grace, Outcome};
use super::stats::Failure;
use super::wire::Unit;

/// What an answer means for its unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Delivered (HTTP 2xx, gRPC `OK`).
    Delivered,
    /// Try again after a backoff (HTTP 429 and 5xx, gRPC `UNAVAILABLE` and the other codes OTLP
    /// calls retryable).
    Retry,
    /// Refused for good (any other status).
    Rejected,
}

/// One answered attempt.
#[derive(Debug, Clone)]
pub struct Answer {
    /// What it means.
    pub verdict: Verdict,
    /// How the summary names the status (`HTTP 503`, `gRPC 14 UNAVAILABLE`), for errors.
    pub status: String,
    /// The answer's `Retry-After`, if any.
    pub retry_after: Option<Duration>,
    /// The error reading the rest of the answer after its status, if any (counted in
    /// `answer_errors`, never retried: the receiver has the body).
    pub body_error: Option<String>,
    /// Records a delivered answer says it rejected.
    pub rejected_records: u64,
}

/// An attempt that got no answer.
#[derive(Debug, Clone)]
pub struct NoAnswer {
    /// What kind of failure.
    pub failure: Failure,
    /// Whether it ends the run (a TLS certificate the checks refuse).
    pub fatal: bool,
    /// For people, without the request's name.
    pub message: String,
}

/// One protocol's request: what [`deliver`] retries.
pub trait Exchange {
    /// The request's name in messages: `POST http://host/v1/logs`.
    fn name(&self) -> String;

    /// Sends `unit` once and reads the answer. Counting the answer's status is the protocol's
    /// (`Counters::status`, `Counters::grpc_status`).
    ///
    /// # Errors
    /// [`NoAnswer`] when no status came back (refused, reset, timed out, broken off).
    fn attempt(&mut self, unit: &Unit, ctx: &Ctx<'_>) -> Result<Answer, NoAnswer>;
}

/// Delivers `unit` through `exchange`, retrying up to `max_retries` times.
pub fn deliver(
    exchange: &mut impl Exchange,
    backoff: &mut Backoff,
    max_retries: u32,
    unit: &Unit,
    ctx: &Ctx<'_>,
) -> Outcome {
    let grace = Grace::default();
    let mut scheduled = None;
    for attempt in 0..=max_retries {
        if attempt > 0 {
            if ctx.past_grace(&grace) {
                return Outcome::Failed;
            }
            ctx.counters.retry();
        }
        let Some(due) = ctx.pace(unit.bytes.len(), attempt > 0, &grace) else {
            return if attempt == 0 { Outcome::Skipped } else { Outcome::Failed };
        };
        let scheduled = *scheduled.get_or_insert(due);
        let started = Instant::now();
        ctx.counters.wire(unit.bytes.len());
        let mut retry_after = None;
        match exchange.attempt(unit, ctx) {
            Ok(answer) => {
                let end = Instant::now();
                if let Some(e) = &answer.body_error {
                    ctx.counters.answer_error(|| {
                        format!("{}: reading the answer after {}: {e}", exchange.name(), answer.status)
                    });
                }
                match answer.verdict {
                    Verdict::Delivered => {
                        backoff.reset();
                        ctx.counters.rejected_records(answer.rejected_records);
                        ctx.record(unit.bytes.len(), end - started, scheduled, end);
                        return Outcome::Sent;
                    }
                    Verdict::Retry => {
                        ctx.counters.error(Failure::HttpStatus, || format!("{}: {}", exchange.name(), answer.status));
                        retry_after = answer.retry_after;
                    }
                    Verdict::Rejected => {
                        ctx.record(unit.bytes.len(), end - started, scheduled, end);
                        return Outcome::Rejected;
                    }
                }
            }
            Err(e) => {
                let what = || format!("{}: {}", exchange.name(), e.message);
                if e.fatal {
                    ctx.fail_run(e.failure, what);
                    return Outcome::Failed;
                }
                ctx.counters.error(e.failure, what);
                // A receiver that is gone while the run stops gets no more attempts.
                if ctx.stopping() {
                    return Outcome::Failed;
                }
            }
        }
        if attempt < max_retries {
            backoff.sleep(retry_after, || ctx.past_grace(&grace));
        }
    }
    Outcome::Failed
}
