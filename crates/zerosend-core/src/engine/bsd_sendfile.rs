//! sendfile(2) on macOS and FreeBSD, written once over the raw call.
//!
//! The real calls are thin `cfg`'d functions in `sendfile.rs`. Everything that decides what a
//! call's answer means lives here and is compiled on every platform, so that `cargo test` on
//! Linux drives it with fakes that behave as each kernel's manual says (`bsd_sendfile/tests.rs`).
//!
//! What both kernels do (FreeBSD and macOS sendfile(2); Go's internal/poll/sendfile_bsd.go;
//! nginx's ngx_freebsd_sendfile_chain.c and ngx_darwin_sendfile_chain.c):
//! - they write to stream sockets only;
//! - an optional `sf_hdtr` header goes first, in the same call: the transfer's prefix, which then
//!   needs no write of its own (the BSDs have no MSG_MORE to hold it back for the file's bytes);
//! - a call that stops early returns -1 *and* reports how many bytes it sent: `EAGAIN` (the
//!   socket buffer filled), `EINTR` (a signal), FreeBSD's `EBUSY` (a busy page, under
//!   `SF_NODISKIO`). Those bytes went: counting them is what keeps them from going twice;
//! - a call that returns 0 having sent the whole header but no file byte, though file bytes were
//!   asked for, started at or past the end of the file: the file shrank under the transfer;
//! - a count of 0 means "to the end of the file", so neither is ever asked for 0 file bytes.
//!
//! Where they differ is the shape of the call, and [`Darwin`] and [`FreeBsd`] turn each into one
//! [`BsdCall`]:
//! - macOS `sendfile(fd, s, offset, &len, hdtr, 0)`: `len` is in/out; in, the most bytes to
//!   send, *header included*; out, the bytes sent, header included.
//! - FreeBSD `sendfile(fd, s, offset, nbytes, hdtr, &sbytes, flags)`: `nbytes` counts file bytes
//!   only; `sbytes` is every byte sent, header included. `flags` carries `SF_NODISKIO`.

// On Linux only the tests use this module; it is compiled there so that they can.
#![cfg_attr(
    not(any(target_os = "macos", target_os = "freebsd", test)),
    allow(dead_code)
)]

#[cfg(test)]
mod tests;

use std::os::fd::BorrowedFd;

use nix::errno::Errno;

use super::{CallError, CallResult, Sent, Span};
use crate::dest::{Dest, DestKind};

/// FreeBSD's `SF_NODISKIO` (sys/socket.h). Without it, a page another process holds busy makes
/// sendfile sleep in the kernel until it is released; with it, the call returns `EBUSY` instead.
/// The first step runs on Node's JS thread, which must never sleep.
#[cfg_attr(all(target_os = "macos", not(test)), allow(dead_code))]
pub const SF_NODISKIO: i32 = 0x0000_0001;

/// macOS's call, in its own shape: `sendfile(fd, s, offset, &len, hdtr, 0)`. `len` in: the most
/// bytes to send, the header's included (0: everything to the end of the file); out: the bytes
/// sent, header included, also when the call fails with `EAGAIN` or `EINTR`. The flags argument
/// is reserved and always 0, so it is not part of this shape.
#[cfg_attr(all(target_os = "freebsd", not(test)), allow(dead_code))]
pub trait DarwinSendfile {
    fn sendfile(
        &mut self,
        fd: BorrowedFd<'_>,
        s: BorrowedFd<'_>,
        offset: i64,
        len: &mut i64,
        header: &[u8],
    ) -> Result<(), Errno>;
}

/// FreeBSD's call, in its own shape: `sendfile(fd, s, offset, nbytes, hdtr, &sbytes, flags)`.
/// `nbytes`: the most *file* bytes to send (0: to the end of the file); `sbytes` out: every byte
/// sent, header included, also when the call fails with `EAGAIN`, `EINTR` or `EBUSY`.
#[cfg_attr(all(target_os = "macos", not(test)), allow(dead_code))]
pub trait FreeBsdSendfile {
    #[allow(clippy::too_many_arguments)]
    fn sendfile(
        &mut self,
        fd: BorrowedFd<'_>,
        s: BorrowedFd<'_>,
        offset: i64,
        nbytes: usize,
        header: &[u8],
        sbytes: &mut i64,
        flags: i32,
    ) -> Result<(), Errno>;
}

/// One call to either kernel, asked the same way: `header`, then at most `file_len` (> 0) bytes
/// of `src` from `offset`. Returns how the call ended and every byte it sent, header included.
pub trait BsdCall {
    fn call(
        &mut self,
        src: BorrowedFd<'_>,
        dst: BorrowedFd<'_>,
        offset: u64,
        file_len: usize,
        header: &[u8],
    ) -> (Result<(), Errno>, u64);
}

impl<C: BsdCall + ?Sized> BsdCall for Box<C> {
    fn call(
        &mut self,
        src: BorrowedFd<'_>,
        dst: BorrowedFd<'_>,
        offset: u64,
        file_len: usize,
        header: &[u8],
    ) -> (Result<(), Errno>, u64) {
        (**self).call(src, dst, offset, file_len, header)
    }
}

/// macOS: the header counts in `len`.
#[cfg_attr(all(target_os = "freebsd", not(test)), allow(dead_code))]
#[derive(Debug, Default)]
pub struct Darwin<K>(pub K);

impl<K: DarwinSendfile> BsdCall for Darwin<K> {
    fn call(
        &mut self,
        src: BorrowedFd<'_>,
        dst: BorrowedFd<'_>,
        offset: u64,
        file_len: usize,
        header: &[u8],
    ) -> (Result<(), Errno>, u64) {
        let asked = (header.len() as u64).checked_add(file_len as u64);
        let (Ok(offset), Some(Ok(mut len))) = (i64::try_from(offset), asked.map(i64::try_from))
        else {
            return (Err(Errno::EOVERFLOW), 0);
        };
        let result = self.0.sendfile(src, dst, offset, &mut len, header);
        (result, u64::try_from(len).unwrap_or(0))
    }
}

/// FreeBSD: `nbytes` counts the file only; `SF_NODISKIO` on every call.
#[cfg_attr(all(target_os = "macos", not(test)), allow(dead_code))]
#[derive(Debug, Default)]
pub struct FreeBsd<K>(pub K);

impl<K: FreeBsdSendfile> BsdCall for FreeBsd<K> {
    fn call(
        &mut self,
        src: BorrowedFd<'_>,
        dst: BorrowedFd<'_>,
        offset: u64,
        file_len: usize,
        header: &[u8],
    ) -> (Result<(), Errno>, u64) {
        let Ok(offset) = i64::try_from(offset) else {
            return (Err(Errno::EOVERFLOW), 0);
        };
        let mut sbytes = 0;
        let result = self
            .0
            .sendfile(src, dst, offset, file_len, header, &mut sbytes, SF_NODISKIO);
        (result, u64::try_from(sbytes).unwrap_or(0))
    }
}

/// What one call achieved, for a transfer that sends its prefix as the call's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WithHeader {
    /// `header` prefix bytes went, then `file` file bytes (at least one byte in all).
    Moved { header: usize, file: usize },
    /// The whole header went, and then the file had ended where bytes were still owed.
    EndOfFile { header: usize },
    /// FreeBSD: a page of the file is busy (`EBUSY` under `SF_NODISKIO`) and nothing moved.
    /// Asking again soon is what the manual advises; waiting for the socket would not help.
    Busy,
}

/// The BSD sendfile engine over a raw call `C`: the kernel's, or a test's fake.
#[derive(Debug, Default)]
pub struct BsdSendfileEngine<C> {
    call: C,
}

impl<C: BsdCall> BsdSendfileEngine<C> {
    /// One call for file bytes only.
    pub fn send(&mut self, src: BorrowedFd<'_>, dst: &Dest, at: Span) -> CallResult<Sent> {
        Ok(match self.send_with_header(src, dst, at, &[])? {
            WithHeader::Moved { file, .. } => Sent::Bytes(file),
            WithHeader::EndOfFile { .. } => Sent::EndOfFile,
            WithHeader::Busy => Sent::Busy,
        })
    }

    /// One call: `header` (what is left of the prefix; may be empty), then up to `at.len` file
    /// bytes. `Err` only when nothing moved; the errno is then the transfer's to judge (`EAGAIN`
    /// parks, `EINTR` asks again, an unsupported errno before the first file byte falls back).
    pub fn send_with_header(
        &mut self,
        src: BorrowedFd<'_>,
        dst: &Dest,
        at: Span,
        header: &[u8],
    ) -> CallResult<WithHeader> {
        // Stream sockets only (ENOTSOCK otherwise): say "unsupported" without a system call, so
        // that `auto` copies to a pipe or a file and an explicit `method: 'sendfile'` reports
        // ERR_ZEROSEND_UNSUPPORTED.
        if dst.kind() != DestKind::Socket {
            return Err(CallError {
                errno: Errno::EOPNOTSUPP,
                call: "sendfile",
            });
        }
        interpret(&mut self.call, src, dst.fd(), at, header)
    }
}

/// One call, and what its answer means (see the module's documentation).
fn interpret(
    call: &mut impl BsdCall,
    src: BorrowedFd<'_>,
    dst: BorrowedFd<'_>,
    at: Span,
    header: &[u8],
) -> CallResult<WithHeader> {
    if at.len == 0 {
        // A count of 0 would send the rest of the file. The transfer never asks for nothing
        // (`call_len` is at least 1 while bytes are owed); should it ever, the call is refused
        // rather than made.
        return Err(CallError {
            errno: Errno::EINVAL,
            call: "sendfile",
        });
    }
    let (result, sent) = call.call(src, dst, at.offset, at.len, header);
    let sent = usize::try_from(sent).unwrap_or(usize::MAX);
    let header_sent = sent.min(header.len());
    // A kernel never sends more than it was asked for; the cap keeps our arithmetic honest if
    // one ever did.
    let file_sent = (sent - header_sent).min(at.len);
    match result {
        Ok(()) if file_sent == 0 && header_sent == header.len() => Ok(WithHeader::EndOfFile {
            header: header_sent,
        }),
        // Stopped early (EAGAIN, EINTR, EBUSY) — or failed — after sending bytes: they count.
        // The next call meets the same condition with nothing sent, and it is judged then.
        Ok(()) | Err(_) if sent > 0 => Ok(WithHeader::Moved {
            header: header_sent,
            file: file_sent,
        }),
        // A success that sent nothing of a non-empty header: no manual allows it. Failing is
        // better than asking again for ever.
        Ok(()) => Err(CallError {
            errno: Errno::EIO,
            call: "sendfile",
        }),
        Err(Errno::EBUSY) => Ok(WithHeader::Busy),
        // EINTR with nothing sent lands here too: macOS's manual warns that `len` may then be 0
        // without meaning the end of the file, and the transfer asks again.
        Err(errno) => Err(CallError {
            errno,
            call: "sendfile",
        }),
    }
}
