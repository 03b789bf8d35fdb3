//! The core on real sockets and files: every method, sizes around page and buffer boundaries,
//! prefixes, parking on a full socket, truncation, cancellation, and fallback.

mod common;

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;
use zerosend_core::limits::STEP_BYTES;
use zerosend_core::{drive, Choice, Failure, Method, Progress, Request, SourceSpec, Transfer};

fn temp_file(name: &str, data: &[u8]) -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    let path = DIR
        .get_or_init(|| common::run_dir("zerosend-core-"))
        .join(name);
    std::fs::write(&path, data).unwrap();
    path
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + i / 4099) as u8).collect()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Reads everything the peer end receives, on its own thread.
fn reader(mut peer: UnixStream) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut got = Vec::new();
        peer.read_to_end(&mut got).unwrap();
        got
    })
}

fn request(path: &Path, dest: &UnixStream, method: Choice) -> Request {
    Request {
        source: SourceSpec::Path(path.to_path_buf()),
        dest_fd: dest.as_raw_fd(),
        offset: 0,
        length: None,
        method,
        prefix: Vec::new(),
    }
}

#[test]
fn every_method_delivers_every_size_exactly() {
    let rt = runtime();
    for size in [0, 1, 4095, 4096, 65_537, (1 << 20) + 7, 9 << 20] {
        let data = pattern(size);
        let path = temp_file(&format!("sizes-{size}"), &data);
        for method in Method::ALL {
            let (ours, peer) = UnixStream::pair().unwrap();
            let read = reader(peer);
            let mut req = request(&path, &ours, Choice::Exact(method));
            req.prefix = b"HEAD".to_vec();
            let transfer = Transfer::open(req).unwrap();
            assert_eq!(transfer.total(), 4 + size as u64);
            let outcome = rt.block_on(drive(transfer, CancellationToken::new(), |_| {}));
            assert_eq!(outcome.result, Ok(()), "{method} {size}");
            assert_eq!(outcome.bytes, 4 + size as u64);
            assert_eq!(outcome.method, method);
            drop(ours);
            let got = read.join().unwrap();
            assert_eq!(&got[..4], b"HEAD");
            assert_eq!(
                Sha256::digest(&got[4..]),
                Sha256::digest(&data),
                "{method} {size}"
            );
        }
    }
}

#[test]
fn slices_and_fd_sources_leave_the_callers_position_alone() {
    let data = pattern(200_000);
    let path = temp_file("slices", &data);
    let mut file = File::open(&path).unwrap();
    let mut first = [0u8; 7];
    file.read_exact(&mut first).unwrap();
    let rt = runtime();
    for method in Method::ALL {
        let (ours, peer) = UnixStream::pair().unwrap();
        let read = reader(peer);
        let req = Request {
            source: SourceSpec::Fd(file.as_raw_fd()),
            offset: 4097,
            length: Some(100_001),
            ..request(&path, &ours, Choice::Exact(method))
        };
        let outcome = rt.block_on(drive(
            Transfer::open(req).unwrap(),
            CancellationToken::new(),
            |_| {},
        ));
        assert_eq!(outcome.result, Ok(()));
        drop(ours);
        assert_eq!(read.join().unwrap(), &data[4097..4097 + 100_001]);
    }
    let mut next = [0u8; 3];
    file.read_exact(&mut next).unwrap();
    assert_eq!(next, data[7..10], "the file position is the caller's");
}

#[test]
fn range_errors_are_reported_before_anything_is_sent() {
    let path = temp_file("ranges", &pattern(100));
    let (ours, _peer) = UnixStream::pair().unwrap();
    let past_end = Request {
        offset: 101,
        ..request(&path, &ours, Choice::Auto)
    };
    assert_eq!(
        Transfer::open(past_end).err().unwrap().code(),
        "ERR_OUT_OF_RANGE"
    );
    let too_long = Request {
        offset: 50,
        length: Some(51),
        ..request(&path, &ours, Choice::Auto)
    };
    assert_eq!(
        Transfer::open(too_long).err().unwrap().code(),
        "ERR_ZEROSEND_SHORT_FILE"
    );
    let missing = request(&path.with_extension("missing"), &ours, Choice::Auto);
    assert_eq!(Transfer::open(missing).err().unwrap().code(), "ENOENT");
    let dir = request(path.parent().unwrap(), &ours, Choice::Auto);
    assert_eq!(Transfer::open(dir).err().unwrap().code(), "EISDIR");
}

#[test]
fn a_full_socket_parks_the_step_and_progress_comes_per_step() {
    let data = pattern(16 << 20);
    let path = temp_file("parks", &data);
    let rt = runtime();
    for method in Method::ALL {
        let (ours, peer) = UnixStream::pair().unwrap();
        let mut transfer = Transfer::open(request(&path, &ours, Choice::Exact(method))).unwrap();
        // Nobody reads yet: the first step must stop at EAGAIN, not block.
        assert_eq!(
            transfer.step(u64::MAX),
            Ok(Progress::WouldBlock),
            "{method}"
        );
        let parked_at = transfer.bytes();
        assert!(parked_at > 0 && parked_at < data.len() as u64);
        let read = reader(peer);
        let mut reports = Vec::new();
        let outcome = rt.block_on(drive(transfer, CancellationToken::new(), |b| {
            reports.push(b)
        }));
        assert_eq!(outcome.result, Ok(()));
        drop(ours);
        assert_eq!(Sha256::digest(read.join().unwrap()), Sha256::digest(&data));
        assert!(reports.windows(2).all(|w| w[1] - w[0] >= STEP_BYTES));
        assert!(reports.len() as u64 <= data.len() as u64 / STEP_BYTES);
    }
}

#[test]
fn cancelling_a_parked_transfer_reports_what_was_sent() {
    let path = temp_file("cancel", &pattern(16 << 20));
    let rt = runtime();
    for method in Method::ALL {
        let (ours, mut peer) = UnixStream::pair().unwrap();
        let cancel = CancellationToken::new();
        let transfer = Transfer::open(request(&path, &ours, Choice::Exact(method))).unwrap();
        let outcome = rt.block_on(async {
            let trigger = cancel.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                trigger.cancel();
            });
            drive(transfer, cancel, |_| {}).await
        });
        assert_eq!(outcome.result, Err(Failure::Cancelled));
        drop(ours);
        let mut got = Vec::new();
        peer.read_to_end(&mut got).unwrap();
        assert_eq!(got.len() as u64, outcome.bytes, "{method}");
    }
}

#[test]
fn a_file_truncated_mid_transfer_is_a_short_file_for_every_method() {
    let rt = runtime();
    for method in Method::ALL {
        let data = pattern(24 << 20);
        let path = temp_file(&format!("truncate-{method}"), &data);
        let (ours, peer) = UnixStream::pair().unwrap();
        let mut transfer = Transfer::open(request(&path, &ours, Choice::Exact(method))).unwrap();
        assert_eq!(transfer.step(u64::MAX), Ok(Progress::WouldBlock));
        OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(1 << 20)
            .unwrap();
        let read = reader(peer);
        let outcome = rt.block_on(drive(transfer, CancellationToken::new(), |_| {}));
        assert_eq!(
            outcome.result.as_ref().map_err(Failure::code),
            Err("ERR_ZEROSEND_SHORT_FILE".to_owned()),
            "{method}"
        );
        drop(ours);
        let got = read.join().unwrap();
        assert_eq!(got.len() as u64, outcome.bytes, "{method}");
        assert_eq!(&got[..], &data[..got.len()], "{method}: no byte is wrong");
    }
}

#[test]
fn an_append_only_destination_falls_back_to_copy_only_for_auto() {
    let data = pattern(300_000);
    let path = temp_file("append-src", &data);
    let out = temp_file("append-dst", b"");
    for method in [Method::Sendfile, Method::Splice] {
        let dest = OpenOptions::new().append(true).open(&out).unwrap();
        let req = Request {
            source: SourceSpec::Path(path.clone()),
            dest_fd: dest.as_raw_fd(),
            offset: 0,
            length: None,
            method: Choice::Exact(method),
            prefix: Vec::new(),
        };
        let mut transfer = Transfer::open(req).unwrap();
        assert_eq!(
            transfer.step(u64::MAX).map_err(|f| f.code()),
            Err("ERR_ZEROSEND_UNSUPPORTED".to_owned())
        );
    }
    let mut dest = OpenOptions::new().append(true).open(&out).unwrap();
    dest.write_all(b">").unwrap();
    let req = Request {
        source: SourceSpec::Path(path.clone()),
        dest_fd: dest.as_raw_fd(),
        offset: 0,
        length: None,
        method: Choice::Auto,
        prefix: Vec::new(),
    };
    let mut transfer = Transfer::open(req).unwrap();
    assert_eq!(transfer.step(u64::MAX), Ok(Progress::Done));
    assert_eq!(transfer.method(), Method::Copy);
    let written = std::fs::read(&out).unwrap();
    assert_eq!(written[0], b'>');
    assert_eq!(&written[1..], &data[..]);
}

#[test]
fn a_peer_that_goes_away_is_epipe() {
    let path = temp_file("epipe", &pattern(8 << 20));
    let rt = runtime();
    for method in Method::ALL {
        let (ours, peer) = UnixStream::pair().unwrap();
        let transfer = Transfer::open(request(&path, &ours, Choice::Exact(method))).unwrap();
        drop(peer);
        let outcome = rt.block_on(drive(transfer, CancellationToken::new(), |_| {}));
        let code = outcome.result.unwrap_err().code();
        assert!(code == "EPIPE" || code == "ECONNRESET", "{method}: {code}");
    }
}

#[test]
fn a_borrowed_first_step_then_owned_descriptors_survive_the_caller_closing_its_own() {
    let data = pattern(8 << 20);
    let path = temp_file("borrowed", &data);
    let rt = runtime();
    for (method, known_nonblocking) in Method::ALL
        .into_iter()
        .flat_map(|m| [(m, true), (m, false)])
    {
        let file = File::open(&path).unwrap();
        let (ours, peer) = UnixStream::pair().unwrap();
        // What the caller vouches for must be true: a Node socket is always non-blocking. The
        // other case exercises setting O_NONBLOCK on a borrowed descriptor and restoring it
        // through the dup.
        ours.set_nonblocking(known_nonblocking).unwrap();
        let req = Request {
            source: SourceSpec::Fd(file.as_raw_fd()),
            ..request(&path, &ours, Choice::Exact(method))
        };
        // SAFETY: `file` and `ours` stay open until own_descriptors() below.
        let mut transfer = unsafe { Transfer::open_borrowed(req, known_nonblocking) }.unwrap();
        assert_eq!(
            transfer.step(u64::MAX),
            Ok(Progress::WouldBlock),
            "{method}"
        );
        transfer.own_descriptors().unwrap();
        // The caller closes its numbers and opens others that may reuse them.
        drop(file);
        drop(ours);
        let decoy = File::open(&path).unwrap();
        let read = reader(peer);
        let outcome = rt.block_on(drive(transfer, CancellationToken::new(), |_| {}));
        assert_eq!(outcome.result, Ok(()), "{method}");
        assert_eq!(Sha256::digest(read.join().unwrap()), Sha256::digest(&data));
        drop(decoy);
    }
}

/// The rules were measured on Linux (macOS copies; FreeBSD does not ask about pacing).
#[cfg(target_os = "linux")]
#[test]
fn auto_picks_by_peer_and_length() {
    let tiny = temp_file("auto-tiny", &pattern(60_000));
    let small = temp_file("auto-small", &pattern(100_000));
    let mid = temp_file("auto-mid", &pattern(512 * 1024));
    let large = temp_file("auto-large", &pattern(2 << 20));
    let chosen_for = |goal: Choice, path: &PathBuf, fd: i32| {
        let req = Request {
            source: SourceSpec::Path(path.clone()),
            dest_fd: fd,
            offset: 0,
            length: None,
            method: goal,
            prefix: Vec::new(),
        };
        Transfer::open(req).unwrap().method()
    };
    let chosen = |path: &PathBuf, fd: i32| chosen_for(Choice::Auto, path, fd);
    let (unix, _unix_peer) = UnixStream::pair().unwrap();
    assert_eq!(chosen(&small, unix.as_raw_fd()), Method::Sendfile);
    assert_eq!(chosen(&mid, unix.as_raw_fd()), Method::Sendfile);
    assert_eq!(chosen(&large, unix.as_raw_fd()), Method::Mmap);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let tcp = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    // A loopback peer: sendfile unless TCP paces the socket itself (BBR), then copy or mmap.
    // reno is always built in and allowed; bbr only where the kernel has it and lets us pick it.
    set_congestion_control(&tcp, "reno").expect("reno is always available");
    for path in [&tiny, &small, &mid, &large] {
        assert_eq!(chosen(path, tcp.as_raw_fd()), Method::Sendfile, "reno");
    }
    match set_congestion_control(&tcp, "bbr") {
        Ok(()) => {
            assert_eq!(chosen(&tiny, tcp.as_raw_fd()), Method::Sendfile, "bbr");
            assert_eq!(chosen(&small, tcp.as_raw_fd()), Method::Copy, "bbr");
            assert_eq!(chosen(&mid, tcp.as_raw_fd()), Method::Mmap, "bbr");
        }
        Err(errno) => eprintln!("bbr cannot be chosen here ({errno}): its rule is not checked"),
    }
    // A server asking for the least CPU gets sendfile whatever the peer.
    for path in [&tiny, &small, &mid, &large] {
        for fd in [unix.as_raw_fd(), tcp.as_raw_fd()] {
            assert_eq!(chosen_for(Choice::AutoLeastCpu, path, fd), Method::Sendfile);
        }
    }
    let out = temp_file("auto-out", b"");
    let file = OpenOptions::new().write(true).open(&out).unwrap();
    assert_eq!(
        chosen(&large, file.as_raw_fd()),
        Method::Sendfile,
        "not a socket"
    );
}

#[cfg(target_os = "linux")]
fn set_congestion_control(socket: &std::net::TcpStream, name: &str) -> nix::Result<()> {
    use nix::sys::socket::{setsockopt, sockopt::TcpCongestion};
    setsockopt(socket, TcpCongestion, &std::ffi::OsString::from(name))
}
