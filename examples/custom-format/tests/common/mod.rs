//! A strict grammar of the Apache combined log line, written independently of the format:
//!
//! ```text
//! line      = host SP ident SP user SP "[" time "]" SP DQ request DQ SP status SP size
//!             SP DQ referer DQ SP DQ agent DQ
//! host      = ipv4 / hostname
//! time      = dd "/" Mon "/" yyyy ":" HH ":" MM ":" SS SP ("+" / "-") hhmm
//! request   = method SP path ["?" query] SP "HTTP/" DIGIT "." DIGIT
//! status    = 3DIGIT (100..=599)
//! size      = "-" / 1*DIGIT (no leading zero)
//! referer   = "-" / scheme "://" escaped
//! agent     = escaped (non-empty)
//! escaped   = *( printable but DQ and "\" / "\" DQ / "\\" / "\x" 2HEXDIG )
//! ```
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

/// The parts of a line the tests look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub host: String,
    pub ident: String,
    pub user: String,
    pub method: String,
    pub path: String,
    pub version: String,
    pub status: u16,
    pub size: Option<u64>,
    pub referer: String,
    pub agent: String,
}

/// A cursor over one line.
struct Cursor<'a> {
    rest: &'a str,
}

impl<'a> Cursor<'a> {
    fn expect(&mut self, s: &str) -> Result<(), String> {
        self.rest = self.rest.strip_prefix(s).ok_or_else(|| format!("expected {s:?} at {:?}", self.head()))?;
        Ok(())
    }

    fn head(&self) -> &str {
        self.rest.get(..self.rest.len().min(24)).unwrap_or(self.rest)
    }

    /// Everything up to (not including) the next `c`.
    fn until(&mut self, c: char) -> Result<&'a str, String> {
        let i = self.rest.find(c).ok_or_else(|| format!("no {c:?} after {:?}", self.head()))?;
        let (token, rest) = self.rest.split_at(i);
        self.rest = rest;
        Ok(token)
    }

    /// A quoted, escaped string: returns its inside as written (escapes kept).
    fn quoted(&mut self) -> Result<&'a str, String> {
        self.expect("\"")?;
        let bytes = self.rest.as_bytes();
        let mut i = 0;
        loop {
            match bytes.get(i) {
                None => return Err("unterminated quoted string".into()),
                Some(b'"') => break,
                Some(b'\\') => match bytes.get(i + 1) {
                    Some(b'"' | b'\\') => i += 2,
                    Some(b'x') if bytes.get(i + 2..i + 4).is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) => {
                        i += 4;
                    }
                    other => return Err(format!("bad escape \\{:?}", other.map(|b| char::from(*b)))),
                },
                Some(&b) if (0x20..=0x7e).contains(&b) => i += 1,
                Some(b) => return Err(format!("unescaped byte {b:#04x} in a quoted string")),
            }
        }
        let inside = &self.rest[..i];
        self.rest = &self.rest[i + 1..];
        Ok(inside)
    }
}

fn digits(s: &str, n: usize) -> Result<u32, String> {
    if s.len() != n || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{s:?} is not {n} digits"));
    }
    Ok(s.parse().unwrap())
}

fn is_ipv4(s: &str) -> bool {
    let octets: Vec<&str> = s.split('.').collect();
    octets.len() == 4
        && octets.iter().all(|o| {
            !o.is_empty()
                && o.len() <= 3
                && o.bytes().all(|b| b.is_ascii_digit())
                && !(o.len() > 1 && o.starts_with('0'))
                && o.parse::<u32>().unwrap() <= 255
        })
}

fn is_hostname(s: &str) -> bool {
    let label = |l: &str| {
        (1..=63).contains(&l.len())
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    // A resolved client name has a domain: at least two labels, the last not all digits.
    let labels: Vec<&str> = s.split('.').collect();
    s.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| label(l))
        && !labels.last().unwrap().bytes().all(|b| b.is_ascii_digit())
}

/// `-` or a token of printable ASCII without spaces or quotes.
fn is_name_or_dash(s: &str) -> bool {
    s == "-" || (!s.is_empty() && s.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b'"'))
}

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// `dd/Mon/yyyy:HH:MM:SS +zzzz` with real calendar ranges and an offset within -1200..=+1400.
pub fn check_time(t: &str) -> Result<(), String> {
    let b = t.as_bytes();
    if b.len() != 26 || b[2] != b'/' || b[6] != b'/' || b[11] != b':' || b[14] != b':' || b[17] != b':' || b[20] != b' '
    {
        return Err(format!("time shape {t:?}"));
    }
    let day = digits(&t[0..2], 2)?;
    let month = MONTHS.iter().position(|m| *m == &t[3..6]).ok_or_else(|| format!("month {:?}", &t[3..6]))? + 1;
    let year = digits(&t[7..11], 4)?;
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if day == 0 || day > days[month - 1] {
        return Err(format!("date {t:?}"));
    }
    if digits(&t[12..14], 2)? > 23 || digits(&t[15..17], 2)? > 59 || digits(&t[18..20], 2)? > 59 {
        return Err(format!("time of day {t:?}"));
    }
    let sign = match b[21] {
        b'+' => 1,
        b'-' => -1,
        _ => return Err(format!("zone sign {t:?}")),
    };
    let (hh, mm) = (digits(&t[22..24], 2)? as i32, digits(&t[24..26], 2)? as i32);
    let minutes = sign * (hh * 60 + mm);
    if mm > 59 || !(-720..=840).contains(&minutes) {
        return Err(format!("zone {t:?}"));
    }
    Ok(())
}

fn check_request(r: &str) -> Result<(String, String, String), String> {
    let mut parts = r.split(' ');
    let (Some(method), Some(target), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(format!("request {r:?} is not `METHOD path HTTP/x.y`"));
    };
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(format!("method {method:?}"));
    }
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    let path_ok = |c: u8| c.is_ascii_alphanumeric() || b"/-_.~%".contains(&c);
    if !path.starts_with('/') || !path.bytes().all(path_ok) || path.contains("//") {
        return Err(format!("path {path:?}"));
    }
    if let Some(q) = query {
        let pair_ok = |p: &str| {
            p.split_once('=').is_some_and(|(k, v)| {
                !k.is_empty()
                    && k.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
                    && v.bytes().all(|c| c.is_ascii_alphanumeric() || b"+-_.%".contains(&c))
            })
        };
        if q.is_empty() || !q.split('&').all(pair_ok) {
            return Err(format!("query {q:?}"));
        }
    }
    let v = version.as_bytes();
    if v.len() != 8 || !version.starts_with("HTTP/") || !v[5].is_ascii_digit() || v[6] != b'.' || !v[7].is_ascii_digit()
    {
        return Err(format!("version {version:?}"));
    }
    Ok((method.to_owned(), target.to_owned(), version.to_owned()))
}

/// Checks one line strictly and returns its parts.
pub fn parse_line(line: &str) -> Result<Parsed, String> {
    let mut c = Cursor { rest: line };
    let host = c.until(' ')?;
    if !is_ipv4(host) && !is_hostname(host) {
        return Err(format!("host {host:?}"));
    }
    c.expect(" ")?;
    let ident = c.until(' ')?;
    c.expect(" ")?;
    let user = c.until(' ')?;
    if !is_name_or_dash(ident) || !is_name_or_dash(user) {
        return Err(format!("ident/user {ident:?} {user:?}"));
    }
    c.expect(" [")?;
    check_time(c.until(']')?)?;
    c.expect("] ")?;
    let request = c.quoted()?;
    let (method, path, version) = check_request(request)?;
    c.expect(" ")?;
    let status = c.until(' ')?;
    let status = digits(status, 3)?;
    if !(100..=599).contains(&status) {
        return Err(format!("status {status}"));
    }
    c.expect(" ")?;
    let size = c.until(' ')?;
    let size = match size {
        "-" => None,
        s if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && !s.starts_with('0') => Some(s.parse().unwrap()),
        s => return Err(format!("size {s:?}")),
    };
    c.expect(" ")?;
    let referer = c.quoted()?;
    if referer != "-" {
        let scheme = referer.split_once("://").map(|(s, _)| s).ok_or_else(|| format!("referer {referer:?}"))?;
        if scheme.is_empty() || !scheme.bytes().all(|b| b.is_ascii_lowercase() || b == b'-') {
            return Err(format!("referer scheme {referer:?}"));
        }
    }
    c.expect(" ")?;
    let agent = c.quoted()?;
    if agent.is_empty() {
        return Err("empty user agent".into());
    }
    if !c.rest.is_empty() {
        return Err(format!("trailing text {:?}", c.rest));
    }
    Ok(Parsed {
        host: host.to_owned(),
        ident: ident.to_owned(),
        user: user.to_owned(),
        method,
        path,
        version,
        status: status as u16,
        size,
        referer: referer.to_owned(),
        agent: agent.to_owned(),
    })
}

/// Splits a block into lines (it must end with a newline) and parses each.
pub fn parse_block(block: &[u8]) -> Vec<Parsed> {
    let text = std::str::from_utf8(block).expect("a block is UTF-8");
    let body = text.strip_suffix('\n').expect("a block ends with a newline");
    body.split('\n').map(|l| parse_line(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
}
