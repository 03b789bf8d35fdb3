//! pread(2) into a buffer, write(2) out of it: the portable path and the fallback.

use std::os::fd::BorrowedFd;

use super::{CallResult, During, Sent, Span};
use crate::dest::Dest;

/// The buffer a copy reads into: 256 KiB cost 0.36 sender CPU-s/GiB against 0.41 for 64 KiB.
pub const BUFFER_BYTES: usize = 256 * 1024;

#[derive(Default)]
pub struct CopyEngine {
    buf: Vec<u8>,
    /// `buf[start..end]` holds file bytes `[offset, offset + end - start)` not yet written.
    start: usize,
    end: usize,
}

impl CopyEngine {
    pub fn send(&mut self, src: BorrowedFd<'_>, dst: &Dest, at: Span) -> CallResult<Sent> {
        if self.start == self.end {
            if self.buf.is_empty() {
                // The first request is the largest this transfer makes: size the buffer to it,
                // so a 4 KiB file does not pay for zeroing 64 KiB.
                self.buf = vec![0; at.len.clamp(1, BUFFER_BYTES)];
            }
            let want = at.len.min(self.buf.len());
            let off = i64::try_from(at.offset)
                .map_err(|_| nix::errno::Errno::EOVERFLOW)
                .during("pread")?;
            let read = nix::sys::uio::pread(src, &mut self.buf[..want], off).during("pread")?;
            if read == 0 {
                return Ok(Sent::EndOfFile);
            }
            self.start = 0;
            self.end = read;
        }
        let pending = self.end - self.start;
        let written = dst
            .write(&self.buf[self.start..self.end], at.more_after(pending))
            .during(dst.write_call())?;
        self.start += written;
        Ok(Sent::Bytes(written))
    }
}
