//! lading experiment files: `payforge send --lading-config FILE [--id ID]` runs one generator.
//!
//! The first generator of the file's `generator:` list runs, or the one whose `id` is given.
//! Supported generator kinds and keys (every other key is an error that names it):
//!
//! | kind | target key | other keys |
//! |---|---|---|
//! | `tcp`, `udp` | `addr` | `seed`, `variant`, `bytes_per_second`, `throttle`, `maximum_block_size`, `maximum_prebuild_cache_size_bytes`, `parallel_connections` |
//! | `unix_stream`, `unix_datagram` | `path` | as above, plus `block_cache_method` |
//! | `http` | `target_uri` | `seed`, `method: {post: {variant, maximum_prebuild_cache_size_bytes, block_cache_method}}`, `headers`, `bytes_per_second`, `throttle`, `maximum_block_size`, `parallel_connections` |
//! | `grpc` | `target_uri`, `http://host:port[/package.Service/Method]` (the method is the variant's; a path, if given, must name it) | `seed`, `variant`, `bytes_per_second`, `throttle`, `maximum_block_size`, `maximum_prebuild_cache_size_bytes`, `block_cache_method`, `parallel_connections` |
//! | `trace_agent` | `target_uri` (the path is the variant's: `/v0.4/traces`, `/v0.5/traces`) | `seed`, `variant: {v0.4: ...}`, `backoff_behavior`, `bytes_per_second`, `throttle`, `maximum_block_size`, `maximum_prebuild_cache_size_bytes`, `block_cache_method`, `parallel_connections` |
//!
//! Payload variants: `syslog5424`, `dogstatsd`, `datadog_log`, `trace_agent: {v0.4: ...}`,
//! `trace_agent: {v0.5: ...}` and `opentelemetry_logs`, `_metrics`, `_traces` (whatever the registry's formats name as their lading path). Other top-level keys of the
//! file (`blackhole`, `target_metrics`, ...) configure lading itself and are ignored.
//!
//! Meanings follow lading:
//!
//! * **Sizes** are read as lading reads them (byte-unit 5): `MiB` = 2^20 bytes, `MB` = 10^6
//!   bytes, and a lowercase `b` means **bits**: `"100 Mb"` is 100 megabits, 12,500,000 bytes.
//!   A plain number is bytes.
//! * **`seed`** (32 bytes) is folded into payforge's 64-bit seed by [`fold_seed`]: the bytes are
//!   read as four big-endian u64 words, which are XORed together. A seed whose only non-zero
//!   bytes are the last eight maps to the number they spell: `[0, ..., 0, 11]` is seed 11.
//! * **`bytes_per_second`** is the total over all connections for `tcp`, `udp`, `http` and
//!   `trace_agent`, and per connection for `unix_stream` and `unix_datagram` (so payforge's
//!   total rate is multiplied by `parallel_connections` there). `throttle: all_out` sends as
//!   fast as possible; `throttle: {stable: {bytes_per_second: X}}` is `X`;
//!   `throttle: {linear: {initial_bytes_per_second: A, maximum_bytes_per_second: B,
//!   rate_of_change: C}}` starts at `A` bytes per second and adds `C` every second up to `B`
//!   (`--ramp`); **`blocks_per_second: N`** sends `N` units a second whatever their size
//!   (`--block-rate`). One of `bytes_per_second`, `blocks_per_second` and `throttle` at most.
//! * **`maximum_block_size`** is the block size; lading's defaults apply when it is absent
//!   (65,507 for udp, 8 KiB for unix_datagram, 1 MiB otherwise).
//! * **`maximum_prebuild_cache_size_bytes`** is `--cache`; **`parallel_connections`** is
//!   `--connections` (default 1); **`headers`** are `--header`s; **`backoff_behavior`**
//!   `{obey: {max_retries: N}}` is `--max-retries N` and `ignore` is 0.

use std::path::{Path, PathBuf};

use serde_norway::Value;

use super::http::Header;
use super::target::{MAX_UDP_PAYLOAD, Target};
use super::throttle::Throttle;
use crate::error::{Error, Result};
use crate::registry::{FormatConfig, Registry};

/// The generator kinds `send` runs.
pub const KINDS: &[&str] = &["tcp", "udp", "unix_stream", "unix_datagram", "http", "trace_agent", "grpc"];

/// One lading generator, translated.
#[derive(Debug, Clone)]
pub struct LadingJob {
    /// The generator's `id`, if it has one.
    pub id: Option<String>,
    /// Its kind (`tcp`, `udp`, ...).
    pub kind: &'static str,
    /// The payload's format config.
    pub config: FormatConfig,
    /// Where it sends.
    pub target: Target,
    /// The folded seed.
    pub seed: u64,
    /// The pace over all connections.
    pub throttle: Throttle,
    /// The block size.
    pub block_size: usize,
    /// The cache size.
    pub cache: u64,
    /// Parallel connections.
    pub connections: usize,
    /// HTTP headers.
    pub headers: Vec<Header>,
    /// HTTP retries (trace_agent's `backoff_behavior`).
    pub max_retries: Option<u32>,
}

impl LadingJob {
    /// The stable rate in bytes per second, if that is the throttle.
    pub fn rate(&self) -> Option<u64> {
        self.throttle.stable_rate()
    }
}

/// Folds lading's 32-byte seed into a u64: the XOR of its four big-endian 8-byte words.
pub fn fold_seed(seed: &[u8; 32]) -> u64 {
    seed.chunks_exact(8).fold(0, |acc, w| acc ^ u64::from_be_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]))
}

/// Reads a size as lading does (byte-unit 5, case-sensitive `b`/`B`): `"1 MiB"`, `"100 Mb"`
/// (megabits), `"10MB"`, `8192`. Fractions of a byte are dropped.
///
/// # Errors
/// A message saying what was expected.
pub fn parse_lading_size(value: &Value) -> std::result::Result<u64, String> {
    if let Some(n) = value.as_u64() {
        return Ok(n);
    }
    let text = value.as_str().ok_or_else(|| "expected a size such as \"1 MiB\", \"100 Mb\" or 65536".to_string())?;
    let s = text.trim();
    let bad = || format!("{text:?} is not a size such as \"1 MiB\", \"100 Mb\" (megabits) or 65536");
    let digits_end = s.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(s.len());
    let (number, unit) = s.split_at(digits_end);
    let (int, frac) = number.split_once('.').unwrap_or((number, ""));
    let digits = |d: &str| d.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || (number.contains('.') && frac.is_empty()) || frac.len() > 18 || !digits(int) || !digits(frac) {
        return Err(bad());
    }
    let mut numerator: u128 = 0;
    for d in int.bytes().chain(frac.bytes()) {
        numerator = numerator.checked_mul(10).and_then(|n| n.checked_add(u128::from(d - b'0'))).ok_or_else(bad)?;
    }
    let mut denominator: u128 = 10u128.pow(frac.len() as u32);
    let unit = unit.trim_start();
    let mut chars = unit.chars().peekable();
    let mut multiplier: u128 = 1;
    if let Some(prefix) = chars.peek().copied().filter(|c| !c.eq_ignore_ascii_case(&'B')) {
        let power = match prefix.to_ascii_uppercase() {
            'K' => 1,
            'M' => 2,
            'G' => 3,
            'T' => 4,
            'P' => 5,
            'E' => 6,
            _ => return Err(bad()),
        };
        chars.next();
        let binary = chars.next_if(|c| *c == 'i' || *c == 'I').is_some();
        multiplier = if binary { 1024u128 } else { 1000u128 }.pow(power);
    }
    let rest: String = chars.collect();
    match rest.as_str() {
        "" | "B" => {}
        "b" | "bit" => denominator *= 8,
        _ => return Err(bad()),
    }
    let bytes = numerator.checked_mul(multiplier).ok_or_else(bad)? / denominator;
    u64::try_from(bytes).map_err(|_| bad())
}

/// Reads `path` and translates its first generator (or the one named `id`).
///
/// # Errors
/// [`Error::ConfigFile`] naming the file, the generator and the key that is missing, malformed
/// or not supported.
pub fn load(registry: &Registry, path: &Path, id: Option<&str>) -> Result<LadingJob> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::ConfigFile { path: path.to_path_buf(), reason: e.to_string() })?;
    parse(registry, &text, path, id)
}

/// As [`load`], from text; `origin` names the file in errors.
///
/// # Errors
/// As [`load`].
pub fn parse(registry: &Registry, text: &str, origin: &Path, id: Option<&str>) -> Result<LadingJob> {
    let fail = |reason: String| Error::ConfigFile { path: origin.to_path_buf(), reason };
    let doc: Value = serde_norway::from_str(text).map_err(|e| fail(e.to_string()))?;
    let generators = doc
        .get("generator")
        .and_then(Value::as_sequence)
        .ok_or_else(|| fail("expected a lading experiment with a `generator:` list".into()))?;
    let entry = match id {
        Some(want) => {
            generators.iter().find(|g| g.get("id").and_then(Value::as_str) == Some(want)).ok_or_else(|| {
                let ids: Vec<&str> = generators.iter().filter_map(|g| g.get("id").and_then(Value::as_str)).collect();
                fail(format!("no generator has id `{want}` (ids in the file: {})", list(&ids)))
            })?
        }
        None => generators.first().ok_or_else(|| fail("the `generator:` list is empty".into()))?,
    };
    let map = entry.as_mapping().ok_or_else(|| fail("a generator entry must be a mapping".into()))?;
    let gen_id = entry.get("id").and_then(Value::as_str).map(str::to_string);
    let mut kinds = map.iter().filter_map(|(k, _)| k.as_str()).filter(|k| *k != "id");
    let (Some(kind_name), None) = (kinds.next(), kinds.next()) else {
        return Err(fail("a generator entry holds `id` and exactly one generator kind".into()));
    };
    let who = match &gen_id {
        Some(i) => format!("generator `{i}` ({kind_name})"),
        None => format!("generator `{kind_name}`"),
    };
    let Some(kind) = KINDS.iter().copied().find(|k| *k == kind_name) else {
        return Err(fail(format!("{who}: payforge send runs {} generators only", list(KINDS))));
    };
    let body =
        entry.get(kind_name).and_then(Value::as_mapping).ok_or_else(|| fail(format!("{who}: expected a mapping")))?;
    let g = Gen { who: &who, body, fail: &fail };
    g.check_keys(&allowed_keys(kind))?;

    let seed = g.seed()?;
    let connections = match g.get("parallel_connections") {
        None => 1,
        Some(v) => v
            .as_u64()
            .filter(|n| (1..=u64::from(u16::MAX)).contains(n))
            .ok_or_else(|| g.bad("parallel_connections", v, "expected a count from 1 to 65535"))?
            as usize,
    };
    let mut throttle = g.throttle()?;
    if matches!(kind, "unix_stream" | "unix_datagram") {
        // lading gives every connection of these generators the whole rate.
        let n = connections as u64;
        throttle = match throttle {
            Throttle::Stable { bytes_per_second } => {
                Throttle::Stable { bytes_per_second: bytes_per_second.saturating_mul(n) }
            }
            Throttle::Linear { initial, maximum, rate_of_change } => Throttle::Linear {
                initial: initial.saturating_mul(n),
                maximum: maximum.saturating_mul(n),
                rate_of_change: rate_of_change.saturating_mul(n),
            },
            Throttle::Blocks { per_second } => Throttle::Blocks { per_second: per_second.saturating_mul(n) },
            Throttle::AllOut => Throttle::AllOut,
        };
    }
    let default_block = match kind {
        "udp" => MAX_UDP_PAYLOAD as u64,
        "unix_datagram" => 8192,
        _ => 1 << 20,
    };
    let block_size = match g.get("maximum_block_size") {
        None => default_block,
        Some(v) => g.size("maximum_block_size", v)?,
    };
    let block_size = usize::try_from(block_size).map_err(|_| g.bad_text("maximum_block_size", "too large"))?;

    let (variant, cache_value, cache_key) = match kind {
        "http" => {
            let post = g
                .get("method")
                .and_then(|m| m.get("post"))
                .ok_or_else(|| g.bad_text("method", "expected `method: {post: {variant: ..., ...}}`"))?;
            let post_map = post.as_mapping().ok_or_else(|| g.bad_text("method.post", "expected a mapping"))?;
            for (k, v) in post_map {
                match k.as_str() {
                    Some("variant" | "maximum_prebuild_cache_size_bytes") => {}
                    Some("block_cache_method") => g.cache_method("method.post.block_cache_method", v)?,
                    other => {
                        return Err(g.unsupported(
                            &format!("method.post.{}", other.unwrap_or("?")),
                            &["variant", "maximum_prebuild_cache_size_bytes", "block_cache_method"],
                        ));
                    }
                }
            }
            (
                post.get("variant").cloned(),
                post.get("maximum_prebuild_cache_size_bytes"),
                "method.post.maximum_prebuild_cache_size_bytes",
            )
        }
        "trace_agent" => {
            let v = g.get("variant").map(|v| {
                let mut m = serde_norway::Mapping::new();
                m.insert(Value::from("trace_agent"), v.clone());
                Value::Mapping(m)
            });
            (v, g.get("maximum_prebuild_cache_size_bytes"), "maximum_prebuild_cache_size_bytes")
        }
        _ => {
            (g.get("variant").cloned(), g.get("maximum_prebuild_cache_size_bytes"), "maximum_prebuild_cache_size_bytes")
        }
    };
    if let Some(v) = g.get("block_cache_method") {
        g.cache_method("block_cache_method", v)?;
    }
    let variant = variant.ok_or_else(|| g.bad_text("variant", "is required"))?;
    let config = variant_config(registry, &variant, origin, &g)?;
    let cache = match cache_value {
        Some(v) => g.size(cache_key, v)?,
        None => return Err(g.bad_text(cache_key, "is required")),
    };

    let target = g.target(kind)?;
    if kind == "grpc" {
        g.grpc_method(&config)?;
    }
    let headers = match g.get("headers") {
        None => Vec::new(),
        Some(Value::Mapping(m)) => {
            let mut out = Vec::new();
            for (k, v) in m {
                let (Some(k), Some(v)) = (k.as_str(), v.as_str()) else {
                    return Err(g.bad_text("headers", "expected a mapping of header names to string values"));
                };
                out.push(Header::new(k, v).map_err(|e| g.bad_text("headers", &e.to_string()))?);
            }
            out
        }
        Some(v) => return Err(g.bad("headers", v, "expected a mapping of header names to values")),
    };
    let max_retries = match g.get("backoff_behavior") {
        None => None,
        Some(v) if v.as_str() == Some("ignore") => Some(0),
        Some(v) => match v.get("obey").and_then(|o| o.get("max_retries")).and_then(Value::as_u64) {
            Some(n) => Some(u32::try_from(n).unwrap_or(u32::MAX)),
            None => return Err(g.bad("backoff_behavior", v, "expected `ignore` or `{obey: {max_retries: N}}`")),
        },
    };
    Ok(LadingJob {
        id: gen_id,
        kind,
        config,
        target,
        seed,
        throttle,
        block_size,
        cache,
        connections,
        headers,
        max_retries,
    })
}

fn list(items: &[&str]) -> String {
    if items.is_empty() { "none".into() } else { items.join(", ") }
}

fn allowed_keys(kind: &str) -> Vec<&'static str> {
    /// Keys every kind takes.
    const RATE: &[&str] =
        &["seed", "bytes_per_second", "blocks_per_second", "throttle", "maximum_block_size", "parallel_connections"];
    /// The payload keys, at the top of every kind but `http` (which has them under `method.post`).
    const PAYLOAD: &[&str] = &["variant", "maximum_prebuild_cache_size_bytes"];
    let (payload, own): (&[&str], &[&str]) = match kind {
        "tcp" | "udp" => (PAYLOAD, &["addr"]),
        "unix_stream" | "unix_datagram" => (PAYLOAD, &["path", "block_cache_method"]),
        "http" => (&[], &["target_uri", "method", "headers"]),
        "grpc" => (PAYLOAD, &["target_uri", "block_cache_method"]),
        "trace_agent" => (PAYLOAD, &["target_uri", "backoff_behavior", "block_cache_method"]),
        _ => (PAYLOAD, &[]),
    };
    [own, payload, RATE].concat()
}

/// Finds the registered format a lading `variant` names and parses its config.
fn variant_config(registry: &Registry, variant: &Value, origin: &Path, g: &Gen<'_>) -> Result<FormatConfig> {
    // The variant's key path, e.g. `trace_agent.v0.4`: one key per level, down to the fields.
    let mut names = Vec::new();
    let mut level = variant;
    loop {
        match level {
            Value::String(s) => {
                names.push(s.as_str());
                break;
            }
            Value::Mapping(m) if m.len() == 1 && names.len() < 2 => {
                let Some((k, v)) = m.iter().next() else { break };
                names.push(k.as_str().unwrap_or("?"));
                level = v;
            }
            _ => break,
        }
    }
    if names.is_empty() {
        return Err(g.bad("variant", variant, "expected a mapping with one payload variant"));
    }
    let spec = registry
        .specs()
        .iter()
        .filter(|s| !s.lading_path().is_empty())
        .find(|s| s.lading_path().iter().zip(&names).all(|(a, b)| a == b) && names.len() >= s.lading_path().len())
        .ok_or_else(|| {
            let known: Vec<String> = registry
                .specs()
                .iter()
                .filter(|s| !s.lading_path().is_empty())
                .map(|s| s.lading_path().join("."))
                .collect();
            let known: Vec<&str> = known.iter().map(String::as_str).collect();
            g.bad_text(
                "variant",
                &format!("payload `{}` is not a payforge format; payforge sends {}", names.join("."), list(&known)),
            )
        })?;
    let key = spec.lading_path().join(".");
    let mut doc = serde_norway::Mapping::new();
    doc.insert(Value::from("variant"), variant.clone());
    let text = serde_norway::to_string(&Value::Mapping(doc)).map_err(|e| g.bad_text("variant", &e.to_string()))?;
    let origin: PathBuf = origin.to_path_buf();
    let config = spec.parse_config(&text, &origin).map_err(|e| match e {
        Error::ConfigFile { path, reason } => {
            Error::ConfigFile { path, reason: format!("{}: variant `{key}`: {reason}", g.who) }
        }
        other => other,
    })?;
    Ok(registry.bind(config))
}

/// One generator's mapping, with errors that name it.
struct Gen<'a> {
    who: &'a str,
    body: &'a serde_norway::Mapping,
    fail: &'a dyn Fn(String) -> Error,
}

impl Gen<'_> {
    fn get(&self, key: &str) -> Option<&Value> {
        self.body.get(key)
    }

    fn bad(&self, key: &str, value: &Value, reason: &str) -> Error {
        let shown = serde_norway::to_string(value).unwrap_or_default();
        (self.fail)(format!("{}: `{key}` = {}: {reason}", self.who, shown.trim()))
    }

    fn bad_text(&self, key: &str, reason: &str) -> Error {
        (self.fail)(format!("{}: `{key}` {reason}", self.who))
    }

    fn unsupported(&self, key: &str, allowed: &[&str]) -> Error {
        (self.fail)(format!(
            "{}: key `{key}` is not supported by payforge send (supported: {})",
            self.who,
            allowed.join(", ")
        ))
    }

    fn check_keys(&self, allowed: &[&str]) -> Result<()> {
        for key in self.body.keys() {
            let name = key.as_str().unwrap_or("?");
            if !allowed.contains(&name) {
                return Err(self.unsupported(name, allowed));
            }
        }
        Ok(())
    }

    fn size(&self, key: &str, value: &Value) -> Result<u64> {
        match parse_lading_size(value) {
            Ok(0) => Err(self.bad(key, value, "must not be zero")),
            Ok(n) => Ok(n),
            Err(reason) => Err(self.bad(key, value, &reason)),
        }
    }

    fn seed(&self) -> Result<u64> {
        let value = self.get("seed").ok_or_else(|| self.bad_text("seed", "is required (32 numbers 0..=255)"))?;
        let bytes: Option<Vec<u8>> = value
            .as_sequence()
            .map(|s| s.iter().map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok())).collect::<Option<Vec<u8>>>())
            .unwrap_or(None);
        match bytes.and_then(|b| <[u8; 32]>::try_from(b).ok()) {
            Some(seed) => Ok(fold_seed(&seed)),
            None => Err(self.bad("seed", value, "expected 32 numbers from 0 to 255")),
        }
    }

    fn throttle(&self) -> Result<Throttle> {
        let given: Vec<&str> = ["bytes_per_second", "blocks_per_second", "throttle"]
            .into_iter()
            .filter(|k| self.get(k).is_some())
            .collect();
        if given.len() > 1 {
            return Err(self.bad_text(given[1], &format!("conflicts with `{}`: give one of them", given[0])));
        }
        if let Some(v) = self.get("bytes_per_second") {
            return Ok(Throttle::Stable { bytes_per_second: self.size("bytes_per_second", v)? });
        }
        if let Some(v) = self.get("blocks_per_second") {
            let n = v
                .as_u64()
                .filter(|n| (1..=u64::from(u32::MAX)).contains(n))
                .ok_or_else(|| self.bad("blocks_per_second", v, "expected a count of blocks from 1 to 4294967295"))?;
            return Ok(Throttle::Blocks { per_second: n });
        }
        let Some(v) = self.get("throttle") else { return Ok(Throttle::AllOut) };
        if v.as_str() == Some("all_out") {
            return Ok(Throttle::AllOut);
        }
        let supported = "payforge send supports `all_out`, `{stable: {bytes_per_second: X}}` and `{linear: \
                         {initial_bytes_per_second: X, maximum_bytes_per_second: Y, rate_of_change: Z}}` throttles";
        let Some((name, body)) = v.as_mapping().filter(|m| m.len() == 1).and_then(|m| m.iter().next()) else {
            return Err(self.bad("throttle", v, supported));
        };
        let body = body.as_mapping().ok_or_else(|| self.bad("throttle", v, supported))?;
        let field = |key: &str, required: bool| -> Result<Option<u64>> {
            let path = format!("throttle.{}.{key}", name.as_str().unwrap_or("?"));
            match body.get(key) {
                Some(value) => match parse_lading_size(value) {
                    Ok(n) => Ok(Some(n)),
                    Err(reason) => Err(self.bad(&path, value, &reason)),
                },
                None if required => Err(self.bad_text(&path, "is required")),
                None => Ok(None),
            }
        };
        let check_keys = |allowed: &[&str]| -> Result<()> {
            for key in body.keys() {
                let key = key.as_str().unwrap_or("?");
                if !allowed.contains(&key) {
                    return Err(self.unsupported(&format!("throttle.{}.{key}", name.as_str().unwrap_or("?")), allowed));
                }
            }
            Ok(())
        };
        match name.as_str() {
            Some("stable") => {
                check_keys(&["bytes_per_second", "timeout_millis"])?;
                let rate = field("bytes_per_second", true)?.unwrap_or(0);
                if rate == 0 {
                    return Err(self.bad_text("throttle.stable.bytes_per_second", "must not be zero"));
                }
                Ok(Throttle::Stable { bytes_per_second: rate })
            }
            Some("linear") => {
                check_keys(&["initial_bytes_per_second", "maximum_bytes_per_second", "rate_of_change"])?;
                let initial = field("initial_bytes_per_second", true)?.unwrap_or(0);
                let maximum = field("maximum_bytes_per_second", true)?.unwrap_or(0);
                let change = field("rate_of_change", true)?.unwrap_or(0);
                Throttle::linear("throttle", initial, maximum, change)
                    .map_err(|e| self.bad("throttle", v, &e.to_string()))
            }
            _ => Err(self.bad("throttle", v, supported)),
        }
    }

    fn cache_method(&self, key: &str, v: &Value) -> Result<()> {
        if v.as_str() == Some("fixed") { Ok(()) } else { Err(self.bad(key, v, "only `fixed` is supported")) }
    }

    /// A gRPC `target_uri` that names a method must name the variant's.
    fn grpc_method(&self, config: &FormatConfig) -> Result<()> {
        let uri = self.get("target_uri").and_then(Value::as_str).unwrap_or("");
        let after = uri.split_once("://").map_or(uri, |(_, rest)| rest);
        let path = after.find('/').map_or("", |i| &after[i..]);
        let path = path.split('?').next().unwrap_or("");
        match config.delivery().grpc_method {
            None => Err(self.bad_text("variant", &format!("{} declares no gRPC method", config.name()))),
            Some(method) if path.is_empty() || path == "/" || path == method => Ok(()),
            Some(method) => {
                Err(self.bad_text("target_uri", &format!("names {path}, but {} is sent to {method}", config.name())))
            }
        }
    }

    fn target(&self, kind: &str) -> Result<Target> {
        let string = |key: &str| -> Result<&str> {
            let v = self.get(key).ok_or_else(|| self.bad_text(key, "is required"))?;
            v.as_str().ok_or_else(|| self.bad(key, v, "expected a string"))
        };
        let parse = |key: &str, url: String| -> Result<Target> {
            url.parse::<Target>().map_err(|e| self.bad_text(key, &e.to_string()))
        };
        match kind {
            "tcp" => parse("addr", format!("tcp://{}", string("addr")?)),
            "udp" => parse("addr", format!("udp://{}", string("addr")?)),
            "unix_stream" => Ok(Target::Unix { path: PathBuf::from(string("path")?) }),
            "unix_datagram" => Ok(Target::Unixgram { path: PathBuf::from(string("path")?) }),
            "http" => parse("target_uri", string("target_uri")?.to_string()),
            "grpc" => {
                let uri = string("target_uri")?;
                let authority = match uri.split_once("://") {
                    Some(("http", rest)) => rest.split(['/', '?']).next().unwrap_or(""),
                    _ => return Err(self.bad_text("target_uri", "expected http://host:port (gRPC without TLS)")),
                };
                parse("target_uri", format!("grpc://{authority}"))
            }
            _ => {
                // trace_agent: lading keeps the scheme and authority and sends to the variant's
                // path (/v0.4/traces, /v0.5/traces), which is the format's default HTTP path.
                let uri = string("target_uri")?;
                let (scheme, rest) = uri.split_once("://").unwrap_or(("", uri));
                let authority = rest.split(['/', '?']).next().unwrap_or("");
                parse("target_uri", format!("{scheme}://{authority}"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(s: &str) -> u64 {
        parse_lading_size(&Value::from(s)).unwrap()
    }

    #[test]
    fn sizes_read_like_lading() {
        assert_eq!(size("100 Mb"), 12_500_000);
        assert_eq!(size("1 MiB"), 1 << 20);
        assert_eq!(size("1Kb"), 125);
        assert_eq!(size("100MB"), 100_000_000);
        assert_eq!(size("8192"), 8192);
        assert_eq!(size("1 mib"), 131_072);
        assert_eq!(size("1.5 KiB"), 1536);
        assert_eq!(size("1 k"), 1000);
        assert_eq!(size("256 MiB"), 256 << 20);
        assert_eq!(parse_lading_size(&Value::from(65507u64)).unwrap(), 65507);
        // "1.2.3 Mb" ran at 467,875 B/s in release builds and panicked in debug ones (issue 19,
        // defect 9): every part of the number must be digits.
        for bad in ["", "MiB", "1 XB", "1.", "1 MiBs", "-1", "1.2.3 Mb", "1..2 KiB", "1.2.3"] {
            assert!(parse_lading_size(&Value::from(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn seeds_fold_big_endian() {
        let mut seed = [0u8; 32];
        seed[31] = 11;
        assert_eq!(fold_seed(&seed), 11);
        seed[30] = 1;
        assert_eq!(fold_seed(&seed), 256 + 11);
        let same = [7u8; 32];
        assert_eq!(fold_seed(&same), 0, "four equal words cancel");
    }
}
