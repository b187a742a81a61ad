//! A hung RPC node: it accepts connections and reads requests but never
//! answers, as a provider stuck behind a load balancer does. Tests point a
//! chain's client at it to show that nothing Ferry answers waits on it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A node on loopback that never answers; it stops when dropped.
pub struct SilentNode {
    url: String,
    requests: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl SilentNode {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a silent node");
        let url = format!("http://{}", listener.local_addr().expect("its address"));
        let requests = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&requests);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let counted = Arc::clone(&counted);
                // Each connection is held open, read and never answered.
                tokio::spawn(async move {
                    let mut buffer = [0u8; 4096];
                    let mut counted_this = false;
                    while stream.readable().await.is_ok() {
                        match stream.try_read(&mut buffer) {
                            Ok(0) => break,
                            Ok(_) if !counted_this => {
                                counted.fetch_add(1, Ordering::SeqCst);
                                counted_this = true;
                            }
                            Ok(_) => {}
                            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
                            Err(_) => break,
                        }
                    }
                });
            }
        });
        Self { url, requests, task }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// How many connections sent a request (each then waited for nothing).
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for SilentNode {
    fn drop(&mut self) {
        self.task.abort();
    }
}
