//! The `payforge` binary, run as a user would: output shape, identical fingerprints across
//! strategies, and a clear non-zero exit (never a panic) for every kind of bad input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Read;
use std::process::{Command, Output, Stdio};

fn payforge(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_payforge")).args(args).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn fingerprints_match_across_strategies_for_every_format() {
    for format in ["syslog5424", "datadog-logs", "trace-v04", "dogstatsd"] {
        let mut seen = Vec::new();
        for strategy in ["auto", "fresh-reencode", "reuse-reencode", "fresh-encode-once", "reuse-encode-once"] {
            let o = payforge(&[
                "generate",
                format,
                "--seed",
                "9",
                "--block-size",
                "64KiB",
                "--blocks",
                "3",
                "--strategy",
                strategy,
                "--fingerprint",
            ]);
            assert!(o.status.success(), "{format} {strategy}: {}", stderr(&o));
            let line = String::from_utf8(o.stdout).unwrap();
            let fp: payforge::cli::Fingerprint = line.trim().parse().unwrap();
            assert!(fp.entropy > 3.0 && fp.entropy < 8.0, "{line}");
            assert!(line.ends_with('\n') && line.lines().count() == 1, "{line:?}");
            seen.push(line);
        }
        assert!(seen.windows(2).all(|w| w[0] == w[1]), "{format}: {seen:?}");
    }
}

#[test]
fn output_file_dir_and_stdout_agree() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("all.log");
    let blocks = dir.path().join("blocks");
    let args = ["generate", "syslog5424", "--block-size", "4KiB", "--total", "12KiB"];
    let to_stdout = payforge(&args);
    assert!(to_stdout.status.success(), "{}", stderr(&to_stdout));
    let o = payforge(&[&args[..], &["-o", file.to_str().unwrap()]].concat());
    assert!(o.status.success() && o.stdout.is_empty());
    let o = payforge(&[&args[..], &["--output-dir", blocks.to_str().unwrap()]].concat());
    assert!(o.status.success());
    let written = std::fs::read(&file).unwrap();
    assert_eq!(written, to_stdout.stdout);
    let mut joined = Vec::new();
    for i in 0..3 {
        let block = std::fs::read(blocks.join(format!("block-{i:06}.bin"))).unwrap();
        assert!(!block.is_empty() && block.len() <= 4096);
        joined.extend(block);
    }
    assert!(!blocks.join("block-000003.bin").exists());
    assert_eq!(joined, written);
}

#[test]
fn memory_stats_and_verbose_report_on_stderr() {
    let o = payforge(&[
        "generate",
        "dogstatsd",
        "--blocks",
        "2",
        "--block-size",
        "64KiB",
        "--fingerprint",
        "--memory-stats",
        "--verbose",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    for key in ["allocations", "deallocations", "reallocations", "bytes_allocated", "peak_live_bytes"] {
        for phase in ["setup", "generate"] {
            let prefix = format!("{phase}.{key}: ");
            let line =
                err.lines().find(|l| l.starts_with(&prefix)).unwrap_or_else(|| panic!("{prefix} missing:\n{err}"));
            line[prefix.len()..].parse::<u64>().unwrap();
        }
    }
    assert!(err.contains("strategy: ") && err.contains("(auto)"), "{err}");
    assert!(err.contains("fill_mean: "), "{err}");
}

#[test]
fn closed_stdout_ends_quietly() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_payforge"))
        .args(["generate", "syslog5424", "--total", "256MiB", "--block-size", "1MiB"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 10];
    child.stdout.as_mut().unwrap().read_exact(&mut first).unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    let err = stderr(&o);
    assert!(!err.contains("panicked") && err.is_empty(), "{err}");
    assert!(o.status.success(), "{:?}", o.status);
}

#[test]
fn bad_input_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };
    let unknown_key = cfg("a.yaml", "hostnamez: 3\n");
    let min_max = cfg("b.yaml", "hostname_length: {inclusive: {min: 9, max: 2}}\n");
    let prob = cfg("c.yaml", "structured_data_probability: 1.5\n");
    let empty_pool = cfg("d.yaml", "ddsources: []\n");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["generate", "nope", "--blocks", "1"], "nope"),
        (vec!["generate", "syslog5424", "--blocks", "1", "--strategy", "fast"], "fast"),
        (vec!["generate", "syslog5424", "--blocks", "1", "--block-size", "12XB"], "12XB"),
        (vec!["generate", "syslog5424", "--blocks", "1", "--block-size", "0"], "block size"),
        (vec!["generate", "syslog5424", "--blocks", "0"], "block count"),
        (vec!["generate", "syslog5424", "--total", "1KiB", "--block-size", "4KiB"], "total"),
        (vec!["generate", "syslog5424", "--blocks", "1", "--block-size", "20"], "smallest"),
        (vec!["generate", "trace-v04", "--blocks", "1", "--block-size", "1"], "trace-v04"),
        (vec!["generate", "syslog5424", "--blocks", "1", "--config", &unknown_key], "hostnamez"),
        (vec!["generate", "syslog5424", "--blocks", "1", "--config", &min_max], "syslog5424.hostname_length"),
        (vec!["generate", "syslog5424", "--blocks", "1", "--config", &prob], "1.5"),
        (vec!["generate", "datadog-logs", "--blocks", "1", "--config", &empty_pool], "ddsources"),
        (vec!["generate", "syslog5424", "--blocks", "1", "--config", "/no/such/file.yaml"], "/no/such/file.yaml"),
        (vec!["generate", "syslog5424"], "--blocks"),
    ];
    for (args, needle) in cases {
        let o = payforge(&args);
        let err = stderr(&o);
        assert!(!o.status.success(), "{args:?} succeeded");
        assert!(o.stdout.is_empty(), "{args:?} wrote to stdout");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
fn help_lists_every_flag() {
    let o = payforge(&["generate", "--help"]);
    let out = String::from_utf8(o.stdout).unwrap();
    for flag in [
        "--config",
        "--seed",
        "--block-size",
        "--blocks",
        "--total",
        "--strategy",
        "--output",
        "--output-dir",
        "--fingerprint",
        "--memory-stats",
        "--max-setup-memory",
    ] {
        assert!(out.contains(flag), "{flag} missing from help");
    }
}

#[test]
fn setup_memory_ceiling_and_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.yaml");
    std::fs::write(&big, "contexts: {constant: 200000}\nresource_name_length: {constant: 3000}\n").unwrap();
    let big = big.to_str().unwrap();
    // About 600 MB of contexts: over a 64 MiB ceiling, a config error naming the keys, before
    // anything is built.
    let o = payforge(&["generate", "trace-v04", "--config", big, "--blocks", "1", "--max-setup-memory", "64MiB"]);
    let err = stderr(&o);
    assert!(!o.status.success() && o.stdout.is_empty(), "{err}");
    assert!(err.contains("ceiling of 67108864 bytes (64MiB)") && err.contains("`trace_v04.contexts`"), "{err}");
    assert!(err.contains("`trace_v04.resource_name_length` = {constant: 3000}") && !err.contains("panicked"), "{err}");
    let o = payforge(&["generate", "trace-v04", "--blocks", "1", "--max-setup-memory", "lots"]);
    assert!(!o.status.success() && stderr(&o).contains("lots"), "{}", stderr(&o));

    // lading's defaults load; the normalizer warning is one line on stderr and the blocks flow.
    let lading = dir.path().join("lading.yaml");
    std::fs::write(
        &lading,
        "variant:\n  trace_agent:\n    v0.4:\n      service_name_length: {inclusive: {min: 0, max: 128}}\n",
    )
    .unwrap();
    let o =
        payforge(&["generate", "trace-v04", "--config", lading.to_str().unwrap(), "--blocks", "2", "--fingerprint"]);
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    let warnings: Vec<&str> = err.lines().filter(|l| l.starts_with("payforge: warning:")).collect();
    assert_eq!(warnings.len(), 1, "{err}");
    assert!(warnings[0].contains("`trace_v04.service_name_length`"), "{err}");
    let o = payforge(&["generate", "trace-v04", "--blocks", "2", "--fingerprint"]);
    assert!(o.status.success() && !stderr(&o).contains("warning"), "{}", stderr(&o));
}
