//! A counter in memory the kernel writes, that moves when a descriptor becomes readable: the open-file
//! cache's "did anything change?" answered by one load from memory, with no system call.
//!
//! [`PathWatch`](crate::PathWatch) learns of changes from an inotify descriptor. Asking it with
//! `ioctl(FIONREAD)` costs a system call per request (about 1 µs in a server's context, where a
//! 4 KiB answer costs 45–60 µs of CPU, the kernel's TCP work included). Here an io_uring poll
//! waits on that descriptor instead, and the completion queue's tail — a `u32` in the ring's
//! shared memory — moves when the poll completes. JavaScript reads that word through a
//! `Uint32Array`; while it has not moved since the last look, no event has been queued since.
//!
//! Why this is as fresh as asking the kernel each time: the kernel queues the inotify event inside
//! the system call that makes the change, and waking the poll queues the completion as task work
//! for the thread that armed it (this one), which the kernel runs before that thread next returns
//! to user space — interrupting it if it is running. A request that arrives after the change
//! reaches JavaScript through a system call of this thread (the socket's `read`), so the counter
//! has moved before the request is parsed. [`ChangeRing::new`] checks that this kernel does post a
//! poll's completion by then (the inotify event of one of its own writes must move the counter
//! before `write` returns); a kernel that defers it to a worker thread instead (before 5.7) is not
//! used.
//!
//! The poll is one-shot: after it fires, the thread is not woken again until the next check re-arms
//! it, so a busy directory on the way wakes an idle server once, not once per event. (That wake is
//! a signal-like interruption: an `epoll_wait` the thread is blocked in returns `EINTR` once, which
//! libuv retries.)

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::ptr::null_mut;
use std::sync::atomic::{AtomicU32, Ordering};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use rustix::io_uring::{
    io_uring_enter, io_uring_params, io_uring_setup, io_uring_sqe, op_flags_union,
    IoringEnterFlags, IoringFeatureFlags, IoringOp, IORING_OFF_SQES, IORING_OFF_SQ_RING,
};
use rustix::mm::{mmap, munmap, MapFlags, ProtFlags};

/// A shared mapping of the ring, unmapped on drop.
struct Mapping {
    base: *mut u8,
    len: usize,
}

impl Mapping {
    fn new(ring: &OwnedFd, len: usize, offset: u64) -> Result<Self, Errno> {
        // SAFETY: a fresh shared mapping of the ring's memory, at an address the kernel picks.
        let base = unsafe {
            mmap(
                null_mut(),
                len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::SHARED | MapFlags::POPULATE,
                ring.as_fd(),
                offset,
            )
        }
        .map_err(|errno| Errno::from_raw(errno.raw_os_error()))?;
        Ok(Self {
            base: base.cast(),
            len,
        })
    }

    /// The `u32` at `offset`, shared with the kernel: `ENOSYS` unless it lies within the mapping,
    /// aligned (the offsets come from the kernel, but every later access relies on them).
    fn word(&self, offset: u32) -> Result<*const AtomicU32, Errno> {
        let offset = offset as usize;
        if !offset.is_multiple_of(align_of::<u32>()) || offset + size_of::<u32>() > self.len {
            return Err(Errno::ENOSYS);
        }
        // SAFETY: in bounds and aligned, checked above.
        Ok(unsafe { self.base.add(offset).cast() })
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: mapped in `new`, and nothing reads it once its ring is dropped.
        let _ = unsafe { munmap(self.base.cast(), self.len) };
    }
}

/// A completion as the kernel lays it out (16 bytes: the ring is not set up with
/// `IORING_SETUP_CQE32`).
#[repr(C)]
struct CompletionEntry {
    user_data: u64,
    res: i32,
    flags: u32,
}

/// One io_uring whose only request is a one-shot poll, and whose completion queue's tail is the
/// counter.
pub struct ChangeRing {
    // Fields drop in order: the mappings go before the ring's descriptor. The queues' words below
    // point into `_rings`.
    _rings: Mapping,
    sqes: Mapping,
    ring: OwnedFd,
    sq_tail: *const AtomicU32,
    sq_mask: u32,
    sq_array: *mut u32,
    cq_head: *const AtomicU32,
    cq_tail: *const AtomicU32,
    cq_mask: u32,
    cqes: *const CompletionEntry,
    /// A poll is waiting (its completion not seen yet).
    armed: bool,
}

impl ChangeRing {
    /// Sets up the ring, or says why it cannot be used here: `ENOSYS` (no io_uring, or no feature
    /// this needs), `EPERM` (disabled by `kernel.io_uring_disabled` or a seccomp filter),
    /// `ENOTSUP` (this kernel posts a poll's completion late: see the module's comment).
    pub fn new() -> Result<Self, Errno> {
        let mut params = io_uring_params::default();
        // SAFETY: `params` is a valid, zeroed parameter block (no flags: completions are posted by
        // task work that interrupts this thread, which is what the counter's freshness rests on).
        let ring = unsafe { io_uring_setup(2, &mut params) }
            .map_err(|errno| Errno::from_raw(errno.raw_os_error()))?;
        // One mapping for both queues (5.4), and polls completed through task work (5.7; fast poll
        // came with it).
        if !params
            .features
            .contains(IoringFeatureFlags::SINGLE_MMAP | IoringFeatureFlags::FAST_POLL)
        {
            return Err(Errno::ENOSYS);
        }
        // Both arrays end within the mapping by construction of its length.
        let sq_len = params.sq_off.array as usize + params.sq_entries as usize * size_of::<u32>();
        let cq_len =
            params.cq_off.cqes as usize + params.cq_entries as usize * size_of::<CompletionEntry>();
        let rings = Mapping::new(&ring, sq_len.max(cq_len), IORING_OFF_SQ_RING)?;
        let sqes = Mapping::new(
            &ring,
            params.sq_entries as usize * size_of::<io_uring_sqe>(),
            IORING_OFF_SQES,
        )?;
        if !(params.cq_off.cqes as usize).is_multiple_of(align_of::<CompletionEntry>()) {
            return Err(Errno::ENOSYS);
        }
        // SAFETY: the masks are u32s the kernel wrote at setup and never changes again. Every index
        // below is taken modulo them, and the kernel sizes both arrays to the mask plus one.
        let (sq_mask, cq_mask) = unsafe {
            (
                (*rings.word(params.sq_off.ring_mask)?).load(Ordering::Relaxed),
                (*rings.word(params.cq_off.ring_mask)?).load(Ordering::Relaxed),
            )
        };
        if sq_mask >= params.sq_entries || cq_mask >= params.cq_entries {
            return Err(Errno::ENOSYS);
        }
        let mut this = Self {
            sq_tail: rings.word(params.sq_off.tail)?,
            sq_mask,
            sq_array: rings.word(params.sq_off.array)?.cast_mut().cast(),
            cq_head: rings.word(params.cq_off.head)?,
            cq_tail: rings.word(params.cq_off.tail)?,
            cq_mask,
            // SAFETY: within the mapping (its length covers every completion) and aligned, checked above.
            cqes: unsafe { rings.base.add(params.cq_off.cqes as usize).cast() },
            _rings: rings,
            sqes,
            ring,
            armed: false,
        };
        this.check_completions_are_prompt()?;
        Ok(this)
    }

    /// The counter: the completion queue's tail, which the kernel moves (and [`retire`], once).
    /// Valid as long as this ring lives.
    ///
    /// [`retire`]: ChangeRing::retire
    pub fn counter(&self) -> *const AtomicU32 {
        self.cq_tail
    }

    /// Takes the completions posted so far (a completion means the poll fired: it is re-armed by
    /// the next [`arm`]) and returns the counter's value, read before anything else is done: an
    /// event queued after the caller's next read of the descriptor moves the counter past it.
    ///
    /// A poll that failed is an error: one the kernel refuses for this descriptor would fail again
    /// at once on every re-arm, moving the counter on every look — a system call per request, the
    /// cost the counter is there to save. The caller stops using the counter.
    ///
    /// [`arm`]: ChangeRing::arm
    pub fn settle(&mut self) -> Result<u32, Errno> {
        // SAFETY: both words live as long as `self.rings`; only this ring's owner writes the head.
        let (tail, head) = unsafe {
            (
                (*self.cq_tail).load(Ordering::Acquire),
                (*self.cq_head).load(Ordering::Relaxed),
            )
        };
        let mut failed = None;
        // The indices wrap around at 2^32; there are never more completions than slots.
        let posted = tail.wrapping_sub(head).min(self.cq_mask + 1);
        for index in (0..posted).map(|n| head.wrapping_add(n)) {
            // SAFETY: a slot the kernel has published (below the tail read with Acquire) and not
            // yet handed back (at or above the head), within the array by the mask.
            let res = unsafe { (*self.cqes.add((index & self.cq_mask) as usize)).res };
            // Only one request is ever outstanding, so any completion is the poll's: readiness
            // (a positive mask), or an error.
            if res < 0 {
                failed = Some(Errno::from_raw(-res));
            }
        }
        if tail != head {
            self.armed = false;
            // SAFETY: as above; Release hands the slots back to the kernel after they were read.
            unsafe { (*self.cq_head).store(tail, Ordering::Release) };
        }
        failed.map_or(Ok(tail), Err)
    }

    /// Moves the counter once more, by hand, for a ring no longer used: every value handed out
    /// before is then stale, so that a reader still holding one (another copy of the JavaScript
    /// module on this thread, say) asks again instead of trusting a word that will not move.
    /// The kernel keeps its own copy of the tail and never reads this one back; at most the
    /// poll still armed completes once more, and writes the same value.
    pub fn retire(&mut self) {
        // SAFETY: the word lives as long as `self.rings`.
        unsafe {
            let tail = (*self.cq_tail).load(Ordering::Acquire);
            (*self.cq_tail).store(tail.wrapping_add(1), Ordering::Release);
        }
    }

    /// Arms the poll on `fd` (readable) unless one is still waiting. An error leaves the ring
    /// unusable: the caller stops trusting the counter.
    pub fn arm(&mut self, fd: BorrowedFd<'_>) -> Result<(), Errno> {
        if self.armed {
            return Ok(());
        }
        let sqe = io_uring_sqe {
            opcode: IoringOp::PollAdd,
            fd: fd.as_raw_fd(),
            op_flags: op_flags_union {
                poll32_events: poll_events(),
            },
            ..Default::default()
        };
        // SAFETY: one slot of each array, indexed within the ring's mask; the Release store of
        // the tail publishes the entry to the kernel, which only reads it inside io_uring_enter.
        unsafe {
            let tail = (*self.sq_tail).load(Ordering::Relaxed);
            let slot = tail & self.sq_mask;
            self.sqes
                .base
                .cast::<io_uring_sqe>()
                .add(slot as usize)
                .write(sqe);
            self.sq_array.add(slot as usize).write(slot);
            (*self.sq_tail).store(tail.wrapping_add(1), Ordering::Release);
        }
        loop {
            // SAFETY: the entry above points at no memory; `fd` outlives the poll (the ring holds
            // its own reference to the file until the poll completes or the ring closes).
            match unsafe { io_uring_enter(self.ring.as_fd(), 1, 0, IoringEnterFlags::empty()) } {
                Ok(1) => break,
                // A signal before the entry was taken: it is still queued, submit it again.
                Err(errno) if errno.raw_os_error() == libc::EINTR => continue,
                // Taken but not started (0), or refused (EAGAIN, EBUSY, ENOMEM...): give up.
                Ok(_) => return Err(Errno::EIO),
                Err(errno) => return Err(Errno::from_raw(errno.raw_os_error())),
            }
        }
        self.armed = true;
        Ok(())
    }

    /// One of this thread's own writes must move the counter before `write` returns; a kernel that
    /// completes polls on a worker thread would let a request overtake a change.
    ///
    /// The poll is on what the counter serves, an inotify descriptor woken by the event a write
    /// queues: a pipe watched through `/proc/self/fd`, which changes nothing on disk. Where no such
    /// event comes (no `/proc`, or a kernel that reports no writes to pipes), the pipe's own
    /// readiness stands in; on the kernels accepted here (5.7+) both wake-ups complete a poll
    /// through the same task work.
    fn check_completions_are_prompt(&mut self) -> Result<(), Errno> {
        let (read_end, write_end) = nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK)?;
        // A second inotify instance may be refused (`fs.inotify.max_user_instances`): then the
        // pipe. Which one is found before any poll waits on it: a poll armed on a descriptor that
        // never becomes readable would stay armed, and the real one would never be.
        let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC).ok();
        let polled = match &inotify {
            Some(inotify) if writes_are_reported(inotify, &read_end, &write_end)? => {
                inotify.as_fd()
            }
            _ => read_end.as_fd(),
        };
        self.arm(polled)?;
        let before = self.settle()?;
        nix::unistd::write(&write_end, b"x")?;
        // SAFETY: as in `settle`.
        let after = unsafe { (*self.cq_tail).load(Ordering::Acquire) };
        self.settle()?;
        if after == before {
            return Err(Errno::ENOTSUP);
        }
        Ok(())
    }
}

/// Whether `inotify` reports a write to the pipe (watched through `/proc/self/fd`). The pipe is
/// left empty and the queue read.
fn writes_are_reported(
    inotify: &Inotify,
    read_end: &OwnedFd,
    write_end: &OwnedFd,
) -> Result<bool, Errno> {
    let path = format!("/proc/self/fd/{}", read_end.as_raw_fd());
    if inotify
        .add_watch(path.as_str(), AddWatchFlags::IN_MODIFY)
        .is_err()
    {
        return Ok(false);
    }
    nix::unistd::write(write_end, b"x")?;
    nix::unistd::read(read_end, &mut [0; 8])?;
    Ok(inotify.read_events().is_ok_and(|events| !events.is_empty()))
}

/// `POLLIN` as the 32-bit poll field carries it. It overlays the 16-bit field of kernels before
/// 5.9 (which read the same `POLLIN` on little-endian targets); on big-endian ones the kernel
/// swaps its halves back (as liburing's `io_uring_prep_poll_add` does).
fn poll_events() -> u32 {
    let events = libc::POLLIN as u32;
    if cfg!(target_endian = "big") {
        events.rotate_left(16)
    } else {
        events
    }
}

/// For tests that found no ring where they expected one: only a kernel with io_uring turned off
/// (`kernel.io_uring_disabled`) may explain it. Fails the test otherwise, naming `missing`.
#[cfg(test)]
pub(crate) fn expect_io_uring_off(missing: &str) {
    let disabled = std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled");
    assert!(
        disabled.as_deref().map(str::trim).ok() != Some("0"),
        "io_uring is enabled here, yet {missing}"
    );
    eprintln!("not checked: io_uring is off here ({missing})");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ring, unless the kernel says io_uring is off here (then `None`, and the test says so).
    fn ring_unless_disabled() -> Option<ChangeRing> {
        ChangeRing::new()
            .inspect_err(|errno| expect_io_uring_off(&format!("no change ring ({errno})")))
            .ok()
    }

    #[test]
    fn the_setup_check_polls_inotify_as_the_counter_does() {
        // On this kernel (and any with /proc that reports writes to pipes), the check at setup
        // waits on an inotify descriptor, the kind the counter serves, not on the pipe itself.
        let (read_end, write_end) =
            nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK).unwrap();
        let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC).unwrap();
        assert!(writes_are_reported(&inotify, &read_end, &write_end).unwrap());
        assert_eq!(
            nix::unistd::read(&read_end, &mut [0; 8]),
            Err(Errno::EAGAIN),
            "the pipe is left empty"
        );
        assert_eq!(
            inotify.read_events().err(),
            Some(Errno::EAGAIN),
            "and the queue read"
        );
    }

    #[test]
    fn a_poll_that_fails_is_an_error_not_a_change() {
        let Some(mut ring) = ring_unless_disabled() else {
            return;
        };
        // A descriptor io_uring cannot use: an `O_PATH` one, which `fget` skips (EBADF), though
        // it is open.
        let path_only = nix::fcntl::open(
            "/",
            OFlag::O_PATH | OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .unwrap();
        ring.arm(path_only.as_fd()).unwrap();
        assert_eq!(ring.settle(), Err(Errno::EBADF));
    }

    #[test]
    fn a_retired_ring_moves_its_counter_once_and_a_late_completion_does_not_move_it_back() {
        let Some(mut ring) = ring_unless_disabled() else {
            return;
        };
        let (read_end, write_end) = nix::unistd::pipe2(OFlag::O_CLOEXEC).unwrap();
        ring.arm(read_end.as_fd()).unwrap();
        let handed_out = ring.settle().unwrap();
        let counter = ring.counter();
        // SAFETY: the counter lives as long as `ring`.
        let read = || unsafe { (*counter).load(Ordering::Acquire) };
        ring.retire();
        assert_eq!(read(), handed_out.wrapping_add(1));
        // The poll still armed completes, and the kernel writes its own next tail: the same value.
        nix::unistd::write(&write_end, b"x").unwrap();
        assert_eq!(read(), handed_out.wrapping_add(1));
    }
}
