//! syslog5424 into a real rsyslog (Debian's package), run here unprivileged-style on loopback
//! ports with its RFC 5424 parser only: over TCP with LF framing, over TCP with octet counting,
//! over UDP (one message per datagram), and over TLS (its gtls driver, RFC 5425). Every line sent arrives, parses, and comes out with
//! the same PRI, timestamp, header fields, structured data and message, count for count.
//!
//! Without rsyslogd the test fails when `CI` is set (CI installs it) and is skipped with a message
//! otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{payforge, send, wait_until};

fn rsyslogd() -> Option<PathBuf> {
    let candidates = ["/usr/sbin/rsyslogd", "/sbin/rsyslogd", "/usr/local/sbin/rsyslogd"];
    if let Some(p) = candidates.iter().map(PathBuf::from).find(|p| p.exists()) {
        return Some(p);
    }
    let out = Command::new("sh").args(["-c", "command -v rsyslogd"]).output().ok()?;
    let path = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!path.is_empty()).then(|| PathBuf::from(path))
}

/// rsyslogd in the foreground, killed when dropped.
struct Rsyslog(Child);

impl Drop for Rsyslog {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.0.id().to_string()]).status();
        if !wait_until(Duration::from_secs(5), || self.0.try_wait().ok().flatten().is_some()) {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

fn free_ports() -> (u16, u16) {
    let tcp = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    (tcp, udp)
}

/// With `tls` (CA, certificate and key files), the TCP input is TLS only (gtls driver).
fn start(bin: &Path, dir: &Path, out: &Path, tcp: u16, udp: u16, tls: Option<&common::certs::Pki>) -> Rsyslog {
    let work = dir.join("work");
    std::fs::create_dir_all(&work).unwrap();
    let conf = dir.join("rsyslog.conf");
    let (global_tls, imtcp) = match tls {
        Some(pki) => (
            format!(
                r#" DefaultNetstreamDriverCAFile="{}" DefaultNetstreamDriverCertFile="{}" DefaultNetstreamDriverKeyFile="{}""#,
                pki.ca.display(),
                pki.server_cert.display(),
                pki.server_key.display()
            ),
            r#"module(load="imtcp" StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="anon")"#,
        ),
        None => (String::new(), r#"module(load="imtcp")"#),
    };
    std::fs::write(
        &conf,
        format!(
            r#"global(workDirectory="{work}" maxMessageSize="64k"{global_tls})
{imtcp}
module(load="imudp")
template(name="fields" type="string"
         string="%pri%|%protocol-version%|%timereported:::date-rfc3339%|%hostname%|%app-name%|%procid%|%msgid%|%structured-data%|%msg%\n")
ruleset(name="rfc5424" parser="rsyslog.rfc5424") {{
  action(type="omfile" file="{out}" template="fields")
}}
input(type="imtcp" address="127.0.0.1" port="{tcp}" ruleset="rfc5424")
input(type="imudp" address="127.0.0.1" port="{udp}" ruleset="rfc5424" rcvbufSize="4m")
"#,
            work = work.display(),
            out = out.display(),
            global_tls = global_tls,
            imtcp = imtcp,
        ),
    )
    .unwrap();
    let child = Command::new(bin)
        .arg("-n")
        .arg("-f")
        .arg(&conf)
        .arg("-i")
        .arg(dir.join("rsyslogd.pid"))
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let guard = Rsyslog(child);
    let ready = wait_until(Duration::from_secs(10), || TcpStream::connect(("127.0.0.1", tcp)).is_ok());
    assert!(ready, "rsyslogd did not listen on 127.0.0.1:{tcp}");
    std::thread::sleep(Duration::from_millis(200));
    guard
}

/// The lines `send` replays: `generate` with the same seed, block size and cache.
fn generated(block_size: &str, cache: &str) -> Vec<String> {
    let o = payforge(&["generate", "syslog5424", "--block-size", block_size, "--total", cache]);
    assert!(o.status.success());
    String::from_utf8(o.stdout).unwrap().lines().map(str::to_string).collect()
}

/// Rebuilds the RFC 5424 line from rsyslog's parsed fields.
fn rebuild(fields: &str) -> String {
    let f: Vec<&str> = fields.splitn(9, '|').collect();
    assert_eq!(f.len(), 9, "{fields}");
    assert_eq!(f[1], "1", "rsyslog parsed it as RFC 5424 (protocol version 1): {fields}");
    format!("<{}>1 {} {} {} {} {} {} {}", f[0], f[2], f[3], f[4], f[5], f[6], f[7], f[8])
}

fn received(out: &Path) -> Vec<String> {
    std::fs::read_to_string(out).unwrap_or_default().lines().map(str::to_string).collect()
}

/// Waits for rsyslog to write `members` lines after the first `before`, checks that no more
/// arrive, and returns them rebuilt as RFC 5424 lines.
fn arrived(out: &Path, before: usize, members: usize, name: &str) -> Vec<String> {
    let arrived = wait_until(Duration::from_secs(15), || received(out).len() >= before + members);
    let got = received(out);
    assert!(arrived, "{name}: rsyslog wrote {} of {members} lines", got.len() - before);
    // Nothing more arrives than was sent.
    std::thread::sleep(Duration::from_millis(300));
    let got = received(out);
    assert_eq!(got.len() - before, members, "{name}: count for count");
    got[before..].iter().map(|l| rebuild(l)).collect()
}

#[test]
fn rsyslog_receives_and_parses_every_line_over_tcp_and_udp() {
    let Some(bin) = rsyslogd() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "rsyslogd is not installed; .ci/run installs it (apt-get install rsyslog)"
        );
        eprintln!("SKIPPED: rsyslogd is not installed (apt-get install rsyslog); CI runs this test");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("received.log");
    let (tcp, udp) = free_ports();
    let _rsyslog = start(&bin, dir.path(), &out, tcp, udp, None);

    let (tcp_url, udp_url) = (format!("tcp://127.0.0.1:{tcp}"), format!("udp://127.0.0.1:{udp}"));
    let runs: [(&str, Vec<&str>, &str); 3] = [
        ("tcp lf", vec!["--to", &tcp_url, "--bytes", "1MiB"], "256KiB"),
        (
            "tcp octet-counting",
            vec!["--to", &tcp_url, "--bytes", "1MiB", "--syslog-framing", "octet-counting"],
            "256KiB",
        ),
        ("udp", vec!["--to", &udp_url, "--bytes", "256KiB", "--rate", "2MiB"], "8KiB"),
    ];
    let mut before = 0usize;
    for (name, args, block_size) in runs {
        let args: Vec<&str> = [&["syslog5424", "--cache", "1MiB"][..], &args].concat();
        let sent = send(&args);
        assert!(sent.output.status.success(), "{name}: {}", sent.stderr());
        let members = sent.get("members_sent") as usize;
        assert!(members > 500, "{name}: {}", sent.summary);
        let mut rebuilt = arrived(&out, before, members, name);
        let mut expected: Vec<String> = generated(block_size, "1MiB").into_iter().cycle().take(members).collect();
        if name == "udp" {
            // Datagrams may be reordered; compare as multisets.
            rebuilt.sort();
            expected.sort();
        }
        for (i, (r, e)) in rebuilt.iter().zip(&expected).enumerate() {
            assert_eq!(r, e, "{name}: line {i} as rsyslog parsed it");
        }
        eprintln!("rsyslog {name}: sent {members} lines, received and parsed {members}");
        before += members;
    }
}

/// The gtls network driver (Debian's rsyslog-gnutls), installed by `.ci/run` with rsyslog.
fn has_gtls() -> bool {
    [
        "/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so",
        "/usr/lib/aarch64-linux-gnu/rsyslog/lmnsd_gtls.so",
        "/usr/lib/rsyslog/lmnsd_gtls.so",
    ]
    .iter()
    .any(|p| Path::new(p).exists())
}

/// syslog over TLS (RFC 5425) into rsyslog's gtls driver, with certificates made here: every
/// line arrives and parses field for field.
#[cfg(feature = "tls")]
#[test]
fn rsyslog_receives_every_line_over_tls() {
    let (Some(bin), true) = (rsyslogd(), has_gtls()) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "rsyslogd or its gtls driver is not installed; .ci/run installs them (apt-get install rsyslog rsyslog-gnutls)"
        );
        eprintln!(
            "SKIPPED: rsyslogd with gtls is not installed (apt-get install rsyslog rsyslog-gnutls); CI runs this test"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let pki = common::certs::Pki::new(dir.path());
    let out = dir.path().join("received.log");
    let (tcp, udp) = free_ports();
    let _rsyslog = start(&bin, dir.path(), &out, tcp, udp, Some(&pki));
    let to = format!("tls://127.0.0.1:{tcp}");
    for (name, framing) in [("tls lf", "lf"), ("tls octet-counting", "octet-counting")] {
        let before = received(&out).len();
        let sent = send(&[
            "syslog5424",
            "--cache",
            "1MiB",
            "--to",
            &to,
            "--ca-cert",
            pki.ca.to_str().unwrap(),
            "--bytes",
            "1MiB",
            "--syslog-framing",
            framing,
        ]);
        assert!(sent.output.status.success(), "{name}: {}", sent.stderr());
        let members = sent.get("members_sent") as usize;
        assert!(members > 500, "{name}: {}", sent.summary);
        let rebuilt = arrived(&out, before, members, name);
        let expected: Vec<String> = generated("256KiB", "1MiB").into_iter().cycle().take(members).collect();
        for (i, (line, e)) in rebuilt.iter().zip(&expected).enumerate() {
            assert_eq!(line, e, "{name}: line {i} as rsyslog parsed it");
        }
        eprintln!("rsyslog {name}: sent {members} lines over TLS, received and parsed {members}");
    }
}
