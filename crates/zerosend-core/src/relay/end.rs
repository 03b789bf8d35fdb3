//! One end of a socket relay: our own non-blocking `dup()` of a socket (or pipe), registered with
//! epoll for both directions, so that one end can be read by one relay direction and written by
//! the other at the same time (a proxy shares each end between its two directions).

use std::os::fd::{AsRawFd, BorrowedFd, RawFd};

use nix::errno::Errno;
use nix::sys::socket::{shutdown, Shutdown};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

use crate::dest::{Dest, DestKind};
use crate::error::Failure;

/// A descriptor the relay owns but has not yet registered: `dup()` must happen on the caller's
/// thread, while the caller's number still means the socket it meant; registration needs the
/// runtime, which the relay only reaches later.
pub struct OpenEnd(Dest);

impl OpenEnd {
    /// Dups `raw` and makes the open file description non-blocking (restored on drop).
    pub fn open(raw: RawFd) -> Result<Self, Failure> {
        let dest = Dest::from_raw(raw)?;
        if dest.kind() == DestKind::File {
            // epoll refuses regular files, and a relay without readiness would have to spin.
            return Err(Failure::os(Errno::EPERM, "epoll_ctl"));
        }
        Ok(OpenEnd(dest))
    }

    /// Registers with the current tokio runtime's epoll. Must run inside the runtime.
    pub fn register(self) -> Result<RelayEnd, Failure> {
        let interest = Interest::READABLE | Interest::WRITABLE;
        // SAFETY: `Registered` owns the dup and returns its number unchanged for as long as it
        // lives; the AsyncFd owns the `Registered`, so the descriptor stays open and the same
        // until the AsyncFd (deregistering first) drops it.
        let io = unsafe { AsyncFd::register_with_interest(Registered(self.0), interest) }
            .map_err(|e| io_failure(e.into(), "epoll_ctl"))?;
        Ok(RelayEnd { io })
    }
}

/// A registered end. Dropping it deregisters from epoll, then closes our dup (the caller's
/// descriptor stays open: only our copy goes).
pub struct RelayEnd {
    io: AsyncFd<Registered>,
}

impl RelayEnd {
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.io.get_ref().0.fd()
    }

    /// Writes plain bytes (what JS had already read before the relay took over), `MSG_NOSIGNAL`
    /// on sockets.
    pub fn write(&self, buf: &[u8]) -> nix::Result<usize> {
        self.io.get_ref().0.write(buf, false)
    }

    /// Waits until epoll says the end may be readable (or has hung up).
    ///
    /// Readiness is cleared before returning and the caller always makes a fresh attempt next,
    /// so an edge that arrives in between is never lost: the attempt sees its bytes.
    pub async fn readable(&self) -> Result<(), Failure> {
        let mut ready = self
            .io
            .readable()
            .await
            .map_err(|e| io_failure(e, "epoll_wait"))?;
        ready.clear_ready();
        Ok(())
    }

    /// Waits until epoll says the end may be writable (or has failed); see [`Self::readable`].
    pub async fn writable(&self) -> Result<(), Failure> {
        let mut ready = self
            .io
            .writable()
            .await
            .map_err(|e| io_failure(e, "epoll_wait"))?;
        ready.clear_ready();
        Ok(())
    }

    /// Passes an end of stream on: `shutdown(SHUT_WR)` sends a FIN while the other direction of
    /// the socket keeps working. A peer that is already gone (`ENOTCONN`) and a pipe, which has
    /// no half-close (`ENOTSOCK`), are not failures of the relay.
    pub fn shutdown_write(&self) -> Result<(), Failure> {
        match shutdown(self.io.get_ref().as_raw_fd(), Shutdown::Write) {
            Ok(()) | Err(Errno::ENOTCONN | Errno::ENOTSOCK) => Ok(()),
            Err(errno) => Err(Failure::os(errno, "shutdown")),
        }
    }
}

/// What epoll watches: the number of our dup, which `Dest` owns and closes after deregistration
/// (`AsyncFd` deregisters before it drops what it holds).
struct Registered(Dest);

impl AsRawFd for Registered {
    fn as_raw_fd(&self) -> RawFd {
        self.0.raw()
    }
}

fn io_failure(e: std::io::Error, syscall: &'static str) -> Failure {
    let errno = Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO));
    Failure::os(errno, syscall)
}
