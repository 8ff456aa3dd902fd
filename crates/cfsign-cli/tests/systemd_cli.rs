//! The systemd unit `dist/systemd/cfsign-edge.service` and the readiness protocol
//! it relies on (`Type=notify`): `systemd-analyze verify` accepts the unit with
//! no warning, and `cfsign edge` started with `NOTIFY_SOCKET` says `READY=1` once
//! it listens, `RELOADING=1` then `READY=1` around a reload (SIGHUP, or `POST /reload`), and
//! `STOPPING=1` on SIGTERM. Needs `systemd-analyze` (Debian's `systemd`); a
//! missing one fails with the install hint.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use cfsign_testkit::cli::EdgeProcess;

const UNIT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../dist/systemd/cfsign-edge.service"
);

#[test]
fn the_unit_verifies_without_warnings() {
    let unit = std::fs::read_to_string(UNIT).unwrap();
    for needed in [
        "Type=notify",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "AmbientCapabilities=CAP_NET_BIND_SERVICE",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
    ] {
        assert!(unit.contains(needed), "the unit lacks {needed}");
    }
    // The unit as installed names /usr/bin/cfsign and /etc/cfsign/edge.toml; verify
    // it with this build's binary and a configuration that exists.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("edge.toml");
    std::fs::create_dir_all(dir.path().join("media")).unwrap();
    std::fs::write(
        &config,
        "[origins.media]\ntype = \"directory\"\nroot = \"media\"\n[default_behavior]\norigin = \"media\"\nrestricted = false\n",
    )
    .unwrap();
    let local = unit
        .replace("/usr/bin/cfsign", env!("CARGO_BIN_EXE_cfsign"))
        .replace("/etc/cfsign/edge.toml", config.to_str().unwrap());
    let path = dir.path().join("cfsign-edge.service");
    std::fs::write(&path, local).unwrap();
    let output = Command::new("systemd-analyze")
        .args(["verify", path.to_str().unwrap()])
        .output()
        .unwrap_or_else(|e| {
            panic!("systemd-analyze not found ({e}): apt-get install systemd (it only reads unit files here)")
        });
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stderr.trim().is_empty(),
        "{stderr}"
    );
    // It does catch mistakes: a misspelt value is a warning.
    let broken = dir.path().join("broken.service");
    std::fs::write(
        &broken,
        std::fs::read_to_string(&path)
            .unwrap()
            .replace("Type=notify", "Type=notifyy"),
    )
    .unwrap();
    let output = Command::new("systemd-analyze")
        .args(["verify", broken.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("notifyy"),
        "systemd-analyze verify did not notice a wrong value"
    );
}

/// The next notification, within 10 s.
fn next(socket: &UnixDatagram) -> String {
    let mut buf = [0u8; 4096];
    let n = socket.recv(&mut buf).expect("a notification within 10 s");
    String::from_utf8(buf[..n].to_vec()).unwrap()
}

fn readiness_protocol(socket: &UnixDatagram, notify_socket: &str, root: &Path) {
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut edge = EdgeProcess::start_with_env(
        env!("CARGO_BIN_EXE_cfsign"),
        &["--root", root.to_str().unwrap(), "--public"],
        &[("NOTIFY_SOCKET", notify_socket)],
    );
    let ready = next(socket);
    assert_eq!(
        ready,
        format!("READY=1\nSTATUS=listening on {}", edge.base())
    );
    edge.signal("HUP");
    assert_eq!(next(socket), "RELOADING=1");
    assert_eq!(next(socket), "READY=1");
    edge.signal("TERM");
    assert_eq!(next(socket), "STOPPING=1");
    edge.wait_for_exit();
}

#[test]
fn readiness_reload_and_stop_are_notified_on_a_socket_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    readiness_protocol(&socket, path.to_str().unwrap(), dir.path());
}

#[test]
fn readiness_is_notified_on_an_abstract_socket() {
    use std::os::linux::net::SocketAddrExt as _;
    use std::os::unix::net::SocketAddr;

    let dir = tempfile::tempdir().unwrap();
    let name = format!("cfsign-test-notify-{}", std::process::id());
    let address = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let socket = UnixDatagram::bind_addr(&address).unwrap();
    readiness_protocol(&socket, &format!("@{name}"), dir.path());
}

#[test]
fn without_notify_socket_the_edge_serves_as_before() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "a").unwrap();
    let mut edge = EdgeProcess::start(
        env!("CARGO_BIN_EXE_cfsign"),
        &["--root", dir.path().to_str().unwrap(), "--public"],
    );
    let reply = cfsign_testkit::http::get_blocking(&format!("{}/a.txt", edge.base()), &[]);
    assert_eq!(reply.status, 200);
    edge.signal("TERM");
    edge.wait_for_exit();
}

#[test]
fn a_reload_through_the_admin_listener_is_notified_as_sighup_is() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let token = dir.path().join("admin-token");
    let secret = "0123456789abcdef".repeat(4);
    cfsign_testkit::cli::write_private(&token, &secret);
    let mut edge = EdgeProcess::start_with_env(
        env!("CARGO_BIN_EXE_cfsign"),
        &[
            "--root",
            dir.path().to_str().unwrap(),
            "--public",
            "--admin-listen",
            "127.0.0.1:0",
            "--admin-token-file",
            token.to_str().unwrap(),
        ],
        &[("NOTIFY_SOCKET", path.to_str().unwrap())],
    );
    let line = edge.next_line();
    let admin = cfsign_testkit::cli::admin_base(&line);
    assert!(next(&socket).starts_with("READY=1\n"));
    let reply = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(cfsign_testkit::http::fetch(
            http::Method::POST,
            &format!("{admin}/reload"),
            &[("authorization", &format!("Bearer {secret}"))],
        ));
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(next(&socket), "RELOADING=1");
    assert_eq!(next(&socket), "READY=1");
    edge.signal("TERM");
    assert_eq!(next(&socket), "STOPPING=1");
    edge.wait_for_exit();
}
