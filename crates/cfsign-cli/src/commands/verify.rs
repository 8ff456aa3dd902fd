//! `cfsign verify`, `cfsign explain` and `cfsign inspect`.

use std::io::Write as _;
use std::net::IpAddr;

use anyhow::{Context as _, Result, anyhow, bail};
use cfsign::excerpt::Excerpt;
use cfsign::explain::{Explanation, explain as diagnose};
use cfsign::input::{Limit, Source};
use cfsign::time::parse_instant;
use cfsign::verify::{Decision, KeyGroup, Verifier, ViewerRequest};
use cfsign::{KeyPairId, PublicKey};
use jiff::Timestamp;

use crate::cli::{InspectArgs, VerifyArgs};
use crate::commands::{policy_value, with_schema};

/// One line read from stdin with `-`: a URL (CloudFront's limit is 8,192 bytes)
/// with slack. A longer line is refused while it is read and stops the command.
const STDIN_LINE: Limit = Limit::new(
    "a line",
    16 * 1024,
    "a line holds one URL (CloudFront accepts at most 8,192 bytes): check that the input is a \
     list of URLs, one per line",
);

struct Inputs {
    verifier: Option<Verifier>,
    cookie: Option<String>,
    client_ip: Option<IpAddr>,
    now: Timestamp,
}

impl Inputs {
    fn from_args(args: &VerifyArgs, require_keys: bool) -> Result<Self> {
        let group = key_group(&args.public_key)?;
        if require_keys && group.keys().is_empty() {
            bail!(
                "no public key: give --public-key KEYID=PATH (the public key uploaded to CloudFront under that ID)"
            );
        }
        let verifier = (!group.keys().is_empty()).then(|| Verifier::new().with_key_group(group));
        let client_ip = args
            .client_ip
            .as_deref()
            .map(|ip| {
                ip.parse::<IpAddr>().with_context(|| {
                    format!("--client-ip {} is not an IP address", Excerpt::start(ip))
                })
            })
            .transpose()?;
        let now = match &args.now {
            Some(t) => parse_instant(t).context("--now")?,
            None => Timestamp::now(),
        };
        Ok(Self {
            verifier,
            cookie: args.cookie.clone(),
            client_ip,
            now,
        })
    }

    fn request<'a>(&'a self, url: &'a str) -> ViewerRequest<'a> {
        let mut r = ViewerRequest::new(url);
        if let Some(c) = &self.cookie {
            r = r.cookie_header(
                c.strip_prefix("Cookie:")
                    .map_or(c.as_str(), str::trim_start),
            );
        }
        if let Some(ip) = self.client_ip {
            r = r.client_ip(ip);
        }
        r
    }
}

/// The key group given by `--public-key KEYID=PATH` options.
pub(crate) fn key_group(specs: &[String]) -> Result<KeyGroup> {
    let mut group = KeyGroup::new("command line");
    for spec in specs {
        let (id, path) = spec.split_once('=').ok_or_else(|| {
            anyhow!(
                "--public-key {}: write KEYID=PATH, e.g. K2JCJMDEHXQW5F=public_key.pem",
                Excerpt::start(spec)
            )
        })?;
        let id =
            KeyPairId::new(id).with_context(|| format!("--public-key {}", Excerpt::start(spec)))?;
        let key = PublicKey::from_file(path.strip_prefix("file://").unwrap_or(path))
            .with_context(|| format!("--public-key {}", Excerpt::start(spec)))?;
        group = group.with_key(id, key);
    }
    Ok(group)
}

/// `cfsign verify`: true when everything was allowed.
pub(crate) fn verify(args: &VerifyArgs) -> Result<bool> {
    let inputs = Inputs::from_args(args, true)?;
    let Some(verifier) = &inputs.verifier else {
        return Ok(false);
    };
    let mut out = std::io::stdout().lock();
    if args.url != "-" {
        let decision = verifier.verify(&inputs.request(&args.url), inputs.now);
        if args.json {
            writeln!(out, "{}", with_schema(decision_json(&decision, None)))
                .context("writing to stdout")?;
        } else {
            match &decision {
                Decision::Allowed(a) => {
                    writeln!(out, "allowed").context("writing to stdout")?;
                    writeln!(
                        out,
                        "key pair {} (group {}), {} policy via {}, {}, expires {}\norigin URL: {}",
                        a.key_pair_id(),
                        a.key_group(),
                        a.form(),
                        a.source(),
                        a.hash_algorithm(),
                        a.date_less_than().to_timestamp(),
                        a.forward_url()
                    )
                    .context("writing to stdout")?;
                }
                Decision::Denied(d) => {
                    let code = d.code();
                    writeln!(
                        out,
                        "403 {}: {}\nreason: {}",
                        code.as_str(),
                        code.message(),
                        d.reason()
                    )
                    .context("writing to stdout")?;
                    writeln!(
                        out,
                        "(run `cfsign explain` with the same arguments for a diagnosis)"
                    )
                    .context("writing to stdout")?;
                }
            }
        }
        return Ok(decision.is_allowed());
    }
    let mut all = true;
    let mut lines = STDIN_LINE.lines(std::io::stdin().lock(), Source::Stdin);
    let mut line = Vec::new();
    while lines.read_line(&mut line)? {
        let number = lines.number();
        let text = String::from_utf8_lossy(&line);
        let url = text.trim();
        if url.is_empty() {
            continue;
        }
        let decision = verifier.verify(&inputs.request(url), inputs.now);
        all &= decision.is_allowed();
        if args.json {
            writeln!(
                out,
                "{}",
                with_schema(decision_json(&decision, Some(number)))
            )
            .context("writing to stdout")?;
        } else {
            match &decision {
                Decision::Allowed(a) => writeln!(out, "allowed {}", a.forward_url()),
                Decision::Denied(d) => writeln!(out, "{d}"),
            }
            .context("writing to stdout")?;
        }
    }
    Ok(all)
}

fn decision_json(decision: &Decision, line: Option<usize>) -> serde_json::Value {
    let mut v = match decision {
        Decision::Allowed(a) => serde_json::json!({
            "allowed": true,
            "key_pair_id": a.key_pair_id(),
            "key_group": a.key_group(),
            "policy_form": a.form().to_string(),
            "credentials": a.source().to_string(),
            "hash_algorithm": a.hash_algorithm().as_param(),
            "expires": a.date_less_than().get(),
            "policy": policy_value(a.policy_json()),
            "policy_text": a.policy_json(),
            "resource": a.resource(),
            "forward_url": a.forward_url(),
        }),
        Decision::Denied(d) => serde_json::json!({
            "allowed": false,
            "status": d.status(),
            "code": d.code().as_str(),
            "message": d.code().message(),
            "reason": d.reason().to_string(),
        }),
    };
    if let (Some(n), Some(map)) = (line, v.as_object_mut()) {
        map.insert("line".to_owned(), n.into());
    }
    v
}

/// `cfsign explain`: true when allowed, or nothing wrong could be seen without keys.
pub(crate) fn explain(args: &VerifyArgs) -> Result<bool> {
    if args.url == "-" {
        bail!("explain takes one URL; use `cfsign verify -` for many");
    }
    let inputs = Inputs::from_args(args, false)?;
    let report = diagnose(
        inputs.verifier.as_ref(),
        &inputs.request(&args.url),
        inputs.now,
    );
    print_report(&report, args.json)?;
    Ok(match &report.decision {
        Some(d) => d.is_allowed(),
        None => report.findings.is_empty(),
    })
}

/// `cfsign inspect`: decode only.
/// `cfsign inspect -`: one signed URL or Cookie header on standard input.
const INSPECT_INPUT: Limit = Limit::new(
    "the signed URL or Cookie header",
    64 * 1024,
    "`cfsign inspect -` reads one signed URL (CloudFront accepts at most 8,192 bytes) or one \
     Cookie header",
);

pub(crate) fn inspect(args: &InspectArgs) -> Result<()> {
    let read;
    let input = if args.input == "-" {
        read = crate::signing::read_stdin_value(&INSPECT_INPUT, "SIGNED_URL_OR_COOKIE_HEADER")?;
        read.trim()
    } else {
        args.input.trim()
    };
    let (url, cookie) = if input.starts_with("http://") || input.starts_with("https://") {
        (input, None)
    } else {
        // A Cookie header: decode it against a placeholder URL.
        let header = input.strip_prefix("Cookie:").map_or(input, str::trim_start);
        if !header.contains("CloudFront-") {
            bail!(
                "{} is neither a URL (http:// or https://) nor a Cookie header with CloudFront-* cookies",
                Excerpt::start(input)
            );
        }
        ("https://cookie.invalid/", Some(header))
    };
    let mut request = ViewerRequest::new(url);
    if let Some(c) = cookie {
        request = request.cookie_header(c);
    }
    let report = diagnose(None, &request, Timestamp::now());
    let mut out = std::io::stdout().lock();
    let facts: Vec<_> = report
        .facts
        .iter()
        .filter(|(l, _)| !(cookie.is_some() && *l == "unsigned URL"))
        .collect();
    if args.json {
        let map: serde_json::Map<String, serde_json::Value> = facts
            .iter()
            .map(|(l, v)| ((*l).to_owned(), serde_json::Value::String(v.clone())))
            .collect();
        writeln!(out, "{}", with_schema(serde_json::Value::Object(map)))
            .context("writing to stdout")?;
    } else {
        for (label, value) in facts {
            writeln!(out, "{label:>16}: {value}").context("writing to stdout")?;
        }
    }
    Ok(())
}

fn print_report(report: &Explanation, json: bool) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        let value = serde_json::json!({
            "decision": report.decision.as_ref().map(|d| decision_json(d, None)),
            "facts": report.facts.iter().map(|(l, v)| serde_json::json!({"label": l, "value": v})).collect::<Vec<_>>(),
            "findings": report.findings.iter().map(|f| serde_json::json!({"code": f.code, "summary": f.summary, "fix": f.fix})).collect::<Vec<_>>(),
            "not_checked": report.unchecked,
        });
        writeln!(out, "{}", with_schema(value)).context("writing to stdout")?;
    } else {
        write!(out, "{report}").context("writing to stdout")?;
    }
    Ok(())
}
