//! sendfile(2): the kernel sends page-cache pages straight to the socket.

use std::os::fd::BorrowedFd;

use nix::errno::Errno;

use super::{Sent, Span};
use crate::dest::Dest;

/// One call asks for at most a step's worth; measured against smaller calls in the benchmark.
pub const PER_CALL_BYTES: u64 = crate::limits::STEP_BYTES;

pub struct SendfileEngine;

impl SendfileEngine {
    pub fn send(&mut self, src: BorrowedFd<'_>, dst: &Dest, at: Span) -> nix::Result<Sent> {
        match sendfile_at(dst.fd(), src, at.offset, at.len)? {
            // A 0 with bytes still owed means the file ended early: it was truncated under us.
            0 => Ok(Sent::EndOfFile),
            n => Ok(Sent::Bytes(n)),
        }
    }
}

/// Linux: an explicit offset, so the file position (shared with the caller's descriptor) is never
/// moved. Errnos pass through untouched; the transfer decides what each means.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn sendfile_at(
    dst: BorrowedFd<'_>,
    src: BorrowedFd<'_>,
    offset: u64,
    len: usize,
) -> nix::Result<usize> {
    let mut off = i64::try_from(offset).map_err(|_| Errno::EOVERFLOW)?;
    nix::sys::sendfile::sendfile64(dst, src, Some(&mut off), len)
}

/// Other platforms: not built yet in this crate; the transfer falls back (auto) or reports
/// ERR_ZEROSEND_UNSUPPORTED (explicit method).
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn sendfile_at(
    _dst: BorrowedFd<'_>,
    _src: BorrowedFd<'_>,
    _offset: u64,
    _len: usize,
) -> nix::Result<usize> {
    Err(Errno::ENOSYS)
}
