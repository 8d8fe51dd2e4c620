//! RFC 5424 syslog lines, newline-delimited.
//!
//! `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA MSG` with PRI in 0..=191, an
//! RFC 3339 timestamp with milliseconds and `Z`, header fields drawn from pools generated once at
//! setup (within the RFC's length limits, printable US-ASCII), structured data that is `-` or
//! one well-formed element whose values are escaped per RFC 5424 §6.3.3, and a short JSON object
//! as the message. Members hold pool handles and numbers, so generating one never allocates.

use serde::{Deserialize, Serialize};

use crate::config::{ConfRange, validate_count, validate_probability};
use crate::error::Result;
use crate::format::{Configured, Format};
use crate::framing::Framing;
use crate::rng::BlockRng;
use crate::setup::{self, SetupMemory, key};
use crate::text::{ALNUM_LOWER, StrPool, push_rfc3339_millis, push_u64};

/// RFC 5424 length limits.
const MAX_HOSTNAME: u64 = 255;
const MAX_APP_NAME: u64 = 48;
const MAX_PROCID: u64 = 128;
const MAX_MSGID: u64 = 32;
/// Longest SD-NAME (SD-ID and PARAM-NAME) RFC 5424 allows; the pools stay within it.
const MAX_SD_NAME: u64 = 32;

/// Configuration of the `syslog5424` format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Distinct hostnames in the pool.
    pub hostnames: u64,
    /// Length of each hostname (1..=255).
    pub hostname_length: ConfRange,
    /// Distinct app-names in the pool.
    pub app_names: u64,
    /// Length of each app-name (1..=48).
    pub app_name_length: ConfRange,
    /// Distinct process ids in the pool.
    pub procids: u64,
    /// Length of each process id (1..=128), digits only.
    pub procid_length: ConfRange,
    /// Distinct message ids in the pool.
    pub msgids: u64,
    /// Length of each message id (1..=32).
    pub msgid_length: ConfRange,
    /// Probability that a line carries a structured-data element instead of `-`.
    pub structured_data_probability: f64,
    /// Parameters per structured-data element (0..=8).
    pub structured_data_params: ConfRange,
    /// Timestamps, in milliseconds since the Unix epoch (default: all of 2024 and 2025).
    pub timestamp_ms: ConfRange,
    /// Distinct event names used in messages.
    pub events: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            hostnames: 64,
            hostname_length: ConfRange::inclusive(8, 24),
            app_names: 32,
            app_name_length: ConfRange::inclusive(4, 16),
            procids: 256,
            procid_length: ConfRange::inclusive(2, 6),
            msgids: 32,
            msgid_length: ConfRange::inclusive(3, 12),
            structured_data_probability: 0.3,
            structured_data_params: ConfRange::inclusive(1, 3),
            timestamp_ms: ConfRange::inclusive(1_704_067_200_000, 1_767_225_599_999),
            events: 48,
        }
    }
}

/// Structured-data parameter values: some need RFC 5424 escaping (`"`, `\`, `]`).
const SD_VALUES: &[&str] =
    &["3", "Application", "1011", "ok", "retry", "eu-west-1", "disk \"sda\"", "path\\to\\file", "a]b", "true"];
/// Levels used in the JSON message.
const LEVELS: &[&str] = &["debug", "info", "info", "info", "warn", "error"];

/// One syslog line, as handles and numbers.
#[derive(Debug, Clone, Copy)]
pub struct Line {
    pri: u8,
    timestamp_ms: i64,
    hostname: u32,
    app_name: u32,
    procid: u32,
    msgid: u32,
    sd_id: Option<u32>,
    sd_params: [(u32, u8); 8],
    sd_param_count: u8,
    level: u8,
    event: u32,
    request_id: u64,
    duration_ms: u32,
}

/// The `syslog5424` format.
#[derive(Debug)]
pub struct Syslog5424 {
    config: Config,
    hostnames: StrPool,
    app_names: StrPool,
    procids: StrPool,
    msgids: StrPool,
    sd_ids: StrPool,
    sd_names: StrPool,
    sd_values: StrPool,
    events: StrPool,
}

/// Largest pool a config may ask for.
const MAX_POOL: u64 = 1_000_000;

impl Configured for Syslog5424 {
    type Config = Config;
    const NAME: &'static str = "syslog5424";
    const ABOUT: &'static str = "RFC 5424 syslog lines";
    const LADING_PATH: &'static [&'static str] = &["syslog5424"];

    fn from_config(c: &Config, seed: u64) -> Result<Self> {
        c.validate()?;
        let mut rng = BlockRng::for_setup(seed);
        let mut pool = |count: u64, len: &ConfRange, charset: &[u8], what: &'static str| {
            StrPool::random(&mut rng, count as usize, (len.min() as usize, len.max() as usize), charset, what)
        };
        let hostnames = pool(c.hostnames, &c.hostname_length, ALNUM_LOWER, "syslog5424 hostnames")?;
        let app_names = pool(c.app_names, &c.app_name_length, ALNUM_LOWER, "syslog5424 app-names")?;
        let procids = pool(c.procids, &c.procid_length, b"0123456789", "syslog5424 procids")?;
        let msgids = pool(c.msgids, &c.msgid_length, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", "syslog5424 msgids")?;
        let sd_ids = pool(8, &SD_ID_LENGTH, ALNUM_LOWER, "syslog5424 SD-IDs")?;
        let sd_names = pool(16, &SD_NAME_LENGTH, ALNUM_LOWER, "syslog5424 SD names")?;
        let events = pool(c.events, &EVENT_LENGTH, b"abcdefghijklmnopqrstuvwxyz_", "syslog5424 events")?;
        Ok(Self {
            config: c.clone(),
            hostnames,
            app_names,
            procids,
            msgids,
            sd_ids,
            sd_names,
            sd_values: StrPool::from_strs(SD_VALUES, "syslog5424 SD values")?,
            events,
        })
    }

    fn estimate_setup(c: &Config, m: &mut SetupMemory) -> Result<()> {
        c.validate()?;
        let mut pool = |what, count: u64, len: &ConfRange, keys: &dyn Fn() -> Vec<String>| {
            m.add(what, setup::mul(count, len.max()) + setup::array_of::<u32>(count), keys);
        };
        pool("hostname pool", c.hostnames, &c.hostname_length, &|| {
            vec![key("syslog5424.hostnames", c.hostnames), key("syslog5424.hostname_length", c.hostname_length)]
        });
        pool("app-name pool", c.app_names, &c.app_name_length, &|| {
            vec![key("syslog5424.app_names", c.app_names), key("syslog5424.app_name_length", c.app_name_length)]
        });
        pool("procid pool", c.procids, &c.procid_length, &|| {
            vec![key("syslog5424.procids", c.procids), key("syslog5424.procid_length", c.procid_length)]
        });
        pool("msgid pool", c.msgids, &c.msgid_length, &|| {
            vec![key("syslog5424.msgids", c.msgids), key("syslog5424.msgid_length", c.msgid_length)]
        });
        pool("event pool", c.events, &EVENT_LENGTH, &|| vec![key("syslog5424.events", c.events)]);
        pool("structured-data pools", 8, &SD_ID_LENGTH, &Vec::new);
        pool("structured-data pools", 16, &SD_NAME_LENGTH, &Vec::new);
        let sd_values = SD_VALUES.iter().map(|v| v.len() as u64).sum::<u64>();
        m.add("structured-data pools", sd_values + setup::array_of::<u32>(SD_VALUES.len() as u64), Vec::new);
        Ok(())
    }
}

/// Lengths of the setup-time pools the config does not size.
const SD_ID_LENGTH: ConfRange = ConfRange::inclusive(4, 12);
const SD_NAME_LENGTH: ConfRange = ConfRange::inclusive(2, 10);
const EVENT_LENGTH: ConfRange = ConfRange::inclusive(4, 14);
const _: () = assert!(SD_ID_LENGTH.max() <= MAX_SD_NAME && SD_NAME_LENGTH.max() <= MAX_SD_NAME);

impl Config {
    /// Checks every field, naming the first invalid one (`syslog5424.<key>`) and its value.
    ///
    /// # Errors
    /// [`crate::Error::Config`] for the first invalid field.
    pub fn validate(&self) -> Result<()> {
        let c = self;
        validate_count("syslog5424.hostnames", c.hostnames, MAX_POOL)?;
        validate_count("syslog5424.app_names", c.app_names, MAX_POOL)?;
        validate_count("syslog5424.procids", c.procids, MAX_POOL)?;
        validate_count("syslog5424.msgids", c.msgids, MAX_POOL)?;
        validate_count("syslog5424.events", c.events, MAX_POOL)?;
        c.hostname_length.validate("syslog5424.hostname_length", 1..=MAX_HOSTNAME)?;
        c.app_name_length.validate("syslog5424.app_name_length", 1..=MAX_APP_NAME)?;
        c.procid_length.validate("syslog5424.procid_length", 1..=MAX_PROCID)?;
        c.msgid_length.validate("syslog5424.msgid_length", 1..=MAX_MSGID)?;
        c.structured_data_params.validate("syslog5424.structured_data_params", 0..=8)?;
        c.timestamp_ms.validate("syslog5424.timestamp_ms", 0..=253_402_300_799_999)?;
        validate_probability("syslog5424.structured_data_probability", c.structured_data_probability)?;
        Ok(())
    }
}

impl Format for Syslog5424 {
    type Member = Line;

    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn framing(&self) -> Framing {
        Framing::Lines
    }

    fn min_member_len(&self) -> usize {
        // "<0>1 " + timestamp + 5 separators + the shortest pool entries + "-" + shortest message.
        let header = 5 + 24 + 5 + 1 + 1;
        let pools =
            self.hostnames.min_len() + self.app_names.min_len() + self.procids.min_len() + self.msgids.min_len();
        let mut msg = Vec::new();
        let shortest = Line {
            pri: 0,
            timestamp_ms: 0,
            hostname: 0,
            app_name: 0,
            procid: 0,
            msgid: 0,
            sd_id: None,
            sd_params: [(0, 0); 8],
            sd_param_count: 0,
            level: LEVELS.iter().enumerate().min_by_key(|(_, l)| l.len()).map_or(0, |(i, _)| i as u8),
            event: 0,
            request_id: 0,
            duration_ms: 0,
        };
        self.push_message(&shortest, &mut msg);
        let shortest_event = self.events.min_len();
        header + pools + msg.len() - self.events.get(0).len() + shortest_event
    }

    fn generate(&self, rng: &mut BlockRng) -> Line {
        let pri = rng.below(192) as u8;
        let timestamp_ms = self.config.timestamp_ms.sample(rng) as i64;
        let hostname = self.hostnames.pick(rng);
        let app_name = self.app_names.pick(rng);
        let procid = self.procids.pick(rng);
        let msgid = self.msgids.pick(rng);
        let mut sd_params = [(0u32, 0u8); 8];
        let mut sd_param_count = 0;
        let sd_id = if rng.chance(self.config.structured_data_probability) {
            sd_param_count = self.config.structured_data_params.sample(rng).min(8) as u8;
            for slot in sd_params.iter_mut().take(usize::from(sd_param_count)) {
                *slot = (self.sd_names.pick(rng), self.sd_values.pick(rng) as u8);
            }
            Some(self.sd_ids.pick(rng))
        } else {
            None
        };
        Line {
            pri,
            timestamp_ms,
            hostname,
            app_name,
            procid,
            msgid,
            sd_id,
            sd_params,
            sd_param_count,
            level: rng.index(LEVELS.len()) as u8,
            event: self.events.pick(rng),
            request_id: rng.next_u64() >> 16,
            duration_ms: rng.below(5_000) as u32,
        }
    }

    fn encode(&self, m: &Line, out: &mut Vec<u8>) {
        out.push(b'<');
        push_u64(out, u64::from(m.pri));
        out.extend_from_slice(b">1 ");
        push_rfc3339_millis(out, m.timestamp_ms);
        for field in [
            self.hostnames.get(m.hostname),
            self.app_names.get(m.app_name),
            self.procids.get(m.procid),
            self.msgids.get(m.msgid),
        ] {
            out.push(b' ');
            out.extend_from_slice(field.as_bytes());
        }
        out.push(b' ');
        match m.sd_id {
            None => out.push(b'-'),
            Some(id) => {
                out.push(b'[');
                out.extend_from_slice(self.sd_ids.get(id).as_bytes());
                out.extend_from_slice(b"@32473");
                for &(name, value) in m.sd_params.iter().take(usize::from(m.sd_param_count)) {
                    out.push(b' ');
                    out.extend_from_slice(self.sd_names.get(name).as_bytes());
                    out.extend_from_slice(b"=\"");
                    for &b in self.sd_values.get(u32::from(value)).as_bytes() {
                        if matches!(b, b'"' | b'\\' | b']') {
                            out.push(b'\\');
                        }
                        out.push(b);
                    }
                    out.push(b'"');
                }
                out.push(b']');
            }
        }
        out.push(b' ');
        self.push_message(m, out);
    }
}

impl Syslog5424 {
    /// The message: a short JSON object (pool text is JSON-safe, so no escaping is needed).
    fn push_message(&self, m: &Line, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"level\":\"");
        out.extend_from_slice(LEVELS.get(usize::from(m.level)).copied().unwrap_or("info").as_bytes());
        out.extend_from_slice(b"\",\"event\":\"");
        out.extend_from_slice(self.events.get(m.event).as_bytes());
        out.extend_from_slice(b"\",\"request_id\":");
        push_u64(out, m.request_id);
        out.extend_from_slice(b",\"duration_ms\":");
        push_u64(out, u64::from(m.duration_ms));
        out.push(b'}');
    }
}
