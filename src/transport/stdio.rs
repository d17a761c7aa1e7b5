//! The stdio transport: newline-delimited JSON-RPC on stdin/stdout, one session per process.
//!
//! Requests are answered in order as they arrive; responses are gathered in one buffer and
//! written whenever no more input is waiting, so pipelined requests cost one write per batch of
//! lines and an interactive client still gets each answer at once. Nothing but MCP messages is
//! ever written to stdout. Lines longer than the request limit are discarded (without being
//! held in memory) and answered with an error.

use std::io::{self, BufRead, Read, Write};

use std::time::{Duration, Instant};

use crate::cli::Transport;
use crate::dispatch::{CHUNK_BYTES, Dispatcher, Reply, Session};
use crate::jsonrpc::{Parser, write_error};
use crate::mcp::error_code;
use crate::metrics;

/// Serves `input` → `output` until end of input. A closed output (broken pipe) also ends the
/// session normally.
pub fn serve<R: Read, W: Write>(
    dispatcher: &Dispatcher,
    input: R,
    mut output: W,
    max_line: usize,
) -> io::Result<()> {
    match serve_inner(dispatcher, input, &mut output, max_line) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

fn serve_inner<R: Read, W: Write>(
    dispatcher: &Dispatcher,
    input: R,
    output: &mut W,
    max_line: usize,
) -> io::Result<()> {
    let mut reader = io::BufReader::with_capacity(CHUNK_BYTES, input);
    let mut conn = Connection {
        dispatcher,
        session: Session::default(),
        parser: Parser::default(),
        out: Vec::with_capacity(CHUNK_BYTES * 2),
        clock: None,
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
    /// When the previous message's dispatch ended, if nothing has waited since (no read, no
    /// write): the next message's dispatch starts then, which saves a clock read per message
    /// while lines are pipelined.
    clock: Option<Instant>,
}

impl Connection<'_> {
    fn line<W: Write>(&mut self, line: &[u8], output: &mut W) -> io::Result<()> {
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            return Ok(());
        }
        let started = self.clock.take().unwrap_or_else(Instant::now);
        let outcome =
            self.dispatcher
                .handle(&mut self.session, &mut self.parser, line, &mut self.out);
        let ended = Instant::now();
        metrics::record_message(
            Transport::Stdio,
            outcome.method,
            outcome.error_code,
            outcome.rejected,
            ended.saturating_duration_since(started),
        );
        self.clock = Some(ended);
        match outcome.reply {
            Reply::Nothing => {}
            Reply::Complete | Reply::Subscription => self.out.push(b'\n'),
            Reply::Partial(mut rest) => {
                self.clock = None;
                loop {
                    if self.out.len() >= CHUNK_BYTES {
                        write_counted(output, &self.out)?;
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
            write_counted(output, &self.out)?;
            self.out.clear();
            self.clock = None;
        }
        Ok(())
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
