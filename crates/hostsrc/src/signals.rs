//! Stop signals read by the agent's main thread from a signalfd, instead of a handler thread
//! (a `ctrlc`-style helper costs a thread, its stack and its heap in every qube). SIGINT,
//! SIGTERM and SIGHUP are blocked in the thread that installs this, and every thread it starts
//! afterwards inherits the mask, so the signals stay pending until [`StopSignals::wait`]
//! reads them.

use crate::Error;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use std::os::fd::AsFd;
use std::time::Duration;

/// The signals that stop the agent.
const STOP: [Signal; 3] = [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP];

/// A signalfd for the stop signals. See the module docs.
#[derive(Debug)]
pub struct StopSignals {
    fd: SignalFd,
}

impl StopSignals {
    /// Block the stop signals in this thread (call it before starting any other) and open
    /// the signalfd that reads them.
    pub fn install() -> Result<Self, Error> {
        let mut mask = SigSet::empty();
        for s in STOP {
            mask.add(s);
        }
        let fail = |what: &str, source| Error::Notify {
            what: what.into(),
            source,
        };
        mask.thread_block()
            .map_err(|e| fail("pthread_sigmask", e))?;
        let fd = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
            .map_err(|e| fail("signalfd", e))?;
        Ok(StopSignals { fd })
    }

    /// Wait at most `timeout` for a stop signal; true when one arrived.
    pub fn wait(&self, timeout: Duration) -> bool {
        let ms = u16::try_from(timeout.as_millis()).unwrap_or(u16::MAX);
        let mut fds = [PollFd::new(self.fd.as_fd(), PollFlags::POLLIN)];
        let _ = nix::poll::poll(&mut fds, PollTimeout::from(ms));
        matches!(self.fd.read_signal(), Ok(Some(_)))
    }
}
