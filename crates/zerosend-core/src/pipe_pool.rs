//! A pool of empty pipes for splice(2), which needs one between any two ends.
//!
//! Creating a pipe and resizing it costs two or three system calls; a pool makes that a one-time
//! cost. A pipe goes back only when it is empty (its owner counts every byte in and out): a pipe
//! still holding bytes would hand them to the next, unrelated transfer.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Mutex;

use nix::fcntl::{fcntl, FcntlArg, OFlag};

/// What we ask the kernel for. Larger pipes mean fewer calls per byte; Linux refuses above
/// `/proc/sys/fs/pipe-max-size` (1 MiB by default) and then we keep the default 64 KiB.
const PIPE_BYTES: i32 = 1024 * 1024;
/// The kernel's default capacity, kept when resizing is refused.
const DEFAULT_PIPE_BYTES: usize = 64 * 1024;
/// Idle pipes kept beyond this are closed: 64 idle pipes cost 128 descriptors and no memory.
const MAX_IDLE: usize = 64;

static IDLE: Mutex<Vec<Pipe>> = Mutex::new(Vec::new());

pub struct Pipe {
    read: OwnedFd,
    write: OwnedFd,
    capacity: usize,
}

impl Pipe {
    pub fn read_end(&self) -> BorrowedFd<'_> {
        self.read.as_fd()
    }

    pub fn write_end(&self) -> BorrowedFd<'_> {
        self.write.as_fd()
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

/// An empty pipe: an idle one, or a new one.
pub fn take() -> nix::Result<Pipe> {
    if let Some(pipe) = idle().pop() {
        return Ok(pipe);
    }
    // Both ends non-blocking: a full or empty pipe must say EAGAIN, never park a runtime thread.
    let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK)?;
    let capacity = grow(&write);
    Ok(Pipe {
        read,
        write,
        capacity,
    })
}

/// Returns a pipe its owner has emptied. The owner must not call this with bytes still inside.
pub fn give_back(pipe: Pipe) {
    let mut idle = idle();
    if idle.len() < MAX_IDLE {
        idle.push(pipe);
    }
}

/// How many empty pipes the pool holds (each is two descriptors): lets a caller that counts its
/// open descriptors tell pooled pipes from leaked ones.
pub fn idle_count() -> usize {
    idle().len()
}

fn idle() -> std::sync::MutexGuard<'static, Vec<Pipe>> {
    // A panic while holding the lock cannot leave the Vec inconsistent: keep using it.
    IDLE.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn grow(write: &OwnedFd) -> usize {
    // EPERM (over the per-user pipe budget) or EINVAL: quietly keep the default size.
    match fcntl(write.as_fd(), FcntlArg::F_SETPIPE_SZ(PIPE_BYTES)) {
        Ok(size) => size as usize,
        Err(_) => DEFAULT_PIPE_BYTES,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipes_are_reused_and_sized() {
        let pipe = take().unwrap();
        assert!(pipe.capacity() >= DEFAULT_PIPE_BYTES);
        let raw = std::os::fd::AsRawFd::as_raw_fd(&pipe.read);
        give_back(pipe);
        let again = take().unwrap();
        assert_eq!(std::os::fd::AsRawFd::as_raw_fd(&again.read), raw);
        give_back(again);
    }
}
