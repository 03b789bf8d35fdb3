//! The BSD sendfile logic, driven through a real [`Transfer`] on Linux by fakes of the macOS and
//! FreeBSD calls. The fakes move real bytes: they `pread` the real file and `write` them to a real
//! socket, and then answer in their kernel's shape as its manual says (FreeBSD and macOS
//! sendfile(2)): the header first, `len` in/out with the header counted (macOS) or `nbytes` for
//! the file and `sbytes` for everything (FreeBSD), bytes reported together with `EAGAIN`, `EINTR`
//! and `EBUSY`, success with nothing sent at or past the end of the file. What the peer receives
//! is then compared byte for byte with the prefix and the file.
//!
//! A script of [`Event`]s says where a call stops; after the script, calls run unhindered.
//!
//! The property test prints its seed; rerun it with
//! `ZEROSEND_PROPTEST_SEED=<seed> cargo test -p zerosend-core --lib bsd_sendfile`.

use std::collections::VecDeque;
use std::io::Read;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use nix::errno::Errno;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

use super::SF_NODISKIO;
use super::{BsdCall, BsdSendfileEngine, Darwin, DarwinSendfile, FreeBsd, FreeBsdSendfile};
use crate::engine::Engine;
use crate::error::Failure;
use crate::limits::STEP_BYTES;
use crate::method::Method;
use crate::transfer::{Choice, Progress, Request, SourceSpec, Transfer};

// ---------------------------------------------------------------- the fake kernels

/// Where one call stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Event {
    /// The socket takes this many more bytes and is then full: `EAGAIN`, with the count.
    Room(usize),
    /// A signal arrives after this many bytes: `EINTR`, with the count.
    Signal(usize),
    /// FreeBSD: a busy page after this many bytes: `EBUSY` with the count under `SF_NODISKIO`;
    /// without the flag the kernel would sleep, which the fake records as a violation.
    BusyPage(usize),
    /// The call fails with this errno before sending anything.
    Fail(Errno),
    /// After this many bytes the peer is gone: this errno, now and on every later call.
    Broken(usize, Errno),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kernel {
    Darwin,
    FreeBsd,
}

/// One call as the fake saw it, in its kernel's own terms.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Call {
    offset: i64,
    header_len: usize,
    /// macOS: `len` in (header included). FreeBSD: `nbytes` (file only).
    count: i64,
    flags: i32,
    /// Every byte the call wrote, header included.
    sent: u64,
    result: Result<(), Errno>,
}

#[derive(Debug, Default)]
struct FakeState {
    script: VecDeque<Event>,
    broken: Option<Errno>,
    calls: Vec<Call>,
    violations: Vec<String>,
}

/// The behaviour both kernels share; the two shapes below only read and write their arguments.
#[derive(Debug, Clone, Default)]
struct Fake(Arc<Mutex<FakeState>>);

impl Fake {
    fn scripted(events: &[Event]) -> Self {
        let fake = Fake::default();
        fake.state().script = events.iter().copied().collect();
        fake
    }

    fn state(&self) -> std::sync::MutexGuard<'_, FakeState> {
        self.0.lock().unwrap()
    }

    fn calls(&self) -> Vec<Call> {
        self.state().calls.clone()
    }

    /// Writes `header`, then file bytes from `offset` up to `file_limit` (`None`: to the end of
    /// the file), both cut short where this call's event says. Returns the bytes sent and the
    /// call's result.
    fn run(
        &self,
        fd: BorrowedFd<'_>,
        s: BorrowedFd<'_>,
        offset: i64,
        header: &[u8],
        file_limit: Option<u64>,
        flags: i32,
    ) -> (u64, Result<(), Errno>) {
        let mut state = self.state();
        if let Some(errno) = state.broken {
            return (0, Err(errno));
        }
        if offset < 0 {
            return (0, Err(Errno::EINVAL));
        }
        let event = state.script.pop_front();
        let (room, stop) = match event {
            None => (u64::MAX, None),
            Some(Event::Fail(errno)) => return (0, Err(errno)),
            Some(Event::Room(n)) => (n as u64, Some(Errno::EAGAIN)),
            Some(Event::Signal(n)) => (n as u64, Some(Errno::EINTR)),
            Some(Event::BusyPage(n)) if flags & SF_NODISKIO == 0 => {
                state.violations.push(format!(
                    "a busy page at offset {offset} without SF_NODISKIO: the kernel would sleep"
                ));
                (n as u64, None)
            }
            Some(Event::BusyPage(n)) => (n as u64, Some(Errno::EBUSY)),
            Some(Event::Broken(n, errno)) => {
                state.broken = Some(errno);
                (n as u64, Some(errno))
            }
        };
        let file_size = nix::sys::stat::fstat(fd).unwrap().st_size as u64;
        let file_owed = file_size
            .saturating_sub(offset as u64)
            .min(file_limit.unwrap_or(u64::MAX));
        let asked = header.len() as u64 + file_owed;
        let mut sent = write_all_up_to(s, header, room);
        if sent == header.len() as u64 {
            sent += copy_file_up_to(fd, s, offset as u64, file_owed, room - sent);
        }
        let result = if sent == asked {
            Ok(())
        } else {
            Err(stop.expect("an unhindered call sends all it is asked for"))
        };
        (sent, result)
    }

    fn record(&self, call: Call) {
        self.state().calls.push(call);
    }
}

/// macOS: `len` in is the most header + file bytes (0: all of both); out, every byte sent.
struct DarwinFake(Fake);

impl DarwinSendfile for DarwinFake {
    fn sendfile(
        &mut self,
        fd: BorrowedFd<'_>,
        s: BorrowedFd<'_>,
        offset: i64,
        len: &mut i64,
        header: &[u8],
    ) -> Result<(), Errno> {
        let count = *len;
        let (header, file_limit) = match u64::try_from(count) {
            Err(_) => return Err(Errno::EINVAL),
            Ok(0) => (header, None),
            // `len` bounds the header too: a `len` shorter than the header sends part of it.
            Ok(n) => {
                let header = &header[..header.len().min(n as usize)];
                (header, Some(n - header.len() as u64))
            }
        };
        let (sent, result) = self.0.run(fd, s, offset, header, file_limit, 0);
        *len = sent as i64;
        self.0.record(Call {
            offset,
            header_len: header.len(),
            count,
            flags: 0,
            sent,
            result,
        });
        result
    }
}

/// FreeBSD: `nbytes` is the most file bytes (0: to the end); `sbytes`, every byte sent.
struct FreeBsdFake(Fake);

impl FreeBsdSendfile for FreeBsdFake {
    fn sendfile(
        &mut self,
        fd: BorrowedFd<'_>,
        s: BorrowedFd<'_>,
        offset: i64,
        nbytes: usize,
        header: &[u8],
        sbytes: &mut i64,
        flags: i32,
    ) -> Result<(), Errno> {
        let file_limit = (nbytes != 0).then_some(nbytes as u64);
        let (sent, result) = self.0.run(fd, s, offset, header, file_limit, flags);
        *sbytes = sent as i64;
        self.0.record(Call {
            offset,
            header_len: header.len(),
            count: nbytes as i64,
            flags,
            sent,
            result,
        });
        result
    }
}

/// Writes up to `room` bytes of `bytes`. Only the script stops a call: where the real socket is
/// full the fake waits for the reader, so that each test's calls are the same on every run.
fn write_all_up_to(s: BorrowedFd<'_>, bytes: &[u8], room: u64) -> u64 {
    let want = (bytes.len() as u64).min(room) as usize;
    let mut done = 0;
    while done < want {
        match nix::unistd::write(s, &bytes[done..want]) {
            Ok(n) => done += n,
            Err(Errno::EINTR) => {}
            Err(Errno::EAGAIN) => wait_writable(s),
            Err(errno) => panic!("the fake's write failed: {errno}"),
        }
    }
    done as u64
}

/// poll(2) for room to write (at most a second: the reader is always reading).
fn wait_writable(fd: BorrowedFd<'_>) {
    let mut pollfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: one valid pollfd, for the duration of the call.
    let ready = unsafe { libc::poll(&mut pollfd, 1, 1000) };
    assert!(ready >= 0, "poll: {}", Errno::last());
}

fn copy_file_up_to(
    fd: BorrowedFd<'_>,
    s: BorrowedFd<'_>,
    offset: u64,
    owed: u64,
    room: u64,
) -> u64 {
    let mut buf = vec![0u8; 64 * 1024];
    let mut done = 0u64;
    while done < owed.min(room) {
        let want = ((owed.min(room) - done) as usize).min(buf.len());
        let read = nix::sys::uio::pread(fd, &mut buf[..want], (offset + done) as i64).unwrap();
        if read == 0 {
            break;
        }
        done += write_all_up_to(s, &buf[..read], read as u64);
    }
    done
}

// ---------------------------------------------------------------- a transfer over a fake

struct Run {
    result: Result<(), Failure>,
    /// What the peer read, in order.
    received: Vec<u8>,
    /// `Transfer::bytes()` at the end.
    bytes: u64,
    method: Method,
    /// How each step ended.
    stops: Vec<Progress>,
    calls: Vec<Call>,
    violations: Vec<String>,
}

struct Case {
    kernel: Kernel,
    file: Vec<u8>,
    prefix: Vec<u8>,
    offset: u64,
    length: Option<u64>,
    choice: Choice,
    script: Vec<Event>,
    /// The file's size after the transfer has opened it (it checked the range against the old).
    truncate_to: Option<u64>,
}

/// Sizes rather than contents, so that a failing property case prints readably.
impl std::fmt::Debug for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Case")
            .field("kernel", &self.kernel)
            .field("file_len", &self.file.len())
            .field("prefix_len", &self.prefix.len())
            .field("offset", &self.offset)
            .field("length", &self.length)
            .field("choice", &self.choice)
            .field("script", &self.script)
            .field("truncate_to", &self.truncate_to)
            .finish()
    }
}

impl Case {
    fn new(kernel: Kernel, file_len: usize) -> Self {
        Case {
            kernel,
            file: pattern(file_len),
            prefix: Vec::new(),
            offset: 0,
            length: None,
            choice: Choice::Exact(Method::Sendfile),
            script: Vec::new(),
            truncate_to: None,
        }
    }

    fn prefix(mut self, len: usize) -> Self {
        self.prefix = (0..len).map(|i| b'A' + (i % 26) as u8).collect();
        self
    }

    fn script(mut self, script: &[Event]) -> Self {
        self.script = script.to_vec();
        self
    }

    fn choice(mut self, choice: Choice) -> Self {
        self.choice = choice;
        self
    }

    /// What the peer must receive when every byte arrives.
    fn expected(&self) -> Vec<u8> {
        let end = self
            .length
            .map_or(self.file.len() as u64, |len| self.offset + len);
        [
            &self.prefix[..],
            &self.file[self.offset as usize..end as usize],
        ]
        .concat()
    }

    fn run(self) -> Run {
        let path = temp_file(&self.file);
        let (ours, peer) = UnixStream::pair().unwrap();
        let reader = read_to_end(peer);
        let mut transfer = Transfer::open(Request {
            source: SourceSpec::Path(path.clone()),
            dest_fd: ours.as_raw_fd(),
            offset: self.offset,
            length: self.length,
            method: self.choice,
            prefix: self.prefix.clone(),
        })
        .unwrap();
        let fake = Fake::scripted(&self.script);
        let call: Box<dyn BsdCall + Send> = match self.kernel {
            Kernel::Darwin => Box::new(Darwin(DarwinFake(fake.clone()))),
            Kernel::FreeBsd => Box::new(FreeBsd(FreeBsdFake(fake.clone()))),
        };
        transfer.set_engine(Engine::FakeBsdSendfile(BsdSendfileEngine { call }));
        if let Some(len) = self.truncate_to {
            std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .unwrap()
                .set_len(len)
                .unwrap();
        }
        let mut stops = Vec::new();
        let result = drive(&mut transfer, &mut stops);
        let (bytes, method) = (transfer.bytes(), transfer.method());
        // Both ends of our side closed: the peer reads to the end.
        drop(transfer);
        drop(ours);
        let received = reader.join().unwrap();
        std::fs::remove_file(&path).unwrap();
        let state = fake.state();
        Run {
            result,
            received,
            bytes,
            method,
            stops,
            calls: state.calls.clone(),
            violations: state.violations.clone(),
        }
    }
}

/// Steps the transfer as the driver does, waiting with poll(2) where the driver waits with epoll.
fn drive(transfer: &mut Transfer, stops: &mut Vec<Progress>) -> Result<(), Failure> {
    for _ in 0..100_000 {
        let progress = transfer.step(STEP_BYTES)?;
        stops.push(progress);
        match progress {
            Progress::Done => return Ok(()),
            Progress::Yield => {}
            // SAFETY: the transfer's descriptor stays open while it lives.
            Progress::WouldBlock => {
                wait_writable(unsafe { BorrowedFd::borrow_raw(transfer.dest_fd()) })
            }
        }
    }
    panic!("the transfer did not finish in 100 000 steps");
}

fn read_to_end(mut peer: UnixStream) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut received = Vec::new();
        peer.read_to_end(&mut received).unwrap();
        received
    })
}

/// Bytes that differ from their neighbours, so that a byte sent twice or skipped shows.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

fn temp_file(bytes: &[u8]) -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let path = std::env::temp_dir().join(format!(
        "zerosend-bsd-sendfile-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&path, bytes).unwrap();
    path
}

const KERNELS: [Kernel; 2] = [Kernel::Darwin, Kernel::FreeBsd];
const KIB: usize = 1024;

fn assert_all_arrived(kernel: Kernel, case_expected: &[u8], run: &Run) {
    assert_eq!(run.result, Ok(()), "{kernel:?}");
    assert_eq!(
        run.received.len(),
        case_expected.len(),
        "{kernel:?}: length"
    );
    assert!(run.received == case_expected, "{kernel:?}: bytes differ");
    assert_eq!(run.bytes, case_expected.len() as u64, "{kernel:?}: bytes()");
    assert!(
        run.violations.is_empty(),
        "{kernel:?}: {:?}",
        run.violations
    );
}

// ---------------------------------------------------------------- the shapes of the calls

#[test]
fn each_call_is_asked_in_its_kernels_shape() {
    for kernel in KERNELS {
        // Three calls' worth at the per-call cap (a step), then the rest.
        let case = Case::new(kernel, 2 * STEP_BYTES as usize + 5 * KIB + 3).prefix(100);
        let expected = case.expected();
        let run = case.run();
        assert_all_arrived(kernel, &expected, &run);
        let file_lens: Vec<i64> = run
            .calls
            .iter()
            .map(|c| match kernel {
                // macOS: `len` counts the header too.
                Kernel::Darwin => c.count - c.header_len as i64,
                Kernel::FreeBsd => c.count,
            })
            .collect();
        let step = STEP_BYTES as i64;
        assert_eq!(file_lens, [step, step, 5 * KIB as i64 + 3], "{kernel:?}");
        // The prefix went as the first call's header, and only there.
        let headers: Vec<usize> = run.calls.iter().map(|c| c.header_len).collect();
        assert_eq!(headers, [100, 0, 0], "{kernel:?}");
        let offsets: Vec<i64> = run.calls.iter().map(|c| c.offset).collect();
        assert_eq!(offsets, [0, step, 2 * step], "{kernel:?}");
        let flags = if kernel == Kernel::FreeBsd {
            SF_NODISKIO
        } else {
            0
        };
        assert!(run.calls.iter().all(|c| c.flags == flags), "{kernel:?}");
    }
}

#[test]
fn a_prefix_and_a_small_file_leave_in_one_call() {
    for kernel in KERNELS {
        let case = Case::new(kernel, 4 * KIB).prefix(310);
        let expected = case.expected();
        let run = case.run();
        assert_all_arrived(kernel, &expected, &run);
        assert_eq!(run.calls.len(), 1, "{kernel:?}: {:?}", run.calls);
        assert_eq!(run.calls[0].sent, expected.len() as u64, "{kernel:?}");
        assert_eq!(run.stops, [Progress::Done], "{kernel:?}");
    }
}

#[test]
fn a_range_starts_at_its_offset_and_asks_no_byte_past_its_end() {
    for kernel in KERNELS {
        let mut case = Case::new(kernel, 64 * KIB);
        case.offset = 1000;
        case.length = Some(20_000);
        let expected = case.expected();
        let run = case.run();
        assert_all_arrived(kernel, &expected, &run);
        assert_eq!(run.calls.len(), 1, "{kernel:?}");
        assert_eq!(run.calls[0].offset, 1000);
        assert_eq!(
            run.calls[0].count, 20_000,
            "{kernel:?}: never 0, which means 'to the end'"
        );
    }
}

// ---------------------------------------------------------------- stopping early

#[test]
fn bytes_reported_with_eagain_count_once_and_the_step_parks() {
    for kernel in KERNELS {
        // As a kernel does: after a call that filled the socket, the next one finds it full.
        let case = Case::new(kernel, 300 * KIB).script(&[
            Event::Room(1000),
            Event::Room(0),
            Event::Room(70_001),
            Event::Room(0),
            Event::Room(1),
            Event::Room(0),
        ]);
        let expected = case.expected();
        let run = case.run();
        assert_all_arrived(kernel, &expected, &run);
        let parked = run
            .stops
            .iter()
            .filter(|p| **p == Progress::WouldBlock)
            .count();
        assert_eq!(parked, 3, "{kernel:?}: {:?}", run.stops);
        let sent: Vec<u64> = run.calls.iter().map(|c| c.sent).collect();
        let rest = (300 * KIB - 71_002) as u64;
        assert_eq!(sent, [1000, 0, 70_001, 0, 1, 0, rest], "{kernel:?}");
    }
}

#[test]
fn a_signal_is_asked_again_with_or_without_progress_and_never_parks() {
    for kernel in KERNELS {
        let case = Case::new(kernel, 100 * KIB).prefix(50).script(&[
            Event::Signal(20),
            Event::Signal(0),
            Event::Signal(4096),
            Event::Signal(1),
        ]);
        let expected = case.expected();
        let run = case.run();
        assert_all_arrived(kernel, &expected, &run);
        assert_eq!(run.stops, [Progress::Done], "{kernel:?}");
        let results: Vec<_> = run.calls.iter().map(|c| c.result).take(4).collect();
        assert_eq!(results, [Err(Errno::EINTR); 4], "{kernel:?}");
    }
}

#[test]
fn a_header_sent_in_parts_is_resumed_where_it_stopped() {
    for kernel in KERNELS {
        let case = Case::new(kernel, 32 * KIB).prefix(300).script(&[
            Event::Room(5),
            Event::Room(0),
            Event::Room(290),
            // The header's last 5 bytes and 10 file bytes.
            Event::Room(15),
        ]);
        let expected = case.expected();
        let run = case.run();
        assert_all_arrived(kernel, &expected, &run);
        let headers: Vec<usize> = run.calls.iter().map(|c| c.header_len).collect();
        assert_eq!(
            headers,
            [300, 295, 295, 5, 0],
            "{kernel:?}: {:?}",
            run.calls
        );
        let offsets: Vec<i64> = run.calls.iter().map(|c| c.offset).collect();
        assert_eq!(offsets, [0, 0, 0, 0, 10], "{kernel:?}");
        if kernel == Kernel::Darwin {
            // macOS: `len` is header + file, so it shrinks with what is left of the header.
            let file = 32 * KIB as i64;
            let counts: Vec<i64> = run.calls.iter().map(|c| c.count).collect();
            assert_eq!(
                counts,
                [300 + file, 295 + file, 295 + file, 5 + file, file - 10]
            );
        }
    }
}

#[test]
fn freebsd_busy_page_counts_its_bytes_then_yields_instead_of_sleeping() {
    let case = Case::new(Kernel::FreeBsd, 200 * KIB).prefix(64).script(&[
        Event::BusyPage(5000),
        Event::BusyPage(0),
        Event::BusyPage(0),
    ]);
    let expected = case.expected();
    let run = case.run();
    assert_all_arrived(Kernel::FreeBsd, &expected, &run);
    assert_eq!(
        run.stops,
        [Progress::Yield, Progress::Yield, Progress::Done],
        "an EBUSY with nothing sent yields (the socket has room: parking would never wake)"
    );
    assert_eq!(run.calls[0].sent, 5000);
}

// ---------------------------------------------------------------- the end of the file

#[test]
fn a_file_that_shrank_ends_in_a_short_file_with_the_bytes_that_went() {
    for kernel in KERNELS {
        let mut case = Case::new(kernel, 100 * KIB);
        case.truncate_to = Some(60 * KIB as u64);
        let expected = case.file[..60 * KIB].to_vec();
        let run = case.run();
        assert_eq!(
            run.result,
            Err(Failure::ShortFile {
                expected_end: 100 * KIB as u64,
                reached: 60 * KIB as u64
            }),
            "{kernel:?}"
        );
        assert!(run.received == expected, "{kernel:?}");
        assert_eq!(run.bytes, 60 * KIB as u64);
        // The first call ends at the new end of the file and succeeds; the next finds nothing.
        let answers: Vec<(u64, Result<(), Errno>)> =
            run.calls.iter().map(|c| (c.sent, c.result)).collect();
        assert_eq!(
            answers,
            [(60 * KIB as u64, Ok(())), (0, Ok(()))],
            "{kernel:?}"
        );
    }
}

#[test]
fn a_file_emptied_before_the_first_call_sends_the_header_then_is_short() {
    for kernel in KERNELS {
        let mut case = Case::new(kernel, 10 * KIB).prefix(200);
        case.truncate_to = Some(0);
        let expected = case.prefix.clone();
        let run = case.run();
        assert_eq!(
            run.result,
            Err(Failure::ShortFile {
                expected_end: 10 * KIB as u64,
                reached: 0
            }),
            "{kernel:?}"
        );
        assert!(run.received == expected, "{kernel:?}: the header went");
        assert_eq!(run.bytes, 200, "{kernel:?}: and counts");
        assert_eq!(run.calls.len(), 1, "{kernel:?}");
    }
}

// ---------------------------------------------------------------- errors

/// "This call cannot work here": EINVAL (FreeBSD: not a regular file, not a stream socket),
/// ENOSYS, EOPNOTSUPP/ENOTSUP (a filesystem without sendfile; macOS: not a regular file),
/// ENOTSOCK (not a stream socket).
const FALLBACK_ERRNOS: [Errno; 5] = [
    Errno::EINVAL,
    Errno::ENOSYS,
    Errno::EOPNOTSUPP,
    Errno::ENOTSUP,
    Errno::ENOTSOCK,
];

#[test]
fn auto_falls_back_to_a_copy_before_the_first_byte_prefix_included() {
    for kernel in KERNELS {
        for errno in FALLBACK_ERRNOS {
            let case = Case::new(kernel, 50 * KIB)
                .prefix(120)
                .choice(Choice::Auto)
                .script(&[Event::Fail(errno)]);
            let expected = case.expected();
            let run = case.run();
            assert_all_arrived(kernel, &expected, &run);
            assert_eq!(run.method, Method::Copy, "{kernel:?} {errno}");
            assert_eq!(run.calls.len(), 1, "{kernel:?} {errno}");
        }
    }
}

#[test]
fn auto_falls_back_after_part_of_the_header_and_the_copy_writes_the_rest() {
    for kernel in KERNELS {
        let case = Case::new(kernel, 50 * KIB)
            .prefix(120)
            .choice(Choice::Auto)
            .script(&[Event::Room(7), Event::Fail(Errno::EOPNOTSUPP)]);
        let expected = case.expected();
        let run = case.run();
        assert_all_arrived(kernel, &expected, &run);
        assert_eq!(run.method, Method::Copy, "{kernel:?}");
    }
}

#[test]
fn an_explicit_sendfile_reports_unsupported_and_sends_nothing() {
    for kernel in KERNELS {
        for errno in FALLBACK_ERRNOS {
            let run = Case::new(kernel, 50 * KIB)
                .prefix(120)
                .script(&[Event::Fail(errno)])
                .run();
            assert_eq!(
                run.result,
                Err(Failure::Unsupported {
                    method: Method::Sendfile,
                    errno,
                    syscall: "sendfile"
                }),
                "{kernel:?}"
            );
            assert_eq!(
                (run.received.len(), run.bytes),
                (0, 0),
                "{kernel:?} {errno}"
            );
        }
    }
}

#[test]
fn after_the_first_file_byte_an_unsupported_errno_is_a_failure_not_a_fallback() {
    for kernel in KERNELS {
        let case = Case::new(kernel, 50 * KIB)
            .choice(Choice::Auto)
            .script(&[Event::Room(1000), Event::Fail(Errno::EINVAL)]);
        let expected = case.file[..1000].to_vec();
        let run = case.run();
        assert_eq!(
            run.result,
            Err(Failure::Os {
                errno: Errno::EINVAL,
                syscall: "sendfile"
            }),
            "{kernel:?}"
        );
        assert!(run.received == expected, "{kernel:?}");
        assert_eq!(run.bytes, 1000, "{kernel:?}");
    }
}

#[test]
fn a_peer_gone_mid_call_keeps_the_bytes_that_went_and_fails_on_the_next_call() {
    for kernel in KERNELS {
        let case = Case::new(kernel, 80 * KIB)
            .prefix(30)
            .script(&[Event::Broken(2030, Errno::EPIPE)]);
        let expected = case.expected()[..2030].to_vec();
        let run = case.run();
        assert_eq!(
            run.result,
            Err(Failure::Os {
                errno: Errno::EPIPE,
                syscall: "sendfile"
            }),
            "{kernel:?}"
        );
        assert!(run.received == expected, "{kernel:?}");
        assert_eq!(run.bytes, 2030, "{kernel:?}");
    }
}

#[test]
fn a_pipe_or_a_file_is_unsupported_without_a_system_call() {
    let path = temp_file(&pattern(1000));
    let (read_end, write_end) = nix::unistd::pipe().unwrap();
    let mut transfer = Transfer::open(Request {
        source: SourceSpec::Path(path.clone()),
        dest_fd: write_end.as_raw_fd(),
        offset: 0,
        length: None,
        method: Choice::Exact(Method::Sendfile),
        prefix: b"head".to_vec(),
    })
    .unwrap();
    let fake = Fake::default();
    let call: Box<dyn BsdCall + Send> = Box::new(FreeBsd(FreeBsdFake(fake.clone())));
    transfer.set_engine(Engine::FakeBsdSendfile(BsdSendfileEngine { call }));
    let result = transfer.step(STEP_BYTES);
    std::fs::remove_file(&path).unwrap();
    drop(read_end);
    assert_eq!(
        result,
        Err(Failure::Unsupported {
            method: Method::Sendfile,
            errno: Errno::EOPNOTSUPP,
            syscall: "sendfile"
        })
    );
    assert!(fake.calls().is_empty());
}

// ---------------------------------------------------------------- any mix of the above

fn event(kernel: Kernel) -> impl Strategy<Value = Event> {
    let busy = if kernel == Kernel::FreeBsd { 1 } else { 0 };
    prop_oneof![
        3 => (0usize..70_000).prop_map(Event::Room),
        2 => (0usize..70_000).prop_map(Event::Signal),
        busy => (0usize..70_000).prop_map(Event::BusyPage),
    ]
}

fn any_case() -> impl Strategy<Value = Case> {
    prop_oneof![Just(Kernel::Darwin), Just(Kernel::FreeBsd)].prop_flat_map(|kernel| {
        (
            1usize..300_000,
            0usize..500,
            proptest::collection::vec(event(kernel), 0..12),
            any::<proptest::sample::Index>(),
        )
            .prop_map(move |(file_len, prefix_len, script, start)| {
                let mut case = Case::new(kernel, file_len)
                    .prefix(prefix_len)
                    .script(&script);
                case.offset = start.index(file_len) as u64;
                case
            })
    })
}

/// The run's seed: `ZEROSEND_PROPTEST_SEED`, or a fresh one, printed either way (as in
/// tests/properties.rs: a seed reproduces a failure, and no regression file lands in the tree).
fn property_config() -> Config {
    let seed = std::env::var("ZEROSEND_PROPTEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos();
            (nanos as u64) ^ u64::from(std::process::id()).rotate_left(32)
        });
    println!("proptest seed {seed} (rerun with ZEROSEND_PROPTEST_SEED={seed})");
    Config {
        cases: 48,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(property_config())]

    /// Whatever mix of full sockets, signals and busy pages, with or without a prefix and from
    /// any offset: every byte arrives once, in order, and is counted once.
    #[test]
    fn every_byte_arrives_once_whatever_stops_the_calls(case in any_case()) {
        let kernel = case.kernel;
        let expected = case.expected();
        let run = case.run();
        assert_all_arrived(kernel, &expected, &run);
    }
}
