//! One direction of a socket relay: source socket → pipe → destination socket with splice(2), so
//! the bytes never enter user space.
//!
//! The loop: while the pipe holds bytes, splice them into the destination (on `EAGAIN`, park
//! until it is writable); once it is empty, splice the next bytes out of the source (on
//! `EAGAIN`, park until it is readable). A 0 from the source is its end: pass it on with
//! `shutdown(SHUT_WR)` if asked to. Every wait is on epoll; nothing spins.
//!
//! The pipe is held only while it carries bytes: before parking on an idle source it goes back
//! to the pool, so thousands of idle connections hold no pipes (no descriptors, no pipe
//! buffers) and the pool's invariant holds: only empty pipes go back.

use nix::errno::Errno;
use nix::fcntl::{splice, SpliceFFlags};

use super::end::RelayEnd;
use crate::error::Failure;
use crate::limits::STEP_BYTES;
use crate::pipe_pool::{self, Pipe};

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

    /// Moves bytes until the source ends (then half-closes `dst` if asked to) or a call fails.
    /// `on_progress` hears the byte count at most once per `STEP_BYTES`. Cancel by dropping the
    /// future: the count stays right, and a pipe left holding bytes is closed, not pooled.
    pub async fn run(
        &mut self,
        src: &RelayEnd,
        dst: &RelayEnd,
        on_progress: &mut (impl FnMut(u64) + Send),
    ) -> Result<(), Failure> {
        self.send_prefix(dst).await?;
        let mut reported = self.bytes;
        let mut since_yield = 0u64;
        loop {
            if self.buffered == 0 {
                match self.fill(src)? {
                    Fill::Bytes => {}
                    Fill::End => break,
                    Fill::WouldBlock => {
                        self.release_pipe();
                        src.readable().await?;
                        continue;
                    }
                }
            }
            match self.drain(dst)? {
                Some(n) => since_yield += n as u64,
                None => {
                    dst.writable().await?;
                    continue;
                }
            }
            if self.bytes - reported >= STEP_BYTES {
                reported = self.bytes;
                on_progress(reported);
            }
            if since_yield >= STEP_BYTES {
                // Fairness: a fast connection must not keep other relays on this thread waiting.
                since_yield = 0;
                tokio::task::yield_now().await;
            }
        }
        self.release_pipe();
        if self.end {
            dst.shutdown_write()?;
        }
        Ok(())
    }

    async fn send_prefix(&mut self, dst: &RelayEnd) -> Result<(), Failure> {
        while self.prefix_sent < self.prefix.len() {
            match dst.write(&self.prefix[self.prefix_sent..]) {
                Ok(n) => {
                    self.prefix_sent += n;
                    self.bytes += n as u64;
                }
                Err(Errno::EINTR) => {}
                Err(Errno::EAGAIN) => dst.writable().await?,
                Err(errno) => return Err(Failure::os(errno, "write")),
            }
        }
        self.prefix = Vec::new();
        Ok(())
    }

    /// One splice from the source into the (empty) pipe.
    fn fill(&mut self, src: &RelayEnd) -> Result<Fill, Failure> {
        let pipe = match &mut self.pipe {
            Some(pipe) => pipe,
            none => none.insert(pipe_pool::take().map_err(|e| Failure::os(e, "pipe"))?),
        };
        loop {
            // The pipe is empty, so an EAGAIN can only mean the source has nothing to give.
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
                Err(Errno::EINTR) => {}
                Err(Errno::EAGAIN) => return Ok(Fill::WouldBlock),
                Err(errno) => return Err(Failure::os(errno, "splice")),
            }
        }
    }

    /// One splice from the pipe into the destination; `None` if the destination is full.
    fn drain(&mut self, dst: &RelayEnd) -> Result<Option<usize>, Failure> {
        let Some(pipe) = &self.pipe else {
            return Ok(Some(0));
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
                    return Ok(Some(n));
                }
                Err(Errno::EINTR) => {}
                Err(Errno::EAGAIN) => return Ok(None),
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
