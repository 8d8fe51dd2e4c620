//! RFC 5424 conformance of a syslog line: a strict header grammar written from the RFC,
//! independent of the generator.

/// Printable US-ASCII without space (RFC 5424 PRINTUSASCII).
pub fn printusascii(s: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&s.len()) && s.bytes().all(|b| (33..=126).contains(&b))
}

/// `<PRI>`, no leading zeros, 0..=191. Returns the rest.
pub fn pri(line: &str) -> Result<&str, String> {
    let rest = line.strip_prefix('<').ok_or("no <")?;
    let end = rest.find('>').ok_or("no >")?;
    let digits = &rest[..end];
    if digits.is_empty() || digits.len() > 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("PRI {digits:?}"));
    }
    if digits.len() > 1 && digits.starts_with('0') {
        return Err(format!("PRI leading zero {digits:?}"));
    }
    if digits.parse::<u32>().unwrap() > 191 {
        return Err(format!("PRI {digits} > 191"));
    }
    Ok(&rest[end + 1..])
}

/// `YYYY-MM-DDTHH:MM:SS.fffZ` with real calendar ranges.
pub fn timestamp(t: &str) -> Result<(), String> {
    let b = t.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Result<u32, String> {
        let s = t.get(r.clone()).ok_or("short timestamp")?;
        if !s.bytes().all(|c| c.is_ascii_digit()) {
            return Err(format!("timestamp digits {s:?}"));
        }
        Ok(s.parse().unwrap())
    };
    if b.len() != 24
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'.'
        || b[23] != b'Z'
    {
        return Err(format!("timestamp shape {t:?}"));
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if !(1..=12).contains(&month) || day == 0 || day > days[(month - 1) as usize] {
        return Err(format!("date {t:?}"));
    }
    if num(11..13)? > 23 || num(14..16)? > 59 || num(17..19)? > 59 {
        return Err(format!("time {t:?}"));
    }
    num(20..23).map(|_| ())
}

/// STRUCTURED-DATA: `-` or elements; returns the rest after it.
pub fn structured_data(s: &str) -> Result<&str, String> {
    if let Some(rest) = s.strip_prefix('-') {
        return Ok(rest);
    }
    let mut rest = s;
    let mut count = 0;
    while let Some(r) = rest.strip_prefix('[') {
        count += 1;
        let name_end = r.find([' ', ']']).ok_or("unterminated SD-ELEMENT")?;
        sd_name(&r[..name_end], true)?;
        let mut r = &r[name_end..];
        while let Some(p) = r.strip_prefix(' ') {
            let eq = p.find('=').ok_or("SD-PARAM without =")?;
            sd_name(&p[..eq], false)?;
            let mut chars = p[eq + 1..].strip_prefix('"').ok_or("PARAM-VALUE not quoted")?.char_indices();
            let close = loop {
                match chars.next() {
                    Some((_, '\\')) => match chars.next() {
                        Some((_, '"' | '\\' | ']')) => {}
                        other => return Err(format!("bad escape {other:?}")),
                    },
                    Some((i, '"')) => break i,
                    Some((_, ']')) => return Err("unescaped ] in PARAM-VALUE".into()),
                    Some(_) => {}
                    None => return Err("unterminated PARAM-VALUE".into()),
                }
            };
            r = &p[eq + 2 + close + 1..];
        }
        rest = r.strip_prefix(']').ok_or("SD-ELEMENT not closed")?;
    }
    if count == 0 { Err(format!("STRUCTURED-DATA {s:?}")) } else { Ok(rest) }
}

/// SD-NAME: 1..=32 PRINTUSASCII except `=`, space, `]`, `"`; an SD-ID may carry `@enterprise`.
pub fn sd_name(name: &str, is_id: bool) -> Result<(), String> {
    let ok = |s: &str| printusascii(s, 1, 32) && !s.contains(['=', ' ', ']', '"']);
    let valid = match name.split_once('@') {
        Some((n, ent)) if is_id => ok(n) && !ent.is_empty() && ent.bytes().all(|b| b.is_ascii_digit() || b == b'.'),
        _ => ok(name) && !name.contains('@'),
    };
    if valid { Ok(()) } else { Err(format!("SD-NAME {name:?}")) }
}

/// Checks one line strictly; the message must be a JSON object.
pub fn check_line(line: &str) -> Result<(), String> {
    let rest = pri(line)?;
    let rest = rest.strip_prefix("1 ").ok_or("VERSION must be 1")?;
    let mut fields = rest.splitn(6, ' ');
    let mut next = || fields.next().ok_or("missing header field");
    timestamp(next()?)?;
    for (what, max) in [("HOSTNAME", 255), ("APP-NAME", 48), ("PROCID", 128), ("MSGID", 32)] {
        let f = next()?;
        if !printusascii(f, 1, max) {
            return Err(format!("{what} {f:?}"));
        }
    }
    let rest = structured_data(next()?)?;
    let msg = rest.strip_prefix(' ').ok_or("no MSG")?;
    let v: serde_json::Value = serde_json::from_str(msg).map_err(|e| format!("MSG not JSON: {e}"))?;
    if !v.is_object() {
        return Err("MSG not an object".into());
    }
    Ok(())
}

/// Checks every line of a block (newline-terminated lines).
///
/// # Errors
/// The first line that breaks the grammar, and why.
pub fn check_block(block: &[u8]) -> Result<usize, String> {
    let text = std::str::from_utf8(block).map_err(|e| format!("not UTF-8: {e}"))?;
    if !text.ends_with('\n') {
        return Err("the block does not end with a newline".into());
    }
    let mut lines = 0;
    for line in text.lines() {
        check_line(line).map_err(|e| format!("{e}\nline: {line}"))?;
        lines += 1;
    }
    Ok(lines)
}
