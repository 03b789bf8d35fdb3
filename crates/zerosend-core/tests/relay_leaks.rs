//! Descriptor accounting for the socket relays. Its own test binary with one test, because
//! counting `/proc/self/fd` is only meaningful when nothing else in the process opens sockets.

#![cfg(any(target_os = "linux", target_os = "android"))]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::thread;

use tokio_util::sync::CancellationToken;
use zerosend_core::{idle_pipes, Failure, Proxy, ProxyRequest, RelayWorkers};

fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let ours = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (peer, _) = listener.accept().unwrap();
    (ours, peer)
}

/// Open descriptors, not counting the pipe pool's idle pipes (two descriptors each).
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count() - 2 * idle_pipes()
}

fn open_proxy(a: &TcpStream, b: &TcpStream) -> Proxy {
    Proxy::open(ProxyRequest {
        a_fd: a.as_raw_fd(),
        b_fd: b.as_raw_fd(),
        a_to_b_prefix: Vec::new(),
        b_to_a_prefix: Vec::new(),
    })
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finished_failed_and_cancelled_proxies_leave_no_descriptor_behind() {
    // Warm up: the runtimes' own descriptors (epoll, eventfd) open on first use.
    assert_eq!(echo_through_proxies(5).await, 5);
    let before = open_fds();

    assert_eq!(echo_through_proxies(300).await, 300);
    assert_eq!(open_fds(), before, "after finished proxies");

    for _ in 0..100 {
        cancel_mid_stream().await;
    }
    assert_eq!(open_fds(), before, "after cancelled proxies");
}

async fn echo_through_proxies(count: usize) -> usize {
    let mut exact = 0;
    for i in 0..count {
        let (a, mut client) = tcp_pair();
        let (b, mut server) = tcp_pair();
        // Where Node's proxy() runs them: the relay threads (their runtimes open descriptors of
        // their own on first use, which the warm-up counts into the baseline).
        let running = RelayWorkers::global().run(open_proxy(&a, &b).run(CancellationToken::new()));
        let message = format!("message {i}");
        let echo = thread::spawn(move || {
            let mut got = Vec::new();
            server.read_to_end(&mut got).unwrap();
            server.write_all(&got).unwrap();
        });
        client.write_all(message.as_bytes()).unwrap();
        client.shutdown(Shutdown::Write).unwrap();
        let mut back = Vec::new();
        client.read_to_end(&mut back).unwrap();
        echo.join().unwrap();
        let outcome = running.await.unwrap();
        if outcome.result.is_ok() && back == message.as_bytes() {
            exact += 1;
        }
    }
    exact
}

/// A proxy cancelled while its pipe holds bytes the server does not read: the pipe must be
/// closed, not pooled, and our dups closed.
async fn cancel_mid_stream() {
    let (a, client) = tcp_pair();
    let (b, server) = tcp_pair();
    let cancel = CancellationToken::new();
    let running = tokio::spawn(open_proxy(&a, &b).run(cancel.clone()));
    // More than the socket buffers hold, so bytes get stuck in the proxy's pipe.
    let writer = thread::spawn(move || {
        let chunk = vec![7u8; 1 << 20];
        let mut client = client;
        while client.write_all(&chunk).is_ok() {}
    });
    let mut first = [0u8; 1];
    (&server).read_exact(&mut first).unwrap();
    cancel.cancel();
    let outcome = running.await.unwrap();
    assert_eq!(outcome.result, Err(Failure::Cancelled));
    assert!(outcome.a_to_b >= 1);
    // Closing both ends lets the writer thread fail out of its loop.
    drop((a, b, server));
    writer.join().unwrap();
}
