//! The limit for `bench/proxy.mjs`: a TCP relay with no Node in it. Every connection accepted on
//! `--listen` is relayed both ways to `--to`.
//!
//! - `--mode threads` (the raw relay): two blocking threads per connection, each a bare
//!   `splice(socket → pipe)`, `splice(pipe → socket)` loop over its own 1 MiB pipe — what a C
//!   relay does, and the fewest system calls per byte there can be.
//! - `--mode core`: zerosend-core's own `Proxy` on its relay threads — the same code, on the same
//!   threads, as `proxy()` in Node, without Node: the table can tell the core's cost from Node's.
//!
//! ```text
//! cargo build --release -p zerosend-core --example splice_relay
//! target/release/examples/splice_relay --mode threads --listen 127.0.0.1:0 --to 127.0.0.1:9000
//! # prints {"port":PORT} once listening
//! ```

#[cfg(target_os = "linux")]
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Err(message) = linux::run(&args) {
        eprintln!("splice_relay: {message}");
        std::process::exit(2);
    }
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("splice_relay: splice(2) is Linux only");
    std::process::exit(2);
}

#[cfg(target_os = "linux")]
mod linux {
    use std::net::{Shutdown, TcpListener, TcpStream};
    use std::os::fd::{AsFd, AsRawFd, OwnedFd};
    use std::thread;

    use nix::fcntl::{fcntl, splice, FcntlArg, OFlag, SpliceFFlags};
    use tokio_util::sync::CancellationToken;
    use zerosend_core::{Proxy, ProxyRequest, RelayWorkers};

    const PIPE_BYTES: usize = 1 << 20;

    pub fn run(args: &[String]) -> Result<(), String> {
        let flag = |name: &str| {
            args.iter()
                .position(|a| a == name)
                .and_then(|i| args.get(i + 1))
                .cloned()
        };
        let listen = flag("--listen").unwrap_or_else(|| "127.0.0.1:0".into());
        let to = flag("--to").ok_or("--to HOST:PORT is required")?;
        let mode = flag("--mode").unwrap_or_else(|| "threads".into());
        let listener = TcpListener::bind(&listen).map_err(|e| format!("bind {listen}: {e}"))?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        println!("{{\"port\":{port}}}");
        match mode.as_str() {
            "threads" => serve_threads(listener, &to),
            "core" => serve_core(listener, &to),
            other => Err(format!("unknown --mode {other} (threads or core)")),
        }
    }

    fn serve_threads(listener: TcpListener, to: &str) -> Result<(), String> {
        for client in listener.incoming() {
            let client = client.map_err(|e| e.to_string())?;
            let upstream = TcpStream::connect(to).map_err(|e| format!("connect {to}: {e}"))?;
            let (c2, u2) = (
                client.try_clone().map_err(|e| e.to_string())?,
                upstream.try_clone().map_err(|e| e.to_string())?,
            );
            thread::spawn(move || pump(&client, &upstream));
            thread::spawn(move || pump(&u2, &c2));
        }
        Ok(())
    }

    /// One direction: blocking splices through a pipe until the source ends, then a half-close.
    fn pump(src: &TcpStream, dst: &TcpStream) {
        let Ok((read, write)) = nix::unistd::pipe2(OFlag::O_CLOEXEC) else {
            return;
        };
        let _ = fcntl(write.as_fd(), FcntlArg::F_SETPIPE_SZ(PIPE_BYTES as i32));
        if relay(src, dst, &read, &write).is_ok() {
            let _ = dst.shutdown(Shutdown::Write);
        } else {
            let _ = src.shutdown(Shutdown::Both);
            let _ = dst.shutdown(Shutdown::Both);
        }
    }

    fn relay(src: &TcpStream, dst: &TcpStream, read: &OwnedFd, write: &OwnedFd) -> nix::Result<()> {
        loop {
            let n = splice(
                src,
                None,
                write,
                None,
                PIPE_BYTES,
                SpliceFFlags::SPLICE_F_MOVE,
            )?;
            if n == 0 {
                return Ok(());
            }
            let mut left = n;
            while left > 0 {
                left -= splice(read, None, dst, None, left, SpliceFFlags::SPLICE_F_MOVE)?;
            }
        }
    }

    fn serve_core(listener: TcpListener, to: &str) -> Result<(), String> {
        // Where proxy() in Node runs them too: zerosend's relay threads.
        let workers = RelayWorkers::global();
        for client in listener.incoming() {
            let client = client.map_err(|e| e.to_string())?;
            let upstream = TcpStream::connect(to).map_err(|e| format!("connect {to}: {e}"))?;
            let proxy = Proxy::open(ProxyRequest {
                a_fd: client.as_raw_fd(),
                b_fd: upstream.as_raw_fd(),
                a_to_b_prefix: Vec::new(),
                b_to_a_prefix: Vec::new(),
            })
            .map_err(|e| e.to_string())?;
            // The proxy works on its own dups; ours can close now.
            drop((client, upstream));
            drop(workers.spawn(proxy.run(CancellationToken::new())));
        }
        Ok(())
    }
}
