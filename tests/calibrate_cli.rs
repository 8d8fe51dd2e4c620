//! `payforge calibrate` end to end at a tiny volume: the table, the selection file, the report
//! and the chart; and the bad inputs that must fail before anything is written.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Output};

use payforge::Selection;
use payforge::Strategy;

fn payforge(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_payforge")).args(args).current_dir(dir).env("NO_COLOR", "1").output().unwrap()
}

const TINY: [&str; 5] = ["calibrate", "--volume", "256KiB", "--repetitions", "1"];

#[test]
fn tiny_calibration_writes_every_output() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("payload-fixtures");
    let mut args = TINY.to_vec();
    let config_dir = fixtures.to_str().unwrap();
    args.extend(["--block-sizes", "4KiB,64KiB", "--config-dir", config_dir, "--seed", "5"]);
    args.extend(["--write", "sel.toml", "--report", "report.md", "--plot", "chart.svg"]);
    let out = payforge(&args, dir.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");

    // One row per (format, block size, strategy), exactly one chosen per group.
    for kind in payforge::Registry::builtin().specs() {
        for block in ["4KiB", "64KiB"] {
            let rows: Vec<&str> = stdout
                .lines()
                .filter(|l| l.starts_with(kind.name()) && l.split_whitespace().nth(1) == Some(block))
                .collect();
            assert_eq!(rows.len(), Strategy::ALL.len(), "{kind} {block}:\n{stdout}");
            for s in Strategy::ALL {
                assert!(rows.iter().any(|r| r.split_whitespace().nth(2) == Some(s.name())), "{kind} {block} {s}");
            }
            assert_eq!(rows.iter().filter(|r| r.ends_with('✔')).count(), 1, "{kind} {block}:\n{stdout}");
        }
    }
    assert!(stdout.lines().next().unwrap().contains("allocs/MiB"), "{stdout}");

    let sel = Selection::parse(&std::fs::read_to_string(dir.path().join("sel.toml")).unwrap()).unwrap();
    assert_eq!(sel.entries.len(), payforge::Registry::builtin().specs().len() * 2);
    for kind in payforge::Registry::builtin().specs() {
        for size in [4096u64, 65_536] {
            let e = sel.entry(kind.name(), payforge::Compression::None, size).unwrap();
            assert_eq!(e.block_size, size);
            assert!(!e.rule.is_empty() && e.mib_per_s > 0.0 && e.amplification >= 1.0, "{e:?}");
        }
    }
    let report = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(report.contains("Machine:") && report.contains("cores") && report.contains("| format |"), "{report}");
    assert!(report.contains("](chart.svg)"), "{report}");
    // The report names the commit it measured: the one git sees where calibrate ran (here a
    // temporary directory, so none).
    let head = Command::new("git").args(["rev-parse", "--short=12", "HEAD"]).current_dir(dir.path()).output().ok();
    let commit = match head.filter(|o| o.status.success()) {
        Some(o) => String::from_utf8(o.stdout).unwrap().trim().to_owned(),
        None => "unknown (not a git checkout)".to_owned(),
    };
    assert!(report.contains(&format!("- Commit: {commit}")), "{commit}:\n{report}");
    assert!(sel.measured_on.contains(&format!("commit {commit}")), "{}", sel.measured_on);
    let svg = std::fs::read_to_string(dir.path().join("chart.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert!(
        payforge::Registry::builtin().specs().iter().all(|k| svg.contains(k.name()))
            && svg.contains("allocations per MiB")
    );
    // No temporary files left behind.
    let names: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(names.len(), 3, "{names:?}");

    // Calibrating one format keeps the other formats' entries of the file it replaces.
    let out = payforge(
        &[&TINY[..], &["--block-sizes", "4KiB", "--formats", "syslog5424", "--write", "sel.toml"]].concat(),
        dir.path(),
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let again = Selection::parse(&std::fs::read_to_string(dir.path().join("sel.toml")).unwrap()).unwrap();
    assert_eq!(again.entries.iter().filter(|e| e.format == "syslog5424").count(), 1);
    assert_eq!(again.entries.len(), sel.entries.len() - 1);
}

#[test]
fn bad_input_fails_clearly_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&[&str], &str); 9] = [
        (&["--formats", "syslog,json"], "invalid format \"syslog\""),
        (&["--formats", ""], "format list"),
        (&["--formats", "syslog5424,,datadog-logs"], "empty item"),
        (&["--block-sizes", ""], "block-size list"),
        (&["--block-sizes", "4KiB,lots"], "block size"),
        (&["--block-sizes", "4KiB,512KiB"], "smaller than one block of 512KiB"),
        (&["--repetitions", "0"], "repetitions"),
        (&["--write", "missing-dir/sel.toml"], "missing-dir/sel.toml"),
        (&["--block-sizes", "16"], "below the smallest block"),
    ];
    for (extra, needle) in cases {
        let mut args = vec!["calibrate", "--volume", "256KiB"];
        for (flag, value) in [("--write", "sel.toml"), ("--block-sizes", "4KiB")] {
            if !extra.contains(&flag) {
                args.extend([flag, value]);
            }
        }
        args.extend(extra);
        let out = payforge(&args, dir.path());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{extra:?}: {stderr}");
        assert!(stderr.contains(needle), "{extra:?}: expected {needle:?} in {stderr}");
        assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none(), "{extra:?} left files behind");
    }
    let out = payforge(&["calibrate", "--config-dir", "nowhere"], dir.path());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a directory"));
    let out = payforge(&["calibrate", "--volume", "64KiB", "--block-sizes", "4KiB", "--report", "."], dir.path());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is a directory"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn example_configs_load_and_syslog_spells_out_its_defaults() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("payload-fixtures");
    for &kind in payforge::Registry::builtin().specs() {
        let path = fixtures.join(kind.name()).join("config.yaml");
        if path.is_file() {
            let config = kind.load_config(&path).unwrap();
            config.build(0, Strategy::REUSE_ENCODE_ONCE).unwrap();
        }
    }
    let syslog = payforge::FormatSpec::of::<payforge::formats::Syslog5424>()
        .load_config(&fixtures.join("syslog5424/config.yaml"))
        .unwrap();
    assert_eq!(
        syslog.to_yaml().unwrap(),
        payforge::FormatConfig::default_of::<payforge::formats::Syslog5424>().to_yaml().unwrap()
    );
}

/// Run inside this checkout, the report names its HEAD commit (and says so when tracked files
/// differ from it).
#[test]
fn the_report_names_the_commit_it_measured() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.md");
    let mut args = TINY.to_vec();
    args.extend(["--formats", "dogstatsd", "--block-sizes", "4KiB", "--report", report.to_str().unwrap()]);
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let git = |args: &[&str]| {
        let o = Command::new("git").args(args).current_dir(here).output().unwrap();
        o.status.success().then(|| String::from_utf8(o.stdout).unwrap().trim().to_owned())
    };
    let Some(head) = git(&["rev-parse", "--short=12", "HEAD"]) else {
        eprintln!("skipped: the package is not in a git checkout");
        return;
    };
    let outputs = [
        ":(exclude,glob)payload-fixtures/*.md",
        ":(exclude,glob)payload-fixtures/*.svg",
        ":(exclude)payload-fixtures/strategies.toml",
    ];
    let mut status = vec!["status", "--porcelain", "--untracked-files=no", "--", "."];
    status.extend(outputs);
    let dirty = !git(&status).unwrap().is_empty();
    let out = payforge(&args, here);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&report).unwrap();
    let line = text.lines().find(|l| l.starts_with("- Commit: ")).unwrap();
    let expected = if dirty { format!("- Commit: {head} + uncommitted changes") } else { format!("- Commit: {head}") };
    assert_eq!(line, expected);
}
