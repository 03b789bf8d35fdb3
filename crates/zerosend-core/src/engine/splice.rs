//! splice(2): file → pipe → destination. The pipe holds page references, not copies.

use std::os::fd::BorrowedFd;

use nix::fcntl::{splice, SpliceFFlags};

use super::{CallResult, During, Sent, Span};
use crate::dest::Dest;
use crate::pipe_pool::{self, Pipe};

#[derive(Default)]
pub struct SpliceEngine {
    pipe: Option<Pipe>,
    /// File bytes sitting in the pipe: `[offset, offset + buffered)` of the file, not yet sent.
    buffered: usize,
}

impl SpliceEngine {
    /// One call moves at most a pipe's worth; before the pipe exists, assume the size we ask for.
    pub fn per_call_cap(&self) -> u64 {
        self.pipe
            .as_ref()
            .map_or(1024 * 1024, |pipe| pipe.capacity() as u64)
    }

    pub fn send(&mut self, src: BorrowedFd<'_>, dst: &Dest, at: Span) -> CallResult<Sent> {
        let pipe = match &mut self.pipe {
            Some(pipe) => pipe,
            none => none.insert(pipe_pool::take().during("pipe2")?),
        };
        if self.buffered == 0 {
            let want = at.len.min(pipe.capacity());
            let mut off = i64::try_from(at.offset)
                .map_err(|_| nix::errno::Errno::EOVERFLOW)
                .during("splice")?;
            // The pipe is empty, so EAGAIN cannot come from its side; errors go to the transfer.
            let filled = splice(
                src,
                Some(&mut off),
                pipe.write_end(),
                None,
                want,
                SpliceFFlags::SPLICE_F_MOVE | SpliceFFlags::SPLICE_F_NONBLOCK,
            )
            .during("splice")?;
            if filled == 0 {
                return Ok(Sent::EndOfFile);
            }
            self.buffered = filled;
        }
        let mut flags = SpliceFFlags::SPLICE_F_MOVE | SpliceFFlags::SPLICE_F_NONBLOCK;
        if at.more_after(self.buffered) {
            // More file bytes follow: let TCP fill whole segments rather than push a short one.
            flags |= SpliceFFlags::SPLICE_F_MORE;
        }
        // EAGAIN here leaves the bytes in the pipe; the next attempt sends them first.
        let drained =
            splice(pipe.read_end(), None, dst.fd(), None, self.buffered, flags).during("splice")?;
        self.buffered -= drained;
        Ok(Sent::Bytes(drained))
    }
}

impl Drop for SpliceEngine {
    fn drop(&mut self) {
        if let Some(pipe) = self.pipe.take() {
            // A pipe with bytes left (a failed or cancelled transfer) is closed, never reused.
            if self.buffered == 0 {
                pipe_pool::give_back(pipe);
            }
        }
    }
}
