//! AWS logins for tests of the credential chain, against a [`Moto`] server:
//! keys moto can tell apart, and a shared config file whose profile gets them
//! from a `credential_process` (a shell script that records each run).
//!
//! moto accepts any key unless told otherwise, so a test proves which keys
//! were used in one of two ways:
//! - [`assumed_role_keys`]: keys of a role assumed in another account (moto's
//!   STS); moto files what is made with them under that account, so the
//!   account's resources show the keys were used (key ID only; no signature check);
//! - [`iam_user_keys`] then [`require_iam_auth`]: keys of an IAM user allowed
//!   everything, after which moto checks every request's signature against
//!   its IAM users (moto's own `INITIAL_NO_AUTH_ACTION_COUNT`, set to 0 through
//!   `/moto-api/reset-auth`), so only those keys work. For the rest of that
//!   server's life: the dummy keys no longer do.
//!
//! ```no_run
//! use cfsign_testkit::credentials::{self, ProcessProfile};
//! use cfsign_testkit::moto::Moto;
//!
//! let moto = Moto::start();
//! let keys = credentials::assumed_role_keys(&moto, "111122223333");
//! let profile = ProcessProfile::new("cfsign-test", &keys);
//! // Run the program with profile.env() and AWS_PROFILE=cfsign-test, then:
//! assert_eq!(profile.runs(), 0);
//! ```

use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::moto::Moto;

/// An access key (and a session token for temporary ones).
#[derive(Clone, PartialEq, Eq)]
pub struct Keys {
    /// The access key ID (`AKIA…`, `ASIA…`).
    pub access_key_id: String,
    /// The secret.
    pub secret_access_key: String,
    /// The session token of temporary keys.
    pub session_token: Option<String>,
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keys")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

fn keys_from(output: &str) -> Keys {
    let mut lines = output.lines().map(str::trim);
    let mut next = || lines.next().unwrap_or_default().to_owned();
    let (access_key_id, secret_access_key, token) = (next(), next(), next());
    assert!(
        !access_key_id.is_empty() && !secret_access_key.is_empty(),
        "no keys in the script's output"
    );
    Keys {
        access_key_id,
        secret_access_key,
        session_token: (!token.is_empty()).then_some(token),
    }
}

/// Keys of the role `cfsign-test` assumed in `account` (12 digits) through
/// moto's STS: whatever is created with them is that account's.
///
/// # Panics
///
/// If moto refuses.
#[must_use]
pub fn assumed_role_keys(moto: &Moto, account: &str) -> Keys {
    let script = format!(
        "import boto3,os\n\
         sts=boto3.client('sts',endpoint_url=os.environ['MOTO_ENDPOINT'])\n\
         c=sts.assume_role(RoleArn='arn:aws:iam::{account}:role/cfsign-test',RoleSessionName='cfsign-test')['Credentials']\n\
         print(c['AccessKeyId']);print(c['SecretAccessKey']);print(c['SessionToken'])"
    );
    keys_from(&moto.python(&script, b""))
}

/// Keys of a new IAM user `user` whose policy allows every action.
///
/// # Panics
///
/// If moto refuses (e.g. the user exists).
#[must_use]
pub fn iam_user_keys(moto: &Moto, user: &str) -> Keys {
    let script = format!(
        "import boto3,json,os\n\
         iam=boto3.client('iam',endpoint_url=os.environ['MOTO_ENDPOINT'])\n\
         iam.create_user(UserName='{user}')\n\
         iam.put_user_policy(UserName='{user}',PolicyName='everything',PolicyDocument=json.dumps(\
         {{'Version':'2012-10-17','Statement':[{{'Effect':'Allow','Action':'*','Resource':'*'}}]}}))\n\
         k=iam.create_access_key(UserName='{user}')['AccessKey']\n\
         print(k['AccessKeyId']);print(k['SecretAccessKey'])"
    );
    keys_from(&moto.python(&script, b""))
}

/// From now on moto checks every request against its IAM users: unknown keys
/// get `InvalidAccessKeyId`, a wrong secret `SignatureDoesNotMatch`. There is
/// no way back for this server (create what the test needs first).
///
/// # Panics
///
/// If moto does not acknowledge it.
pub fn require_iam_auth(moto: &Moto) {
    let answer = moto.python(
        "import os,urllib.request\n\
         r=urllib.request.Request(os.environ['MOTO_ENDPOINT']+'/moto-api/reset-auth',data=b'0',\
         method='POST',headers={'Content-Type':'text/plain'})\n\
         print(urllib.request.urlopen(r,timeout=10).read().decode())",
        b"",
    );
    assert!(
        answer.contains("\"ok\""),
        "moto's reset-auth answered {answer}"
    );
}

/// A temporary folder with an AWS config file whose profile gets its keys
/// from a `credential_process` script, an empty credentials file, and the
/// script's log of runs.
pub struct ProcessProfile {
    dir: tempfile::TempDir,
    name: String,
}

impl fmt::Debug for ProcessProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessProfile")
            .field("dir", &self.dir.path())
            .field("name", &self.name)
            .finish()
    }
}

impl ProcessProfile {
    /// `[profile NAME]` with `region = us-east-1` and a `credential_process`
    /// that prints `keys` (version 1 JSON, expiring in an hour) and appends a
    /// line to its log.
    ///
    /// # Panics
    ///
    /// If the files cannot be written.
    #[must_use]
    pub fn new(name: &str, keys: &Keys) -> Self {
        let expiration = jiff::Timestamp::now()
            .checked_add(Duration::from_secs(3600))
            .expect("an hour from now")
            .strftime("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        let mut json = serde_json::json!({
            "Version": 1,
            "AccessKeyId": keys.access_key_id,
            "SecretAccessKey": keys.secret_access_key,
            "Expiration": expiration,
        });
        if let Some(token) = &keys.session_token {
            json["SessionToken"] = token.clone().into();
        }
        Self::with_script(name, &format!("cat <<'EOF'\n{json}\nEOF\n"))
    }

    /// `[profile NAME]` whose `credential_process` logs its run, writes
    /// `message` to standard error and exits with status 3.
    ///
    /// # Panics
    ///
    /// If the files cannot be written.
    #[must_use]
    pub fn failing(name: &str, message: &str) -> Self {
        Self::with_script(name, &format!("echo '{message}' >&2\nexit 3\n"))
    }

    fn with_script(name: &str, body: &str) -> Self {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let profile = Self {
            dir,
            name: name.to_owned(),
        };
        let script = profile.dir.path().join("credential-process.sh");
        let log = profile.log_path();
        write(
            &script,
            &format!(
                "#!/bin/sh\necho run >> '{}'\n{body}",
                log.to_str().expect("a UTF-8 temporary path")
            ),
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o700))
                .expect("making the script executable");
        }
        write(
            &profile.config_file(),
            &format!(
                "[profile {name}]\nregion = us-east-1\ncredential_process = \"{}\"\n",
                script.to_str().expect("a UTF-8 temporary path")
            ),
        );
        write(&profile.credentials_file(), "");
        profile
    }

    /// The profile's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The folder (for more files of the test).
    #[must_use]
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The config file (`AWS_CONFIG_FILE`).
    #[must_use]
    pub fn config_file(&self) -> PathBuf {
        self.dir.path().join("config")
    }

    /// The empty credentials file (`AWS_SHARED_CREDENTIALS_FILE`).
    #[must_use]
    pub fn credentials_file(&self) -> PathBuf {
        self.dir.path().join("credentials")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("runs.log")
    }

    /// How often the `credential_process` ran.
    #[must_use]
    pub fn runs(&self) -> usize {
        std::fs::read_to_string(self.log_path())
            .map(|log| log.lines().count())
            .unwrap_or(0)
    }

    /// The environment of a program that must find the profile and nothing
    /// else: the two files, no key in the environment (empty values count as
    /// unset), no instance metadata, the profile not chosen (set `AWS_PROFILE`
    /// or pass the profile yourself).
    #[must_use]
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let path = |p: PathBuf| p.to_str().expect("a UTF-8 temporary path").to_owned();
        vec![
            ("AWS_CONFIG_FILE", path(self.config_file())),
            ("AWS_SHARED_CREDENTIALS_FILE", path(self.credentials_file())),
            ("AWS_ACCESS_KEY_ID", String::new()),
            ("AWS_SECRET_ACCESS_KEY", String::new()),
            ("AWS_SESSION_TOKEN", String::new()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
            ("HOME", path(self.dir.path().to_path_buf())),
        ]
    }
}

fn write(path: &Path, text: &str) {
    let mut file = std::fs::File::create(path)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
    file.write_all(text.as_bytes())
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

/// A stand-in for the IAM Identity Center (SSO) portal, which moto lacks: the
/// one call an SSO profile makes, `GetRoleCredentials` (`GET
/// /federation/credentials?role_name=ROLE&account_id=ACCOUNT` with the
/// `x-amz-sso_bearer_token` header, as the SSO portal API reference gives it),
/// answered with `keys` (their expiry an hour ahead, in epoch milliseconds)
/// when the token, role and account are the expected ones, and with the API's
/// `401 UnauthorizedException` otherwise. Point `AWS_ENDPOINT_URL_SSO` at
/// [`SsoPortal::endpoint`]. It listens on 127.0.0.1, one connection at a time,
/// each request head bounded (16 KiB, 5 s), and stops when dropped.
///
/// ```no_run
/// use cfsign_testkit::credentials::{Keys, SsoPortal};
///
/// let keys = Keys { access_key_id: "ASIA…".into(), secret_access_key: "…".into(), session_token: None };
/// let portal = SsoPortal::start(keys, "the-access-token", "111122223333", "MediaAdmin");
/// // Run the program with AWS_ENDPOINT_URL_SSO=portal.endpoint(), then:
/// assert_eq!(portal.requests().len(), 0);
/// ```
pub struct SsoPortal {
    endpoint: String,
    requests: std::sync::Arc<std::sync::Mutex<Vec<SsoRequest>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// One request the [`SsoPortal`] received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SsoRequest {
    /// The request target: path and query.
    pub target: String,
    /// Whether it carried the expected bearer token.
    pub token_ok: bool,
    /// The status it was answered with.
    pub status: u16,
}

impl SsoPortal {
    /// Starts the portal.
    ///
    /// # Panics
    ///
    /// If it cannot listen on 127.0.0.1.
    #[must_use]
    pub fn start(keys: Keys, token: &str, account: &str, role: &str) -> Self {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::{Arc, Mutex};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let endpoint = format!("http://{}", listener.local_addr().expect("local address"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let mut expected_query = [format!("role_name={role}"), format!("account_id={account}")];
        expected_query.sort();
        let asks_for_the_role = move |target: &str| {
            target.split_once('?').is_some_and(|(path, query)| {
                let mut query: Vec<&str> = query.split('&').collect();
                query.sort_unstable();
                path == "/federation/credentials" && query == expected_query
            })
        };
        let token = token.to_owned();
        let thread = {
            let (requests, stop) = (Arc::clone(&requests), Arc::clone(&stop));
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(mut stream) = stream else { continue };
                    let Some((target, headers)) = read_head(&mut stream) else {
                        continue;
                    };
                    let token_ok = headers.iter().any(|(name, value)| {
                        name.eq_ignore_ascii_case("x-amz-sso_bearer_token") && *value == token
                    });
                    let (status, body) = if token_ok && asks_for_the_role(&target) {
                        let expiration = (jiff::Timestamp::now()
                            + jiff::SignedDuration::from_hours(1))
                        .as_millisecond();
                        let credentials = serde_json::json!({"roleCredentials": {
                            "accessKeyId": keys.access_key_id,
                            "secretAccessKey": keys.secret_access_key,
                            "sessionToken": keys.session_token,
                            "expiration": expiration,
                        }});
                        (200, credentials.to_string())
                    } else {
                        let message = "Session token not found or invalid";
                        (401, serde_json::json!({"message": message}).to_string())
                    };
                    let reason = if status == 200 { "OK" } else { "Unauthorized" };
                    let mut head = format!(
                        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n\
                         Content-Length: {}\r\nConnection: close\r\n",
                        body.len()
                    );
                    if status == 401 {
                        head.push_str("x-amzn-ErrorType: UnauthorizedException\r\n");
                    }
                    head.push_str("\r\n");
                    let _ = stream.write_all(head.as_bytes());
                    let _ = stream.write_all(body.as_bytes());
                    requests.lock().expect("not poisoned").push(SsoRequest {
                        target,
                        token_ok,
                        status,
                    });
                }
            })
        };
        Self {
            endpoint,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`.
    #[must_use]
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The requests so far, in order.
    ///
    /// # Panics
    ///
    /// If the portal's thread panicked.
    #[must_use]
    pub fn requests(&self) -> Vec<SsoRequest> {
        self.requests.lock().expect("not poisoned").clone()
    }
}

impl Drop for SsoPortal {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag.
        let _ = std::net::TcpStream::connect(self.endpoint.trim_start_matches("http://"));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The request line's target and the headers of an HTTP/1.1 request head, read
/// with a bound (16 KiB, 5 s); `None` for anything else.
fn read_head(stream: &mut std::net::TcpStream) -> Option<(String, Vec<(String, String)>)> {
    use std::io::Read as _;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 || head.len() + n > 16 * 1024 {
            return None;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8(head).ok()?;
    let mut lines = text.split("\r\n");
    let target = lines.next()?.split(' ').nth(1)?.to_owned();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Some((target, headers))
}
