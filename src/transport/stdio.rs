//! The stdio transport: newline-delimited JSON-RPC on stdin/stdout, one session per process.
//!
//! Requests are answered in order as they arrive; responses are gathered in one buffer and
//! written whenever no more input is waiting, so pipelined requests cost one write per batch of
//! lines and an interactive client still gets each answer at once. Nothing but MCP messages is
//! ever written to stdout. Lines longer than the request limit are discarded (without being
//! held in memory) and answered with an error.
//!
//! When the catalog churns (`-churn`), a second thread writes the change notifications
//! between responses (never inside one), so they arrive while the client is idle too.

use std::io::{self, BufRead, Read, Write};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Mutex, MutexGuard};

use crate::churn::{Churn, Interest, write_changes};
use crate::dispatch::{CHUNK_BYTES, Dispatcher, Reply, Session};
use crate::jsonrpc::{Parser, write_error};
use crate::mcp::{Method, error_code};

/// Serves `input` → `output` until end of input. A closed output (broken pipe) also ends the
/// session normally.
pub fn serve<R: Read, W: Write + Send>(
    dispatcher: &Dispatcher,
    input: R,
    mut output: W,
    max_line: usize,
) -> io::Result<()> {
    let result = match dispatcher.catalog().churn() {
        None => serve_inner(dispatcher, input, &mut output, max_line, None),
        Some(churn) => serve_churning(dispatcher, churn, input, output, max_line),
    };
    match result {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Serves with a thread writing the change notifications of a churning catalog.
fn serve_churning<R: Read, W: Write + Send>(
    dispatcher: &Dispatcher,
    churn: Churn,
    input: R,
    output: W,
    max_line: usize,
) -> io::Result<()> {
    let output = Mutex::new(output);
    let subscriptions = Mutex::new(Vec::new());
    let (stop, stopped) = mpsc::channel::<()>();
    std::thread::scope(|scope| {
        let (out, subs) = (&output, &subscriptions);
        scope.spawn(move || notify_changes(dispatcher, churn, out, subs, stopped));
        let mut locked = Locked {
            shared: &output,
            guard: None,
        };
        let result = serve_inner(
            dispatcher,
            input,
            &mut locked,
            max_line,
            Some(&subscriptions),
        );
        drop(locked);
        drop(stop);
        result
    })
}

/// Writes the notifications of each catalog change until `stop` closes or output fails.
fn notify_changes<W: Write>(
    dispatcher: &Dispatcher,
    churn: Churn,
    output: &Mutex<W>,
    subscriptions: &Mutex<Vec<u64>>,
    stop: mpsc::Receiver<()>,
) {
    let mut generation = churn.generation();
    loop {
        match stop.recv_timeout(churn.until(generation + 1)) {
            Err(RecvTimeoutError::Timeout) => {}
            _ => return,
        }
        let now = churn.generation();
        if now <= generation {
            continue;
        }
        let interest = Interest {
            resources: lock(subscriptions).clone(),
            ..Interest::all_lists()
        };
        let mut messages = Vec::new();
        write_changes(
            dispatcher.catalog(),
            &churn,
            &interest,
            generation,
            now,
            &mut messages,
        );
        generation = now;
        let mut out = lock(output);
        if out.write_all(&messages).and_then(|()| out.flush()).is_err() {
            return;
        }
    }
}

/// The shared output, held from the first write of a response until the next flush, so the
/// notification thread writes only between whole responses.
struct Locked<'a, W> {
    shared: &'a Mutex<W>,
    guard: Option<MutexGuard<'a, W>>,
}

impl<W: Write> Write for Locked<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let shared = self.shared;
        self.guard.get_or_insert_with(|| lock(shared)).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.guard.take() {
            Some(mut g) => g.flush(),
            None => Ok(()),
        }
    }
}

fn serve_inner<R: Read, W: Write>(
    dispatcher: &Dispatcher,
    input: R,
    output: &mut W,
    max_line: usize,
    subscriptions: Option<&Mutex<Vec<u64>>>,
) -> io::Result<()> {
    let mut reader = io::BufReader::with_capacity(CHUNK_BYTES, input);
    let mut conn = Connection {
        dispatcher,
        session: Session::default(),
        parser: Parser::default(),
        out: Vec::with_capacity(CHUNK_BYTES * 2),
        subscriptions,
    };
    // A line that did not fit in the read buffer is gathered here.
    let mut partial: Vec<u8> = Vec::new();
    let mut oversized = false;
    loop {
        let buf = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            // End of input: a last line without a newline is still answered.
            if oversized {
                conn.too_large(max_line);
            } else if !partial.is_empty() {
                conn.line(&partial, output)?;
            }
            conn.flush(output)?;
            return Ok(());
        }
        match buf.iter().position(|&b| b == b'\n') {
            Some(i) => {
                if oversized || partial.len() + i > max_line {
                    conn.too_large(max_line);
                } else if partial.is_empty() {
                    conn.line(&buf[..i], output)?;
                } else {
                    partial.extend_from_slice(&buf[..i]);
                    conn.line(&partial, output)?;
                }
                partial.clear();
                oversized = false;
                reader.consume(i + 1);
            }
            None => {
                let n = buf.len();
                if !oversized {
                    if partial.len() + n > max_line {
                        oversized = true;
                        partial = Vec::new();
                    } else {
                        partial.extend_from_slice(buf);
                    }
                }
                reader.consume(n);
            }
        }
        if reader.buffer().is_empty() {
            conn.flush(output)?;
        }
    }
}

struct Connection<'d> {
    dispatcher: &'d Dispatcher,
    session: Session,
    parser: Parser,
    out: Vec<u8>,
    /// Where the notification thread reads the resource subscriptions (with `-churn`).
    subscriptions: Option<&'d Mutex<Vec<u64>>>,
}

impl Connection<'_> {
    fn line<W: Write>(&mut self, line: &[u8], output: &mut W) -> io::Result<()> {
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            return Ok(());
        }
        let outcome =
            self.dispatcher
                .handle(&mut self.session, &mut self.parser, line, &mut self.out);
        if let Some(shared) = self.subscriptions
            && matches!(
                outcome.method,
                Some(Method::ResourcesSubscribe | Method::ResourcesUnsubscribe)
            )
        {
            lock(shared).clone_from(&self.session.subscriptions);
        }
        match outcome.reply {
            Reply::Nothing => {}
            Reply::Complete | Reply::Subscription => self.out.push(b'\n'),
            Reply::Partial(mut rest) => {
                loop {
                    if self.out.len() >= CHUNK_BYTES {
                        output.write_all(&self.out)?;
                        self.out.clear();
                    }
                    if rest.write_more(self.dispatcher.catalog(), &mut self.out, CHUNK_BYTES) {
                        break;
                    }
                }
                self.out.push(b'\n');
            }
        }
        if self.out.len() >= CHUNK_BYTES {
            output.write_all(&self.out)?;
            self.out.clear();
        }
        Ok(())
    }

    fn too_large(&mut self, max_line: usize) {
        log::debug!("rejected a stdio line longer than {max_line} bytes");
        let message = format!("Request too large: a message may be at most {max_line} bytes");
        write_error(
            &mut self.out,
            None,
            error_code::INVALID_REQUEST,
            &message,
            None,
        );
        self.out.push(b'\n');
    }

    fn flush<W: Write>(&mut self, output: &mut W) -> io::Result<()> {
        if !self.out.is_empty() {
            output.write_all(&self.out)?;
            self.out.clear();
        }
        output.flush()
    }
}
