//! Every line is a well-formed Apache combined log line, checked by the strict grammar in
//! `common/`; the grammar itself rejects malformed lines; the config behaves like the built-in
//! formats' (defaults are the fixture's, errors name the field and value).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;

use payforge::kit::ConfRange;
use payforge::{BlockRng, FormatConfig, Strategy};
use payforge_apache::config::Config;
use payforge_apache::{ApacheCombined, has_no_body};

const FIXTURE_CONFIG: &str = "payload-fixtures/apache-combined/config.yaml";

fn fixture_config() -> FormatConfig {
    let text = std::fs::read_to_string(FIXTURE_CONFIG).unwrap();
    FormatConfig::parse::<ApacheCombined>(&text, FIXTURE_CONFIG.as_ref()).unwrap()
}

#[test]
fn every_line_passes_the_grammar() {
    let config = fixture_config();
    let (mut hostnames, mut dashes, mut referers, mut escaped, mut queries) = (0, 0, 0, 0, 0);
    let (mut methods, mut statuses) = (BTreeSet::new(), BTreeSet::new());
    let mut lines = 0;
    for seed in 0..6u64 {
        for (i, budget) in [400usize, 4096, 65_536, 1 << 20].into_iter().enumerate() {
            let mut source = config.build(seed, Strategy::REUSE_ENCODE_ONCE).unwrap();
            let (block, filled) = source.next_block(&mut BlockRng::for_block(seed, i as u64), budget).unwrap();
            assert!(block.len() <= budget);
            let parsed = common::parse_block(block);
            assert_eq!(parsed.len(), filled.members);
            for p in parsed {
                lines += 1;
                hostnames += usize::from(!p.host.bytes().all(|b| b.is_ascii_digit() || b == b'.'));
                referers += usize::from(p.referer != "-");
                escaped += usize::from(p.agent.contains('\\'));
                queries += usize::from(p.path.contains('?'));
                match p.size {
                    None => {
                        dashes += 1;
                        assert!(has_no_body(p.status) || p.method == "HEAD", "{p:?}");
                    }
                    Some(size) => {
                        assert!(!has_no_body(p.status) && p.method != "HEAD", "{p:?}");
                        assert!((200..=48_000).contains(&size), "{p:?}");
                    }
                }
                assert_eq!(p.ident, "-", "identity_probability is 0");
                methods.insert(p.method);
                statuses.insert(p.status);
            }
        }
    }
    // The defaults' mix shows up: ~10% hostnames, ~60% referers, ~25% queries, some dashes.
    assert!(lines > 10_000, "{lines}");
    let share = |n: usize| n as f64 / lines as f64;
    assert!((0.05..0.15).contains(&share(hostnames)), "hostnames {}", share(hostnames));
    assert!((0.5..0.7).contains(&share(referers)), "referers {}", share(referers));
    assert!((0.2..0.3).contains(&share(queries)), "queries {}", share(queries));
    assert!((0.05..0.2).contains(&share(dashes)), "dashes {}", share(dashes));
    assert!(escaped > 0, "some user agents need escaping");
    assert_eq!(methods.len(), 7, "{methods:?}");
    assert_eq!(statuses.len(), 12, "{statuses:?}");
}

#[test]
fn the_grammar_rejects_bad_lines() {
    let good = r#"203.0.113.9 - frank [10/Oct/2000:13:55:36 -0700] "GET /a/b.gif?x=1&y=z HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav) \"q\" \\ \x7f""#;
    let p = common::parse_line(good).unwrap();
    assert_eq!((p.method.as_str(), p.status, p.size), ("GET", 200, Some(2326)));
    common::parse_line(
        r#"crawl-66-249-66-1.googlebot.com - - [29/Feb/2024:00:00:00 +1400] "HEAD / HTTP/1.1" 304 - "-" "curl/8.0""#,
    )
    .unwrap();
    let bad = [
        r#"256.0.113.9 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 1 "-" "ua""#,
        r#"203.0.113 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 1 "-" "ua""#,
        r#"203.0.113.9 - - [31/Apr/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 1 "-" "ua""#,
        r#"203.0.113.9 - - [29/Feb/2023:13:55:36 -0700] "GET / HTTP/1.0" 200 1 "-" "ua""#,
        r#"203.0.113.9 - - [10/Oct/2000:24:55:36 -0700] "GET / HTTP/1.0" 200 1 "-" "ua""#,
        r#"203.0.113.9 - - [10/Oct/2000:13:55:36 -1300] "GET / HTTP/1.0" 200 1 "-" "ua""#,
        r#"203.0.113.9 - - [10/Oct/2000:13:55:36 0700] "GET / HTTP/1.0" 200 1 "-" "ua""#,
        r#"203.0.113.9 - - [10/oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 1 "-" "ua""#,
        r#"203.0.113.9 - - [10/Oct/2000:13:55:36 -0700] "get / HTTP/1.0" 200 1 "-" "ua""#,
        r#"203.0.113.9 - - [10/Oct/2000:13:55:36 -0700] "GET a HTTP/1.0" 200 1 "-" "ua""#,
        r#"203.0.113.9 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1" 200 1 "-" "ua""#,
        r#"203.0.113.9 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 2000 1 "-" "ua""#,
        r#"203.0.113.9 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 01 "-" "ua""#,
        r#"203.0.113.9 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 1 "-" "u"a""#,
        r#"203.0.113.9 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 1 "-" "u\qa""#,
        r#"203.0.113.9 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 1 "nope" "ua""#,
        r#"203.0.113.9 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 1 "-" "ua" x"#,
        r#"203.0.113.9 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 1 "-""#,
    ];
    for line in bad {
        assert!(common::parse_line(line).is_err(), "accepted: {line}");
    }
}

#[test]
fn the_fixture_config_spells_out_the_defaults() {
    assert_eq!(fixture_config().get::<ApacheCombined>(), Some(&Config::default()));
    // And an empty document gives them too.
    let empty = FormatConfig::parse::<ApacheCombined>("", "empty.yaml".as_ref()).unwrap();
    assert_eq!(empty.get::<ApacheCombined>(), Some(&Config::default()));
}

#[test]
fn config_errors_name_field_and_value() {
    let cases = [
        ("clients: 0", "`apache_combined.clients` = 0"),
        ("users: 2000000", "`apache_combined.users` = 2000000"),
        ("user_length: {inclusive: {min: 9, max: 2}}", "`apache_combined.user_length` = {inclusive: {min: 9, max: 2}}"),
        ("identity_probability: 1.5", "`apache_combined.identity_probability` = 1.5"),
        ("user_probability: .nan", "`apache_combined.user_probability` = NaN"),
        ("methods: []", "`apache_combined.methods` = []"),
        (
            "methods: [{method: GET, weight: 1}, {method: g e t, weight: 1}]",
            "`apache_combined.methods[1].method` = \"g e t\"",
        ),
        (
            "methods: [{method: GET, weight: 1}, {method: GET, weight: 2}]",
            "`apache_combined.methods[1].method` = \"GET\": listed twice",
        ),
        ("methods: [{method: GET, weight: -1}]", "`apache_combined.methods` = [-1.0]"),
        ("path_depth: {constant: 33}", "`apache_combined.path_depth` = {constant: 33}"),
        ("path_segment_length: {constant: 0}", "`apache_combined.path_segment_length` = {constant: 0}"),
        ("path_extensions: [.html, html]", "`apache_combined.path_extensions[1]` = \"html\""),
        ("query_params: {constant: 17}", "`apache_combined.query_params` = {constant: 17}"),
        ("http_versions: [{version: HTTP/11, weight: 1}]", "`apache_combined.http_versions[0].version` = \"HTTP/11\""),
        ("statuses: [{code: 200, weight: 1}, {code: 99, weight: 1}]", "`apache_combined.statuses[1].code` = 99"),
        ("statuses: [{code: 200, weight: 0}]", "`apache_combined.statuses` = [0.0]"),
        ("response_bytes: {inclusive: {min: 0, max: 2000000000000}}", "`apache_combined.response_bytes`"),
        ("site: Example.COM", "`apache_combined.site` = \"Example.COM\""),
        ("referers: 0", "`apache_combined.referers` = 0"),
        ("bot_user_agent_probability: -0.1", "`apache_combined.bot_user_agent_probability` = -0.1"),
        ("timestamp_s: {constant: 253402300799}", "`apache_combined.timestamp_s` = {constant: 253402300799}"),
        ("timezone_offsets: [\"+0000\", \"+1500\"]", "`apache_combined.timezone_offsets[1]` = \"+1500\""),
        ("timezone_offsets: [\"+0090\"]", "`apache_combined.timezone_offsets[0]` = \"+0090\""),
    ];
    for (yaml, needle) in cases {
        let config = FormatConfig::parse::<ApacheCombined>(yaml, "c.yaml".as_ref()).unwrap();
        let err = config.build(0, Strategy::REUSE_ENCODE_ONCE).err().unwrap().to_string();
        assert!(err.starts_with("invalid config: ") && err.contains(needle), "{yaml}: {err}");
    }
    for (yaml, needle) in [("clientz: 3", "clientz"), ("methods: [{method: GET}]", "weight"), ("site: [a]", "site")] {
        let err = FormatConfig::parse::<ApacheCombined>(yaml, "c.yaml".as_ref()).unwrap_err().to_string();
        assert!(err.contains(needle) && err.contains("c.yaml"), "{yaml}: {err}");
    }
}

#[test]
fn timezones_and_times_follow_the_config() {
    let config = Config {
        timezone_offsets: vec!["-0330".into()],
        timestamp_s: ConfRange::constant(0),
        user_probability: 1.0,
        identity_probability: 1.0,
        ..Config::default()
    };
    let mut source = FormatConfig::new::<ApacheCombined>(config).build(1, Strategy::REUSE_REENCODE).unwrap();
    let (block, _) = source.next_block(&mut BlockRng::for_block(1, 0), 8192).unwrap();
    for line in std::str::from_utf8(block).unwrap().lines() {
        assert!(line.contains(" [31/Dec/1969:20:30:00 -0330] "), "{line}");
        let p = common::parse_line(line).unwrap();
        assert!(p.ident != "-" && p.user != "-", "{line}");
    }
}
