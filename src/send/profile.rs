//! How a format travels over one transport: the default block sizes, how blocks become units
//! ([`Wire`]) and the stream framings, from the format's declared [`Delivery`] (never from its
//! name), so a format registered by another crate travels by its own declaration.

use std::fmt;
use std::str::FromStr;

use super::target::Transport;
use crate::delivery::{Datagrams, Delivery};
use crate::error::{Error, Result};

/// Default block budget on datagram transports: the agent's default `dogstatsd_buffer_size`.
pub const DATAGRAM_BLOCK_SIZE: usize = 8 * 1024;
/// Default block budget on stream transports: a rated run's token bucket holds one block, so a
/// sender delayed by the scheduler for up to one block's time loses nothing (2.5 ms at
/// 100 MiB/s); 1-second windows still hold tens of blocks. Lowered for low rates
/// ([`crate::send::default_block_size`]).
pub const STREAM_BLOCK_SIZE: usize = 256 * 1024;
/// Default block budget over HTTP and gRPC: one 1 MiB request (lading's default
/// `maximum_block_size`).
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

/// The rules for one format over one transport, from the format's [`Delivery`].
#[derive(Debug, Clone, Copy)]
pub struct Profile {
    /// The default block budget.
    pub block_size: usize,
    /// How blocks become units.
    pub wire: Wire,
    /// The format's declaration: HTTP path, method, content type and headers.
    pub delivery: Delivery,
}

impl Profile {
    /// The rules for the format declaring `delivery` (named `format` in messages) over
    /// `transport`, with `framing` (streams of formats that allow octet counting only).
    ///
    /// # Errors
    /// [`Error::Argument`] when a framing is asked for a format whose delivery does not allow
    /// octet counting, or for anything but a stream.
    pub fn new(
        format: &str,
        delivery: &Delivery,
        transport: Transport,
        framing: Option<SyslogFraming>,
    ) -> Result<Self> {
        if let Some(f) = framing {
            if !(delivery.octet_counting && transport.is_stream()) {
                return Err(Error::argument(
                    "syslog framing",
                    f.to_string(),
                    format!(
                        "applies over tcp://, tls:// or unix:// to formats whose lines may be octet-counted \
                         (syslog5424), not to {format} over {transport}://; datagrams carry one message each"
                    ),
                ));
            }
        }
        let block_size = match transport {
            t if t.is_datagram() => DATAGRAM_BLOCK_SIZE,
            Transport::Http | Transport::Grpc => HTTP_BLOCK_SIZE,
            _ => STREAM_BLOCK_SIZE,
        };
        let wire = match (delivery.datagrams, framing.unwrap_or_default()) {
            (Datagrams::Lines, _) if transport.is_datagram() => Wire::Lines,
            (_, SyslogFraming::OctetCounting) => Wire::OctetCounted,
            _ => Wire::Blocks,
        };
        Ok(Self { block_size, wire, delivery: *delivery })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Registry;

    fn profile(format: &str, transport: Transport, framing: Option<SyslogFraming>) -> Result<Profile> {
        let spec = Registry::builtin().default_config(format).unwrap().spec();
        Profile::new(format, spec.delivery(), transport, framing)
    }

    #[test]
    fn rules_per_format_and_transport() {
        let p = profile("dogstatsd", Transport::Udp, None).unwrap();
        assert_eq!((p.block_size, p.wire), (8192, Wire::Blocks));
        assert_eq!(profile("syslog5424", Transport::Udp, None).unwrap().wire, Wire::Lines);
        assert_eq!(profile("syslog5424", Transport::Tcp, None).unwrap().wire, Wire::Blocks);
        let oc = profile("syslog5424", Transport::Tcp, Some(SyslogFraming::OctetCounting)).unwrap();
        assert_eq!(oc.wire, Wire::OctetCounted);
        let t = profile("trace-v04", Transport::Http, None).unwrap().delivery;
        assert_eq!((t.content_type, t.http_path), ("application/msgpack", "/v0.4/traces"));
        assert_eq!(t.member_count_header, Some("X-Datadog-Trace-Count"));
        assert_eq!(t.headers, &[("Datadog-Send-Real-Http-Status", "true")]);
        let v5 = profile("trace-v05", Transport::Http, None).unwrap().delivery;
        assert_eq!((v5.http_path, v5.http_method.as_str()), ("/v0.5/traces", "PUT"));
        let logs = profile("datadog-logs", Transport::Http, None).unwrap().delivery;
        assert_eq!(
            (logs.http_path, logs.content_type, logs.member_count_header),
            ("/api/v2/logs", "application/json", None)
        );
        let err = profile("dogstatsd", Transport::Tcp, Some(SyslogFraming::Lf)).unwrap_err().to_string();
        assert!(err.contains("syslog framing") && err.contains("dogstatsd"), "{err}");
        assert!(profile("syslog5424", Transport::Udp, Some(SyslogFraming::Lf)).is_err());
        assert!("octet".parse::<SyslogFraming>().is_err());
    }
}
