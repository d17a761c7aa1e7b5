//! The stdio transport: newline-delimited JSON-RPC on stdin/stdout, one session per process.
//!
//! Requests are answered in order as they arrive; responses are gathered in one buffer and
//! written whenever no more input is waiting, so pipelined requests cost one write per batch of
//! lines and an interactive client still gets each answer at once. Nothing but MCP messages is
//! ever written to stdout. Lines longer than the request limit are discarded (without being
//! held in memory) and answered with an error.
//!
//! With `-latency`, delayed requests are answered from tasks of their own (see
//! [`crate::faults::StdioDeferrer`]), so their responses may come after later ones.
//!
//! With `-profile=conformance`, fixtures that ask the client for input write their request to
//! stdout and wait, parked, while other lines are served; the client's response line resumes
//! them ([`crate::roundtrip`]).

//!
//! When the catalog churns (`-churn`), a second thread writes the change notifications
//! between responses (never inside one), so they arrive while the client is idle too.

use std::io::{self, BufRead, Read, Write};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::churn::{Churn, Interest, write_changes};
use crate::cli::Transport;
use crate::dispatch::{CHUNK_BYTES, Dispatcher, Reply, Session};

/// Output is gathered to this size before each write to stdout (one pipe buffer).
const WRITE_BYTES: usize = 2 * CHUNK_BYTES;
use crate::faults::{FaultKind, SharedWriter, StdioDeferrer};
use crate::jsonrpc::{Parser, write_error};
use crate::mcp::{Method, error_code};
use crate::metrics;
use crate::roundtrip::{self, Call, Planned, Step};

/// Serves `input` → `output` until end of input. A closed output (broken pipe) also ends the
/// session normally.
pub fn serve<R: Read, W: Write + Send + 'static>(
    dispatcher: &Dispatcher,
    input: R,
    mut output: W,
    max_line: usize,
    max_pipelined: usize,
) -> io::Result<()> {
    let result = if let Some(churn) = dispatcher.catalog().churn() {
        serve_churning(dispatcher, churn, input, output, max_line)
    } else if dispatcher
        .faults()
        .is_some_and(|f| f.config().has_latency())
    {
        let shared = SharedWriter::new(output);
        let deferrer = StdioDeferrer::start(dispatcher, shared.clone(), max_pipelined)?;
        let result = serve_inner(
            dispatcher,
            input,
            &mut shared.clone(),
            max_line,
            Some(&deferrer),
            None,
        );
        deferrer.finish();
        result
    } else {
        serve_inner(dispatcher, input, &mut output, max_line, None, None)
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
            None,
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
    deferrer: Option<&StdioDeferrer>,
    subscriptions: Option<&Mutex<Vec<u64>>>,
) -> io::Result<()> {
    let mut reader = io::BufReader::with_capacity(WRITE_BYTES, input);
    let mut conn = Connection {
        dispatcher,
        session: Session::default(),
        parser: Parser::default(),
        out: Vec::with_capacity(WRITE_BYTES * 2),
        deferrer,
        calls: Vec::new(),
        clock: None,
        subscriptions,
    };
    // A line that did not fit in the read buffer is gathered here.
    let mut partial: Vec<u8> = Vec::new();
    let mut oversized = false;
    loop {
        if reader.buffer().is_empty() {
            // A read may wait: the next message's time starts after it.
            conn.clock = None;
        }
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
    /// Set when responses may be written by other tasks too: each is then written whole.
    deferrer: Option<&'d StdioDeferrer>,
    /// Fixture calls waiting for the client's answer to a server request (only with
    /// `-profile=conformance`).
    calls: Vec<Waiting>,
    /// When the previous message's dispatch ended, if nothing has waited since (no read, no
    /// write): the next message's dispatch starts then, which saves a clock read per message
    /// while lines are pipelined.
    clock: Option<Instant>,
    /// Where the notification thread reads the resource subscriptions (with `-churn`).
    subscriptions: Option<&'d Mutex<Vec<u64>>>,
}

/// A fixture call whose server request was written to stdout, and when it times out.
struct Waiting {
    call: Call,
    answer: oneshot::Receiver<Vec<u8>>,
    deadline: Instant,
}

impl Connection<'_> {
    fn line<W: Write>(&mut self, line: &[u8], output: &mut W) -> io::Result<()> {
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            return Ok(());
        }
        if let Some(planned) = roundtrip::plan(self.dispatcher, &mut self.session, line) {
            match planned {
                Planned::Run(call) => self.advance(call),
                Planned::Refused(error) => {
                    self.out.extend_from_slice(&error);
                    self.out.push(b'\n');
                }
            }
            return Ok(());
        }
        let plan = match self.dispatcher.faults() {
            None => None,
            Some(f) => f.plan(self.dispatcher.catalog(), line),
        };
        if let Some(p) = &plan {
            if p.transport_fault() == Some(FaultKind::Hang) {
                return Ok(());
            }
            if let Some(deferrer) = self.deferrer.filter(|_| !p.delay.is_zero() && p.stateful()) {
                let mut response = Vec::new();
                let outcome = crate::faults::dispatch(
                    Some(p),
                    line,
                    &mut response,
                    crate::faults::Progress::None,
                    self.dispatcher,
                    crate::dispatch::EraHint::FromMessage,
                    |out| {
                        self.dispatcher
                            .handle(&mut self.session, &mut self.parser, line, out)
                    },
                );
                crate::faults::finish_line(outcome.reply, self.dispatcher, &mut response);
                deferrer.write_later(p.delay, response);
                return Ok(());
            }
            if let Some(deferrer) = self.deferrer.filter(|_| !p.delay.is_zero()) {
                // The progress report goes out now, ahead of the response it announces.
                if p.write_progress(line, &mut self.out, false) > 0 {
                    self.flush(output)?;
                }
                deferrer.defer(p.clone(), line, self.session.clone());
                return Ok(());
            }
        }
        let started = self.clock.take().unwrap_or_else(Instant::now);
        let outcome = crate::faults::dispatch(
            plan.as_ref(),
            line,
            &mut self.out,
            crate::faults::Progress::None,
            self.dispatcher,
            crate::dispatch::EraHint::FromMessage,
            |out| {
                self.dispatcher
                    .handle(&mut self.session, &mut self.parser, line, out)
            },
        );
        let ended = Instant::now();
        metrics::record_message(
            Transport::Stdio,
            outcome.method,
            outcome.error_code,
            outcome.rejected,
            ended.saturating_duration_since(started),
        );
        self.clock = Some(ended);
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
                self.clock = None;
                loop {
                    if self.out.len() >= WRITE_BYTES && self.deferrer.is_none() {
                        write_counted(output, &self.out)?;
                        self.out.clear();
                    }
                    if rest.write_more(self.dispatcher.catalog(), &mut self.out, WRITE_BYTES) {
                        break;
                    }
                }
                self.out.push(b'\n');
            }
        }
        if !self.calls.is_empty() {
            self.poll_calls();
        }
        if self.out.len() >= WRITE_BYTES {
            write_counted(output, &self.out)?;
            self.out.clear();
            self.clock = None;
        }
        Ok(())
    }

    /// Writes the call's next server request and parks it, or writes its final response.
    fn advance(&mut self, mut call: Call) {
        match call.step() {
            Step::Done(response) => {
                self.out.extend_from_slice(&response);
                self.out.push(b'\n');
            }
            Step::Send(request) => {
                self.out.extend_from_slice(&request);
                self.out.push(b'\n');
                if let Some(answer) = call.receiver() {
                    let deadline = Instant::now() + call.timeout();
                    self.calls.push(Waiting {
                        call,
                        answer,
                        deadline,
                    });
                }
            }
        }
    }

    /// Moves on the calls whose answer arrived (the dispatcher routed it) or whose time is up.
    /// stdin is read blocking, so a timeout is noticed when the next message arrives.
    fn poll_calls(&mut self) {
        let now = Instant::now();
        for mut w in std::mem::take(&mut self.calls) {
            match w.answer.try_recv() {
                Ok(raw) => match w.call.answer(&raw) {
                    Some(end) => {
                        self.out.extend_from_slice(&end);
                        self.out.push(b'\n');
                    }
                    None => self.advance(w.call),
                },
                Err(oneshot::error::TryRecvError::Empty) if now < w.deadline => self.calls.push(w),
                Err(oneshot::error::TryRecvError::Empty) => {
                    for m in w.call.timed_out() {
                        self.out.extend_from_slice(&m);
                        self.out.push(b'\n');
                    }
                }
                Err(oneshot::error::TryRecvError::Closed) => {}
            }
        }
    }

    fn too_large(&mut self, max_line: usize) {
        log::debug!("rejected a stdio line longer than {max_line} bytes");
        metrics::record_message(
            Transport::Stdio,
            None,
            Some(error_code::INVALID_REQUEST),
            false,
            Duration::ZERO,
        );
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
        self.clock = None;
        if !self.out.is_empty() {
            write_counted(output, &self.out)?;
            self.out.clear();
        }
        output.flush()
    }
}

fn write_counted<W: Write>(output: &mut W, bytes: &[u8]) -> io::Result<()> {
    output.write_all(bytes)?;
    metrics::bytes_out(Transport::Stdio, bytes.len());
    Ok(())
}
