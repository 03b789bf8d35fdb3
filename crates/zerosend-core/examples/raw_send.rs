//! The limit: each method as a bare Rust loop of system calls, with no Node and no zerosend in it,
//! plus the benchmark's receiver. `bench/transfer.mjs` runs both; by hand:
//!
//! ```text
//! cargo build --release -p zerosend-core --example raw_send
//! B=target/release/examples/raw_send
//! $B recv --tcp 127.0.0.1:0 --unix /tmp/zs.sock          # prints: {"tcp":PORT,"unix":"/tmp/zs.sock"}
//! $B send --tcp 127.0.0.1:PORT --file /tmp/f --method sendfile --call 2097152 --repeat 10 --samples 5
//! ```
//!
//! `send` options: `--method sendfile|splice|mmap|copy`; `--call N` (bytes one call asks for; the
//! copy buffer); `--pipe N` (splice: F_SETPIPE_SZ); `--window N` (mmap: bytes per mapping, 0 =
//! the whole file) and `--no-populate 1`; `--blocking 1` (a blocking socket instead of poll on
//! EAGAIN); `--open-each 0` (open the file once instead of open + fstat + close per transfer, as
//! transfer(path) does); `--file @LIST` (send the files named in LIST in turn); `--repeat N`
//! transfers per sample. `recv` options: `--buf N` (read size), `--exit-on-eof 1`.
//!
//! The wire protocol (shared with the Node sender in `bench/transfer.mjs`): a connection starts with
//! an 8-byte little-endian batch size B. The receiver answers at once, and again each time the
//! bytes it has read since the header reach another multiple of B, with 8 bytes: the CPU time its
//! thread for this connection has used so far, in microseconds (user + system). A sample is "send
//! B bytes, wait for the answer", so it times delivery to the receiving process, not just to the
//! sender's socket buffer.
//!
//! `send` prints one JSON line per sample (with `--samples 0`, one per line read from stdin):
//! bytes, seconds, the sender's CPU seconds (getrusage: the same counters as /proc/<pid>/stat
//! utime+stime, in microseconds), the receiver's, and the whole machine's busy CPU seconds from
//! /proc/stat.

#[cfg(target_os = "linux")]
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("recv") => linux::receive(&args[1..]),
        Some("send") => linux::send(&args[1..]),
        _ => Err("usage: raw_send recv|send [options] (see the file's doc comment)".to_string()),
    };
    if let Err(message) = result {
        eprintln!("raw_send: {message}");
        std::process::exit(2);
    }
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("raw_send: the raw loops use Linux system calls (splice, sendfile64, MAP_POPULATE)");
    std::process::exit(2);
}

#[cfg(target_os = "linux")]
mod linux {
    use std::collections::HashMap;
    use std::ffi::c_void;
    use std::fs::File;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::{AsRawFd, RawFd};
    use std::os::unix::net::{UnixListener, UnixStream};
    use std::time::Instant;

    type Result<T> = std::result::Result<T, String>;

    /// `--name value` pairs.
    struct Options(HashMap<String, String>);

    impl Options {
        fn parse(args: &[String]) -> Result<Self> {
            let mut map = HashMap::new();
            let mut it = args.iter();
            while let Some(key) = it.next() {
                let name = key
                    .strip_prefix("--")
                    .ok_or_else(|| format!("expected --option, got {key}"))?;
                // Flags without a value are written `--flag 1` to keep the parser trivial.
                let value = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
                map.insert(name.to_string(), value.clone());
            }
            Ok(Options(map))
        }
        fn get(&self, name: &str) -> Option<&str> {
            self.0.get(name).map(String::as_str)
        }
        fn num(&self, name: &str, default: u64) -> Result<u64> {
            match self.get(name) {
                None => Ok(default),
                Some(v) => v
                    .parse()
                    .map_err(|_| format!("--{name}: not a number: {v}")),
            }
        }
        fn flag(&self, name: &str) -> bool {
            matches!(self.get(name), Some("1" | "true" | "yes"))
        }
    }

    fn os_error(what: &str) -> String {
        format!("{what}: {}", std::io::Error::last_os_error())
    }

    fn errno() -> i32 {
        std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
    }

    /// CPU time (user + system) in microseconds: of the whole process (`RUSAGE_SELF`), or of the
    /// calling thread only (`RUSAGE_THREAD`: the receiver serves each connection on its own thread,
    /// so one connection's answers do not count the work of another).
    fn cpu_micros_of(who: libc::c_int) -> u64 {
        // SAFETY: getrusage writes into the struct we hand it.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        unsafe { libc::getrusage(who, &mut usage) };
        let tv = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
        tv(usage.ru_utime) + tv(usage.ru_stime)
    }

    fn cpu_micros() -> u64 {
        cpu_micros_of(libc::RUSAGE_SELF)
    }

    fn thread_cpu_micros() -> u64 {
        cpu_micros_of(libc::RUSAGE_THREAD)
    }

    /// Busy and total CPU seconds of the whole machine since boot (the `cpu` line of /proc/stat).
    fn machine_cpu() -> (f64, f64) {
        let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let fields: Vec<f64> = stat
            .lines()
            .next()
            .unwrap_or("")
            .split_whitespace()
            .skip(1)
            .take(8)
            .map(|f| f.parse().unwrap_or(0.0))
            .collect();
        if fields.len() < 8 {
            return (0.0, 0.0);
        }
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        // user nice system idle iowait irq softirq steal
        let busy = fields[0] + fields[1] + fields[2] + fields[5] + fields[6] + fields[7];
        let total: f64 = fields.iter().sum();
        (busy / hz, total / hz)
    }

    // ---------------------------------------------------------------- receiver

    pub fn receive(args: &[String]) -> Result<()> {
        let opts = Options::parse(args)?;
        let buf_bytes = opts.num("buf", 256 * 1024)? as usize;
        let tcp = match opts.get("tcp") {
            Some(addr) => Some(TcpListener::bind(addr).map_err(|e| format!("bind {addr}: {e}"))?),
            None => None,
        };
        let unix = match opts.get("unix") {
            Some(path) => {
                let _ = std::fs::remove_file(path);
                Some(UnixListener::bind(path).map_err(|e| format!("bind {path}: {e}"))?)
            }
            None => None,
        };
        let port = match &tcp {
            Some(l) => l
                .local_addr()
                .map_err(|e| e.to_string())?
                .port()
                .to_string(),
            None => "null".into(),
        };
        let path = match opts.get("unix") {
            Some(p) => format!("\"{p}\""),
            None => "null".into(),
        };
        println!(
            "{{\"tcp\":{port},\"unix\":{path},\"pid\":{}}}",
            std::process::id()
        );
        std::io::stdout().flush().ok();
        if opts.flag("exit-on-eof") {
            // The benchmark holds our stdin open: when it dies, even by a signal, we go too.
            std::thread::spawn(|| {
                let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
                std::process::exit(0);
            });
        }
        let mut threads = Vec::new();
        if let Some(listener) = unix {
            threads.push(std::thread::spawn(move || {
                for conn in listener.incoming().flatten() {
                    std::thread::spawn(move || serve(conn, buf_bytes));
                }
            }));
        }
        if let Some(listener) = tcp {
            threads.push(std::thread::spawn(move || {
                for conn in listener.incoming().flatten() {
                    let _ = conn.set_nodelay(true);
                    std::thread::spawn(move || serve(conn, buf_bytes));
                }
            }));
        }
        for t in threads {
            let _ = t.join();
        }
        Ok(())
    }

    /// Reads like a real client would (into a user buffer), counts, and answers at each batch.
    fn serve(mut conn: impl Read + Write, buf_bytes: usize) {
        let mut header = [0u8; 8];
        if conn.read_exact(&mut header).is_err() {
            return;
        }
        let batch = u64::from_le_bytes(header).max(1);
        if conn.write_all(&thread_cpu_micros().to_le_bytes()).is_err() {
            return;
        }
        let mut buf = vec![0u8; buf_bytes];
        let mut count = 0u64;
        let mut next = batch;
        loop {
            match conn.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => count += n as u64,
            }
            while count >= next {
                if conn.write_all(&thread_cpu_micros().to_le_bytes()).is_err() {
                    return;
                }
                next += batch;
            }
        }
    }

    // ---------------------------------------------------------------- sender

    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Method {
        Sendfile,
        Splice,
        Mmap,
        Copy,
    }

    struct Config {
        method: Method,
        /// Bytes one send-side call asks for at most.
        call: usize,
        /// mmap: bytes one mapping covers; 0 = the whole file.
        window: u64,
        populate: bool,
        /// splice: F_SETPIPE_SZ; 0 = leave the kernel's default.
        pipe: usize,
        /// Poll on EAGAIN (what zerosend's driver does) instead of a blocking socket.
        nonblocking: bool,
        /// Open + fstat + close the file for every transfer (what transfer(path) does).
        open_each: bool,
    }

    pub fn send(args: &[String]) -> Result<()> {
        let opts = Options::parse(args)?;
        // `--file PATH`, or `--file @LIST`: a file naming one path per line, all of one size,
        // sent in turn (a working set larger than the CPU caches, like a server's many files).
        let file = opts.get("file").ok_or("--file is required")?.to_string();
        let files: Vec<String> = match file.strip_prefix('@') {
            Some(list) => std::fs::read_to_string(list)
                .map_err(|e| format!("{list}: {e}"))?
                .lines()
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect(),
            None => vec![file.clone()],
        };
        let file = files.first().ok_or("--file: empty list")?.clone();
        let mut next_file = 0usize;
        let method = match opts.get("method").unwrap_or("sendfile") {
            "sendfile" => Method::Sendfile,
            "splice" => Method::Splice,
            "mmap" => Method::Mmap,
            "copy" => Method::Copy,
            other => return Err(format!("unknown method {other}")),
        };
        let config = Config {
            method,
            call: opts.num("call", 2 * 1024 * 1024)? as usize,
            window: opts.num("window", 16 * 1024 * 1024)?,
            populate: !opts.flag("no-populate"),
            pipe: opts.num("pipe", 1024 * 1024)? as usize,
            nonblocking: !opts.flag("blocking"),
            open_each: opts.get("open-each") != Some("0"),
        };
        let repeat = opts.num("repeat", 1)?.max(1);
        let samples = opts.num("samples", 5)?;
        let size = std::fs::metadata(&file)
            .map_err(|e| format!("{file}: {e}"))?
            .len();
        let batch = size * repeat;

        let mut conn: Box<dyn Conn> = match (opts.get("tcp"), opts.get("unix")) {
            (Some(addr), _) => {
                let s = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
                s.set_nodelay(true).map_err(|e| e.to_string())?;
                Box::new(s)
            }
            (None, Some(path)) => {
                Box::new(UnixStream::connect(path).map_err(|e| format!("connect {path}: {e}"))?)
            }
            _ => return Err("--tcp or --unix is required".into()),
        };
        conn.write_all(&batch.to_le_bytes())
            .map_err(|e| e.to_string())?;
        let mut recv_cpu = read_answer(&mut *conn)?;
        let sock = conn.raw();
        if config.nonblocking {
            set_nonblocking(sock, true)?;
        }
        let mut pipe = if method == Method::Splice {
            Some(Pipe::new(config.pipe)?)
        } else {
            None
        };
        let held = if config.open_each {
            None
        } else {
            Some(File::open(&file).map_err(|e| e.to_string())?)
        };
        let mut buf = vec![
            0u8;
            if method == Method::Copy {
                config.call
            } else {
                0
            }
        ];

        // `--samples 0`: one sample per line read from stdin, until EOF, so a benchmark can keep
        // this process and its (warmed-up) connection and interleave its samples with others'.
        let mut stdin = std::io::stdin().lines();
        let mut taken = 0u64;
        loop {
            if samples == 0 {
                if stdin.next().is_none() {
                    break;
                }
            } else if taken == samples {
                break;
            }
            taken += 1;
            let (busy0, total0) = machine_cpu();
            let cpu0 = cpu_micros();
            let t0 = Instant::now();
            for _ in 0..repeat {
                let opened;
                let src = match &held {
                    Some(f) => f,
                    None => {
                        let path = &files[next_file % files.len()];
                        next_file += 1;
                        opened = File::open(path).map_err(|e| format!("{path}: {e}"))?;
                        // transfer() learns the size with fstat; so does the raw loop.
                        opened.metadata().map_err(|e| e.to_string())?;
                        &opened
                    }
                };
                send_file(
                    sock,
                    src.as_raw_fd(),
                    size,
                    &config,
                    pipe.as_mut(),
                    &mut buf,
                )?;
            }
            if config.nonblocking {
                set_nonblocking(sock, false)?;
            }
            let recv_after = read_answer(&mut *conn)?;
            if config.nonblocking {
                set_nonblocking(sock, true)?;
            }
            let secs = t0.elapsed().as_secs_f64();
            let cpu = (cpu_micros() - cpu0) as f64 / 1e6;
            let (busy1, total1) = machine_cpu();
            println!(
                "{{\"bytes\":{batch},\"transfers\":{repeat},\"secs\":{secs},\"cpu\":{cpu},\"recvCpu\":{},\"machineBusy\":{},\"machineTotal\":{}}}",
                (recv_after - recv_cpu) as f64 / 1e6,
                busy1 - busy0,
                total1 - total0
            );
            std::io::stdout().flush().map_err(|e| e.to_string())?;
            recv_cpu = recv_after;
        }
        Ok(())
    }

    trait Conn: Read + Write {
        fn raw(&self) -> RawFd;
    }
    impl Conn for TcpStream {
        fn raw(&self) -> RawFd {
            self.as_raw_fd()
        }
    }
    impl Conn for UnixStream {
        fn raw(&self) -> RawFd {
            self.as_raw_fd()
        }
    }

    fn read_answer(conn: &mut dyn Conn) -> Result<u64> {
        let mut answer = [0u8; 8];
        conn.read_exact(&mut answer)
            .map_err(|e| format!("receiver answer: {e}"))?;
        Ok(u64::from_le_bytes(answer))
    }

    fn set_nonblocking(fd: RawFd, on: bool) -> Result<()> {
        // SAFETY: fcntl on a descriptor we own.
        unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFL);
            let flags = if on {
                flags | libc::O_NONBLOCK
            } else {
                flags & !libc::O_NONBLOCK
            };
            if libc::fcntl(fd, libc::F_SETFL, flags) < 0 {
                return Err(os_error("fcntl"));
            }
        }
        Ok(())
    }

    /// Waits until the socket is writable (the raw equivalent of parking on epoll).
    fn wait_writable(fd: RawFd) {
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLOUT,
            revents: 0,
        };
        // SAFETY: one pollfd we own.
        unsafe { libc::poll(&mut pfd, 1, -1) };
    }

    /// Handles a return value: Ok(Some(n)) progress, Ok(None) retry (after waiting if EAGAIN).
    fn check(ret: isize, sock: RawFd, what: &str) -> Result<Option<usize>> {
        if ret >= 0 {
            return Ok(Some(ret as usize));
        }
        match errno() {
            libc::EINTR => Ok(None),
            libc::EAGAIN => {
                wait_writable(sock);
                Ok(None)
            }
            _ => Err(os_error(what)),
        }
    }

    fn send_file(
        sock: RawFd,
        file: RawFd,
        size: u64,
        config: &Config,
        pipe: Option<&mut Pipe>,
        buf: &mut [u8],
    ) -> Result<()> {
        match config.method {
            Method::Sendfile => sendfile_loop(sock, file, size, config.call),
            Method::Splice => splice_loop(sock, file, size, config.call, pipe.expect("a pipe")),
            Method::Mmap => mmap_loop(sock, file, size, config),
            Method::Copy => copy_loop(sock, file, size, buf),
        }
    }

    fn sendfile_loop(sock: RawFd, file: RawFd, size: u64, call: usize) -> Result<()> {
        let mut off: libc::off64_t = 0;
        while (off as u64) < size {
            let want = (size - off as u64).min(call as u64) as usize;
            // SAFETY: valid descriptors and an offset we own.
            let ret = unsafe { libc::sendfile64(sock, file, &mut off, want) };
            if check(ret, sock, "sendfile")? == Some(0) {
                return Err("sendfile: file ended early".into());
            }
        }
        Ok(())
    }

    struct Pipe {
        read: RawFd,
        write: RawFd,
        capacity: usize,
    }

    impl Pipe {
        fn new(size: usize) -> Result<Pipe> {
            let mut fds = [0; 2];
            // SAFETY: pipe2 fills the two descriptors.
            if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } < 0 {
                return Err(os_error("pipe2"));
            }
            let mut capacity = 64 * 1024;
            if size > 0 {
                // SAFETY: fcntl on the pipe we just made.
                let got = unsafe { libc::fcntl(fds[1], libc::F_SETPIPE_SZ, size as libc::c_int) };
                if got > 0 {
                    capacity = got as usize;
                }
            }
            Ok(Pipe {
                read: fds[0],
                write: fds[1],
                capacity,
            })
        }
    }

    impl Drop for Pipe {
        fn drop(&mut self) {
            // SAFETY: our own descriptors, closed once.
            unsafe {
                libc::close(self.read);
                libc::close(self.write);
            }
        }
    }

    fn splice_loop(
        sock: RawFd,
        file: RawFd,
        size: u64,
        call: usize,
        pipe: &mut Pipe,
    ) -> Result<()> {
        let mut off: libc::loff_t = 0;
        let flags = libc::SPLICE_F_MOVE | libc::SPLICE_F_NONBLOCK;
        while (off as u64) < size {
            let want = (size - off as u64)
                .min(call as u64)
                .min(pipe.capacity as u64) as usize;
            // SAFETY: valid descriptors; the pipe is empty here.
            let filled = unsafe {
                libc::splice(
                    file,
                    &mut off,
                    pipe.write,
                    std::ptr::null_mut(),
                    want,
                    flags,
                )
            };
            let mut buffered = match check(filled, sock, "splice in")? {
                Some(0) => return Err("splice: file ended early".into()),
                Some(n) => n,
                None => continue,
            };
            while buffered > 0 {
                let more = if (off as u64) < size {
                    libc::SPLICE_F_MORE
                } else {
                    0
                };
                // SAFETY: valid descriptors.
                let drained = unsafe {
                    libc::splice(
                        pipe.read,
                        std::ptr::null_mut(),
                        sock,
                        std::ptr::null_mut(),
                        buffered,
                        flags | more,
                    )
                };
                if let Some(n) = check(drained, sock, "splice out")? {
                    buffered -= n;
                }
            }
        }
        Ok(())
    }

    fn mmap_loop(sock: RawFd, file: RawFd, size: u64, config: &Config) -> Result<()> {
        if size == 0 {
            return Ok(());
        }
        let window = if config.window == 0 {
            size
        } else {
            config.window
        };
        let mut start = 0u64;
        while start < size {
            let len = (size - start).min(window) as usize;
            let flags = libc::MAP_SHARED
                | if config.populate {
                    libc::MAP_POPULATE
                } else {
                    0
                };
            // SAFETY: a fresh read-only mapping of our own descriptor; only write() reads it.
            let addr = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    libc::PROT_READ,
                    flags,
                    file,
                    start as libc::off_t,
                )
            };
            if addr == libc::MAP_FAILED {
                return Err(os_error("mmap"));
            }
            let mut done = 0usize;
            let result = loop {
                if done == len {
                    break Ok(());
                }
                let want = (len - done).min(config.call);
                let more = start + ((done + want) as u64) < size;
                let msg = libc::MSG_NOSIGNAL | if more { libc::MSG_MORE } else { 0 };
                // SAFETY: [done, done + want) lies inside the mapping.
                let ret = unsafe {
                    libc::send(
                        sock,
                        (addr as *const u8).add(done) as *const c_void,
                        want,
                        msg,
                    )
                };
                match check(ret, sock, "send") {
                    Ok(Some(n)) => done += n,
                    Ok(None) => {}
                    Err(e) => break Err(e),
                }
            };
            // SAFETY: exactly what mmap returned.
            unsafe { libc::munmap(addr, len) };
            result?;
            start += len as u64;
        }
        Ok(())
    }

    fn copy_loop(sock: RawFd, file: RawFd, size: u64, buf: &mut [u8]) -> Result<()> {
        let mut off = 0u64;
        while off < size {
            let want = (size - off).min(buf.len() as u64) as usize;
            // SAFETY: reads into our own buffer.
            let got = unsafe {
                libc::pread64(
                    file,
                    buf.as_mut_ptr() as *mut c_void,
                    want,
                    off as libc::off64_t,
                )
            };
            let got = match got {
                0 => return Err("pread: file ended early".into()),
                n if n < 0 && errno() == libc::EINTR => continue,
                n if n < 0 => return Err(os_error("pread")),
                n => n as usize,
            };
            let mut sent = 0;
            while sent < got {
                let more = off + (got as u64) < size;
                let msg = libc::MSG_NOSIGNAL | if more { libc::MSG_MORE } else { 0 };
                // SAFETY: [sent, got) of our own buffer.
                let ret = unsafe {
                    libc::send(
                        sock,
                        buf[sent..got].as_ptr() as *const c_void,
                        got - sent,
                        msg,
                    )
                };
                if let Some(n) = check(ret, sock, "send")? {
                    sent += n;
                }
            }
            off += got as u64;
        }
        Ok(())
    }
}
