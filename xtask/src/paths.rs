//! Where things live: the workspace root, the per-user cache directory, and
//! the target directory used by nested cargo invocations.

use std::env;
use std::path::{Path, PathBuf};

use crate::error::Result;

/// The workspace root: the parent of the xtask crate.
pub fn workspace_root() -> Result<PathBuf> {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map(Path::to_path_buf)
        .ok_or_else(|| format!("xtask manifest dir {} has no parent", manifest_dir.display()).into())
}

/// `$HOME/.cache/ferry`, created on demand by the callers that write into it.
pub fn cache_dir() -> Result<PathBuf> {
    let home = env::var_os("HOME")
        .filter(|home| !home.is_empty())
        .ok_or("HOME is not set; it is needed to find $HOME/.cache/ferry")?;
    Ok(PathBuf::from(home).join(".cache").join("ferry"))
}

/// The `CARGO_TARGET_DIR` to give nested cargo invocations, or `None` when
/// the caller already set one (which the children then simply inherit).
pub fn nested_target_dir() -> Result<Option<PathBuf>> {
    if env::var_os("CARGO_TARGET_DIR").is_some() {
        return Ok(None);
    }
    Ok(Some(cache_dir()?.join("target")))
}
