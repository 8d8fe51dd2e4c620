//! How each format travels: default block sizes, HTTP paths and headers, and the syslog
//! framings.
//!
//! The rules are keyed by format name, so a format registered by another crate gets the generic
//! behaviour: blocks as they are on every transport, `text/plain` over HTTP.

use std::fmt;
use std::str::FromStr;

use super::target::Transport;
use crate::error::{Error, Result};

/// Default block budget on datagram transports: the agent's default `dogstatsd_buffer_size`.
pub const DATAGRAM_BLOCK_SIZE: usize = 8 * 1024;
/// Default block budget on stream transports: a rated run's token bucket holds one block, so a
/// sender delayed by the scheduler for up to one block's time loses nothing (2.5 ms at
/// 100 MiB/s); 1-second windows still hold tens of blocks. Lowered for low rates
/// ([`crate::send::default_block_size`]).
pub const STREAM_BLOCK_SIZE: usize = 256 * 1024;
/// Default block budget over HTTP: one 1 MiB request (lading's default `maximum_block_size`).
pub const HTTP_BLOCK_SIZE: usize = 1 << 20;

/// How syslog lines are delimited on a stream (RFC 6587).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SyslogFraming {
    /// Non-transparent framing: each message ends with LF (RFC 6587 §3.4.2). The blocks as
    /// generated.
    #[default]
    Lf,
    /// Octet counting: each message is preceded by its length in decimal and a space, with no
    /// trailing LF (RFC 6587 §3.4.1).
    OctetCounting,
}

impl FromStr for SyslogFraming {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "lf" => Ok(SyslogFraming::Lf),
            "octet-counting" => Ok(SyslogFraming::OctetCounting),
            _ => Err(Error::argument("syslog framing", s, "expected lf or octet-counting")),
        }
    }
}

impl fmt::Display for SyslogFraming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SyslogFraming::Lf => "lf",
            SyslogFraming::OctetCounting => "octet-counting",
        })
    }
}

/// What goes out as one unit (one write, one datagram, one request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    /// Each block as it is.
    Blocks,
    /// Each line of a block on its own, without its LF: syslog over datagrams (RFC 5426 §3.1:
    /// one message per datagram).
    Lines,
    /// Each block re-framed with RFC 6587 octet counting.
    OctetCounted,
}

impl Wire {
    /// The name in summaries.
    pub fn name(self) -> &'static str {
        match self {
            Wire::Blocks => "blocks",
            Wire::Lines => "one line per datagram",
            Wire::OctetCounted => "octet-counting",
        }
    }
}

/// The per-format rules for one transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// The default block budget.
    pub block_size: usize,
    /// How blocks become units.
    pub wire: Wire,
    /// For dogstatsd: whether blocks must carry the 4-byte length prefix (Unix streams), which is
    /// set on the config before the cache is built.
    pub length_prefix: Option<bool>,
    /// HTTP: the path used when the URL names none.
    pub http_path: &'static str,
    /// HTTP: the method (`PUT` for trace-v05, as tracers send it; `POST` otherwise).
    pub http_method: &'static str,
    /// HTTP: the `Content-Type`.
    pub content_type: &'static str,
    /// HTTP: send `X-Datadog-Trace-Count` (the block's member count) and ask the trace-agent for
    /// real status codes.
    pub trace_headers: bool,
}

impl Profile {
    /// The rules for `format` over `transport` with `framing` (syslog5424 streams only).
    ///
    /// # Errors
    /// [`Error::Argument`] when a syslog framing is asked for anything but syslog5424 over a
    /// stream.
    pub fn new(format: &str, transport: Transport, framing: Option<SyslogFraming>) -> Result<Self> {
        let syslog = format == "syslog5424";
        if let Some(f) = framing {
            if !(syslog && transport.is_stream()) {
                return Err(Error::argument(
                    "syslog framing",
                    f.to_string(),
                    format!(
                        "applies to syslog5424 over tcp:// or unix:// only, not {format} over {transport}://; \
                         datagrams carry one message each"
                    ),
                ));
            }
        }
        let block_size = match transport {
            t if t.is_datagram() => DATAGRAM_BLOCK_SIZE,
            Transport::Http => HTTP_BLOCK_SIZE,
            _ => STREAM_BLOCK_SIZE,
        };
        let wire = match (syslog, transport, framing.unwrap_or_default()) {
            (true, t, _) if t.is_datagram() => Wire::Lines,
            (true, t, SyslogFraming::OctetCounting) if t.is_stream() => Wire::OctetCounted,
            _ => Wire::Blocks,
        };
        let length_prefix = (format == "dogstatsd").then_some(transport == Transport::Unix);
        let (http_path, http_method, content_type, trace_headers) = match format {
            "trace-v04" => ("/v0.4/traces", "POST", "application/msgpack", true),
            "trace-v05" => ("/v0.5/traces", "PUT", "application/msgpack", true),
            "datadog-logs" => ("/api/v2/logs", "POST", "application/json", false),
            _ => ("/", "POST", "text/plain", false),
        };
        Ok(Self { block_size, wire, length_prefix, http_path, http_method, content_type, trace_headers })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_per_format_and_transport() {
        let p = Profile::new("dogstatsd", Transport::Udp, None).unwrap();
        assert_eq!((p.block_size, p.wire, p.length_prefix), (8192, Wire::Blocks, Some(false)));
        assert_eq!(Profile::new("dogstatsd", Transport::Unix, None).unwrap().length_prefix, Some(true));
        assert_eq!(Profile::new("syslog5424", Transport::Udp, None).unwrap().wire, Wire::Lines);
        let oc = Profile::new("syslog5424", Transport::Tcp, Some(SyslogFraming::OctetCounting)).unwrap();
        assert_eq!(oc.wire, Wire::OctetCounted);
        let t = Profile::new("trace-v04", Transport::Http, None).unwrap();
        assert!(t.trace_headers && t.content_type == "application/msgpack" && t.http_path == "/v0.4/traces");
        let v5 = Profile::new("trace-v05", Transport::Http, None).unwrap();
        assert_eq!((v5.http_path, v5.http_method), ("/v0.5/traces", "PUT"));
        let err = Profile::new("dogstatsd", Transport::Tcp, Some(SyslogFraming::Lf)).unwrap_err().to_string();
        assert!(err.contains("syslog framing") && err.contains("dogstatsd"), "{err}");
        assert!(Profile::new("syslog5424", Transport::Udp, Some(SyslogFraming::Lf)).is_err());
        assert!("octet".parse::<SyslogFraming>().is_err());
    }
}
