//! A loopback receiver for measuring `payforge send`: listens on one transport, counts what
//! arrives, and prints the totals when it has been idle for a second after the first byte (or
//! after `--seconds`).
//!
//! ```text
//! cargo run --release --example receiver -- tcp://127.0.0.1:9000 &
//! payforge send syslog5424 --to tcp://127.0.0.1:9000 --duration 3s
//! ```
//!
//! `tcp://` and `unix://` count bytes (any number of connections), `udp://` and `unixgram://`
//! count datagrams, `http://` counts requests and answers 200. Loopback addresses only.

use std::io::Read;
use std::net::{TcpListener, UdpSocket};
use std::os::unix::net::{UnixDatagram, UnixListener};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Default)]
struct Counts {
    bytes: AtomicU64,
    messages: AtomicU64,
}

impl Counts {
    fn add(&self, bytes: usize) {
        self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
        self.messages.fetch_add(1, Ordering::Relaxed);
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(url) = args.first() else {
        eprintln!("usage: receiver URL [--seconds N]");
        return ExitCode::FAILURE;
    };
    let limit = args
        .iter()
        .position(|a| a == "--seconds")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse::<f64>().ok())
        .map_or(Duration::from_secs(60), Duration::from_secs_f64);
    match run(url, limit) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("receiver: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(url: &str, limit: Duration) -> Result<(), Box<dyn std::error::Error>> {
    let counts = Arc::new(Counts::default());
    let (scheme, addr) = url.split_once("://").ok_or("expected SCHEME://ADDRESS")?;
    let c = Arc::clone(&counts);
    match scheme {
        "tcp" => {
            let listener = TcpListener::bind(addr)?;
            std::thread::spawn(move || {
                for conn in listener.incoming().flatten() {
                    let c = Arc::clone(&c);
                    std::thread::spawn(move || drain(conn, &c));
                }
            });
        }
        "unix" => {
            let _ = std::fs::remove_file(addr);
            let listener = UnixListener::bind(addr)?;
            std::thread::spawn(move || {
                for conn in listener.incoming().flatten() {
                    let c = Arc::clone(&c);
                    std::thread::spawn(move || drain(conn, &c));
                }
            });
        }
        "udp" => {
            let socket = UdpSocket::bind(addr)?;
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 65_536];
                while let Ok(n) = socket.recv(&mut buf) {
                    c.add(n);
                }
            });
        }
        "unixgram" => {
            let _ = std::fs::remove_file(addr);
            let socket = UnixDatagram::bind(addr)?;
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 1 << 20];
                while let Ok(n) = socket.recv(&mut buf) {
                    c.add(n);
                }
            });
        }
        "http" => {
            let server =
                Arc::new(tiny_http::Server::http(addr.split('/').next().unwrap_or(addr)).map_err(|e| e.to_string())?);
            for _ in 0..4 {
                let (server, c) = (Arc::clone(&server), Arc::clone(&c));
                std::thread::spawn(move || {
                    let mut body = Vec::new();
                    while let Ok(mut request) = server.recv() {
                        body.clear();
                        if request.as_reader().read_to_end(&mut body).is_ok() {
                            c.add(body.len());
                        }
                        let _ = request.respond(tiny_http::Response::empty(200));
                    }
                });
            }
        }
        _ => return Err(format!("unknown scheme {scheme}").into()),
    }
    eprintln!("receiver: listening on {url}");
    let started = Instant::now();
    let (mut last, mut idle_since) = (0u64, Instant::now());
    while started.elapsed() < limit {
        std::thread::sleep(Duration::from_millis(100));
        let now = counts.bytes.load(Ordering::Relaxed);
        if now != last {
            (last, idle_since) = (now, Instant::now());
        } else if now > 0 && idle_since.elapsed() > Duration::from_secs(1) {
            break;
        }
    }
    println!(
        "received: {} bytes in {} messages",
        counts.bytes.load(Ordering::Relaxed),
        counts.messages.load(Ordering::Relaxed)
    );
    if let Some(path) = url.strip_prefix("unix://").or_else(|| url.strip_prefix("unixgram://")) {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

/// Reads a stream to its end, counting bytes (and reads as messages).
fn drain(mut conn: impl Read, counts: &Counts) {
    let mut buf = vec![0u8; 1 << 20];
    while let Ok(n) = conn.read(&mut buf) {
        if n == 0 {
            break;
        }
        counts.add(n);
    }
}
