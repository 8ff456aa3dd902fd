//! `cfsign quickstart`: a guided first run with no AWS account.
//!
//! Makes a throwaway key pair in a new temporary folder (kept, so the files can
//! be looked at and reused), signs a sample URL (canned policy) and a set of
//! cookies (custom wildcard policy), checks both signatures with the public key,
//! and explains every part. Then it starts a local edge on 127.0.0.1 over a
//! sample folder and fetches a signed URL (200), an unsigned one (403 MissingKey),
//! an expired one (403 AccessDenied) and a range (206); `--serve` keeps it running.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, Result, ensure};
use cfsign::{
    CookieAttributes, HashAlgorithm, KeyPairId, Policy, PrivateKey, Resource, SignableUrl, Signer,
    cloudfront_base64,
};
use cfsign_edge::config::{ConfigOverrides, ConfigSource, KeyFile, SimpleEdge};
use cfsign_edge::edge::Edge;
use cfsign_edge::fetch::{Fetched, fetch};
use cfsign_edge::observe::Metrics;
use cfsign_edge::server::{self, ServeOptions};
use http::{Method, StatusCode};

use crate::cli::QuickstartArgs;
use crate::commands::keygen::{key_type, write_key_pair};

const DOMAIN: &str = "d111111abcdef8.cloudfront.net";
const KEY_PAIR_ID: &str = "K2JCJMDEHXQW5F";

pub(crate) fn run(args: &QuickstartArgs) -> Result<()> {
    let dir = tempfile::Builder::new()
        .prefix("cfsign-quickstart-")
        .tempdir()
        .context("creating a temporary folder")?
        .keep();
    let key_type = key_type(args.key_type);
    let (private_path, public_path) = write_key_pair(&dir, key_type, false)?;
    let key = PrivateKey::from_file(&private_path)?;
    let public = key.public_key()?;
    let signer = Signer::new(KeyPairId::new(KEY_PAIR_ID)?, key);

    let url = SignableUrl::parse(&format!("https://{DOMAIN}/private/welcome.txt"))?;
    let url_policy = Policy::builder(Resource::Url(url.clone()))
        .expires_in(Duration::from_secs(3600))
        .build()?;
    let stamp = signer.sign_policy(&url_policy)?;
    let signed = stamp.apply_to(&url)?;
    let url_ok = public.verify(
        HashAlgorithm::Sha1,
        url_policy.json().as_bytes(),
        &cloudfront_base64::decode(stamp.signature())?,
    );
    ensure!(
        url_ok,
        "internal error: the sample URL signature does not verify"
    );

    let pattern = format!("https://{DOMAIN}/private/*");
    let cookie_policy = Policy::builder(Resource::pattern(&pattern)?)
        .expires_in(Duration::from_secs(3600))
        .build()?;
    let cookie_stamp = signer.sign_policy(&cookie_policy)?;
    let cookies = cookie_stamp.to_cookies();
    let cookie_ok = public.verify(
        HashAlgorithm::Sha1,
        cookie_policy.json().as_bytes(),
        &cloudfront_base64::decode(cookie_stamp.signature())?,
    );
    ensure!(
        cookie_ok,
        "internal error: the sample cookie signature does not verify"
    );
    let headers = cookies.set_cookie_headers(&CookieAttributes::default().path("/private/"))?;

    let expires = url_policy.date_less_than();
    let short = |s: &str| {
        if s.len() > 24 {
            format!("{}...{} ({} chars)", &s[..12], &s[s.len() - 8..], s.len())
        } else {
            s.to_owned()
        }
    };
    let mut t = String::new();
    let _ = writeln!(
        t,
        "cfsign quickstart: signed CloudFront URLs and cookies, no AWS account needed\n"
    );
    let _ = writeln!(
        t,
        "1. A throwaway {key_type} key pair, in {}",
        dir.display()
    );
    let _ = writeln!(
        t,
        "   {}  signs; keep it secret (mode 0600)",
        private_path.display()
    );
    let _ = writeln!(
        t,
        "   {}  what you upload to CloudFront (Public keys), then put in a key group",
        public_path.display()
    );
    let _ = writeln!(
        t,
        "   Key-Pair-Id {KEY_PAIR_ID} stands for the ID CloudFront gives the uploaded public key.\n"
    );
    let _ = writeln!(t, "2. A signed URL (canned policy, valid for 1 hour):\n");
    let _ = writeln!(t, "   {signed}\n");
    let _ = writeln!(
        t,
        "   {:<28} the file, exactly as the browser requests it (never re-encoded)",
        url.as_str().split('/').next_back().unwrap_or("")
    );
    let _ = writeln!(
        t,
        "   {:<28} access ends at {} (epoch seconds, UTC)",
        format!("Expires={expires}"),
        expires.to_timestamp()
    );
    let _ = writeln!(
        t,
        "   {:<28} {key_type} signature of the policy below, SHA-1, CloudFront base64",
        format!("Signature={}", short(stamp.signature()))
    );
    let _ = writeln!(
        t,
        "   {:<28} which public key CloudFront checks it with",
        format!("Key-Pair-Id={KEY_PAIR_ID}")
    );
    let _ = writeln!(
        t,
        "   The policy is not sent: CloudFront rebuilds it from the URL and Expires, byte for byte:"
    );
    let _ = writeln!(t, "   {}", url_policy.json());
    let _ = writeln!(
        t,
        "   Checked: the signature verifies with {}.\n",
        public_path.display()
    );
    let _ = writeln!(
        t,
        "3. Signed cookies for everything under {pattern} (custom policy, 1 hour):\n"
    );
    for h in &headers {
        let (name, rest) = h.split_once('=').unwrap_or((h, ""));
        let (value, attrs) = rest.split_once(';').unwrap_or((rest, ""));
        let _ = writeln!(t, "   Set-Cookie: {name}={};{attrs}", short(value));
    }
    let _ = writeln!(
        t,
        "\n   CloudFront-Policy is the policy JSON, CloudFront base64; the wildcard makes it custom:"
    );
    let _ = writeln!(t, "   {}", cookie_policy.json());
    let _ = writeln!(
        t,
        "   Secure, HttpOnly and SameSite=Lax are on; they are session cookies (no Max-Age), as AWS advises."
    );
    let _ = writeln!(
        t,
        "   Checked: the signature verifies with {}.\n",
        public_path.display()
    );
    let site = dir.join("site");
    std::fs::create_dir_all(site.join("private")).context("creating the sample site")?;
    std::fs::write(site.join("private/welcome.txt"), WELCOME).context("writing the sample file")?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let mut replies = Vec::new();
    let base = runtime.block_on(local_edge(
        &signer,
        &public_path,
        &site,
        args.serve,
        &mut t,
        &mut replies,
    ))?;
    let _ = writeln!(t, "5. Your turn:");
    let _ = writeln!(
        t,
        "   cfsign url 'https://{DOMAIN}/private/report.pdf' --key-pair-id {KEY_PAIR_ID} \\\n       --private-key {} --expires-in 15m",
        private_path.display()
    );
    let _ = writeln!(
        t,
        "   cfsign cookies 'https://{DOMAIN}/private/*' --key-pair-id {KEY_PAIR_ID} \\\n       --private-key {} --expires-in 1h --path /private/",
        private_path.display()
    );
    let _ = writeln!(
        t,
        "   cfsign keygen --out keys/     # a real key pair; then upload keys/public_key.pem to CloudFront"
    );
    let _ = writeln!(
        t,
        "   cfsign edge --root ./media --public-key {KEY_PAIR_ID}={}   # your own local edge\n   \
         cfsign quickstart --serve      # keep this one running for a browser",
        public_path.display()
    );
    if args.json {
        let key = private_path.display();
        let your_turn = [
            format!(
                "cfsign url 'https://{DOMAIN}/private/report.pdf' --key-pair-id {KEY_PAIR_ID} \
                 --private-key {key} --expires-in 15m"
            ),
            format!(
                "cfsign cookies 'https://{DOMAIN}/private/*' --key-pair-id {KEY_PAIR_ID} \
                 --private-key {key} --expires-in 1h --path /private/"
            ),
            "cfsign keygen --out keys/".to_owned(),
            format!(
                "cfsign edge --root ./media --public-key {KEY_PAIR_ID}={}",
                public_path.display()
            ),
            "cfsign quickstart --serve".to_owned(),
        ];
        let value = serde_json::json!({
            "dir": dir.display().to_string(),
            "key_pair": {
                "key_type": key_type.to_string(),
                "private_key_file": private_path.display().to_string(),
                "public_key_file": public_path.display().to_string(),
                "key_pair_id": KEY_PAIR_ID,
                "key_pair_id_hint": format!(
                    "{KEY_PAIR_ID} stands for the ID CloudFront gives the uploaded public key: {}",
                    crate::commands::keygen::KEY_PAIR_ID_HINT
                ),
            },
            "url": {
                "signed_url": signed.as_str(),
                "policy_form": url_policy.form().to_string(),
                "policy": crate::commands::policy_value(url_policy.json()),
                "policy_text": url_policy.json(),
                "expires": expires.get(),
                "expires_at": crate::commands::iso(expires),
                "signature": stamp.signature(),
                "verified": url_ok,
            },
            "cookies": {
                "resource": pattern,
                "set_cookie": headers,
                "policy_form": cookie_policy.form().to_string(),
                "policy": crate::commands::policy_value(cookie_policy.json()),
                "policy_text": cookie_policy.json(),
                "verified": cookie_ok,
            },
            "edge": {
                "base": base,
                "site": site.display().to_string(),
                "requests": replies,
            },
            "next": your_turn,
        });
        writeln!(
            std::io::stdout().lock(),
            "{}",
            crate::commands::with_schema(value)
        )
        .context("writing to stdout")?;
        return Ok(());
    }
    std::io::stdout()
        .lock()
        .write_all(t.as_bytes())
        .context("writing to stdout")?;
    Ok(())
}

/// Request headers as (name, value) pairs.
type Headers<'a> = &'a [(&'a str, &'a str)];

const WELCOME: &str =
    "Welcome to cfsign: this file is only served with a valid CloudFront signature.\n";

/// Section 4: a real edge on 127.0.0.1 and four requests to it.
async fn local_edge(
    signer: &Signer,
    public_path: &Path,
    site: &Path,
    serve: bool,
    t: &mut String,
    replies: &mut Vec<serde_json::Value>,
) -> Result<String> {
    // The edge `cfsign edge --root SITE --public-key ID=PUBLIC_KEY` runs.
    let mut described = SimpleEdge::new(site);
    described.keys.push(KeyFile {
        id: KEY_PAIR_ID.to_owned(),
        public_key: public_path.to_owned(),
    });
    let config = ConfigSource::Simple(described)
        .load(&ConfigOverrides::default())
        .context("configuring the local edge")?;
    let edge = Edge::from_config(&config, Metrics::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("listening on 127.0.0.1")?;
    let base = format!(
        "http://{}",
        listener.local_addr().context("reading the address")?
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(server::serve(
        listener,
        edge.observed(None),
        ServeOptions::default(),
        async {
            let _ = stopped.await;
        },
    ));
    let url = SignableUrl::parse(&format!("{base}/private/welcome.txt"))?;
    let now = jiff::Timestamp::now();
    let sign_until = |seconds: i64| -> Result<String> {
        let policy = Policy::builder(Resource::Url(url.clone()))
            .expires_at(now + jiff::SignedDuration::from_secs(seconds))
            .allow_past_expiry(true)
            .build_at(now)?;
        Ok(signer.sign_url(&url, &policy)?.into_string())
    };
    let signed = sign_until(3600)?;
    let expired = sign_until(-60)?;
    let _ = writeln!(
        t,
        "4. A local edge on {base}, serving {} the way CloudFront would:\n",
        site.display()
    );
    let timeout = Duration::from_secs(10);
    let requests: [(&str, &str, Headers<'_>); 4] = [
        ("GET signed URL", signed.as_str(), &[]),
        ("GET unsigned URL", url.as_str(), &[]),
        ("GET expired URL", expired.as_str(), &[]),
        (
            "GET signed URL, Range: bytes=0-6",
            signed.as_str(),
            &[("range", "bytes=0-6")],
        ),
    ];
    for (label, target, headers) in requests {
        let reply = fetch(Method::GET, target, headers, timeout)
            .await
            .with_context(|| format!("{label}: {target}"))?;
        let described = describe(&reply);
        let _ = writeln!(t, "   {label:<34} -> {described}");
        replies.push(serde_json::json!({
            "request": label,
            "status": reply.status.as_u16(),
            "result": described,
        }));
    }
    let _ = writeln!(t);
    if serve {
        let _ = writeln!(
            t,
            "   Serving until Ctrl-C. Open in a browser (valid for 1 hour):\n   {signed}\n"
        );
        std::io::stdout()
            .lock()
            .write_all(t.as_bytes())
            .context("writing to stdout")?;
        t.clear();
        server::shutdown_signal().await;
    }
    let _ = stop.send(());
    server
        .await
        .context("stopping the local edge")?
        .context("the local edge failed")?;
    Ok(base)
}

/// One line for a reply: the status, and CloudFront's code and message for a 403.
fn describe(reply: &Fetched) -> String {
    let status = reply.status;
    let reason = status.canonical_reason().unwrap_or("");
    let body = String::from_utf8_lossy(&reply.body);
    if status == StatusCode::FORBIDDEN {
        let between = |open: &str, close: &str| {
            body.split(open)
                .nth(1)
                .and_then(|r| r.split(close).next())
                .unwrap_or("")
                .to_owned()
        };
        return format!(
            "{} {}: {}",
            status.as_u16(),
            between("<Code>", "</Code>"),
            between("<Message>", "</Message>")
        );
    }
    match reply
        .headers
        .get("content-range")
        .and_then(|v| v.to_str().ok())
    {
        Some(range) => format!(
            "{} {reason}, Content-Range: {range}, body {body:?}",
            status.as_u16()
        ),
        None => format!(
            "{} {reason}, {} bytes: {:?}",
            status.as_u16(),
            reply.body.len(),
            body.trim_end()
        ),
    }
}
