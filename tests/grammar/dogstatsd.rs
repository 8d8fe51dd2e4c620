//! DogStatsD datagrams: a grammar written from the DogStatsD datagram reference, independent of
//! the generator. Names are `[a-zA-Z][a-zA-Z0-9_.]*` as payforge writes them, or taken verbatim
//! from a config's lists ([`Lists`]).

use std::cell::RefCell;

thread_local! {
    /// The user lists of the config whose block is being checked (empty: random names only).
    static LISTS: RefCell<Lists> = RefCell::new(Lists::default());
}

/// Names a config gives verbatim, which the grammar accepts besides identifiers.
#[derive(Debug, Clone, Default)]
pub struct Lists {
    /// `metric_names`.
    pub metric_names: Vec<String>,
    /// `tag_names`.
    pub tag_names: Vec<String>,
    /// `tag_values`.
    pub tag_values: Vec<String>,
}

/// Runs `check` with `lists` as the accepted user names.
pub fn with_lists<T>(lists: Lists, check: impl FnOnce() -> T) -> T {
    let old = LISTS.with(|l| l.replace(lists));
    let out = check();
    LISTS.with(|l| l.replace(old));
    out
}

fn listed(pick: impl Fn(&Lists) -> &Vec<String>, s: &str) -> bool {
    LISTS.with(|l| pick(&l.borrow()).iter().any(|n| n == s))
}

/// `[a-zA-Z][a-zA-Z0-9_.]*`: metric, tag-key and service check names as payforge writes them.
pub fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

pub fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

pub fn check_unix(s: &str, what: &str) -> Result<(), String> {
    if is_digits(s) && s.parse::<u32>().is_ok() { Ok(()) } else { Err(format!("bad {what} timestamp {s:?}")) }
}

pub fn check_free_text(s: &str, what: &str) -> Result<(), String> {
    if s.is_empty() || s.contains(['|', '\n', '\r']) { Err(format!("bad {what} {s:?}")) } else { Ok(()) }
}

/// `#k:v,k:v`: at least one tag, each with a key and a value.
pub fn check_tags(s: &str) -> Result<(), String> {
    let body = s.strip_prefix('#').ok_or_else(|| format!("tags must start with #: {s:?}"))?;
    for tag in body.split(',') {
        let (key, value) = tag.split_once(':').ok_or_else(|| format!("tag without colon: {tag:?}"))?;
        let key_ok = is_ident(key) || listed(|l| &l.tag_names, key);
        let value_ok = !value.is_empty() && !value.contains('|') || listed(|l| &l.tag_values, value);
        if !key_ok || !value_ok {
            return Err(format!("bad tag {tag:?}"));
        }
    }
    Ok(())
}

/// Optional fields that must appear in `order` (each at most once).
pub fn check_ordered_fields<'a>(
    fields: impl Iterator<Item = &'a str>,
    order: &[&str],
    mut check: impl FnMut(&str, &'a str) -> Result<(), String>,
) -> Result<(), String> {
    let mut next = 0;
    for field in fields {
        let rank = order
            .iter()
            .enumerate()
            .skip(next)
            .find(|(_, p)| field.starts_with(**p))
            .map(|(i, _)| i)
            .ok_or_else(|| format!("unexpected or out-of-order field {field:?}"))?;
        let prefix = order[rank];
        check(prefix, if prefix == "#" { field } else { &field[prefix.len()..] })?;
        next = rank + 1;
    }
    Ok(())
}

pub fn check_metric(line: &str) -> Result<(), String> {
    let (name, rest) = line.split_once(':').ok_or("metric without value")?;
    if !is_ident(name) && !listed(|l| &l.metric_names, name) {
        return Err(format!("bad metric name {name:?}"));
    }
    let mut fields = rest.split('|');
    let values: Vec<&str> = fields.next().unwrap().split(':').collect();
    for v in &values {
        let ok = v.parse::<i64>().is_ok() || v.parse::<f64>().is_ok_and(f64::is_finite);
        if !ok || v.is_empty() {
            return Err(format!("bad value {v:?}"));
        }
    }
    let ty = fields.next().ok_or("metric without type")?;
    if !["c", "g", "ms", "h", "s", "d"].contains(&ty) {
        return Err(format!("bad metric type {ty:?}"));
    }
    if ty == "s" && values.len() != 1 {
        return Err("a set carries exactly one value".into());
    }
    check_ordered_fields(fields, &["@", "#", "c:", "e:", "card:", "T"], |prefix, v| match prefix {
        "@" => match v.parse::<f64>() {
            Ok(r) if r > 0.0 && r <= 1.0 && !v.contains(['+']) => Ok(()),
            _ => Err(format!("bad sample rate {v:?}")),
        },
        "#" => check_tags(v),
        "T" if ty == "c" || ty == "g" => check_unix(v, "metric"),
        "T" => Err(format!("|T on a {ty} metric")),
        _ => check_free_text(v, prefix),
    })
}

pub fn check_event(line: &str) -> Result<(), String> {
    let rest = line.strip_prefix("_e{").ok_or("event must start with _e{")?;
    let (lengths, rest) = rest.split_once("}:").ok_or("event without }:")?;
    let (title_len, text_len) = lengths.split_once(',').ok_or("event lengths need a comma")?;
    if !is_digits(title_len) || !is_digits(text_len) {
        return Err(format!("bad event lengths {lengths:?}"));
    }
    let (title_len, text_len): (usize, usize) = (title_len.parse().unwrap(), text_len.parse().unwrap());
    let bytes = rest.as_bytes();
    if bytes.len() < title_len + 1 + text_len || bytes[title_len] != b'|' {
        return Err(format!("title length {title_len} does not match the title"));
    }
    let title = &rest[..title_len];
    let text = &rest[title_len + 1..title_len + 1 + text_len];
    check_free_text(title, "event title")?;
    check_free_text(text, "event text")?;
    let tail = &rest[title_len + 1 + text_len..];
    if tail.is_empty() {
        return Ok(());
    }
    let tail = tail.strip_prefix('|').ok_or_else(|| format!("text length {text_len} does not match the text"))?;
    check_ordered_fields(tail.split('|'), &["d:", "h:", "p:", "t:", "k:", "s:", "#"], |prefix, v| match prefix {
        "d:" => check_unix(v, "event"),
        "p:" if ["low", "normal"].contains(&v) => Ok(()),
        "t:" if ["error", "warning", "info", "success"].contains(&v) => Ok(()),
        "p:" | "t:" => Err(format!("bad {prefix} {v:?}")),
        "#" => check_tags(v),
        _ => check_free_text(v, prefix),
    })
}

pub fn check_service_check(line: &str) -> Result<(), String> {
    let mut fields = line.strip_prefix("_sc|").ok_or("service check must start with _sc|")?.split('|');
    let name = fields.next().unwrap();
    if !is_ident(name) {
        return Err(format!("bad service check name {name:?}"));
    }
    let status = fields.next().ok_or("service check without status")?;
    if !["0", "1", "2", "3"].contains(&status) {
        return Err(format!("bad status {status:?}"));
    }
    // `m:` is last: it is the final rank, so nothing may follow it.
    check_ordered_fields(fields, &["d:", "h:", "#", "m:"], |prefix, v| match prefix {
        "d:" => check_unix(v, "service check"),
        "#" => check_tags(v),
        _ => check_free_text(v, prefix),
    })
}

/// Checks one datagram (without its newline) and says which kind it is.
pub fn check_line(line: &str) -> Result<&'static str, String> {
    if line.starts_with("_e{") {
        check_event(line).map(|()| "event")
    } else if line.starts_with("_sc|") {
        check_service_check(line).map(|()| "service_check")
    } else {
        check_metric(line).map(|()| "metric")
    }
}

/// Checks a whole block and returns its lines' kinds.
pub fn check_block(block: &[u8], length_prefixed: bool) -> Vec<&'static str> {
    let body = if length_prefixed {
        assert!(block.len() >= 4, "a length-prefixed block has a 4-byte header");
        let len = u32::from_le_bytes(block[..4].try_into().unwrap()) as usize;
        assert_eq!(len, block.len() - 4, "the prefix must equal the content length");
        &block[4..]
    } else {
        block
    };
    let text = std::str::from_utf8(body).expect("DogStatsD text is UTF-8");
    assert!(text.ends_with('\n'), "every line ends with a newline");
    text.lines().map(|line| check_line(line).unwrap_or_else(|e| panic!("{e}\nline: {line}"))).collect()
}
