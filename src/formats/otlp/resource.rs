//! Resources, instrumentation scopes and record attributes shared by the three OTLP formats,
//! pre-encoded at setup ([`super::pools`]).
//!
//! Resources carry what an OpenTelemetry SDK and the collector's resource detectors attach:
//! `service.*`, `host.*`, `os.type`, `telemetry.sdk.*`, `deployment.environment.name`, `cloud.*`,
//! `k8s.*`, `container.*` and `process.pid`, in that order; a resource with `n` attributes has the
//! first `n` (`service.name` always). Services and hosts come from pools of configurable size, so
//! their cardinality is a knob. Record attributes cover every `AnyValue` kind.

use crate::error::Result;
use crate::rng::BlockRng;
use crate::setup;

use crate::formats::vocabulary::{SERVICE_COMBOS, push_service_name};

use super::pools::{AttrTable, BytePool, SCRATCH_BYTES, Value, kv_fragment_len, put_kv_fragment};
use super::wire::{self, len_field, put_len_header};

const NAMESPACES: &[&str] = &["shop", "payments", "platform", "identity", "data"];
const VERSIONS: &[&str] = &["1.0.3", "1.4.0", "2.4.17", "2.5.0-rc1", "3.0.0", "3.1.2"];
const LANGUAGES: &[(&str, &str)] = &[
    ("go", "1.38.0"),
    ("java", "1.52.0"),
    ("python", "1.36.0"),
    ("nodejs", "2.1.0"),
    ("dotnet", "1.12.0"),
    ("rust", "0.30.0"),
];
const ENVIRONMENTS: &[&str] = &["production", "staging", "development", "canary"];
const CLOUDS: &[(&str, &[&str])] = &[
    ("aws", &["us-east-1", "us-west-2", "eu-west-1", "ap-northeast-1"]),
    ("gcp", &["us-central1", "europe-west4", "asia-east1"]),
    ("azure", &["eastus", "westeurope", "southeastasia"]),
];
const ARCHS: &[&str] = &["amd64", "arm64"];

/// Resource attribute keys in the order a resource takes them.
pub const RESOURCE_KEYS: &[&str] = &[
    "service.name",
    "service.namespace",
    "service.version",
    "service.instance.id",
    "host.name",
    "host.arch",
    "os.type",
    "telemetry.sdk.name",
    "telemetry.sdk.language",
    "telemetry.sdk.version",
    "deployment.environment.name",
    "cloud.provider",
    "cloud.region",
    "cloud.availability_zone",
    "cloud.account.id",
    "k8s.cluster.name",
    "k8s.namespace.name",
    "k8s.deployment.name",
    "k8s.pod.name",
    "k8s.pod.uid",
    "k8s.node.name",
    "container.id",
    "container.image.name",
    "process.pid",
];

/// Most bytes one resource attribute fragment takes (keys and values above, or a numbered
/// `resource.attr_N` with a 16-character value).
const RESOURCE_ATTR_BYTES: usize = 160;

/// The name of service `i`.
pub fn service_name(i: usize, out: &mut String) {
    push_service_name((i % SERVICE_COMBOS).wrapping_mul(37) % SERVICE_COMBOS, i / SERVICE_COMBOS, out);
}

/// Bytes [`build_resources`] reserves.
pub fn resources_bytes(count: u64, max_attrs: u64) -> u64 {
    BytePool::footprint(resources_text(count, max_attrs), count)
}

/// Arena bytes of [`build_resources`]'s pool.
fn resources_text(count: u64, max_attrs: u64) -> u64 {
    setup::mul(count, 8 + setup::mul(max_attrs, RESOURCE_ATTR_BYTES as u64))
}

/// What a resource is made of.
#[derive(Debug, Clone, Copy)]
pub struct ResourceShape {
    /// Distinct resources.
    pub count: u64,
    /// Attributes per resource, drawn per resource.
    pub attrs: crate::config::ConfRange,
    /// Distinct services the resources name.
    pub services: u64,
    /// Distinct hosts.
    pub hosts: u64,
}

/// `count` resources, each the complete field 1 of a `Resource*` message (key, length and
/// `Resource`).
///
/// # Errors
/// [`crate::Error::Allocation`] when setup memory is refused.
pub fn build_resources(rng: &mut BlockRng, shape: &ResourceShape, what: &'static str) -> Result<BytePool> {
    let bytes = resources_text(shape.count, shape.attrs.max()) as usize;
    let mut pool = BytePool::with_capacity(bytes, shape.count as usize, what)?;
    let mut scratch = setup::try_vec(SCRATCH_BYTES, what)?;
    let mut attrs: Vec<u8> = setup::try_vec(SCRATCH_BYTES, what)?;
    let mut text = setup::try_string(256, what)?;
    for _ in 0..shape.count {
        let n = shape.attrs.sample_usize(rng).max(1);
        let service = rng.index(shape.services as usize);
        let host = rng.index(shape.hosts as usize);
        attrs.clear();
        for i in 0..n {
            // The attribute fragments go in as field 1 of `Resource`.
            attrs.push(wire::key(1, wire::LEN));
            resource_attr(rng, i, service, host, &mut text, &mut attrs);
        }
        pool.push_built(&mut scratch, |out| {
            put_len_header(out, 1, attrs.len());
            out.extend_from_slice(&attrs);
        })?;
    }
    Ok(pool)
}

/// Appends resource attribute `i` as a fragment (`RESOURCE_KEYS[i]`, or `resource.attr_<i>`).
fn resource_attr(rng: &mut BlockRng, i: usize, service: usize, host: usize, text: &mut String, out: &mut Vec<u8>) {
    text.clear();
    let pick = |rng: &mut BlockRng, items: &[&'static str]| rng.pick(items).copied().unwrap_or("");
    let (lang, sdk) = LANGUAGES.get(service % LANGUAGES.len()).copied().unwrap_or(("go", "1.0.0"));
    let (cloud, regions) = CLOUDS.get(host % CLOUDS.len()).copied().unwrap_or(("aws", &["us-east-1"]));
    let region = regions.get(host % regions.len().max(1)).copied().unwrap_or("us-east-1");
    let key = RESOURCE_KEYS.get(i).copied();
    let value: Value<'_> = match key {
        Some("service.name") => {
            service_name(service, text);
            Value::Str(text)
        }
        Some("service.namespace") => Value::Str(NAMESPACES.get(service % NAMESPACES.len()).copied().unwrap_or("")),
        Some("service.version") => Value::Str(pick(rng, VERSIONS)),
        Some("service.instance.id") | Some("k8s.pod.uid") => {
            uuid(rng, text);
            Value::Str(text)
        }
        Some("host.name") | Some("k8s.node.name") => {
            text.push_str("ip-10-");
            text.push_str(itoa::Buffer::new().format(host / 65_536 % 256));
            text.push('-');
            text.push_str(itoa::Buffer::new().format(host / 256 % 256));
            text.push('-');
            text.push_str(itoa::Buffer::new().format(host % 256));
            text.push_str(".ec2.internal");
            Value::Str(text)
        }
        Some("host.arch") => Value::Str(ARCHS.get(host % 2).copied().unwrap_or("amd64")),
        Some("os.type") => Value::Str("linux"),
        Some("telemetry.sdk.name") => Value::Str("opentelemetry"),
        Some("telemetry.sdk.language") => Value::Str(lang),
        Some("telemetry.sdk.version") => Value::Str(sdk),
        Some("deployment.environment.name") => Value::Str(pick(rng, ENVIRONMENTS)),
        Some("cloud.provider") => Value::Str(cloud),
        Some("cloud.region") => Value::Str(region),
        Some("cloud.availability_zone") => {
            text.push_str(region);
            text.push(char::from(b'a' + (host % 3) as u8));
            Value::Str(text)
        }
        Some("cloud.account.id") => {
            crate::text::push_random_chars(text, rng, 12, b"0123456789");
            Value::Str(text)
        }
        Some("k8s.cluster.name") => {
            text.push_str(cloud);
            text.push_str("-prod-");
            text.push_str(region);
            Value::Str(text)
        }
        Some("k8s.namespace.name") => Value::Str(NAMESPACES.get(service % NAMESPACES.len()).copied().unwrap_or("")),
        Some("k8s.deployment.name") => {
            service_name(service, text);
            Value::Str(text)
        }
        Some("k8s.pod.name") => {
            service_name(service, text);
            text.push('-');
            super::pools::random_hex(rng, 10, text);
            text.push('-');
            super::pools::random_token(rng, 5, text);
            Value::Str(text)
        }
        Some("container.id") => {
            super::pools::random_hex(rng, 64, text);
            Value::Str(text)
        }
        Some("container.image.name") => {
            text.push_str("registry.example.com/");
            service_name(service, text);
            Value::Str(text)
        }
        Some("process.pid") => Value::Int(rng.inclusive(1, 65_535) as i64),
        _ => {
            super::pools::random_token(rng, 16, text);
            Value::Str(text)
        }
    };
    match key {
        Some(key) => put_kv_fragment(out, key, &value),
        None => {
            let mut name = String::with_capacity(24);
            name.push_str("resource.attr_");
            name.push_str(itoa::Buffer::new().format(i));
            put_kv_fragment(out, &name, &value);
        }
    }
}

/// A random UUID-shaped string.
fn uuid(rng: &mut BlockRng, text: &mut String) {
    for (i, len) in [8usize, 4, 4, 4, 12].into_iter().enumerate() {
        if i > 0 {
            text.push('-');
        }
        super::pools::random_hex(rng, len, text);
    }
}

/// Instrumentation scopes: library names as SDKs report them, with versions.
const SCOPE_NAMES: &[&str] = &[
    "io.opentelemetry.okhttp-3.0",
    "io.opentelemetry.jdbc",
    "io.opentelemetry.spring-webmvc-6.0",
    "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp",
    "go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc",
    "opentelemetry.instrumentation.flask",
    "opentelemetry.instrumentation.requests",
    "@opentelemetry/instrumentation-http",
    "@opentelemetry/instrumentation-pg",
    "OpenTelemetry.Instrumentation.AspNetCore",
    "app.logger",
    "app.metrics",
];

/// Most bytes of a scope's name, version and keys, without attributes.
const SCOPE_BYTES: usize = 128;

/// Bytes [`build_scopes`] reserves.
pub fn scopes_bytes(count: u64, max_attrs: u64) -> u64 {
    BytePool::footprint(scopes_text(count, max_attrs), count)
}

/// Arena bytes of [`build_scopes`]'s pool.
fn scopes_text(count: u64, max_attrs: u64) -> u64 {
    setup::mul(count, SCOPE_BYTES as u64 + setup::mul(max_attrs, 1 + ATTR_FRAGMENT_BYTES as u64))
}

/// `count` instrumentation scopes, each the complete field 1 of a `Scope*` message, with
/// `attrs` attributes from `table`.
///
/// # Errors
/// [`crate::Error::Allocation`] when setup memory is refused.
pub fn build_scopes(
    rng: &mut BlockRng,
    count: u64,
    attrs: &crate::config::ConfRange,
    table: &AttrTable,
    what: &'static str,
) -> Result<BytePool> {
    let mut pool = BytePool::with_capacity(scopes_text(count, attrs.max()) as usize, count as usize, what)?;
    let mut scratch = setup::try_vec(SCRATCH_BYTES, what)?;
    for i in 0..count as usize {
        let name = SCOPE_NAMES.get(i % SCOPE_NAMES.len()).copied().unwrap_or("app");
        let version = rng.pick(VERSIONS).copied().unwrap_or("1.0.0");
        let n = attrs.sample(rng) as u32;
        let set = table.draw(rng, n);
        let number = i / SCOPE_NAMES.len();
        pool.push_built(&mut scratch, |out| {
            let mut numbered = itoa::Buffer::new();
            let suffix = if number > 0 { numbered.format(number) } else { "" };
            let name_len = name.len() + if suffix.is_empty() { 0 } else { 1 + suffix.len() };
            let len = len_field(name_len) + len_field(version.len()) + table.set_len(&set);
            put_len_header(out, 1, len);
            put_len_header(out, 1, name_len);
            out.extend_from_slice(name.as_bytes());
            if !suffix.is_empty() {
                out.push(b'.');
                out.extend_from_slice(suffix.as_bytes());
            }
            wire::put_bytes(out, 2, version.as_bytes());
            table.put_set(out, 3, &set);
        })?;
    }
    Ok(pool)
}

/// Record attribute keys with the kind of value each takes: every `AnyValue` kind appears.
const RECORD_KEYS: &[&str] = &[
    "http.request.method",
    "http.response.status_code",
    "url.path",
    "user.id",
    "session.id",
    "code.function.name",
    "code.line.number",
    "thread.id",
    "thread.name",
    "exception.type",
    "retry",
    "duration_ms",
    "db.response.returned_rows",
    "tags",
    "shard.ids",
    "http.request.header",
    "payload.digest",
    "enduser.role",
    "feature_flag.enabled",
    "messaging.batch.message_count",
    "cache.hit_ratio",
    "client.address",
    "server.port",
    "network.protocol.version",
];

/// Most bytes of one record attribute fragment.
pub const ATTR_FRAGMENT_BYTES: usize = 256;

/// Bytes [`build_record_attrs`] reserves.
pub fn record_attrs_bytes(max_attrs: u64, variants: u64) -> u64 {
    let (fragments, text) = record_attrs_text(max_attrs, variants);
    BytePool::footprint(text, fragments)
}

/// Fragments of [`build_record_attrs`]'s table, and their arena bytes.
fn record_attrs_text(max_attrs: u64, variants: u64) -> (u64, u64) {
    let fragments = setup::mul(max_attrs.max(RECORD_KEYS.len() as u64), variants);
    (fragments, setup::mul(fragments, ATTR_FRAGMENT_BYTES as u64))
}

/// The record attribute table: the built-in keys (and numbered `app.attr_N` keys when more
/// attributes per record are asked for), each with `variants` values.
///
/// # Errors
/// [`crate::Error::Allocation`] when setup memory is refused.
pub fn build_record_attrs(rng: &mut BlockRng, max_attrs: u64, variants: u64, what: &'static str) -> Result<AttrTable> {
    let keys = max_attrs.max(RECORD_KEYS.len() as u64) as u32;
    let (_, bytes) = record_attrs_text(max_attrs, variants);
    AttrTable::build(keys, variants as u32, bytes as usize, rng, what, |k, _, rng, out| {
        record_attr(rng, k as usize, out)
    })
}

fn record_attr(rng: &mut BlockRng, k: usize, out: &mut Vec<u8>) {
    const METHODS: &[&str] = &["GET", "POST", "PUT", "DELETE", "PATCH"];
    const PATHS: &[&str] = &["/api/v1/orders", "/api/v1/cart", "/healthz", "/api/v2/users/{id}", "/checkout"];
    const FUNCTIONS: &[&str] = &["OrderService.process", "handle_request", "CartController.add", "main.worker"];
    const THREADS: &[&str] = &["main", "worker-1", "http-nio-8080-exec-3", "pool-2-thread-7"];
    const EXCEPTIONS: &[&str] = &["java.net.SocketTimeoutException", "ValueError", "context.DeadlineExceeded"];
    const ROLES: &[&str] = &["admin", "customer", "guest", "service"];
    const TAGS: &[&str] = &["beta", "mobile", "eu", "premium", "retry", "canary"];
    const HEADER_VALUES: &[&str] = &["application/json", "gzip", "no-cache", "Mozilla/5.0", "en-US"];
    let mut text = String::with_capacity(40);
    let key = RECORD_KEYS.get(k).copied();
    let pick = |rng: &mut BlockRng, items: &[&'static str]| rng.pick(items).copied().unwrap_or("");
    let tags: [&str; 3];
    let ints: [i64; 3];
    let header: [(&str, &str); 2];
    let digest: [u8; 16];
    let value = match key {
        Some("http.request.method") => Value::Str(pick(rng, METHODS)),
        Some("http.response.status_code") => {
            Value::Int(*rng.pick(&[200i64, 201, 204, 301, 400, 404, 429, 500, 503]).unwrap_or(&200))
        }
        Some("url.path") => Value::Str(pick(rng, PATHS)),
        Some("user.id") => {
            super::pools::random_token(rng, 12, &mut text);
            Value::Str(&text)
        }
        Some("session.id") => {
            super::pools::random_hex(rng, 32, &mut text);
            Value::Str(&text)
        }
        Some("code.function.name") => Value::Str(pick(rng, FUNCTIONS)),
        Some("code.line.number") => Value::Int(rng.inclusive(1, 2_000) as i64),
        Some("thread.id") => Value::Int(rng.inclusive(1, 512) as i64),
        Some("thread.name") => Value::Str(pick(rng, THREADS)),
        Some("exception.type") => Value::Str(pick(rng, EXCEPTIONS)),
        Some("retry") | Some("feature_flag.enabled") => Value::Bool(rng.chance(0.5)),
        Some("duration_ms") => Value::Double((rng.unit_f64() * 2_000.0 * 1000.0).round() / 1000.0),
        Some("db.response.returned_rows") | Some("messaging.batch.message_count") => {
            Value::Int(rng.inclusive(0, 10_000) as i64)
        }
        Some("tags") => {
            tags = [pick(rng, TAGS), pick(rng, TAGS), pick(rng, TAGS)];
            Value::StrArray(&tags[..1 + rng.index(3)])
        }
        Some("shard.ids") => {
            ints = [rng.below(64) as i64, rng.below(64) as i64, -(rng.below(4) as i64)];
            Value::IntArray(&ints[..1 + rng.index(3)])
        }
        Some("http.request.header") => {
            header = [("content-type", pick(rng, HEADER_VALUES)), ("accept-encoding", pick(rng, HEADER_VALUES))];
            Value::KvList(&header)
        }
        Some("payload.digest") => {
            digest = std::array::from_fn(|_| rng.below(256) as u8);
            Value::Bytes(&digest)
        }
        Some("enduser.role") => Value::Str(pick(rng, ROLES)),
        Some("cache.hit_ratio") => Value::Double(rng.unit_f64()),
        Some("client.address") => {
            text.push_str("10.");
            for i in 0..3 {
                if i > 0 {
                    text.push('.');
                }
                text.push_str(itoa::Buffer::new().format(rng.below(256)));
            }
            Value::Str(&text)
        }
        Some("server.port") => Value::Int(*rng.pick(&[80i64, 443, 8080, 9090, 5432]).unwrap_or(&443)),
        Some("network.protocol.version") => Value::Str(pick(rng, &["1.1", "2", "3"])),
        _ => {
            super::pools::random_token(rng, 16, &mut text);
            Value::Str(&text)
        }
    };
    match key {
        Some(key) => put_kv_fragment(out, key, &value),
        None => {
            let mut name = String::with_capacity(24);
            name.push_str("app.attr_");
            name.push_str(itoa::Buffer::new().format(k));
            debug_assert!(kv_fragment_len(&name, &value) <= ATTR_FRAGMENT_BYTES);
            put_kv_fragment(out, &name, &value);
        }
    }
}
