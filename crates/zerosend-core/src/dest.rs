//! The destination: our own non-blocking `dup()` of a socket, pipe or file, and the plain writes
//! the engines need on it.

use std::os::fd::{BorrowedFd, RawFd};
use std::sync::OnceLock;

use nix::errno::Errno;
use nix::sys::socket::{send, MsgFlags};
use nix::sys::stat::{fstat, SFlag};

use crate::error::Failure;
use crate::fd::{dup_cloexec, Descriptor, NonBlocking};

/// What kind of file the destination is: it decides which write calls apply and whether the
/// driver can park on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DestKind {
    Socket,
    /// A pipe or character device: pollable, but `send()` flags do not apply.
    Stream,
    /// A regular file: never `EAGAIN`, and epoll refuses it.
    File,
}

/// Who paces a TCP socket's sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pacing {
    /// TCP itself, with a timer: BBR asks for pacing, and on an interface without the `fq`
    /// qdisc — loopback has none — TCP paces on its own. That is what made sendfile the slowest
    /// method to a local peer on our VM, whose default congestion control is BBR
    /// (`bench/transfer.mjs`: sendfile 1.46–1.65 GB/s at 1 MiB against mmap's 2.7).
    ByTcp,
    /// A qdisc, or nobody (CUBIC, Linux's usual default): there sendfile is the fastest method
    /// to a local peer too (12.1 against mmap's 4.8 GB/s at 1 MiB through `transfer()`, 14.6
    /// against 6.0 for the raw loops; 64 KiB to 1 GiB alike: `bench/transfer.mjs --cc=cubic`).
    ByQdiscOrNone,
}

pub struct Dest {
    // Field order is drop order: the flags go back before our dup is closed.
    nonblocking: Option<NonBlocking>,
    fd: Descriptor,
    kind: DestKind,
    /// Asked at most once per transfer: by `auto`, then again by the first step.
    pacing: OnceLock<Option<Pacing>>,
}

impl Dest {
    pub fn from_raw(raw: RawFd) -> Result<Self, Failure> {
        Self::from_descriptor(Descriptor::Owned(dup_cloexec(raw)?))
    }

    /// Writes to the caller's own number, for a synchronous first attempt only.
    /// `nonblocking_socket`: the caller knows it is a non-blocking socket (every Node socket is),
    /// which saves an `fstat()` and an `fcntl()`.
    pub fn borrow_raw(raw: RawFd, nonblocking_socket: bool) -> Result<Self, Failure> {
        let fd = Descriptor::borrowed(raw)?;
        if nonblocking_socket {
            return Ok(Dest {
                nonblocking: None,
                fd,
                kind: DestKind::Socket,
                pacing: OnceLock::new(),
            });
        }
        Self::from_descriptor(fd)
    }

    /// Replaces a borrowed number by our own dup (the flags guard follows it).
    pub fn own(&mut self) -> Result<(), Failure> {
        self.fd.own()?;
        if let Some(guard) = &mut self.nonblocking {
            guard.retarget(self.fd.raw());
        }
        Ok(())
    }

    fn from_descriptor(fd: Descriptor) -> Result<Self, Failure> {
        let stat = fstat(fd.fd()).map_err(|e| Failure::os(e, "fstat"))?;
        let kind = match SFlag::from_bits_truncate(stat.st_mode & SFlag::S_IFMT.bits()) {
            SFlag::S_IFSOCK => DestKind::Socket,
            SFlag::S_IFREG => DestKind::File,
            SFlag::S_IFDIR => return Err(Failure::os(Errno::EISDIR, "write")),
            _ => DestKind::Stream,
        };
        let nonblocking = match kind {
            DestKind::File => None,
            _ => Some(NonBlocking::set(fd.fd())?),
        };
        Ok(Dest {
            nonblocking,
            fd,
            kind,
            pacing: OnceLock::new(),
        })
    }

    pub fn kind(&self) -> DestKind {
        self.kind
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.fd()
    }

    pub fn raw(&self) -> RawFd {
        self.fd.raw()
    }

    /// How this TCP socket is paced; `None` if it is not a TCP socket (or, off Linux, unknown).
    pub fn tcp_pacing(&self) -> Option<Pacing> {
        *self.pacing.get_or_init(|| pacing_of(self.fd()))
    }

    /// The system call `write()` makes, for error reports.
    pub fn write_call(&self) -> &'static str {
        match self.kind {
            DestKind::Socket => "send",
            _ => "write",
        }
    }

    /// Writes from `buf`. On a socket, `MSG_NOSIGNAL` turns a dead peer into `EPIPE` rather than a
    /// process-killing SIGPIPE (Node ignores SIGPIPE, but a library should not depend on it), and
    /// `more` (`MSG_MORE`) holds a short write back so it leaves in the same packet as what follows.
    pub fn write(&self, buf: &[u8], more: bool) -> nix::Result<usize> {
        match self.kind {
            DestKind::Socket => {
                let mut flags = no_signal_flag();
                if more {
                    flags |= more_flag();
                }
                send(self.raw(), buf, flags)
            }
            _ => nix::unistd::write(self.fd(), buf),
        }
    }
}

#[cfg(not(target_vendor = "apple"))]
fn no_signal_flag() -> MsgFlags {
    MsgFlags::MSG_NOSIGNAL
}

/// Apple has no MSG_NOSIGNAL (only the SO_NOSIGPIPE socket option, which would change the
/// caller's socket too); Node ignores SIGPIPE, so EPIPE comes back as an errno there as well.
#[cfg(target_vendor = "apple")]
fn no_signal_flag() -> MsgFlags {
    MsgFlags::empty()
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn more_flag() -> MsgFlags {
    // nix has no name for MSG_MORE; the bit is Linux's own.
    MsgFlags::from_bits_retain(libc::MSG_MORE)
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn more_flag() -> MsgFlags {
    MsgFlags::empty()
}

/// One `getsockopt(TCP_CONGESTION)`.
#[cfg(target_os = "linux")]
fn pacing_of(fd: BorrowedFd<'_>) -> Option<Pacing> {
    use nix::sys::socket::{getsockopt, sockopt::TcpCongestion};
    use std::os::unix::ffi::OsStrExt;
    // Fails (EOPNOTSUPP) on anything but TCP, which is how a unix socket is told apart.
    let name = getsockopt(&fd, TcpCongestion).ok()?;
    Some(if name.as_bytes().starts_with(b"bbr") {
        Pacing::ByTcp
    } else {
        Pacing::ByQdiscOrNone
    })
}

/// Measured on Linux only: elsewhere treated as unknown.
#[cfg(not(target_os = "linux"))]
fn pacing_of(_fd: BorrowedFd<'_>) -> Option<Pacing> {
    None
}

/// `true` for the errnos that mean "this call cannot work on these descriptors" rather than "this
/// transfer failed": a method may fall back from them before it has sent anything.
pub fn is_unsupported(errno: Errno) -> bool {
    // ENOTSUP is EOPNOTSUPP on Linux, a different number on the BSDs. ENODEV is mmap() on a
    // filesystem that cannot map files. ENOTSOCK is the BSDs' sendfile to a socket that is not a
    // stream socket (no Linux call we make returns it: Linux's sendfile writes to anything).
    matches!(
        errno,
        Errno::EINVAL | Errno::ENOSYS | Errno::EOPNOTSUPP | Errno::ENODEV | Errno::ENOTSOCK
    ) || errno == Errno::ENOTSUP
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::ffi::OsString;
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;

    use nix::sys::socket::{setsockopt, sockopt::TcpCongestion};

    use super::*;

    fn pacing_of(fd: RawFd) -> Option<Pacing> {
        Dest::from_raw(fd).unwrap().tcp_pacing()
    }

    #[test]
    fn tcp_pacing_follows_the_congestion_control_and_is_none_off_tcp() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let tcp = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        // reno is always built in and allowed; bbr only where the kernel has it and lets us.
        setsockopt(&tcp, TcpCongestion, &OsString::from("reno")).unwrap();
        assert_eq!(pacing_of(tcp.as_raw_fd()), Some(Pacing::ByQdiscOrNone));
        match setsockopt(&tcp, TcpCongestion, &OsString::from("bbr")) {
            Ok(()) => assert_eq!(pacing_of(tcp.as_raw_fd()), Some(Pacing::ByTcp)),
            Err(errno) => eprintln!("bbr cannot be chosen here ({errno}): not checked"),
        }
        let (unix, _peer) = UnixStream::pair().unwrap();
        assert_eq!(pacing_of(unix.as_raw_fd()), None);
        let file = std::fs::File::open("/proc/self/stat").unwrap();
        assert_eq!(pacing_of(file.as_raw_fd()), None);
    }
}
