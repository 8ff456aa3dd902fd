//! systemd's readiness protocol (`sd_notify`, `Type=notify`): when the service
//! manager sets `NOTIFY_SOCKET`, `cfsign edge` tells it `READY=1` once it
//! listens, `RELOADING=1` then `READY=1` around a reload (SIGHUP, `POST /reload`, a
//! watched file's change), and
//! `STOPPING=1` when it begins to stop. Without `NOTIFY_SOCKET` nothing is
//! sent. Messages are best effort: a manager that went away must not stop the
//! edge.

use std::os::unix::net::{SocketAddr, UnixDatagram};

/// The service manager's notification socket.
pub(crate) struct Notifier {
    socket: UnixDatagram,
    address: SocketAddr,
}

impl Notifier {
    /// The socket named by `NOTIFY_SOCKET` (a path, or `@name` in Linux's
    /// abstract namespace), if it is set and usable.
    pub(crate) fn from_env() -> Option<Self> {
        let name = std::env::var_os("NOTIFY_SOCKET")?;
        let name = name.to_str()?;
        let address = match name.strip_prefix('@') {
            #[cfg(target_os = "linux")]
            Some(abstract_name) => {
                use std::os::linux::net::SocketAddrExt as _;
                SocketAddr::from_abstract_name(abstract_name.as_bytes()).ok()?
            }
            #[cfg(not(target_os = "linux"))]
            Some(_) => return None,
            None => SocketAddr::from_pathname(name).ok()?,
        };
        let socket = UnixDatagram::unbound().ok()?;
        Some(Self { socket, address })
    }

    /// Sends `state` (newline-separated `KEY=value` assignments).
    pub(crate) fn send(&self, state: &str) {
        let _ = self.socket.send_to_addr(state.as_bytes(), &self.address);
    }
}
