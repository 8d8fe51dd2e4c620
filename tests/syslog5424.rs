//! RFC 5424 conformance of every syslog line, checked by a strict header grammar written here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use payforge::{BlockRng, Strategy};

/// Printable US-ASCII without space (RFC 5424 PRINTUSASCII).
fn printusascii(s: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&s.len()) && s.bytes().all(|b| (33..=126).contains(&b))
}

/// `<PRI>`, no leading zeros, 0..=191. Returns the rest.
fn pri(line: &str) -> Result<&str, String> {
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
fn timestamp(t: &str) -> Result<(), String> {
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
fn structured_data(s: &str) -> Result<&str, String> {
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
fn sd_name(name: &str, is_id: bool) -> Result<(), String> {
    let ok = |s: &str| printusascii(s, 1, 32) && !s.contains(['=', ' ', ']', '"']);
    let valid = match name.split_once('@') {
        Some((n, ent)) if is_id => ok(n) && !ent.is_empty() && ent.bytes().all(|b| b.is_ascii_digit() || b == b'.'),
        _ => ok(name) && !name.contains('@'),
    };
    if valid { Ok(()) } else { Err(format!("SD-NAME {name:?}")) }
}

/// Checks one line strictly; the message must be a JSON object.
fn check_line(line: &str) -> Result<(), String> {
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

#[test]
fn every_line_passes_the_grammar() {
    let mut with_sd = 0;
    for seed in 0..6u64 {
        for (i, budget) in [400usize, 4096, 65_536, 1 << 20].into_iter().enumerate() {
            let mut source = payforge::FormatConfig::default_of::<payforge::formats::Syslog5424>()
                .build(seed, Strategy::REUSE_ENCODE_ONCE)
                .unwrap();
            let (block, filled) = source.next_block(&mut BlockRng::for_block(seed, i as u64), budget).unwrap();
            assert!(block.len() <= budget && block.ends_with(b"\n"));
            let text = std::str::from_utf8(block).unwrap();
            let lines: Vec<&str> = text.strip_suffix('\n').unwrap().split('\n').collect();
            assert_eq!(lines.len(), filled.members);
            for line in lines {
                check_line(line).unwrap_or_else(|e| panic!("{e}: {line}"));
                with_sd += usize::from(line.contains("@32473"));
            }
        }
    }
    assert!(with_sd > 100, "structured data should appear with the default probability");
}

#[test]
fn the_grammar_checker_rejects_bad_lines() {
    let good = r#"<13>1 2024-01-01T00:00:00.000Z host app 12 ID [a@1 k="v\]"] {"a":1}"#;
    check_line(good).unwrap();
    for bad in [
        r#"<192>1 2024-01-01T00:00:00.000Z host app 12 ID - {"a":1}"#,
        r#"<013>1 2024-01-01T00:00:00.000Z host app 12 ID - {"a":1}"#,
        r#"<13>2 2024-01-01T00:00:00.000Z host app 12 ID - {"a":1}"#,
        r#"<13>1 2024-02-30T00:00:00.000Z host app 12 ID - {"a":1}"#,
        r#"<13>1 2024-01-01T00:00:00.000Z host app 12 THIS_MSGID_IS_LONGER_THAN_32_CHARS - {"a":1}"#,
        r#"<13>1 2024-01-01T00:00:00.000Z host app 12 ID [a k="v]"] {"a":1}"#,
        r#"<13>1 2024-01-01T00:00:00.000Z host app 12 ID - not json"#,
    ] {
        assert!(check_line(bad).is_err(), "accepted: {bad}");
    }
}

#[test]
fn min_member_len_is_a_lower_bound() {
    use payforge::{Configured, Format};
    let format = payforge::formats::syslog5424::Syslog5424::from_config(&Default::default(), 4).unwrap();
    let least = format.min_member_len();
    let mut rng = BlockRng::for_block(4, 0);
    let mut shortest = usize::MAX;
    let mut out = Vec::new();
    for _ in 0..20_000 {
        out.clear();
        format.encode(&format.generate(&mut rng), &mut out);
        shortest = shortest.min(out.len());
    }
    assert!(least <= shortest, "claimed {least}, saw {shortest}");
}

#[test]
fn fill_is_at_least_99_percent_at_64k_and_1m() {
    for budget in [65_536usize, 1 << 20] {
        let mut source = payforge::FormatConfig::default_of::<payforge::formats::Syslog5424>()
            .build(3, Strategy::REUSE_ENCODE_ONCE)
            .unwrap();
        let total: usize =
            (0..16).map(|i| source.next_block(&mut BlockRng::for_block(3, i), budget).unwrap().1.bytes).sum();
        let fill = total as f64 / (16 * budget) as f64;
        assert!(fill >= 0.99, "fill {fill} at {budget}");
    }
}

#[test]
fn config_errors_name_field_and_value() {
    let cases = [
        ("hostname_length: {inclusive: {min: 9, max: 2}}", "syslog5424.hostname_length"),
        ("app_name_length: {constant: 49}", "syslog5424.app_name_length"),
        ("msgid_length: {constant: 0}", "syslog5424.msgid_length"),
        ("structured_data_probability: 1.5", "1.5"),
        ("structured_data_probability: .nan", "NaN"),
        ("hostnames: 0", "syslog5424.hostnames"),
    ];
    for (yaml, needle) in cases {
        let config = payforge::FormatConfig::parse::<payforge::formats::Syslog5424>(yaml, "c.yaml".as_ref()).unwrap();
        let err = config.build(0, Strategy::REUSE_ENCODE_ONCE).err().unwrap().to_string();
        assert!(err.contains(needle), "{yaml}: {err}");
    }
    let err = payforge::FormatConfig::parse::<payforge::formats::Syslog5424>("hostnamez: 3", "c.yaml".as_ref())
        .unwrap_err()
        .to_string();
    assert!(err.contains("hostnamez") && err.contains("c.yaml"), "{err}");
}
