//! `payforge send` over TLS, against receivers started here on loopback with certificates made
//! here (rcgen): `https://` with `--ca-cert`, without it (a clear error naming the host and the
//! reason, at once), with `--insecure` (said on stderr), with a client certificate (mutual TLS),
//! and `tls://` streams. rsyslog over TLS is in `send_rsyslog.rs`.
#![cfg(feature = "tls")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Read;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use common::certs::Pki;
use common::receiver::{Receiver, Reply};
use common::send;

fn lines_of(body: &[u8]) -> usize {
    let records: Vec<serde_json::Value> = serde_json::from_slice(body).unwrap();
    assert!(records.iter().all(|r| r["message"].is_string()));
    records.len()
}

#[test]
fn https_with_the_receivers_ca_delivers_and_without_it_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    let receiver = Receiver::https(pki.server_config(false), |_| Reply::status(202));
    let base = ["datadog-logs", "--to", &receiver.url, "--block-size", "32KiB", "--bytes", "256KiB", "--cache", "1MiB"];
    let ca = pki.ca.to_str().unwrap();
    let sent = send(&[&base[..], &["--ca-cert", ca]].concat());
    assert!(sent.output.status.success(), "{}", sent.stderr());
    let seen = receiver.seen();
    assert_eq!(seen.len() as u64, sent.get("blocks_sent"));
    assert!(seen.iter().all(|r| r.path == "/api/v2/logs"));
    assert_eq!(seen.iter().map(|r| lines_of(&r.body) as u64).sum::<u64>(), sent.get("members_sent"));

    // Mozilla's roots do not know the test CA, nor does another CA: a clear error, at once.
    for extra in [&[][..], &["--ca-cert", pki.other_ca.to_str().unwrap()]] {
        let failed = send(&[&base[..], extra].concat());
        let err = failed.stderr();
        assert!(!failed.output.status.success(), "{err}");
        assert!(err.contains("127.0.0.1") && err.contains("certificate") && err.contains("--ca-cert"), "{err}");
        assert!(err.contains("UnknownIssuer") || err.contains("unknown issuer"), "{err}");
        assert_eq!(failed.summary["stopped_by"], "error");
        assert_eq!(failed.summary["last_failure"], "tls");
        assert!(failed.summary["elapsed_seconds"].as_f64().unwrap() < 2.0, "{}", failed.summary);
    }
    // --insecure delivers, and says what it skipped.
    let insecure = send(&[&base[..], &["--insecure"]].concat());
    assert!(insecure.output.status.success(), "{}", insecure.stderr());
    assert!(insecure.stderr().contains("warning: --insecure"), "{}", insecure.stderr());
    drop(receiver);
}

#[test]
fn mutual_tls_presents_the_client_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    let receiver = Receiver::https(pki.server_config(true), |_| Reply::status(200));
    let ca = pki.ca.to_str().unwrap();
    let base = ["datadog-logs", "--to", &receiver.url, "--ca-cert", ca, "--block-size", "32KiB"];
    let client = ["--client-cert", pki.client_cert.to_str().unwrap(), "--client-key", pki.client_key.to_str().unwrap()];
    let sent = send(&[&base[..], &client[..], &["--bytes", "64KiB"]].concat());
    assert!(sent.output.status.success(), "{}", sent.stderr());
    assert_eq!(receiver.seen().len() as u64, sent.get("blocks_sent"));
    let refused = send(&[&base[..], &["--duration", "1s", "--max-retries", "1"]].concat());
    assert!(!refused.output.status.success(), "the receiver asks for a client certificate");
    // TLS 1.3 clients finish their side first: the refusal arrives as the server's alert or as
    // the connection it then closes, depending on timing.
    let err = refused.stderr();
    assert!(err.contains("TLS") || err.contains("closed the connection"), "{err}");
    assert_eq!(refused.get("blocks_sent"), 0);
    drop(receiver);
}

#[test]
fn tls_streams_carry_whole_lines() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    let config = pki.server_config(false);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let to = format!("tls://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let server = std::thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let conn = rustls::ServerConnection::new(Arc::clone(&config)).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        let mut all = Vec::new();
        let _ = tls.read_to_end(&mut all);
        all
    });
    let sent =
        send(&["syslog5424", "--to", &to, "--ca-cert", pki.ca.to_str().unwrap(), "--bytes", "1MiB", "--cache", "1MiB"]);
    let got = server.join().unwrap();
    assert!(sent.output.status.success(), "{}", sent.stderr());
    assert_eq!(got.len() as u64, sent.get("bytes_sent"), "{}", sent.summary);
    let text = std::str::from_utf8(&got).unwrap();
    assert_eq!(text.lines().count() as u64, sent.get("members_sent"));
    assert!(text.lines().all(|l| l.starts_with('<') && l.contains(">1 ")));
    assert_eq!(sent.summary["latency"]["service_is"], "write blocked");
}
