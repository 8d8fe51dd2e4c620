//! How a format's blocks travel to a receiver: its [`Delivery`] declaration.
//!
//! Every format declares, as plain constant data on [`crate::Configured::DELIVERY`], what a
//! receiver of it expects: the HTTP path, method, content type and headers, whether a datagram
//! carries a whole block or one line, whether its lines may be re-framed with RFC 6587 octet
//! counting on streams. A format whose config must change with the transport (DogStatsD's 4-byte
//! length prefix on Unix stream sockets) says so in [`crate::Configured::for_transport`], which
//! `send` calls with the [`Transport`] before the blocks are built. `payforge send` reads the
//! declaration through [`crate::FormatSpec::delivery`] and never looks at a format's name, so a
//! format registered by another crate is delivered by its own rules.
//!
//! The declaration is always compiled (it depends on nothing optional); a library that embeds
//! payforge without the `send` feature can read it to deliver blocks itself.
//!
//! ```
//! use payforge::delivery::{Delivery, HttpMethod};
//!
//! const APACHE: Delivery = Delivery::new()
//!     .with_http_path("/logs/apache")
//!     .with_content_type("text/plain; charset=utf-8")
//!     .with_line_datagrams();
//! assert_eq!(APACHE.http_method, HttpMethod::Post);
//! assert_eq!(Delivery::new().http_path, "/");
//! ```

use std::fmt;

/// The kind of connection blocks go over: what a [`Delivery`] hook and its rules look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Transport {
    /// TCP stream.
    Tcp,
    /// TCP stream inside TLS (syslog over TLS, RFC 5425).
    Tls,
    /// UDP datagrams.
    Udp,
    /// Unix stream socket.
    Unix,
    /// Unix datagram socket.
    Unixgram,
    /// HTTP/1.1 requests (plain or over TLS).
    Http,
    /// gRPC calls over HTTP/2 (cleartext): a format's declared [`Delivery::grpc_method`].
    Grpc,
}

impl Transport {
    /// The URL scheme (`http` for HTTPS too).
    pub fn scheme(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
            Transport::Udp => "udp",
            Transport::Unix => "unix",
            Transport::Unixgram => "unixgram",
            Transport::Http => "http",
            Transport::Grpc => "grpc",
        }
    }

    /// True for the datagram transports (one unit is one datagram).
    pub fn is_datagram(self) -> bool {
        matches!(self, Transport::Udp | Transport::Unixgram)
    }

    /// True for the stream transports (units are written back to back).
    pub fn is_stream(self) -> bool {
        matches!(self, Transport::Tcp | Transport::Tls | Transport::Unix)
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.scheme())
    }
}

/// The HTTP method a format's blocks are sent with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HttpMethod {
    /// `POST` (the default).
    Post,
    /// `PUT` (trace-v05, as tracers send it).
    Put,
}

impl HttpMethod {
    /// The method's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Post => "POST",
            HttpMethod::Put => "PUT",
        }
    }
}

impl fmt::Display for HttpMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one datagram carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Datagrams {
    /// A whole block (DogStatsD: the agent reads several lines per datagram).
    Blocks,
    /// One LF-terminated line of a block, without its LF (syslog over UDP, RFC 5426 §3.1).
    Lines,
}

/// How a format's blocks are delivered: constant data declared by the format
/// ([`crate::Configured::DELIVERY`]), read by `payforge send` and by embedders.
///
/// Build one with [`Delivery::new`] (the defaults) and the `with_*` builders, all `const fn`.
// `partial_success` is a function pointer: two declarations compare equal when they name the
// same function, all that equality of declarations is used for.
#[allow(unpredictable_function_pointer_comparisons)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Delivery {
    /// HTTP: the path used when the target URL names none (default `/`).
    pub http_path: &'static str,
    /// HTTP: the method (default `POST`).
    pub http_method: HttpMethod,
    /// HTTP: the `Content-Type` (default `text/plain`).
    pub content_type: &'static str,
    /// HTTP: a header that carries the number of members in each request's block, e.g.
    /// `X-Datadog-Trace-Count` (default none).
    pub member_count_header: Option<&'static str>,
    /// HTTP: headers every request carries, after the member count (default none).
    pub headers: &'static [(&'static str, &'static str)],
    /// What one datagram carries (default [`Datagrams::Blocks`]).
    pub datagrams: Datagrams,
    /// Whether the blocks are LF-terminated lines that may be re-framed with RFC 6587 octet
    /// counting (`LEN SP MSG`) on streams (default false).
    pub octet_counting: bool,
    /// HTTP and gRPC: how many records a successful answer's body (for gRPC: its one response
    /// message) says were rejected (OTLP's `partial_success`), counted in the summary as
    /// `rejected_records` (default none).
    pub partial_success: Option<PartialSuccess>,
    /// gRPC: the unary method a block is the request message of, as its HTTP/2 path
    /// (`/opentelemetry.proto.collector.logs.v1.LogsService/Export`); a format without one cannot
    /// be sent to `grpc://` (default none).
    pub grpc_method: Option<&'static str>,
}

/// Reads the records a 2xx answer's body (at most 1 MiB of it) says were rejected: 0 when it
/// says nothing.
pub type PartialSuccess = fn(&[u8]) -> u64;

impl Delivery {
    /// The defaults: `POST /` with `text/plain`, no extra headers, whole blocks per datagram, no
    /// octet counting.
    pub const fn new() -> Self {
        Self {
            http_path: "/",
            http_method: HttpMethod::Post,
            content_type: "text/plain",
            member_count_header: None,
            headers: &[],
            datagrams: Datagrams::Blocks,
            octet_counting: false,
            partial_success: None,
            grpc_method: None,
        }
    }

    /// The HTTP path used when the target URL names none; it starts with `/`.
    #[must_use]
    pub const fn with_http_path(mut self, path: &'static str) -> Self {
        self.http_path = path;
        self
    }

    /// The HTTP method.
    #[must_use]
    pub const fn with_http_method(mut self, method: HttpMethod) -> Self {
        self.http_method = method;
        self
    }

    /// The HTTP `Content-Type`.
    #[must_use]
    pub const fn with_content_type(mut self, content_type: &'static str) -> Self {
        self.content_type = content_type;
        self
    }

    /// A header carrying each block's member count.
    #[must_use]
    pub const fn with_member_count_header(mut self, name: &'static str) -> Self {
        self.member_count_header = Some(name);
        self
    }

    /// Headers every request carries (name, value).
    #[must_use]
    pub const fn with_headers(mut self, headers: &'static [(&'static str, &'static str)]) -> Self {
        self.headers = headers;
        self
    }

    /// One line per datagram instead of one block: the blocks must be LF-terminated lines.
    #[must_use]
    pub const fn with_line_datagrams(mut self) -> Self {
        self.datagrams = Datagrams::Lines;
        self
    }

    /// Allows RFC 6587 octet counting on streams: the blocks must be LF-terminated lines.
    #[must_use]
    pub const fn with_octet_counting(mut self) -> Self {
        self.octet_counting = true;
        self
    }

    /// Counts the records a 2xx answer rejects (see [`Delivery::partial_success`]).
    #[must_use]
    pub const fn with_partial_success(mut self, read: PartialSuccess) -> Self {
        self.partial_success = Some(read);
        self
    }
}

impl Delivery {
    /// Sendable over gRPC as the request message of `method` (`/package.Service/Method`).
    #[must_use]
    pub const fn with_grpc_method(mut self, method: &'static str) -> Self {
        self.grpc_method = Some(method);
        self
    }
}

impl Default for Delivery {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builders_set_what_they_name_and_keep_the_rest() {
        const D: Delivery = Delivery::new()
            .with_http_path("/v0.5/traces")
            .with_http_method(HttpMethod::Put)
            .with_content_type("application/msgpack")
            .with_member_count_header("X-Count")
            .with_headers(&[("A", "b")]);
        assert_eq!(
            (D.http_path, D.http_method.as_str(), D.content_type),
            ("/v0.5/traces", "PUT", "application/msgpack")
        );
        assert_eq!((D.member_count_header, D.headers), (Some("X-Count"), &[("A", "b")][..]));
        assert_eq!((D.datagrams, D.octet_counting), (Datagrams::Blocks, false));
        let lines = Delivery::new().with_line_datagrams().with_octet_counting();
        assert_eq!((lines.datagrams, lines.octet_counting, lines.http_path), (Datagrams::Lines, true, "/"));
        assert_eq!(Delivery::new().grpc_method, None);
        assert_eq!(Delivery::new().with_grpc_method("/p.S/M").grpc_method, Some("/p.S/M"));
    }
}
