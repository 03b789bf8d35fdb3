//! Waiting for the two ends of one relayed connection, woken only by what a direction waits for.
//!
//! An end is registered with the runtime's epoll (tokio's `AsyncFd`) only while the connection
//! is parked, and only for what its directions wait for on it: right before parking, each end a
//! direction waits on is registered for the union of what they wait for; once an end reports, the
//! registrations go, and the next park makes fresh ones.
//!
//! Why not one registration per end for the connection's whole life, for both directions (what
//! the relay did before): tokio registers edge-triggered, and an edge wakes the thread whether
//! or not anybody waits for it. A direction parked on a full destination then had its thread
//! woken by every segment that reached its source meanwhile, bytes it could not take (its pipe
//! was full), and an idle direction by acknowledgements that freed send buffer. The raw blocking
//! relay (`examples/splice_relay.rs`) sleeps inside `splice()` on the one socket it waits for,
//! and nothing else wakes it. See `README.md`, *Proxy*, for the measurements.
//!
//! The price: an `epoll_ctl` to register and one to deregister per end and park, system calls
//! without a context switch. Registering looks at the end's state at once (the kernel polls a
//! descriptor as it adds it), so an end that became ready after the attempt that said `EAGAIN`
//! reports on the next wait: no wake-up is lost in between.

use std::future::poll_fn;
use std::os::fd::{AsRawFd, RawFd};
use std::task::{Context, Poll};

use nix::errno::Errno;
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

use super::end::RelayEnd;
use crate::error::Failure;

/// What a direction can wait for on an end, and what an end reports: a small set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Readiness(u8);

impl Readiness {
    pub const NONE: Readiness = Readiness(0);
    pub const READABLE: Readiness = Readiness(1);
    pub const WRITABLE: Readiness = Readiness(2);

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn intersects(self, other: Readiness) -> bool {
        self.0 & other.0 != 0
    }
}

impl std::ops::BitOr for Readiness {
    type Output = Readiness;

    fn bitor(self, other: Readiness) -> Readiness {
        Readiness(self.0 | other.0)
    }
}

impl std::ops::BitOrAssign for Readiness {
    fn bitor_assign(&mut self, other: Readiness) {
        self.0 |= other.0;
    }
}

/// Parks until one of a connection's two ends is ready for what is wanted of it (readable,
/// writable, both, or nothing), and returns what each end reported. Must run inside a tokio
/// runtime with IO enabled.
pub async fn wait(ends: &[RelayEnd; 2], wanted: [Readiness; 2]) -> Result<[Readiness; 2], Failure> {
    // With nothing wanted, nothing could ever wake the park.
    debug_assert!(wanted.iter().any(|w| !w.is_empty()));
    let mut parked: [Option<Registration>; 2] = [None, None];
    for ((slot, end), wanted) in parked.iter_mut().zip(ends).zip(wanted) {
        *slot = Registration::new(end, wanted)?;
    }
    // Dropping the registrations (here, or with the future if the relay is cancelled)
    // deregisters them, before the ends they watch can close.
    poll_fn(|cx| poll_reports(&parked, cx)).await
}

/// One end registered for one park.
struct Registration {
    io: AsyncFd<Watched>,
    wanted: Readiness,
}

impl Registration {
    /// `None` if nothing is wanted of the end.
    fn new(end: &RelayEnd, wanted: Readiness) -> Result<Option<Self>, Failure> {
        let interest = match (
            wanted.intersects(Readiness::READABLE),
            wanted.intersects(Readiness::WRITABLE),
        ) {
            (true, true) => Interest::READABLE | Interest::WRITABLE,
            (true, false) => Interest::READABLE,
            (false, true) => Interest::WRITABLE,
            (false, false) => return Ok(None),
        };
        let watched = Watched(end.fd().as_raw_fd());
        // SAFETY: the number is our end's dup, which stays open and the same while `wait` borrows
        // the end, and a registration lives no longer than that `wait`.
        // ENOMEM and ENOSPC (over fs.epoll.max_user_watches) fail the connection: it could never
        // be woken.
        let io = unsafe { AsyncFd::register_with_interest(watched, interest) }
            .map_err(|e| io_failure(e.into(), "epoll_ctl"))?;
        Ok(Some(Registration { io, wanted }))
    }

    /// What the end reported of what it is wanted for, registering the task's waker for the
    /// rest. tokio counts a hang-up or an error as readable and writable (`READ_CLOSED`,
    /// `WRITE_CLOSED`): the next attempt turns it into the end of stream or the errno. The
    /// readiness needs no clearing: the registration goes with this park.
    fn poll(&self, cx: &mut Context<'_>) -> Result<Readiness, Failure> {
        let mut reported = Readiness::NONE;
        if self.wanted.intersects(Readiness::READABLE) {
            if let Poll::Ready(ready) = self.io.poll_read_ready(cx) {
                let _ready = ready.map_err(|e| io_failure(e, "epoll_wait"))?;
                reported |= Readiness::READABLE;
            }
        }
        if self.wanted.intersects(Readiness::WRITABLE) {
            if let Poll::Ready(ready) = self.io.poll_write_ready(cx) {
                let _ready = ready.map_err(|e| io_failure(e, "epoll_wait"))?;
                reported |= Readiness::WRITABLE;
            }
        }
        Ok(reported)
    }
}

fn poll_reports(
    parked: &[Option<Registration>; 2],
    cx: &mut Context<'_>,
) -> Poll<Result<[Readiness; 2], Failure>> {
    let mut reports = [Readiness::NONE; 2];
    for (report, registration) in reports.iter_mut().zip(parked) {
        if let Some(registration) = registration {
            match registration.poll(cx) {
                Ok(reported) => *report = reported,
                Err(failure) => return Poll::Ready(Err(failure)),
            }
        }
    }
    if reports.iter().any(|r| !r.is_empty()) {
        Poll::Ready(Ok(reports))
    } else {
        Poll::Pending
    }
}

/// What the runtime's epoll watches: the number of an end's dup, which the end owns and closes
/// after the registration is gone.
struct Watched(RawFd);

impl AsRawFd for Watched {
    fn as_raw_fd(&self) -> RawFd {
        self.0
    }
}

fn io_failure(e: std::io::Error, syscall: &'static str) -> Failure {
    let errno = Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO));
    Failure::os(errno, syscall)
}
