//! `payforge check` against copies of the committed fixtures: an untouched copy passes, and a
//! copy with one worsened baseline number and one altered fingerprint fails naming exactly those
//! two regressions.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;

/// Copies `payload-fixtures/` (one level of folders) into a new temporary directory.
fn copy_fixtures() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir("payload-fixtures").unwrap() {
        let path = entry.unwrap().path();
        let target = dir.path().join(path.file_name().unwrap());
        if path.is_dir() {
            std::fs::create_dir(&target).unwrap();
            for file in std::fs::read_dir(&path).unwrap() {
                let file = file.unwrap().path();
                std::fs::copy(&file, target.join(file.file_name().unwrap())).unwrap();
            }
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
    dir
}

/// Runs `payforge check --fixtures dir`: (exit code, regression lines, summary line).
fn check(dir: &Path) -> (i32, Vec<String>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_payforge")).arg("check").arg("--fixtures").arg(dir).output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Regression lines are the six-column ones; every other line has a `:` in it.
    let regressions =
        stdout.lines().filter(|l| !l.contains(':') && l.split_whitespace().count() == 6).map(str::to_owned).collect();
    let summary = stdout.lines().last().unwrap_or_default().to_owned();
    (out.status.code().unwrap(), regressions, format!("{summary}\n--- stdout:\n{stdout}--- stderr:\n{stderr}"))
}

/// Checks `check` makes: 25 per fixture folder (a fingerprint, an entropy, the three other
/// strategies' hashes, and 5 gated measures per strategy).
fn checks(dir: &Path) -> usize {
    let folders = std::fs::read_dir(dir).unwrap().filter(|e| e.as_ref().unwrap().path().join("config.yaml").is_file());
    25 * folders.count()
}

fn edit(path: &Path, change: impl FnOnce(&mut toml::Table)) {
    let mut table: toml::Table = std::fs::read_to_string(path).unwrap().parse().unwrap();
    change(&mut table);
    std::fs::write(path, toml::to_string(&table).unwrap()).unwrap();
}

#[test]
fn untouched_copy_passes() {
    let dir = copy_fixtures();
    let (code, regressions, summary) = check(dir.path());
    assert_eq!(code, 0, "{summary}");
    assert!(regressions.is_empty(), "{summary}");
    let all = checks(dir.path());
    assert!(summary.starts_with(&format!("{all} passed, 0 failed\n")), "{summary}");
}

#[test]
fn worsened_copy_names_exactly_the_two_regressions() {
    let dir = copy_fixtures();
    // Halve a recorded allocation volume: the current run now allocates twice the baseline.
    let mut halved = 0.0;
    edit(&dir.path().join("dogstatsd/fixture.toml"), |t| {
        let value = t["baseline"]["fresh-reencode"]["bytes_allocated_per_block"].as_float().unwrap();
        halved = value / 2.0;
        t["baseline"].as_table_mut().unwrap()["fresh-reencode"].as_table_mut().unwrap()["bytes_allocated_per_block"] =
            toml::Value::Float(halved);
    });
    // Flip the first hex digit of a fingerprint, keeping its entropy.
    let mut golden = String::new();
    edit(&dir.path().join("trace-v04/fixture.toml"), |t| {
        let line = t["fingerprint"].as_str().unwrap().to_owned();
        let first = if line.starts_with('0') { "1" } else { "0" };
        golden = format!("{first}{}", &line[1..]);
        t["fingerprint"] = toml::Value::String(golden.clone());
    });

    let (code, regressions, summary) = check(dir.path());
    assert_eq!(code, 1, "{summary}");
    assert_eq!(regressions.len(), 2, "{summary}");
    let alloc: Vec<&str> = regressions[0].split_whitespace().collect();
    assert_eq!(
        alloc[..4],
        ["dogstatsd", "fresh-reencode", "bytes_allocated_per_block", &halved.to_string()],
        "{summary}"
    );
    assert_eq!(alloc[5], "+100.00%", "{summary}");
    let fp: Vec<&str> = regressions[1].split_whitespace().collect();
    let golden_sha = golden.split_whitespace().next().unwrap();
    assert_eq!(fp[..4], ["trace-v04", "all", "sha256", golden_sha], "{summary}");
    assert_eq!(fp[5], "n/a", "{summary}");
    let all = checks(dir.path());
    assert!(summary.starts_with(&format!("{} passed, 2 failed\n", all - 2)), "{summary}");
}

#[test]
fn another_toolchain_keeps_fingerprints_and_zero_allocations_but_not_exact_counts() {
    let dir = copy_fixtures();
    // Fake the toolchain that blessed the fixtures, and worsen an exact count: it is reported as
    // not comparable, and the check still passes.
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let fixture = entry.unwrap().path().join("fixture.toml");
        if fixture.is_file() {
            edit(&fixture, |t| {
                t["toolchain"] = toml::Value::String("rustc 1.0.0 (faked 2015-05-15)".into());
            });
        }
    }
    edit(&dir.path().join("syslog5424/fixture.toml"), |t| {
        t["baseline"].as_table_mut().unwrap()["fresh-reencode"].as_table_mut().unwrap()["peak_live_bytes"] =
            toml::Value::Integer(1000);
    });
    let (code, regressions, summary) = check(dir.path());
    assert_eq!(code, 0, "{summary}");
    assert!(regressions.is_empty(), "{summary}");
    assert!(
        summary.contains("note: syslog5424 was blessed with rustc 1.0.0 (faked 2015-05-15); this is rustc"),
        "{summary}"
    );
    assert!(summary.contains("not comparable: syslog5424 fresh-reencode peak_live_bytes 1000 "), "{summary}");
    // Fewer checks than on the blessing toolchain: per fixture 2 fingerprint checks, 3
    // cross-strategy hashes, fill and amplification per strategy, and the steady state of each
    // strategy that allocated nothing per block.
    let passed: usize = summary.split(' ').next().unwrap().parse().unwrap();
    assert!(summary.contains(" passed, 0 failed\n") && passed < checks(dir.path()), "{summary}");

    // A changed fingerprint fails on any toolchain.
    edit(&dir.path().join("trace-v04/fixture.toml"), |t| {
        let line = t["fingerprint"].as_str().unwrap().to_owned();
        let first = if line.starts_with('0') { "1" } else { "0" };
        t["fingerprint"] = toml::Value::String(format!("{first}{}", &line[1..]));
    });
    let (code, regressions, summary) = check(dir.path());
    assert_eq!(code, 1, "{summary}");
    assert_eq!(regressions.len(), 1, "{summary}");
    assert!(regressions[0].starts_with("trace-v04 all sha256 "), "{summary}");
}
