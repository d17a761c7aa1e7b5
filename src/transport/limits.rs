//! Connection caps of the HTTP transports: the idle keep-alive timeout (`-idle-timeout`), the
//! first-request deadline (`-header-timeout`) and the cap on open SSE streams
//! (`-max-sse-streams`).
//!
//! A connection is idle when no request is in flight (a response counts until its body, an SSE
//! stream included, is finished or dropped) and nothing has arrived since the last response.
//! As in Go's `net/http`, the idle timeout runs until the next request's first byte, and the
//! header timeout from there. [`Tracked`] wraps the socket to note reads; [`Counted`] wraps each
//! response body to count it in flight. The timer is one sleep per connection, re-armed only
//! when it fires or a request head starts.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::StatusCode;
use hyper::body::{Body, Frame, SizeHint};
use hyper::header::{self, HeaderValue};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

use super::{HttpResponse, ResponseBody};

/// No time recorded.
const NONE: u64 = u64::MAX;

/// What the timers of one connection watch.
pub struct Activity {
    epoch: Instant,
    /// Requests whose response is not finished.
    in_flight: AtomicUsize,
    /// A request has started on this connection.
    seen: AtomicBool,
    /// The connection speaks HTTP/2 (its idle reads are frames, not a request head).
    h2: AtomicBool,
    /// Milliseconds since `epoch` when the last response finished.
    idle_since: AtomicU64,
    /// Milliseconds since `epoch` of the first byte read while idle (a request head starting).
    head_since: AtomicU64,
    /// Wakes [`drive`] when the first request starts or a request head starts arriving.
    wake: Notify,
}

impl Activity {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            epoch: Instant::now(),
            in_flight: AtomicUsize::new(0),
            seen: AtomicBool::new(false),
            h2: AtomicBool::new(false),
            idle_since: AtomicU64::new(0),
            head_since: AtomicU64::new(NONE),
            wake: Notify::new(),
        })
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Notes bytes read: while no request is in flight they start the next request's head.
    fn read(&self) {
        if self.in_flight.load(Ordering::Acquire) == 0
            && self.head_since.load(Ordering::Relaxed) == NONE
        {
            self.head_since.store(self.now_ms(), Ordering::Relaxed);
            self.wake.notify_one();
        }
    }

    /// Counts a request in flight until the returned guard is dropped.
    pub fn begin(self: &Arc<Self>, version: hyper::Version) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.head_since.store(NONE, Ordering::Relaxed);
        if !self.seen.swap(true, Ordering::Relaxed) {
            self.h2
                .store(version == hyper::Version::HTTP_2, Ordering::Relaxed);
            self.wake.notify_one();
        }
        InFlight(self.clone())
    }

    /// When the connection is to be closed (milliseconds since `epoch`) and why, if nothing
    /// happens first; `None` while a request is in flight.
    fn deadline(&self, header_timeout: Duration, idle: Option<Duration>) -> Option<(u64, Why)> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        let ms = |d: Duration| d.as_millis() as u64;
        if !self.seen.load(Ordering::Relaxed) {
            return Some((ms(header_timeout), Why::NoRequest));
        }
        let head = self.head_since.load(Ordering::Relaxed);
        if head != NONE && !self.h2.load(Ordering::Relaxed) {
            return Some((head.saturating_add(ms(header_timeout)), Why::SlowHead));
        }
        let idle = idle?;
        Some((
            self.idle_since
                .load(Ordering::Relaxed)
                .saturating_add(ms(idle)),
            Why::Idle,
        ))
    }
}

#[derive(Debug, Clone, Copy)]
enum Why {
    NoRequest,
    SlowHead,
    Idle,
}

/// One request in flight on a connection.
pub struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let a = &self.0;
        a.idle_since.store(a.now_ms(), Ordering::Relaxed);
        a.head_since.store(NONE, Ordering::Relaxed);
        a.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Drives `conn` to its end, dropping it (which closes the socket) when no request starts
/// within `header_timeout` of the connection opening, when a request head takes longer than
/// `header_timeout` from its first byte, or when no request is in flight and nothing arrives
/// for `idle` after the last response.
///
/// hyper's own header timer is off: it would start as soon as a response is written and so
/// also close connections that are merely idle.
pub async fn drive<F, E>(
    conn: F,
    activity: &Activity,
    header_timeout: Duration,
    idle: Option<Duration>,
    remote: SocketAddr,
) -> Result<(), E>
where
    F: Future<Output = Result<(), E>>,
{
    tokio::pin!(conn);
    loop {
        let now = activity.now_ms();
        let deadline = activity.deadline(header_timeout, idle);
        let wait = match deadline {
            Some((at, why)) if at <= now => {
                match why {
                    Why::NoRequest => {
                        log::debug!("closing {remote}: no request within {header_timeout:?}")
                    }
                    Why::SlowHead => log::debug!(
                        "closing {remote}: request head not received within {header_timeout:?}"
                    ),
                    Why::Idle => log::debug!(
                        "closing {remote}: idle for {:?} (-idle-timeout)",
                        idle.unwrap_or_default()
                    ),
                }
                return Ok(());
            }
            Some((at, _)) => Duration::from_millis(at - now),
            // In flight (or never idle-closed): look again later. A sleep that started
            // before the last response ended wakes no later than its idle deadline.
            None => idle.unwrap_or(header_timeout),
        };
        tokio::select! {
            r = &mut conn => return r,
            () = tokio::time::sleep(wait) => {}
            () = activity.wake.notified() => {}
        }
    }
}

/// A socket whose reads count as activity.
pub struct Tracked<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S> Tracked<S> {
    pub fn new(inner: S, activity: Arc<Activity>) -> Self {
        Self { inner, activity }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.activity.read();
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// A response body that keeps its request counted in flight until it is finished.
pub struct Counted {
    body: ResponseBody,
    _in_flight: InFlight,
}

impl Counted {
    pub fn new(body: ResponseBody, in_flight: InFlight) -> Self {
        Self {
            body,
            _in_flight: in_flight,
        }
    }
}

impl Body for Counted {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A slot among the `-max-sse-streams` open streams, held by the stream until it ends.
pub type StreamSlot = OwnedSemaphorePermit;

/// The open-stream cap shared by every instance of a run.
pub struct StreamSlots {
    slots: Arc<Semaphore>,
    max: usize,
    epoch: Instant,
    /// Second (since `epoch`, plus one) of the last warning; 0 = none yet.
    last_warning: AtomicU64,
}

impl StreamSlots {
    pub fn new(max: usize) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(max.min(Semaphore::MAX_PERMITS))),
            max,
            epoch: Instant::now(),
            last_warning: AtomicU64::new(0),
        }
    }

    /// Streams open now.
    pub fn open(&self) -> usize {
        self.max - self.slots.available_permits().min(self.max)
    }

    /// A slot for a new stream, or the `503` that refuses it.
    // The error is the response itself, built on a cold path: boxing it buys nothing.
    #[allow(clippy::result_large_err)]
    pub fn acquire(&self) -> Result<StreamSlot, HttpResponse> {
        if let Ok(slot) = self.slots.clone().try_acquire_owned() {
            return Ok(slot);
        }
        let now = self.epoch.elapsed().as_secs() + 1;
        // One warning a second at most: a flood must not become a log flood.
        if self.last_warning.swap(now, Ordering::Relaxed) != now {
            log::warn!(
                "SSE stream limit (-max-sse-streams={}) reached; refusing new streams",
                self.max
            );
        }
        let mut r = HttpResponse::new(ResponseBody::full(format!(
            "Too many open SSE streams (limit {}); retry later\n",
            self.max
        )));
        *r.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        let h = r.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        h.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        Err(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_slots_are_returned_when_dropped() {
        let slots = StreamSlots::new(2);
        let a = slots.acquire().ok();
        let b = slots.acquire().ok();
        assert!(a.is_some() && b.is_some());
        assert_eq!(slots.open(), 2);
        let refused = slots.acquire().err().map(|r| r.status());
        assert_eq!(refused, Some(StatusCode::SERVICE_UNAVAILABLE));
        drop(a);
        assert_eq!(slots.open(), 1);
        assert!(slots.acquire().is_ok());
    }

    #[test]
    fn deadlines_follow_the_connection_state() {
        let header = Duration::from_secs(10);
        let idle = Some(Duration::from_secs(60));
        let a = Activity::new();
        assert!(matches!(
            a.deadline(header, idle),
            Some((10_000, Why::NoRequest))
        ));
        let first = a.begin(hyper::Version::HTTP_11);
        let second = a.begin(hyper::Version::HTTP_11);
        // Body bytes of a request in flight start nothing.
        a.read();
        assert!(a.deadline(header, idle).is_none());
        drop(first);
        assert!(a.deadline(header, idle).is_none());
        drop(second);
        let Some((at, Why::Idle)) = a.deadline(header, idle) else {
            panic!("not idle: {:?}", a.deadline(header, idle));
        };
        assert!((60_000..70_000).contains(&at), "{at}");
        assert!(a.deadline(header, None).is_none());
        // A byte while idle: the next head has the header timeout from now.
        a.read();
        let Some((at, Why::SlowHead)) = a.deadline(header, idle) else {
            panic!("no head deadline: {:?}", a.deadline(header, idle));
        };
        assert!((10_000..20_000).contains(&at), "{at}");
        drop(a.begin(hyper::Version::HTTP_11));
        assert!(matches!(a.deadline(header, idle), Some((_, Why::Idle))));
    }

    #[test]
    fn idle_http2_frames_are_not_a_request_head() {
        let a = Activity::new();
        drop(a.begin(hyper::Version::HTTP_2));
        a.read();
        assert!(matches!(
            a.deadline(Duration::from_secs(10), Some(Duration::from_secs(60))),
            Some((_, Why::Idle))
        ));
    }
}
