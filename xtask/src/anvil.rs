//! Local EVM chains: the pinned anvil (`xtask/anvil/package-lock.json`) and
//! a guard that runs one chain on a free loopback port.
//!
//! anvil comes from the npm registry as `@foundry-rs/anvil` and its platform
//! package (`@foundry-rs/anvil-linux-amd64`, which ships the binary itself).
//! `npm ci --ignore-scripts` installs them into
//! `$HOME/.cache/ferry/anvil-<hash of the manifests>`, outside the clone and
//! reused by every clone with the same pins ([`crate::npm`]; the install
//! counts only once the binary is there).
//! The package's install script is not needed: it only downloads the same
//! binary when the platform package is missing.
//!
//! Every chain keeps anvil's default mnemonic, so its accounts are the public
//! anvil test accounts (account 0 is
//! `0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266`).

use std::fs;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::cmd::{self, step};
use crate::error::{Context, Result};
use crate::npm::{self, Pins};
use crate::paths;
use crate::service::{self, Probe};

/// The pins, relative to the workspace root.
const DIR: &str = "xtask/anvil";

/// The chains of the tests and of the local stack (`ferry dev`'s `local`
/// chain registry).
pub const CHAIN_IDS: [u64; 2] = [31337, 31338];
/// Seconds between blocks (interval mining).
const BLOCK_TIME_SECS: u64 = 1;
/// Tries at starting a chain when another process took the picked port
/// between the pick and anvil's bind.
const START_ATTEMPTS: usize = 3;

/// The environment variable that names the pinned anvil binary to the tests.
pub const TEST_ANVIL_VAR: &str = "FERRY_TEST_ANVIL";

/// The installed anvil binary.
pub struct Binary {
    path: PathBuf,
}

/// Makes sure the pinned anvil is installed and returns its binary.
pub fn ensure(root: &Path) -> Result<Binary> {
    let package = platform_package(std::env::consts::OS, std::env::consts::ARCH)?;
    let binary = binary_in_node_modules(package);
    let dir = npm::ensure(root, &Pins { dir: DIR, name: "anvil", required: &[binary.as_str()] })?;
    Binary::found(&dir, package)
}

/// The binary of `package`, relative to `node_modules`.
fn binary_in_node_modules(package: &str) -> String {
    format!("@foundry-rs/{package}/bin/anvil")
}

fn binary_path(dir: &Path, package: &str) -> PathBuf {
    dir.join("node_modules").join(binary_in_node_modules(package))
}

/// The npm package with the anvil binary for this platform (Rust's names
/// for it, `std::env::consts::{OS, ARCH}`).
fn platform_package(os: &str, arch: &str) -> Result<&'static str> {
    match (os, arch) {
        ("linux", "x86_64") => Ok("anvil-linux-amd64"),
        ("linux", "aarch64") => Ok("anvil-linux-arm64"),
        ("macos", "x86_64") => Ok("anvil-darwin-amd64"),
        ("macos", "aarch64") => Ok("anvil-darwin-arm64"),
        _ => Err(format!(
            "anvil: no pinned anvil binary for this platform ({os}/{arch}); {DIR}/package-lock.json pins \
             @foundry-rs/anvil for linux and macos on x86_64 and aarch64"
        )
        .into()),
    }
}

impl Binary {
    /// The binary of `package` installed in `dir`.
    fn found(dir: &Path, package: &str) -> Result<Binary> {
        let path = binary_path(dir, package);
        if !path.is_file() {
            return Err(format!(
                "anvil: {} is missing (expected from @foundry-rs/{package}); remove {} to reinstall",
                path.display(),
                dir.display()
            )
            .into());
        }
        Ok(Binary { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `FERRY_TEST_ANVIL` and this binary's path: what tests that start
    /// chains of their own (a relayer and chain state per test process) read.
    pub fn test_env(&self) -> (String, String) {
        (TEST_ANVIL_VAR.to_owned(), self.path.display().to_string())
    }
}

/// A running anvil; dropping it kills and reaps the process.
pub struct Anvil {
    child: Child,
    port: u16,
    chain_id: u64,
}

impl Anvil {
    /// Starts anvil for `chain_id` on a free loopback port, with
    /// [`BLOCK_TIME_SECS`] blocks, logging to
    /// `$HOME/.cache/ferry/anvil-<chain id>.log`, and waits until
    /// `eth_chainId` answers with `chain_id`.
    pub fn start(binary: &Binary, chain_id: u64) -> Result<Anvil> {
        let log_path = paths::cache_dir()?.join(format!("anvil-{chain_id}.log"));
        let mut attempt = 1;
        loop {
            match Anvil::try_start(binary, chain_id, &log_path) {
                Ok(anvil) => return Ok(anvil),
                Err(error) if attempt < START_ATTEMPTS && port_was_taken(&log_path) => {
                    step(format!("anvil (chain {chain_id}): the picked port was taken meanwhile, retrying: {error}"));
                    attempt += 1;
                }
                Err(error) => return Err(error),
            }
        }
    }

    fn try_start(binary: &Binary, chain_id: u64, log_path: &Path) -> Result<Anvil> {
        let name = format!("anvil (chain {chain_id})");
        let port = service::free_port(&name)?;
        let log = service::open_log(log_path)?;
        let log_err = log.try_clone().with_context(|| format!("cannot reopen {}", log_path.display()))?;

        let mut command = Command::new(binary.path());
        command
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--chain-id", &chain_id.to_string(), "--block-time", &BLOCK_TIME_SECS.to_string()])
            .arg("--quiet")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err);
        step(format!("{} (log: {})", cmd::display(&command), log_path.display()));
        let child = command.spawn().map_err(|error| cmd::spawn_error(&command, error))?;

        // From here on the guard owns the child: any failure below stops it.
        let mut anvil = Anvil { child, port, chain_id };
        let expectation = format!("answer eth_chainId at {} with {chain_id}", anvil.rpc_url());
        service::wait_ready(&mut anvil.child, &name, &expectation, log_path, || match eth_chain_id(port) {
            None => Ok(Probe::NotYet),
            Some(id) if id == chain_id => Ok(Probe::Ready),
            Some(id) => Err(format!(
                "something else answers on 127.0.0.1:{port}: eth_chainId returned {id}, expected {chain_id}"
            )
            .into()),
        })?;
        step(format!("{name} ready at {}", anvil.rpc_url()));
        Ok(anvil)
    }

    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    pub fn rpc_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `FERRY_TEST_EVM_RPC_<chain id>` and the RPC URL: what the tests read
    /// to reach this chain.
    pub fn test_env(&self) -> (String, String) {
        (format!("FERRY_TEST_EVM_RPC_{}", self.chain_id), self.rpc_url())
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let name = format!("anvil (chain {})", self.chain_id);
        step(format!("stopping {name}"));
        service::stop(&mut self.child, &name);
    }
}

/// One anvil per [`CHAIN_IDS`] entry, in that order (if one fails to start,
/// the ones already running are stopped).
pub fn start_chains(binary: &Binary) -> Result<Vec<Anvil>> {
    CHAIN_IDS.iter().map(|&chain_id| Anvil::start(binary, chain_id)).collect()
}

/// The environment the tests need: the shared chains
/// (`FERRY_TEST_EVM_RPC_<chain id>`) and the binary to start their own
/// (`FERRY_TEST_ANVIL`).
pub fn test_env(binary: &Binary, chains: &[Anvil]) -> Vec<(String, String)> {
    chains.iter().map(Anvil::test_env).chain([binary.test_env()]).collect()
}

/// Whether anvil's start failed because the port was taken.
fn port_was_taken(log_path: &Path) -> bool {
    fs::read_to_string(log_path).is_ok_and(|log| log.contains("Address already in use"))
}

/// The chain id that `eth_chainId` over HTTP JSON-RPC on the port answers,
/// or `None` when nothing (usable) answers.
fn eth_chain_id(port: u16) -> Option<u64> {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let timeout = Duration::from_secs(2);
    let mut stream = TcpStream::connect_timeout(&address, timeout).ok()?;
    stream.set_read_timeout(Some(timeout)).ok()?;
    stream.set_write_timeout(Some(timeout)).ok()?;
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}"#;
    let request = format!(
        "POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = Vec::new();
    // The server closes the connection after the response (`Connection:
    // close`); a read timeout after a complete response still counts.
    if stream.read_to_end(&mut response).is_err() && response.is_empty() {
        return None;
    }
    parse_chain_id_response(&String::from_utf8_lossy(&response))
}

/// The chain id in an HTTP response to `eth_chainId`: a 200 whose JSON body
/// has `"result":"0x…"`.
fn parse_chain_id_response(response: &str) -> Option<u64> {
    let status = response.lines().next()?.split_whitespace().nth(1)?;
    if status != "200" {
        return None;
    }
    let (_, body) = response.split_once("\r\n\r\n")?;
    let after_key = &body[body.find("\"result\"")? + "\"result\"".len()..];
    let value = after_key.trim_start().strip_prefix(':')?.trim_start().strip_prefix('"')?;
    let hex = value.strip_prefix("0x")?;
    let digits = &hex[..hex.find('"')?];
    u64::from_str_radix(digits, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_chain_id_from_the_response() {
        let ok = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 41\r\n\r\n\
                  {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"0x7a69\"}";
        assert_eq!(parse_chain_id_response(ok), Some(31337));
        let spaced = "HTTP/1.1 200 OK\r\n\r\n{\"id\": 1, \"result\" : \"0x7a6a\", \"jsonrpc\": \"2.0\"}";
        assert_eq!(parse_chain_id_response(spaced), Some(31338));
        let error = "HTTP/1.1 200 OK\r\n\r\n{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32601}}";
        assert_eq!(parse_chain_id_response(error), None);
        assert_eq!(parse_chain_id_response("HTTP/1.1 404 Not Found\r\n\r\n{\"result\":\"0x1\"}"), None);
        assert_eq!(parse_chain_id_response("HTTP/1.1 200 OK\r\n\r\n{\"result\":\"0x\"}"), None);
        assert_eq!(parse_chain_id_response(""), None);
    }

    #[test]
    fn names_the_platform_package() {
        assert_eq!(platform_package("linux", "x86_64").ok(), Some("anvil-linux-amd64"));
        assert_eq!(platform_package("macos", "aarch64").ok(), Some("anvil-darwin-arm64"));
        let error = platform_package("windows", "x86_64").err().map(|error| error.to_string()).unwrap_or_default();
        assert!(error.contains("windows/x86_64"), "{error}");
    }

    #[test]
    fn the_pins_name_the_platform_package_xtask_looks_for() {
        let lock = include_str!("../anvil/package-lock.json");
        assert!(lock.contains("\"node_modules/@foundry-rs/anvil\""));
        assert!(lock.contains("\"node_modules/@foundry-rs/anvil-linux-amd64\""));
    }
}
