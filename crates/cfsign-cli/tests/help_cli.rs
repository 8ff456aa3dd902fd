//! `--help` of every command, run for real: no environment value shown,
//! examples not broken by wrapping.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::process::Command;

use cfsign_testkit::cli;

/// The binary, without the test's own `CFSIGN_*` variables.
fn cfsign() -> Command {
    cli::command(env!("CARGO_BIN_EXE_cfsign"))
}

/// `cfsign ARGS --help` at a terminal width of `columns`: its stdout.
fn help(args: &[String], columns: u32) -> String {
    let (code, out, err) = cli::run(
        cfsign()
            .args(args)
            .arg("--help")
            .env("COLUMNS", columns.to_string()),
    );
    assert_eq!(code, 0, "{args:?} --help: {err}");
    out
}

/// The subcommand names a help text lists under `Commands:` (not `help`).
fn listed_subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| l.trim_end() != "Commands:")
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        // a wrapped description continues on a line indented further
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

/// Every command path, `[]` for `cfsign` itself, walking the `Commands:` lists.
fn every_command() -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let mut queue = vec![Vec::new()];
    while let Some(path) = queue.pop() {
        for sub in listed_subcommands(&help(&path, 100)) {
            let mut child = path.clone();
            child.push(sub);
            queue.push(child);
        }
        found.push(path);
    }
    found.sort();
    found
}

#[test]
fn the_walk_finds_nested_commands() {
    let all: Vec<String> = every_command().iter().map(|p| p.join(" ")).collect();
    for expected in [
        "",
        "url",
        "manifest",
        "edge",
        "edge invalidate",
        "completions",
    ] {
        assert!(
            all.iter().any(|p| p == expected),
            "{expected:?} not in {all:?}"
        );
    }
    if cfg!(feature = "aws") {
        for expected in ["aws setup", "aws keys rotate", "aws doctor"] {
            assert!(
                all.iter().any(|p| p == expected),
                "{expected:?} not in {all:?}"
            );
        }
    }
    assert!(!all.iter().any(|p| p == "manpages"), "{all:?}");
}

#[test]
fn help_never_shows_an_environment_value() {
    const MARKER: &str = "secret-value-7f3a";
    let commands = every_command();
    // The variables the help texts name, and those cfsign reads, whether named or not.
    let mut names: Vec<String> = [
        "CFSIGN_KEY_PAIR_ID",
        "CFSIGN_PRIVATE_KEY",
        "CFSIGN_PRIVATE_KEY_PEM",
        "CFSIGN_KMS_KEY_ID",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    for path in &commands {
        for part in help(path, 200).split("[env: ").skip(1) {
            let name: String = part
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            assert!(name.starts_with("CFSIGN_"), "{path:?}: env {name}");
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    assert!(names.contains(&"CFSIGN_KMS_KEY_ID".to_owned()));
    for path in &commands {
        let mut command = cfsign();
        command.args(path).arg("--help").env("COLUMNS", "200");
        for name in &names {
            command.env(name, MARKER);
        }
        let (code, out, err) = cli::run(&mut command);
        assert_eq!(code, 0, "{path:?}: {err}");
        assert!(
            !out.contains(MARKER),
            "{path:?} --help shows a value:\n{out}"
        );
        assert!(
            !err.contains(MARKER),
            "{path:?} --help shows a value:\n{err}"
        );
    }
    // The variables are still named, without a value.
    let url = help(&["url".to_owned()], 200);
    assert!(
        url.contains("[env: CFSIGN_KMS_KEY_ID]") || !cfg!(feature = "aws"),
        "{url}"
    );
    assert!(url.contains("[env: CFSIGN_KEY_PAIR_ID]"), "{url}");
}

/// The indented lines of the examples: from `Examples:` to the end, those that
/// start with whitespace (commands, their continuations, comments).
fn example_lines(help: &str) -> Vec<&str> {
    help.lines()
        .skip_while(|l| !l.starts_with("Examples:"))
        .filter(|l| l.starts_with(' '))
        .collect()
}

#[test]
fn wrapping_never_breaks_an_example() {
    for path in every_command() {
        let wide = help(&path, 200);
        for columns in [80, 200] {
            let text = help(&path, columns);
            let lines: Vec<&str> = text.lines().collect();
            for (i, line) in lines.iter().enumerate() {
                assert_ne!(
                    line.trim(),
                    "\\",
                    "{path:?} at {columns} columns, line {i}:\n{text}"
                );
                if line.ends_with(" \\") {
                    let next = lines.get(i + 1).copied().unwrap_or("");
                    assert!(
                        next.starts_with(char::is_whitespace),
                        "{path:?} at {columns} columns: line {i} continues into {next:?}:\n{text}"
                    );
                }
            }
            // Not re-wrapped at all: the same example lines as on a wide terminal.
            assert_eq!(
                example_lines(&text),
                example_lines(&wide),
                "{path:?}: examples re-wrapped at {columns} columns"
            );
        }
        for line in example_lines(&wide) {
            assert!(
                line.chars().count() <= 80,
                "{path:?}: an example line over 80 columns: {line:?}"
            );
        }
    }
}
