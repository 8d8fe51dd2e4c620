//! Where `send` delivers: a URL naming a transport and an address.
//!
//! | URL | transport | unit on the wire |
//! |---|---|---|
//! | `tcp://host:port` | TCP stream | blocks back to back |
//! | `tls://host:port` | TCP stream inside TLS (RFC 5425) | blocks back to back |
//! | `udp://host:port` | UDP datagrams | one block per datagram |
//! | `unix:///path` | Unix stream socket | blocks back to back |
//! | `unixgram:///path` | Unix datagram socket | one block per datagram |
//! | `http://host:port/path` | HTTP/1.1 POST, keep-alive | one block per request |
//! | `https://host:port/path` | the same over TLS | one block per request |
//! | `grpc://host:port` | gRPC over HTTP/2, cleartext (feature `grpc`) | one block per unary call of the format's method |
//!
//! Host names are resolved when a connection is opened (again at every reconnect), so a
//! receiver that moves behind a name is followed. Nothing here limits which hosts are targets.

use std::fmt;
use std::path::PathBuf;

use crate::error::{Error, Result};

/// Largest UDP payload over IPv4: 65,535 minus the 8-byte UDP and 20-byte IP headers.
pub const MAX_UDP_PAYLOAD: usize = 65_507;

/// A parsed `--to` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `tcp://host:port`.
    Tcp {
        /// `host:port` as given (resolved at connect time).
        addr: String,
    },
    /// `tls://host:port`: a TCP stream inside TLS.
    Tls {
        /// `host:port` as given (resolved at connect time; the host is the TLS server name).
        addr: String,
    },
    /// `udp://host:port`.
    Udp {
        /// `host:port` as given (resolved at connect time).
        addr: String,
    },
    /// `unix:///path`: a Unix stream socket.
    Unix {
        /// The socket's path.
        path: PathBuf,
    },
    /// `unixgram:///path`: a Unix datagram socket.
    Unixgram {
        /// The socket's path.
        path: PathBuf,
    },
    /// `http://host:port/path` or `https://...`.
    Http {
        /// The URL as given (scheme, authority, path and query).
        url: String,
        /// Whether the URL names a path (anything but empty or `/`); without one, the format's
        /// default path is used (`/v0.4/traces` for trace-v04).
        has_path: bool,
    },
    /// `grpc://host:port`: gRPC calls over HTTP/2 without TLS; the method is the format's.
    Grpc {
        /// `host:port` as given (resolved at connect time).
        addr: String,
    },
}

pub use crate::delivery::Transport;

impl Target {
    /// The transport.
    pub fn transport(&self) -> Transport {
        match self {
            Target::Tcp { .. } => Transport::Tcp,
            Target::Tls { .. } => Transport::Tls,
            Target::Udp { .. } => Transport::Udp,
            Target::Unix { .. } => Transport::Unix,
            Target::Unixgram { .. } => Transport::Unixgram,
            Target::Http { .. } => Transport::Http,
            Target::Grpc { .. } => Transport::Grpc,
        }
    }

    /// True for `https://` and `tls://`.
    pub fn is_tls(&self) -> bool {
        match self {
            Target::Tls { .. } => true,
            Target::Http { url, .. } => url.starts_with("https://"),
            _ => false,
        }
    }

    /// The HTTP URL to post to: the URL as given, or with `default_path` when it names none
    /// (put before its query: `http://h:8126?x=1` posts to `http://h:8126/v0.4/traces?x=1`).
    pub fn http_url(&self, default_path: &str) -> Option<String> {
        match self {
            Target::Http { url, has_path: true } => Some(url.clone()),
            Target::Http { url, has_path: false } => {
                let after_scheme = url.find("://").map_or(0, |i| i + 3);
                let end = url[after_scheme..].find(['/', '?', '#']).map_or(url.len(), |i| after_scheme + i);
                let rest = url[end..].trim_start_matches('/');
                let rest = if rest.starts_with(['?', '#']) { rest } else { "" };
                Some(format!("{}{default_path}{rest}", &url[..end]))
            }
            _ => None,
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Tcp { addr } => write!(f, "tcp://{addr}"),
            Target::Tls { addr } => write!(f, "tls://{addr}"),
            Target::Udp { addr } => write!(f, "udp://{addr}"),
            Target::Unix { path } => write!(f, "unix://{}", path.display()),
            Target::Unixgram { path } => write!(f, "unixgram://{}", path.display()),
            Target::Http { url, .. } => f.write_str(url),
            Target::Grpc { addr } => write!(f, "grpc://{addr}"),
        }
    }
}

impl std::str::FromStr for Target {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let bad = |reason: &str| Error::argument("target URL", s, reason.to_string());
        let (scheme, rest) = s.split_once("://").ok_or_else(|| {
            bad("expected tcp://host:port, tls://host:port, udp://host:port, unix:///path, unixgram:///path, \
                 http(s)://host:port/path or grpc://host:port")
        })?;
        let host_port = |rest: &str| -> Result<String> {
            let (host, port) = rest.rsplit_once(':').ok_or_else(|| bad("expected host:port after the scheme"))?;
            if rest.contains('/') {
                return Err(bad("a socket address takes no path: use host:port"));
            }
            let host_ok = !host.is_empty() && (!host.contains(':') || (host.starts_with('[') && host.ends_with(']')));
            if !host_ok {
                return Err(bad("expected a host name or address before the port (IPv6 in brackets: [::1]:8125)"));
            }
            match port.parse::<u16>() {
                Ok(p) if p > 0 => Ok(rest.to_string()),
                _ => Err(bad("the port must be a number from 1 to 65535")),
            }
        };
        let path = |rest: &str| -> Result<PathBuf> {
            if !rest.starts_with('/') || rest.len() < 2 {
                return Err(bad("expected an absolute socket path, e.g. unix:///var/run/datadog/dsd.socket"));
            }
            Ok(PathBuf::from(rest))
        };
        match scheme {
            "tcp" => Ok(Target::Tcp { addr: host_port(rest)? }),
            "tls" => Ok(Target::Tls { addr: host_port(rest)? }),
            "udp" => Ok(Target::Udp { addr: host_port(rest)? }),
            "unix" => Ok(Target::Unix { path: path(rest)? }),
            "unixgram" => Ok(Target::Unixgram { path: path(rest)? }),
            "grpc" => Ok(Target::Grpc { addr: host_port(rest)? }),
            "http" | "https" => {
                let (authority, path) = match rest.find('/') {
                    Some(i) => rest.split_at(i),
                    None => (rest, ""),
                };
                let authority = authority.split_once('?').map_or(authority, |(a, _)| a);
                if authority.is_empty() {
                    return Err(bad("expected a host after http://"));
                }
                // `host`, `host:port`, `[v6]` or `[v6]:port`.
                let port = match authority.rsplit_once(':') {
                    Some((host, port)) if !authority.ends_with(']') && !host.is_empty() => Some(port),
                    Some(_) if !authority.ends_with(']') => return Err(bad("expected a host after http://")),
                    _ => None,
                };
                if port.is_some_and(|p| p.parse::<u16>().map_or(true, |p| p == 0)) {
                    return Err(bad("the port must be a number from 1 to 65535"));
                }
                let path = path.split(['?', '#']).next().unwrap_or("");
                let has_path = !(path.is_empty() || path == "/");
                Ok(Target::Http { url: s.to_string(), has_path })
            }
            _ => Err(bad("unknown scheme; use tcp, tls, udp, unix, unixgram, http, https or grpc")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_scheme() {
        assert_eq!("tcp://127.0.0.1:514".parse::<Target>().unwrap(), Target::Tcp { addr: "127.0.0.1:514".into() });
        assert_eq!("udp://localhost:8125".parse::<Target>().unwrap().transport(), Transport::Udp);
        assert_eq!("udp://[::1]:8125".parse::<Target>().unwrap().transport(), Transport::Udp);
        assert_eq!(
            "unix:///tmp/dsd.sock".parse::<Target>().unwrap(),
            Target::Unix { path: PathBuf::from("/tmp/dsd.sock") }
        );
        assert_eq!("unixgram:///tmp/d.sock".parse::<Target>().unwrap().transport(), Transport::Unixgram);
        let http: Target = "http://127.0.0.1:8126".parse().unwrap();
        assert_eq!(http.http_url("/v0.4/traces").unwrap(), "http://127.0.0.1:8126/v0.4/traces");
        let http: Target = "http://127.0.0.1:8080/v1/input".parse().unwrap();
        assert_eq!(http.http_url("/v0.4/traces").unwrap(), "http://127.0.0.1:8080/v1/input");
        assert_eq!(http.to_string(), "http://127.0.0.1:8080/v1/input");
        let tls: Target = "tls://localhost:6514".parse().unwrap();
        assert!(tls.is_tls() && tls.transport() == Transport::Tls && tls.transport().is_stream());
        let https: Target = "https://[::1]:8443".parse().unwrap();
        assert!(https.is_tls() && !http.is_tls());
        assert_eq!(https.http_url("/logs").unwrap(), "https://[::1]:8443/logs");
        let grpc: Target = "grpc://127.0.0.1:4317".parse().unwrap();
        assert_eq!(grpc, Target::Grpc { addr: "127.0.0.1:4317".into() });
        assert!(grpc.transport() == Transport::Grpc && !grpc.is_tls() && grpc.http_url("/v1/logs").is_none());
        assert_eq!(grpc.to_string(), "grpc://127.0.0.1:4317");
        let err = "grpc://h:4317/svc".parse::<Target>().unwrap_err().to_string();
        assert!(err.contains("grpc://h:4317/svc") && err.contains("no path"), "{err}");
    }

    #[test]
    fn a_default_path_goes_before_the_query() {
        for (url, expected) in [
            ("http://h:8126?x=1", "http://h:8126/v0.4/traces?x=1"),
            ("http://h:8126/?x=1&y=2", "http://h:8126/v0.4/traces?x=1&y=2"),
            ("http://h:8126/#frag", "http://h:8126/v0.4/traces#frag"),
            ("http://h:8126/", "http://h:8126/v0.4/traces"),
            ("http://h:8126/custom?x=1", "http://h:8126/custom?x=1"),
        ] {
            let target: Target = url.parse().unwrap();
            assert_eq!(target.http_url("/v0.4/traces").unwrap(), expected, "{url}");
        }
    }

    #[test]
    fn errors_name_the_url() {
        for bad in [
            "127.0.0.1:8125",
            "udp://127.0.0.1",
            "udp://127.0.0.1:0",
            "udp://127.0.0.1:99999",
            "tcp://:80",
            "tcp://a:1/x",
            "unix://relative",
            "ftp://x:1",
            "https://x:0/",
            "tls://x",
            "http://x:0/",
            "http:///path",
        ] {
            let err = bad.parse::<Target>().unwrap_err().to_string();
            assert!(err.contains("target URL") && err.contains(bad), "{bad}: {err}");
        }
    }
}
