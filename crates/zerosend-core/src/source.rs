//! The source: our own descriptor of a regular file, its size, and the byte range to send.

use std::os::fd::{BorrowedFd, RawFd};
use std::path::Path;

use nix::errno::Errno;
use nix::sys::stat::{fstat, SFlag};

use crate::error::Failure;
use crate::fd::{dup_cloexec, open_read_only, Descriptor};

pub struct Source {
    fd: Descriptor,
    size: u64,
}

impl Source {
    pub fn open(path: &Path) -> Result<Self, Failure> {
        Self::from_descriptor(Descriptor::Owned(open_read_only(path)?))
    }

    /// Works on a `dup()` and reads only at explicit offsets, so the caller's descriptor stays
    /// open and its file position untouched.
    pub fn from_raw(raw: RawFd) -> Result<Self, Failure> {
        Self::from_descriptor(Descriptor::Owned(dup_cloexec(raw)?))
    }

    /// Reads from the caller's own number, for a synchronous first attempt only.
    pub fn borrow_raw(raw: RawFd) -> Result<Self, Failure> {
        Self::from_descriptor(Descriptor::borrowed(raw)?)
    }

    /// Replaces a borrowed number by our own dup.
    pub fn own(&mut self) -> Result<(), Failure> {
        self.fd.own()
    }

    fn from_descriptor(fd: Descriptor) -> Result<Self, Failure> {
        let stat = fstat(fd.fd()).map_err(|e| Failure::os(e, "fstat"))?;
        let size = match SFlag::from_bits_truncate(stat.st_mode & SFlag::S_IFMT.bits()) {
            SFlag::S_IFREG => stat.st_size as u64,
            // Node reports reading a directory as EISDIR, with the syscall that found out.
            SFlag::S_IFDIR => return Err(Failure::os(Errno::EISDIR, "read")),
            SFlag::S_IFSOCK => return Err(Failure::NotAFile { kind: "socket" }),
            SFlag::S_IFIFO => return Err(Failure::NotAFile { kind: "pipe" }),
            SFlag::S_IFCHR => {
                return Err(Failure::NotAFile {
                    kind: "character device",
                })
            }
            SFlag::S_IFBLK => {
                return Err(Failure::NotAFile {
                    kind: "block device",
                })
            }
            _ => {
                return Err(Failure::NotAFile {
                    kind: "special file",
                })
            }
        };
        Ok(Source { fd, size })
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// The size now, which may differ from [`Source::size`] if the file changed meanwhile.
    pub fn current_size(&self) -> Result<u64, Failure> {
        let stat = fstat(self.fd.fd()).map_err(|e| Failure::os(e, "fstat"))?;
        Ok(stat.st_size as u64)
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.fd()
    }
}

/// The bytes `[offset, offset + length)` of a file of `size` bytes, checked the way the API
/// promises: an offset past the end is out of range; a length that reaches past the end is a
/// short file (the caller asked for bytes the file does not have).
pub fn resolve_range(size: u64, offset: u64, length: Option<u64>) -> Result<u64, Failure> {
    if offset > size {
        return Err(Failure::OutOfRange {
            what: "offset",
            value: offset,
            max: size,
        });
    }
    let available = size - offset;
    match length {
        None => Ok(available),
        Some(length) if length <= available => Ok(length),
        Some(length) => Err(Failure::ShortFile {
            expected_end: offset.saturating_add(length),
            reached: size,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(resolve_range(10, 0, None), Ok(10));
        assert_eq!(resolve_range(10, 10, None), Ok(0));
        assert_eq!(resolve_range(10, 4, Some(6)), Ok(6));
        assert_eq!(resolve_range(0, 0, Some(0)), Ok(0));
        assert_eq!(
            resolve_range(10, 11, None).unwrap_err().code(),
            "ERR_OUT_OF_RANGE"
        );
        assert_eq!(
            resolve_range(10, 4, Some(7)).unwrap_err().code(),
            "ERR_ZEROSEND_SHORT_FILE"
        );
        assert_eq!(
            resolve_range(u64::MAX, u64::MAX - 1, Some(u64::MAX)).unwrap_err(),
            Failure::ShortFile {
                expected_end: u64::MAX,
                reached: u64::MAX
            }
        );
        // past 4 GiB
        assert_eq!(
            resolve_range(5 << 30, (4 << 30) + 1, None),
            Ok((1 << 30) - 1)
        );
    }
}
