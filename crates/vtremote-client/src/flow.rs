//! The in-flight window and end-of-stream state both session kinds share: what may be sent,
//! when a receive must wait, and the sticky error once something failed.
//!
//! The rules see the connection only through [`Link`] (hand one item to the writer, take
//! the next item from the reader), so they are tested below against a scripted link with no
//! socket, no helper and no threads.

use std::time::Instant;

use vtremote_proto::Message;

use crate::error::{clone_error, ClientError};
use crate::pipeline::{Incoming, Next, Outgoing};
use crate::stats::{SessionStats, Timings};

/// What the flow rules need from a connection. `Pipeline` is the real one.
pub(crate) trait Link<F> {
    /// Queues one message (or picture) for the writer thread.
    fn send(&self, item: Outgoing) -> Result<(), ClientError>;
    /// The next item from the reader thread: waits up to the session timeout when `block`,
    /// otherwise returns at once.
    fn next(&self, block: bool) -> Next<F>;
}

pub(crate) struct Flow {
    /// Names the helper in the errors raised here.
    host: String,
    window: u32,
    in_flight: u32,
    eof_sent: bool,
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
    pub fn new(window: u32, host: impl Into<String>) -> Self {
        Flow {
            host: host.into(),
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

    /// Whether FLUSH has been queued.
    pub fn eof_sent(&self) -> bool {
        self.eof_sent
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
    pub fn submit<F>(
        &mut self,
        link: &impl Link<F>,
        item: Outgoing,
        started: Instant,
        what: &'static str,
    ) -> Result<(), ClientError> {
        if link.send(item).is_err() {
            return Err(self.fail(ClientError::Closed {
                host: self.host.clone(),
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
    pub fn end_input<F>(&mut self, link: &impl Link<F>) -> Result<(), ClientError> {
        if self.eof_sent {
            return Ok(());
        }
        if let Some(e) = &self.failed {
            return Err(clone_error(e));
        }
        let flush = Message::Flush
            .to_bytes()
            .map_err(|cause| ClientError::Protocol {
                host: self.host.clone(),
                what: "encoding FLUSH".into(),
                cause,
            })?;
        link.send(Outgoing::Bytes(flush))?;
        self.eof_sent = true;
        Ok(())
    }

    /// Waits for the next item when the window is full or input has ended; otherwise only
    /// looks. Handles the sticky error, DONE and a vanished connection.
    pub fn step<F>(
        &mut self,
        link: &impl Link<F>,
        what: &'static str,
    ) -> Result<Step<F>, ClientError> {
        if let Some(e) = &self.failed {
            return Err(clone_error(e));
        }
        if self.done {
            return Ok(Step::Eof);
        }
        let block = self.eof_sent || self.in_flight >= self.window;
        let next = if block {
            let t0 = Instant::now();
            let next = link.next(true);
            self.timings.wait_total += t0.elapsed();
            self.timings.waits += 1;
            next
        } else {
            link.next(false)
        };
        match next {
            Next::Empty => Ok(Step::Again),
            Next::TimedOut => Ok(Step::TimedOut),
            Next::Disconnected => Err(self.fail(ClientError::Closed {
                host: self.host.clone(),
                what,
            })),
            Next::Item(Incoming::Done) => {
                self.done = true;
                Ok(Step::Eof)
            }
            Next::Item(Incoming::Failed(e)) => Err(self.fail(e)),
            Next::Item(item) => Ok(Step::Item(item)),
        }
    }

    /// One output arrived for one input. An output nobody asked for is an error: encoders
    /// give one packet per picture (the original sometimes fewer), decoders at most one
    /// picture per access unit, so a surplus means a broken or hostile helper that would
    /// otherwise keep a draining caller busy forever.
    pub fn record_output(
        &mut self,
        outputs: &'static str,
        inputs: &'static str,
    ) -> Result<(), ClientError> {
        if self.outputs >= self.inputs {
            let e = ClientError::Unexpected {
                host: self.host.clone(),
                got: format!(
                    "{} {outputs} for {} {inputs} sent",
                    self.outputs + 1,
                    self.inputs
                ),
                expected: "at most one output per input",
            };
            return Err(self.fail(e));
        }
        self.in_flight = self.in_flight.saturating_sub(1);
        self.outputs += 1;
        Ok(())
    }

    /// Takes one input off the window without an output: the caller decided it produced
    /// none (an original helper sends nothing for a packet it cannot decode).
    pub fn write_off_one(&mut self) {
        self.write_off(1);
    }

    /// `n` inputs the helper says will produce no output (SKIPPED) leave the window.
    pub fn write_off(&mut self, n: u32) {
        self.in_flight = self.in_flight.saturating_sub(n);
    }

    /// Makes `e` the session's sticky error and returns it.
    pub fn fail(&mut self, e: ClientError) -> ClientError {
        self.failed = Some(clone_error(&e));
        e
    }

    /// Stats with `frames`/`packets` assigned per session kind; `traffic` is the bytes
    /// (sent, received) the connection counted.
    pub fn stats(&self, frames: u64, packets: u64, traffic: (u64, u64)) -> SessionStats {
        SessionStats {
            frames,
            packets,
            bytes_sent: traffic.0,
            bytes_received: traffic.1,
            max_inflight: self.timings.max_inflight,
            elapsed: self.timings.started.elapsed(),
            mean_send: self.timings.mean_send(),
            mean_wait: self.timings.mean_wait(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::VecDeque;

    /// A connection whose reader plays back a script; records what was sent and whether
    /// each `next` would have waited.
    #[derive(Default)]
    struct ScriptedLink {
        replies: RefCell<VecDeque<Next<u32>>>,
        sent: RefCell<Vec<Vec<u8>>>,
        waits: RefCell<Vec<bool>>,
        writer_stopped: bool,
    }

    impl ScriptedLink {
        fn replying(replies: impl IntoIterator<Item = Next<u32>>) -> Self {
            ScriptedLink {
                replies: RefCell::new(replies.into_iter().collect()),
                ..Default::default()
            }
        }
    }

    impl Link<u32> for ScriptedLink {
        fn send(&self, item: Outgoing) -> Result<(), ClientError> {
            if self.writer_stopped {
                return Err(ClientError::Closed {
                    host: "h:1".into(),
                    what: "while sending (writer stopped)",
                });
            }
            match item {
                Outgoing::Bytes(b) => self.sent.borrow_mut().push(b),
                Outgoing::Frame(_) => unreachable!("tests send bytes"),
            }
            Ok(())
        }

        fn next(&self, block: bool) -> Next<u32> {
            self.waits.borrow_mut().push(block);
            self.replies.borrow_mut().pop_front().unwrap_or(if block {
                Next::TimedOut
            } else {
                Next::Empty
            })
        }
    }

    fn input() -> Outgoing {
        Outgoing::Bytes(vec![1, 2, 3])
    }

    fn send(flow: &mut Flow, link: &ScriptedLink) -> Result<(), ClientError> {
        flow.check_send("send")?;
        flow.submit(link, input(), Instant::now(), "while sending")
    }

    fn output(n: u32) -> Next<u32> {
        Next::Item(Incoming::Frame(n))
    }

    #[test]
    fn a_full_window_refuses_the_next_send_with_would_block() {
        let (mut flow, link) = (Flow::new(2, "h:1"), ScriptedLink::default());
        send(&mut flow, &link).unwrap();
        send(&mut flow, &link).unwrap();
        assert!(!flow.can_send());
        assert!(matches!(
            send(&mut flow, &link),
            Err(ClientError::WouldBlock)
        ));
        assert_eq!(link.sent.borrow().len(), 2);
    }

    #[test]
    fn a_window_of_zero_still_lets_one_input_through() {
        let (mut flow, link) = (Flow::new(0, "h:1"), ScriptedLink::default());
        send(&mut flow, &link).unwrap();
        assert!(matches!(
            send(&mut flow, &link),
            Err(ClientError::WouldBlock)
        ));
    }

    #[test]
    fn a_receive_only_looks_while_the_window_has_room_and_waits_once_it_is_full() {
        let (mut flow, link) = (Flow::new(2, "h:1"), ScriptedLink::default());
        send(&mut flow, &link).unwrap();
        assert!(matches!(flow.step(&link, "w"), Ok(Step::Again)));
        send(&mut flow, &link).unwrap();
        assert!(matches!(flow.step(&link, "w"), Ok(Step::TimedOut)));
        assert_eq!(*link.waits.borrow(), [false, true]);
        assert_eq!(
            flow.timings.waits, 1,
            "only the blocking receive counts as a wait"
        );
    }

    #[test]
    fn an_output_reopens_the_window() {
        let mut flow = Flow::new(1, "h:1");
        let link = ScriptedLink::replying([output(7)]);
        send(&mut flow, &link).unwrap();
        match flow.step(&link, "w") {
            Ok(Step::Item(Incoming::Frame(7))) => {}
            _ => panic!("expected the output"),
        }
        flow.record_output("FRAMEs", "PACKETs").unwrap();
        assert!(flow.can_send());
        assert_eq!((flow.inputs, flow.outputs), (1, 1));
    }

    #[test]
    fn a_receive_after_end_of_input_waits_even_with_room_in_the_window() {
        let (mut flow, link) = (Flow::new(8, "h:1"), ScriptedLink::default());
        send(&mut flow, &link).unwrap();
        flow.end_input(&link).unwrap();
        assert!(matches!(flow.step(&link, "w"), Ok(Step::TimedOut)));
        assert_eq!(*link.waits.borrow(), [true]);
    }

    #[test]
    fn end_of_input_sends_one_flush_however_often_it_is_called() {
        let (mut flow, link) = (Flow::new(4, "h:1"), ScriptedLink::default());
        flow.end_input(&link).unwrap();
        flow.end_input(&link).unwrap();
        let flush = Message::Flush.to_bytes().unwrap();
        assert_eq!(*link.sent.borrow(), [flush]);
        assert!(flow.eof_sent());
    }

    #[test]
    fn input_after_end_of_stream_is_an_invalid_argument() {
        let (mut flow, link) = (Flow::new(4, "h:1"), ScriptedLink::default());
        flow.end_input(&link).unwrap();
        let e = send(&mut flow, &link).unwrap_err();
        assert_eq!(e.to_string(), "invalid argument: send after end of stream");
        assert!(!flow.can_send());
    }

    #[test]
    fn done_is_end_of_stream_for_every_later_receive_without_reading_again() {
        let mut flow = Flow::new(4, "h:1");
        let link = ScriptedLink::replying([Next::Item(Incoming::Done)]);
        flow.end_input(&link).unwrap();
        assert!(matches!(flow.step(&link, "w"), Ok(Step::Eof)));
        assert!(matches!(flow.step(&link, "w"), Ok(Step::Eof)));
        assert_eq!(link.waits.borrow().len(), 1);
    }

    #[test]
    fn a_failure_from_the_reader_is_sticky_and_refuses_sends() {
        let mut flow = Flow::new(4, "h:1");
        let link = ScriptedLink::replying([Next::Item(Incoming::Failed(ClientError::Server {
            host: "h:1".into(),
            error: vtremote_proto::ErrorMsg::new(vtremote_proto::ErrorCode::Other(5), "boom"),
        }))]);
        let first = flow.step(&link, "w").err().unwrap().to_string();
        assert!(first.contains("boom"), "{first}");
        let again = flow.step(&link, "w").err().unwrap().to_string();
        assert_eq!(first, again);
        assert_eq!(send(&mut flow, &link).unwrap_err().to_string(), first);
        assert_eq!(flow.end_input(&link).unwrap_err().to_string(), first);
        assert!(!flow.can_send());
        assert_eq!(link.waits.borrow().len(), 1, "no read after the failure");
    }

    #[test]
    fn a_vanished_reader_reads_as_closed_naming_the_host_and_the_call() {
        let mut flow = Flow::new(4, "mac:5555");
        let link = ScriptedLink::replying([Next::Disconnected]);
        let e = flow.step(&link, "while decoding").err().unwrap();
        assert_eq!(
            e.to_string(),
            "mac:5555: connection closed by the server while decoding"
        );
    }

    #[test]
    fn a_stopped_writer_fails_the_send_as_closed_and_sticks() {
        let mut flow = Flow::new(4, "mac:5555");
        let link = ScriptedLink {
            writer_stopped: true,
            ..Default::default()
        };
        let e = send(&mut flow, &link).unwrap_err();
        assert_eq!(
            e.to_string(),
            "mac:5555: connection closed by the server while sending"
        );
        assert_eq!(flow.inputs, 0, "a refused input is not counted");
        assert!(flow.check_send("send").is_err());
    }

    #[test]
    fn more_outputs_than_inputs_fail_the_session() {
        let (mut flow, link) = (Flow::new(4, "h:1"), ScriptedLink::default());
        send(&mut flow, &link).unwrap();
        flow.record_output("PACKETs", "FRAMEs").unwrap();
        let e = flow.record_output("PACKETs", "FRAMEs").unwrap_err();
        assert_eq!(
            e.to_string(),
            "h:1: unexpected 2 PACKETs for 1 FRAMEs sent while waiting for at most one output \
             per input: not a vtremote server, or an incompatible one"
        );
        assert!(flow.check_send("send").is_err(), "the failure sticks");
    }

    #[test]
    fn an_input_written_off_frees_its_window_slot_but_still_bounds_outputs() {
        let (mut flow, link) = (Flow::new(1, "h:1"), ScriptedLink::default());
        send(&mut flow, &link).unwrap();
        flow.write_off_one();
        assert!(flow.can_send());
        send(&mut flow, &link).unwrap();
        flow.record_output("FRAMEs", "PACKETs").unwrap();
        flow.record_output("FRAMEs", "PACKETs").unwrap();
        assert!(flow.record_output("FRAMEs", "PACKETs").is_err());
    }

    #[test]
    fn stats_count_inputs_outputs_and_the_deepest_window() {
        let (mut flow, link) = (Flow::new(3, "h:1"), ScriptedLink::default());
        for _ in 0..3 {
            send(&mut flow, &link).unwrap();
        }
        flow.record_output("FRAMEs", "PACKETs").unwrap();
        send(&mut flow, &link).unwrap();
        let st = flow.stats(flow.inputs, flow.outputs, (100, 20));
        assert_eq!((st.frames, st.packets), (4, 1));
        assert_eq!((st.bytes_sent, st.bytes_received), (100, 20));
        assert_eq!(st.max_inflight, 3);
    }
}
