//! One direction of a socket relay: source socket → pipe → destination socket with splice(2), so
//! the bytes never enter user space.
//!
//! A flow is a plain state machine, driven by its connection ([`super::connection`]): a turn
//! moves bytes until one side is not ready and says which; the connection parks until that side
//! is, then gives the flow its next turn. Within a turn: while the pipe holds bytes, splice them
//! into the destination; once it is empty, splice the next bytes out of the source. A 0 from the
//! source is its end: pass it on with `shutdown(SHUT_WR)` if asked to.
//!
//! The pipe is held only while it carries bytes: before parking on an idle source it goes back
//! to the pool, so thousands of idle connections hold no pipes (no descriptors, no pipe
//! buffers) and the pool's invariant holds: only empty pipes go back.

use nix::errno::Errno;
use nix::fcntl::{splice, SpliceFFlags};

use super::end::RelayEnd;
use crate::error::Failure;
use crate::pipe_pool::{self, Pipe};

/// Which of its two sides a flow waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Its source has nothing to give.
    Source,
    /// Its destination takes nothing more for now.
    Destination,
}

/// How a turn ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Turn {
    /// A side is not ready: the next turn is for when it is.
    Parked(Side),
    /// The source ended, and the end was passed on if asked: the flow is done.
    Ended,
    /// The turn's budget moved with both sides still ready.
    Spent,
}

pub struct Flow {
    /// Bytes JS had already read from the source before the relay took over: they go first.
    prefix: Vec<u8>,
    prefix_sent: usize,
    /// Whether the source's end becomes a half-close of the destination.
    end: bool,
    pipe: Option<Pipe>,
    /// Bytes in the pipe, taken from the source, not yet in the destination.
    buffered: usize,
    /// Bytes that reached the destination, prefix included.
    bytes: u64,
}

impl Flow {
    pub fn new(prefix: Vec<u8>, end: bool) -> Self {
        Flow {
            prefix,
            prefix_sent: 0,
            end,
            pipe: None,
            buffered: 0,
            bytes: 0,
        }
    }

    /// Bytes that reached the destination so far, prefix included.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Moves bytes from `src` to `dst` until a side is not ready, the source ends (then `dst` is
    /// half-closed if asked), or at least `budget` bytes have moved. Each call makes a fresh
    /// attempt on both sides: it never trusts an earlier readiness.
    pub fn turn(&mut self, src: &RelayEnd, dst: &RelayEnd, budget: u64) -> Result<Turn, Failure> {
        if !self.send_prefix(dst)? {
            return Ok(Turn::Parked(Side::Destination));
        }
        let start = self.bytes;
        while self.bytes - start < budget {
            if self.buffered == 0 {
                match self.fill(src)? {
                    Fill::Bytes => {}
                    Fill::End => {
                        self.release_pipe();
                        if self.end {
                            dst.shutdown_write()?;
                        }
                        return Ok(Turn::Ended);
                    }
                    Fill::WouldBlock => {
                        self.release_pipe();
                        return Ok(Turn::Parked(Side::Source));
                    }
                }
            }
            if !self.drain(dst)? {
                return Ok(Turn::Parked(Side::Destination));
            }
        }
        Ok(Turn::Spent)
    }

    /// Writes what is left of the prefix; `false` if the destination is full.
    fn send_prefix(&mut self, dst: &RelayEnd) -> Result<bool, Failure> {
        while self.prefix_sent < self.prefix.len() {
            match dst.write(&self.prefix[self.prefix_sent..]) {
                Ok(n) => {
                    self.prefix_sent += n;
                    self.bytes += n as u64;
                }
                // A signal arrived before anything was written: write again.
                Err(Errno::EINTR) => {}
                Err(Errno::EAGAIN) => return Ok(false),
                Err(errno) => return Err(Failure::os(errno, "write")),
            }
        }
        if !self.prefix.is_empty() {
            self.prefix = Vec::new();
            self.prefix_sent = 0;
        }
        Ok(true)
    }

    /// One splice from the source into the (empty) pipe.
    fn fill(&mut self, src: &RelayEnd) -> Result<Fill, Failure> {
        let pipe = match &mut self.pipe {
            Some(pipe) => pipe,
            none => none.insert(pipe_pool::take().map_err(|e| Failure::os(e, "pipe"))?),
        };
        loop {
            match splice(
                src.fd(),
                None,
                pipe.write_end(),
                None,
                pipe.capacity(),
                SpliceFFlags::SPLICE_F_MOVE | SpliceFFlags::SPLICE_F_NONBLOCK,
            ) {
                Ok(0) => return Ok(Fill::End),
                Ok(n) => {
                    self.buffered = n;
                    return Ok(Fill::Bytes);
                }
                // A signal arrived before any byte moved: splice again.
                Err(Errno::EINTR) => {}
                // The pipe is empty, so an EAGAIN can only mean the source has nothing to give.
                Err(Errno::EAGAIN) => return Ok(Fill::WouldBlock),
                Err(errno) => return Err(Failure::os(errno, "splice")),
            }
        }
    }

    /// Splices from the pipe into the destination until the pipe is empty (`true`) or the
    /// destination says `EAGAIN` (`false`).
    fn drain(&mut self, dst: &RelayEnd) -> Result<bool, Failure> {
        let Some(pipe) = &self.pipe else {
            return Ok(true);
        };
        loop {
            // SIGPIPE: splice to a dead socket raises it (the kernel sets no MSG_NOSIGNAL here).
            // Node and Rust programs ignore SIGPIPE, so it arrives as EPIPE.
            match splice(
                pipe.read_end(),
                None,
                dst.fd(),
                None,
                self.buffered,
                SpliceFFlags::SPLICE_F_MOVE | SpliceFFlags::SPLICE_F_NONBLOCK,
            ) {
                Ok(n) => {
                    self.buffered -= n;
                    self.bytes += n as u64;
                    if self.buffered == 0 {
                        return Ok(true);
                    }
                }
                // A signal arrived before any byte moved: splice again.
                Err(Errno::EINTR) => {}
                Err(Errno::EAGAIN) => return Ok(false),
                Err(errno) => return Err(Failure::os(errno, "splice")),
            }
        }
    }

    /// Hands an empty pipe back to the pool; a pipe with bytes in it stays (and is closed on drop).
    fn release_pipe(&mut self) {
        if self.buffered == 0 {
            if let Some(pipe) = self.pipe.take() {
                pipe_pool::give_back(pipe);
            }
        }
    }
}

impl Drop for Flow {
    fn drop(&mut self) {
        // A failed or cancelled flow may leave bytes in its pipe: dropping the pipe closes it,
        // so they can never reach another connection.
        self.release_pipe();
    }
}

enum Fill {
    Bytes,
    End,
    WouldBlock,
}
