//! A fake Lambda Runtime API (version 2018-06-01) on loopback, enough to run
//! a function's real binary on one event: it hands out one queued event on
//! `GET /runtime/invocation/next`, records what the function posts back, and
//! makes every later `next` wait until the server is dropped.
//!
//! Plain `std::net` and one thread per connection. Connections are
//! keep-alive (the runtime's hyper client reuses them), request bodies may
//! be sized or chunked.

use std::ffi::OsStr;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const NEXT: &str = "/2018-06-01/runtime/invocation/next";
const INVOCATION: &str = "/2018-06-01/runtime/invocation/";
const INIT_ERROR: &str = "/2018-06-01/runtime/init/error";
/// How long after handing out the event its deadline is.
const DEADLINE: Duration = Duration::from_secs(30);
/// Requests larger than this are refused; events and responses are small.
const MAX_BODY: usize = 16 * 1024 * 1024;

/// What the function posted back for the invocation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// `POST /runtime/invocation/{id}/response`: the function's answer.
    Response(String),
    /// `POST /runtime/invocation/{id}/error`: the handler failed.
    InvocationError(String),
    /// `POST /runtime/init/error`: the function could not start.
    InitError(String),
    /// A request this fake does not serve (or for another request id).
    Unexpected(String),
}

struct State {
    /// The event, until the first `next` takes it.
    event: Option<String>,
    outcome: Option<Outcome>,
    closing: bool,
    /// Clones of every accepted connection, shut down on drop to unblock
    /// their threads.
    connections: Vec<TcpStream>,
    workers: Vec<JoinHandle<()>>,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    request_id: String,
    function_name: String,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The event for the first caller; later callers wait until shutdown.
    fn next_event(&self) -> Option<String> {
        let mut state = self.lock();
        loop {
            if state.closing {
                return None;
            }
            if let Some(event) = state.event.take() {
                return Some(event);
            }
            state = self.changed.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Keeps the first outcome: that is the invocation's.
    fn record(&self, outcome: Outcome) {
        let mut state = self.lock();
        if state.outcome.is_none() {
            state.outcome = Some(outcome);
        }
        drop(state);
        self.changed.notify_all();
    }
}

/// A Lambda Runtime API serving one event. Dropping it stops the server
/// and joins its threads.
pub struct FakeRuntimeApi {
    address: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl FakeRuntimeApi {
    /// Starts serving `event_json` to `function_name` on 127.0.0.1 and a
    /// free port.
    pub fn start(function_name: &str, event_json: impl Into<String>) -> io::Result<Self> {
        static INVOCATIONS: AtomicU64 = AtomicU64::new(0);
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let address = listener.local_addr()?;
        let request_id = format!(
            "ferry-test-{}-{}-{}",
            std::process::id(),
            unix_millis(),
            INVOCATIONS.fetch_add(1, Ordering::Relaxed)
        );
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                event: Some(event_json.into()),
                outcome: None,
                closing: false,
                connections: Vec::new(),
                workers: Vec::new(),
            }),
            changed: Condvar::new(),
            request_id,
            function_name: function_name.to_string(),
        });
        let acceptor = {
            let shared = Arc::clone(&shared);
            thread::Builder::new().name("fake-runtime-api".into()).spawn(move || accept(&listener, &shared))?
        };
        Ok(Self { address, shared, acceptor: Some(acceptor) })
    }

    /// `AWS_LAMBDA_RUNTIME_API`: `127.0.0.1:<port>`.
    pub fn runtime_api(&self) -> String {
        self.address.to_string()
    }

    /// The request id of the one invocation.
    pub fn request_id(&self) -> &str {
        &self.shared.request_id
    }

    /// The outcome, waiting up to `timeout` for it.
    pub fn wait_outcome(&self, timeout: Duration) -> Option<Outcome> {
        let state = self.shared.lock();
        let (state, _timed_out) = self
            .shared
            .changed
            .wait_timeout_while(state, timeout, |state| state.outcome.is_none())
            .unwrap_or_else(PoisonError::into_inner);
        state.outcome.clone()
    }

    /// Runs the function binary at `binary` on `event_json` through a fresh
    /// fake Runtime API and returns the API Gateway response it posted
    /// (`statusCode`, `headers`, `body`, ...).
    ///
    /// The child gets only the Lambda runtime's variables, `PATH`,
    /// `RUST_LOG`/`RUST_BACKTRACE` if set, and `env`. It is killed and
    /// reaped whatever happens. Fails — with the child's stderr and stdout
    /// — if it reports an error, exits, or does not answer within `timeout`.
    pub fn invoke<K, V>(
        binary: impl AsRef<Path>,
        env: &[(K, V)],
        event_json: &str,
        timeout: Duration,
    ) -> Result<serde_json::Value, String>
    where
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        Self::invoke_capturing(binary, env, event_json, timeout).result
    }

    /// [`Self::invoke`], also handing back everything the child printed,
    /// whatever the outcome (for tests of what a function logs — metric
    /// lines — or must never log — secrets), and its peak memory.
    pub fn invoke_capturing<K, V>(
        binary: impl AsRef<Path>,
        env: &[(K, V)],
        event_json: &str,
        timeout: Duration,
    ) -> Captured
    where
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        let failed = |message: String| Captured {
            result: Err(message),
            stdout: String::new(),
            stderr: String::new(),
            peak_kib: None,
        };
        let binary = binary.as_ref();
        let function_name =
            binary.file_name().and_then(OsStr::to_str).unwrap_or("ferry-function").trim_end_matches(".exe").to_string();
        let api = match Self::start(&function_name, event_json) {
            Ok(api) => api,
            Err(error) => return failed(format!("cannot start the fake Lambda Runtime API: {error}")),
        };

        let mut command = Command::new(binary);
        command.env_clear();
        for name in ["PATH", "RUST_LOG", "RUST_BACKTRACE"] {
            if let Some(value) = std::env::var_os(name) {
                command.env(name, value);
            }
        }
        command
            .env("AWS_LAMBDA_RUNTIME_API", api.runtime_api())
            .env("AWS_LAMBDA_FUNCTION_NAME", &function_name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/01/01/[$LATEST]00000000000000000000000000000000")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{function_name}"))
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            // Never let the AWS SDK probe instance metadata from a test.
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .envs(env.iter().map(|(name, value)| (name, value)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let child = match command.spawn() {
            Ok(child) => child,
            Err(error) => return failed(format!("cannot start {}: {error}", binary.display())),
        };
        let mut child = Reaped(child);
        let stdout = drain(child.0.stdout.take());
        let stderr = drain(child.0.stderr.take());

        let deadline = Instant::now() + timeout;
        let verdict = loop {
            if let Some(outcome) = api.wait_outcome(Duration::from_millis(50)) {
                break Ok(outcome);
            }
            match child.0.try_wait() {
                Ok(None) => {}
                Ok(Some(status)) => {
                    break api
                        .wait_outcome(Duration::ZERO)
                        .ok_or_else(|| format!("{function_name} exited ({status}) without answering the invocation"));
                }
                Err(error) => break Err(format!("cannot watch {function_name}: {error}")),
            }
            if Instant::now() >= deadline {
                break Err(format!("{function_name} did not answer within {timeout:?}"));
            }
        };
        let peak_kib = peak_resident_kib(child.0.id());
        drop(child);
        drop(api);
        let (stderr, stdout) = (collected(stderr), collected(stdout));
        let output = |verdict: String| format!("{verdict}\n--- stderr ---\n{stderr}\n--- stdout ---\n{stdout}");
        let result = verdict.map_err(&output).and_then(|outcome| match outcome {
            Outcome::Response(body) => serde_json::from_str(&body)
                .map_err(|error| output(format!("{function_name} answered with something not JSON ({error}): {body}"))),
            Outcome::InvocationError(body) => {
                Err(output(format!("{function_name} reported an invocation error: {body}")))
            }
            Outcome::InitError(body) => Err(output(format!("{function_name} failed to initialise: {body}"))),
            Outcome::Unexpected(what) => Err(output(format!("{function_name} made an unexpected request: {what}"))),
        });
        Captured { result, stdout, stderr, peak_kib }
    }
}

/// What [`FakeRuntimeApi::invoke_capturing`] saw: the answer (as
/// [`FakeRuntimeApi::invoke`] returns it) and the child's output.
#[derive(Debug)]
pub struct Captured {
    pub result: Result<serde_json::Value, String>,
    pub stdout: String,
    pub stderr: String,
    /// The child's peak resident memory in KiB (Linux `VmHWM`, read once it
    /// answered, before it is killed: its cold start and the whole
    /// invocation), or `None` where `/proc` has no such line.
    pub peak_kib: Option<u64>,
}

impl Drop for FakeRuntimeApi {
    fn drop(&mut self) {
        let (connections, workers) = {
            let mut state = self.shared.lock();
            state.closing = true;
            (std::mem::take(&mut state.connections), std::mem::take(&mut state.workers))
        };
        self.shared.changed.notify_all();
        // Wake the acceptor, which then sees `closing`.
        let _ = TcpStream::connect(self.address);
        for connection in &connections {
            let _ = connection.shutdown(Shutdown::Both);
        }
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        for worker in workers {
            let _ = worker.join();
        }
    }
}

/// The peak resident set of process `pid` in KiB (`VmHWM` in `/proc/<pid>/status`).
fn peak_resident_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.trim_start_matches("VmHWM:").trim().trim_end_matches("kB").trim().parse().ok()
}

/// A child process that is killed and reaped when dropped.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn drain(pipe: Option<impl Read + Send + 'static>) -> Option<JoinHandle<Vec<u8>>> {
    let mut pipe = pipe?;
    thread::Builder::new()
        .name("fake-runtime-output".into())
        .spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
        .ok()
}

fn collected(reader: Option<JoinHandle<Vec<u8>>>) -> String {
    let bytes = reader.and_then(|reader| reader.join().ok()).unwrap_or_default();
    String::from_utf8_lossy(&bytes).trim_end().to_string()
}

fn unix_millis() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0)
}

fn accept(listener: &TcpListener, shared: &Arc<Shared>) {
    for stream in listener.incoming() {
        let Ok(stream) = stream else { break };
        let mut state = shared.lock();
        if state.closing {
            break;
        }
        let Ok(clone) = stream.try_clone() else {
            continue;
        };
        state.connections.push(clone);
        let worker = {
            let shared = Arc::clone(shared);
            thread::Builder::new().name("fake-runtime-conn".into()).spawn(move || {
                let _ = serve(stream, &shared);
            })
        };
        if let Ok(worker) = worker {
            state.workers.push(worker);
        }
    }
}

struct HttpRequest {
    method: String,
    path: String,
    body: Vec<u8>,
}

/// Serves requests on one keep-alive connection until the peer closes it
/// or the server shuts down.
fn serve(stream: TcpStream, shared: &Shared) -> io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    while let Some(request) = read_request(&mut reader)? {
        let body = String::from_utf8_lossy(&request.body).into_owned();
        match (request.method.as_str(), request.path.as_str()) {
            ("GET", NEXT) => {
                let Some(event) = shared.next_event() else {
                    return Ok(());
                };
                let deadline = unix_millis() + DEADLINE.as_millis();
                let arn = format!("arn:aws:lambda:us-east-1:123456789012:function:{}", shared.function_name);
                let trace = format!(
                    "Root=1-{:08x}-{};Parent=53995c3f42cd8ad8;Sampled=0",
                    deadline / 1000,
                    "5c4ae7c5b4d1e0c9a3e2f1d0"
                );
                let headers = [
                    ("Lambda-Runtime-Aws-Request-Id", shared.request_id.clone()),
                    ("Lambda-Runtime-Deadline-Ms", deadline.to_string()),
                    ("Lambda-Runtime-Invoked-Function-Arn", arn),
                    ("Lambda-Runtime-Trace-Id", trace),
                ];
                respond(&mut writer, "200 OK", &headers, event.as_bytes())?;
            }
            ("POST", INIT_ERROR) => {
                shared.record(Outcome::InitError(body));
                respond(&mut writer, "202 Accepted", &[], br#"{"status":"OK"}"#)?;
            }
            ("POST", path) if path.starts_with(INVOCATION) => {
                let rest = &path[INVOCATION.len()..];
                let outcome = match rest.rsplit_once('/') {
                    Some((id, "response")) if id == shared.request_id => Outcome::Response(body),
                    Some((id, "error")) if id == shared.request_id => Outcome::InvocationError(body),
                    _ => Outcome::Unexpected(format!("POST {path}: {body}")),
                };
                let accepted = !matches!(outcome, Outcome::Unexpected(_));
                shared.record(outcome);
                if accepted {
                    respond(&mut writer, "202 Accepted", &[], br#"{"status":"OK"}"#)?;
                } else {
                    respond(&mut writer, "400 Bad Request", &[], br#"{"errorType":"InvalidRequestID"}"#)?;
                }
            }
            (method, path) => {
                shared.record(Outcome::Unexpected(format!("{method} {path}")));
                respond(&mut writer, "404 Not Found", &[], br#"{"errorType":"NotFound"}"#)?;
            }
        }
    }
    Ok(())
}

fn respond(writer: &mut TcpStream, status: &str, headers: &[(&str, String)], body: &[u8]) -> io::Result<()> {
    let mut head = format!("HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n", body.len());
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    writer.write_all(head.as_bytes())?;
    writer.write_all(body)?;
    writer.flush()
}

fn invalid(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

/// One line without its CRLF; `None` at end of stream.
fn read_line(reader: &mut impl BufRead) -> io::Result<Option<String>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    Ok(Some(line.trim_end_matches(['\r', '\n']).to_string()))
}

/// The next request on the connection; `None` when the peer closed it.
fn read_request(reader: &mut impl BufRead) -> io::Result<Option<HttpRequest>> {
    let Some(request_line) = read_line(reader)? else {
        return Ok(None);
    };
    let mut parts = request_line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Err(invalid(format!("malformed request line {request_line:?}")));
    };
    // Origin form is what clients send; tolerate the absolute form.
    let path = match target.split_once("://") {
        Some((_scheme, rest)) => rest.find('/').map_or("/", |slash| &rest[slash..]),
        None => target,
    };
    let path = path.split('?').next().unwrap_or(path).to_string();

    let mut content_length = None;
    let mut chunked = false;
    loop {
        let Some(line) = read_line(reader)? else {
            return Err(invalid("connection closed inside the headers"));
        };
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            content_length = Some(value.parse::<usize>().map_err(|_| invalid("bad content-length"))?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") && value.to_ascii_lowercase().contains("chunked") {
            chunked = true;
        }
    }

    let body = if chunked {
        read_chunked(reader)?
    } else {
        let length = content_length.unwrap_or(0);
        if length > MAX_BODY {
            return Err(invalid("request body too large"));
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        body
    };
    Ok(Some(HttpRequest { method: method.to_string(), path, body }))
}

fn read_chunked(reader: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line = read_line(reader)?.ok_or_else(|| invalid("connection closed inside a chunked body"))?;
        let size = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size, 16).map_err(|_| invalid(format!("bad chunk size {line:?}")))?;
        if size == 0 {
            // Trailers, up to the empty line.
            while read_line(reader)?.is_some_and(|line| !line.is_empty()) {}
            return Ok(body);
        }
        if body.len() + size > MAX_BODY {
            return Err(invalid("request body too large"));
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        let _crlf = read_line(reader)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exchange(stream: &mut TcpStream, reader: &mut BufReader<TcpStream>, request: &str) -> (String, String) {
        stream.write_all(request.as_bytes()).expect("write");
        let status = read_line(reader).expect("read").expect("status line");
        let mut length = 0;
        let mut head = String::new();
        while let Some(line) = read_line(reader).expect("read") {
            if line.is_empty() {
                break;
            }
            if let Some(value) = line.strip_prefix("content-length: ") {
                length = value.parse().expect("length");
            }
            head.push_str(&line);
            head.push('\n');
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).expect("body");
        (format!("{status}\n{head}"), String::from_utf8(body).expect("utf8"))
    }

    #[test]
    fn serves_one_event_and_records_the_response_on_one_keep_alive_connection() {
        let api = FakeRuntimeApi::start("probe", r#"{"hello":"world"}"#).expect("start");
        let mut stream = TcpStream::connect(api.runtime_api()).expect("connect");
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));

        let (head, body) = exchange(&mut stream, &mut reader, &format!("GET {NEXT} HTTP/1.1\r\nhost: x\r\n\r\n"));
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(head.contains(&format!("Lambda-Runtime-Aws-Request-Id: {}", api.request_id())), "{head}");
        assert!(
            head.contains("Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:probe")
        );
        let deadline: u128 = head
            .lines()
            .find_map(|line| line.strip_prefix("Lambda-Runtime-Deadline-Ms: "))
            .expect("deadline")
            .parse()
            .expect("millis");
        assert!(deadline > unix_millis() + 25_000 && deadline <= unix_millis() + 30_000, "{deadline}");
        assert_eq!(body, r#"{"hello":"world"}"#);

        // A chunked body, on the same connection.
        let path = format!("{INVOCATION}{}/response", api.request_id());
        let request =
            format!("POST {path} HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n5\r\n{{\"a\":\r\n2\r\n1}}\r\n0\r\n\r\n");
        let (head, _) = exchange(&mut stream, &mut reader, &request);
        assert!(head.starts_with("HTTP/1.1 202"), "{head}");
        assert_eq!(api.wait_outcome(Duration::from_secs(1)), Some(Outcome::Response(r#"{"a":1}"#.into())));
    }

    #[test]
    fn a_second_next_waits_until_the_server_is_dropped() {
        let api = FakeRuntimeApi::start("probe", "{}").expect("start");
        let mut stream = TcpStream::connect(api.runtime_api()).expect("connect");
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        let next = format!("GET {NEXT} HTTP/1.1\r\n\r\n");
        exchange(&mut stream, &mut reader, &next);
        stream.write_all(next.as_bytes()).expect("write");
        stream.set_read_timeout(Some(Duration::from_millis(300))).expect("timeout");
        let mut byte = [0u8; 1];
        let waited = reader.read(&mut byte);
        assert!(waited.is_err(), "the second next answered: {waited:?}");
        let started = Instant::now();
        drop(api);
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn errors_are_recorded() {
        let api = FakeRuntimeApi::start("probe", "{}").expect("start");
        let mut stream = TcpStream::connect(api.runtime_api()).expect("connect");
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        let body = r#"{"errorType":"Runtime.InitError","errorMessage":"boom"}"#;
        let request = format!("POST {INIT_ERROR} HTTP/1.1\r\ncontent-length: {}\r\n\r\n{body}", body.len());
        let (head, _) = exchange(&mut stream, &mut reader, &request);
        assert!(head.starts_with("HTTP/1.1 202"), "{head}");
        assert_eq!(api.wait_outcome(Duration::from_secs(1)), Some(Outcome::InitError(body.into())));
    }

    #[test]
    fn a_binary_that_exits_without_answering_fails_with_its_output() {
        let error = FakeRuntimeApi::invoke("sh", &[("X", "1")], "{}", Duration::from_secs(10))
            .expect_err("sh does not speak the runtime API");
        assert!(error.contains("exited"), "{error}");
    }
}
