//! Knowing, without a `stat()`, that a path still names the file it named when it was last checked.
//!
//! The HTTP open-file cache checks every path it serves before it answers from a cached
//! descriptor. A `stat()` per request does that, and on a small response it cost 15–20% of the
//! server's CPU (README, *Against the node:http floor*). Here the kernel says when to check
//! instead: an inotify watch on the file and on every directory from `/` down to it, and a path is
//! *trusted* from a check made after its watches were in place until an event touches the file or
//! one of the names the path goes through. Asking costs one `ioctl(FIONREAD)` on the inotify
//! descriptor (0 bytes queued when nothing happened), with no path walk; the events are read only
//! when there are some.
//!
//! Why this is as fresh as a `stat()` per request: the kernel queues an inotify event inside the
//! system call that makes the change (`rename`, `write`, `truncate`, `unlink`, `chmod`, `utimes`),
//! before that call returns. So a request that arrives after a change finds the change's event in
//! the queue when it asks, and the caller checks again with a `stat()`.
//!
//! What inotify does not report, and where a trusted path could then be served as it was: writes
//! through a shared `mmap()` of the file, changes made by another host on a network file system,
//! and a file system mounted over one of the directories: the caller's to document. Symlinks on the
//! way are followed as the kernel follows them, and the names they go through are watched too, so
//! a deploy that swaps a `current -> releases/N` link is seen like any other rename.
//!
//! Cheaper still, [`PathWatch::change_counter`] gives a word of memory that the kernel moves when
//! an event is queued (an io_uring poll on the inotify descriptor: see [`ChangeRing`]); while it
//! has not moved since a [`PathWatch::check`], that check's answer still holds, with no system
//! call at all.
//!
//! Linux only; elsewhere [`PathWatch::new`] fails with `ENOSYS` and the caller checks with `stat()`.
//!
//! [`ChangeRing`]: crate::change_ring::ChangeRing

#[cfg(target_os = "linux")]
pub use linux::PathWatch;

/// What [`PathWatch::check`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Check {
    /// Nothing touched the path since it was last trusted.
    pub trusted: bool,
    /// The change counter's value as of this check: while the counter still reads it, this answer
    /// holds. `None` when there is no counter, or it has stopped (then it must not be read again).
    pub counter: Option<u32>,
}

#[cfg(not(target_os = "linux"))]
pub use unsupported::PathWatch;

#[cfg(target_os = "linux")]
mod linux {
    use std::collections::{HashMap, HashSet, VecDeque};
    use std::ffi::{OsStr, OsString};
    use std::os::fd::{AsFd, AsRawFd};
    use std::path::{Component, Path, PathBuf};
    use std::sync::atomic::AtomicU32;

    use nix::errno::Errno;
    use nix::fcntl::readlink;
    use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, WatchDescriptor};
    use nix::sys::stat::{lstat, SFlag};

    use super::Check;
    use crate::change_ring::ChangeRing;

    /// A directory on the way: anything that can change what one of its names leads to, and the
    /// directory itself being moved, removed, or its permissions changed.
    fn directory_events() -> AddWatchFlags {
        AddWatchFlags::IN_ATTRIB
            | AddWatchFlags::IN_CREATE
            | AddWatchFlags::IN_DELETE
            | AddWatchFlags::IN_MODIFY
            | AddWatchFlags::IN_MOVED_FROM
            | AddWatchFlags::IN_MOVED_TO
            | AddWatchFlags::IN_DELETE_SELF
            | AddWatchFlags::IN_MOVE_SELF
            | AddWatchFlags::IN_ONLYDIR
            | AddWatchFlags::IN_DONT_FOLLOW
    }

    /// The file itself: its bytes and its metadata, whichever of its names (hard links) changed
    /// them.
    fn file_events() -> AddWatchFlags {
        AddWatchFlags::IN_ATTRIB
            | AddWatchFlags::IN_MODIFY
            | AddWatchFlags::IN_DELETE_SELF
            | AddWatchFlags::IN_MOVE_SELF
            | AddWatchFlags::IN_DONT_FOLLOW
    }

    /// One watched path: the watches it depends on, each with the name in that directory it goes
    /// through (`None` for the file's own watch: every event on it counts).
    struct Entry {
        depends_on: Vec<(WatchDescriptor, Option<OsString>)>,
        trusted: bool,
        /// A watch it depends on was removed by the kernel (the file system went away): never
        /// trusted again.
        broken: bool,
    }

    /// Watches on files and directories, shared by the paths that go through them.
    pub struct PathWatch {
        inotify: Inotify,
        counter: Counter,
        /// Paths using each watch; a watch with none is removed.
        users: HashMap<WatchDescriptor, HashSet<u32>>,
        entries: HashMap<u32, Entry>,
        next_id: u32,
    }

    /// The change counter, made on first request. A ring once handed out is never dropped before
    /// the watch (JavaScript reads its memory): when it stops, it is kept, unused.
    enum Counter {
        NotAsked,
        Live(ChangeRing),
        Stopped { _kept: Option<ChangeRing> },
    }

    impl PathWatch {
        pub fn new() -> Result<Self, Errno> {
            // Non-blocking: asking must never wait for an event.
            let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)?;
            Ok(Self {
                inotify,
                counter: Counter::NotAsked,
                users: HashMap::new(),
                entries: HashMap::new(),
                next_id: 0,
            })
        }

        /// Watches `path` (absolute and normalized) as the kernel resolves it: every directory
        /// from `/` down, symlinks followed (each link's directory too, and the names in its
        /// target), and the file it leads to. The path starts untrusted: the caller checks it (a
        /// `stat()`) and then calls [`trust`], so that a change made before the watches existed is
        /// seen by that check.
        ///
        /// [`trust`]: PathWatch::trust
        pub fn watch(&mut self, path: &Path) -> Result<u32, Errno> {
            let names = names_of(path)?;
            let id = self.new_id();
            let mut entry = Entry {
                depends_on: Vec::new(),
                trusted: false,
                broken: false,
            };
            if let Err(errno) = self.watch_resolution(id, names, &mut entry.depends_on) {
                // ENOENT/ENOTDIR: the path changed under us; ENOSPC: the user's watch limit
                // (fs.inotify.max_user_watches); ELOOP: a symlink loop. Either way the caller
                // keeps checking with stat().
                self.release(id, &entry.depends_on);
                return Err(errno);
            }
            self.entries.insert(id, entry);
            Ok(id)
        }

        /// Resolves `names` from `/` one name at a time, as path lookup does: each directory is
        /// watched *before* the name taken in it is read (`lstat`, and `readlink` for a symlink),
        /// so a change to that name after the read leaves an event, whichever link a deploy
        /// swaps (`ln -sfn releases/2 current`). The directories walked are real ones (no
        /// symlink in their path), so `..` in a link's target is their parent, as the kernel
        /// takes it.
        fn watch_resolution(
            &mut self,
            id: u32,
            names: Vec<OsString>,
            depends_on: &mut Vec<(WatchDescriptor, Option<OsString>)>,
        ) -> Result<(), Errno> {
            let mut directory = PathBuf::from("/");
            let mut pending = VecDeque::from(names);
            let mut links = 0;
            while let Some(name) = pending.pop_front() {
                if name == "." {
                    continue;
                }
                if name == ".." {
                    directory.pop();
                    continue;
                }
                self.add(
                    id,
                    &directory,
                    directory_events(),
                    Some(name.clone()),
                    depends_on,
                )?;
                let next = directory.join(&name);
                match SFlag::from_bits_truncate(lstat(&next)?.st_mode) & SFlag::S_IFMT {
                    SFlag::S_IFLNK => {
                        links += 1;
                        if links > MAX_SYMLINKS {
                            return Err(Errno::ELOOP);
                        }
                        let target = PathBuf::from(readlink(&next)?);
                        if target.is_absolute() {
                            directory = PathBuf::from("/");
                        }
                        for component in target.components().rev() {
                            match component {
                                Component::Normal(name) => pending.push_front(name.to_os_string()),
                                Component::ParentDir => pending.push_front("..".into()),
                                Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
                            }
                        }
                    }
                    SFlag::S_IFDIR => directory = next,
                    SFlag::S_IFREG if pending.is_empty() => {
                        return self.add(id, &next, file_events(), None, depends_on);
                    }
                    _ if pending.is_empty() => return Err(Errno::EINVAL),
                    _ => return Err(Errno::ENOTDIR),
                }
            }
            // The path names a directory.
            Err(Errno::EISDIR)
        }

        /// One watch for `id`, recorded with the name it is watched for (`None`: every event).
        fn add(
            &mut self,
            id: u32,
            watched: &Path,
            events: AddWatchFlags,
            name: Option<OsString>,
            depends_on: &mut Vec<(WatchDescriptor, Option<OsString>)>,
        ) -> Result<(), Errno> {
            let wd = self.inotify.add_watch(watched, events)?;
            self.users.entry(wd).or_default().insert(id);
            depends_on.push((wd, name));
            Ok(())
        }

        /// Whether `id`'s path is trusted after reading every event queued so far (an error
        /// reading the queue is answered "no": the caller checks with `stat()`), with the change
        /// counter's value this answer holds for (see [`change_counter`]).
        ///
        /// [`change_counter`]: PathWatch::change_counter
        pub fn check(&mut self, id: u32) -> Check {
            // The counter is read (and the poll re-armed) before the queue is: an event queued
            // after the read below finds the poll armed, and moves the counter past this value.
            let counter = match &mut self.counter {
                Counter::Live(ring) => {
                    let inotify = self.inotify.as_fd();
                    match ring
                        .settle()
                        .and_then(|value| ring.arm(inotify).map(|()| value))
                    {
                        Ok(value) => Some(value),
                        Err(_) => {
                            self.stop_counter();
                            None
                        }
                    }
                }
                _ => None,
            };
            if self.drain().is_err() {
                // Every path is distrusted, including those a reader of the counter still holds
                // a value for: the counter stops, so that they ask again.
                self.distrust_all();
                self.stop_counter();
                return Check {
                    trusted: false,
                    counter: None,
                };
            }
            Check {
                trusted: self.entries.get(&id).is_some_and(|entry| entry.trusted),
                counter,
            }
        }

        /// A word of memory that the kernel moves whenever an event may have been queued since the
        /// last [`check`]; `None` where io_uring is not available (or unusable: see
        /// [`ChangeRing::new`]). It stays readable as long as this watch lives; once a check
        /// answers `counter: None` the word must not be relied on again.
        ///
        /// [`check`]: PathWatch::check
        pub fn change_counter(&mut self) -> Option<*const AtomicU32> {
            if let Counter::NotAsked = self.counter {
                self.counter = match ChangeRing::new() {
                    Ok(ring) => Counter::Live(ring),
                    Err(_) => Counter::Stopped { _kept: None },
                };
            }
            match &self.counter {
                Counter::Live(ring) => Some(ring.counter()),
                _ => None,
            }
        }

        /// No more counter values are handed out, and the word moves once more so that none
        /// handed out before still matches it. The ring's memory stays mapped: JavaScript may
        /// still read it.
        pub(crate) fn stop_counter(&mut self) {
            self.counter = match std::mem::replace(&mut self.counter, Counter::NotAsked) {
                Counter::Live(mut ring) => {
                    ring.retire();
                    Counter::Stopped { _kept: Some(ring) }
                }
                other => other,
            };
        }

        /// Trusts `id`'s path: the caller has just checked it. Events queued since the last
        /// [`check`] stay queued, so a change after that point still withdraws the trust.
        /// Returns false for a path that can no longer be trusted (see [`Entry::broken`]).
        ///
        /// [`check`]: PathWatch::check
        pub fn trust(&mut self, id: u32) -> bool {
            match self.entries.get_mut(&id) {
                Some(entry) if !entry.broken => {
                    entry.trusted = true;
                    true
                }
                _ => false,
            }
        }

        /// Stops watching `id`'s path; watches no other path uses are removed.
        pub fn unwatch(&mut self, id: u32) {
            if let Some(entry) = self.entries.remove(&id) {
                self.release(id, &entry.depends_on);
            }
        }

        /// Whether no path is watched (for tests).
        pub fn is_empty(&self) -> bool {
            self.entries.is_empty()
        }

        /// How many kernel watches the paths hold between them (for tests).
        pub fn watch_count(&self) -> usize {
            self.users.len()
        }

        fn new_id(&mut self) -> u32 {
            // Ids go to JavaScript as non-negative i32s.
            loop {
                let id = self.next_id;
                self.next_id = if id >= i32::MAX as u32 { 0 } else { id + 1 };
                if !self.entries.contains_key(&id) {
                    return id;
                }
            }
        }

        fn release(&mut self, id: u32, depends_on: &[(WatchDescriptor, Option<OsString>)]) {
            for (wd, _) in depends_on {
                let Some(users) = self.users.get_mut(wd) else {
                    continue;
                };
                users.remove(&id);
                if users.is_empty() {
                    self.users.remove(wd);
                    // EINVAL: the kernel already removed it (its IN_IGNORED is queued, and
                    // ignored as a watch nobody uses).
                    let _ = self.inotify.rm_watch(*wd);
                }
            }
        }

        /// Reads the queue until it is empty, withdrawing trust from the paths each event touches.
        fn drain(&mut self) -> Result<(), Errno> {
            // Asking how many bytes are queued costs a third of a read that finds none (a read
            // puts itself on the queue's wait list and takes it off again): 0 is the common case.
            if self.queued_bytes()? == 0 {
                return Ok(());
            }
            loop {
                match self.inotify.read_events() {
                    Ok(events) => {
                        for event in events {
                            self.apply(event.wd, event.mask, event.name.as_deref());
                        }
                    }
                    // Everything queued has been read.
                    Err(Errno::EAGAIN) => return Ok(()),
                    Err(Errno::EINTR) => continue,
                    Err(errno) => return Err(errno),
                }
            }
        }

        fn queued_bytes(&self) -> Result<libc::c_int, Errno> {
            let mut queued: libc::c_int = 0;
            // SAFETY: FIONREAD writes one int through the pointer; the descriptor is ours.
            let result = unsafe {
                libc::ioctl(
                    self.inotify.as_fd().as_raw_fd(),
                    libc::FIONREAD,
                    &mut queued,
                )
            };
            Errno::result(result).map(|_| queued)
        }

        fn apply(&mut self, wd: WatchDescriptor, mask: AddWatchFlags, name: Option<&OsStr>) {
            if mask.contains(AddWatchFlags::IN_Q_OVERFLOW) {
                // Events were lost: any path may have changed.
                return self.distrust_all();
            }
            let Some(users) = self.users.get(&wd) else {
                // A watch removed by `release`, whose last events were still queued.
                return;
            };
            let gone = mask.contains(AddWatchFlags::IN_IGNORED);
            for id in users {
                let Some(entry) = self.entries.get_mut(id) else {
                    continue;
                };
                // An event about the watched object itself, or about the one name this path goes
                // through; the other names of a directory (a busy /tmp) do not matter to it.
                let touches = name.is_none()
                    || entry.depends_on.iter().any(|(w, through)| {
                        *w == wd && through.as_deref().is_none_or(|n| Some(n) == name)
                    });
                if touches || gone {
                    entry.trusted = false;
                    entry.broken |= gone;
                }
            }
            if gone {
                self.users.remove(&wd);
            }
        }

        fn distrust_all(&mut self) {
            for entry in self.entries.values_mut() {
                entry.trusted = false;
            }
        }
    }

    /// Symlinks followed in one path before giving up, as the kernel's limit (`ELOOP`).
    const MAX_SYMLINKS: usize = 40;

    /// The names of an absolute, normalized path, from `/` down.
    fn names_of(path: &Path) -> Result<Vec<OsString>, Errno> {
        let mut names = Vec::new();
        let mut absolute = false;
        for component in path.components() {
            match component {
                Component::RootDir => absolute = true,
                // A relative path: what it names depends on the working directory.
                Component::Normal(_) if !absolute => return Err(Errno::EINVAL),
                Component::Normal(name) => names.push(name.to_os_string()),
                // The caller's path is the cache's key: `..` and `.` would make two keys of one file.
                _ => return Err(Errno::EINVAL),
            }
        }
        if names.is_empty() {
            return Err(Errno::EINVAL);
        }
        Ok(names)
    }
}

// Compiled on Linux too, for its test: no other target's toolchain runs here.
#[cfg(any(not(target_os = "linux"), test))]
mod unsupported {
    use std::path::Path;
    use std::sync::atomic::AtomicU32;

    use nix::errno::Errno;

    use super::Check;

    /// No inotify here: every path is checked with `stat()` by the caller.
    pub struct PathWatch;

    impl PathWatch {
        pub fn new() -> Result<Self, Errno> {
            Err(Errno::ENOSYS)
        }
        pub fn watch(&mut self, _path: &Path) -> Result<u32, Errno> {
            Err(Errno::ENOSYS)
        }
        pub fn check(&mut self, _id: u32) -> Check {
            Check {
                trusted: false,
                counter: None,
            }
        }
        pub fn change_counter(&mut self) -> Option<*const AtomicU32> {
            None
        }
        pub fn trust(&mut self, _id: u32) -> bool {
            false
        }
        pub fn unwatch(&mut self, _id: u32) {}
        pub fn is_empty(&self) -> bool {
            true
        }
        pub fn watch_count(&self) -> usize {
            0
        }
    }

    #[cfg(test)]
    mod tests {
        use std::path::Path;

        use nix::errno::Errno;

        use super::PathWatch;

        #[test]
        fn without_inotify_nothing_is_ever_trusted() {
            assert!(matches!(PathWatch::new(), Err(Errno::ENOSYS)));
            let mut watch = PathWatch;
            assert_eq!(watch.watch(Path::new("/")), Err(Errno::ENOSYS));
            assert!(!watch.trust(0));
            let check = watch.check(0);
            assert!(!check.trusted && check.counter.is_none());
            assert!(watch.change_counter().is_none());
            watch.unwatch(0);
            assert!(watch.is_empty());
            assert_eq!(watch.watch_count(), 0);
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::fs;
    use std::os::unix::fs::PermissionsExt;
    use std::path::PathBuf;
    use std::sync::atomic::Ordering;

    use super::PathWatch;
    use crate::change_ring::expect_io_uring_off;

    fn folder(name: &str) -> PathBuf {
        let dir = crate::test_dir::fresh_dir(&format!("path-watch-{name}"));
        fs::create_dir_all(dir.join("site")).unwrap();
        fs::write(dir.join("site/page.html"), b"one").unwrap();
        fs::write(dir.join("site/other.html"), b"other").unwrap();
        dir
    }

    /// A named way to change `site/page.html` or a folder on its way.
    type Change<'a> = Box<dyn Fn() + 'a>;

    /// `path` watched and trusted.
    fn trusted(watch: &mut PathWatch, path: &std::path::Path) -> u32 {
        let id = watch.watch(path).unwrap();
        assert!(!watch.check(id).trusted, "a new path starts untrusted");
        assert!(watch.trust(id));
        assert!(watch.check(id).trusted);
        id
    }

    #[test]
    fn a_stopped_counter_matches_no_value_handed_out_before() {
        let dir = folder("counter-stop");
        let mut watch = PathWatch::new().unwrap();
        let Some(counter) = watch.change_counter() else {
            return expect_io_uring_off("no change counter");
        };
        let id = trusted(&mut watch, &dir.join("site/page.html"));
        let held = watch
            .check(id)
            .counter
            .expect("a live counter hands out values");
        // What a failed poll or an unreadable queue does; another reader still holds `held`.
        watch.stop_counter();
        // SAFETY: the counter stays mapped as long as `watch` lives, stopped or not.
        assert_ne!(unsafe { (*counter).load(Ordering::Acquire) }, held);
        let after = watch.check(id);
        assert!(
            after.trusted,
            "nothing changed: the path itself stays trusted"
        );
        assert_eq!(
            after.counter, None,
            "a stopped counter hands out no more values"
        );
        assert_eq!(watch.change_counter(), None);
    }

    #[test]
    fn the_change_counter_moves_before_a_change_made_elsewhere_can_be_learned_of() {
        let dir = folder("counter");
        let mut watch = PathWatch::new().unwrap();
        let Some(counter) = watch.change_counter() else {
            return expect_io_uring_off("no change counter (PathWatch asks with ioctl())");
        };
        // SAFETY: the counter lives as long as `watch`.
        let read = || unsafe { (*counter).load(Ordering::Acquire) };
        let page = dir.join("site/page.html");
        let mut id = trusted(&mut watch, &page);
        let changes: Vec<(&str, Change)> = vec![
            // Learned of through the child's exit (`waitpid`).
            (
                "another process rewrites it",
                Box::new(|| {
                    let status = std::process::Command::new("sh")
                        .arg("-c")
                        .arg(format!("printf two > '{}'", page.display()))
                        .status()
                        .unwrap();
                    assert!(status.success());
                }),
            ),
            // Learned of through the thread's exit (`join`, a futex).
            (
                "another thread renames over it",
                Box::new(|| {
                    let (dir, page) = (dir.clone(), page.clone());
                    std::thread::spawn(move || {
                        fs::write(dir.join("site/next.tmp"), b"three").unwrap();
                        fs::rename(dir.join("site/next.tmp"), page).unwrap();
                    })
                    .join()
                    .unwrap();
                }),
            ),
            // Known as soon as `write` returns.
            (
                "this thread rewrites it",
                Box::new(|| fs::write(&page, b"four").unwrap()),
            ),
        ];
        for (name, change) in changes {
            let check = watch.check(id);
            assert!(check.trusted, "{name}: trusted before");
            let before = check.counter.expect("a live counter has a value");
            change();
            assert_ne!(read(), before, "{name}: the counter moved");
            let check = watch.check(id);
            assert!(
                !check.trusted,
                "{name}: the check that follows finds the change"
            );
            assert!(check.counter.is_some(), "{name}: the counter is still live");
            // As the open-file cache does: the path is opened and watched afresh.
            watch.unwatch(id);
            id = trusted(&mut watch, &page);
        }
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_change_to_the_file_or_a_name_on_its_way_withdraws_trust() {
        let dir = folder("changes");
        let mut watch = PathWatch::new().unwrap();
        let changes: Vec<(&str, Change)> = vec![
            (
                "rewrite",
                Box::new(|| fs::write(dir.join("site/page.html"), b"two").unwrap()),
            ),
            (
                "chmod",
                Box::new(|| {
                    fs::set_permissions(
                        dir.join("site/page.html"),
                        fs::Permissions::from_mode(0o600),
                    )
                    .unwrap()
                }),
            ),
            (
                "rename over",
                Box::new(|| {
                    fs::write(dir.join("site/next.tmp"), b"three").unwrap();
                    fs::rename(dir.join("site/next.tmp"), dir.join("site/page.html")).unwrap();
                }),
            ),
            (
                "folder moved away and back",
                Box::new(|| {
                    fs::rename(dir.join("site"), dir.join("old")).unwrap();
                    fs::rename(dir.join("old"), dir.join("site")).unwrap();
                }),
            ),
            // Another name of the same file, outside every folder watched for this path.
            (
                "write through a hard link",
                Box::new(|| fs::write(dir.join("link"), b"four").unwrap()),
            ),
        ];
        for (what, change) in &changes {
            let _ = fs::remove_file(dir.join("link"));
            fs::hard_link(dir.join("site/page.html"), dir.join("link")).unwrap();
            let id = trusted(&mut watch, &dir.join("site/page.html"));
            change();
            assert!(!watch.check(id).trusted, "{what}");
            watch.unwatch(id);
        }
        assert!(watch.is_empty());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn other_names_in_the_same_folders_leave_trust_alone() {
        let dir = folder("others");
        let mut watch = PathWatch::new().unwrap();
        let id = trusted(&mut watch, &dir.join("site/page.html"));
        fs::write(dir.join("site/other.html"), b"changed").unwrap();
        fs::write(dir.join("site/new.html"), b"new").unwrap();
        fs::remove_file(dir.join("site/new.html")).unwrap();
        fs::write(dir.join("sibling"), b"x").unwrap();
        assert!(watch.check(id).trusted);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn removing_the_file_withdraws_trust_for_good_and_unwatching_frees_the_watches() {
        let dir = folder("remove");
        let mut watch = PathWatch::new().unwrap();
        let id = trusted(&mut watch, &dir.join("site/page.html"));
        let shared = watch.watch(&dir.join("site/other.html")).unwrap();
        fs::remove_file(dir.join("site/page.html")).unwrap();
        assert!(!watch.check(id).trusted);
        watch.unwatch(id);
        // The folder watches the two paths shared are still there for the other one.
        assert!(watch.trust(shared));
        assert!(watch.check(shared).trusted);
        watch.unwatch(shared);
        assert!(watch.is_empty());
        assert!(watch.watch_count() == 0, "every watch removed");
        fs::remove_dir_all(&dir).unwrap();
    }

    /// `dir/releases/{1,2}/page.html`, and `dir/current -> releases/1` (relative).
    fn releases(name: &str) -> PathBuf {
        let dir = folder(name);
        for release in ["1", "2"] {
            fs::create_dir_all(dir.join("releases").join(release)).unwrap();
            fs::write(
                dir.join("releases").join(release).join("page.html"),
                release,
            )
            .unwrap();
        }
        std::os::unix::fs::symlink("releases/1", dir.join("current")).unwrap();
        dir
    }

    #[test]
    fn a_symlink_on_the_way_is_followed_and_swapping_it_withdraws_trust() {
        let dir = releases("links");
        let mut watch = PathWatch::new().unwrap();
        let page = dir.join("current/page.html");
        let changes: Vec<(&str, Change)> = vec![
            (
                "the link swapped (ln -sfn: a new link renamed over it)",
                Box::new(|| {
                    std::os::unix::fs::symlink("releases/2", dir.join("current.tmp")).unwrap();
                    fs::rename(dir.join("current.tmp"), dir.join("current")).unwrap();
                }),
            ),
            (
                "the file it leads to rewritten",
                Box::new(|| fs::write(dir.join("releases/1/page.html"), b"1b").unwrap()),
            ),
            (
                "a file renamed over the one it leads to",
                Box::new(|| {
                    fs::write(dir.join("releases/1/next.tmp"), b"1c").unwrap();
                    fs::rename(
                        dir.join("releases/1/next.tmp"),
                        dir.join("releases/1/page.html"),
                    )
                    .unwrap();
                }),
            ),
            (
                "the folder it points to renamed away",
                Box::new(|| fs::rename(dir.join("releases/1"), dir.join("releases/old")).unwrap()),
            ),
        ];
        for (what, change) in &changes {
            let _ = fs::remove_file(dir.join("current"));
            let _ = fs::remove_dir_all(dir.join("releases/1"));
            let _ = fs::remove_dir_all(dir.join("releases/old"));
            fs::create_dir_all(dir.join("releases/1")).unwrap();
            fs::write(dir.join("releases/1/page.html"), b"1").unwrap();
            std::os::unix::fs::symlink("releases/1", dir.join("current")).unwrap();
            let id = trusted(&mut watch, &page);
            // What the link does not lead to does not matter.
            fs::write(dir.join("releases/2/page.html"), b"2b").unwrap();
            assert!(
                watch.check(id).trusted,
                "{what}: a release the link does not point to"
            );
            change();
            assert!(!watch.check(id).trusted, "{what}");
            watch.unwatch(id);
        }
        assert!(watch.is_empty());
        assert!(watch.watch_count() == 0);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn chains_absolute_targets_and_dot_dot_in_a_target_resolve_as_the_kernel_does() {
        let dir = releases("chain");
        let mut watch = PathWatch::new().unwrap();
        // a -> b (relative), b -> /…/releases/2/../1 (absolute, with `..`).
        std::os::unix::fs::symlink("b", dir.join("a")).unwrap();
        std::os::unix::fs::symlink(dir.join("releases/2/../1"), dir.join("b")).unwrap();
        let id = trusted(&mut watch, &dir.join("a/page.html"));
        fs::write(dir.join("releases/2/page.html"), b"2b").unwrap();
        assert!(
            watch.check(id).trusted,
            "releases/2 is passed through, not a name of the path"
        );
        fs::write(dir.join("releases/1/page.html"), b"1b").unwrap();
        assert!(!watch.check(id).trusted, "the file at the end of the chain");
        watch.unwatch(id);
        let id = trusted(&mut watch, &dir.join("a/page.html"));
        fs::remove_file(dir.join("b")).unwrap();
        std::os::unix::fs::symlink("releases/2", dir.join("b")).unwrap();
        assert!(
            !watch.check(id).trusted,
            "the second link of the chain replaced"
        );
        watch.unwatch(id);
        // A loop ends as the kernel ends it.
        std::os::unix::fs::symlink("loop", dir.join("loop")).unwrap();
        assert_eq!(
            watch.watch(&dir.join("loop/page.html")).err(),
            Some(nix::errno::Errno::ELOOP)
        );
        assert_eq!(
            watch.watch(&dir.join("releases")).err(),
            Some(nix::errno::Errno::EISDIR)
        );
        assert!(watch.is_empty());
        assert!(watch.watch_count() == 0, "failed watches leave none behind");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn paths_that_cannot_be_watched_say_why() {
        let dir = folder("refused");
        let mut watch = PathWatch::new().unwrap();
        assert_eq!(
            watch
                .watch(std::path::Path::new("relative/page.html"))
                .err(),
            Some(nix::errno::Errno::EINVAL)
        );
        assert_eq!(
            watch.watch(&dir.join("site/../site/page.html")).err(),
            Some(nix::errno::Errno::EINVAL)
        );
        assert_eq!(
            watch.watch(&dir.join("site/missing.html")).err(),
            Some(nix::errno::Errno::ENOENT)
        );
        assert!(watch.is_empty());
        assert!(
            watch.watch_count() == 0,
            "a failed watch leaves no watch behind"
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
