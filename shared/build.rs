//! Compiles in the checked-in `openapi.json` without its indentation: the api function serves
//! it as is (`http::openapi`), and the pretty copy's whitespace is half its size.

use std::path::PathBuf;

fn main() {
    let source = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../openapi.json");
    println!("cargo::rerun-if-changed={}", source.display());
    let text = std::fs::read_to_string(&source).expect("openapi.json at the repository root");
    let document: serde_json::Value =
        serde_json::from_str(&text).expect("openapi.json is valid JSON");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("openapi.min.json"), document.to_string())
        .expect("OUT_DIR is writable");
}
