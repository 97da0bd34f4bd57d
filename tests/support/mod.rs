//! What the tests share: the template's settings, AWS emulator resources, and a webhook
//! receiver on 127.0.0.1 that records what it is sent.

pub mod emulator;
pub mod receiver;
pub mod template;

use std::path::PathBuf;

/// The repository's root folder.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the repository")
        .to_path_buf()
}

/// A file of the repository, as text.
pub fn read_repo_file(path: &str) -> String {
    let full = repo_root().join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("cannot read {}: {e}", full.display()))
}
