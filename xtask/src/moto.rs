//! A `moto_server` (local AWS emulator) on a free loopback port, stopped when
//! the guard is dropped.

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use crate::cmd::{self, step};
use crate::error::{Context, Result};
use crate::paths;
use crate::service::{self, Probe};
use crate::tools::Venv;

pub const REGION: &str = "us-east-1";

/// How a moto server takes requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Serving {
    /// A thread per request (SQS long polls need it), with each queue's
    /// receives made atomic: moto checks a message's visibility and marks
    /// it received without a lock, so two concurrent receives could both
    /// take it, which real SQS never does within the visibility timeout
    /// (the queue conformance suite checks it). One queue's long polls wait
    /// for each other; other queues' do not.
    Threaded,
    /// One request at a time. moto does not lock its transactions and
    /// conditional writes against each other, so under concurrent requests
    /// two `TransactWriteItems` can both pass a condition that real DynamoDB
    /// (serializable) lets only one pass. Serving one request at a time gives
    /// the tests DynamoDB's guarantee back.
    OneAtATime,
}

/// moto's own server app, served by werkzeug without threads.
const SERIAL_SERVER: &str = "import sys\n\
from werkzeug.serving import run_simple\n\
from moto.server import DomainDispatcherApplication, create_backend_app\n\
run_simple(sys.argv[1], int(sys.argv[2]), DomainDispatcherApplication(create_backend_app), threaded=False)\n";

/// moto's own server app, a thread per request, each queue's receives under
/// a lock of their own (see [`Serving::Threaded`]).
const THREADED_SERVER: &str = r#"import sys, threading
from collections import defaultdict
from werkzeug.serving import run_simple
from moto.server import DomainDispatcherApplication, create_backend_app
from moto.sqs.models import SQSBackend

guard, locks, receive = threading.Lock(), defaultdict(threading.Lock), SQSBackend.receive_message

def atomic_receive(self, queue_name, *args, **kwargs):
    with guard:
        lock = locks[(id(self), queue_name)]
    with lock:
        return receive(self, queue_name, *args, **kwargs)

SQSBackend.receive_message = atomic_receive
run_simple(sys.argv[1], int(sys.argv[2]), DomainDispatcherApplication(create_backend_app), threaded=True)
"#;

/// A running `moto_server`; dropping it kills and reaps the process.
pub struct Moto {
    child: Child,
    port: u16,
}

impl Moto {
    /// Starts a moto server named `name` (for its log) and waits until it
    /// answers `GET /moto-api/`.
    pub fn start(venv: &Venv, root: &Path, name: &str, serving: Serving) -> Result<Moto> {
        let port = service::free_port("moto_server")?;
        let log_path = paths::cache_dir()?.join(format!("moto-{name}.log"));
        let log = service::open_log(&log_path)?;
        let log_err = log.try_clone().with_context(|| format!("cannot reopen {}", log_path.display()))?;

        let mut command = match serving {
            Serving::Threaded => {
                let mut command = venv.command(root, "python")?;
                command.args(["-c", THREADED_SERVER, "127.0.0.1", &port.to_string()]);
                command
            }
            Serving::OneAtATime => {
                let mut command = venv.command(root, "python")?;
                command.args(["-c", SERIAL_SERVER, "127.0.0.1", &port.to_string()]);
                command
            }
        };
        command.stdin(Stdio::null()).stdout(log).stderr(log_err);
        step(format!("{} (log: {})", cmd::display(&command), log_path.display()));
        let child = command.spawn().map_err(|error| cmd::spawn_error(&command, error))?;

        // From here on the guard owns the child: any failure below stops it.
        let mut moto = Moto { child, port };
        moto.wait_ready(&log_path)?;
        step(format!("moto_server ready at {}", moto.endpoint()));
        Ok(moto)
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The environment the tests need: DynamoDB on `dynamodb`, SQS on `sqs`.
    pub fn test_env(dynamodb: &Moto, sqs: &Moto) -> Vec<(&'static str, String)> {
        vec![
            ("FERRY_TEST_DYNAMODB_ENDPOINT", dynamodb.endpoint()),
            ("FERRY_TEST_SQS_ENDPOINT", sqs.endpoint()),
            ("AWS_DEFAULT_REGION", REGION.to_owned()),
            ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
        ]
    }

    /// The two servers the tests use: DynamoDB served one request at a time
    /// (see [`Serving::OneAtATime`]), SQS threaded.
    pub fn start_for_tests(venv: &Venv, root: &Path) -> Result<(Moto, Moto)> {
        let dynamodb = Moto::start(venv, root, "dynamodb", Serving::OneAtATime)?;
        let sqs = Moto::start(venv, root, "sqs", Serving::Threaded)?;
        Ok((dynamodb, sqs))
    }

    fn wait_ready(&mut self, log_path: &Path) -> Result<()> {
        let port = self.port;
        let expectation = format!("answer GET {}/moto-api/", self.endpoint());
        service::wait_ready(&mut self.child, "moto_server", &expectation, log_path, || {
            Ok(if probe(port) { Probe::Ready } else { Probe::NotYet })
        })
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        step("stopping moto_server");
        service::stop(&mut self.child, "moto_server");
    }
}

/// Whether `GET /moto-api/` on the port answers with a 2xx or 3xx status.
fn probe(port: u16) -> bool {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let timeout = Duration::from_secs(2);
    let Ok(mut stream) = TcpStream::connect_timeout(&address, timeout) else {
        return false;
    };
    if stream.set_read_timeout(Some(timeout)).is_err() || stream.set_write_timeout(Some(timeout)).is_err() {
        return false;
    }
    let request = format!("GET /moto-api/ HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut status_line = String::new();
    if BufReader::new(stream).read_line(&mut status_line).is_err() {
        return false;
    }
    // "HTTP/1.1 200 OK"
    status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse::<u16>().ok())
        .is_some_and(|code| (200..400).contains(&code))
}
