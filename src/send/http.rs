//! HTTP: one unit per request over a kept-alive connection ([`ureq`]), with the method, path,
//! content type and headers the format declares ([`crate::Delivery`]).
//!
//! * 2xx: sent. The status decides: the answer's body is then drained (at most
//!   [`DRAIN_LIMIT`] bytes) so the connection can carry the next request, and a failure to read
//!   it (a reset after the headers) is counted in `answer_errors`, never retried: the receiver
//!   already has the body.
//! * 429 and 5xx: counted as errors and retried with jittered exponential backoff, waiting at
//!   least the answer's `Retry-After` (seconds, up to [`super::conn::RETRY_AFTER_CAP`]), at most
//!   `max_retries` times; then the unit counts as failed.
//! * Any other status (4xx, 3xx, ...): counted as rejected, not retried.
//! * A transport error (refused, reset, timed out): counted and retried like a 503. A TLS
//!   certificate the checks refuse ends the run.
//!
//! Every attempt takes its bytes from the token bucket, so retries count against `--rate`. The
//! backoff is reset by a success, not per unit.
//!
//! Once the run is stopping, a unit answered 429 or 5xx keeps being retried for up to
//! [`super::conn::STOP_GRACE`], so `--bytes` runs and signals leave no unit half-done while the
//! receiver is up; after a transport error it is given up at once.
//!
//! Each request carries the declared `Content-Type`, the member-count header (trace-v04 and
//! trace-v05: `X-Datadog-Trace-Count`), the fixed headers (theirs: `Datadog-Send-Real-Http-Status:
//! true`, so the trace-agent answers 429 when it sheds load instead of 200), then `--header`s.
//! Blocks compressed with `--compression` carry `Content-Encoding: gzip` or `zstd`. Proxy
//! variables in the environment are ignored: a load test targets its receiver directly.

use std::io::Read;
use std::time::Duration;

use super::conn::{Backoff, Ctx, Outcome};
use super::request::{self, Answer, Exchange, NoAnswer, Verdict};
use super::stats::Failure;
use super::tls::TlsSetup;
use super::wire::Unit;
use crate::delivery::HttpMethod;
use crate::error::{Error, Result};

/// How long one request may take, from connecting to the end of the answer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Most bytes of an answer's body read (and thrown away) after its status.
pub const DRAIN_LIMIT: u64 = 1 << 20;

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
    pub method: HttpMethod,
    /// The `Content-Type`.
    pub content_type: &'static str,
    /// The `Content-Encoding` of compressed blocks (`gzip`, `zstd`).
    pub content_encoding: Option<&'static str>,
    /// A header carrying each unit's member count (`X-Datadog-Trace-Count`).
    pub member_count_header: Option<&'static str>,
    /// The format's fixed headers (`Datadog-Send-Real-Http-Status: true`).
    pub fixed_headers: &'static [(&'static str, &'static str)],
    /// Extra headers.
    pub headers: Vec<Header>,
    /// Retries of a 429, a 5xx or a transport error before the unit counts as failed.
    pub max_retries: u32,
    /// TLS settings of an `https://` URL.
    pub tls: Option<TlsSetup>,
    /// Reads the records a 2xx answer rejects (OTLP's partial success).
    pub partial_success: Option<crate::delivery::PartialSuccess>,
}

/// One kept-alive HTTP connection of a run.
pub struct HttpConn {
    spec: HttpSpec,
    agent: ureq::Agent,
    backoff: Backoff,
}

impl HttpConn {
    /// A client that keeps one connection open to the target; `seed` jitters its backoff.
    pub fn new(spec: HttpSpec, seed: u64) -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .proxy(None)
            .max_idle_connections_per_host(1)
            .max_redirects(0)
            .timeout_global(Some(REQUEST_TIMEOUT))
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .user_agent(concat!("payforge/", env!("CARGO_PKG_VERSION")));
        #[cfg(feature = "tls")]
        let config = match &spec.tls {
            Some(tls) => config.tls_config(tls.http.clone()),
            None => config,
        };
        let agent = config.build().new_agent();
        Self { spec, agent, backoff: Backoff::new(seed) }
    }

    /// Posts `unit`, retrying 429, 5xx and transport errors.
    pub fn deliver(&mut self, unit: &Unit, ctx: &Ctx<'_>) -> Outcome {
        let mut post = Post { spec: &self.spec, agent: &self.agent };
        request::deliver(&mut post, &mut self.backoff, self.spec.max_retries, unit, ctx)
    }
}

/// One request of an [`HttpConn`].
struct Post<'a> {
    spec: &'a HttpSpec,
    agent: &'a ureq::Agent,
}

impl Exchange for Post<'_> {
    fn name(&self) -> String {
        format!("{} {}", self.spec.method, self.spec.url)
    }

    fn attempt(&mut self, unit: &Unit, ctx: &Ctx<'_>) -> std::result::Result<Answer, NoAnswer> {
        match self.post(unit) {
            Ok((status, answer)) => {
                ctx.counters.status(status);
                Ok(answer)
            }
            Err(e) => {
                let (failure, fatal) = classify(&e);
                Err(NoAnswer { failure, fatal, message: describe(&e, failure) })
            }
        }
    }
}

impl Post<'_> {
    fn post(&self, unit: &Unit) -> std::result::Result<(u16, Answer), ureq::Error> {
        let request = match self.spec.method {
            HttpMethod::Put => self.agent.put(&self.spec.url),
            _ => self.agent.post(&self.spec.url),
        };
        let mut request = request.header("Content-Type", self.spec.content_type);
        if let Some(encoding) = self.spec.content_encoding {
            request = request.header("Content-Encoding", encoding);
        }
        if let Some(name) = self.spec.member_count_header {
            request = request.header(name, unit.members.to_string());
        }
        for (name, value) in self.spec.fixed_headers {
            request = request.header(*name, *value);
        }
        for h in &self.spec.headers {
            request = request.header(h.name.as_str(), h.value.as_str());
        }
        let mut response = request.send(&unit.bytes[..])?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        // The status decides the unit. Drain a bounded part of the body so the connection can
        // carry the next request; a failure here is counted, never retried.
        let mut reader = response.body_mut().as_reader().take(DRAIN_LIMIT);
        let (body_error, rejected_records) = match self.spec.partial_success {
            Some(read) if (200..300).contains(&status) => {
                let mut body = Vec::new();
                let error = reader.read_to_end(&mut body).err().map(|e| e.to_string());
                (error, read(&body))
            }
            _ => (std::io::copy(&mut reader, &mut std::io::sink()).err().map(|e| e.to_string()), 0),
        };
        let verdict = match status {
            200..=299 => Verdict::Delivered,
            429 | 500..=599 => Verdict::Retry,
            _ => Verdict::Rejected,
        };
        let answer = Answer { verdict, status: format!("HTTP {status}"), retry_after, body_error, rejected_records };
        Ok((status, answer))
    }
}

/// What kind of failure a ureq error is, and whether it ends the run (a refused certificate).
fn classify(e: &ureq::Error) -> (Failure, bool) {
    match e {
        ureq::Error::Io(io) => {
            #[cfg(feature = "tls")]
            if let Some((_, fatal)) = super::tls::tls_failure(io) {
                return (Failure::Tls, fatal);
            }
            (Failure::of_io(io), false)
        }
        ureq::Error::Timeout(_) => (Failure::Timeout, false),
        ureq::Error::HostNotFound => (Failure::Resolve, false),
        ureq::Error::ConnectionFailed => (Failure::ConnectionRefused, false),
        #[cfg(feature = "tls")]
        ureq::Error::Rustls(inner) => (Failure::Tls, matches!(inner, rustls::Error::InvalidCertificate(_))),
        ureq::Error::Tls(_) => (Failure::Tls, false),
        _ => (Failure::Io, false),
    }
}

/// A ureq error for people: a TLS failure names the reason and what to do.
fn describe(e: &ureq::Error, failure: Failure) -> String {
    match failure {
        Failure::Tls => {
            format!("TLS: {e}; give the receiver's CA with --ca-cert FILE (or skip verification with --insecure)")
        }
        _ => e.to_string(),
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
