//! `payforge send` against real receivers started here, on loopback only: DogStatsD over UDP,
//! Unix datagrams and Unix streams, traces and logs over HTTP with 429/503 answers, TCP
//! reconnects, SIGTERM, lading configs, clear errors, and `generate --block-stream`. Every
//! receiver loop is bounded in time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod grammar;

use std::io::Read;
use std::net::{TcpListener, UdpSocket};
use std::os::unix::net::{UnixDatagram, UnixListener};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{payforge, send, wait_until};
use grammar::dogstatsd::check_line;

const LIMIT: Duration = Duration::from_secs(20);

/// Checks one dogstatsd datagram body: whole lines, each passing the grammar. Returns the lines.
fn check_dogstatsd(body: &[u8], budget: usize) -> usize {
    assert!(body.len() <= budget, "a datagram of {} bytes exceeds the block size {budget}", body.len());
    let text = std::str::from_utf8(body).unwrap();
    assert!(text.ends_with('\n'), "a datagram ends with a whole line: {:?}", &text[text.len().saturating_sub(80)..]);
    let mut lines = 0;
    for line in text.lines() {
        check_line(line).unwrap_or_else(|e| panic!("{e}\nline: {line}"));
        lines += 1;
    }
    lines
}

/// Collects datagrams until `stop` is set and the socket has been quiet for 300 ms.
fn collect_datagrams(recv: impl Fn(&mut [u8]) -> std::io::Result<usize>, stop: &AtomicBool) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    let mut buf = vec![0u8; 1 << 17];
    let started = Instant::now();
    let mut quiet_since = Instant::now();
    while started.elapsed() < LIMIT {
        match recv(&mut buf) {
            Ok(n) => {
                got.push(buf[..n].to_vec());
                quiet_since = Instant::now();
            }
            Err(_) if stop.load(Ordering::Relaxed) && quiet_since.elapsed() > Duration::from_millis(300) => break,
            Err(_) => {}
        }
    }
    got
}

#[test]
fn dogstatsd_over_udp_sends_whole_lines_per_datagram() {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let to = format!("udp://{}", socket.local_addr().unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let receiver = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || collect_datagrams(|b| socket.recv(b), &stop))
    };
    // UDP has no backpressure: a rate the test's receiver keeps up with.
    let sent = send(&["dogstatsd", "--to", &to, "--bytes", "512KiB", "--rate", "2MiB", "--cache", "1MiB"]);
    stop.store(true, Ordering::Relaxed);
    let datagrams = receiver.join().unwrap();
    assert!(sent.output.status.success(), "{}", sent.stderr());
    let lines: usize = datagrams.iter().map(|d| check_dogstatsd(d, 8192)).sum();
    assert_eq!(datagrams.len() as u64, sent.get("blocks_sent"), "{}", sent.stderr());
    assert_eq!(lines as u64, sent.get("members_sent"));
    assert_eq!(datagrams.iter().map(Vec::len).sum::<usize>() as u64, sent.get("bytes_sent"));
    assert!(sent.get("bytes_sent") <= 512 << 10 && sent.get("bytes_sent") > 400 << 10);
    eprintln!("udp receiver: {} datagrams, {lines} lines", datagrams.len());
}

#[test]
fn dogstatsd_over_unix_datagrams_and_length_prefixed_streams() {
    let dir = tempfile::tempdir().unwrap();
    // Datagrams: backpressure, so as fast as the receiver takes them.
    let path = dir.path().join("dsd.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    socket.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let receiver = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || collect_datagrams(|b| socket.recv(b), &stop))
    };
    let to = format!("unixgram://{}", path.display());
    let sent = send(&["dogstatsd", "--to", &to, "--bytes", "2MiB", "--cache", "1MiB", "--block-size", "4KiB"]);
    stop.store(true, Ordering::Relaxed);
    let datagrams = receiver.join().unwrap();
    assert!(sent.output.status.success(), "{}", sent.stderr());
    let lines: usize = datagrams.iter().map(|d| check_dogstatsd(d, 4096)).sum();
    assert_eq!(datagrams.len() as u64, sent.get("blocks_sent"));
    assert_eq!(lines as u64, sent.get("members_sent"));
    assert_eq!(sent.get("errors"), 0);

    // Unix stream: every block behind its 4-byte little-endian length.
    let path = dir.path().join("dsd-stream.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let receiver = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        conn.set_read_timeout(Some(LIMIT)).unwrap();
        let mut all = Vec::new();
        conn.read_to_end(&mut all).unwrap();
        all
    });
    let to = format!("unix://{}", path.display());
    let sent = send(&["dogstatsd", "--to", &to, "--bytes", "1MiB", "--cache", "1MiB"]);
    let stream = receiver.join().unwrap();
    assert!(sent.output.status.success(), "{}", sent.stderr());
    let (mut rest, mut frames, mut lines) = (&stream[..], 0u64, 0usize);
    while !rest.is_empty() {
        let len = u32::from_le_bytes(rest[..4].try_into().unwrap()) as usize;
        lines += check_dogstatsd(&rest[4..4 + len], 256 << 10);
        rest = &rest[4 + len..];
        frames += 1;
    }
    assert_eq!(frames, sent.get("blocks_sent"));
    assert_eq!(lines as u64, sent.get("members_sent"));
    assert_eq!(stream.len() as u64, sent.get("bytes_sent"));
}

/// What the HTTP test server saw.
#[derive(Default, Debug)]
struct Seen {
    requests: u64,
    answered: std::collections::BTreeMap<u16, u64>,
    /// Members in the bodies answered 2xx.
    accepted_members: u64,
    accepted_bytes: u64,
}

/// Serves `addr` until `stop`: decodes every body with `decode` (which checks it and returns its
/// member count) and answers `status(request number)`.
fn http_server(
    decode: fn(&tiny_http::Request, &[u8]) -> u64,
    status: fn(u64) -> u16,
) -> (String, Arc<AtomicBool>, std::thread::JoinHandle<Seen>) {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let addr = format!("http://{}", server.server_addr().to_ip().unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let handle = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut seen = Seen::default();
            let started = Instant::now();
            while !stop.load(Ordering::Relaxed) && started.elapsed() < LIMIT {
                let Ok(Some(mut request)) = server.recv_timeout(Duration::from_millis(50)) else { continue };
                seen.requests += 1;
                let mut body = Vec::new();
                request.as_reader().read_to_end(&mut body).unwrap();
                let members = decode(&request, &body);
                let code = status(seen.requests);
                *seen.answered.entry(code).or_insert(0) += 1;
                if (200..300).contains(&code) {
                    seen.accepted_members += members;
                    seen.accepted_bytes += body.len() as u64;
                }
                request.respond(tiny_http::Response::from_string("{}").with_status_code(code)).unwrap();
            }
            seen
        })
    };
    (addr, stop, handle)
}

fn header<'a>(request: &'a tiny_http::Request, name: &str) -> Option<&'a str> {
    request.headers().iter().find(|h| h.field.to_string().eq_ignore_ascii_case(name)).map(|h| h.value.as_str())
}

#[test]
fn traces_over_http_are_retried_on_429_and_503_and_totals_match() {
    fn decode(request: &tiny_http::Request, body: &[u8]) -> u64 {
        assert_eq!(request.url(), "/v0.4/traces");
        assert_eq!(header(request, "Content-Type"), Some("application/msgpack"));
        assert_eq!(header(request, "DD-API-KEY"), Some("test-key"));
        assert_eq!(header(request, "Datadog-Send-Real-Http-Status"), Some("true"));
        let traces: Vec<Vec<serde_json::Value>> = rmp_serde::from_slice(body).unwrap();
        assert!(traces.iter().all(|t| !t.is_empty() && t.iter().all(|s| s["trace_id"].is_u64())));
        let count: u64 = header(request, "X-Datadog-Trace-Count").unwrap().parse().unwrap();
        assert_eq!(count, traces.len() as u64, "X-Datadog-Trace-Count is the body's trace count");
        count
    }
    fn status(n: u64) -> u16 {
        match n {
            n if n % 5 == 2 => 429,
            n if n % 7 == 3 => 503,
            _ => 200,
        }
    }
    let (addr, stop, server) = http_server(decode, status);
    let sent = send(&[
        "trace-v04",
        "--to",
        &addr,
        "--block-size",
        "128KiB",
        "--bytes",
        "3MiB",
        "--cache",
        "2MiB",
        "--connections",
        "2",
        "--header",
        "DD-API-KEY: test-key",
    ]);
    stop.store(true, Ordering::Relaxed);
    let seen = server.join().unwrap();
    assert!(sent.output.status.success(), "{}", sent.stderr());
    let refused = seen.answered.get(&429).copied().unwrap_or(0) + seen.answered.get(&503).copied().unwrap_or(0);
    assert!(refused >= 3, "{seen:?}");
    assert_eq!(seen.answered[&200], sent.get("blocks_sent"), "{seen:?}\n{}", sent.summary);
    assert_eq!(seen.accepted_members, sent.get("members_sent"));
    assert_eq!(seen.accepted_bytes, sent.get("bytes_sent"));
    assert_eq!(refused, sent.get("retries"));
    assert_eq!(refused, sent.get("errors"));
    assert_eq!(sent.get("failed_blocks") + sent.get("rejected_blocks"), 0);
    assert_eq!(sent.summary["http_status"]["429"].as_u64(), seen.answered.get(&429).copied());
    eprintln!("trace server: {seen:?}");
}

#[test]
fn v05_traces_are_put_to_their_endpoint() {
    fn decode(request: &tiny_http::Request, body: &[u8]) -> u64 {
        assert_eq!(request.url(), "/v0.5/traces");
        assert_eq!(*request.method(), tiny_http::Method::Put);
        assert_eq!(header(request, "Content-Type"), Some("application/msgpack"));
        let (dictionary, traces): (Vec<String>, Vec<Vec<Vec<serde::de::IgnoredAny>>>) =
            rmp_serde::from_slice(body).unwrap();
        assert!(dictionary.iter().any(String::is_empty));
        assert!(traces.iter().flatten().all(|span| span.len() == 12));
        let count: u64 = header(request, "X-Datadog-Trace-Count").unwrap().parse().unwrap();
        assert_eq!(count, traces.len() as u64);
        count
    }
    fn status(_: u64) -> u16 {
        200
    }
    let (addr, stop, server) = http_server(decode, status);
    let sent = send(&["trace-v05", "--to", &addr, "--block-size", "64KiB", "--bytes", "1MiB", "--cache", "1MiB"]);
    stop.store(true, Ordering::Relaxed);
    let seen = server.join().unwrap();
    assert!(sent.output.status.success(), "{}", sent.stderr());
    assert_eq!(seen.accepted_members, sent.get("members_sent"));
    assert_eq!(seen.requests, sent.get("blocks_sent"));
}

#[test]
fn compressed_traces_over_http_carry_their_encoding() {
    fn decode(request: &tiny_http::Request, body: &[u8]) -> u64 {
        assert_eq!(header(request, "Content-Encoding"), Some("gzip"));
        assert!(body.len() <= 64 << 10, "the block size bounds the compressed body");
        let plain = payforge::Compression::Gzip(6).decompress(body).unwrap();
        let traces: Vec<Vec<serde_json::Value>> = rmp_serde::from_slice(&plain).unwrap();
        let count: u64 = header(request, "X-Datadog-Trace-Count").unwrap().parse().unwrap();
        assert_eq!(count, traces.len() as u64);
        count
    }
    fn status(_: u64) -> u16 {
        200
    }
    let (addr, stop, server) = http_server(decode, status);
    let sent = send(&[
        "trace-v04",
        "--to",
        &addr,
        "--compression",
        "gzip",
        "--block-size",
        "64KiB",
        "--bytes",
        "1MiB",
        "--cache",
        "1MiB",
    ]);
    stop.store(true, Ordering::Relaxed);
    let seen = server.join().unwrap();
    assert!(sent.output.status.success(), "{}", sent.stderr());
    assert_eq!(seen.accepted_members, sent.get("members_sent"));
    assert_eq!(seen.requests, sent.get("blocks_sent"));
    // Compression is for HTTP bodies only.
    let o = payforge(&["send", "trace-v04", "--to", "tcp://127.0.0.1:9", "--compression", "zstd"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("applies to http:// only"));
}

#[test]
fn logs_over_http_count_rejections_and_retries() {
    fn decode(request: &tiny_http::Request, body: &[u8]) -> u64 {
        assert_eq!(request.url(), "/api/v2/logs");
        assert_eq!(header(request, "Content-Type"), Some("application/json"));
        let records: Vec<serde_json::Value> = serde_json::from_slice(body).unwrap();
        assert!(records.iter().all(|r| r["message"].is_string()), "{:?}", records.first());
        records.len() as u64
    }
    fn status(n: u64) -> u16 {
        match n {
            4 => 400,
            n if n % 3 == 0 => 503,
            _ => 202,
        }
    }
    let (addr, stop, server) = http_server(decode, status);
    let sent = send(&["datadog-logs", "--to", &addr, "--block-size", "64KiB", "--bytes", "1MiB", "--cache", "1MiB"]);
    stop.store(true, Ordering::Relaxed);
    let seen = server.join().unwrap();
    assert!(sent.output.status.success(), "{}", sent.stderr());
    assert_eq!(seen.answered[&202], sent.get("blocks_sent"));
    assert_eq!(seen.accepted_members, sent.get("members_sent"));
    assert_eq!(sent.get("rejected_blocks"), 1, "a 400 is rejected, not retried");
    assert_eq!(seen.answered[&503], sent.get("retries"));
    assert_eq!(seen.requests, sent.get("blocks_sent") + sent.get("rejected_blocks") + sent.get("retries"));
}

#[test]
fn http_gives_up_after_max_retries_and_reports_it() {
    fn decode(_: &tiny_http::Request, _: &[u8]) -> u64 {
        1
    }
    fn status(_: u64) -> u16 {
        503
    }
    let (addr, stop, server) = http_server(decode, status);
    let sent = send(&[
        "syslog5424",
        "--to",
        &addr,
        "--block-size",
        "16KiB",
        "--bytes",
        "128KiB",
        "--cache",
        "1MiB",
        "--max-retries",
        "2",
    ]);
    stop.store(true, Ordering::Relaxed);
    let seen = server.join().unwrap();
    // Nothing went out: an error exit that names the target, with the summary still written.
    assert!(!sent.output.status.success());
    assert!(sent.stderr().contains("nothing was delivered"), "{}", sent.stderr());
    assert_eq!(sent.get("failed_blocks"), seen.requests / 3);
    assert_eq!(sent.get("retries"), 2 * sent.get("failed_blocks"));
}

#[test]
fn tcp_receiver_restarts_are_reconnected_without_cutting_blocks() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let to = format!("tcp://{}", listener.local_addr().unwrap());
    let receiver = std::thread::spawn(move || {
        // The first connection reads 100 KiB and hangs up; the second reads to the end.
        let (mut first, _) = listener.accept().unwrap();
        let mut head = vec![0u8; 100 << 10];
        first.read_exact(&mut head).unwrap();
        drop(first);
        let (mut second, _) = listener.accept().unwrap();
        second.set_read_timeout(Some(LIMIT)).unwrap();
        let mut rest = Vec::new();
        second.read_to_end(&mut rest).unwrap();
        rest
    });
    let sent = send(&["syslog5424", "--to", &to, "--bytes", "4MiB", "--cache", "1MiB", "--rate", "16MiB"]);
    let second = receiver.join().unwrap();
    assert!(sent.output.status.success(), "{}", sent.stderr());
    assert!(sent.get("reconnects") >= 1 && sent.get("errors") >= 1, "{}", sent.summary);
    assert_eq!(sent.get("failed_blocks"), 0);
    // The new connection starts with a whole block: a syslog line, and only whole lines follow.
    let text = std::str::from_utf8(&second).unwrap();
    assert!(text.starts_with("<") && text.ends_with('\n'));
    assert!(text.lines().all(|l| l.starts_with('<') && l.contains(">1 ")));
    assert!(second.len() as u64 <= sent.get("bytes_sent"));
    assert!(second.len() as u64 > 2 << 20);
}

#[test]
fn sigterm_finishes_the_block_prints_the_summary_and_exits_0() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let to = format!("tcp://{}", listener.local_addr().unwrap());
    let received = Arc::new(Mutex::new(0usize));
    {
        let received = Arc::clone(&received);
        std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            conn.set_read_timeout(Some(LIMIT)).unwrap();
            let mut buf = vec![0u8; 1 << 16];
            while let Ok(n) = conn.read(&mut buf) {
                if n == 0 {
                    break;
                }
                *received.lock().unwrap() += n;
            }
        });
    }
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("stats.json");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_payforge"))
        .args(["send", "syslog5424", "--to", &to, "--rate", "2MiB", "--cache", "1MiB", "--stats-json"])
        .arg(&json)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    assert!(wait_until(LIMIT, || *received.lock().unwrap() > 256 << 10), "the sender never got going");
    let kill = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(kill.success());
    let mut status = None;
    assert!(wait_until(LIMIT, || {
        status = child.try_wait().unwrap();
        status.is_some()
    }));
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert!(status.unwrap().success(), "{stderr}");
    assert!(stderr.contains("sent:") && stderr.contains("stopped by: signal"), "{stderr}");
    let summary: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(summary["stopped_by"], "signal");
    assert_eq!(summary["failed_blocks"], 0);
    // Whole blocks only: what arrived is exactly what the summary says was sent.
    assert!(wait_until(LIMIT, || *received.lock().unwrap() as u64 == summary["bytes_sent"].as_u64().unwrap()));
}

#[test]
fn bad_targets_and_sizes_are_errors_before_sending() {
    let cases: &[(&[&str], &str)] = &[
        (&["dogstatsd", "--to", "udp://127.0.0.1:8125", "--block-size", "64KiB"], "65507"),
        (
            &["syslog5424", "--to", "tcp://127.0.0.1:9", "--block-size", "64KiB", "--rate", "10KiB"],
            "cannot go out within one second",
        ),
        (&["syslog5424", "--to", "ftp://127.0.0.1:9"], "unknown scheme"),
        (&["syslog5424", "--to", "udp://127.0.0.1"], "host:port"),
        (&["dogstatsd", "--to", "tcp://127.0.0.1:9", "--syslog-framing", "lf"], "syslog framing"),
        (&["syslog5424", "--to", "tcp://127.0.0.1:9", "--duration", "0s"], "duration"),
        (&["syslog5424", "--to", "tcp://127.0.0.1:9", "--cache", "1KiB"], "cache"),
        (&["syslog5424", "--to", "http://127.0.0.1:9/", "--header", "no colon"], "header"),
    ];
    for (args, needle) in cases {
        let o = payforge(&[&["send"], *args].concat());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && err.contains(needle), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    // A receiver that is not there: errors are counted and the run fails, naming the target.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let to = format!("tcp://127.0.0.1:{port}");
    let sent = send(&["syslog5424", "--to", &to, "--duration", "300ms", "--cache", "1MiB"]);
    assert!(!sent.output.status.success());
    assert!(sent.stderr().contains("nothing was delivered") && sent.stderr().contains(&to), "{}", sent.stderr());
    assert!(sent.get("errors") >= 1 && sent.get("blocks_sent") == 0);
}

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lading").join(name)
}

#[test]
fn lading_configs_load_with_lading_meanings() {
    use payforge::send::lading::load;
    use payforge::send::target::Target;
    let registry = payforge::Registry::builtin();
    let job = load(&registry, &fixture("syslog.yaml"), None).unwrap();
    assert_eq!(job.config.name(), "syslog5424");
    assert_eq!(job.target, Target::Tcp { addr: "127.0.0.1:8080".into() });
    assert_eq!((job.seed, job.rate, job.block_size, job.cache), (11, Some(12_500_000), 1_000_000 / 8, 10_000_000 / 8));
    let udp = load(&registry, &fixture("dogstatsd.yaml"), Some("dogstatsd_udp")).unwrap();
    assert_eq!((udp.config.name(), udp.block_size, udp.seed), ("dogstatsd", 65_507, 2));
    assert_eq!(udp.target, Target::Udp { addr: "127.0.0.1:8125".into() });
    let http = load(&registry, &fixture("datadog_logs.yaml"), Some("datadog_logs_http")).unwrap();
    assert_eq!(http.target.http_url("/x").unwrap(), "http://127.0.0.1:8080/v1/input");
    assert_eq!((http.config.name(), http.seed), ("datadog-logs", 256));
    let tcp = load(&registry, &fixture("trace_agent_v04.yaml"), None).unwrap();
    assert_eq!(tcp.config.name(), "trace-v04");
    let agent = load(&registry, &fixture("trace-agent-v04.yaml"), None).unwrap();
    // lading posts to the variant's path: the format's default path.
    assert_eq!(agent.target, Target::Http { url: "http://localhost:8126".into(), has_path: false });
    let v05 = fixture("trace-agent-v04.yaml");
    let text = std::fs::read_to_string(&v05).unwrap().replace("v0.4:", "v0.5:");
    let v05_job = payforge::send::lading::parse(&registry, &text, &v05, None).unwrap();
    assert_eq!(v05_job.config.name(), "trace-v05");
    assert_eq!(
        (agent.rate, agent.block_size, agent.cache, agent.max_retries),
        (Some(50 << 20), 1 << 20, 256 << 20, Some(3))
    );
    let uds = load(&registry, &fixture("uds_dogstatsd.yaml"), None).unwrap();
    assert_eq!(uds.target, Target::Unixgram { path: "/var/run/datadog/dsd.socket".into() });
    assert_eq!((uds.rate, uds.block_size, uds.connections), (Some(100 << 20), 8192, 1));

    // What payforge cannot run is named.
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("generator:\n  - file_gen: {}\n", "file_gen"),
        ("generator:\n  - tcp: {seed: [1], addr: 'x:1'}\n", "seed"),
        (
            "generator:\n  - unix_datagram:\n      seed: [0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1]\n      \
             path: /tmp/x\n      variant: {dogstatsd: {}}\n      block_sizes: ['1Kb']\n      \
             maximum_prebuild_cache_size_bytes: '1 MiB'\n",
            "block_sizes",
        ),
        (
            "generator:\n  - tcp:\n      seed: [0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1]\n      \
             addr: '127.0.0.1:1'\n      variant: {apache_common: {}}\n      maximum_prebuild_cache_size_bytes: '1 MiB'\n",
            "apache_common",
        ),
        ("generator:\n  - id: a\n    tcp: {}\n", "no generator has id `b`"),
    ];
    for (i, (text, needle)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("bad{i}.yaml"));
        std::fs::write(&path, text).unwrap();
        let id = needle.starts_with("no generator").then_some("b");
        let err = load(&registry, &path, id).unwrap_err().to_string();
        assert!(err.contains(needle) && err.contains(&format!("bad{i}.yaml")), "{err}");
    }
}

#[test]
fn a_lading_trace_agent_config_runs_against_a_local_agent() {
    fn decode(request: &tiny_http::Request, body: &[u8]) -> u64 {
        assert_eq!(request.url(), "/v0.4/traces");
        let traces: Vec<Vec<serde_json::Value>> = rmp_serde::from_slice(body).unwrap();
        traces.len() as u64
    }
    fn status(_: u64) -> u16 {
        200
    }
    let (addr, stop, server) = http_server(decode, status);
    let config = fixture("trace-agent-v04.yaml");
    // The file unchanged; the address, cache and amount overridden for a loopback test.
    let sent = send(&[
        "--lading-config",
        config.to_str().unwrap(),
        "--to",
        &format!("{addr}/v0.4/traces"),
        "--cache",
        "4MiB",
        "--bytes",
        "4MiB",
    ]);
    stop.store(true, Ordering::Relaxed);
    let seen = server.join().unwrap();
    assert!(sent.output.status.success(), "{}", sent.stderr());
    assert!(sent.stderr().contains("lading generator `trace_agent_v04`"), "{}", sent.stderr());
    assert_eq!(sent.summary["rate_bytes_per_s"], 50 << 20);
    assert_eq!(
        sent.summary["seed"].as_u64(),
        Some(payforge::send::lading::fold_seed(&[
            2, 3, 5, 7, 11, 13, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97, 101, 103, 107,
            109, 113, 127, 131, 137
        ]))
    );
    assert_eq!(seen.accepted_members, sent.get("members_sent"));
    assert_eq!(seen.requests, sent.get("blocks_sent"));
}

#[test]
fn generate_block_stream_splits_back_into_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let blocks = dir.path().join("blocks");
    let args = ["generate", "datadog-logs", "--block-size", "8KiB", "--blocks", "5"];
    let o = payforge(&[&args[..], &["--output-dir", blocks.to_str().unwrap()]].concat());
    assert!(o.status.success());
    for (prefix, width) in [("u32le", 4), ("u64le", 8)] {
        let o = payforge(&[&args[..], &["--block-stream", prefix]].concat());
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let mut rest = &o.stdout[..];
        for i in 0..5 {
            let mut len = [0u8; 8];
            len[..width].copy_from_slice(&rest[..width]);
            let len = u64::from_le_bytes(len) as usize;
            let expected = std::fs::read(blocks.join(format!("block-{i:06}.bin"))).unwrap();
            assert_eq!(&rest[width..width + len], &expected[..], "{prefix} block {i}");
            rest = &rest[width + len..];
        }
        assert!(rest.is_empty());
    }
    let o = payforge(&[&args[..], &["--block-stream", "u16"]].concat());
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("u32le"));
}
