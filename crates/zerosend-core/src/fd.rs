//! Owning descriptors: our own `dup()`s, opened files, and the non-blocking flag.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::sys::stat::Mode;

use crate::error::Failure;

/// Our own copy of a descriptor the caller holds. JS may close its number at any moment (and the
/// number is then reused by the next `open()`); a `dup()` keeps pointing at the same open file.
pub fn dup_cloexec(raw: RawFd) -> Result<OwnedFd, Failure> {
    if raw < 0 {
        return Err(Failure::os(Errno::EBADF, "dup"));
    }
    // SAFETY: the number is only borrowed for the duration of the fcntl call; if it is not open,
    // fcntl fails with EBADF, which we report.
    let borrowed = unsafe { BorrowedFd::borrow_raw(raw) };
    let new = fcntl(borrowed, FcntlArg::F_DUPFD_CLOEXEC(0)).map_err(|e| Failure::os(e, "dup"))?;
    // SAFETY: F_DUPFD_CLOEXEC returned a fresh descriptor that nobody else owns.
    Ok(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(new) })
}

/// The descriptor a transfer works on: its own `dup()`, or the caller's number itself, borrowed
/// for a first attempt made synchronously on the caller's thread (the JS thread cannot close it
/// meanwhile). A transfer that has to go on later takes its own dup first (`own`): that
/// saves a small file two `dup()`s and two `close()`s, a third of its system calls.
pub enum Descriptor {
    Owned(OwnedFd),
    Borrowed(RawFd),
}

impl Descriptor {
    /// The caller's number, for a synchronous first attempt only; a negative one is `EBADF`.
    pub fn borrowed(raw: RawFd) -> Result<Self, Failure> {
        if raw < 0 {
            return Err(Failure::os(Errno::EBADF, "fstat"));
        }
        Ok(Descriptor::Borrowed(raw))
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        match self {
            Descriptor::Owned(fd) => fd.as_fd(),
            // SAFETY: a borrowed number is used only during the caller's synchronous call, while
            // the caller keeps it open (see `Transfer::open_borrowed`).
            Descriptor::Borrowed(raw) => unsafe { BorrowedFd::borrow_raw(*raw) },
        }
    }

    pub fn raw(&self) -> RawFd {
        match self {
            Descriptor::Owned(fd) => fd.as_raw_fd(),
            Descriptor::Borrowed(raw) => *raw,
        }
    }

    /// Replaces a borrowed number by our own dup, in place; an owned one stays as it is.
    pub fn own(&mut self) -> Result<(), Failure> {
        if let Descriptor::Borrowed(raw) = *self {
            *self = Descriptor::Owned(dup_cloexec(raw)?);
        }
        Ok(())
    }
}

/// Opens a file for reading only; `O_NOCTTY` so a terminal path never becomes our controlling tty.
pub fn open_read_only(path: &Path) -> Result<OwnedFd, Failure> {
    nix::fcntl::open(
        path,
        OFlag::O_RDONLY | OFlag::O_CLOEXEC | OFlag::O_NOCTTY,
        Mode::empty(),
    )
    .map_err(|e| Failure::os(e, "open"))
}

/// Sets `O_NONBLOCK` on an open file description for as long as it lives, and puts the old flags
/// back on drop. A `dup()` shares the description with the caller's descriptor, so a blocking raw
/// fd handed to us must be returned to the caller blocking, as it came.
pub struct NonBlocking {
    fd: RawFd,
    restore: Option<OFlag>,
}

impl NonBlocking {
    /// Points the restore at another descriptor of the same open file description (our dup,
    /// once a borrowed descriptor is replaced by one).
    pub fn retarget(&mut self, fd: RawFd) {
        self.fd = fd;
    }

    pub fn set(fd: BorrowedFd<'_>) -> Result<Self, Failure> {
        let raw_flags = fcntl(fd, FcntlArg::F_GETFL).map_err(|e| Failure::os(e, "fcntl"))?;
        let flags = OFlag::from_bits_truncate(raw_flags);
        let restore = if flags.contains(OFlag::O_NONBLOCK) {
            None
        } else {
            fcntl(fd, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))
                .map_err(|e| Failure::os(e, "fcntl"))?;
            Some(flags)
        };
        Ok(NonBlocking {
            fd: fd.as_raw_fd(),
            restore,
        })
    }
}

impl Drop for NonBlocking {
    fn drop(&mut self) {
        if let Some(flags) = self.restore {
            // SAFETY: the guard is dropped before the descriptor it was made for (see Dest).
            let fd = unsafe { BorrowedFd::borrow_raw(self.fd) };
            // Nothing useful to do if this fails: the descriptor is going away with us.
            let _ = fcntl(fd, FcntlArg::F_SETFL(flags));
        }
    }
}
