//! The configuration of `apache-combined` and its validation.
//!
//! Every field has a default (`Config::default()` is what `payload-fixtures/apache-combined/
//! config.yaml` spells out), unknown keys are errors, and [`Config::validate`] rejects any value
//! the format cannot use with an error naming the field and the value, through payforge's own
//! helpers ([`ConfRange::validate`], [`validate_count`], [`validate_probability`],
//! [`validate_weights`], [`validate_non_empty`]), so the messages read like the built-in formats'.

use payforge::Error;
use payforge::kit::{ConfRange, validate_count, validate_non_empty, validate_probability, validate_weights};
use serde::{Deserialize, Serialize};

/// Prefix of every field path in error messages.
const PREFIX: &str = "apache_combined";

/// Largest pool a config may ask for.
pub const MAX_POOL: u64 = 1_000_000;

/// Latest timestamp accepted, in seconds since the Unix epoch: 9999-12-31T23:59:59Z less the
/// largest offset east of UTC, so that every local time still has a four-digit year (the
/// earliest, 0 less twelve hours, is in 1969).
pub const MAX_TIMESTAMP_S: u64 = 253_402_300_799 - 14 * 3600;

/// Largest response size accepted (1 TiB).
pub const MAX_RESPONSE_BYTES: u64 = 1 << 40;

/// Timezone offsets must lie within `-1200..=+1400`, the ones in use on Earth, in minutes.
pub const OFFSET_MINUTES: std::ops::RangeInclusive<i64> = -12 * 60..=14 * 60;

/// Configuration of the `apache-combined` format.
///
/// The defaults model a public web site behind Apache with `HostnameLookups Off` (so clients are
/// mostly addresses), no identd, a little HTTP authentication, mostly `GET`s of pages and static
/// assets, and a week of traffic from servers in a few time zones. A default line is about 250
/// bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Distinct client hosts (`%h`), 1..=1000000.
    pub clients: u64,
    /// Share of the client pool written as a resolved hostname rather than an IPv4 address.
    pub client_hostname_probability: f64,
    /// Distinct user names, used by `%u` (and `%l`), 1..=1000000.
    pub users: u64,
    /// Length of each user name, 1..=32.
    pub user_length: ConfRange,
    /// Probability that `%l` (the identd answer) is a user name rather than `-`.
    pub identity_probability: f64,
    /// Probability that `%u` (the authenticated user) is a user name rather than `-`.
    pub user_probability: f64,
    /// Request methods and their relative weights.
    pub methods: Vec<MethodWeight>,
    /// Distinct request paths, 1..=1000000.
    pub paths: u64,
    /// Segments per path, 0..=32 (0 is `/`).
    pub path_depth: ConfRange,
    /// Length of each path segment, 1..=64.
    pub path_segment_length: ConfRange,
    /// Extensions the last segment of a path may end with (`""` for none, else `.` and 1 to 10
    /// lower-case letters or digits), chosen uniformly per path.
    pub path_extensions: Vec<String>,
    /// Probability that a request carries a query string.
    pub query_probability: f64,
    /// Distinct query strings, 1..=1000000.
    pub queries: u64,
    /// Parameters per query string, 1..=16.
    pub query_params: ConfRange,
    /// Protocol versions (`HTTP/1.1`, ...) and their relative weights.
    pub http_versions: Vec<VersionWeight>,
    /// Status codes (`%>s`, 100..=599) and their relative weights.
    pub statuses: Vec<StatusWeight>,
    /// Response body sizes (`%b`) in bytes, 0..=2^40. A size of 0, a `HEAD` request and the
    /// statuses without a body (1xx, 204, 304) are logged as `-`, as Apache does.
    pub response_bytes: ConfRange,
    /// This site's host name, used in the referers of internal links.
    pub site: String,
    /// Distinct referers, 1..=1000000: about half internal links, the rest search engines and
    /// social sites.
    pub referers: u64,
    /// Probability that a request carries a referer rather than `-`.
    pub referer_probability: f64,
    /// Distinct user agents, 1..=1000000, built from browser, platform and version parts.
    pub user_agents: u64,
    /// Share of the user-agent pool that are crawlers, tools and scanners rather than browsers.
    pub bot_user_agent_probability: f64,
    /// Request times, in seconds since the Unix epoch (default: the week of 2025-06-01 UTC).
    pub timestamp_s: ConfRange,
    /// Timezone offsets the servers log in (`%z`: `+hhmm` or `-hhmm`, within -1200..=+1400),
    /// chosen uniformly per line.
    pub timezone_offsets: Vec<String>,
}

/// A request method and its relative weight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MethodWeight {
    /// The method, 1 to 20 upper-case ASCII letters (`GET`, `PROPFIND`, ...).
    pub method: String,
    /// Relative weight: finite, not negative.
    pub weight: f64,
}

/// A protocol version and its relative weight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionWeight {
    /// `HTTP/<digit>.<digit>`, as Apache writes it in `%r`.
    pub version: String,
    /// Relative weight: finite, not negative.
    pub weight: f64,
}

/// A status code and its relative weight.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusWeight {
    /// The final status, 100..=599.
    pub code: u16,
    /// Relative weight: finite, not negative.
    pub weight: f64,
}

fn methods(items: &[(&str, f64)]) -> Vec<MethodWeight> {
    items.iter().map(|&(m, weight)| MethodWeight { method: m.to_owned(), weight }).collect()
}

fn versions(items: &[(&str, f64)]) -> Vec<VersionWeight> {
    items.iter().map(|&(v, weight)| VersionWeight { version: v.to_owned(), weight }).collect()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

impl Default for Config {
    fn default() -> Self {
        Self {
            clients: 512,
            client_hostname_probability: 0.1,
            users: 32,
            user_length: ConfRange::inclusive(3, 12),
            identity_probability: 0.0,
            user_probability: 0.05,
            methods: methods(&[
                ("GET", 85.0),
                ("POST", 8.0),
                ("HEAD", 3.0),
                ("PUT", 1.5),
                ("OPTIONS", 1.0),
                ("DELETE", 1.0),
                ("PATCH", 0.5),
            ]),
            paths: 1024,
            path_depth: ConfRange::inclusive(1, 4),
            path_segment_length: ConfRange::inclusive(3, 12),
            path_extensions: strings(&["", "", ".html", ".php", ".css", ".js", ".png", ".jpg", ".svg", ".json"]),
            query_probability: 0.25,
            queries: 256,
            query_params: ConfRange::inclusive(1, 4),
            http_versions: versions(&[("HTTP/1.1", 80.0), ("HTTP/2.0", 15.0), ("HTTP/1.0", 5.0)]),
            statuses: [
                (200, 72.0),
                (206, 1.0),
                (301, 3.0),
                (302, 4.0),
                (304, 8.0),
                (400, 1.0),
                (401, 1.0),
                (403, 1.0),
                (404, 7.0),
                (500, 1.0),
                (502, 0.5),
                (503, 0.5),
            ]
            .map(|(code, weight)| StatusWeight { code, weight })
            .to_vec(),
            response_bytes: ConfRange::inclusive(200, 48_000),
            site: "www.example.com".to_owned(),
            referers: 256,
            referer_probability: 0.6,
            user_agents: 128,
            bot_user_agent_probability: 0.15,
            timestamp_s: ConfRange::inclusive(1_748_736_000, 1_749_340_799),
            timezone_offsets: strings(&["+0000", "+0100", "+0200", "-0400", "-0700", "+0530", "+0900"]),
        }
    }
}

/// `apache_combined.<name>`.
fn field(name: &str) -> String {
    format!("{PREFIX}.{name}")
}

/// `apache_combined.<list>[<i>].<name>`.
fn item(list: &str, i: usize, name: &str) -> String {
    format!("{PREFIX}.{list}[{i}].{name}")
}

/// `value` quoted for an error message.
fn quoted(value: &str) -> String {
    format!("{value:?}")
}

/// Rejects the second occurrence of a value in a list.
fn no_duplicates<T: PartialEq + std::fmt::Display>(list: &str, name: &str, values: &[T]) -> payforge::Result<()> {
    for (i, v) in values.iter().enumerate() {
        if values.get(..i).is_some_and(|before| before.contains(v)) {
            return Err(Error::config(item(list, i, name), v, "listed twice"));
        }
    }
    Ok(())
}

/// True for a DNS name: dot-separated labels of 1 to 63 lower-case letters, digits and `-`
/// (not at either end of a label), 253 characters at most.
pub fn is_hostname(s: &str) -> bool {
    let label = |l: &str| {
        (1..=63).contains(&l.len())
            && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    (1..=253).contains(&s.len()) && s.split('.').all(label)
}

/// Parses a `%z` offset, `+hhmm` or `-hhmm`, into minutes east of UTC.
pub fn parse_offset(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let sign = match b.first() {
        Some(b'+') => 1,
        Some(b'-') => -1,
        _ => return None,
    };
    if b.len() != 5 || !b.iter().skip(1).all(u8::is_ascii_digit) {
        return None;
    }
    let digit = |i: usize| b.get(i).map_or(0, |d| i64::from(d - b'0'));
    let (hours, minutes) = (digit(1) * 10 + digit(2), digit(3) * 10 + digit(4));
    (minutes < 60).then_some(sign * (hours * 60 + minutes))
}

impl Config {
    /// Checks every field, naming the first invalid one and its value.
    ///
    /// # Errors
    /// [`Error::Config`] naming the field (`apache_combined.<field>`, with the index for a list
    /// item) and the value.
    pub fn validate(&self) -> payforge::Result<()> {
        validate_count(&field("clients"), self.clients, MAX_POOL)?;
        validate_probability(&field("client_hostname_probability"), self.client_hostname_probability)?;
        validate_count(&field("users"), self.users, MAX_POOL)?;
        self.user_length.validate(&field("user_length"), 1..=32)?;
        validate_probability(&field("identity_probability"), self.identity_probability)?;
        validate_probability(&field("user_probability"), self.user_probability)?;

        validate_non_empty(&field("methods"), &self.methods)?;
        for (i, m) in self.methods.iter().enumerate() {
            if !(1..=20).contains(&m.method.len()) || !m.method.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(Error::config(
                    item("methods", i, "method"),
                    quoted(&m.method),
                    "must be 1 to 20 upper-case ASCII letters",
                ));
            }
        }
        let names: Vec<String> = self.methods.iter().map(|m| quoted(&m.method)).collect();
        no_duplicates("methods", "method", &names)?;
        validate_weights(&field("methods"), &self.methods.iter().map(|m| m.weight).collect::<Vec<_>>())?;

        validate_count(&field("paths"), self.paths, MAX_POOL)?;
        self.path_depth.validate(&field("path_depth"), 0..=32)?;
        self.path_segment_length.validate(&field("path_segment_length"), 1..=64)?;
        validate_non_empty(&field("path_extensions"), &self.path_extensions)?;
        for (i, ext) in self.path_extensions.iter().enumerate() {
            let ok = ext.is_empty()
                || ext.strip_prefix('.').is_some_and(|e| {
                    (1..=10).contains(&e.len()) && e.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                });
            if !ok {
                return Err(Error::config(
                    format!("{PREFIX}.path_extensions[{i}]"),
                    quoted(ext),
                    "must be \"\" or '.' and 1 to 10 lower-case ASCII letters or digits",
                ));
            }
        }
        validate_probability(&field("query_probability"), self.query_probability)?;
        validate_count(&field("queries"), self.queries, MAX_POOL)?;
        self.query_params.validate(&field("query_params"), 1..=16)?;

        validate_non_empty(&field("http_versions"), &self.http_versions)?;
        for (i, v) in self.http_versions.iter().enumerate() {
            let b = v.version.as_bytes();
            let ok = b.len() == 8
                && v.version.starts_with("HTTP/")
                && b.get(5).is_some_and(u8::is_ascii_digit)
                && b.get(6) == Some(&b'.')
                && b.get(7).is_some_and(u8::is_ascii_digit);
            if !ok {
                return Err(Error::config(
                    item("http_versions", i, "version"),
                    quoted(&v.version),
                    "must be HTTP/<digit>.<digit>",
                ));
            }
        }
        let names: Vec<String> = self.http_versions.iter().map(|v| quoted(&v.version)).collect();
        no_duplicates("http_versions", "version", &names)?;
        validate_weights(&field("http_versions"), &self.http_versions.iter().map(|v| v.weight).collect::<Vec<_>>())?;

        validate_non_empty(&field("statuses"), &self.statuses)?;
        for (i, s) in self.statuses.iter().enumerate() {
            if !(100..=599).contains(&s.code) {
                return Err(Error::config(item("statuses", i, "code"), s.code, "must lie within 100..=599"));
            }
        }
        no_duplicates("statuses", "code", &self.statuses.iter().map(|s| s.code).collect::<Vec<_>>())?;
        validate_weights(&field("statuses"), &self.statuses.iter().map(|s| s.weight).collect::<Vec<_>>())?;
        self.response_bytes.validate(&field("response_bytes"), 0..=MAX_RESPONSE_BYTES)?;

        if !is_hostname(&self.site) {
            return Err(Error::config(
                field("site"),
                quoted(&self.site),
                "must be a host name: dot-separated labels of lower-case letters, digits and '-'",
            ));
        }
        validate_count(&field("referers"), self.referers, MAX_POOL)?;
        validate_probability(&field("referer_probability"), self.referer_probability)?;
        validate_count(&field("user_agents"), self.user_agents, MAX_POOL)?;
        validate_probability(&field("bot_user_agent_probability"), self.bot_user_agent_probability)?;

        self.timestamp_s.validate(&field("timestamp_s"), 0..=MAX_TIMESTAMP_S)?;
        validate_non_empty(&field("timezone_offsets"), &self.timezone_offsets)?;
        for (i, tz) in self.timezone_offsets.iter().enumerate() {
            match parse_offset(tz) {
                Some(m) if OFFSET_MINUTES.contains(&m) => {}
                _ => {
                    return Err(Error::config(
                        format!("{PREFIX}.timezone_offsets[{i}]"),
                        quoted(tz),
                        "must be +hhmm or -hhmm (minutes below 60) within -1200..=+1400",
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        Config::default().validate().unwrap();
    }

    #[test]
    fn offsets_parse() {
        assert_eq!(parse_offset("+0000"), Some(0));
        assert_eq!(parse_offset("-0700"), Some(-420));
        assert_eq!(parse_offset("+0530"), Some(330));
        for bad in ["0000", "+000", "+00000", "+0060", "+ab00", ""] {
            assert_eq!(parse_offset(bad), None, "{bad}");
        }
    }

    #[test]
    fn hostnames() {
        assert!(is_hostname("www.example.com") && is_hostname("localhost") && is_hostname("a-1.b"));
        for bad in ["", "Www.example.com", "a..b", "-a.b", "a-.b", "a b", "a_b"] {
            assert!(!is_hostname(bad), "{bad}");
        }
    }
}
