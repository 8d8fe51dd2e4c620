//! HTTP: one unit per request (POST; PUT for trace-v05, as tracers send it) over a kept-alive
//! connection ([`ureq`]).
//!
//! * 2xx: sent.
//! * 429 and 5xx: counted as errors and retried with capped exponential backoff, at most
//!   `max_retries` times; then the unit counts as failed.
//! * Any other status (4xx, 3xx, ...): counted as rejected, not retried.
//! * A transport error (refused, reset, timed out): counted and retried like a 503.
//!
//! Once the run is stopping, a unit answered 429 or 5xx keeps being retried for up to
//! [`super::transport::STOP_GRACE`], so `--bytes` runs and signals leave no unit half-done while the
//! receiver is up; after a transport error it is given up at once.
//!
//! trace-v04 and trace-v05 requests carry `Content-Type: application/msgpack`, `X-Datadog-Trace-Count` (the
//! unit's trace count) and `Datadog-Send-Real-Http-Status: true` (so the trace-agent answers 429
//! when it sheds load instead of 200). Blocks compressed with `--compression` carry
//! `Content-Encoding: gzip` or `zstd`. Proxy variables in the environment are ignored: a load
//! test targets its receiver directly.

use std::time::Duration;

use super::run::{Ctx, Outcome};
use super::transport::Backoff;
use super::wire::Unit;
use crate::error::{Error, Result};

/// How long one request may take, from connecting to the end of the answer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A header `--header K:V` adds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The name.
    pub name: String,
    /// The value.
    pub value: String,
}

impl std::str::FromStr for Header {
    type Err = Error;

    /// `Name:value` (spaces around the value are trimmed).
    fn from_str(s: &str) -> Result<Self> {
        let (name, value) = s
            .split_once(':')
            .ok_or_else(|| Error::argument("header", s, "expected NAME:VALUE, e.g. DD-API-KEY:abc"))?;
        Header::new(name.trim(), value.trim())
    }
}

impl Header {
    /// A checked header: an RFC 9110 token as name, visible ASCII and spaces as value.
    ///
    /// # Errors
    /// [`Error::Argument`] naming the header.
    pub fn new(name: &str, value: &str) -> Result<Self> {
        let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
        if name.is_empty() || !name.chars().all(token) {
            return Err(Error::argument("header", format!("{name}:{value}"), "the name must be an HTTP token"));
        }
        if !value.chars().all(|c| c == ' ' || c == '\t' || c.is_ascii_graphic()) {
            return Err(Error::argument(
                "header",
                format!("{name}:{value}"),
                "the value must be visible ASCII characters and spaces",
            ));
        }
        Ok(Self { name: name.to_string(), value: value.to_string() })
    }
}

/// What every request of a run carries.
#[derive(Debug, Clone)]
pub struct HttpSpec {
    /// The URL posted to.
    pub url: String,
    /// `POST` or `PUT`.
    pub method: &'static str,
    /// The `Content-Type`.
    pub content_type: &'static str,
    /// The `Content-Encoding` of compressed blocks (`gzip`, `zstd`).
    pub content_encoding: Option<&'static str>,
    /// Add `X-Datadog-Trace-Count` and `Datadog-Send-Real-Http-Status`.
    pub trace_headers: bool,
    /// Extra headers.
    pub headers: Vec<Header>,
    /// Retries of a 429, a 5xx or a transport error before the unit counts as failed.
    pub max_retries: u32,
}

/// One kept-alive HTTP connection of a run.
pub struct HttpConn {
    spec: HttpSpec,
    agent: ureq::Agent,
    backoff: Backoff,
}

impl HttpConn {
    /// A client that keeps one connection open to the target.
    pub fn new(spec: HttpSpec) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .proxy(None)
            .max_idle_connections_per_host(1)
            .max_redirects(0)
            .timeout_global(Some(REQUEST_TIMEOUT))
            .user_agent(concat!("payforge/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        Self { spec, agent, backoff: Backoff::new() }
    }

    fn post(&self, unit: &Unit) -> std::result::Result<u16, ureq::Error> {
        let request = match self.spec.method {
            "PUT" => self.agent.put(&self.spec.url),
            _ => self.agent.post(&self.spec.url),
        };
        let mut request = request.header("Content-Type", self.spec.content_type);
        if let Some(encoding) = self.spec.content_encoding {
            request = request.header("Content-Encoding", encoding);
        }
        if self.spec.trace_headers {
            request = request
                .header("X-Datadog-Trace-Count", unit.members.to_string())
                .header("Datadog-Send-Real-Http-Status", "true");
        }
        for h in &self.spec.headers {
            request = request.header(h.name.as_str(), h.value.as_str());
        }
        let mut response = request.send(&unit.bytes[..])?;
        let status = response.status().as_u16();
        // Read the answer to its end so the connection can carry the next request.
        response.body_mut().read_to_vec()?;
        Ok(status)
    }

    /// Posts `unit`, retrying 429, 5xx and transport errors.
    pub fn deliver(&mut self, unit: &Unit, ctx: &Ctx<'_>) -> Outcome {
        // Each unit gets the whole backoff sequence for its own retries.
        self.backoff.reset();
        let mut grace = None;
        for attempt in 0..=self.spec.max_retries {
            if attempt > 0 {
                if ctx.past_grace(&mut grace) {
                    return Outcome::Failed;
                }
                ctx.counters.retry();
            }
            match self.post(unit) {
                Ok(status) => {
                    ctx.counters.status(status);
                    match status {
                        200..=299 => return Outcome::Sent,
                        429 | 500..=599 => {
                            ctx.counters.error(|| format!("{} {}: HTTP {status}", self.spec.method, self.spec.url))
                        }
                        _ => return Outcome::Rejected,
                    }
                }
                Err(e) => {
                    ctx.counters.error(|| format!("{} {}: {e}", self.spec.method, self.spec.url));
                    // A receiver that is gone while the run stops gets no more attempts.
                    if ctx.stopping() {
                        return Outcome::Failed;
                    }
                }
            }
            if attempt < self.spec.max_retries {
                self.backoff.sleep();
            }
        }
        Outcome::Failed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_parse_and_are_checked() {
        let h: Header = "DD-API-KEY: abc123".parse().unwrap();
        assert_eq!((h.name.as_str(), h.value.as_str()), ("DD-API-KEY", "abc123"));
        for bad in ["nocolon", ":v", "a b:c", "k:v\u{7}"] {
            let err = bad.parse::<Header>().unwrap_err().to_string();
            assert!(err.contains("header"), "{bad}: {err}");
        }
    }
}
