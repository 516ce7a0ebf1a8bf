//! What loading is doing, for big schema sets that take a while: a line per phase in the log
//! (`rosetta::load`, at info), and on a terminal, once loading has taken a second, the
//! current phase and the time so far on one line of standard error, cleared at the end.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long loading may take before the terminal shows what it is doing.
const QUIET_FOR: Duration = Duration::from_secs(1);

pub(super) struct Progress {
    started: Instant,
    /// The phase running, and since when.
    current: Arc<Mutex<(&'static str, Instant)>>,
    done: Arc<AtomicBool>,
    ticker: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    pub(super) fn start(first: &'static str) -> Progress {
        let now = Instant::now();
        let current = Arc::new(Mutex::new((first, now)));
        let done = Arc::new(AtomicBool::new(false));
        let ticker = std::io::stderr().is_terminal().then(|| {
            let (current, done) = (current.clone(), done.clone());
            std::thread::spawn(move || show(now, &current, &done))
        });
        Progress {
            started: now,
            current,
            done,
            ticker,
        }
    }

    /// The current phase is over; `next` begins.
    pub(super) fn phase(&self, next: &'static str) {
        if let Ok(mut current) = self.current.lock() {
            log(current.0, current.1);
            *current = (next, Instant::now());
        }
    }

    pub(super) fn finish(mut self) {
        if let Ok(current) = self.current.lock() {
            log(current.0, current.1);
        }
        self.done.store(true, Ordering::Relaxed);
        if let Some(ticker) = self.ticker.take() {
            let _ = ticker.join();
        }
        let ms = self.started.elapsed().as_millis();
        tracing::info!(target: "rosetta::load", "loaded in {ms} ms");
    }
}

fn log(phase: &str, since: Instant) {
    let ms = since.elapsed().as_millis();
    tracing::info!(target: "rosetta::load", "{phase}: {ms} ms");
}

/// The terminal line: nothing for the first second, then the phase every quarter second.
fn show(started: Instant, current: &Mutex<(&'static str, Instant)>, done: &AtomicBool) {
    let mut shown = false;
    while !done.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
        if started.elapsed() < QUIET_FOR || done.load(Ordering::Relaxed) {
            continue;
        }
        let phase = current.lock().map(|c| c.0).unwrap_or("loading");
        let seconds = started.elapsed().as_secs_f64();
        // `\r` and erase-line: the line is rewritten in place.
        eprint!("\r\x1b[2Kloading: {phase} ({seconds:.1} s)");
        let _ = std::io::stderr().flush();
        shown = true;
        std::thread::sleep(Duration::from_millis(150));
    }
    if shown {
        eprint!("\r\x1b[2K");
    }
}
