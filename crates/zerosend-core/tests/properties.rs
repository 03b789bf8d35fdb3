//! Property tests of the core's arithmetic: the per-call length (`limits::call_len`), the range a
//! transfer resolves from offset/length/size (through `Transfer::open` on real files), and the
//! bytes delivered from offsets around 2^31 and 2^32 (sparse files), for every method.
//!
//! Each test prints its seed (shown by `cargo test` when it fails); rerun one with
//! `ZEROSEND_PROPTEST_SEED=<seed> cargo test -p zerosend-core --test properties`.

mod common;

use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::thread;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use tokio_util::sync::CancellationToken;
use zerosend_core::limits::{call_len, MAX_SYSCALL_BYTES, STEP_BYTES};
use zerosend_core::{drive, Choice, Failure, Method, Request, SourceSpec, Transfer};

/// The run's seed: `ZEROSEND_PROPTEST_SEED`, or a fresh one, printed either way.
fn seed() -> u64 {
    static SEED: OnceLock<u64> = OnceLock::new();
    *SEED.get_or_init(|| {
        std::env::var("ZEROSEND_PROPTEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos();
                (nanos as u64) ^ u64::from(std::process::id()).rotate_left(32)
            })
    })
}

fn config(cases: u32) -> Config {
    let seed = seed();
    println!("proptest seed {seed} (rerun with ZEROSEND_PROPTEST_SEED={seed})");
    Config {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        // The seed reproduces a failure; no regression files written into the source tree.
        failure_persistence: None,
        ..Config::default()
    }
}

/// Byte counts where arithmetic tends to break: around 0, 2^31, 2^32, the kernel's per-call
/// limit, the step size, 2^53 (JavaScript's last exact integer), i64::MAX and u64::MAX.
fn interesting_u64() -> impl Strategy<Value = u64> {
    let bases = vec![
        0,
        1 << 31,
        1 << 32,
        MAX_SYSCALL_BYTES,
        STEP_BYTES,
        1 << 53,
        i64::MAX as u64,
        u64::MAX,
    ];
    prop_oneof![
        any::<u64>(),
        0u64..(1 << 22),
        (prop::sample::select(bases), -4096i64..=4096).prop_map(|(b, d)| b.wrapping_add_signed(d)),
    ]
}

proptest! {
    #![proptest_config(config(4096))]

    /// One call asks for exactly the smallest of: what is left, the step's budget, the engine's
    /// cap and the kernel's limit — never more than any of them, and never 0 while all are > 0.
    #[test]
    fn call_len_is_the_smallest_bound(
        remaining in interesting_u64(),
        step_left in interesting_u64(),
        cap in interesting_u64(),
    ) {
        let len = call_len(remaining, step_left, cap) as u64;
        let expected = remaining.min(step_left).min(cap).min(MAX_SYSCALL_BYTES);
        prop_assert_eq!(len, expected);
        prop_assert!(len <= MAX_SYSCALL_BYTES);
        prop_assert!(usize::try_from(len).is_ok());
        if remaining > 0 && step_left > 0 && cap > 0 {
            prop_assert!(len > 0);
        }
    }

    /// The transfer loop's bookkeeping with call_len, whatever the kernel moves per call
    /// (`moved` fractions): offset + remaining stays the end, nothing overflows, every call asks
    /// for at least one byte, and a step stops at its budget.
    #[test]
    fn the_loop_arithmetic_never_overshoots(
        start in interesting_u64(),
        owed in interesting_u64(),
        cap in prop::sample::select(vec![STEP_BYTES, 64 * 1024, 1 << 20, u64::MAX]),
        fractions in prop::collection::vec(1u64..=1000, 1..64),
    ) {
        // The file range must fit in the offset type the kernel takes (i64): the engines refuse
        // anything past i64::MAX with EOVERFLOW before a call.
        let start = start.min(i64::MAX as u64);
        let owed = owed.min(i64::MAX as u64 - start);
        let end = start + owed;
        let (mut offset, mut remaining) = (start, owed);
        let mut moved_in_step = 0u64;
        for fraction in fractions {
            if remaining == 0 {
                break;
            }
            if moved_in_step >= STEP_BYTES {
                moved_in_step = 0; // the driver yields, and a new step starts
            }
            let len = call_len(remaining, STEP_BYTES - moved_in_step, cap) as u64;
            prop_assert!(len > 0 && len <= remaining);
            // The kernel moves between 1 byte and all it was asked for.
            let n = (len * fraction / 1000).max(1);
            offset = offset.checked_add(n).expect("offset overflow");
            remaining -= n;
            moved_in_step += n;
            prop_assert_eq!(offset + remaining, end);
            prop_assert!(i64::try_from(offset).is_ok());
        }
    }
}

/// This run's directory. The files are sparse (a few MiB on disk for 4 GiB of size).
fn temp_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| common::run_dir("zerosend-props-"))
        .clone()
}

/// Sparse files (no disk used for the holes) of sizes around 2^31 and 2^32, and small real ones.
fn sized_files() -> &'static [(PathBuf, u64)] {
    static FILES: OnceLock<Vec<(PathBuf, u64)>> = OnceLock::new();
    FILES.get_or_init(|| {
        let sizes = [
            0,
            1,
            4095,
            4096,
            (1 << 31) - 1,
            1 << 31,
            (1 << 32) - 1,
            1 << 32,
            (1 << 32) + 4097,
        ];
        sizes
            .iter()
            .map(|&size| {
                let path = temp_dir().join(format!("sized-{size}"));
                let file = std::fs::File::create(&path).unwrap();
                file.set_len(size).unwrap();
                (path, size)
            })
            .collect()
    })
}

fn open(
    path: &Path,
    dest: &UnixStream,
    offset: u64,
    length: Option<u64>,
) -> Result<Transfer, Failure> {
    Transfer::open(Request {
        source: SourceSpec::Path(path.to_path_buf()),
        dest_fd: dest.as_raw_fd(),
        offset,
        length,
        method: Choice::Auto,
        prefix: b"prefix".to_vec(),
    })
}

proptest! {
    #![proptest_config(config(1024))]

    /// What `Transfer::open` accepts is exactly `offset <= size` and `offset + length <= size`,
    /// without overflow anywhere (u64::MAX lengths included): a past-the-end offset is
    /// ERR_OUT_OF_RANGE, a length past the end ERR_ZEROSEND_SHORT_FILE, and an accepted range
    /// totals the prefix plus exactly the bytes asked for.
    #[test]
    fn open_resolves_exactly_the_range_asked_for(
        file in prop::sample::select((0..9).collect::<Vec<usize>>()),
        offset_pick in prop_oneof![interesting_u64(), Just(u64::MAX - 1)],
        near_end in any::<bool>(),
        length in prop::option::of(interesting_u64()),
    ) {
        let (path, size) = &sized_files()[file];
        let size = *size;
        // Half the offsets land near the end of the file, where off-by-ones live.
        let offset = if near_end { size.saturating_sub(offset_pick % 8193) } else { offset_pick };
        let (ours, _peer) = UnixStream::pair().unwrap();
        match open(path, &ours, offset, length) {
            Ok(transfer) => {
                prop_assert!(offset <= size);
                let available = size - offset;
                let wanted = length.unwrap_or(available);
                prop_assert!(wanted <= available);
                prop_assert_eq!(transfer.total(), 6 + wanted);
                prop_assert_eq!(transfer.bytes(), 0);
            }
            Err(failure) => {
                if offset > size {
                    prop_assert_eq!(failure.code(), "ERR_OUT_OF_RANGE");
                } else {
                    prop_assert!(length.is_some_and(|l| l > size - offset), "{failure:?}");
                    prop_assert_eq!(failure.code(), "ERR_ZEROSEND_SHORT_FILE");
                }
            }
        }
    }
}

/// A sparse file of 2^32 + 1 MiB with random bytes written around 2^31 and 2^32 (the rest are
/// holes): offsets there cross the i32/u32 boundaries with real data.
struct BoundaryFile {
    path: PathBuf,
    /// (file offset, bytes) of each written block.
    blocks: Vec<(u64, Vec<u8>)>,
}

const BLOCK: u64 = 512 * 1024;

fn boundary_file() -> &'static BoundaryFile {
    static FILE: OnceLock<BoundaryFile> = OnceLock::new();
    FILE.get_or_init(|| {
        let path = temp_dir().join("boundaries");
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        file.set_len((1 << 32) + (1 << 20)).unwrap();
        let mut blocks = Vec::new();
        let mut state = seed() | 1;
        for centre in [1u64 << 31, 1u64 << 32] {
            let start = centre - BLOCK / 2;
            let bytes: Vec<u8> = (0..BLOCK)
                .map(|_| {
                    // xorshift64: the block's content follows the run's seed
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as u8
                })
                .collect();
            file.write_all_at(&bytes, start).unwrap();
            blocks.push((start, bytes));
        }
        file.flush().unwrap();
        // Read one block back through the ordinary path, to trust the fixture itself.
        let mut check = vec![0u8; 16];
        file.seek(SeekFrom::Start(blocks[1].0)).unwrap();
        file.read_exact(&mut check).unwrap();
        assert_eq!(&check[..], &blocks[1].1[..16]);
        BoundaryFile { path, blocks }
    })
}

/// A connected loopback TCP pair: (our end, the peer's end).
fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let ours = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (peer, _) = listener.accept().unwrap();
    (ours, peer)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(config(96))]

    /// Every method delivers exactly the file's bytes from offsets around 2^31 and 2^32 (ranges
    /// that start before and end after the boundary included), with a step budget that may end
    /// mid-range.
    #[test]
    fn bytes_across_the_31_and_32_bit_boundaries_are_exact(
        block in 0usize..2,
        start_in_block in 0u64..BLOCK,
        length in 0u64..(128 * 1024),
        method in prop::sample::select(
            Method::ALL.into_iter().filter(|m| m.is_available()).collect::<Vec<_>>()
        ),
    ) {
        let file = boundary_file();
        let (block_start, bytes) = &file.blocks[block];
        let length = length.min(BLOCK - start_in_block);
        let offset = block_start + start_in_block;
        // TCP: the BSDs' sendfile writes to TCP sockets, not to every stream socket.
        let (ours, mut peer) = tcp_pair();
        let reader = thread::spawn(move || {
            let mut got = Vec::new();
            peer.read_to_end(&mut got).unwrap();
            got
        });
        let transfer = Transfer::open(Request {
            source: SourceSpec::Path(file.path.clone()),
            dest_fd: ours.as_raw_fd(),
            offset,
            length: Some(length),
            method: Choice::Exact(method),
            prefix: Vec::new(),
        })
        .unwrap();
        let outcome = runtime().block_on(drive(transfer, CancellationToken::new(), |_| {}));
        prop_assert_eq!(outcome.result, Ok(()), "{} at {} +{}", method, offset, length);
        prop_assert_eq!(outcome.bytes, length);
        drop(ours);
        let got = reader.join().unwrap();
        let want = &bytes[start_in_block as usize..(start_in_block + length) as usize];
        prop_assert!(got == want, "{} at {} +{}: bytes differ", method, offset, length);
    }
}
