//! One end of a socket relay: our own non-blocking `dup()` of a socket (or pipe). A proxy shares
//! each end between its two directions: one reads it while the other writes it. Waiting for an
//! end is the job of the connection's [`super::poller::wait`].

use std::os::fd::{BorrowedFd, RawFd};

use nix::errno::Errno;
use nix::sys::socket::{shutdown, Shutdown};

use crate::dest::{Dest, DestKind};
use crate::error::Failure;

/// A descriptor the relay owns. `dup()` happens on the caller's thread, while the caller's number
/// still means the socket it meant; dropping the end closes our dup (the caller's descriptor stays
/// open: only our copy goes) and puts the blocking flag back as it found it.
pub struct RelayEnd(Dest);

impl RelayEnd {
    /// Dups `raw` and makes the open file description non-blocking (restored on drop).
    pub fn open(raw: RawFd) -> Result<Self, Failure> {
        let dest = Dest::from_raw(raw)?;
        if dest.kind() == DestKind::File {
            // epoll refuses regular files, and a relay without readiness would have to spin.
            return Err(Failure::os(Errno::EPERM, "epoll_ctl"));
        }
        Ok(RelayEnd(dest))
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.0.fd()
    }

    /// Writes plain bytes (what JS had already read before the relay took over), `MSG_NOSIGNAL`
    /// on sockets.
    pub fn write(&self, buf: &[u8]) -> nix::Result<usize> {
        self.0.write(buf, false)
    }

    /// Passes an end of stream on: `shutdown(SHUT_WR)` sends a FIN while the other direction of
    /// the socket keeps working. A peer that is already gone (`ENOTCONN`) and a pipe, which has
    /// no half-close (`ENOTSOCK`), are not failures of the relay.
    pub fn shutdown_write(&self) -> Result<(), Failure> {
        match shutdown(self.0.raw(), Shutdown::Write) {
            Ok(()) | Err(Errno::ENOTCONN | Errno::ENOTSOCK) => Ok(()),
            Err(errno) => Err(Failure::os(errno, "shutdown")),
        }
    }
}
