//! The README's library example is the code of `examples/readme.rs` (which the
//! build compiles), line for line.

#[test]
fn readme_example_matches() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).expect("README.md");
    let example = std::fs::read_to_string(format!("{root}/crates/cfsign/examples/readme.rs"))
        .expect("example");
    let block = readme
        .split("```rust\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("README has a rust block");
    let example_lines: Vec<&str> = example.lines().map(str::trim).collect();
    for line in block.lines().map(str::trim).filter(|l| !l.is_empty()) {
        assert!(
            example_lines.contains(&line),
            "README line not in examples/readme.rs: {line}"
        );
    }
}
