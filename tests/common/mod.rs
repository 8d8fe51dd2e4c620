//! Helpers shared by the `send` test binaries: running the binary with a JSON summary, and
//! bounded waits.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod certs;
pub mod receiver;

use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The result of one `payforge send` run.
pub struct Sent {
    pub output: Output,
    pub summary: serde_json::Value,
}

impl Sent {
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    pub fn get(&self, key: &str) -> u64 {
        self.summary[key].as_u64().unwrap_or_else(|| panic!("summary has no {key}: {}", self.summary))
    }
}

/// Runs `payforge send ARGS --quiet --threads 2 --stats-json TMP` and reads the summary.
pub fn send(args: &[&str]) -> Sent {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("stats.json");
    let mut full: Vec<std::ffi::OsString> = vec!["send".into()];
    full.extend(args.iter().map(Into::into));
    full.extend(["--quiet", "--threads", "2", "--stats-json"].map(Into::into));
    full.push(json.clone().into());
    let output = run_bounded(&full);
    let summary =
        std::fs::read_to_string(&json).map(|t| serde_json::from_str(&t).unwrap()).unwrap_or(serde_json::Value::Null);
    Sent { output, summary }
}

/// Runs `payforge ARGS` and returns its output.
pub fn payforge(args: &[&str]) -> Output {
    let args: Vec<std::ffi::OsString> = args.iter().map(Into::into).collect();
    run_bounded(&args)
}

/// Most a test's payforge run may take before it is killed and the test fails.
pub const RUN_LIMIT: Duration = Duration::from_secs(60);

/// Runs the binary with output into files, killing it (and failing) after [`RUN_LIMIT`].
fn run_bounded(args: &[std::ffi::OsString]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let (out, err) = (dir.path().join("stdout"), dir.path().join("stderr"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_payforge"))
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let mut status = None;
    let finished = wait_until(RUN_LIMIT, || {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    if !finished {
        let _ = child.kill();
        let _ = child.wait();
        panic!("payforge {args:?} did not finish within {RUN_LIMIT:?}");
    }
    Output { status: status.unwrap(), stdout: std::fs::read(&out).unwrap(), stderr: std::fs::read(&err).unwrap() }
}

/// Polls `done` every 20 ms until it holds or `limit` passes; returns whether it held.
pub fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + limit;
    while Instant::now() < until {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    done()
}

/// A TCP receiver on loopback that reads one connection to its end on a thread: returns its
/// `host:port` and the byte count.
pub fn tcp_sink() -> (String, std::thread::JoinHandle<u64>) {
    use std::io::Read;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let handle = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut buf = vec![0u8; 1 << 20];
        let mut total = 0u64;
        while let Ok(n) = conn.read(&mut buf) {
            if n == 0 {
                break;
            }
            total += n as u64;
        }
        total
    });
    (addr, handle)
}
