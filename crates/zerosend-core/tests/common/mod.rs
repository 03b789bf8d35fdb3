//! Pieces shared by the integration tests.

use std::path::{Path, PathBuf};

/// This test process's own directory under the temp dir, `{prefix}{pid}`. A test binary has no
/// exit hook to remove it, so each run first removes the directories of earlier runs whose
/// process is gone (only where /proc tells which processes are alive).
pub fn run_dir(prefix: &str) -> PathBuf {
    let base = std::env::temp_dir();
    for entry in std::fs::read_dir(&base).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(pid) = name.strip_prefix(prefix) {
            if Path::new("/proc/self").exists() && !Path::new("/proc").join(pid).exists() {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    let dir = base.join(format!("{prefix}{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
