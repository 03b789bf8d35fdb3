//! The two ends of `bench/proxy.mjs`'s connections, as cheap as they can be made so that the relay
//! in the middle is what the benchmark measures:
//!
//! - `sink --listen ADDR`: per connection, splices everything it receives into /dev/null (no copy
//!   to user space), and when the sender ends, answers with the byte count (8 bytes, little
//!   endian) and closes. Prints `{"port":PORT}` once listening.
//! - `client --to ADDR --bytes N`: connects, writes N bytes from one reused buffer, half-closes,
//!   and waits for the sink's count to come back through the relay. Prints one JSON line:
//!   `{"bytes":N,"seconds":S}`, timed from connect to the count — delivery, not buffering.
//!
//! ```text
//! cargo build --release -p zerosend-core --example relay_load
//! B=target/release/examples/relay_load
//! $B sink --listen 127.0.0.1:0            # {"port":9000}
//! $B client --to 127.0.0.1:9000 --bytes 2147483648
//! ```

#[cfg(target_os = "linux")]
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("sink") => linux::sink(&args[1..]),
        Some("client") => linux::client(&args[1..]),
        _ => Err("usage: relay_load sink|client [options] (see the file's doc comment)".into()),
    };
    if let Err(message) = result {
        eprintln!("relay_load: {message}");
        std::process::exit(2);
    }
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("relay_load: uses splice(2), Linux only");
    std::process::exit(2);
}

#[cfg(target_os = "linux")]
mod linux {
    use std::fs::OpenOptions;
    use std::io::{Read, Write};
    use std::net::{Shutdown, TcpListener, TcpStream};
    use std::os::fd::AsFd;
    use std::thread;
    use std::time::Instant;

    use nix::fcntl::{fcntl, splice, FcntlArg, OFlag, SpliceFFlags};

    const PIPE_BYTES: usize = 1 << 20;

    fn flag(args: &[String], name: &str) -> Option<String> {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    }

    pub fn sink(args: &[String]) -> Result<(), String> {
        let listen = flag(args, "--listen").unwrap_or_else(|| "127.0.0.1:0".into());
        let listener = TcpListener::bind(&listen).map_err(|e| format!("bind {listen}: {e}"))?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        println!("{{\"port\":{port}}}");
        for connection in listener.incoming() {
            let connection = connection.map_err(|e| e.to_string())?;
            thread::spawn(move || {
                if let Err(e) = drain(connection) {
                    eprintln!("relay_load sink: {e}");
                }
            });
        }
        Ok(())
    }

    fn drain(mut connection: TcpStream) -> Result<(), String> {
        let null = OpenOptions::new()
            .write(true)
            .open("/dev/null")
            .map_err(|e| e.to_string())?;
        let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| e.to_string())?;
        let _ = fcntl(write.as_fd(), FcntlArg::F_SETPIPE_SZ(PIPE_BYTES as i32));
        let mut total = 0u64;
        loop {
            let n = splice(
                &connection,
                None,
                &write,
                None,
                PIPE_BYTES,
                SpliceFFlags::SPLICE_F_MOVE,
            )
            .map_err(|e| format!("splice from socket: {e}"))?;
            if n == 0 {
                break;
            }
            total += n as u64;
            let mut left = n;
            while left > 0 {
                left -= splice(&read, None, &null, None, left, SpliceFFlags::SPLICE_F_MOVE)
                    .map_err(|e| format!("splice to /dev/null: {e}"))?;
            }
        }
        connection
            .write_all(&total.to_le_bytes())
            .map_err(|e| e.to_string())?;
        connection
            .shutdown(Shutdown::Write)
            .map_err(|e| e.to_string())
    }

    pub fn client(args: &[String]) -> Result<(), String> {
        let to = flag(args, "--to").ok_or("--to HOST:PORT is required")?;
        let bytes: u64 = flag(args, "--bytes")
            .ok_or("--bytes N is required")?
            .parse()
            .map_err(|_| "--bytes must be a number")?;
        let buffer = vec![0x5a_u8; 4 << 20];
        let started = Instant::now();
        let mut socket = TcpStream::connect(&to).map_err(|e| format!("connect {to}: {e}"))?;
        let mut left = bytes;
        while left > 0 {
            let n = left.min(buffer.len() as u64) as usize;
            socket
                .write_all(&buffer[..n])
                .map_err(|e| format!("write: {e}"))?;
            left -= n as u64;
        }
        socket
            .shutdown(Shutdown::Write)
            .map_err(|e| e.to_string())?;
        let mut answer = Vec::new();
        socket
            .read_to_end(&mut answer)
            .map_err(|e| format!("read the count: {e}"))?;
        let seconds = started.elapsed().as_secs_f64();
        let counted = answer
            .get(..8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap()));
        if counted != Some(bytes) {
            return Err(format!(
                "the sink counted {counted:?} bytes, {bytes} were sent"
            ));
        }
        println!("{{\"bytes\":{bytes},\"seconds\":{seconds}}}");
        Ok(())
    }
}
