//! A fresh folder for a unit test that needs real files on a real file system.

use std::fs;
use std::path::PathBuf;

/// `zerosend-{label}-{pid}` under the temp dir, created empty: whatever an earlier run with the
/// same process id left there is removed first. Labels name the module and the test, so that tests
/// running in parallel threads never share a folder.
pub(crate) fn fresh_dir(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("zerosend-{label}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}
