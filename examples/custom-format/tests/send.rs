//! `payforge-apache send`: the format's declared delivery (path `/logs/apache`, content type
//! `text/plain; charset=utf-8`) reaches a local HTTP receiver, on loopback, and every body parses
//! as whole Apache lines. payforge's `send` never learns the format's name: it reads the
//! declaration.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

#[test]
fn send_posts_to_the_declared_path_with_the_declared_content_type() {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let addr = format!("http://{}", server.server_addr().to_ip().unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let receiver = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut bodies = Vec::new();
            let started = Instant::now();
            while !stop.load(Ordering::Relaxed) && started.elapsed() < Duration::from_secs(30) {
                let Ok(Some(mut request)) = server.recv_timeout(Duration::from_millis(50)) else { continue };
                let content_type =
                    request.headers().iter().find(|h| h.field.equiv("Content-Type")).map(|h| h.value.to_string());
                let mut body = Vec::new();
                request.as_reader().read_to_end(&mut body).unwrap();
                bodies.push((request.method().to_string(), request.url().to_string(), content_type, body));
                request.respond(tiny_http::Response::empty(202)).unwrap();
            }
            bodies
        })
    };
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("stats.json");
    let out = Command::new(env!("CARGO_BIN_EXE_payforge-apache"))
        .args(["send", "apache-combined", "--to", &addr, "--block-size", "32KiB", "--bytes", "256KiB"])
        .args(["--cache", "256KiB", "--quiet", "--threads", "1", "--stats-json"])
        .arg(&json)
        .output()
        .unwrap();
    stop.store(true, Ordering::Relaxed);
    let bodies = receiver.join().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(bodies.len() as u64, summary["blocks_sent"].as_u64().unwrap());
    assert!(bodies.len() >= 7, "{} requests", bodies.len());
    let mut lines = 0;
    for (method, url, content_type, body) in &bodies {
        assert_eq!((method.as_str(), url.as_str()), ("POST", "/logs/apache"));
        assert_eq!(content_type.as_deref(), Some("text/plain; charset=utf-8"));
        assert!(body.len() <= 32 << 10);
        lines += common::parse_block(body).len() as u64;
    }
    assert_eq!(lines, summary["members_sent"].as_u64().unwrap());
    assert_eq!(bodies.iter().map(|b| b.3.len() as u64).sum::<u64>(), summary["bytes_sent"].as_u64().unwrap());
}
