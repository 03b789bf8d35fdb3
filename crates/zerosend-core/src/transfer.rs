//! One transfer: the source range, the destination, the prefix, and the engine moving the bytes.
//! `step()` is one non-blocking burst of work; the driver (or the caller, for a first attempt on
//! its own thread) decides when to call it again.

use std::os::fd::RawFd;
use std::path::PathBuf;

use nix::errno::Errno;

use crate::auto::{self, Goal};
use crate::dest::{is_unsupported, Dest, Pacing};
use crate::engine::{CallError, Engine, Sent, Span, WithHeader};
use crate::error::Failure;
use crate::limits::{call_len, first_step_bytes, SHORT_FIRST_STEP_BYTES};
use crate::method::Method;
use crate::source::{resolve_range, Source};

/// Where the file comes from.
#[derive(Debug, Clone)]
pub enum SourceSpec {
    /// Opened read-only by the transfer.
    Path(PathBuf),
    /// A descriptor the caller keeps; the transfer reads from its own `dup()`.
    Fd(RawFd),
}

/// What to send where.
#[derive(Debug, Clone)]
pub struct Request {
    pub source: SourceSpec,
    /// The caller's descriptor; the transfer writes to its own `dup()`.
    pub dest_fd: RawFd,
    pub offset: u64,
    /// `None`: to the end of the file.
    pub length: Option<u64>,
    pub method: Choice,
    /// Bytes sent before the file, in the same packets where the OS allows.
    pub prefix: Vec<u8>,
}

/// Which engine a transfer uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// `auto`: chosen per destination, pacing and length (`auto.rs`); for a peer on this machine,
    /// what moves this one transfer fastest. Falls back to a copy where the choice cannot work.
    Auto,
    /// `auto` for a server under load: sendfile to every socket peer, those on this machine
    /// included, for the least CPU per byte in this process (`auto.rs`). Falls back like
    /// `Auto`.
    AutoLeastCpu,
    /// Exactly this engine: a failure is reported, never worked around.
    Exact(Method),
}

/// Where a step left the transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Every byte reached the destination.
    Done,
    /// The destination is full: wait until it is writable, then step again.
    WouldBlock,
    /// The step's budget is spent: let others run, then step again.
    Yield,
}

pub struct Transfer {
    engine: Engine,
    /// Set for `auto`: an unsupported errno before the first file byte switches to a copy.
    may_fall_back: bool,
    src: Source,
    dst: Dest,
    /// The next file byte to deliver, and how many are still owed from there.
    offset: u64,
    remaining: u64,
    prefix: Vec<u8>,
    prefix_sent: usize,
    /// Everything that reached the destination: prefix and file bytes.
    bytes: u64,
    total: u64,
}

impl Transfer {
    /// Opens (or dups) the source, dups the destination, checks the range, picks the method.
    /// Nothing is sent yet.
    pub fn open(request: Request) -> Result<Self, Failure> {
        let src = match &request.source {
            SourceSpec::Path(path) => Source::open(path)?,
            SourceSpec::Fd(fd) => Source::from_raw(*fd)?,
        };
        Self::with(request, src, Dest::from_raw)
    }

    /// Like [`Transfer::open`], but reads from and writes to the caller's own descriptor numbers
    /// instead of dups, for a first [`Transfer::step`] made synchronously on the caller's thread.
    /// `nonblocking_socket`: the destination is known to be a non-blocking socket.
    ///
    /// # Safety
    /// The caller's descriptors must stay open until [`Transfer::own_descriptors`] has run or the
    /// transfer is dropped, and the transfer must not leave the caller's synchronous call before
    /// `own_descriptors` (a parked transfer outlives the call: the caller may then close them).
    pub unsafe fn open_borrowed(
        request: Request,
        nonblocking_socket: bool,
    ) -> Result<Self, Failure> {
        let src = match &request.source {
            SourceSpec::Path(path) => Source::open(path)?,
            SourceSpec::Fd(fd) => Source::borrow_raw(*fd)?,
        };
        Self::with(request, src, |fd| Dest::borrow_raw(fd, nonblocking_socket))
    }

    /// Replaces borrowed descriptor numbers by the transfer's own dups, so that it can go on
    /// after the caller's call returns, whatever the caller does with its numbers.
    pub fn own_descriptors(&mut self) -> Result<(), Failure> {
        self.src.own()?;
        self.dst.own()
    }

    fn with(
        request: Request,
        src: Source,
        dest: impl FnOnce(RawFd) -> Result<Dest, Failure>,
    ) -> Result<Self, Failure> {
        let length = resolve_range(src.size(), request.offset, request.length)?;
        let dst = dest(request.dest_fd)?;
        let method = match request.method {
            Choice::Exact(method) if !method.is_available() => {
                return Err(Failure::Unsupported {
                    method,
                    errno: Errno::ENOSYS,
                    syscall: method.as_str(),
                })
            }
            Choice::Exact(method) => method,
            Choice::Auto => auto::choose(&dst, length, Goal::Fastest),
            Choice::AutoLeastCpu => auto::choose(&dst, length, Goal::LeastCpu),
        };
        Ok(Transfer {
            engine: Engine::new(method),
            may_fall_back: !matches!(request.method, Choice::Exact(_)),
            src,
            dst,
            offset: request.offset,
            remaining: length,
            total: request.prefix.len() as u64 + length,
            prefix: request.prefix,
            prefix_sent: 0,
            bytes: 0,
        })
    }

    /// Bytes that reached the destination so far, prefix included.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Bytes the transfer will have sent when done: the prefix plus the file range.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The method moving the bytes now (a fallback changes it).
    pub fn method(&self) -> Method {
        self.engine.method()
    }

    /// Tests only: runs the transfer on another engine than the one it chose (a fake kernel's).
    #[cfg(test)]
    pub(crate) fn set_engine(&mut self, engine: Engine) {
        self.engine = engine;
    }

    /// The descriptor to wait on after [`Progress::WouldBlock`].
    pub fn dest_fd(&self) -> RawFd {
        self.dst.raw()
    }

    /// The first attempt, on the caller's thread: a step as long as suits the engine and the
    /// destination ([`first_step_bytes`]).
    pub fn first_step(&mut self) -> Result<Progress, Failure> {
        let budget = first_step_bytes(self.method(), || {
            // Asked only where the answer can change the step (`auto` may have asked already).
            self.remaining > SHORT_FIRST_STEP_BYTES && self.dst.tcp_pacing() == Some(Pacing::ByTcp)
        });
        self.step(budget)
    }

    /// Moves bytes until done, `EAGAIN`, or `budget` bytes in this step.
    pub fn step(&mut self, budget: u64) -> Result<Progress, Failure> {
        let mut moved = 0u64;
        if let Some(stop) = self.send_prefix(budget, &mut moved)? {
            return Ok(stop);
        }
        while self.remaining > 0 {
            if moved >= budget {
                return Ok(Progress::Yield);
            }
            let span = self.next_span(budget - moved);
            match self.engine.send(self.src.fd(), &self.dst, span) {
                Ok(Sent::Bytes(n)) => {
                    self.count_file_bytes(n);
                    moved += n as u64;
                }
                Ok(Sent::EndOfFile) => return Err(self.short_file()),
                Ok(Sent::Busy) => return Ok(Progress::Yield),
                Err(error) => {
                    if let Some(stop) = self.after_call_error(error)? {
                        return Ok(stop);
                    }
                }
            }
        }
        self.check_not_truncated()?;
        Ok(Progress::Done)
    }

    /// The next call's share of the range: what is left, within this step's `step_left`.
    fn next_span(&self, step_left: u64) -> Span {
        Span {
            offset: self.offset,
            len: call_len(self.remaining, step_left, self.engine.per_call_cap()),
            remaining: self.remaining,
        }
    }

    fn count_file_bytes(&mut self, n: usize) {
        let n = n as u64;
        self.offset += n;
        self.remaining -= n;
        self.bytes += n;
    }

    /// The file ended at `offset` with bytes still owed.
    fn short_file(&self) -> Failure {
        Failure::ShortFile {
            expected_end: self.offset + self.remaining,
            reached: self.offset,
        }
    }

    /// What an errno from a call that moved nothing means: `None` to go on (a signal: ask again;
    /// an unsupported method before the first file byte: a copy takes over), or where the step
    /// stops (`EAGAIN`: the destination is full), or the failure.
    fn after_call_error(&mut self, error: CallError) -> Result<Option<Progress>, Failure> {
        let CallError { errno, call } = error;
        match errno {
            // A signal interrupted the call before it moved anything: just ask again.
            Errno::EINTR => Ok(None),
            Errno::EAGAIN => Ok(Some(Progress::WouldBlock)),
            _ if is_unsupported(errno) && !self.sent_file_bytes() => {
                self.fall_back(errno, call)?;
                Ok(None)
            }
            _ => Err(Failure::os(errno, call)),
        }
    }

    /// sendfile and splice queue page-cache pages in the socket by reference: a file truncated
    /// after its bytes were queued but before the peer read them turns those bytes into zeros,
    /// and every call still succeeded. So at the end, look: a file now shorter than the range
    /// we sent is reported as a short file rather than a success. (Bytes still queued when a
    /// truncation comes after this check cannot be recalled: replace served files by rename.)
    fn check_not_truncated(&self) -> Result<(), Failure> {
        if !matches!(self.engine.method(), Method::Sendfile | Method::Splice) {
            return Ok(());
        }
        let size = self.src.current_size()?;
        if size < self.offset {
            return Err(Failure::ShortFile {
                expected_end: self.offset,
                reached: size,
            });
        }
        Ok(())
    }

    fn sent_file_bytes(&self) -> bool {
        self.bytes > self.prefix_sent as u64
    }

    /// The method cannot work on these descriptors (sendfile to an `O_APPEND` file, splice from a
    /// filesystem without splice_read...). Nothing of the file was sent, so a copy can start from
    /// the same offset. An explicitly requested method says so instead of silently changing.
    fn fall_back(&mut self, errno: Errno, call: &'static str) -> Result<(), Failure> {
        let method = self.engine.method();
        if method == Method::Copy {
            // Nothing left to fall back to: the errno itself is the answer.
            return Err(Failure::os(errno, call));
        }
        if !self.may_fall_back {
            return Err(Failure::Unsupported {
                method,
                errno,
                syscall: call,
            });
        }
        self.engine = Engine::new(Method::Copy);
        Ok(())
    }

    /// Sends what is left of the prefix: `None` once it is all sent, else where the step stops.
    /// File bytes sent with it (see [`Transfer::send_prefix_with_file`]) count in `moved`.
    fn send_prefix(&mut self, budget: u64, moved: &mut u64) -> Result<Option<Progress>, Failure> {
        while self.prefix_sent < self.prefix.len() {
            if self.remaining > 0 && self.engine.carries_prefix() {
                if let Some(stop) = self.send_prefix_with_file(budget, moved)? {
                    return Ok(Some(stop));
                }
                continue;
            }
            let more = self.remaining > 0;
            match self.dst.write(&self.prefix[self.prefix_sent..], more) {
                Ok(n) => self.count_prefix_bytes(n),
                Err(Errno::EINTR) => {}
                Err(Errno::EAGAIN) => return Ok(Some(Progress::WouldBlock)),
                Err(errno) => return Err(Failure::os(errno, self.dst.write_call())),
            }
        }
        Ok(None)
    }

    /// One call that sends what is left of the prefix as its header and then the first file
    /// bytes: the BSDs' sendfile (see [`Engine::carries_prefix`]). An unsupported errno falls
    /// back as in [`Transfer::step`]: no file byte can have gone before the prefix, and a copy
    /// writes the rest of the prefix itself.
    fn send_prefix_with_file(
        &mut self,
        budget: u64,
        moved: &mut u64,
    ) -> Result<Option<Progress>, Failure> {
        let span = self.next_span(budget.saturating_sub(*moved).max(1));
        let header = &self.prefix[self.prefix_sent..];
        match self
            .engine
            .send_with_header(self.src.fd(), &self.dst, span, header)
        {
            Ok(WithHeader::Moved { header, file }) => {
                self.count_prefix_bytes(header);
                self.count_file_bytes(file);
                *moved += file as u64;
                Ok(None)
            }
            Ok(WithHeader::EndOfFile { header }) => {
                self.count_prefix_bytes(header);
                Err(self.short_file())
            }
            Ok(WithHeader::Busy) => Ok(Some(Progress::Yield)),
            Err(error) => self.after_call_error(error),
        }
    }

    fn count_prefix_bytes(&mut self, n: usize) {
        self.prefix_sent += n;
        self.bytes += n as u64;
    }
}
