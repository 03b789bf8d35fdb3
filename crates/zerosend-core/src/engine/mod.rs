//! The four ways to move file bytes to a descriptor. Each `send` is one non-blocking attempt of
//! at most `len` bytes at file offset `offset`, and reports the file bytes that reached the
//! destination. Errnos (`EAGAIN` included) go back to the transfer, which decides what they mean,
//! together with the system call that returned them.

mod bsd_sendfile;
mod copy;
mod mmap;
mod sendfile;
#[cfg(any(target_os = "linux", target_os = "android"))]
mod splice;

use std::os::fd::BorrowedFd;

use nix::errno::Errno;

use crate::dest::Dest;
use crate::method::Method;

pub use bsd_sendfile::WithHeader;
pub use copy::CopyEngine;
pub use mmap::MmapEngine;
pub use sendfile::SendfileEngine;
#[cfg(any(target_os = "linux", target_os = "android"))]
pub use splice::SpliceEngine;

/// A system call that failed: its errno, and which call it was (for `err.syscall`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallError {
    pub errno: Errno,
    pub call: &'static str,
}

pub type CallResult<T> = Result<T, CallError>;

/// Names the system call behind a nix result.
pub trait During<T> {
    fn during(self, call: &'static str) -> CallResult<T>;
}

impl<T> During<T> for nix::Result<T> {
    fn during(self, call: &'static str) -> CallResult<T> {
        self.map_err(|errno| CallError { errno, call })
    }
}

/// What one attempt achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// This many file bytes (at least one) reached the destination.
    Bytes(usize),
    /// The file ended where bytes were still owed: it is shorter than it was when we started.
    EndOfFile,
    /// FreeBSD's sendfile only: a page of the file is busy (`EBUSY` under `SF_NODISKIO`) and
    /// nothing moved. Step again soon; the socket's readiness has nothing to do with it.
    #[cfg_attr(
        not(any(target_os = "macos", target_os = "freebsd", test)),
        allow(dead_code)
    )]
    Busy,
}

/// Where one attempt starts and how much it may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// File offset of the first byte not yet delivered.
    pub offset: u64,
    /// The most this attempt may ask for (already capped for the kernel and the step).
    pub len: usize,
    /// File bytes still owed from `offset` on, this attempt's included.
    pub remaining: u64,
}

impl Span {
    /// Whether file bytes follow the first `n` bytes from here: if so, hold a short packet back
    /// (`MSG_MORE`/`SPLICE_F_MORE`) so TCP sends full segments.
    pub fn more_after(&self, n: usize) -> bool {
        self.remaining > n as u64
    }
}

/// An engine with whatever state it keeps between attempts (a pipe, a mapping, a buffer).
pub enum Engine {
    Sendfile(SendfileEngine),
    #[cfg(any(target_os = "linux", target_os = "android"))]
    Splice(SpliceEngine),
    Mmap(MmapEngine),
    Copy(CopyEngine),
    /// The BSDs' sendfile logic over a fake kernel, so that Linux tests drive it through a real
    /// transfer (`bsd_sendfile/tests.rs`).
    #[cfg(test)]
    FakeBsdSendfile(bsd_sendfile::BsdSendfileEngine<Box<dyn bsd_sendfile::BsdCall + Send>>),
}

impl Engine {
    // `SendfileEngine` is a unit struct on Linux only: on the BSDs it holds the call it makes.
    #[allow(clippy::default_constructed_unit_structs)]
    pub fn new(method: Method) -> Self {
        match method {
            Method::Sendfile => Engine::Sendfile(SendfileEngine::default()),
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Method::Splice => Engine::Splice(SpliceEngine::default()),
            // Unreachable: `Transfer::open` refuses methods this platform lacks. A copy is the
            // harmless answer should that ever change.
            #[cfg(not(any(target_os = "linux", target_os = "android")))]
            Method::Splice => Engine::Copy(CopyEngine::default()),
            Method::Mmap => Engine::Mmap(MmapEngine::default()),
            Method::Copy => Engine::Copy(CopyEngine::default()),
        }
    }

    pub fn method(&self) -> Method {
        match self {
            Engine::Sendfile(_) => Method::Sendfile,
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Engine::Splice(_) => Method::Splice,
            Engine::Mmap(_) => Method::Mmap,
            Engine::Copy(_) => Method::Copy,
            #[cfg(test)]
            Engine::FakeBsdSendfile(_) => Method::Sendfile,
        }
    }

    /// The largest request worth making in one call; measured in `bench/transfer.mjs`.
    pub fn per_call_cap(&self) -> u64 {
        match self {
            Engine::Sendfile(_) => sendfile::PER_CALL_BYTES,
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Engine::Splice(e) => e.per_call_cap(),
            Engine::Mmap(_) => mmap::PER_CALL_BYTES,
            Engine::Copy(_) => copy::BUFFER_BYTES as u64,
            #[cfg(test)]
            Engine::FakeBsdSendfile(_) => sendfile::PER_CALL_BYTES,
        }
    }

    /// One attempt at sending up to `at.len` bytes from `at.offset`.
    pub fn send(&mut self, src: BorrowedFd<'_>, dst: &Dest, at: Span) -> CallResult<Sent> {
        match self {
            Engine::Sendfile(e) => e.send(src, dst, at),
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Engine::Splice(e) => e.send(src, dst, at),
            Engine::Mmap(e) => e.send(src, dst, at),
            Engine::Copy(e) => e.send(src, dst, at),
            #[cfg(test)]
            Engine::FakeBsdSendfile(e) => e.send(src, dst, at),
        }
    }

    /// Whether this engine sends the prefix itself, as the header of the call that sends the
    /// first file bytes: the BSDs' sendfile (`sf_hdtr`), for they have no MSG_MORE to hold a
    /// separately written prefix back. Every other engine leaves the prefix to the transfer.
    pub fn carries_prefix(&self) -> bool {
        match self {
            #[cfg(any(target_os = "macos", target_os = "freebsd"))]
            Engine::Sendfile(_) => true,
            #[cfg(test)]
            Engine::FakeBsdSendfile(_) => true,
            _ => false,
        }
    }

    /// One attempt at sending `header` and then up to `at.len` file bytes; only for an engine
    /// that [`carries_prefix`](Engine::carries_prefix) (any other says `EOPNOTSUPP`, which the
    /// transfer never asks it for).
    pub fn send_with_header(
        &mut self,
        src: BorrowedFd<'_>,
        dst: &Dest,
        at: Span,
        header: &[u8],
    ) -> CallResult<WithHeader> {
        match self {
            #[cfg(any(target_os = "macos", target_os = "freebsd"))]
            Engine::Sendfile(e) => e.send_with_header(src, dst, at, header),
            #[cfg(test)]
            Engine::FakeBsdSendfile(e) => e.send_with_header(src, dst, at, header),
            _ => {
                let _ = (src, dst, at, header);
                Err(CallError {
                    errno: Errno::EOPNOTSUPP,
                    call: "sendfile",
                })
            }
        }
    }
}
