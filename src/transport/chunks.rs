//! Flow control for replies sent in chunks over HTTP: the next chunk of a reply is written
//! only once the bytes handed out before it have left the process (hyper drops a chunk when
//! the socket has taken all of it). Memory per reply in flight is then one chunk, however
//! slowly the client reads and however many replies stream at once, and the chunk buffer
//! is reused instead of allocated again.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;

use crate::dispatch::CHUNK_BYTES;

/// Capacity of a fresh chunk buffer: a chunk is filled to [`CHUNK_BYTES`], and the last
/// definition or the SSE framing may run a little past it.
const CHUNK_CAPACITY: usize = CHUNK_BYTES + 4096;

/// Bytes a stream may have out (queued or in hyper's write buffer) before its producer waits:
/// one chunk.
pub const STREAM_BUDGET: usize = CHUNK_BYTES;

/// The bytes of one stream not yet written to its socket, and whoever waits for them.
pub struct ChunkBudget {
    inner: Arc<Inner>,
}

struct Inner {
    outstanding: AtomicUsize,
    limit: usize,
    /// The one producer waiting for room (a stream has one producer at a time).
    waiter: Mutex<Option<Waker>>,
    /// A written chunk's buffer, kept for the next chunk.
    spare: Mutex<Option<Vec<u8>>>,
    /// Whether a reply is being written, so a written chunk's buffer is worth keeping (a
    /// legacy SSE session lives on between replies and must not hold a buffer meanwhile).
    reusing: AtomicBool,
}

impl Inner {
    fn has_room(&self) -> bool {
        self.outstanding.load(Ordering::Acquire) < self.limit
    }
}

/// A chunk handed to hyper; its bytes count against the budget until it is dropped.
struct Tracked {
    buf: Vec<u8>,
    counted: usize,
    home: Arc<Inner>,
}

impl AsRef<[u8]> for Tracked {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        let mut buf = std::mem::take(&mut self.buf);
        if buf.capacity() <= 2 * CHUNK_CAPACITY && self.home.reusing.load(Ordering::Acquire) {
            buf.clear();
            let mut spare = lock(&self.home.spare);
            if spare.is_none() {
                *spare = Some(buf);
            }
        }
        self.home
            .outstanding
            .fetch_sub(self.counted, Ordering::AcqRel);
        if let Some(w) = lock(&self.home.waiter).take() {
            w.wake();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl ChunkBudget {
    /// A budget of `limit` bytes out at once (at least one chunk is always let through).
    pub fn new(limit: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                outstanding: AtomicUsize::new(0),
                limit: limit.max(1),
                waiter: Mutex::new(None),
                spare: Mutex::new(None),
                reusing: AtomicBool::new(false),
            }),
        }
    }

    /// Bytes handed out and not yet dropped.
    pub fn outstanding(&self) -> usize {
        self.inner.outstanding.load(Ordering::Acquire)
    }

    /// Ready when the next chunk may be produced; otherwise the waker is called once enough
    /// of the earlier chunks have been written.
    pub fn poll_ready(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.inner.has_room() {
            return Poll::Ready(());
        }
        *lock(&self.inner.waiter) = Some(cx.waker().clone());
        // A chunk dropped between the test and the waker being stored must not be missed.
        if self.inner.has_room() {
            return Poll::Ready(());
        }
        Poll::Pending
    }

    /// Waits until the next chunk may be produced.
    pub async fn ready(&self) {
        std::future::poll_fn(|cx| self.poll_ready(cx)).await
    }

    /// An empty buffer for the next chunk: the last written chunk's, when there is one.
    pub fn buffer(&self) -> Vec<u8> {
        self.inner.reusing.store(true, Ordering::Release);
        lock(&self.inner.spare)
            .take()
            .unwrap_or_else(|| Vec::with_capacity(CHUNK_CAPACITY))
    }

    /// Says the reply's last chunk has been handed out: buffers are no longer kept.
    pub fn finish(&self) {
        self.inner.reusing.store(false, Ordering::Release);
        lock(&self.inner.spare).take();
    }

    /// Hands `chunk` out: it counts against the budget (by the memory it holds) until the
    /// returned bytes are dropped.
    pub fn track(&self, mut chunk: Vec<u8>) -> Bytes {
        // A reply's first chunk grew by doubling (to 128 KiB for 64 KiB of data): give the
        // unused part back rather than hold it while the chunk waits for the socket.
        if chunk.capacity() - chunk.len() > 2 * 4096 {
            chunk.shrink_to_fit();
        }
        let counted = chunk.capacity();
        self.inner.outstanding.fetch_add(counted, Ordering::AcqRel);
        Bytes::from_owner(Tracked {
            buf: chunk,
            counted,
            home: self.inner.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::task::Wake;

    struct Flag(AtomicBool);
    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_producer_waits_until_the_chunk_out_is_dropped() {
        let budget = ChunkBudget::new(STREAM_BUDGET);
        let flag = Arc::new(Flag(AtomicBool::new(false)));
        let waker = Waker::from(flag.clone());
        let mut cx = Context::from_waker(&waker);
        assert!(budget.poll_ready(&mut cx).is_ready());
        let mut buf = budget.buffer();
        buf.resize(CHUNK_BYTES, b'x');
        let chunk = budget.track(buf);
        assert_eq!(chunk.len(), CHUNK_BYTES);
        assert!(budget.outstanding() >= CHUNK_BYTES);
        assert!(budget.poll_ready(&mut cx).is_pending());
        // A clone (hyper may split a chunk) keeps it counted until the last part goes.
        let tail = chunk.slice(10..);
        drop(chunk);
        assert!(!flag.0.load(Ordering::SeqCst));
        drop(tail);
        assert!(flag.0.load(Ordering::SeqCst), "the producer is woken");
        assert_eq!(budget.outstanding(), 0);
        assert!(budget.poll_ready(&mut cx).is_ready());
    }

    #[test]
    fn written_buffers_are_reused() {
        let budget = ChunkBudget::new(STREAM_BUDGET);
        let mut buf = budget.buffer();
        buf.extend_from_slice(b"abc");
        let ptr = buf.as_ptr();
        drop(budget.track(buf));
        let again = budget.buffer();
        assert!(again.is_empty());
        assert_eq!(again.as_ptr(), ptr);
        // Once the reply is finished, its last buffer is freed, not kept.
        let last = budget.track(again);
        budget.finish();
        drop(last);
        assert!(lock(&budget.inner.spare).is_none());
    }

    /// The producer on a runtime thread, the chunks dropped on another thread as a socket
    /// writer would: no wake-up is lost (the producer finishes) and the budget holds.
    #[test]
    fn a_producer_and_a_writer_on_two_threads() {
        const CHUNKS: usize = 2_000;
        let limit = 3 * CHUNK_CAPACITY;
        let budget = Arc::new(ChunkBudget::new(limit));
        let (tx, rx) = std::sync::mpsc::sync_channel::<Bytes>(CHUNKS);
        let watched = budget.clone();
        let writer = std::thread::spawn(move || {
            let mut most = 0;
            let mut bytes = 0;
            for (i, chunk) in rx.iter().enumerate() {
                most = most.max(watched.outstanding());
                assert!(chunk.iter().all(|&b| b == (i % 251) as u8), "chunk {i}");
                bytes += chunk.len();
                // Sometimes hold on, as a slow socket does, so the producer has to wait.
                if i % 7 == 0 {
                    std::thread::sleep(std::time::Duration::from_micros(50));
                }
            }
            (most, bytes)
        });
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let produce = async {
            for i in 0..CHUNKS {
                budget.ready().await;
                let mut buf = budget.buffer();
                buf.resize(CHUNK_BYTES, (i % 251) as u8);
                tx.send(budget.track(buf)).expect("the writer");
            }
            budget.finish();
        };
        let produced = runtime.block_on(async {
            tokio::time::timeout(std::time::Duration::from_secs(30), produce).await
        });
        assert!(
            produced.is_ok(),
            "the producer waited for a wake-up that never came"
        );
        drop(tx);
        let (most, bytes) = writer.join().expect("the writer");
        assert_eq!(bytes, CHUNKS * CHUNK_BYTES);
        // Room is checked before a chunk is added, so at most one chunk past the limit.
        assert!(most <= limit + CHUNK_CAPACITY, "{most} bytes out at once");
        assert_eq!(budget.outstanding(), 0);
    }

    #[test]
    fn small_budgets_still_let_one_chunk_through() {
        let budget = ChunkBudget::new(0);
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        assert!(budget.poll_ready(&mut cx).is_ready());
    }
}
