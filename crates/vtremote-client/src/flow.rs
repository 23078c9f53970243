//! The in-flight window and end-of-stream state both session kinds share: what may be sent,
//! when a receive must wait, and the sticky error once something failed.

use std::sync::atomic::Ordering;
use std::time::Instant;

use crate::connection::{Incoming, Next, Outgoing, Pipeline};
use crate::error::{clone_error, ClientError};
use crate::stats::{SessionStats, Timings};

pub(crate) struct Flow {
    window: u32,
    pub in_flight: u32,
    pub eof_sent: bool,
    done: bool,
    failed: Option<ClientError>,
    pub timings: Timings,
    /// Inputs sent and outputs received, for the stats.
    pub inputs: u64,
    pub outputs: u64,
}

/// What a receive call should do next.
pub(crate) enum Step<F> {
    /// Nothing ready (`Received::Again`).
    Again,
    /// DONE has arrived (`Received::Eof`).
    Eof,
    Item(Incoming<F>),
    TimedOut,
}

impl Flow {
    pub fn new(window: u32) -> Self {
        Flow {
            window: window.max(1),
            in_flight: 0,
            eof_sent: false,
            done: false,
            failed: None,
            timings: Timings::new(),
            inputs: 0,
            outputs: 0,
        }
    }

    pub fn can_send(&self) -> bool {
        !self.eof_sent && self.failed.is_none() && self.in_flight < self.window
    }

    /// Ok when one more input may be queued; `what` names the call for the error.
    pub fn check_send(&self, what: &str) -> Result<(), ClientError> {
        if let Some(e) = &self.failed {
            return Err(clone_error(e));
        }
        if self.eof_sent {
            return Err(ClientError::InvalidArgument(format!(
                "{what} after end of stream"
            )));
        }
        if self.in_flight >= self.window {
            return Err(ClientError::WouldBlock);
        }
        Ok(())
    }

    /// Hands one input to the writer and counts it against the window.
    pub fn submit<F: Send + 'static>(
        &mut self,
        pipe: &Pipeline<F>,
        item: Outgoing,
        started: Instant,
        what: &'static str,
    ) -> Result<(), ClientError> {
        if pipe.send(item).is_err() {
            return Err(self.fail(ClientError::Closed {
                host: pipe.host.clone(),
                what,
            }));
        }
        self.in_flight += 1;
        self.inputs += 1;
        self.timings.max_inflight = self.timings.max_inflight.max(self.in_flight);
        self.timings.send_total += started.elapsed();
        self.timings.sends += 1;
        Ok(())
    }

    /// Sends FLUSH once; later calls are no-ops.
    pub fn end_input<F: Send + 'static>(&mut self, pipe: &Pipeline<F>) -> Result<(), ClientError> {
        if self.eof_sent {
            return Ok(());
        }
        if let Some(e) = &self.failed {
            return Err(clone_error(e));
        }
        pipe.finish_input()?;
        self.eof_sent = true;
        Ok(())
    }

    /// Waits for the next item when the window is full or input has ended; otherwise only
    /// looks. Handles the sticky error, DONE and a vanished connection.
    pub fn step<F: Send + 'static>(
        &mut self,
        pipe: &Pipeline<F>,
        what: &'static str,
    ) -> Result<Step<F>, ClientError> {
        if let Some(e) = &self.failed {
            return Err(clone_error(e));
        }
        if self.done {
            return Ok(Step::Eof);
        }
        let block = self.eof_sent || self.in_flight >= self.window;
        match pipe.next(block, &mut self.timings, what) {
            Next::Empty => Ok(Step::Again),
            Next::TimedOut => Ok(Step::TimedOut),
            Next::Item(Incoming::Done) => {
                self.done = true;
                Ok(Step::Eof)
            }
            Next::Item(Incoming::Failed(e)) => Err(self.fail(e)),
            Next::Item(item) => Ok(Step::Item(item)),
        }
    }

    /// One output arrived for one input.
    pub fn record_output(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
        self.outputs += 1;
    }

    /// Makes `e` the session's sticky error and returns it.
    pub fn fail(&mut self, e: ClientError) -> ClientError {
        self.failed = Some(clone_error(&e));
        e
    }

    /// Stats with `frames`/`packets` assigned per session kind.
    pub fn stats<F: Send + 'static>(
        &self,
        pipe: &Pipeline<F>,
        frames: u64,
        packets: u64,
    ) -> SessionStats {
        SessionStats {
            frames,
            packets,
            bytes_sent: pipe.bytes_sent.load(Ordering::Relaxed),
            bytes_received: pipe.bytes_received.load(Ordering::Relaxed),
            max_inflight: self.timings.max_inflight,
            elapsed: self.timings.started.elapsed(),
            mean_send: self.timings.mean_send(),
            mean_wait: self.timings.mean_wait(),
        }
    }
}
