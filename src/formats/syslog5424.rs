//! RFC 5424 syslog lines, newline-delimited.
//!
//! `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA MSG` with PRI in 0..=191, an
//! RFC 3339 timestamp with milliseconds and `Z`, header fields drawn from pools generated once at
//! setup (within the RFC's length limits, printable US-ASCII), structured data that is `-` or
//! one well-formed element whose values are escaped per RFC 5424 §6.3.3, and a short JSON object
//! as the message. Members hold pool handles and numbers, so generating one never allocates.

use serde::{Deserialize, Serialize};

use crate::config::{ConfRange, validate_count, validate_probability};
use crate::delivery::Delivery;
use crate::error::Result;
use crate::format::{Configured, Format};
use crate::framing::Framing;
use crate::rng::BlockRng;
use crate::setup::{self, SetupMemory, key};
use crate::slack::{SlackWriter, write_member};
use crate::text::{ALNUM_LOWER, Rfc3339Days, StrPool};

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
    /// Handles into the SD-ID pool (8 entries) and the name (16) and value pools: a byte each.
    sd_id: Option<u8>,
    sd_params: [(u8, u8); 8],
    sd_param_count: u8,
    level: u8,
    event: u32,
    request_id: u64,
    duration_ms: u32,
}

/// The `syslog5424` format.
#[derive(Debug)]
///
/// The pools hold each string with the text around it in a line (a leading space, a closing
/// quote and the next key), so a line is written in few pieces.
pub struct Syslog5424 {
    config: Config,
    hostnames: StrPool,
    app_names: StrPool,
    procids: StrPool,
    msgids: StrPool,
    sd_ids: StrPool,
    sd_names: StrPool,
    /// SD-PARAM values, already escaped per RFC 5424 §6.3.3 (escaping once at setup) and
    /// closed with `"`.
    sd_values: StrPool,
    /// The message up to the event: `{"level":"<level>","event":"`, per level.
    levels: StrPool,
    events: StrPool,
    /// Dates of the configured timestamp range.
    days: Rfc3339Days,
    /// A length most lines stay under: the writer's window.
    line_hint: usize,
}

/// Largest pool a config may ask for.
const MAX_POOL: u64 = 1_000_000;

impl Configured for Syslog5424 {
    type Config = Config;
    const NAME: &'static str = "syslog5424";
    const ABOUT: &'static str = "RFC 5424 syslog lines";
    const LADING_PATH: &'static [&'static str] = &["syslog5424"];
    // One message per UDP datagram (RFC 5426 §3.1); octet counting on streams (RFC 6587 §3.4.1).
    const DELIVERY: Delivery = Delivery::new().with_line_datagrams().with_octet_counting();

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
        let sd_ids = pool(SD_IDS, &SD_ID_LENGTH, ALNUM_LOWER, "syslog5424 SD-IDs")?;
        let sd_names = pool(SD_NAMES, &SD_NAME_LENGTH, ALNUM_LOWER, "syslog5424 SD names")?;
        let events = pool(c.events, &EVENT_LENGTH, b"abcdefghijklmnopqrstuvwxyz_", "syslog5424 events")?;
        let mut sd_values =
            StrPool::with_capacity(2 * SD_VALUE_BYTES, SD_VALUES.len(), 2 * SD_VALUE_BYTES, "syslog5424 SD values")?;
        for v in SD_VALUES {
            sd_values.push_with(2 * v.len() + 3, |t| push_param_value(t, v))?;
        }
        let mut levels = StrPool::with_capacity(256, LEVELS.len(), 256, "syslog5424 levels")?;
        for level in LEVELS {
            levels.push_with(level.len() + 22, |t| {
                t.push_str("{\"level\":\"");
                t.push_str(level);
                t.push_str("\",\"event\":\"");
            })?;
        }
        let days = Rfc3339Days::for_range(
            c.timestamp_ms.min() as i64,
            c.timestamp_ms.max() as i64,
            "syslog5424 timestamp dates",
        )?;
        // Header, the four pool fields, a full structured-data element and the message.
        let params = c.structured_data_params.max().min(8) as usize;
        let sd = 1 + sd_ids.max_len() + 6 + params * (1 + sd_names.max_len() + 3 + sd_values.max_len()) + 1;
        let pools = hostnames.max_len() + app_names.max_len() + procids.max_len() + msgids.max_len();
        let line_hint = 5 + 24 + 5 + pools + sd + 1 + 100 + events.max_len();
        Ok(Self {
            config: c.clone(),
            hostnames: hostnames.affixed(" ", "", "syslog5424 hostnames")?,
            app_names: app_names.affixed(" ", "", "syslog5424 app-names")?,
            procids: procids.affixed(" ", "", "syslog5424 procids")?,
            msgids: msgids.affixed(" ", "", "syslog5424 msgids")?,
            sd_ids: sd_ids.affixed("[", "@32473", "syslog5424 SD-IDs")?,
            sd_names: sd_names.affixed(" ", "=\"", "syslog5424 SD names")?,
            sd_values,
            levels,
            events: events.affixed("", "\",\"request_id\":", "syslog5424 events")?,
            days,
            line_hint,
        })
    }

    fn estimate_setup(c: &Config, m: &mut SetupMemory) -> Result<()> {
        c.validate()?;
        // Each pool is built, then copied with its separators (at most 15 bytes per string).
        let mut pool = |what, count: u64, len: &ConfRange, keys: &dyn Fn() -> Vec<String>| {
            let one = setup::mul(count, len.max()) + setup::array_of::<u32>(count);
            m.add(what, 2 * one + setup::mul(count, 15), keys);
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
        pool("structured-data pools", SD_IDS, &SD_ID_LENGTH, &Vec::new);
        pool("structured-data pools", SD_NAMES, &SD_NAME_LENGTH, &Vec::new);
        // Escaping at most doubles a value; the levels' message prefixes are short.
        let sd_values = 2 * SD_VALUE_BYTES as u64 + 256;
        m.add("structured-data pools", sd_values + setup::array_of::<u32>(2 * SD_VALUES.len() as u64), Vec::new);
        let (lo, hi) = (c.timestamp_ms.min() as i64, c.timestamp_ms.max() as i64);
        m.add("timestamp dates", Rfc3339Days::table_bytes(lo, hi), || {
            vec![key("syslog5424.timestamp_ms", c.timestamp_ms)]
        });
        Ok(())
    }
}

/// Lengths of the setup-time pools the config does not size.
const SD_ID_LENGTH: ConfRange = ConfRange::inclusive(4, 12);
const SD_NAME_LENGTH: ConfRange = ConfRange::inclusive(2, 10);
const EVENT_LENGTH: ConfRange = ConfRange::inclusive(4, 14);
const _: () = assert!(SD_ID_LENGTH.max() <= MAX_SD_NAME && SD_NAME_LENGTH.max() <= MAX_SD_NAME);
/// Entries of the SD-ID and SD name pools: small enough for a byte handle.
const SD_IDS: u64 = 8;
const SD_NAMES: u64 = 16;
const _: () = assert!(SD_IDS <= 256 && SD_NAMES <= 256 && SD_VALUES.len() <= 256);

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
        // The line of the shortest entry of every pool, without structured data, with the
        // smallest numbers: every field is independent, so no line is shorter.
        let shortest = |pool: &StrPool| (0..pool.len() as u32).min_by_key(|&h| pool.get(h).len()).unwrap_or(0);
        let line = Line {
            pri: 0,
            timestamp_ms: 0,
            hostname: shortest(&self.hostnames),
            app_name: shortest(&self.app_names),
            procid: shortest(&self.procids),
            msgid: shortest(&self.msgids),
            sd_id: None,
            sd_params: [(0, 0); 8],
            sd_param_count: 0,
            level: shortest(&self.levels) as u8,
            event: shortest(&self.events),
            request_id: 0,
            duration_ms: 0,
        };
        let mut out = Vec::new();
        self.encode(&line, &mut out);
        out.len()
    }

    fn generate(&self, rng: &mut BlockRng) -> Line {
        let pri = rng.below(192) as u8;
        let timestamp_ms = self.config.timestamp_ms.sample(rng) as i64;
        let hostname = self.hostnames.pick(rng);
        let app_name = self.app_names.pick(rng);
        let procid = self.procids.pick(rng);
        let msgid = self.msgids.pick(rng);
        let mut sd_params = [(0u8, 0u8); 8];
        let mut sd_param_count = 0;
        let sd_id = if rng.chance(self.config.structured_data_probability) {
            sd_param_count = self.config.structured_data_params.sample(rng).min(8) as u8;
            for slot in sd_params.iter_mut().take(usize::from(sd_param_count)) {
                *slot = (self.sd_names.pick(rng) as u8, self.sd_values.pick(rng) as u8);
            }
            Some(self.sd_ids.pick(rng) as u8)
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
        write_member(out, self.line_hint, |w| self.write_line(m, w));
    }
}

impl Syslog5424 {
    fn write_line(&self, m: &Line, w: &mut SlackWriter<'_>) {
        let (pri, len) = pri_prefix(m.pri);
        w.put_from(pri, len);
        w.fill_with(|buf| self.days.write(buf, m.timestamp_ms));
        for (pool, handle) in [
            (&self.hostnames, m.hostname),
            (&self.app_names, m.app_name),
            (&self.procids, m.procid),
            (&self.msgids, m.msgid),
        ] {
            let (tail, len) = pool.tail(handle);
            w.put_from(tail, len);
        }
        match m.sd_id {
            None => w.put_array(b" - "),
            Some(id) => {
                w.byte(b' ');
                let (tail, len) = self.sd_ids.tail(u32::from(id));
                w.put_from(tail, len);
                for &(name, value) in m.sd_params.iter().take(usize::from(m.sd_param_count)) {
                    let (tail, len) = self.sd_names.tail(u32::from(name));
                    w.put_from(tail, len);
                    let (tail, len) = self.sd_values.tail(u32::from(value));
                    w.put_from(tail, len);
                }
                w.put_array(b"] ");
            }
        }
        self.write_message(m, w);
    }
}

/// `<PRI>1 ` for every PRI (0..=191), each in 8 bytes of one table.
const PRI_PREFIXES: [u8; 192 * 8] = {
    let mut table = [0u8; 192 * 8];
    let mut pri = 0;
    while pri < 192 {
        let at = pri * 8;
        let digits = if pri >= 100 {
            3
        } else if pri >= 10 {
            2
        } else {
            1
        };
        table[at] = b'<';
        let mut v = pri;
        let mut i = digits;
        while i > 0 {
            table[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
            i -= 1;
        }
        table[at + digits + 1] = b'>';
        table[at + digits + 2] = b'1';
        table[at + digits + 3] = b' ';
        pri += 1;
    }
    table
};

/// `<PRI>1 ` as the rest of [`PRI_PREFIXES`] from its entry, and its length.
#[inline]
fn pri_prefix(pri: u8) -> (&'static [u8], usize) {
    let pri = usize::from(pri.min(191));
    let len = 4 + 1 + usize::from(pri >= 10) + usize::from(pri >= 100);
    (PRI_PREFIXES.get(pri * 8..).unwrap_or_default(), len)
}

/// Bytes of all [`SD_VALUES`].
const SD_VALUE_BYTES: usize = {
    let mut total = 0;
    let mut i = 0;
    while i < SD_VALUES.len() {
        total += SD_VALUES[i].len();
        i += 1;
    }
    total
};

/// Appends `value` escaped for inside a PARAM-VALUE (`"`, `\\` and `]` get a backslash, RFC 5424
/// §6.3.3) and the closing quote.
fn push_param_value(out: &mut String, value: &str) {
    for c in value.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

impl Syslog5424 {
    /// The message: a short JSON object (pool text is JSON-safe, so no escaping is needed).
    fn write_message(&self, m: &Line, w: &mut SlackWriter<'_>) {
        let (tail, len) = self.levels.tail(u32::from(m.level));
        w.put_from(tail, len);
        let (tail, len) = self.events.tail(m.event);
        w.put_from(tail, len);
        w.u64(m.request_id);
        w.put_array(b",\"duration_ms\":");
        w.u64(u64::from(m.duration_ms));
        w.byte(b'}');
    }
}
