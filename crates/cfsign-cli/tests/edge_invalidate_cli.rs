//! `cfsign edge invalidate`: running edges (child processes on 127.0.0.1, each
//! with its own cache and admin listener) invalidated by the command.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report
#![cfg(unix)]

use std::path::Path;
use std::process::Output;

use cfsign_testkit::cli::{self, EdgeProcess};
use cfsign_testkit::http::get_blocking;
use http::StatusCode;

const CFSIGN: &str = env!("CARGO_BIN_EXE_cfsign");

/// A running `cfsign edge --root DIR --public` with an admin listener.
struct Edge {
    base: String,
    admin: String,
    _process: EdgeProcess,
}

impl Edge {
    fn start(root: &Path, extra: &[&str]) -> Self {
        let mut args = vec!["--root", root.to_str().unwrap(), "--public"];
        args.extend(["--admin-listen", "127.0.0.1:0", "--access-log", "off"]);
        args.extend_from_slice(extra);
        let process = EdgeProcess::start(CFSIGN, &args);
        let line = process.next_line();
        let admin = cfsign_testkit::cli::admin_base(&line);
        Self {
            base: process.base().to_owned(),
            admin,
            _process: process,
        }
    }

    /// GET `path`: the body and whether it was a cache hit.
    fn get(&self, path: &str) -> (String, bool) {
        let reply = get_blocking(&format!("{}{path}", self.base), &[]);
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        let hit = reply.headers["x-cache"] == "Hit from cfsign";
        (String::from_utf8(reply.body.to_vec()).unwrap(), hit)
    }
}

fn invalidate(args: &[&str]) -> Output {
    cli::command(CFSIGN)
        .args(["edge", "invalidate"])
        .args(args)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// Two instances over the same files, each with its own cache: one command
/// invalidates both and reports each on its own line.
#[test]
fn every_instance_is_invalidated_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("img")).unwrap();
    std::fs::write(dir.path().join("a.txt"), "a1").unwrap();
    std::fs::write(dir.path().join("img/b.txt"), "b1").unwrap();
    let edges = [Edge::start(dir.path(), &[]), Edge::start(dir.path(), &[])];
    for edge in &edges {
        for (path, body) in [("/a.txt", "a1"), ("/img/b.txt", "b1")] {
            assert_eq!(edge.get(path), (body.to_owned(), false));
            assert_eq!(edge.get(path), (body.to_owned(), true));
        }
    }
    std::fs::write(dir.path().join("a.txt"), "a2, changed").unwrap();
    std::fs::write(dir.path().join("img/b.txt"), "b2, changed").unwrap();
    for edge in &edges {
        assert_eq!(edge.get("/a.txt"), ("a1".to_owned(), true));
    }

    let out = invalidate(&[
        "--admin",
        &edges[0].admin,
        "--admin",
        &edges[1].admin,
        "/a.txt",
        "/img/*",
    ]);
    assert!(out.status.success(), "{out:?}");
    let stdout = text(&out.stdout);
    assert_eq!(
        stdout,
        format!(
            "{}: 2 path(s), 2 cached object(s) dropped\n{}: 2 path(s), 2 cached object(s) dropped\n",
            edges[0].admin, edges[1].admin
        )
    );
    assert_eq!(text(&out.stderr), "");
    for edge in &edges {
        assert_eq!(edge.get("/a.txt"), ("a2, changed".to_owned(), false));
        assert_eq!(edge.get("/img/b.txt"), ("b2, changed".to_owned(), false));
        assert_eq!(edge.get("/a.txt"), ("a2, changed".to_owned(), true));
    }
}

/// An unreachable instance and one without a cache are reported, the others
/// are still invalidated, and the exit code is 1.
#[test]
fn failed_instances_are_reported_and_the_exit_code_is_1() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "a1").unwrap();
    let cached = Edge::start(dir.path(), &[]);
    let uncached = Edge::start(dir.path(), &["--cache-max-bytes", "0"]);
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    assert_eq!(cached.get("/a.txt"), ("a1".to_owned(), false));
    std::fs::write(dir.path().join("a.txt"), "a2").unwrap();

    let out = invalidate(&[
        "--admin",
        &dead,
        "--admin",
        &cached.admin,
        "--admin",
        &uncached.admin,
        "--timeout",
        "5",
        "/a.txt",
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(
        lines[0].starts_with(&format!(
            "{dead}: failed: cannot reach {dead}/invalidations"
        )),
        "{stdout}"
    );
    assert_eq!(
        lines[1],
        format!("{}: 1 path(s), 1 cached object(s) dropped", cached.admin)
    );
    assert!(
        lines[2].starts_with(&format!("{}: failed: ", uncached.admin))
            && lines[2].contains("answered 409 Conflict")
            && lines[2].contains("without an object cache"),
        "{stdout}"
    );
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("2 of 3 edge instance(s) not invalidated"),
        "{stderr}"
    );
    assert_eq!(cached.get("/a.txt"), ("a2".to_owned(), false));

    // --json: the same outcomes as one object, in the order given; still exit 1.
    let out = invalidate(&[
        "--json",
        "--admin",
        &dead,
        "--admin",
        &cached.admin,
        "--timeout",
        "5",
        "/a.txt",
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["schema"], 1);
    assert_eq!(report["paths"], serde_json::json!(["/a.txt"]));
    assert_eq!(report["failed"], 1);
    let instances = report["instances"].as_array().unwrap();
    assert_eq!(instances.len(), 2, "{report}");
    assert_eq!(instances[0]["admin"], dead.as_str());
    assert_eq!(instances[0]["ok"], false);
    assert!(
        instances[0]["error"]
            .as_str()
            .unwrap()
            .starts_with("cannot reach"),
        "{report}"
    );
    assert_eq!(instances[1]["admin"], cached.admin.as_str());
    assert_eq!(instances[1]["ok"], true);
    assert_eq!(instances[1]["paths"], 1);
    assert_eq!(instances[1]["invalidated"], 1);
}

/// A bad path or admin URL fails before anything is sent (exit 2), naming the
/// input and the fix; the cache keeps its entries.
#[test]
fn invalid_input_fails_before_anything_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "a1").unwrap();
    let edge = Edge::start(dir.path(), &[]);
    assert_eq!(edge.get("/a.txt"), ("a1".to_owned(), false));
    std::fs::write(dir.path().join("a.txt"), "a2").unwrap();

    for (args, needle) in [
        (
            vec!["/a.txt", "/caf\u{e9}.jpg"],
            "invalidation path 1, \"/caf\u{e9}.jpg\": '\u{e9}' at byte 4 must be percent-encoded",
        ),
        (
            vec!["/a.txt", "/img/*.jpg"],
            "allowed only as the last character",
        ),
        (vec!["a.txt"], "must start with '/'"),
        (
            vec!["/a.txt?Expires=1&Signature=SECRET"],
            "give only the part before '?'",
        ),
    ] {
        let mut all = vec!["--admin", edge.admin.as_str()];
        all.extend(&args);
        let out = invalidate(&all);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        let stderr = text(&out.stderr);
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(!stderr.contains("SECRET"), "{stderr}");
        assert_eq!(text(&out.stdout), "", "{args:?}");
    }
    let out = invalidate(&[
        "--admin",
        &edge.admin,
        "--admin",
        "127.0.0.1:9901",
        "/a.txt",
    ]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("--admin") && stderr.contains("write it as http://HOST:PORT"),
        "{stderr}"
    );
    // Nothing reached the edge: its cache still answers with the first version.
    assert_eq!(edge.get("/a.txt"), ("a1".to_owned(), true));

    let out = invalidate(&["/a.txt"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(text(&out.stderr).contains("--admin <URL>"));
}
