//! Opening a file so that its path cannot lead out of a folder, in one system call.
//!
//! The HTTP open-file cache refuses files whose real path leaves the served root (a symlink out of
//! it). Opening the path and then reading where the descriptor really is (`/proc/self/fd/N`)
//! leaves a window between the two: a root that is itself a symlink a deploy repoints
//! (`current -> releases/N`) can move and move back in between, and a file reached through one
//! release is then checked against the other. Here the root is opened first, once, and the rest
//! of the path is resolved beneath the folder it led to (`openat2` with `RESOLVE_BENEATH`): no
//! `..`, relative symlink or repointed link can take the resolution out of it, and there is
//! nothing left to check afterwards.
//!
//! `RESOLVE_BENEATH` refuses every absolute symlink with `EXDEV`, even one that leads back inside
//! the root, and the caller then falls back to the open-and-check. Linux 5.6 and later; elsewhere,
//! and where a seccomp filter refuses the call, `ENOSYS`.

use std::os::fd::OwnedFd;
use std::path::Path;

use nix::errno::Errno;

/// Opens `relative` (no leading `/`) beneath the folder `root` leads to now, read-only and
/// non-blocking (a FIFO must not block the event loop), close-on-exec.
#[cfg(target_os = "linux")]
pub fn open_beneath(root: &Path, relative: &Path) -> Result<OwnedFd, Errno> {
    use nix::fcntl::{open, openat2, OFlag, OpenHow, ResolveFlag};
    use nix::sys::stat::Mode;

    // O_PATH: the folder is only a starting point, so no read permission on it is needed beyond
    // what the lookup itself needs (as for a plain open of the whole path).
    let dir = open(
        root,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    let how = OpenHow::new()
        .flags(OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    let mut races = 0;
    loop {
        match openat2(&dir, relative, how) {
            // A signal during a slow open (a network file system): ask again.
            Err(Errno::EINTR) => continue,
            // A rename elsewhere while a `..` was resolved: the kernel could not prove the walk
            // stayed beneath, and says so rather than guess. Rare; asked again a few times.
            Err(Errno::EAGAIN) if races < 3 => races += 1,
            // ENOSYS (before 5.6) and EPERM (a seccomp filter that does not know the call, as
            // older container runtimes have) say nothing about the file: the caller checks the
            // old way. Anything else is the file's answer.
            result => return result,
        }
    }
}

#[cfg(not(target_os = "linux"))]
pub fn open_beneath(_root: &Path, _relative: &Path) -> Result<OwnedFd, Errno> {
    Err(Errno::ENOSYS)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::fs;
    use std::io::Read;
    use std::os::unix::fs::symlink;
    use std::path::{Path, PathBuf};

    use nix::errno::Errno;

    use super::open_beneath;

    fn site(name: &str) -> PathBuf {
        let dir = crate::test_dir::fresh_dir(&format!("beneath-{name}"));
        fs::create_dir_all(dir.join("root/docs")).unwrap();
        fs::write(dir.join("root/docs/page.txt"), b"inside").unwrap();
        fs::write(dir.join("secret.txt"), b"outside").unwrap();
        dir
    }

    fn read(root: &Path, relative: &str) -> Result<String, Errno> {
        let mut text = String::new();
        fs::File::from(open_beneath(root, Path::new(relative))?)
            .read_to_string(&mut text)
            .unwrap();
        Ok(text)
    }

    #[test]
    fn inside_is_opened_and_every_way_out_is_refused() {
        let dir = site("ways");
        let root = dir.join("root");
        symlink("docs/page.txt", root.join("relative-in")).unwrap();
        symlink("../secret.txt", root.join("relative-out")).unwrap();
        symlink(dir.join("secret.txt"), root.join("absolute-out")).unwrap();
        symlink(root.join("docs/page.txt"), root.join("absolute-in")).unwrap();
        assert_eq!(read(&root, "docs/page.txt").as_deref(), Ok("inside"));
        assert_eq!(
            read(&root, "docs/../docs/page.txt").as_deref(),
            Ok("inside")
        );
        assert_eq!(read(&root, "relative-in").as_deref(), Ok("inside"));
        assert_eq!(read(&root, "../secret.txt"), Err(Errno::EXDEV));
        assert_eq!(read(&root, "relative-out"), Err(Errno::EXDEV));
        assert_eq!(read(&root, "absolute-out"), Err(Errno::EXDEV));
        // Inside, but absolute: the caller's open-and-check decides.
        assert_eq!(read(&root, "absolute-in"), Err(Errno::EXDEV));
        assert_eq!(read(&root, "docs/missing.txt"), Err(Errno::ENOENT));
        assert_eq!(read(&root, "docs/page.txt/x"), Err(Errno::ENOTDIR));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_root_that_is_a_symlink_is_followed_once_and_the_rest_stays_in_the_release_it_led_to() {
        let dir = site("releases");
        fs::create_dir_all(dir.join("releases/1")).unwrap();
        fs::create_dir_all(dir.join("releases/2")).unwrap();
        fs::write(dir.join("releases/1/page.txt"), b"one").unwrap();
        // A link planted in release 2 that leads into release 1.
        symlink("../1/page.txt", dir.join("releases/2/page.txt")).unwrap();
        symlink("releases/1", dir.join("current")).unwrap();
        let current = dir.join("current");
        assert_eq!(read(&current, "page.txt").as_deref(), Ok("one"));
        fs::remove_file(&current).unwrap();
        symlink("releases/2", &current).unwrap();
        assert_eq!(read(&current, "page.txt"), Err(Errno::EXDEV));
        fs::remove_dir_all(&dir).unwrap();
    }
}
