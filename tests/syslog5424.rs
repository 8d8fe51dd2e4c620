//! RFC 5424 conformance of every syslog line, checked by a strict header grammar written here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use payforge::{BlockRng, Strategy};

mod grammar;

use grammar::syslog5424::check_line;

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
