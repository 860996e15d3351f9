//! Counts requests for joulesd: an aggregating counter sending its total to the ingest socket
//! every 100 ms from a thread started on first use. std only; public domain (CC0), copy it.
//! joulesd learns the sending service from the kernel (SO_PASSCRED on its socket).
//!
//!     static REQUESTS: joules::Counter = joules::Counter::new("requests");
//!     REQUESTS.add(1);     // per request, from any thread: one atomic add
//!     REQUESTS.flush().ok(); // at exit: send what is left
use std::io::{Error, ErrorKind};
use std::os::unix::net::UnixDatagram;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, Once};
use std::time::Duration;

pub struct Counter {
    name: &'static str,
    pending: AtomicU64,
    start: Once,
    sock: Mutex<Option<UnixDatagram>>, // held by whoever sends
}

impl Counter {
    pub const fn new(name: &'static str) -> Counter {
        Counter {
            name,
            pending: AtomicU64::new(0),
            start: Once::new(),
            sock: Mutex::new(None),
        }
    }

    /// Counts n. Never blocks, never fails: a count that cannot be sent yet is kept.
    pub fn add(&'static self, n: u64) {
        self.pending.fetch_add(n, Relaxed);
        self.start.call_once(|| {
            std::thread::spawn(move || loop {
                std::thread::sleep(Duration::from_millis(100));
                let _ = self.flush();
            });
        });
    }

    /// Sends what is counted now; on error (joulesd down, its queue full) the count is kept.
    pub fn flush(&self) -> std::io::Result<()> {
        let mut sock = self.sock.lock().unwrap_or_else(|e| e.into_inner());
        let n = self.pending.swap(0, Relaxed);
        if n == 0 {
            return Ok(());
        }
        let r = Self::send(&mut sock, format!("{}:{}|c", self.name, n).as_bytes());
        if let Err(e) = &r {
            self.pending.fetch_add(n, Relaxed);
            if e.kind() != ErrorKind::WouldBlock {
                *sock = None; // joulesd restarted, or not there yet: a new socket next time
            }
        }
        r
    }

    fn send(sock: &mut Option<UnixDatagram>, line: &[u8]) -> std::io::Result<()> {
        if sock.is_none() {
            let path = std::env::var("JOULES_INGEST_SOCKET")
                .unwrap_or_else(|_| "/run/joules/ingest.sock".to_string());
            let s = UnixDatagram::unbound()?;
            s.connect(path)?;
            s.set_nonblocking(true)?;
            *sock = Some(s);
        }
        match sock.as_ref().unwrap().send(line) {
            Ok(k) if k == line.len() => Ok(()),
            Ok(_) => Err(Error::new(ErrorKind::Other, "short send")),
            Err(e) => Err(e),
        }
    }
}
