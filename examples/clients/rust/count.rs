// count: adds --counts to a joules::Counter from --threads threads (1 ms pause every 1,000
// counts), then flushes (retrying until joulesd took the count) and lingers 1 s, so joulesd can
// map the last datagram to this process's service. tests/integration/clients-rust.sh runs it.
mod joules;
use std::time::Duration;

static COUNTER: joules::Counter = joules::Counter::new("requests");

#[repr(C)]
struct Timespec {
    sec: i64,
    nsec: i64,
}
extern "C" {
    fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
}

/// The process's CPU time (CLOCK_PROCESS_CPUTIME_ID), ns: std has no call for it.
fn cpu_ns() -> i64 {
    let mut ts = Timespec { sec: 0, nsec: 0 };
    unsafe { clock_gettime(2, &mut ts) };
    ts.sec * 1_000_000_000 + ts.nsec
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str, default: u64| {
        args.iter()
            .position(|a| a == name)
            .map_or(default, |i| args[i + 1].parse().unwrap())
    };
    let (counts, threads) = (arg("--counts", 100000), arg("--threads", 4));
    let cpu0 = cpu_ns();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            std::thread::spawn(move || {
                for i in 1..=counts / threads {
                    COUNTER.add(1);
                    if i % 1000 == 0 {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let cpu = cpu_ns() - cpu0;
    let mut r = COUNTER.flush();
    for _ in 0..500 {
        if r.is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
        r = COUNTER.flush();
    }
    if let Err(e) = r {
        eprintln!("count: flush: {}", e);
        std::process::exit(1);
    }
    // the loop's CPU time (the process's), sends included: an upper bound on the add's cost
    println!(
        "added {}; {:.1} ns of CPU per count",
        counts,
        cpu as f64 / counts as f64
    );
    std::thread::sleep(Duration::from_secs(1));
}
