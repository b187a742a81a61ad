//! What the local servers (`moto_server`, anvil) have in common: a free
//! loopback port, a log file under `$HOME/.cache/ferry`, a bounded wait until
//! the server answers (with the end of its log when it does not), and
//! stopping it.

use std::fs::{self, File};
use std::net::{Ipv4Addr, TcpListener};
use std::path::Path;
use std::process::Child;
use std::thread;
use std::time::{Duration, Instant};

use crate::error::{Context, Result};

/// How long a server gets to answer its readiness probe.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);
const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// A loopback port that was free a moment ago (`what` names its user in
/// errors).
pub fn free_port(what: &str) -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .with_context(|| format!("cannot bind 127.0.0.1:0 to pick a free port for {what}"))?;
    let port = listener.local_addr().context("cannot read the address of the port-picking listener")?.port();
    Ok(port)
}

/// Creates (truncates) the log file, and its directory.
pub fn open_log(path: &Path) -> Result<File> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    }
    File::create(path).with_context(|| format!("cannot create {}", path.display()))
}

/// What a readiness probe saw.
pub enum Probe {
    /// The server answers as expected.
    Ready,
    /// Nothing (yet), or not the expected answer yet: poll again.
    NotYet,
}

/// Polls `probe` until it reports [`Probe::Ready`], failing with the end of
/// the log when the child exits first or [`READY_TIMEOUT`] passes; an error
/// from `probe` (something that waiting will not fix) fails at once.
/// `name` is the server's name and `expectation` says what it should do, for
/// the messages ("answer GET http://…/moto-api/").
pub fn wait_ready(
    child: &mut Child,
    name: &str,
    expectation: &str,
    log_path: &Path,
    mut probe: impl FnMut() -> Result<Probe>,
) -> Result<()> {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Some(status) =
            child.try_wait().with_context(|| format!("cannot check whether {name} is still running"))?
        {
            return Err(format!(
                "{name} exited before it was ready ({status}); end of {}:\n{}",
                log_path.display(),
                log_tail(log_path)
            )
            .into());
        }
        match probe() {
            Ok(Probe::Ready) => return Ok(()),
            Ok(Probe::NotYet) => {}
            Err(error) => {
                return Err(format!("{error}; end of {}:\n{}", log_path.display(), log_tail(log_path)).into());
            }
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "{name} did not {expectation} within {} s; end of {}:\n{}",
                READY_TIMEOUT.as_secs(),
                log_path.display(),
                log_tail(log_path)
            )
            .into());
        }
        thread::sleep(POLL_INTERVAL);
    }
}

/// Kills and reaps the child, warning (not failing) when that goes wrong:
/// for `Drop` implementations.
pub fn stop(child: &mut Child, name: &str) {
    if let Err(error) = child.kill() {
        eprintln!("warning: cannot kill {name}: {error}");
    }
    if let Err(error) = child.wait() {
        eprintln!("warning: cannot wait for {name}: {error}");
    }
}

/// The last lines of the log, for error messages.
pub fn log_tail(path: &Path) -> String {
    const LINES: usize = 20;
    match fs::read_to_string(path) {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            let start = lines.len().saturating_sub(LINES);
            lines[start..].join("\n")
        }
        Err(error) => format!("(cannot read the log: {error})"),
    }
}
