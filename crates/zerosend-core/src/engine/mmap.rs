//! mmap(2) the file and write(2) from the mapping: the kernel copies straight from the page cache.
//!
//! Safety against truncation: user code never touches the mapping, only the kernel does, inside
//! write(). A page beyond a file that shrank makes that kernel copy fail with EFAULT (or stop
//! short), which the transfer reports as a short file. Reading the mapping from user space instead
//! would raise SIGBUS and kill the process.

use std::ffi::c_void;
use std::num::NonZeroUsize;
use std::os::fd::BorrowedFd;
use std::ptr::NonNull;

use nix::errno::Errno;
use nix::sys::mman::{mmap, munmap, MapFlags, ProtFlags};

use super::{CallError, CallResult, During, Sent, Span};
use crate::dest::Dest;

/// How much of the file one mapping covers: reused for many writes, and bounded so that a huge
/// file never takes huge address space. 16 MiB, not 2: a window the size of a step (2 MiB) is
/// almost never aligned with the steps (the first step is 1 MiB, and every EAGAIN restarts
/// the budget), so most windows went out in two write()s, cut by the step or by the window's
/// end: 85 successful write()s per 64 MiB instead of 49, and 4–10% more sender CPU than with
/// 16 MiB through transfer() (bench/transfer.mjs at 64 MiB and 1 GiB; a raw loop, which has no
/// steps, cannot tell the two apart). Without MAP_POPULATE the size costs nothing up front: the
/// write()s fault the pages in, and a file of at most 2 MiB is mapped and sent as before.
const WINDOW_BYTES: u64 = 16 * 1024 * 1024;
/// One write() asks for at most this much.
pub const PER_CALL_BYTES: u64 = crate::limits::STEP_BYTES;

#[derive(Default)]
pub struct MmapEngine {
    window: Option<Window>,
}

struct Window {
    addr: NonNull<c_void>,
    len: usize,
    /// File offset of the first mapped byte (page aligned).
    start: u64,
}

// SAFETY: the mapping is private to this engine and only handed to the kernel through write().
unsafe impl Send for Window {}

impl Window {
    fn covers(&self, offset: u64) -> bool {
        offset >= self.start && offset < self.start + self.len as u64
    }

    /// The mapped bytes from `offset` to the end of the window, at most `len` of them.
    fn bytes_from(&self, offset: u64, len: usize) -> &[u8] {
        let skip = (offset - self.start) as usize;
        let n = len.min(self.len - skip);
        // SAFETY: [skip, skip + n) lies inside the mapping, which lives as long as `self`. The
        // slice is only passed to write(); nothing in user space reads through it.
        unsafe { std::slice::from_raw_parts(self.addr.as_ptr().cast::<u8>().add(skip), n) }
    }
}

impl Drop for Window {
    fn drop(&mut self) {
        // SAFETY: addr/len are exactly what mmap returned, and no slice of it outlives a send().
        let _ = unsafe { munmap(self.addr, self.len) };
    }
}

impl MmapEngine {
    pub fn send(&mut self, src: BorrowedFd<'_>, dst: &Dest, at: Span) -> CallResult<Sent> {
        if !self.window.as_ref().is_some_and(|w| w.covers(at.offset)) {
            // Unmap the old window before mapping the next, so at most one exists at a time.
            self.window = None;
            self.window = Some(map_window(src, at.offset, at.remaining).during("mmap")?);
        }
        let window = self.window.as_ref().expect("mapped above");
        let bytes = window.bytes_from(at.offset, at.len);
        match dst.write(bytes, at.more_after(bytes.len())) {
            Ok(n) => Ok(Sent::Bytes(n)),
            // The kernel hit a page past the end of the file: it was truncated under us.
            Err(Errno::EFAULT) => Ok(Sent::EndOfFile),
            Err(errno) => Err(CallError {
                errno,
                call: dst.write_call(),
            }),
        }
    }
}

/// Maps from the page holding `offset` to the end of what is owed, at most a window's worth.
fn map_window(src: BorrowedFd<'_>, offset: u64, remaining: u64) -> nix::Result<Window> {
    let page = page_size();
    let start = offset - offset % page;
    let wanted = offset - start + remaining.min(WINDOW_BYTES);
    let map_len = usize::try_from(round_up(wanted, page)).map_err(|_| Errno::ENOMEM)?;
    let file_off = i64::try_from(start).map_err(|_| Errno::EOVERFLOW)?;
    // SAFETY: a fresh read-only shared mapping of our own descriptor; see the module comment for
    // why truncation cannot turn into SIGBUS.
    let addr = unsafe {
        mmap(
            None,
            NonZeroUsize::new(map_len).ok_or(Errno::EINVAL)?,
            ProtFlags::PROT_READ,
            map_flags(),
            src,
            file_off,
        )?
    };
    Ok(Window {
        addr,
        len: map_len,
        start,
    })
}

/// No MAP_POPULATE: it saved no CPU in the benchmark, and on a file not in the page cache it
/// made mmap() itself read the whole window from disk (18–22 ms on the JS thread for 16 MiB).
fn map_flags() -> MapFlags {
    MapFlags::MAP_SHARED
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if size > 0 {
        size as u64
    } else {
        4096
    }
}

fn round_up(n: u64, to: u64) -> u64 {
    n.div_ceil(to) * to
}
