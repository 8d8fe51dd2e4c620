//! The one HTTP receiver of the send tests: HTTP/1.1 over loopback TCP, optionally inside TLS,
//! written over raw sockets so it can misbehave on purpose: answer any status with any headers,
//! stall before answering, claim a body it then cuts short. Every request is kept (method, path,
//! headers, body) for the test to check. Bounded: it stops when told, or after a minute.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Most a receiver runs.
const LIMIT: Duration = Duration::from_secs(60);

/// One request as received.
#[derive(Debug, Clone)]
pub struct Request {
    /// 1 for the first request the receiver saw (over all connections).
    pub n: u64,
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The status it was answered.
    pub status: u16,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// How to answer one request.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Wait this long before answering.
    pub stall: Duration,
    /// Claim a `Content-Length` this much longer than the body sent, then close the connection.
    pub cut_body_by: usize,
}

impl Reply {
    pub fn status(status: u16) -> Self {
        Self { status, headers: Vec::new(), body: b"{}".to_vec(), stall: Duration::ZERO, cut_body_by: 0 }
    }

    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    #[must_use]
    pub fn stall(mut self, d: Duration) -> Self {
        self.stall = d;
        self
    }

    #[must_use]
    pub fn cut_body_by(mut self, n: usize) -> Self {
        self.cut_body_by = n;
        self
    }
}

type Policy = Arc<dyn Fn(&Request) -> Reply + Send + Sync>;

/// A running receiver.
pub struct Receiver {
    /// `http://127.0.0.1:PORT` (or `https://`).
    pub url: String,
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<Request>>>,
    acceptor: Option<std::thread::JoinHandle<()>>,
}

impl Receiver {
    /// Plain HTTP, answering each request as `policy` says.
    pub fn http(policy: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> Self {
        Self::start(None, Arc::new(policy))
    }

    /// HTTPS with `config` (a rustls server config), answering as `policy` says.
    #[cfg(feature = "tls")]
    pub fn https(
        config: Arc<rustls::ServerConfig>,
        policy: impl Fn(&Request) -> Reply + Send + Sync + 'static,
    ) -> Self {
        Self::start(Some(config), Arc::new(policy))
    }

    #[cfg(feature = "tls")]
    fn start(tls: Option<Arc<rustls::ServerConfig>>, policy: Policy) -> Self {
        Self::spawn(
            tls.is_some(),
            move |stream, serve| match &tls {
                Some(config) => {
                    let Ok(conn) = rustls::ServerConnection::new(Arc::clone(config)) else { return };
                    serve(&mut rustls::StreamOwned::new(conn, stream));
                }
                None => serve(&mut { stream }),
            },
            policy,
        )
    }

    #[cfg(not(feature = "tls"))]
    fn start(_: Option<()>, policy: Policy) -> Self {
        Self::spawn(false, move |stream, serve| serve(&mut { stream }), policy)
    }

    fn spawn(
        tls: bool,
        wrap: impl Fn(TcpStream, &dyn Fn(&mut dyn ReadWrite)) + Send + Sync + 'static,
        policy: Policy,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("{}://{}", if tls { "https" } else { "http" }, listener.local_addr().unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let counter = Arc::new(AtomicU64::new(0));
        let wrap = Arc::new(wrap);
        let acceptor = {
            let (stop, seen) = (Arc::clone(&stop), Arc::clone(&seen));
            std::thread::spawn(move || {
                let started = Instant::now();
                while !stop.load(Ordering::Relaxed) && started.elapsed() < LIMIT {
                    let Ok((stream, _)) = listener.accept() else {
                        std::thread::sleep(Duration::from_millis(5));
                        continue;
                    };
                    stream.set_nonblocking(false).unwrap();
                    stream.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
                    let (stop, seen, counter, policy, wrap) = (
                        Arc::clone(&stop),
                        Arc::clone(&seen),
                        Arc::clone(&counter),
                        Arc::clone(&policy),
                        Arc::clone(&wrap),
                    );
                    std::thread::spawn(move || {
                        wrap(stream, &|io| serve(io, &stop, &seen, &counter, policy.as_ref()));
                    });
                }
            })
        };
        Self { url, stop, seen, acceptor: Some(acceptor) }
    }

    /// Stops accepting and returns every request seen.
    pub fn finish(mut self) -> Vec<Request> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(a) = self.acceptor.take() {
            a.join().unwrap();
        }
        // Connection threads end at their next read timeout.
        std::thread::sleep(Duration::from_millis(300));
        let mut seen = self.seen.lock().unwrap().clone();
        seen.sort_by_key(|r| r.n);
        seen
    }

    /// The requests so far.
    pub fn seen(&self) -> Vec<Request> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// What a connection is read from and written to.
pub trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// Serves one connection until it closes, the receiver stops, or a reply cuts it.
fn serve(
    io: &mut dyn ReadWrite,
    stop: &AtomicBool,
    seen: &Mutex<Vec<Request>>,
    counter: &AtomicU64,
    policy: &(dyn Fn(&Request) -> Reply + Send + Sync),
) {
    let mut reader = BufReader::new(io);
    loop {
        let mut line = String::new();
        if !read_line_patiently(&mut reader, &mut line, stop) {
            return;
        }
        let mut parts = line.split_whitespace();
        let (Some(method), Some(path)) = (parts.next(), parts.next()) else { return };
        let (method, path) = (method.to_string(), path.to_string());
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if !read_line_patiently(&mut reader, &mut h, stop) {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        let len: usize = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .map_or(0, |(_, v)| v.parse().unwrap());
        let mut body = vec![0u8; len];
        let mut got = 0;
        while got < len {
            match reader.read(&mut body[got..]) {
                Ok(0) => return,
                Ok(n) => got += n,
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                }
                Err(_) => return,
            }
        }
        let n = counter.fetch_add(1, Ordering::Relaxed) + 1;
        let mut request = Request { n, method, path, headers, body, status: 0 };
        let reply = policy(&request);
        request.status = reply.status;
        seen.lock().unwrap().push(request);
        if !reply.stall.is_zero() {
            std::thread::sleep(reply.stall);
        }
        let mut head =
            format!("HTTP/1.1 {} X\r\nContent-Length: {}\r\n", reply.status, reply.body.len() + reply.cut_body_by);
        for (k, v) in &reply.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        let io = reader.get_mut();
        if io.write_all(head.as_bytes()).and_then(|()| io.write_all(&reply.body)).and_then(|()| io.flush()).is_err() {
            return;
        }
        if reply.cut_body_by > 0 {
            return;
        }
    }
}

fn read_line_patiently(reader: &mut impl BufRead, line: &mut String, stop: &AtomicBool) -> bool {
    loop {
        match reader.read_line(line) {
            Ok(0) => return false,
            Ok(_) if line.ends_with('\n') => return true,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                if stop.load(Ordering::Relaxed) {
                    return false;
                }
            }
            Err(_) => return false,
        }
    }
}
