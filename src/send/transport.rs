//! Sockets: streams (TCP, TLS, Unix) and datagrams (UDP, Unix), with reconnects and backoff.
//!
//! A unit is delivered whole or counted as torn, as far as the sender can tell:
//!
//! * **Streams** write the unit with `write_all` semantics. When the receiver closes or restarts,
//!   a write fails; the connection is dropped, reopened with jittered exponential backoff
//!   (counted in `reconnects`), and the *whole* unit is written again on the new connection
//!   (counted in `retries`). The bytes of the unit the broken connection had already taken are
//!   counted in `torn_bytes` (and the unit in `torn_units`): a receiver that read them saw a line
//!   or frame cut short, followed by nothing on that connection; the new connection starts with
//!   the unit's first byte. Units written whole before the break are counted as sent, although
//!   bytes a kernel had accepted for a peer that then vanished are lost, as TCP always loses
//!   them. The time each write blocked is the service time of the latency summary.
//! * **Datagrams** send the unit as one datagram. A refused or missing receiver drops the socket
//!   and tries again after a backoff; a full Unix-socket queue blocks (backpressure). UDP has no
//!   backpressure: a receiver that cannot keep up loses datagrams without the sender knowing,
//!   so use `--rate` with UDP.
//!
//! Every attempt takes its tokens from the run's bucket, resends included.
//!
//! While the run is stopping, no new unit starts; a unit being written gets [`STOP_GRACE`] to
//! finish, and one whose receiver is gone gets no new connection: it counts as failed. Connecting
//! tries each resolved address for at most [`CONNECT_TIMEOUT`] and none once the run stops.

use std::io::{ErrorKind, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[cfg(doc)]
use super::conn::STOP_GRACE;
use super::conn::{Backoff, Ctx, Grace, Outcome};
use super::stats::Failure;
use super::target::Target;
use super::tls::TlsSetup;
use super::wire::Unit;

/// A socket's write timeout: how often a blocked write looks at the stop flag.
const WRITE_POLL: Duration = Duration::from_millis(200);
/// How long opening a TCP connection (and its TLS handshake) may take, per address.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// An open stream.
enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
    #[cfg(feature = "tls")]
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.write(buf),
        }
    }

    /// Pushes out what TLS still holds (plain sockets hold nothing).
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.flush(),
            _ => Ok(()),
        }
    }
}

impl Drop for StreamConn {
    /// Ends a TLS session cleanly: close_notify, then half-close, then read what the receiver
    /// sent (session tickets, its close_notify) for at most a second. A socket closed
    /// with unread bytes sends a reset, and a reset makes the receiver's kernel drop what its
    /// application has not read yet: the end of the last block.
    fn drop(&mut self) {
        #[cfg(feature = "tls")]
        if let Some(Stream::Tls(s)) = self.stream.as_mut() {
            use std::io::Read;
            s.conn.send_close_notify();
            let _ = s.flush();
            let _ = s.sock.shutdown(std::net::Shutdown::Write);
            let until = Instant::now() + TLS_CLOSE_WAIT;
            let _ = s.sock.set_read_timeout(Some(Duration::from_millis(100)));
            let mut buf = [0u8; 4096];
            while Instant::now() < until {
                match s.sock.read(&mut buf) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e)
                        if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted) => {
                    }
                    Err(_) => break,
                }
            }
        }
    }
}

/// How long closing a TLS stream waits for the receiver's last bytes.
#[cfg(feature = "tls")]
const TLS_CLOSE_WAIT: Duration = Duration::from_secs(1);

/// Where a stream connects.
#[derive(Debug, Clone)]
enum StreamAddr {
    Tcp(String),
    Tls(String),
    Unix(PathBuf),
}

/// One stream connection of a run, reopened as needed.
pub struct StreamConn {
    addr: StreamAddr,
    tls: Option<TlsSetup>,
    stream: Option<Stream>,
    opened: bool,
    backoff: Backoff,
}

impl StreamConn {
    /// A connection to a `tcp://`, `tls://` or `unix://` target, opened on first use; `tls`
    /// holds the settings of a `tls://` target, `seed` jitters the backoff.
    pub fn new(target: &Target, tls: Option<TlsSetup>, seed: u64) -> Option<Self> {
        let addr = match target {
            Target::Tcp { addr } => StreamAddr::Tcp(addr.clone()),
            Target::Tls { addr } => StreamAddr::Tls(addr.clone()),
            Target::Unix { path } => StreamAddr::Unix(path.clone()),
            _ => return None,
        };
        Some(Self { addr, tls, stream: None, opened: false, backoff: Backoff::new(seed) })
    }

    fn open(&self, ctx: &Ctx<'_>) -> std::io::Result<Stream> {
        match &self.addr {
            StreamAddr::Tcp(addr) => {
                let stream = connect_tcp(addr, ctx)?;
                stream.set_write_timeout(Some(WRITE_POLL))?;
                Ok(Stream::Tcp(stream))
            }
            StreamAddr::Tls(addr) => self.open_tls(addr, ctx),
            StreamAddr::Unix(path) => {
                let stream = UnixStream::connect(path)?;
                stream.set_write_timeout(Some(WRITE_POLL))?;
                Ok(Stream::Unix(stream))
            }
        }
    }

    #[cfg(feature = "tls")]
    fn open_tls(&self, addr: &str, ctx: &Ctx<'_>) -> std::io::Result<Stream> {
        let setup = self.tls.as_ref().ok_or_else(|| std::io::Error::other("a tls:// target needs TLS settings"))?;
        let tcp = connect_tcp(addr, ctx)?;
        tcp.set_read_timeout(Some(CONNECT_TIMEOUT))?;
        tcp.set_write_timeout(Some(CONNECT_TIMEOUT))?;
        let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
        let stream = super::tls::connect(setup, host, tcp)?;
        stream.get_ref().set_write_timeout(Some(WRITE_POLL))?;
        Ok(Stream::Tls(Box::new(stream)))
    }

    #[cfg(not(feature = "tls"))]
    fn open_tls(&self, _: &str, _: &Ctx<'_>) -> std::io::Result<Stream> {
        let _ = &self.tls;
        Err(std::io::Error::other("this payforge was built without the `tls` feature"))
    }

    fn name(&self) -> String {
        match &self.addr {
            StreamAddr::Tcp(a) => format!("tcp://{a}"),
            StreamAddr::Tls(a) => format!("tls://{a}"),
            StreamAddr::Unix(p) => format!("unix://{}", p.display()),
        }
    }

    /// Writes `unit` whole, reconnecting and writing it again after a failure.
    pub fn deliver(&mut self, unit: &Unit, ctx: &Ctx<'_>) -> Outcome {
        let grace = Grace::default();
        let mut attempted = false;
        let mut scheduled = None;
        loop {
            if self.stream.is_none() {
                // A receiver that is gone while the run stops gets no more attempts.
                if ctx.stopping() {
                    return if attempted { Outcome::Failed } else { Outcome::Skipped };
                }
                match self.open(ctx) {
                    Ok(stream) => {
                        if self.opened {
                            ctx.counters.reconnect();
                        }
                        self.opened = true;
                        self.stream = Some(stream);
                    }
                    Err(e) => {
                        let (failure, fatal, reason) = io_failure(&e);
                        let what = || format!("connect {}: {reason}", self.name());
                        if fatal {
                            ctx.fail_run(failure, what);
                            return Outcome::Failed;
                        }
                        ctx.counters.error(failure, what);
                        self.backoff.sleep(None, || ctx.stopping());
                        continue;
                    }
                }
            }
            let Some(due) = ctx.pace(unit.bytes.len(), attempted, &grace) else {
                return if attempted { Outcome::Failed } else { Outcome::Skipped };
            };
            if attempted {
                ctx.counters.retry();
            }
            attempted = true;
            let scheduled = *scheduled.get_or_insert(due);
            let Some(stream) = self.stream.as_mut() else { continue };
            let started = Instant::now();
            match write_whole(stream, &unit.bytes, ctx, &grace) {
                Ok(()) => {
                    let end = Instant::now();
                    ctx.counters.wire(unit.bytes.len());
                    self.backoff.reset();
                    ctx.record(unit.bytes.len(), end - started, scheduled, end);
                    return Outcome::Sent;
                }
                Err((written, e)) => {
                    self.stream = None;
                    ctx.counters.wire(written);
                    if written > 0 {
                        ctx.counters.torn(written);
                    }
                    if e.kind() == ErrorKind::TimedOut && ctx.stopping() {
                        ctx.counters.error(Failure::Timeout, || {
                            format!("write {}: not finished within the stop grace", self.name())
                        });
                        return Outcome::Failed;
                    }
                    let (failure, _, reason) = io_failure(&e);
                    ctx.counters.error(failure, || format!("write {}: {reason}", self.name()));
                    self.backoff.sleep(None, || ctx.past_grace(&grace));
                }
            }
        }
    }
}

/// What an I/O error is: its failure, whether it ends the run (a refused TLS certificate), and
/// the text for people.
fn io_failure(e: &std::io::Error) -> (Failure, bool, String) {
    #[cfg(feature = "tls")]
    if let Some((reason, fatal)) = super::tls::tls_failure(e) {
        return (
            Failure::Tls,
            fatal,
            format!("TLS: {reason}; give the receiver's CA with --ca-cert FILE (or skip verification with --insecure)"),
        );
    }
    (Failure::of_io(e), false, e.to_string())
}

/// Writes all of `buf`, waiting out full socket buffers; once the run is stopping, gives up
/// after [`STOP_GRACE`] with `TimedOut`. On failure, returns how many bytes were taken first.
fn write_whole(stream: &mut Stream, buf: &[u8], ctx: &Ctx<'_>, grace: &Grace) -> Result<(), (usize, std::io::Error)> {
    let mut written = 0;
    let retry =
        |e: &std::io::Error| matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted);
    let stopping = || std::io::Error::new(ErrorKind::TimedOut, "stopping");
    while written < buf.len() {
        match stream.write(&buf[written..]) {
            Ok(0) => return Err((written, std::io::Error::new(ErrorKind::WriteZero, "the receiver took no bytes"))),
            Ok(n) => written += n,
            Err(e) if retry(&e) => {
                if ctx.past_grace(grace) {
                    return Err((written, stopping()));
                }
            }
            Err(e) => return Err((written, e)),
        }
    }
    loop {
        match stream.flush() {
            Ok(()) => return Ok(()),
            Err(e) if retry(&e) => {
                if ctx.past_grace(grace) {
                    return Err((written, stopping()));
                }
            }
            Err(e) => return Err((written, e)),
        }
    }
}

/// Resolves `addr` (again at every call) and connects to the first address that answers,
/// trying none once the run is stopping.
fn connect_tcp(addr: &str, ctx: &Ctx<'_>) -> std::io::Result<TcpStream> {
    let mut last = None;
    for a in addr.to_socket_addrs()? {
        if ctx.stopping() {
            return Err(std::io::Error::new(ErrorKind::Interrupted, "the run is stopping"));
        }
        match TcpStream::connect_timeout(&a, CONNECT_TIMEOUT) {
            Ok(s) => {
                s.set_nodelay(true)?;
                return Ok(s);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::new(ErrorKind::NotFound, format!("{addr} resolves to no address"))))
}

/// An open datagram socket.
enum Socket {
    Udp(UdpSocket),
    Unix(UnixDatagram),
}

/// One datagram socket of a run, reopened as needed.
pub struct DatagramConn {
    target: Target,
    socket: Option<Socket>,
    opened: bool,
    backoff: Backoff,
}

impl DatagramConn {
    /// A socket for a `udp://` or `unixgram://` target, opened on first use; `seed` jitters the
    /// backoff.
    pub fn new(target: &Target, seed: u64) -> Option<Self> {
        matches!(target, Target::Udp { .. } | Target::Unixgram { .. }).then(|| Self {
            target: target.clone(),
            socket: None,
            opened: false,
            backoff: Backoff::new(seed),
        })
    }

    fn open(&self) -> std::io::Result<Socket> {
        match &self.target {
            Target::Udp { addr } => {
                let peer: SocketAddr = addr.to_socket_addrs()?.next().ok_or_else(|| {
                    std::io::Error::new(ErrorKind::NotFound, format!("{addr} resolves to no address"))
                })?;
                let local: SocketAddr = if peer.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { ([0u16; 8], 0).into() };
                let socket = UdpSocket::bind(local)?;
                socket.connect(peer)?;
                Ok(Socket::Udp(socket))
            }
            Target::Unixgram { path } => {
                let socket = UnixDatagram::unbound()?;
                socket.connect(path)?;
                socket.set_write_timeout(Some(WRITE_POLL))?;
                Ok(Socket::Unix(socket))
            }
            _ => Err(std::io::Error::new(ErrorKind::InvalidInput, "not a datagram target")),
        }
    }

    /// Sends `unit` as one datagram, reopening the socket after a failure.
    pub fn deliver(&mut self, unit: &Unit, ctx: &Ctx<'_>) -> Outcome {
        let grace = Grace::default();
        let mut attempted = false;
        let mut scheduled = None;
        loop {
            if self.socket.is_none() {
                if ctx.stopping() {
                    return if attempted { Outcome::Failed } else { Outcome::Skipped };
                }
                match self.open() {
                    Ok(socket) => {
                        if self.opened {
                            ctx.counters.reconnect();
                        }
                        self.opened = true;
                        self.socket = Some(socket);
                    }
                    Err(e) => {
                        ctx.counters.error(Failure::of_io(&e), || format!("open {}: {e}", self.target));
                        self.backoff.sleep(None, || ctx.stopping());
                        continue;
                    }
                }
            }
            let Some(due) = ctx.pace(unit.bytes.len(), attempted, &grace) else {
                return if attempted { Outcome::Failed } else { Outcome::Skipped };
            };
            if attempted {
                ctx.counters.retry();
            }
            attempted = true;
            let scheduled = *scheduled.get_or_insert(due);
            let started = Instant::now();
            // A full Unix-socket queue: the receiver is behind. Wait, unless stopping too long.
            let result = loop {
                let result = match self.socket.as_ref() {
                    Some(Socket::Udp(s)) => s.send(&unit.bytes),
                    Some(Socket::Unix(s)) => s.send(&unit.bytes),
                    None => Err(std::io::Error::new(ErrorKind::NotConnected, "no socket")),
                };
                match result {
                    Err(e)
                        if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted) =>
                    {
                        if ctx.past_grace(&grace) {
                            break Err(e);
                        }
                    }
                    other => break other,
                }
            };
            match result {
                Ok(n) if n == unit.bytes.len() => {
                    let end = Instant::now();
                    ctx.counters.wire(n);
                    self.backoff.reset();
                    ctx.record(n, end - started, scheduled, end);
                    return Outcome::Sent;
                }
                Ok(n) => {
                    ctx.counters.wire(n);
                    ctx.counters.error(Failure::Io, || {
                        format!("send {}: only {n} of {} bytes went out", self.target, unit.bytes.len())
                    });
                    return Outcome::Failed;
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    ctx.counters.error(Failure::Timeout, || {
                        format!("send {}: not finished within the stop grace", self.target)
                    });
                    return Outcome::Failed;
                }
                // Too large for the socket: no retry can help (prepare checks block sizes first).
                Err(e) if e.raw_os_error() == Some(libc_emsgsize()) => {
                    ctx.counters
                        .error(Failure::TooLarge, || format!("send {}: {e} ({} bytes)", self.target, unit.bytes.len()));
                    return Outcome::Failed;
                }
                Err(e) => {
                    ctx.counters.error(Failure::of_io(&e), || format!("send {}: {e}", self.target));
                    self.socket = None;
                    if ctx.stopping() {
                        return Outcome::Failed;
                    }
                    self.backoff.sleep(None, || ctx.stopping());
                }
            }
        }
    }
}

/// The largest datagram a Unix datagram socket of this machine sends (its send buffer decides,
/// `net.core.wmem_default` on Linux), found by sending to a socket pair; `None` when datagrams of
/// [`UNIXGRAM_PROBE_MAX`] bytes go through, or the probe cannot run.
pub fn max_unix_datagram() -> Option<usize> {
    let (tx, rx) = UnixDatagram::pair().ok()?;
    tx.set_nonblocking(true).ok()?;
    rx.set_nonblocking(true).ok()?;
    let buf = vec![0u8; UNIXGRAM_PROBE_MAX];
    let mut sink = vec![0u8; UNIXGRAM_PROBE_MAX];
    let mut fits = |n: usize| match tx.send(&buf[..n]) {
        Ok(_) => {
            let _ = rx.recv(&mut sink);
            true
        }
        Err(_) => false,
    };
    if fits(UNIXGRAM_PROBE_MAX) {
        return None;
    }
    let (mut lo, mut hi) = (0usize, UNIXGRAM_PROBE_MAX);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if fits(mid) { lo = mid } else { hi = mid }
    }
    (lo > 0).then_some(lo)
}

/// The largest datagram [`max_unix_datagram`] tries.
pub const UNIXGRAM_PROBE_MAX: usize = 4 << 20;

/// `EMSGSIZE` on Linux and the BSDs' value differs; std has no kind for it.
const fn libc_emsgsize() -> i32 {
    if cfg!(target_os = "linux") { 90 } else { 40 }
}
