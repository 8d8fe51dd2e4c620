//! gRPC delivery, the parts every build has: what a call carries ([`GrpcSpec`]) and what its
//! status means. The connection itself (`grpc_conn`, HTTP/2 over h2 and tokio) comes with the
//! `grpc` feature.
//!
//! The answer's `grpc-status` decides a unit ([`verdict`]): `0 OK` delivers it; the codes OTLP
//! calls retryable (`CANCELLED`, `DEADLINE_EXCEEDED`, `RESOURCE_EXHAUSTED`, `ABORTED`,
//! `OUT_OF_RANGE`, `UNAVAILABLE`, `DATA_LOSS`) are retried with backoff; any other code rejects
//! it. An answer without a `grpc-status` is read through its HTTP status, as gRPC maps them
//! ([`code_of_http_status`]).

use super::http::Header;
use super::request::Verdict;
use crate::delivery::PartialSuccess;

/// What every call of a run carries.
#[derive(Debug, Clone)]
pub struct GrpcSpec {
    /// `host:port`, resolved at every connect.
    pub addr: String,
    /// The method's path, `/package.Service/Method`.
    pub method: &'static str,
    /// The `grpc-encoding` of compressed blocks (`gzip`, `zstd`).
    pub encoding: Option<&'static str>,
    /// Metadata (`--header`).
    pub headers: Vec<Header>,
    /// Retries of a retryable status or a transport error before the unit counts as failed.
    pub max_retries: u32,
    /// Reads the records an `OK` answer's message rejects (OTLP's partial success).
    pub partial_success: Option<PartialSuccess>,
}

/// What an answer with gRPC status `code` means for its unit.
pub fn verdict(code: u16) -> Verdict {
    match code {
        0 => Verdict::Delivered,
        1 | 4 | 8 | 10 | 11 | 14 | 15 => Verdict::Retry,
        _ => Verdict::Rejected,
    }
}

/// The gRPC status of an answer that carries none, from its HTTP status (gRPC's
/// "HTTP to gRPC Status Code Mapping"; a 200 without a status is `INTERNAL`).
pub fn code_of_http_status(http: u16) -> u16 {
    match http {
        200 | 400 => 13,             // INTERNAL
        401 => 16,                   // UNAUTHENTICATED
        403 => 7,                    // PERMISSION_DENIED
        404 => 12,                   // UNIMPLEMENTED
        429 | 502 | 503 | 504 => 14, // UNAVAILABLE
        _ => 2,                      // UNKNOWN
    }
}

/// gRPC's name of a status code.
pub fn code_name(code: u16) -> &'static str {
    match code {
        0 => "OK",
        1 => "CANCELLED",
        2 => "UNKNOWN",
        3 => "INVALID_ARGUMENT",
        4 => "DEADLINE_EXCEEDED",
        5 => "NOT_FOUND",
        6 => "ALREADY_EXISTS",
        7 => "PERMISSION_DENIED",
        8 => "RESOURCE_EXHAUSTED",
        9 => "FAILED_PRECONDITION",
        10 => "ABORTED",
        11 => "OUT_OF_RANGE",
        12 => "UNIMPLEMENTED",
        13 => "INTERNAL",
        14 => "UNAVAILABLE",
        15 => "DATA_LOSS",
        16 => "UNAUTHENTICATED",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_mean_what_otlp_says() {
        assert_eq!(verdict(0), Verdict::Delivered);
        for retryable in [1, 4, 8, 10, 11, 14, 15] {
            assert_eq!(verdict(retryable), Verdict::Retry, "{}", code_name(retryable));
        }
        for rejected in [2, 3, 5, 6, 7, 9, 12, 13, 16, 99] {
            assert_eq!(verdict(rejected), Verdict::Rejected, "{rejected}");
        }
        assert_eq!(code_of_http_status(503), 14);
        assert_eq!(code_of_http_status(404), 12);
        assert_eq!(verdict(code_of_http_status(429)), Verdict::Retry);
        assert_eq!(verdict(code_of_http_status(200)), Verdict::Rejected);
        assert_eq!((code_name(14), code_name(0), code_name(99)), ("UNAVAILABLE", "OK", ""));
    }
}
