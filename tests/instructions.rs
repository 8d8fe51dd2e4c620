//! `payforge instructions` end to end, with a stand-in for valgrind: a shell script that runs the
//! measured program as valgrind would and writes callgrind files whose instruction count comes
//! from the environment. So the gate's logic (cells, baselines file, bless, tolerance, new cells,
//! other tools) is checked in seconds; CI runs the real callgrind (`.ci/run`).
#![cfg(all(feature = "instructions", unix))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// Writes the fake valgrind into `dir`: `--version` prints `valgrind-fake-1`; otherwise it checks
/// that collection is toggled around the measured functions, runs the program with its
/// arguments, and writes the setup dump (`OUT.1`, 500 Ir) and the final dump (`OUT`, `$FAKE_IR`).
fn fake_valgrind(dir: &Path) -> PathBuf {
    let path = dir.join("valgrind");
    let script = r#"#!/bin/sh
out=""; toggled=""
while [ $# -gt 0 ]; do
  case "$1" in
    --version) echo "valgrind-fake-1"; exit 0 ;;
    --callgrind-out-file=*) out="${1#--callgrind-out-file=}"; shift ;;
    --toggle-collect=payforge::instructions::cell::instructions_measured_\*) toggled=1; shift ;;
    --*) shift ;;
    *) break ;;
  esac
done
[ -n "$toggled" ] || { echo "no --toggle-collect of the measured functions" >&2; exit 9; }
"$@" || exit $?
printf 'events: Ir\nsummary: 500\ntotals: 500\n' > "$out.1"
printf 'events: Ir\nsummary: %s\ntotals: %s\n' "$FAKE_IR" "$FAKE_IR" > "$out"
"#;
    std::fs::write(&path, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

struct Gate {
    dir: tempfile::TempDir,
    valgrind: PathBuf,
}

impl Gate {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let valgrind = fake_valgrind(dir.path());
        Self { dir, valgrind }
    }

    fn baselines(&self) -> PathBuf {
        self.dir.path().join("instructions.toml")
    }

    /// Runs the gate over dogstatsd's cells with `ir` instructions per cell: (exit code, stdout,
    /// stderr).
    fn run(&self, ir: u64, extra: &[&str]) -> (i32, String, String) {
        let mut command = Command::new(env!("CARGO_BIN_EXE_payforge"));
        command.args(["instructions", "--jobs", "2"]);
        if !extra.contains(&"--formats") {
            command.args(["--formats", "dogstatsd"]);
        }
        if !extra.contains(&"--valgrind") {
            command.arg("--valgrind").arg(&self.valgrind);
        }
        let out = command
            .arg("--baselines")
            .arg(self.baselines())
            .args(extra)
            .env("FAKE_IR", ir.to_string())
            .output()
            .unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status.code().unwrap(), stdout, stderr)
    }
}

#[test]
fn bless_then_gate_fails_on_a_rise_beyond_the_tolerance_and_lists_improvements() {
    let gate = Gate::new();
    let (code, _, stderr) = gate.run(1_000_000, &[]);
    assert_eq!(code, 1, "no baselines file yet: {stderr}");
    assert!(stderr.contains("instructions.toml") && stderr.contains("--bless"), "{stderr}");

    let (code, stdout, stderr) = gate.run(1_000_000, &["--bless"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("new: dogstatsd/64KiB/reuse-encode-once"), "{stdout}");
    let text = std::fs::read_to_string(gate.baselines()).unwrap();
    assert!(text.contains("valgrind-fake-1") && text.contains("[cell.\"dogstatsd+gzip:6/64KiB/reuse-encode-once\"]"));
    assert!(text.contains("setup_instructions = 500"), "{text}");

    // Within 2%: passes.
    let (code, stdout, _) = gate.run(1_019_000, &[]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("+1.90%") && stdout.contains(" 0 failed"), "{stdout}");

    // 3% more: every cell fails, and the table says by how much.
    let (code, stdout, _) = gate.run(1_030_000, &[]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("regression: dogstatsd/1MiB/fresh-reencode +3.00% (tolerance 2%)"), "{stdout}");
    assert!(stdout.lines().any(|l| l.starts_with("dogstatsd/64KiB/reuse-encode-once (auto) ")
        && l.contains("+3.00%")
        && l.ends_with("REGRESSION")));
    let (code, stdout, _) = gate.run(1_030_000, &["--tolerance", "5"]);
    assert_eq!(code, 0, "{stdout}");

    // Fewer: passes, lists the improvement and says how to record it.
    let (code, stdout, _) = gate.run(900_000, &[]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("improved: dogstatsd/1MiB/reuse-encode-once -10.00%"), "{stdout}");
    assert!(stdout.contains("--bless"), "{stdout}");

    // Bless records it and prints the change.
    let (code, stdout, _) = gate.run(900_000, &["--bless"]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("changed: dogstatsd/1MiB/reuse-encode-once Ir/KiB "), "{stdout}");
    let (code, _, _) = gate.run(900_000, &[]);
    assert_eq!(code, 0);
}

#[test]
fn a_cell_without_a_baseline_is_new_and_other_tools_are_not_comparable() {
    let gate = Gate::new();
    assert_eq!(gate.run(1_000_000, &["--bless"]).0, 0);
    let edit = |change: &dyn Fn(&mut toml::Table)| {
        let mut table: toml::Table = std::fs::read_to_string(gate.baselines()).unwrap().parse().unwrap();
        change(&mut table);
        std::fs::write(gate.baselines(), toml::to_string(&table).unwrap()).unwrap();
    };
    // As for a newly registered format: no baseline, reported, not failing even when it would.
    edit(&|t| {
        t["cell"].as_table_mut().unwrap().remove("dogstatsd/1MiB/fresh-reencode").unwrap();
    });
    let (code, stdout, _) = gate.run(1_000_000, &[]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.lines().any(|l| l.starts_with("dogstatsd/1MiB/fresh-reencode ") && l.ends_with("new, no baseline")));
    assert!(stdout.contains(" 1 new"), "{stdout}");

    // Measured with another valgrind: a 3% rise is reported, not gated.
    edit(&|t| {
        t.insert("valgrind".into(), "valgrind-3.0.0".into());
    });
    let (code, stdout, _) = gate.run(1_030_000, &[]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("not comparable: ") && stdout.contains("valgrind \"valgrind-3.0.0\""), "{stdout}");
}

#[test]
fn errors_name_the_bad_value() {
    let gate = Gate::new();
    let (code, _, stderr) = gate.run(1, &["--formats", "no-such-format"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("no-such-format") && stderr.contains("trace-v04"), "{stderr}");
    let (code, _, stderr) = gate.run(1, &["--valgrind", "/no/such/valgrind", "--bless"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("/no/such/valgrind") && stderr.contains("apt-get install valgrind"), "{stderr}");
    let (code, _, stderr) = gate.run(1, &["--tolerance=-1", "--bless"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("tolerance") && stderr.contains("-1"), "{stderr}");

    // The hidden per-cell mode, as the gate runs it under callgrind.
    let run = |cell: &str| Command::new(env!("CARGO_BIN_EXE_payforge")).args(["instructions", "--cell", cell]).output();
    let out = run("dogstatsd/64KiB/reuse-encode-once").unwrap();
    assert!(out.status.success());
    let line = String::from_utf8(out.stdout).unwrap();
    assert!(line.starts_with("blocks=16 bytes=") && line.contains(" members="), "{line}");
    let out = run("dogstatsd/64KiB/fastest").unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("dogstatsd/64KiB/fastest"));
}
