//! The socket relays on real sockets: TCP loopback and unix socket pairs, peers on their own
//! threads writing and reading through blocking std sockets.

#![cfg(any(target_os = "linux", target_os = "android"))]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::thread;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;
use zerosend_core::{Failure, Proxy, ProxyRequest, Relay, RelayRequest};

const MIB: usize = 1024 * 1024;

/// A connected TCP pair on loopback: (ours, the peer's).
fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let ours = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (peer, _) = listener.accept().unwrap();
    (ours, peer)
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    // Not periodic at any power of two, so a dropped or repeated chunk changes the hash.
    (0..len)
        .map(|i| (i as u64 * 2_654_435_761 % 251) as u8 ^ seed)
        .collect()
}

fn sha(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// Writes `data` on its own thread, then half-closes.
fn write_then_end(
    mut socket: impl Write + Send + 'static + HalfClose,
    data: Vec<u8>,
) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        socket.write_all(&data).unwrap();
        socket.half_close();
        // Keep the socket open until the reader is done with it: dropping it early would make a
        // FIN (or an RST, with unread bytes) race the test's reads.
        thread::sleep(Duration::from_millis(50));
        drop(socket);
    })
}

/// Reads until end of stream on its own thread.
fn read_to_end(mut socket: impl Read + Send + 'static) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut out = Vec::new();
        socket.read_to_end(&mut out).unwrap();
        out
    })
}

trait HalfClose {
    fn half_close(&self);
}
impl HalfClose for TcpStream {
    fn half_close(&self) {
        self.shutdown(Shutdown::Write).unwrap();
    }
}
impl HalfClose for UnixStream {
    fn half_close(&self) {
        self.shutdown(Shutdown::Write).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_way_tcp_relay_is_exact_puts_the_prefix_first_and_passes_the_end_on() {
    let (src, src_peer) = tcp_pair();
    let (dst, dst_peer) = tcp_pair();
    let prefix = b"bytes JS had already read".to_vec();
    let body = pattern(64 * MIB, 7);
    let writer = write_then_end(src_peer, body.clone());
    let reader = read_to_end(dst_peer);

    let relay = Relay::open(RelayRequest {
        src_fd: src.as_raw_fd(),
        dst_fd: dst.as_raw_fd(),
        prefix: prefix.clone(),
        end: true,
    })
    .unwrap();
    let mut reports = Vec::new();
    let outcome = relay
        .run(CancellationToken::new(), |n| reports.push(n))
        .await;
    assert_eq!(outcome.result, Ok(()));
    let expected = [prefix, body].concat();
    assert_eq!(outcome.bytes, expected.len() as u64);
    // read_to_end returning at all means the destination saw the end (our shutdown).
    let received = reader.join().unwrap();
    writer.join().unwrap();
    assert_eq!(received.len(), expected.len());
    assert_eq!(sha(&received), sha(&expected));
    assert!(!reports.is_empty() && reports.windows(2).all(|w| w[1] - w[0] >= 2 * MIB as u64));
    // The caller's descriptors are untouched: they still work after the relay.
    drop((src, dst));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_way_unix_relay_without_end_leaves_the_destination_open() {
    let (src, src_peer) = UnixStream::pair().unwrap();
    let (dst, mut dst_peer) = UnixStream::pair().unwrap();
    let body = pattern(8 * MIB, 3);
    let writer = write_then_end(src_peer, body.clone());
    let relay = Relay::open(RelayRequest {
        src_fd: src.as_raw_fd(),
        dst_fd: dst.as_raw_fd(),
        prefix: Vec::new(),
        end: false,
    })
    .unwrap();
    let reader = thread::spawn(move || {
        let mut out = vec![0; 8 * MIB];
        dst_peer.read_exact(&mut out).unwrap();
        (out, dst_peer)
    });
    let outcome = relay.run(CancellationToken::new(), |_| {}).await;
    assert_eq!(outcome.result, Ok(()));
    let (received, mut dst_peer) = reader.join().unwrap();
    writer.join().unwrap();
    assert_eq!(sha(&received), sha(&body));
    // Not ended: the caller can still write after the relay, and the peer reads it.
    (&dst).write_all(b"after").unwrap();
    let mut after = [0u8; 5];
    dst_peer.read_exact(&mut after).unwrap();
    assert_eq!(&after, b"after");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_moves_both_ways_at_once_and_half_closes_each_side() {
    // client ⇄ [a | proxy | b] ⇄ server
    let (a, client) = tcp_pair();
    let (b, server) = tcp_pair();
    let request = pattern(32 * MIB, 1);
    let response = pattern(32 * MIB, 2);

    // The client sends its whole request and half-closes while the response still flows back.
    let client_writer = write_then_end(client.try_clone().unwrap(), request.clone());
    let client_reader = read_to_end(client);
    let server_writer = write_then_end(server.try_clone().unwrap(), response.clone());
    let server_reader = read_to_end(server);

    let proxy = Proxy::open(ProxyRequest {
        a_fd: a.as_raw_fd(),
        b_fd: b.as_raw_fd(),
        a_to_b_prefix: Vec::new(),
        b_to_a_prefix: Vec::new(),
    })
    .unwrap();
    let outcome = proxy.run(CancellationToken::new()).await;
    assert_eq!(outcome.result, Ok(()));
    assert_eq!(outcome.a_to_b, request.len() as u64);
    assert_eq!(outcome.b_to_a, response.len() as u64);
    assert_eq!(sha(&server_reader.join().unwrap()), sha(&request));
    assert_eq!(sha(&client_reader.join().unwrap()), sha(&response));
    client_writer.join().unwrap();
    server_writer.join().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_half_closes_first_still_gets_the_whole_response() {
    let (a, mut client) = tcp_pair();
    let (b, mut server) = tcp_pair();
    let proxy = Proxy::open(ProxyRequest {
        a_fd: a.as_raw_fd(),
        b_fd: b.as_raw_fd(),
        a_to_b_prefix: Vec::new(),
        b_to_a_prefix: b"early ".to_vec(),
    })
    .unwrap();
    let running = tokio::spawn(proxy.run(CancellationToken::new()));
    let response = pattern(4 * MIB, 9);
    let expected = [b"early ".to_vec(), response.clone()].concat();
    let server_side = thread::spawn(move || {
        let mut request = Vec::new();
        // The request ends with the client's half-close, passed on by the proxy.
        server.read_to_end(&mut request).unwrap();
        server.write_all(&response).unwrap();
        server.shutdown(Shutdown::Write).unwrap();
        request
    });
    let client_side = thread::spawn(move || {
        client.write_all(b"GET / please").unwrap();
        client.shutdown(Shutdown::Write).unwrap();
        let mut got = Vec::new();
        client.read_to_end(&mut got).unwrap();
        got
    });
    assert_eq!(server_side.join().unwrap(), b"GET / please");
    assert_eq!(sha(&client_side.join().unwrap()), sha(&expected));
    let outcome = running.await.unwrap();
    assert_eq!(outcome.result, Ok(()));
    assert_eq!(outcome.a_to_b, 12);
    assert_eq!(outcome.b_to_a, expected.len() as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_reset_fails_the_proxy_with_the_errno() {
    let (a, client) = tcp_pair();
    let (b, server) = tcp_pair();
    let proxy = Proxy::open(ProxyRequest {
        a_fd: a.as_raw_fd(),
        b_fd: b.as_raw_fd(),
        a_to_b_prefix: Vec::new(),
        b_to_a_prefix: Vec::new(),
    })
    .unwrap();
    let running = tokio::spawn(proxy.run(CancellationToken::new()));
    // Linger 0: close sends an RST instead of a FIN.
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a plain setsockopt on a socket we own, with a correctly sized value.
    let rc = unsafe {
        libc::setsockopt(
            server.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0);
    drop(server);
    let outcome = running.await.unwrap();
    let code = outcome.result.unwrap_err().code();
    assert!(code == "ECONNRESET" || code == "EPIPE", "{code}");
    drop(client);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_to_a_regular_file_is_refused() {
    let file = std::fs::File::open("/proc/self/exe").unwrap();
    let (src, _peer) = tcp_pair();
    let err = Relay::open(RelayRequest {
        src_fd: src.as_raw_fd(),
        dst_fd: file.as_raw_fd(),
        prefix: Vec::new(),
        end: true,
    })
    .err()
    .unwrap();
    assert_eq!(err.code(), "EPERM");
    let closed = Relay::open(RelayRequest {
        src_fd: -1,
        dst_fd: src.as_raw_fd(),
        prefix: Vec::new(),
        end: true,
    })
    .err()
    .unwrap();
    assert_eq!(closed.code(), "EBADF");
}

/// A relay whose destination is full waits for that destination alone: epoll watches it for
/// writability only, and the source, where bytes keep arriving that the relay cannot take (its
/// pipe is full), not at all, so those bytes wake nobody. A relay that kept both ends registered
/// for both directions had its thread woken by every segment reaching the source (README,
/// *Proxy*). Read from the kernel's own account of every epoll instance in this process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_parked_on_a_full_destination_watches_only_the_destination() {
    let (src, src_peer) = tcp_pair();
    let (dst, dst_peer) = tcp_pair();
    let (src_inode, dst_inode) = (inode(&src), inode(&dst));
    let relay = Relay::open(RelayRequest {
        src_fd: src.as_raw_fd(),
        dst_fd: dst.as_raw_fd(),
        prefix: Vec::new(),
        end: true,
    })
    .unwrap();
    let cancel = CancellationToken::new();
    let running = tokio::spawn(relay.run(cancel.clone(), |_| {}));
    // Writes until the relay is gone; nobody reads dst_peer, so the relay fills the destination,
    // then its pipe, and parks for good while the source keeps receiving.
    let writer = thread::spawn(move || {
        let chunk = vec![5u8; 64 * 1024];
        let mut src_peer = src_peer;
        while src_peer.write_all(&chunk).is_ok() {}
    });

    let parked = wait_for(|| {
        let watches = epoll_watches();
        let on_dst = watches.iter().find(|w| w.inode == dst_inode)?;
        Some((on_dst.events, watches))
    });
    let (dst_events, watches) = parked;
    assert_ne!(dst_events & libc::EPOLLOUT as u32, 0, "{dst_events:#x}");
    assert_eq!(dst_events & libc::EPOLLIN as u32, 0, "{dst_events:#x}");
    // Bytes piled up at the source meanwhile (the writer never stops): still not watched.
    let src_watched: Vec<_> = watches.iter().filter(|w| w.inode == src_inode).collect();
    assert!(
        src_watched.is_empty(),
        "the source is watched: {src_watched:?}"
    );

    cancel.cancel();
    assert_eq!(running.await.unwrap().result, Err(Failure::Cancelled));
    // Closing both ends lets the writer fail out of its loop.
    drop((src, dst, dst_peer));
    writer.join().unwrap();
}

/// One registration in an epoll instance: the watched file's inode and the events asked for.
#[derive(Debug)]
struct Watch {
    inode: u64,
    events: u32,
}

/// Every registration in every epoll instance of this process, from `/proc/self/fdinfo`
/// (`tfd: N events: HEX data: HEX pos:N ino:HEX sdev:HEX` per watched descriptor).
fn epoll_watches() -> Vec<Watch> {
    let mut watches = Vec::new();
    for entry in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
        let is_epoll = std::fs::read_link(entry.path())
            .is_ok_and(|target| target.to_string_lossy() == "anon_inode:[eventpoll]");
        let name = entry.file_name();
        let info = format!("/proc/self/fdinfo/{}", name.to_string_lossy());
        // The descriptor may have closed since the listing: skip it.
        let Some(info) = is_epoll
            .then(|| std::fs::read_to_string(info).ok())
            .flatten()
        else {
            continue;
        };
        for line in info.lines().filter(|l| l.starts_with("tfd:")) {
            let field = |name: &str| {
                let at = line.find(name).unwrap() + name.len();
                let value = line[at..].split_whitespace().next().unwrap();
                u64::from_str_radix(value, 16).unwrap()
            };
            watches.push(Watch {
                inode: field("ino:"),
                events: field("events:") as u32,
            });
        }
    }
    watches
}

fn inode(socket: &TcpStream) -> u64 {
    nix::sys::stat::fstat(socket).unwrap().st_ino
}

/// Polls `check` until it answers (a state the relay reaches and keeps), failing after 30 s.
fn wait_for<T>(mut check: impl FnMut() -> Option<T>) -> T {
    for _ in 0..3000 {
        if let Some(found) = check() {
            return found;
        }
        thread::sleep(Duration::from_millis(10));
    }
    panic!("the relay never reached the awaited state");
}
