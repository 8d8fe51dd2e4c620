//! Datadog JSON logs: one JSON array of log entries per block, as the logs intake takes them.
//!
//! Each entry is an object with `message`, `status`, `timestamp` (int64 milliseconds since the
//! Unix epoch), `hostname`, `service`, `ddsource` and `ddtags` (comma-separated `key:value` tags),
//! in that order. The message is either plain text or, with a configurable probability, a JSON
//! object serialized as a JSON string (`"{\"level\":\"info\",...}"`), as applications that log
//! JSON produce it.
//!
//! Every piece of text is built once at setup: message phrases are stored escaped twice (once
//! for a plain message, twice for the `msg` of an embedded object), tag sets are joined per set,
//! and sources are escaped once. Encoding a member is then mostly `memcpy` plus a few integers,
//! and members are plain handles and numbers, so generating one never allocates.
//!
//! The intake limits: at most 1000 entries and 5 MB per array (and 1 MB per entry). The entry
//! cap is [`Config::max_entries_per_array`], enforced through [`Format::max_members`]; the 5 MB
//! limit is the caller's budget choice (any block size up to 5 MB complies), and a default entry
//! is around 1.2 KB.

use serde::{Deserialize, Serialize};

use crate::config::{ConfRange, validate_count, validate_non_empty, validate_probability, validate_weights};
use crate::delivery::Delivery;
use crate::error::{Error, Result};
use crate::format::{Configured, Format};
use crate::framing::Framing;
use crate::rng::BlockRng;
use crate::setup::{self, SetupMemory, key, list_key};
use crate::text::{StrPool, push_json_escaped, push_u64};

use super::vocabulary::{LOG_WORDS as WORDS, SERVICE_COMBOS, SERVICE_NAME_BYTES, push_service_name};

/// The logs intake's limit of entries per array.
pub const INTAKE_MAX_ENTRIES: u64 = 1000;

/// Latest timestamp accepted: 9999-12-31T23:59:59.999Z.
const MAX_TIMESTAMP_MS: u64 = 253_402_300_799_999;

/// Configuration of the `datadog-logs` format.
///
/// The defaults model a containerized service: the agent attaches host, cloud and Kubernetes tags
/// to every entry, so `ddtags` carries 12 to 32 tags. Entries average about 1.2 KB, which lets
/// the intake's 1000-entry cap still fill 1 MiB blocks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Most entries in one array, `1..=1000` (the intake rejects larger arrays, so there is no
    /// uncapped setting).
    pub max_entries_per_array: u64,
    /// Timestamps, in milliseconds since the Unix epoch (default: all of 2024 and 2025).
    pub timestamp_ms: ConfRange,
    /// Probability that a message is an embedded JSON object rather than plain text.
    pub structured_message_probability: f64,
    /// Distinct message phrases in the pool (1..=100000).
    pub messages: u64,
    /// Words per message phrase (1..=256).
    pub message_words: ConfRange,
    /// Distinct hostnames (1..=100000).
    pub hostnames: u64,
    /// Distinct services (1..=100000); each service logs with one source from `ddsources`.
    pub services: u64,
    /// The `ddsource` values services are assigned from (non-empty strings).
    pub ddsources: Vec<String>,
    /// Distinct pre-joined tag sets (1..=100000).
    pub tag_sets: u64,
    /// Tags per tag set (1..=32), each with a distinct key.
    pub tags_per_entry: ConfRange,
    /// Relative weights of the `status` values.
    pub status_weights: StatusWeights,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_entries_per_array: INTAKE_MAX_ENTRIES,
            timestamp_ms: ConfRange::inclusive(1_704_067_200_000, 1_767_225_599_999),
            structured_message_probability: 0.5,
            messages: 1024,
            message_words: ConfRange::inclusive(6, 48),
            hostnames: 64,
            services: 24,
            ddsources: ["nginx", "java", "python", "go", "nodejs", "ruby", "postgresql", "redis", "kafka", "envoy"]
                .map(String::from)
                .to_vec(),
            tag_sets: 256,
            tags_per_entry: ConfRange::inclusive(12, 32),
            status_weights: StatusWeights::default(),
        }
    }
}

/// Relative weights of the statuses the intake recognizes (need not sum to 1; at least one must
/// be positive).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StatusWeights {
    /// Weight of `emergency`.
    pub emergency: f64,
    /// Weight of `alert`.
    pub alert: f64,
    /// Weight of `critical`.
    pub critical: f64,
    /// Weight of `error`.
    pub error: f64,
    /// Weight of `warning`.
    pub warning: f64,
    /// Weight of `notice`.
    pub notice: f64,
    /// Weight of `info`.
    pub info: f64,
    /// Weight of `debug`.
    pub debug: f64,
}

impl Default for StatusWeights {
    fn default() -> Self {
        Self {
            emergency: 0.0,
            alert: 0.0,
            critical: 0.5,
            error: 5.0,
            warning: 10.0,
            notice: 4.5,
            info: 70.0,
            debug: 10.0,
        }
    }
}

/// Status names, in the order of [`StatusWeights::as_array`].
const STATUSES: [&str; 8] = ["emergency", "alert", "critical", "error", "warning", "notice", "info", "debug"];

impl StatusWeights {
    fn as_array(&self) -> [f64; 8] {
        [self.emergency, self.alert, self.critical, self.error, self.warning, self.notice, self.info, self.debug]
    }
}

/// A weighted choice among the statuses: cumulative thresholds over 53-bit draws.
#[derive(Debug, Clone, Copy)]
struct StatusTable {
    thresholds: [u64; 8],
}

impl StatusTable {
    const ONE: u64 = 1 << 53;

    /// Builds the table from validated weights (finite, not negative, not all zero).
    fn new(weights: [f64; 8]) -> Self {
        let total: f64 = weights.iter().sum();
        let last_positive = weights.iter().rposition(|w| *w > 0.0).unwrap_or(0);
        let mut thresholds = [Self::ONE; 8];
        let mut cumulative = 0.0;
        // Entries after the last positive weight keep `ONE` but are never reached; a zero weight
        // repeats the previous threshold, so its entry is never chosen either.
        for (slot, w) in thresholds.iter_mut().zip(weights).take(last_positive) {
            cumulative += w;
            *slot = ((cumulative / total) * Self::ONE as f64) as u64;
        }
        Self { thresholds }
    }

    #[inline]
    fn sample(&self, rng: &mut BlockRng) -> u8 {
        let draw = rng.next_u64() >> 11;
        self.thresholds.iter().position(|&t| draw < t).unwrap_or(0) as u8
    }
}

/// How a tag's value is made.
#[derive(Debug, Clone, Copy)]
enum TagValue {
    /// One of these.
    Choice(&'static [&'static str]),
    /// Random `[a-z0-9-]` text of a length in `min..=max`.
    Random(usize, usize),
    /// Random lower-case hex of this length.
    Hex(usize),
}

/// Tag keys the agent attaches in a containerized environment, with their value shapes.
const TAG_KEYS: [(&str, TagValue); 32] = [
    ("env", TagValue::Choice(&["prod", "staging", "dev"])),
    ("version", TagValue::Choice(&["1.0.3", "1.1.0", "2.4.17", "2.5.0-rc1", "3.0.0"])),
    ("region", TagValue::Choice(&["us-east-1", "us-west-2", "eu-west-1", "ap-northeast-1"])),
    ("availability-zone", TagValue::Choice(&["us-east-1a", "us-east-1b", "eu-west-1c", "ap-northeast-1d"])),
    ("cloud_provider", TagValue::Choice(&["aws", "gcp", "azure"])),
    ("instance-type", TagValue::Choice(&["m5.xlarge", "c6i.2xlarge", "r6g.large", "t3.medium"])),
    ("kube_cluster_name", TagValue::Random(6, 20)),
    ("kube_namespace", TagValue::Random(4, 20)),
    ("kube_deployment", TagValue::Random(6, 28)),
    ("kube_replica_set", TagValue::Random(12, 36)),
    ("kube_ownerref_kind", TagValue::Choice(&["replicaset", "statefulset", "daemonset", "job"])),
    ("kube_ownerref_name", TagValue::Random(12, 36)),
    ("kube_service", TagValue::Random(4, 24)),
    ("kube_container_name", TagValue::Random(4, 24)),
    ("kube_node", TagValue::Random(12, 40)),
    ("kube_qos", TagValue::Choice(&["burstable", "guaranteed", "besteffort"])),
    ("pod_name", TagValue::Random(16, 48)),
    ("pod_phase", TagValue::Choice(&["running", "pending", "succeeded"])),
    ("container_name", TagValue::Random(4, 24)),
    ("container_id", TagValue::Hex(64)),
    ("display_container_name", TagValue::Random(16, 56)),
    ("image_name", TagValue::Random(8, 48)),
    ("short_image", TagValue::Random(4, 24)),
    ("image_tag", TagValue::Random(5, 40)),
    ("docker_image", TagValue::Random(16, 64)),
    ("git.commit.sha", TagValue::Hex(40)),
    ("team", TagValue::Random(3, 16)),
    ("tier", TagValue::Choice(&["frontend", "backend", "data"])),
    ("datacenter", TagValue::Random(4, 12)),
    ("orch_cluster_id", TagValue::Hex(32)),
    ("app", TagValue::Random(4, 24)),
    ("source_type", TagValue::Choice(&["kubernetes", "docker", "file"])),
];

/// Characters of random tag values and hostnames.
const TAG_CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789-";

/// One log entry, as handles and numbers.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    timestamp_ms: u64,
    request_id: u64,
    span_id: u64,
    message: u32,
    hostname: u32,
    service: u32,
    ddsource: u32,
    tags: u32,
    duration_ms: u32,
    status: u8,
    structured: bool,
}

/// The `datadog-logs` format.
#[derive(Debug)]
pub struct DatadogLogs {
    max_entries: usize,
    timestamp_ms: ConfRange,
    structured_probability: f64,
    statuses: StatusTable,
    /// Phrases escaped once, for plain messages.
    plain: StrPool,
    /// The same phrases escaped twice, for the `msg` string of an embedded object.
    nested: StrPool,
    hostnames: StrPool,
    /// Safe to embed at any nesting depth (letters and `-`).
    services: StrPool,
    /// The source of each service (handle into `ddsources`).
    service_source: Vec<u32>,
    /// Escaped once.
    ddsources: StrPool,
    /// Pre-joined `key:value,key:value` sets.
    tag_sets: StrPool,
    min_member_len: usize,
}

fn random_text(rng: &mut BlockRng, len: usize, charset: &[u8], out: &mut String) {
    for _ in 0..len {
        out.push(char::from(charset.get(rng.index(charset.len())).copied().unwrap_or(b'x')));
    }
}

/// One tag set: `tags` distinct keys in random order, joined as `key:value,...`.
fn tag_set(rng: &mut BlockRng, tags: usize, out: &mut String) {
    let mut order: [u8; TAG_KEYS.len()] = std::array::from_fn(|i| i as u8);
    for i in 0..tags.min(order.len()) {
        let j = i + rng.index(order.len() - i);
        order.swap(i, j);
        let (key, value) = TAG_KEYS[usize::from(order[i])];
        if i > 0 {
            out.push(',');
        }
        out.push_str(key);
        out.push(':');
        match value {
            TagValue::Choice(values) => out.push_str(rng.pick(values).copied().unwrap_or("none")),
            TagValue::Random(min, max) => {
                let len = rng.inclusive(min as u64, max as u64) as usize;
                random_text(rng, len, TAG_CHARS, out);
            }
            TagValue::Hex(len) => random_text(rng, len, b"0123456789abcdef", out),
        }
    }
}

impl Configured for DatadogLogs {
    type Config = Config;
    const NAME: &'static str = "datadog-logs";
    const ABOUT: &'static str = "Datadog JSON logs: a JSON array of log records per block";
    const LADING_PATH: &'static [&'static str] = &["datadog_log"];
    const DELIVERY: Delivery = Delivery::new().with_http_path("/api/v2/logs").with_content_type("application/json");

    fn from_config(c: &Config, seed: u64) -> Result<Self> {
        c.validate()?;
        let sizes = Sizes::of(c);
        let mut rng = BlockRng::for_setup(seed);
        let messages = c.messages as usize;
        let mut plain = StrPool::with_capacity(0, messages, sizes.plain_pool(c), "datadog-logs message phrases")?;
        let mut nested = StrPool::with_capacity(0, messages, sizes.nested_pool(c), "datadog-logs message phrases")?;
        // Every working buffer is reserved at its largest size once, so none grows.
        let mut phrase = setup::try_string(sizes.phrase, "datadog-logs setup buffers")?;
        let mut once: Vec<u8> = setup::try_vec(sizes.once.max(sizes.ddsource), "datadog-logs setup buffers")?;
        let mut twice: Vec<u8> = setup::try_vec(sizes.twice, "datadog-logs setup buffers")?;
        // Escaping preserves UTF-8, so the buffers below always hold valid text.
        for _ in 0..c.messages {
            phrase.clear();
            for w in 0..c.message_words.sample(&mut rng) {
                if w > 0 {
                    phrase.push(' ');
                }
                phrase.push_str(rng.pick(WORDS).copied().unwrap_or("ok"));
            }
            once.clear();
            push_json_escaped(&mut once, &phrase);
            let once = std::str::from_utf8(&once).unwrap_or_default();
            twice.clear();
            push_json_escaped(&mut twice, once);
            nested.push(std::str::from_utf8(&twice).unwrap_or_default())?;
            plain.push(once)?;
        }
        drop((phrase, twice));
        let hostname_count = c.hostnames as usize;
        let mut hostnames = StrPool::with_capacity(
            0,
            hostname_count,
            hostname_count.saturating_mul(HOSTNAME_LEN),
            "datadog-logs hostnames",
        )?;
        let service_count = c.services as usize;
        let mut services = StrPool::with_capacity(
            0,
            service_count,
            service_count.saturating_mul(sizes.service),
            "datadog-logs services",
        )?;
        let mut service_source = setup::try_vec(service_count, "datadog-logs services")?;
        let mut text = setup::try_string(sizes.text(), "datadog-logs setup buffers")?;
        for _ in 0..c.hostnames {
            text.clear();
            text.push_str("ip-10-");
            for octet in 0..3 {
                if octet > 0 {
                    text.push('-');
                }
                text.push_str(itoa::Buffer::new().format(rng.below(256)));
            }
            hostnames.push(&text)?;
        }
        // Distinct names: a shuffled list of `<domain>-<role>`, numbered once it runs out.
        let mut order: Vec<usize> = setup::try_vec(SERVICE_COMBOS, "datadog-logs services")?;
        order.extend(0..SERVICE_COMBOS);
        for i in 0..SERVICE_COMBOS {
            order.swap(i, i + rng.index(SERVICE_COMBOS - i));
        }
        for i in 0..service_count {
            let combo = order.get(i % SERVICE_COMBOS).copied().unwrap_or(0);
            text.clear();
            push_service_name(combo, i / SERVICE_COMBOS, &mut text);
            services.push(&text)?;
            service_source.push(rng.index(c.ddsources.len()) as u32);
        }
        drop(order);
        let mut ddsources =
            StrPool::with_capacity(0, c.ddsources.len(), sizes.ddsources_pool(c), "datadog-logs ddsources")?;
        for source in &c.ddsources {
            once.clear();
            push_json_escaped(&mut once, source);
            ddsources.push(std::str::from_utf8(&once).unwrap_or_default())?;
        }
        drop(once);
        let tag_set_count = c.tag_sets as usize;
        let mut tag_sets = StrPool::with_capacity(
            0,
            tag_set_count,
            tag_set_count.saturating_mul(sizes.tag_set),
            "datadog-logs tag sets",
        )?;
        for _ in 0..c.tag_sets {
            text.clear();
            let tags = c.tags_per_entry.sample_usize(&mut rng);
            tag_set(&mut rng, tags, &mut text);
            tag_sets.push(&text)?;
        }
        drop(text);
        let mut format = Self {
            max_entries: c.max_entries_per_array as usize,
            timestamp_ms: c.timestamp_ms,
            structured_probability: c.structured_message_probability,
            statuses: StatusTable::new(weights(c)),
            plain,
            nested,
            hostnames,
            services,
            service_source,
            ddsources,
            tag_sets,
            min_member_len: 0,
        };
        format.min_member_len = format.shortest_encoding(sizes.entry)?;
        Ok(format)
    }

    fn estimate_setup(c: &Config, m: &mut SetupMemory) -> Result<()> {
        c.validate()?;
        let sizes = Sizes::of(c);
        let phrases =
            || vec![key("datadog_logs.messages", c.messages), key("datadog_logs.message_words", c.message_words)];
        let offsets = |n: u64| setup::array_of::<u32>(n);
        let buffers = sizes.phrase + sizes.once.max(sizes.ddsource) + sizes.twice;
        m.add_arena("message phrases", sizes.plain_pool(c) as u64 + offsets(c.messages), phrases)?;
        m.add_arena("message phrases", sizes.nested_pool(c) as u64 + offsets(c.messages), phrases)?;
        m.add("setup buffers", (buffers + sizes.text()) as u64 + 2 * sizes.entry as u64, Vec::new);
        m.add("hostnames", setup::mul(c.hostnames, HOSTNAME_LEN as u64) + offsets(c.hostnames), || {
            vec![key("datadog_logs.hostnames", c.hostnames)]
        });
        m.add(
            "services",
            setup::mul(c.services, sizes.service as u64)
                + 2 * offsets(c.services)
                + setup::array_of::<usize>(SERVICE_COMBOS as u64),
            || vec![key("datadog_logs.services", c.services)],
        );
        m.add("ddsources", sizes.ddsources_pool(c) as u64 + offsets(c.ddsources.len() as u64), || {
            vec![list_key("datadog_logs.ddsources", &c.ddsources)]
        });
        m.add_arena("tag sets", setup::mul(c.tag_sets, sizes.tag_set as u64) + offsets(c.tag_sets), || {
            vec![key("datadog_logs.tag_sets", c.tag_sets), key("datadog_logs.tags_per_entry", c.tags_per_entry)]
        })?;
        Ok(())
    }
}

/// `ip-10-255-255-255`: the longest hostname.
const HOSTNAME_LEN: usize = 17;

/// The status weights in table order.
fn weights(c: &Config) -> [f64; 8] {
    c.status_weights.as_array()
}

/// JSON-escaped length of `s`, without building it.
fn escaped_len(s: &str) -> usize {
    s.bytes()
        .map(|b| match b {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' => 2,
            0x00..=0x1f => 6,
            _ => 1,
        })
        .sum()
}

/// Length of `s` JSON-escaped twice (escaped, then the escaped text escaped again), without
/// building it: `"` becomes `\\\"`, a newline `\\n`, another control character `\\u00XX`.
fn escaped_twice_len(s: &str) -> usize {
    s.bytes()
        .map(|b| match b {
            b'"' | b'\\' => 4,
            b'\n' | b'\r' | b'\t' => 3,
            0x00..=0x1f => 7,
            _ => 1,
        })
        .sum()
}

/// Longest strings setup can build for a config: what every pool and buffer is bounded by.
#[derive(Debug, Clone, Copy)]
struct Sizes {
    /// A phrase as drawn, escaped once and escaped twice.
    phrase: usize,
    once: usize,
    twice: usize,
    /// A service name.
    service: usize,
    /// An escaped ddsource.
    ddsource: usize,
    /// A joined tag set.
    tag_set: usize,
    /// An encoded entry.
    entry: usize,
}

impl Sizes {
    fn of(c: &Config) -> Self {
        let words = c.message_words.max() as usize;
        let longest = |f: fn(&str) -> usize| WORDS.iter().map(|w| f(w)).max().unwrap_or(0);
        let once_word = longest(escaped_len);
        let twice_word = longest(escaped_twice_len);
        // A word and the space after it.
        let phrase = words.saturating_mul(longest(str::len) + 1);
        let once = words.saturating_mul(once_word + 1);
        let twice = words.saturating_mul(twice_word + 1);
        let max_len = |items: &[&str]| items.iter().map(|s| s.len()).max().unwrap_or(0);
        let number = itoa::Buffer::new().format(c.services / SERVICE_COMBOS as u64).len();
        let service = SERVICE_NAME_BYTES + 1 + number;
        let ddsource = c.ddsources.iter().map(|s| escaped_len(s)).max().unwrap_or(0);
        let tag_len = |(key, value): &(&str, TagValue)| {
            let value = match *value {
                TagValue::Choice(values) => max_len(values),
                TagValue::Random(_, max) | TagValue::Hex(max) => max,
            };
            key.len() + 1 + value + 1
        };
        let mut tags: [usize; TAG_KEYS.len()] = std::array::from_fn(|i| TAG_KEYS.get(i).map_or(0, tag_len));
        tags.sort_unstable_by(|a, b| b.cmp(a));
        let tag_set = tags.iter().take(c.tags_per_entry.max() as usize).sum();
        // Keys, quotes and numbers of an entry are under 400 bytes.
        let entry = 400 + once + twice + HOSTNAME_LEN + 2 * service + ddsource + tag_set;
        Sizes { phrase, once, twice, service, ddsource, tag_set, entry }
    }

    fn plain_pool(&self, c: &Config) -> usize {
        (c.messages as usize).saturating_mul(self.once)
    }

    fn nested_pool(&self, c: &Config) -> usize {
        (c.messages as usize).saturating_mul(self.twice)
    }

    fn ddsources_pool(&self, c: &Config) -> usize {
        c.ddsources.iter().map(|s| escaped_len(s)).sum()
    }

    /// The buffer hostnames, services and tag sets are built in.
    fn text(&self) -> usize {
        HOSTNAME_LEN.max(self.service).max(self.tag_set)
    }
}

impl Config {
    /// Checks every field, naming the first invalid one (`datadog_logs.<key>`) and its value.
    ///
    /// # Errors
    /// [`Error::Config`] for the first invalid field.
    pub fn validate(&self) -> Result<()> {
        let c = self;
        validate_count("datadog_logs.max_entries_per_array", c.max_entries_per_array, INTAKE_MAX_ENTRIES)?;
        c.timestamp_ms.validate("datadog_logs.timestamp_ms", 0..=MAX_TIMESTAMP_MS)?;
        validate_probability("datadog_logs.structured_message_probability", c.structured_message_probability)?;
        validate_count("datadog_logs.messages", c.messages, 100_000)?;
        c.message_words.validate("datadog_logs.message_words", 1..=256)?;
        validate_count("datadog_logs.hostnames", c.hostnames, 100_000)?;
        validate_count("datadog_logs.services", c.services, 100_000)?;
        validate_non_empty("datadog_logs.ddsources", &c.ddsources)?;
        if let Some(i) = c.ddsources.iter().position(String::is_empty) {
            return Err(Error::config(format!("datadog_logs.ddsources[{i}]"), "\"\"", "must not be empty"));
        }
        validate_count("datadog_logs.tag_sets", c.tag_sets, 100_000)?;
        c.tags_per_entry.validate("datadog_logs.tags_per_entry", 1..=TAG_KEYS.len() as u64)?;
        validate_weights("datadog_logs.status_weights", &weights(c))?;
        Ok(())
    }
}

/// The handle of the shortest string in `pool`.
fn shortest(pool: &StrPool) -> u32 {
    (0..pool.len() as u32).min_by_key(|&h| pool.get(h).len()).unwrap_or(0)
}

impl DatadogLogs {
    /// The length of the shortest entry this config can produce: the encoding of an entry made
    /// of the shortest text of every pool (plain and nested phrases measured separately), the
    /// earliest timestamp and one-digit numbers.
    fn shortest_encoding(&self, longest_entry: usize) -> Result<usize> {
        let status = (0..STATUSES.len()).min_by_key(|&i| STATUSES.get(i).map_or(0, |s| s.len())).unwrap_or(0) as u8;
        let entry = |structured: bool, message: u32| Entry {
            timestamp_ms: self.timestamp_ms.min(),
            request_id: 0,
            span_id: 0,
            message,
            hostname: shortest(&self.hostnames),
            service: shortest(&self.services),
            ddsource: shortest(&self.ddsources),
            tags: shortest(&self.tag_sets),
            duration_ms: 0,
            status,
            structured,
        };
        let mut out = setup::try_vec(longest_entry, "datadog-logs setup buffers")?;
        let mut len = usize::MAX;
        for e in [entry(false, shortest(&self.plain)), entry(true, shortest(&self.nested))] {
            out.clear();
            self.encode(&e, &mut out);
            len = len.min(out.len());
        }
        Ok(len)
    }
}

impl Format for DatadogLogs {
    type Member = Entry;

    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn framing(&self) -> Framing {
        Framing::JsonArray
    }

    fn max_members(&self) -> usize {
        self.max_entries
    }

    fn min_member_len(&self) -> usize {
        self.min_member_len
    }

    fn generate(&self, rng: &mut BlockRng) -> Entry {
        let structured = rng.chance(self.structured_probability);
        let service = self.services.pick(rng);
        Entry {
            timestamp_ms: self.timestamp_ms.sample(rng),
            request_id: rng.next_u64(),
            span_id: rng.next_u64(),
            message: self.plain.pick(rng),
            hostname: self.hostnames.pick(rng),
            service,
            ddsource: self.service_source.get(service as usize).copied().unwrap_or(0),
            tags: self.tag_sets.pick(rng),
            duration_ms: rng.below(30_000) as u32,
            status: self.statuses.sample(rng),
            structured,
        }
    }

    fn encode(&self, m: &Entry, out: &mut Vec<u8>) {
        let status = STATUSES.get(usize::from(m.status)).copied().unwrap_or("info").as_bytes();
        let service = self.services.get(m.service).as_bytes();
        out.extend_from_slice(br#"{"message":""#);
        if m.structured {
            // Service names and statuses need no escaping at any depth; phrases are pre-escaped
            // twice, so this is the embedded object's JSON text escaped once.
            out.extend_from_slice(br#"{\"level\":\""#);
            out.extend_from_slice(status);
            out.extend_from_slice(br#"\",\"logger\":\""#);
            out.extend_from_slice(service);
            out.extend_from_slice(br#"\",\"msg\":\""#);
            out.extend_from_slice(self.nested.get(m.message).as_bytes());
            out.extend_from_slice(br#"\",\"duration_ms\":"#);
            push_u64(out, u64::from(m.duration_ms));
            out.extend_from_slice(br#",\"dd\":{\"trace_id\":\""#);
            push_u64(out, m.request_id);
            out.extend_from_slice(br#"\",\"span_id\":\""#);
            push_u64(out, m.span_id);
            out.extend_from_slice(br#"\"}}"#);
        } else {
            out.extend_from_slice(self.plain.get(m.message).as_bytes());
            out.extend_from_slice(b" request_id=");
            push_u64(out, m.request_id);
            out.extend_from_slice(b" duration_ms=");
            push_u64(out, u64::from(m.duration_ms));
        }
        out.extend_from_slice(br#"","status":""#);
        out.extend_from_slice(status);
        out.extend_from_slice(br#"","timestamp":"#);
        push_u64(out, m.timestamp_ms);
        out.extend_from_slice(br#","hostname":""#);
        out.extend_from_slice(self.hostnames.get(m.hostname).as_bytes());
        out.extend_from_slice(br#"","service":""#);
        out.extend_from_slice(service);
        out.extend_from_slice(br#"","ddsource":""#);
        out.extend_from_slice(self.ddsources.get(m.ddsource).as_bytes());
        out.extend_from_slice(br#"","ddtags":""#);
        out.extend_from_slice(self.tag_sets.get(m.tags).as_bytes());
        out.extend_from_slice(br#""}"#);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_lengths_match_the_escaping() {
        for w in WORDS.iter().copied().chain(["\u{1}x\"\\", "plain", ""]) {
            let mut once = Vec::new();
            push_json_escaped(&mut once, w);
            let mut twice = Vec::new();
            push_json_escaped(&mut twice, std::str::from_utf8(&once).unwrap());
            assert_eq!((escaped_len(w), escaped_twice_len(w)), (once.len(), twice.len()), "{w:?}");
        }
    }
}
