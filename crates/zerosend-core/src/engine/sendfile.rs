//! sendfile(2): the kernel sends page-cache pages straight to the socket.
//!
//! Linux takes any destination and returns a count or an error. macOS and FreeBSD write to stream
//! sockets only, and report the bytes they sent *together with* `EAGAIN`/`EINTR`: a call that
//! fills the socket buffer half-way fails with `EAGAIN` and still says how much went (Go's
//! internal/poll/sendfile_unix.go counts `n` before looking at the error; so do nginx's
//! ngx_darwin_sendfile_chain.c and ngx_freebsd_sendfile_chain.c). Dropping that count would send
//! those bytes twice.
//!
//! The macOS and FreeBSD code is compiled and tested only in CI (.github/workflows/CI.yml). On
//! macOS, sendfile is for `method: 'sendfile'` only, never `auto`'s choice: XNU's sendfile can
//! sleep uninterruptibly waiting for mbufs even on a non-blocking socket (Bun turned it off for
//! that, oven-sh/bun#33728), and here the first step runs on Node's JS thread.

use std::os::fd::BorrowedFd;

use nix::errno::Errno;

use super::{CallError, CallResult, During, Sent, Span};
use crate::dest::{Dest, DestKind};

/// One call asks for at most a step's worth; measured against smaller calls in the benchmark.
pub const PER_CALL_BYTES: u64 = crate::limits::STEP_BYTES;

pub struct SendfileEngine;

impl SendfileEngine {
    pub fn send(&mut self, src: BorrowedFd<'_>, dst: &Dest, at: Span) -> CallResult<Sent> {
        // BSD sendfile writes to stream sockets only (ENOTSOCK otherwise, which is not one of the
        // errnos a method falls back from). Say "unsupported" without a system call: `auto` then
        // copies, an explicit `method: 'sendfile'` reports ERR_ZEROSEND_UNSUPPORTED.
        if !SENDS_TO_ANY_FD && dst.kind() != DestKind::Socket {
            return Err(CallError {
                errno: Errno::EOPNOTSUPP,
                call: "sendfile",
            });
        }
        match sendfile_at(dst.fd(), src, at.offset, at.len).during("sendfile")? {
            // A 0 with bytes still owed means the file ended early: it was truncated under us.
            0 => Ok(Sent::EndOfFile),
            n => Ok(Sent::Bytes(n)),
        }
    }
}

/// Linux's sendfile writes to any descriptor (socket, pipe, file); the BSDs' to sockets only.
const SENDS_TO_ANY_FD: bool = cfg!(any(target_os = "linux", target_os = "android"));

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

/// macOS and FreeBSD: the offset is an argument too (the file position never moves).
#[cfg(any(target_os = "macos", target_os = "freebsd"))]
fn sendfile_at(
    dst: BorrowedFd<'_>,
    src: BorrowedFd<'_>,
    offset: u64,
    len: usize,
) -> nix::Result<usize> {
    // Without a header, `file` is 0 only for a complete call: the end of the file.
    bsd::sendfile_with_header(dst, src, offset, len, &[]).map(|moved| moved.file)
}

/// Other platforms have no sendfile here: the transfer falls back (auto) or reports
/// ERR_ZEROSEND_UNSUPPORTED (explicit method).
#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "macos",
    target_os = "freebsd"
)))]
fn sendfile_at(
    _dst: BorrowedFd<'_>,
    _src: BorrowedFd<'_>,
    _offset: u64,
    _len: usize,
) -> nix::Result<usize> {
    Err(Errno::ENOSYS)
}

/// The BSD call. It can carry `sf_hdtr` headers, which would let the prefix leave in the same
/// packets as the first file bytes (the BSDs have no MSG_MORE); the transfer does not use that
/// yet and writes the prefix on its own first (see README.md, "Platforms").
#[cfg(any(target_os = "macos", target_os = "freebsd"))]
mod bsd {
    use std::os::fd::BorrowedFd;

    use libc::off_t;
    use nix::errno::Errno;

    /// What one call moved: header bytes first, then file bytes.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Moved {
        pub header: usize,
        pub file: usize,
        /// The call returned success: it stopped because it was done or the file ended, not
        /// because the socket was full or a signal came (only then can 0 file bytes mean EOF).
        pub complete: bool,
    }

    /// Sends `header` (may be empty) and then up to `len` file bytes from `offset`, in one call.
    ///
    /// `Ok` when anything moved, even if the call then stopped at `EAGAIN`/`EINTR` (or any other
    /// error: the next call meets it again with nothing moved, and reports it then). A
    /// `complete` call whose header went whole and whose `file` is 0 with `len > 0` is the end
    /// of the file. `Err` only when nothing moved.
    pub fn sendfile_with_header(
        dst: BorrowedFd<'_>,
        src: BorrowedFd<'_>,
        offset: u64,
        len: usize,
        header: &[u8],
    ) -> nix::Result<Moved> {
        if len == 0 {
            // Both kernels read a count of 0 as "to the end of the file". Nothing is owed, so
            // nothing is asked (the transfer never calls with 0; this keeps it that way).
            return Ok(Moved {
                header: 0,
                file: 0,
                complete: true,
            });
        }
        let offset = off_t::try_from(offset).map_err(|_| Errno::EOVERFLOW)?;
        let headers = [header];
        let headers = (!header.is_empty()).then_some(&headers[..]);
        let (result, sent) = call(dst, src, offset, len, header.len(), headers)?;
        let sent = usize::try_from(sent).unwrap_or(0);
        let moved = Moved {
            header: sent.min(header.len()),
            file: sent.saturating_sub(header.len()),
            complete: result.is_ok(),
        };
        match result {
            Ok(()) => Ok(moved),
            Err(_) if sent > 0 => Ok(moved),
            Err(errno) => Err(errno),
        }
    }

    /// macOS: `sendfile(fd, s, offset, &len, hdtr, 0)`; `len` counts the headers too, in and out.
    #[cfg(target_os = "macos")]
    fn call(
        dst: BorrowedFd<'_>,
        src: BorrowedFd<'_>,
        offset: off_t,
        len: usize,
        header_len: usize,
        headers: Option<&[&[u8]]>,
    ) -> nix::Result<(nix::Result<()>, off_t)> {
        let count = off_t::try_from(len + header_len).map_err(|_| Errno::EOVERFLOW)?;
        Ok(nix::sys::sendfile::sendfile(
            src,
            dst,
            offset,
            Some(count),
            headers,
            None,
        ))
    }

    /// FreeBSD: `sendfile(fd, s, offset, nbytes, hdtr, &sbytes, 0)`; `nbytes` counts file bytes
    /// only, `sbytes` everything sent. No SF_NODISKIO: since FreeBSD 11 sendfile does not wait for
    /// the disk on the caller's thread anyway, and the socket's O_NONBLOCK gives EAGAIN.
    #[cfg(target_os = "freebsd")]
    fn call(
        dst: BorrowedFd<'_>,
        src: BorrowedFd<'_>,
        offset: off_t,
        len: usize,
        _header_len: usize,
        headers: Option<&[&[u8]]>,
    ) -> nix::Result<(nix::Result<()>, off_t)> {
        use nix::sys::sendfile::SfFlags;
        Ok(nix::sys::sendfile::sendfile(
            src,
            dst,
            offset,
            Some(len),
            headers,
            None,
            SfFlags::empty(),
            0,
        ))
    }
}
