//! gRPC: one unary call per unit over one HTTP/2 connection (cleartext, prior knowledge), as
//! OTLP/gRPC exporters send to a collector's port 4317.
//!
//! A unit is the request message of the format's declared method
//! ([`crate::Delivery::grpc_method`], e.g. `/opentelemetry.proto.collector.logs.v1.LogsService/Export`):
//! the call carries it as one length-prefixed message (flag byte, 4-byte big-endian length),
//! with `content-type: application/grpc` and `te: trailers`. A block built with
//! `--compression gzip` or `zstd` is sent as a compressed message (flag 1, `grpc-encoding`).
//! `--header`s go as metadata.
//!
//! The answer's `grpc-status` (trailers, or the headers of a trailers-only answer) decides, as
//! [`super::grpc::verdict`] says; the retry loop is [`super::request`], shared with HTTP
//! (`RetryInfo` delays are not read). On `0 OK` the response message (at most
//! [`super::http::DRAIN_LIMIT`] bytes) is read for OTLP's `partial_success`, as over HTTP.
//!
//! A transport or HTTP/2 error drops the connection; the next attempt connects again. Each
//! connection runs its own single-threaded tokio runtime, so a `send` run stays one OS thread
//! per connection, as with every other transport. A call in progress when the run stops is
//! given up [`super::conn::STOP_GRACE`] after the stop, and its unit counts as failed.

use std::future::{Future, poll_fn};
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use h2::client::SendRequest;
use tokio::net::TcpStream;

use super::conn::{Backoff, Ctx, Outcome, STOP_GRACE};
use super::grpc::{GrpcSpec, code_name, code_of_http_status, verdict};
use super::http::DRAIN_LIMIT;
use super::request::{self, Answer, Exchange, NoAnswer};
use super::stats::Failure;
use super::wire::Unit;
use crate::error::{Error, Result};

/// How long one call may take, from connecting to the end of the answer.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How often a call in progress looks at the stop flag.
const POLL: Duration = Duration::from_millis(50);
/// The HTTP/2 receive windows this client offers (for answers; what it may send is the
/// receiver's window, waited for in [`send_all`]).
const WINDOW: u32 = 4 << 20;

/// One HTTP/2 connection of a run, made on first use and after a failure.
pub struct GrpcConn {
    spec: GrpcSpec,
    runtime: tokio::runtime::Runtime,
    client: Option<SendRequest<Bytes>>,
    backoff: Backoff,
}

impl GrpcConn {
    /// A connection for `spec`; `seed` jitters its backoff.
    ///
    /// # Errors
    /// [`Error::Io`] when the runtime cannot be made.
    pub fn new(spec: GrpcSpec, seed: u64) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(|e| Error::io("start", "the gRPC connection's runtime", e))?;
        Ok(Self { spec, runtime, client: None, backoff: Backoff::new(seed) })
    }

    /// Calls the method with `unit`, retrying retryable statuses and transport errors.
    pub fn deliver(&mut self, unit: &Unit, ctx: &Ctx<'_>) -> Outcome {
        let mut call = Call { spec: &self.spec, runtime: &self.runtime, client: &mut self.client };
        request::deliver(&mut call, &mut self.backoff, self.spec.max_retries, unit, ctx)
    }
}

/// One call of a [`GrpcConn`].
struct Call<'a> {
    spec: &'a GrpcSpec,
    runtime: &'a tokio::runtime::Runtime,
    client: &'a mut Option<SendRequest<Bytes>>,
}

impl Exchange for Call<'_> {
    fn name(&self) -> String {
        format!("gRPC grpc://{}{}", self.spec.addr, self.spec.method)
    }

    fn attempt(&mut self, unit: &Unit, ctx: &Ctx<'_>) -> std::result::Result<Answer, NoAnswer> {
        let (spec, client) = (self.spec, &mut *self.client);
        let outcome = self.runtime.block_on(until_stopped(ctx, async {
            tokio::time::timeout(CALL_TIMEOUT, call(spec, client, unit))
                .await
                .unwrap_or_else(|_| Err(no_answer(Failure::Timeout, format!("no answer within {CALL_TIMEOUT:?}"))))
        }));
        match outcome {
            Ok((code, answer)) => {
                ctx.counters.grpc_status(code);
                Ok(answer)
            }
            Err(e) => {
                // The connection may be broken: make a new one for the next attempt.
                *self.client = None;
                Err(e)
            }
        }
    }
}

/// Runs `call`, giving it up [`STOP_GRACE`] after the run starts stopping.
async fn until_stopped<T>(
    ctx: &Ctx<'_>,
    call: impl Future<Output = std::result::Result<T, NoAnswer>>,
) -> std::result::Result<T, NoAnswer> {
    let watch = async {
        while !ctx.stopping() {
            tokio::time::sleep(POLL).await;
        }
        tokio::time::sleep(STOP_GRACE).await;
    };
    let (mut call, mut watch) = (std::pin::pin!(call), std::pin::pin!(watch));
    poll_fn(|cx| {
        if let Poll::Ready(result) = call.as_mut().poll(cx) {
            return Poll::Ready(result);
        }
        match watch.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(no_answer(Failure::Timeout, "given up: the run stopped".to_owned()))),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

fn no_answer(failure: Failure, message: String) -> NoAnswer {
    NoAnswer { failure, fatal: false, message }
}

fn h2_failure(what: &str, e: &h2::Error) -> NoAnswer {
    let failure = match e.get_io() {
        Some(io) => Failure::of_io(io),
        None if e.is_go_away() || e.is_reset() => Failure::Closed,
        None => Failure::Io,
    };
    no_answer(failure, format!("{what}: {e}"))
}

/// Connects (when there is no connection) and makes one call.
async fn call(
    spec: &GrpcSpec,
    client: &mut Option<SendRequest<Bytes>>,
    unit: &Unit,
) -> std::result::Result<(u16, Answer), NoAnswer> {
    let sender = match client {
        Some(sender) => sender.clone(),
        None => {
            let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&spec.addr))
                .await
                .map_err(|_| no_answer(Failure::Timeout, format!("connecting took over {CONNECT_TIMEOUT:?}")))?
                .map_err(|e| no_answer(Failure::of_io(&e), format!("connecting: {e}")))?;
            let _ = tcp.set_nodelay(true);
            let (sender, connection) = h2::client::Builder::new()
                .initial_window_size(WINDOW)
                .initial_connection_window_size(WINDOW)
                .handshake::<_, Bytes>(tcp)
                .await
                .map_err(|e| h2_failure("HTTP/2 handshake", &e))?;
            // The connection is driven while this runtime runs a call; it ends with its socket.
            tokio::spawn(async move {
                let _ = connection.await;
            });
            client.insert(sender).clone()
        }
    };
    let mut sender = sender.ready().await.map_err(|e| h2_failure("HTTP/2 connection", &e))?;
    let mut request = http::Request::post(format!("http://{}{}", spec.addr, spec.method))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header("user-agent", concat!("payforge/", env!("CARGO_PKG_VERSION")));
    if let Some(encoding) = spec.encoding {
        request = request.header("grpc-encoding", encoding);
    }
    for h in &spec.headers {
        request = request.header(h.name.as_str(), h.value.as_str());
    }
    let request = request.body(()).map_err(|e| no_answer(Failure::Io, format!("request: {e}")))?;
    let (response, mut stream) = sender.send_request(request, false).map_err(|e| h2_failure("sending", &e))?;
    let len = u32::try_from(unit.bytes.len()).map_err(|_| {
        no_answer(Failure::TooLarge, format!("a {} byte message exceeds gRPC's 4 GiB", unit.bytes.len()))
    })?;
    let mut prefix = [0u8; 5];
    prefix[0] = u8::from(spec.encoding.is_some());
    prefix[1..].copy_from_slice(&len.to_be_bytes());
    send_all(&mut stream, Bytes::copy_from_slice(&prefix), false).await?;
    send_all(&mut stream, unit.bytes.clone(), true).await?;
    let response = response.await.map_err(|e| h2_failure("waiting for the answer", &e))?;
    let (head, mut body) = response.into_parts();
    // The message (bounded), then the trailers; a trailers-only answer has its status in the head.
    let mut message = Vec::new();
    let mut body_error = None;
    while let Some(chunk) = body.data().await {
        match chunk {
            Ok(chunk) => {
                let _ = body.flow_control().release_capacity(chunk.len());
                if message.len() < DRAIN_LIMIT as usize {
                    message.extend_from_slice(&chunk);
                }
            }
            Err(e) => {
                body_error = Some(e.to_string());
                break;
            }
        }
    }
    let trailers = match body_error {
        None => body.trailers().await.unwrap_or_else(|e| {
            body_error = Some(e.to_string());
            None
        }),
        Some(_) => None,
    };
    let status = |headers: &http::HeaderMap| {
        headers.get("grpc-status").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u16>().ok())
    };
    let code = status(&head.headers)
        .or_else(|| trailers.as_ref().and_then(status))
        .unwrap_or_else(|| code_of_http_status(head.status.as_u16()));
    let rejected_records = match (code, spec.partial_success) {
        (0, Some(read)) => message.get(5..).map_or(0, read),
        _ => 0,
    };
    let verdict = verdict(code);
    let detail = [&head.headers]
        .into_iter()
        .chain(trailers.as_ref())
        .find_map(|h| h.get("grpc-message").and_then(|v| v.to_str().ok()).map(|m| format!(": {m}")));
    let answer = Answer {
        verdict,
        status: format!("gRPC status {code} {}{}", code_name(code), detail.unwrap_or_default()),
        retry_after: None,
        body_error,
        rejected_records,
    };
    Ok((code, answer))
}

/// Sends `data` on `stream` as the HTTP/2 flow control allows.
async fn send_all(stream: &mut h2::SendStream<Bytes>, mut data: Bytes, end: bool) -> std::result::Result<(), NoAnswer> {
    if data.is_empty() {
        return stream.send_data(data, end).map_err(|e| h2_failure("sending the message", &e));
    }
    while !data.is_empty() {
        stream.reserve_capacity(data.len());
        let granted = match poll_fn(|cx| stream.poll_capacity(cx)).await {
            Some(Ok(n)) if n > 0 => n,
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(h2_failure("sending the message", &e)),
            None => return Err(no_answer(Failure::Closed, "the stream closed while sending".to_owned())),
        };
        let chunk = data.split_to(granted.min(data.len()));
        stream.send_data(chunk, end && data.is_empty()).map_err(|e| h2_failure("sending the message", &e))?;
    }
    Ok(())
}
