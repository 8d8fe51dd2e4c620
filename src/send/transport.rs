//! Sockets: streams (TCP, Unix) and datagrams (UDP, Unix), with reconnects and backoff.
//!
//! A unit is delivered whole or not at all, as far as the sender can tell:
//!
//! * **Streams** write the unit with `write_all` semantics. When the receiver closes or restarts,
//!   the write fails; the connection is dropped, reopened with capped exponential backoff
//!   (counted in `reconnects`), and the *whole* unit is written again on the new connection
//!   (counted in `retries`), so the receiver never sees a unit cut short and then skipped.
//!   Bytes a kernel had accepted for a peer that then vanished are lost as TCP always loses
//!   them; nothing else is.
//! * **Datagrams** send the unit as one datagram. A refused or missing receiver drops the socket
//!   and tries again after a backoff; a full Unix-socket queue blocks (backpressure). UDP has no
//!   backpressure: a receiver that cannot keep up loses datagrams without the sender knowing,
//!   so use `--rate` with UDP.
//!
//! While the run is stopping, no new unit starts; a unit being written gets [`STOP_GRACE`] to
//! finish, and one whose receiver is gone gets no new connection: it counts as failed.

use std::io::{ErrorKind, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::run::{Ctx, Outcome};
use super::target::Target;
use super::wire::Unit;

/// How long a unit in progress may take to finish once the run is stopping.
pub const STOP_GRACE: Duration = Duration::from_secs(5);
/// A socket's write timeout: how often a blocked write looks at the stop flag.
const WRITE_POLL: Duration = Duration::from_millis(200);
/// How long opening a TCP connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Capped exponential backoff: 10 ms, 20 ms, ... up to 1 s; reset after a success.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
}

impl Backoff {
    /// The first delay.
    pub const FIRST: Duration = Duration::from_millis(10);
    /// The longest delay.
    pub const CAP: Duration = Duration::from_secs(1);

    /// A backoff at its first delay.
    pub fn new() -> Self {
        Self { next: Self::FIRST }
    }

    /// Back to the first delay.
    pub fn reset(&mut self) {
        self.next = Self::FIRST;
    }

    /// The delay the next [`Backoff::sleep`] waits.
    pub fn peek(&self) -> Duration {
        self.next
    }

    /// Waits the current delay (at most [`Backoff::CAP`]) and doubles it. A stopping run waits
    /// too: the unit in progress keeps its pace while it finishes within [`STOP_GRACE`].
    pub fn sleep(&mut self) {
        std::thread::sleep(self.next);
        self.next = (self.next * 2).min(Self::CAP);
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new()
    }
}

/// An open stream.
enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }
}

/// Where a stream connects.
#[derive(Debug, Clone)]
enum StreamAddr {
    Tcp(String),
    Unix(PathBuf),
}

/// One stream connection of a run, reopened as needed.
pub struct StreamConn {
    addr: StreamAddr,
    stream: Option<Stream>,
    opened: bool,
    backoff: Backoff,
}

impl StreamConn {
    /// A connection to a `tcp://` or `unix://` target, opened on first use.
    pub fn new(target: &Target) -> Option<Self> {
        let addr = match target {
            Target::Tcp { addr } => StreamAddr::Tcp(addr.clone()),
            Target::Unix { path } => StreamAddr::Unix(path.clone()),
            _ => return None,
        };
        Some(Self { addr, stream: None, opened: false, backoff: Backoff::new() })
    }

    fn open(&self) -> std::io::Result<Stream> {
        match &self.addr {
            StreamAddr::Tcp(addr) => {
                let stream = connect_tcp(addr)?;
                stream.set_nodelay(true)?;
                stream.set_write_timeout(Some(WRITE_POLL))?;
                Ok(Stream::Tcp(stream))
            }
            StreamAddr::Unix(path) => {
                let stream = UnixStream::connect(path)?;
                stream.set_write_timeout(Some(WRITE_POLL))?;
                Ok(Stream::Unix(stream))
            }
        }
    }

    fn name(&self) -> String {
        match &self.addr {
            StreamAddr::Tcp(a) => format!("tcp://{a}"),
            StreamAddr::Unix(p) => format!("unix://{}", p.display()),
        }
    }

    /// Writes `unit` whole, reconnecting and writing it again after a failure.
    pub fn deliver(&mut self, unit: &Unit, ctx: &Ctx<'_>) -> Outcome {
        let mut attempted = false;
        let mut grace = None;
        loop {
            if self.stream.is_none() {
                // A receiver that is gone while the run stops gets no more attempts.
                if ctx.stopping() {
                    return Outcome::Failed;
                }
                match self.open() {
                    Ok(stream) => {
                        if self.opened {
                            ctx.counters.reconnect();
                        }
                        self.opened = true;
                        self.stream = Some(stream);
                    }
                    Err(e) => {
                        ctx.counters.error(|| format!("connect {}: {e}", self.name()));
                        self.backoff.sleep();
                        continue;
                    }
                }
            }
            if attempted {
                ctx.counters.retry();
            }
            attempted = true;
            let Some(stream) = self.stream.as_mut() else { continue };
            match write_whole(stream, &unit.bytes, ctx, &mut grace) {
                Ok(()) => {
                    self.backoff.reset();
                    return Outcome::Sent;
                }
                Err(e) => {
                    self.stream = None;
                    if e.kind() == ErrorKind::TimedOut && ctx.stopping() {
                        ctx.counters.error(|| format!("write {}: not finished within the stop grace", self.name()));
                        return Outcome::Failed;
                    }
                    ctx.counters.error(|| format!("write {}: {e}", self.name()));
                    self.backoff.sleep();
                }
            }
        }
    }
}

/// Writes all of `buf`, waiting out full socket buffers; once the run is stopping, gives up
/// after [`STOP_GRACE`] with `TimedOut`.
fn write_whole(stream: &mut Stream, mut buf: &[u8], ctx: &Ctx<'_>, grace: &mut Option<Instant>) -> std::io::Result<()> {
    while !buf.is_empty() {
        match stream.write(buf) {
            Ok(0) => return Err(std::io::Error::new(ErrorKind::WriteZero, "the receiver took no bytes")),
            Ok(n) => buf = &buf[n..],
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted) => {
                if ctx.past_grace(grace) {
                    return Err(std::io::Error::new(ErrorKind::TimedOut, "stopping"));
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Resolves `addr` (again at every call) and connects to the first address that answers.
fn connect_tcp(addr: &str) -> std::io::Result<TcpStream> {
    let mut last = None;
    for a in addr.to_socket_addrs()? {
        match TcpStream::connect_timeout(&a, CONNECT_TIMEOUT) {
            Ok(s) => return Ok(s),
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
    /// A socket for a `udp://` or `unixgram://` target, opened on first use.
    pub fn new(target: &Target) -> Option<Self> {
        matches!(target, Target::Udp { .. } | Target::Unixgram { .. }).then(|| Self {
            target: target.clone(),
            socket: None,
            opened: false,
            backoff: Backoff::new(),
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
        let mut failed_once = false;
        let mut grace: Option<Instant> = None;
        loop {
            if self.socket.is_none() {
                if ctx.stopping() {
                    return Outcome::Failed;
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
                        ctx.counters.error(|| format!("open {}: {e}", self.target));
                        self.backoff.sleep();
                        continue;
                    }
                }
            }
            if std::mem::take(&mut failed_once) {
                ctx.counters.retry();
            }
            let result = match self.socket.as_ref() {
                Some(Socket::Udp(s)) => s.send(&unit.bytes),
                Some(Socket::Unix(s)) => s.send(&unit.bytes),
                None => continue,
            };
            match result {
                Ok(n) if n == unit.bytes.len() => {
                    self.backoff.reset();
                    return Outcome::Sent;
                }
                Ok(n) => {
                    ctx.counters
                        .error(|| format!("send {}: only {n} of {} bytes went out", self.target, unit.bytes.len()));
                    return Outcome::Failed;
                }
                // A full Unix-socket queue: the receiver is behind. Wait, unless stopping too long.
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted) => {
                    if ctx.past_grace(&mut grace) {
                        return Outcome::Failed;
                    }
                }
                // Too large for the socket: no retry can help.
                Err(e) if e.raw_os_error() == Some(libc_emsgsize()) => {
                    ctx.counters.error(|| format!("send {}: {e} ({} bytes)", self.target, unit.bytes.len()));
                    return Outcome::Failed;
                }
                Err(e) => {
                    ctx.counters.error(|| format!("send {}: {e}", self.target));
                    self.socket = None;
                    if ctx.stopping() {
                        return Outcome::Failed;
                    }
                    self.backoff.sleep();
                    failed_once = true;
                }
            }
        }
    }
}

/// `EMSGSIZE` on Linux and the BSDs' value differs; std has no kind for it.
const fn libc_emsgsize() -> i32 {
    if cfg!(target_os = "linux") { 90 } else { 40 }
}
