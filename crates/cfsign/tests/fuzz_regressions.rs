//! Inputs the fuzz targets (`fuzz/`) once failed on, kept so that `cargo test`
//! keeps them fixed. Each file in `tests/data/fuzz/TARGET/` is a crashing input
//! exactly as libFuzzer wrote it; the test runs what the target runs on it.

use cfsign::{KeyError, PrivateKey, PublicKey};

fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = format!("{}/tests/data/fuzz/{target}", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|entry| {
            let path = entry.expect("a directory entry").path();
            let bytes = std::fs::read(&path).expect("a readable input");
            (path.display().to_string(), bytes)
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no inputs in {dir}");
    files
}

/// `fuzz/fuzz_targets/key_formats.rs`: byte 0 picks the loader; a refusal's
/// message stays short and never quotes the input's lines.
#[test]
fn key_formats() {
    for (name, data) in inputs("key_formats") {
        let (&selector, input) = data.split_first().expect("a selector byte");
        let error: Option<KeyError> = match selector % 5 {
            0 => PrivateKey::from_bytes(input).err(),
            1 => PrivateKey::from_der(input).err(),
            2 => PrivateKey::from_env_value(&String::from_utf8_lossy(input)).err(),
            3 => PublicKey::from_bytes(input).err(),
            _ => PublicKey::from_der(input).err(),
        };
        let message = error.map(|e| e.to_string()).unwrap_or_default();
        assert!(
            message.len() <= 1024,
            "{name}: a {}-byte message: {message}",
            message.len()
        );
        let text = String::from_utf8_lossy(input);
        for line in text.lines().filter(|l| l.len() >= 16) {
            assert!(
                !message.contains(&line[..16]),
                "{name}: the message quotes the input: {message}"
            );
        }
    }
}
