//! `vtremote top`: a live view of one or several helpers, read from their metrics
//! endpoints (`vtremoted --metrics-listen`). Each helper has a thread of its own that
//! scrapes it once per interval, so a helper that is down or slow shows as such without
//! holding up the others or the redraw.

mod exposition;
mod scrape;
mod view;

use std::io::{IsTerminal, Write};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use exposition::Samples;
use view::{render_row, render_unreachable, Row, Snapshot, HEADER};

/// The port `vtremoted --metrics-listen` is documented with.
pub const DEFAULT_METRICS_PORT: u16 = 9555;

#[derive(Debug, clap::Args)]
pub struct TopArgs {
    /// Metrics addresses of the helpers, HOST[:PORT], comma-separated or repeated. These
    /// are where each helper's --metrics-listen serves, not its session port.
    #[arg(required = true, value_delimiter = ',')]
    helpers: Vec<String>,
    /// Port for helpers given without one.
    #[arg(long, default_value_t = DEFAULT_METRICS_PORT)]
    metrics_port: u16,
    /// Print one plain snapshot (two scrapes, one interval apart) and exit.
    #[arg(long)]
    once: bool,
    /// Time between scrapes, in milliseconds.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(100..))]
    interval_ms: u64,
    /// How long one helper may take to answer, in milliseconds.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(50..))]
    timeout_ms: u64,
}

/// What `top` knows about one helper.
struct Helper {
    name: String,
    answers: Receiver<(Duration, Result<Samples, String>)>,
    prev: Option<Snapshot>,
    cur: Option<Snapshot>,
    error: Option<String>,
    /// Scrapes answered so far, good or bad.
    heard: u32,
}

impl Helper {
    fn spawn(name: String, interval: Duration, timeout: Duration, epoch: Instant) -> Helper {
        let (tx, answers) = mpsc::channel();
        let addr = name.clone();
        // The thread ends at its next send once `top` is gone.
        std::thread::spawn(move || loop {
            let started = Instant::now();
            let result = scrape::fetch(&addr, timeout)
                .map(|text| Samples::parse(&text))
                .map_err(|e| format!("{e:#}"));
            if tx.send((started - epoch, result)).is_err() {
                return;
            }
            std::thread::sleep(interval.saturating_sub(started.elapsed()));
        });
        Helper {
            name,
            answers,
            prev: None,
            cur: None,
            error: None,
            heard: 0,
        }
    }

    /// Takes every answer that arrived since the last look.
    fn take_answers(&mut self) {
        while let Ok((at, result)) = self.answers.try_recv() {
            self.heard += 1;
            match result {
                Ok(samples) => {
                    self.prev = self.cur.take();
                    self.cur = Some(Snapshot { samples, at });
                    self.error = None;
                }
                Err(e) => {
                    // Rates across an outage would mix two different intervals.
                    self.prev = None;
                    self.cur = None;
                    self.error = Some(e);
                }
            }
        }
    }

    /// Enough for `--once`: a rate, or a clear failure.
    fn settled(&self) -> bool {
        self.error.is_some() || self.prev.is_some()
    }

    fn line(&self) -> String {
        match (&self.cur, &self.error) {
            (Some(cur), _) => render_row(&self.name, &Row::new(self.prev.as_ref(), cur)),
            (None, Some(e)) => render_unreachable(&self.name, e),
            (None, None) => render_unreachable(&self.name, "no answer yet"),
        }
    }
}

pub fn run(args: TopArgs) -> Result<()> {
    let names: Vec<String> = args
        .helpers
        .iter()
        .map(|h| h.trim())
        .filter(|h| !h.is_empty())
        .map(|h| scrape::with_port(h, args.metrics_port))
        .collect();
    if names.is_empty() {
        bail!("no helper named: give metrics addresses, e.g. `vtremote top mac:9555`");
    }
    let interval = Duration::from_millis(args.interval_ms);
    let timeout = Duration::from_millis(args.timeout_ms);
    let epoch = Instant::now();
    let mut helpers: Vec<Helper> = names
        .into_iter()
        .map(|n| Helper::spawn(n, interval, timeout, epoch))
        .collect();
    if args.once {
        // Two scrapes each, or a failure; never longer than both could take.
        let deadline = Instant::now() + interval + timeout * 2;
        while Instant::now() < deadline {
            helpers.iter_mut().for_each(Helper::take_answers);
            if helpers.iter().all(Helper::settled) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        helpers.iter_mut().for_each(Helper::take_answers);
        println!("{HEADER}");
        for h in &helpers {
            println!("{}", h.line());
        }
        return Ok(());
    }
    let terminal = std::io::stdout().is_terminal();
    loop {
        std::thread::sleep(interval);
        helpers.iter_mut().for_each(Helper::take_answers);
        let mut out = String::new();
        if terminal {
            // Home and clear: a plain redraw, no terminal library.
            out.push_str("\x1b[H\x1b[2J");
        }
        out.push_str(HEADER);
        out.push('\n');
        for h in &helpers {
            out.push_str(&h.line());
            out.push('\n');
        }
        if !terminal {
            out.push('\n');
        }
        let mut stdout = std::io::stdout().lock();
        if stdout
            .write_all(out.as_bytes())
            .and_then(|()| stdout.flush())
            .is_err()
        {
            // The reader went away (`vtremote top … | head`).
            return Ok(());
        }
    }
}
