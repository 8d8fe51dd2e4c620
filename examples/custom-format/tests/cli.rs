//! The `payforge-apache` binary, run as a user would: payforge's whole command line, with
//! `apache-combined` registered next to the built-in formats, and its golden fixture.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_payforge-apache")).args(args).output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const BUILTIN: [&str; 4] = ["syslog5424", "datadog-logs", "dogstatsd", "trace-v04"];

#[test]
fn golden_fixture_passes() {
    // Tests run in the crate's folder, which holds its own fixtures (only apache-combined).
    let o = run(&["check", "--fixtures", "payload-fixtures"]);
    let out = stdout(&o);
    assert!(o.status.success(), "{out}\n{}", stderr(&o));
    let last = out.lines().last().unwrap_or_default();
    assert_eq!(last, "25 passed, 0 failed", "{out}");
    assert!(out.contains("apache-combined"), "{out}");
}

#[test]
fn generate_output_parses_with_the_grammar() {
    let o = run(&["generate", "apache-combined", "--blocks", "2", "--block-size", "64KiB"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(o.stdout.len() <= 2 * 65_536 && o.stdout.len() > 2 * 64_000, "{} bytes", o.stdout.len());
    let lines = common::parse_block(&o.stdout);
    assert!(lines.len() > 400, "{} lines", lines.len());
    // The same bytes under every strategy and thread count, as for the built-in formats.
    let fingerprint = |extra: &[&str]| {
        let o =
            run(&[&["generate", "apache-combined", "--blocks", "3", "--block-size", "16KiB", "--fingerprint"], extra]
                .concat());
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o)
    };
    let auto = fingerprint(&[]);
    for extra in [
        &["--strategy", "fresh-reencode"][..],
        &["--strategy", "reuse-reencode"],
        &["--strategy", "fresh-encode-once"],
        &["--strategy", "reuse-encode-once", "--threads", "2"],
    ] {
        assert_eq!(fingerprint(extra), auto, "{extra:?}");
    }
}

#[test]
fn help_lists_apache_combined_with_the_builtins() {
    for args in [&["generate", "--help"][..], &["calibrate", "--help"]] {
        let o = run(args);
        assert!(o.status.success(), "{}", stderr(&o));
        let help = stdout(&o);
        for name in BUILTIN.iter().chain(&["apache-combined"]) {
            assert!(help.contains(name), "{args:?} does not list {name}:\n{help}");
        }
    }
    let help = stdout(&run(&["generate", "--help"]));
    assert!(help.contains("apache-combined: Apache combined access log lines"), "{help}");
}

#[test]
fn unknown_format_error_lists_apache_combined() {
    let o = run(&["generate", "apache", "--blocks", "1"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("'apache'") && err.contains("apache-combined") && err.contains("syslog5424"), "{err}");
    let o = run(&["calibrate", "--formats", "apache", "--volume", "64KiB", "--block-sizes", "4KiB"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("\"apache\"") && err.contains("apache-combined") && !err.contains("panicked"), "{err}");
}

#[test]
fn config_errors_name_the_field_and_value() {
    let dir = std::env::temp_dir().join(format!("payforge-apache-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cases = [
        ("clients: 0\n", "invalid config: `apache_combined.clients` = 0: must lie within 1..=1000000"),
        ("timezone_offsets: [\"+2500\"]\n", "`apache_combined.timezone_offsets[0]` = \"+2500\""),
        ("statuses: [{code: 700, weight: 1}]\n", "`apache_combined.statuses[0].code` = 700"),
        ("clientz: 3\n", "unknown field `clientz`"),
    ];
    for (i, (yaml, needle)) in cases.into_iter().enumerate() {
        let path = dir.join(format!("bad-{i}.yaml"));
        std::fs::write(&path, yaml).unwrap();
        let o = run(&["generate", "apache-combined", "--config", path.to_str().unwrap(), "--blocks", "1"]);
        assert_eq!(o.status.code(), Some(1), "{yaml}");
        let err = stderr(&o);
        assert!(err.starts_with("payforge-apache: error: ") && err.contains(needle), "{yaml}: {err}");
        assert!(o.stdout.is_empty() && !err.contains("panicked"), "{yaml}: {err}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn builtin_formats_still_work_in_this_binary() {
    for format in BUILTIN {
        let o = run(&["generate", format, "--blocks", "1", "--block-size", "4KiB", "--fingerprint"]);
        assert!(o.status.success(), "{format}: {}", stderr(&o));
    }
}

#[test]
fn auto_uses_the_embedded_selection_and_a_runtime_overlay() {
    let verbose = |extra: &[&str]| {
        let args = [
            &["generate", "apache-combined", "--blocks", "1", "--block-size", "64KiB", "--fingerprint", "--verbose"],
            extra,
        ]
        .concat();
        let o = run(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        (stdout(&o), stderr(&o))
    };
    let (embedded_fp, embedded) = verbose(&[]);
    assert!(embedded.contains("strategy: reuse-encode-once (auto)"), "{embedded}");
    let path = std::env::temp_dir().join(format!("payforge-apache-selection-{}.toml", std::process::id()));
    std::fs::write(
        &path,
        "version = 1\ndefault = \"reuse-encode-once\"\n\n[[selection]]\nformat = \"apache-combined\"\n\
         block_size = 65536\nstrategy = \"fresh-reencode\"\n",
    )
    .unwrap();
    let (overlay_fp, overlay) = verbose(&["--selection", path.to_str().unwrap()]);
    std::fs::remove_file(&path).unwrap();
    assert!(overlay.contains("strategy: fresh-reencode (auto)"), "{overlay}");
    assert_eq!(overlay_fp, embedded_fp, "the strategy never changes the bytes");
}
