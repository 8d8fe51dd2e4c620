//! # payforge-apache
//!
//! A payload format defined outside payforge: Apache's **combined access log**,
//!
//! ```text
//! LogFormat "%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-agent}i\"" combined
//! 203.0.113.9 - - [01/Jun/2025:13:55:36 +0200] "GET /shop/cart.php?id=42 HTTP/1.1" 200 2326 "https://www.google.com/" "Mozilla/5.0 (...)"
//! ```
//!
//! one line per member, newline-framed ([`Framing::Lines`]). It is the worked example of
//! payforge's extension API (see the root README, *Adding a format*): a serde [`Config`], one
//! [`Format`] and one [`Configured`] impl, registered with
//! `Registry::builtin().with::<ApacheCombined>()`; payforge's sizing loop, its four strategies,
//! the block cache, `generate`, `calibrate` and `check` then work for it unchanged.
//!
//! How it keeps payforge's contract (the docs of `payforge::Format`):
//!
//! * Every piece of text is built once at setup from [`BlockRng::for_setup`]: pools of clients,
//!   users, paths, query strings, referers and user agents (already escaped as Apache escapes
//!   them), the method, version and status tables.
//! * A member ([`Request`]) is handles and numbers, drawn from the block's RNG alone, so
//!   [`Format::generate`] never allocates and every strategy sees the same stream.
//! * [`Format::encode`] only appends to `out`: pool text, a timestamp assembled on the stack and
//!   integers, so the reuse strategies allocate nothing per block once warmed up.
//! * [`Format::min_member_len`] adds up the shortest text each field can take, so it is a true
//!   lower bound.

pub mod config;
pub mod pools;

use payforge::kit::{self, ConfRange, StrPool, civil_from_days, push_u64};
use payforge::{BlockRng, Configured, Delivery, Format, Framing, SetupMemory};

pub use config::Config;

/// A weighted choice among the entries of a list: cumulative thresholds over 53-bit draws.
#[derive(Debug, Clone)]
struct Weighted {
    thresholds: Vec<u64>,
}

impl Weighted {
    const ONE: u64 = 1 << 53;

    /// From validated weights (finite, not negative, not all zero). A zero weight repeats the
    /// previous threshold, so its entry is never drawn; every entry from the last positive one
    /// on holds `ONE`, so a draw always lands on a positive weight.
    fn new(weights: &[f64]) -> Self {
        let total: f64 = weights.iter().sum();
        let last_positive = weights.iter().rposition(|w| *w > 0.0).unwrap_or(0);
        let mut cumulative = 0.0;
        let thresholds = weights
            .iter()
            .enumerate()
            .map(|(i, w)| {
                cumulative += w;
                if i >= last_positive { Self::ONE } else { ((cumulative / total) * Self::ONE as f64) as u64 }
            })
            .collect();
        Self { thresholds }
    }

    /// An index, drawing one value from `rng`.
    #[inline]
    fn sample(&self, rng: &mut BlockRng) -> u32 {
        let draw = rng.next_u64() >> 11;
        let i = self.thresholds.partition_point(|&t| t <= draw);
        i.min(self.thresholds.len().saturating_sub(1)) as u32
    }
}

/// A timezone offset: seconds east of UTC and its `%z` text.
#[derive(Debug, Clone, Copy)]
struct Offset {
    seconds: i64,
    text: [u8; 5],
}

/// One request, as handles into the format's pools and numbers.
#[derive(Debug, Clone, Copy)]
pub struct Request {
    client: u32,
    identity: Option<u32>,
    user: Option<u32>,
    time_s: u64,
    offset: u32,
    method: u32,
    path: u32,
    query: Option<u32>,
    version: u32,
    status: u32,
    /// `None` is logged as `-`.
    bytes: Option<u64>,
    referer: Option<u32>,
    user_agent: u32,
}

/// The `apache-combined` format.
#[derive(Debug)]
pub struct ApacheCombined {
    clients: StrPool,
    users: StrPool,
    identity_probability: f64,
    user_probability: f64,
    methods: StrPool,
    method_table: Weighted,
    /// Index of `HEAD` in `methods`, whose responses have no body.
    head: Option<u32>,
    paths: StrPool,
    query_probability: f64,
    queries: StrPool,
    versions: StrPool,
    version_table: Weighted,
    /// Status codes and whether a response with that status has a body.
    statuses: Vec<(u16, bool)>,
    status_table: Weighted,
    response_bytes: ConfRange,
    referers: StrPool,
    referer_probability: f64,
    user_agents: StrPool,
    timestamp_s: ConfRange,
    offsets: Vec<Offset>,
    min_member_len: usize,
}

/// Month abbreviations of `%t`.
const MONTHS: [&[u8; 3]; 12] =
    [b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec"];

/// Length of `dd/Mon/yyyy:HH:MM:SS +zzzz`.
const TIME_LEN: usize = 26;

/// Writes `v % 100` as two digits at `buf[at..at + 2]`.
#[inline]
fn put_2(buf: &mut [u8; TIME_LEN], at: usize, v: u64) {
    let v = v % 100;
    if let Some(dst) = buf.get_mut(at..at + 2) {
        dst.copy_from_slice(&[b'0' + (v / 10) as u8, b'0' + (v % 10) as u8]);
    }
}

/// True when a response with `code` carries no body (1xx, 204 No Content, 304 Not Modified).
pub const fn has_no_body(code: u16) -> bool {
    code < 200 || code == 204 || code == 304
}

impl Configured for ApacheCombined {
    type Config = Config;
    const NAME: &'static str = "apache-combined";
    const ABOUT: &'static str = "Apache combined access log lines (example format from another crate)";
    const LADING_PATH: &'static [&'static str] = &[];
    // Where a log intake for this format listens, and what it reads: `payforge-apache send`
    // posts there without knowing the format.
    const DELIVERY: Delivery =
        Delivery::new().with_http_path("/logs/apache").with_content_type("text/plain; charset=utf-8");

    fn from_config(c: &Config, seed: u64) -> payforge::Result<Self> {
        c.validate()?;
        let mut rng = BlockRng::for_setup(seed);
        let bounds = pools::Bounds::of(c);
        let clients = pools::clients(&mut rng, c.clients, c.client_hostname_probability)?;
        let users = pools::users(&mut rng, c.users, &c.user_length)?;
        let paths = pools::paths(&mut rng, c)?;
        let queries = pools::queries(&mut rng, c.queries, &c.query_params)?;
        let referers = pools::referers(&mut rng, c.referers, &c.site, (&paths, &queries), bounds.referer)?;
        let user_agents = pools::user_agents(&mut rng, c.user_agents, c.bot_user_agent_probability)?;
        let methods =
            StrPool::from_strs(&c.methods.iter().map(|m| m.method.as_str()).collect::<Vec<_>>(), "apache methods")?;
        let head = c.methods.iter().position(|m| m.method == "HEAD").map(|i| i as u32);
        let versions = StrPool::from_strs(
            &c.http_versions.iter().map(|v| v.version.as_str()).collect::<Vec<_>>(),
            "apache HTTP versions",
        )?;
        let offsets = c
            .timezone_offsets
            .iter()
            .map(|tz| {
                let mut text = *b"+0000";
                text.copy_from_slice(tz.as_bytes().get(..5).unwrap_or(b"+0000"));
                Offset { seconds: config::parse_offset(tz).unwrap_or(0) * 60, text }
            })
            .collect();
        let mut format = Self {
            clients,
            users,
            identity_probability: c.identity_probability,
            user_probability: c.user_probability,
            methods,
            method_table: Weighted::new(&c.methods.iter().map(|m| m.weight).collect::<Vec<_>>()),
            head,
            paths,
            query_probability: c.query_probability,
            queries,
            versions,
            version_table: Weighted::new(&c.http_versions.iter().map(|v| v.weight).collect::<Vec<_>>()),
            statuses: c.statuses.iter().map(|s| (s.code, !has_no_body(s.code))).collect(),
            status_table: Weighted::new(&c.statuses.iter().map(|s| s.weight).collect::<Vec<_>>()),
            response_bytes: c.response_bytes,
            referers,
            referer_probability: c.referer_probability,
            user_agents,
            timestamp_s: c.timestamp_s,
            offsets,
            min_member_len: 0,
        };
        format.min_member_len = format.shortest_line();
        Ok(format)
    }

    fn estimate_setup(c: &Config, m: &mut SetupMemory) -> payforge::Result<()> {
        c.validate()?;
        let bounds = pools::Bounds::of(c);
        let pool = |count: u64, longest: usize| count.saturating_mul(longest as u64 + 4);
        let key = |k: &str, v: u64| kit::key(&format!("apache_combined.{k}"), v);
        m.add("clients", pool(c.clients, pools::CLIENT_LEN), || vec![key("clients", c.clients)]);
        m.add("users", pool(c.users, c.user_length.max() as usize), || vec![key("users", c.users)]);
        m.add("paths", pool(c.paths, bounds.path), || vec![key("paths", c.paths)]);
        m.add("queries", pool(c.queries, pools::query_len(&c.query_params)), || vec![key("queries", c.queries)]);
        // The pool and the buffer each referer is built in.
        m.add("referers", pool(c.referers, bounds.referer) + bounds.referer as u64, || {
            vec![key("referers", c.referers)]
        });
        m.add("user agents", pool(c.user_agents, pools::USER_AGENT_LEN) + pools::USER_AGENT_LEN as u64, || {
            vec![key("user_agents", c.user_agents)]
        });
        // Methods, versions, statuses, zones, the weight tables and the temporary lists they are
        // built from: small, bounded by the config's lists.
        let lists = (c.methods.len() + c.http_versions.len() + c.statuses.len() + c.timezone_offsets.len()) as u64;
        let text: u64 = c.methods.iter().map(|x| x.method.len() as u64).sum::<u64>()
            + c.http_versions.iter().map(|x| x.version.len() as u64).sum::<u64>();
        m.add("small lists", 4 * (text + 64 * lists) + 1024, Vec::new);
        Ok(())
    }
}

impl ApacheCombined {
    /// The sum of the shortest text every field can take: a lower bound on any line's length.
    fn shortest_line(&self) -> usize {
        // `-` for %l and %u unless a name is certain; names are at least 1 character anyway.
        let or_dash = |p: f64, pool: &StrPool| if p >= 1.0 { pool.min_len() } else { pool.min_len().min(1) };
        // The line with every field one letter long, less those 11 letters.
        let separators = "h l u [t] \"m p v\" s b \"r\" \"a\"".len() - 11;
        self.clients.min_len()
            + or_dash(self.identity_probability, &self.users)
            + or_dash(self.user_probability, &self.users)
            + TIME_LEN
            + self.methods.min_len()
            + self.paths.min_len()
            + self.versions.min_len()
            + 3 // status
            + 1 // size: at least one digit, or `-`
            + or_dash(self.referer_probability, &self.referers)
            + self.user_agents.min_len()
            + separators
    }

    /// Appends `[dd/Mon/yyyy:HH:MM:SS +zzzz]`'s inside for `time_s` in the zone `offset`.
    #[inline]
    fn push_time(&self, out: &mut Vec<u8>, time_s: u64, offset: u32) {
        let offset = self.offsets.get(offset as usize).copied().unwrap_or(Offset { seconds: 0, text: *b"+0000" });
        // Validated: the local time lies within years 1969..=9999.
        let local = i64::try_from(time_s).unwrap_or(0) + offset.seconds;
        let (year, month, day) = civil_from_days(local.div_euclid(86_400));
        let sod = local.rem_euclid(86_400) as u64;
        let year = year.clamp(0, 9999) as u64;
        let mut buf = *b"00/Mon/0000:00:00:00 +0000";
        put_2(&mut buf, 0, u64::from(day));
        if let (Some(dst), Some(name)) = (buf.get_mut(3..6), MONTHS.get((month as usize).wrapping_sub(1))) {
            dst.copy_from_slice(*name);
        }
        put_2(&mut buf, 7, year / 100);
        put_2(&mut buf, 9, year);
        put_2(&mut buf, 12, sod / 3600);
        put_2(&mut buf, 15, sod / 60 % 60);
        put_2(&mut buf, 18, sod % 60);
        if let Some(dst) = buf.get_mut(21..26) {
            dst.copy_from_slice(&offset.text);
        }
        out.extend_from_slice(&buf);
    }
}

/// Appends a pool entry, or `-` for none.
#[inline]
fn push_or_dash(out: &mut Vec<u8>, pool: &StrPool, handle: Option<u32>) {
    match handle {
        Some(h) => out.extend_from_slice(pool.get(h).as_bytes()),
        None => out.push(b'-'),
    }
}

impl Format for ApacheCombined {
    type Member = Request;

    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn framing(&self) -> Framing {
        Framing::Lines
    }

    fn min_member_len(&self) -> usize {
        self.min_member_len
    }

    fn generate(&self, rng: &mut BlockRng) -> Request {
        let client = self.clients.pick(rng);
        let identity = rng.chance(self.identity_probability).then(|| self.users.pick(rng));
        let user = rng.chance(self.user_probability).then(|| self.users.pick(rng));
        let time_s = self.timestamp_s.sample(rng);
        let offset = rng.index(self.offsets.len()) as u32;
        let method = self.method_table.sample(rng);
        let path = self.paths.pick(rng);
        let query = rng.chance(self.query_probability).then(|| self.queries.pick(rng));
        let version = self.version_table.sample(rng);
        let status = self.status_table.sample(rng);
        let size = self.response_bytes.sample(rng);
        let has_body = self.statuses.get(status as usize).is_some_and(|&(_, body)| body);
        let bytes = (has_body && Some(method) != self.head && size > 0).then_some(size);
        let referer = rng.chance(self.referer_probability).then(|| self.referers.pick(rng));
        let user_agent = self.user_agents.pick(rng);
        Request {
            client,
            identity,
            user,
            time_s,
            offset,
            method,
            path,
            query,
            version,
            status,
            bytes,
            referer,
            user_agent,
        }
    }

    fn encode(&self, m: &Request, out: &mut Vec<u8>) {
        out.extend_from_slice(self.clients.get(m.client).as_bytes());
        out.push(b' ');
        push_or_dash(out, &self.users, m.identity);
        out.push(b' ');
        push_or_dash(out, &self.users, m.user);
        out.extend_from_slice(b" [");
        self.push_time(out, m.time_s, m.offset);
        out.extend_from_slice(b"] \"");
        out.extend_from_slice(self.methods.get(m.method).as_bytes());
        out.push(b' ');
        out.extend_from_slice(self.paths.get(m.path).as_bytes());
        if let Some(q) = m.query {
            out.push(b'?');
            out.extend_from_slice(self.queries.get(q).as_bytes());
        }
        out.push(b' ');
        out.extend_from_slice(self.versions.get(m.version).as_bytes());
        out.extend_from_slice(b"\" ");
        push_u64(out, u64::from(self.statuses.get(m.status as usize).map_or(200, |&(code, _)| code)));
        out.push(b' ');
        match m.bytes {
            Some(n) => push_u64(out, n),
            None => out.push(b'-'),
        }
        out.extend_from_slice(b" \"");
        push_or_dash(out, &self.referers, m.referer);
        out.extend_from_slice(b"\" \"");
        out.extend_from_slice(self.user_agents.get(m.user_agent).as_bytes());
        out.push(b'"');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(format: &ApacheCombined, m: &Request) -> String {
        let mut out = Vec::new();
        format.encode(m, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn timestamps_are_local_time_with_the_offset() {
        let c = Config {
            timezone_offsets: vec!["-0700".into(), "+0530".into()],
            timestamp_s: ConfRange::constant(971_186_136), // 2000-10-10T13:55:36Z
            ..Config::default()
        };
        let f = ApacheCombined::from_config(&c, 1).unwrap();
        let mut out = Vec::new();
        f.push_time(&mut out, 971_186_136, 0);
        f.push_time(&mut out, 971_186_136, 1);
        f.push_time(&mut out, 0, 0);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "10/Oct/2000:06:55:36 -070010/Oct/2000:19:25:36 +053031/Dec/1969:17:00:00 -0700"
        );
    }

    #[test]
    fn weights_pick_only_positive_entries_in_proportion() {
        let table = Weighted::new(&[0.0, 3.0, 0.0, 1.0, 0.0]);
        let mut rng = BlockRng::for_block(5, 0);
        let mut seen = [0u32; 5];
        for _ in 0..40_000 {
            seen[table.sample(&mut rng) as usize] += 1;
        }
        assert_eq!((seen[0], seen[2], seen[4]), (0, 0, 0));
        assert!((29_000..31_000).contains(&seen[1]) && (9_000..11_000).contains(&seen[3]), "{seen:?}");
    }

    #[test]
    fn no_body_is_a_dash() {
        let c = Config { statuses: vec![config::StatusWeight { code: 304, weight: 1.0 }], ..Config::default() };
        let f = ApacheCombined::from_config(&c, 1).unwrap();
        let mut rng = BlockRng::for_block(1, 0);
        for _ in 0..100 {
            let l = line(&f, &f.generate(&mut rng));
            assert!(l.contains("\" 304 - \""), "{l}");
        }
        let c = Config { methods: vec![config::MethodWeight { method: "HEAD".into(), weight: 1.0 }], ..c };
        let c = Config { statuses: vec![config::StatusWeight { code: 200, weight: 1.0 }], ..c };
        let f = ApacheCombined::from_config(&c, 1).unwrap();
        let l = line(&f, &f.generate(&mut rng));
        assert!(l.contains("\" 200 - \""), "{l}");
    }
}
