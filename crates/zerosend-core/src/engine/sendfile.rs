//! sendfile(2): the kernel sends page-cache pages straight to the socket.
//!
//! Linux takes any destination and returns a count or an error. macOS and FreeBSD write to stream
//! sockets only, and report the bytes they sent *together with* `EAGAIN`/`EINTR`: a call that
//! fills the socket buffer half-way fails with `EAGAIN` and still says how much went (Go's
//! internal/poll/sendfile_unix.go counts `n` before looking at the error; so do nginx's
//! ngx_darwin_sendfile_chain.c and ngx_freebsd_sendfile_chain.c). Dropping that count would send
//! those bytes twice.
//!
//! What those answers mean is decided once for both BSDs in `bsd_sendfile.rs`, which `cargo test`
//! drives on Linux with fakes of each kernel; here are only the raw calls, each a few lines. On
//! macOS, sendfile is for `method: 'sendfile'` only, never `auto`'s choice: XNU's sendfile can
//! sleep uninterruptibly waiting for mbufs even on a non-blocking socket (Bun turned it off for
//! that, oven-sh/bun#33728), and here the first step runs on Node's JS thread.

use std::os::fd::BorrowedFd;

use nix::errno::Errno;

use super::{CallResult, During, Sent, Span};
use crate::dest::Dest;

/// One call asks for at most a step's worth; measured against smaller calls in the benchmark.
pub const PER_CALL_BYTES: u64 = crate::limits::STEP_BYTES;

/// Linux: sendfile writes to any descriptor (socket, pipe, file), with an explicit offset, so the
/// file position (shared with the caller's descriptor) is never moved. Errnos pass through
/// untouched; the transfer decides what each means.
#[cfg(any(target_os = "linux", target_os = "android"))]
#[derive(Debug, Default)]
pub struct SendfileEngine;

#[cfg(any(target_os = "linux", target_os = "android"))]
impl SendfileEngine {
    pub fn send(&mut self, src: BorrowedFd<'_>, dst: &Dest, at: Span) -> CallResult<Sent> {
        let mut off = i64::try_from(at.offset)
            .map_err(|_| Errno::EOVERFLOW)
            .during("sendfile")?;
        match nix::sys::sendfile::sendfile64(dst.fd(), src, Some(&mut off), at.len)
            .during("sendfile")?
        {
            // A 0 with bytes still owed means the file ended early: it was truncated under us.
            0 => Ok(Sent::EndOfFile),
            n => Ok(Sent::Bytes(n)),
        }
    }
}

/// macOS: the logic of `bsd_sendfile.rs` over the real call.
#[cfg(target_os = "macos")]
pub type SendfileEngine = super::bsd_sendfile::BsdSendfileEngine<super::bsd_sendfile::Darwin<Os>>;

/// FreeBSD: the logic of `bsd_sendfile.rs` over the real call.
#[cfg(target_os = "freebsd")]
pub type SendfileEngine = super::bsd_sendfile::BsdSendfileEngine<super::bsd_sendfile::FreeBsd<Os>>;

/// The operating system's own sendfile(2).
#[cfg(any(target_os = "macos", target_os = "freebsd"))]
#[derive(Debug, Default)]
pub struct Os;

/// `sendfile(fd, s, offset, &len, hdtr, 0)`. An empty header is passed as no `sf_hdtr` at all:
/// XNU answers EINVAL to a header count of 0 with a non-NULL pointer (nginx's
/// ngx_darwin_sendfile_chain.c).
#[cfg(target_os = "macos")]
impl super::bsd_sendfile::DarwinSendfile for Os {
    fn sendfile(
        &mut self,
        fd: BorrowedFd<'_>,
        s: BorrowedFd<'_>,
        offset: i64,
        len: &mut i64,
        header: &[u8],
    ) -> Result<(), Errno> {
        let headers = [header];
        let headers = (!header.is_empty()).then_some(&headers[..]);
        let (result, sent) = nix::sys::sendfile::sendfile(fd, s, offset, Some(*len), headers, None);
        *len = sent;
        result
    }
}

/// `sendfile(fd, s, offset, nbytes, hdtr, &sbytes, flags)`, no readahead hint.
#[cfg(target_os = "freebsd")]
impl super::bsd_sendfile::FreeBsdSendfile for Os {
    fn sendfile(
        &mut self,
        fd: BorrowedFd<'_>,
        s: BorrowedFd<'_>,
        offset: i64,
        nbytes: usize,
        header: &[u8],
        sbytes: &mut i64,
        flags: i32,
    ) -> Result<(), Errno> {
        use nix::sys::sendfile::SfFlags;
        const _: () = assert!(super::bsd_sendfile::SF_NODISKIO == libc::SF_NODISKIO);
        let headers = [header];
        let headers = (!header.is_empty()).then_some(&headers[..]);
        let flags = SfFlags::from_bits_retain(flags);
        let (result, sent) =
            nix::sys::sendfile::sendfile(fd, s, offset, Some(nbytes), headers, None, flags, 0);
        *sbytes = sent;
        result
    }
}

/// Other platforms have no sendfile here: the transfer falls back (auto) or reports
/// ERR_ZEROSEND_UNSUPPORTED (explicit method).
#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "macos",
    target_os = "freebsd"
)))]
#[derive(Debug, Default)]
pub struct SendfileEngine;

#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "macos",
    target_os = "freebsd"
)))]
impl SendfileEngine {
    pub fn send(&mut self, _src: BorrowedFd<'_>, _dst: &Dest, _at: Span) -> CallResult<Sent> {
        Err(Errno::ENOSYS).during("sendfile")
    }
}
