//! `cfsign manifest`: sign every URI of an HLS playlist or a DASH MPD.

use std::io::Write as _;
use std::path::Path;

use anyhow::{Context as _, Result, anyhow};
use cfsign::Resource;
use cfsign::input::Source;
use cfsign::manifest::{self, MANIFEST_FILE, ManifestError, Mode, Report};

use crate::cli::{ManifestArgs, ManifestMode};
use crate::commands::{iso, print_warnings, warnings_json};
use crate::signing::{SigningConfig, flag_hints};

pub(crate) fn run(args: &ManifestArgs) -> Result<()> {
    let mode = match args.mode {
        ManifestMode::Policy => Mode::Policy,
        ManifestMode::Urls => Mode::Urls,
        ManifestMode::UrlQuery => return url_query(args),
    };
    let config =
        SigningConfig::from_args(&args.signing, (args.input == "-").then_some("--input -"))?;
    let url = config.policy.url(&args.url).context("MANIFEST_URL")?;
    let input = read_manifest(&args.input)?;
    let signed = manifest::sign(&input, &url, &config.signer, &config.policy.options, mode)
        .map_err(|e| match e {
            ManifestError::CannedPolicy => anyhow!(
                "--resource is one exact URL, so its policy would be canned and cover nothing else; \
                 give a wildcard resource such as the manifest's folder followed by * (the default)"
            ),
            ManifestError::CannedConditions => anyhow!(
                "--mode urls signs each URI with a canned policy, which holds only an expiry: \
                 drop --not-before, --ip and --policy, or use --mode policy"
            ),
            ManifestError::Options(o) => flag_hints(o),
            other => anyhow!(other).context(input_name(&args.input)),
        })?;
    let (rewritten, policy, covers) = (signed.rewritten, signed.policy, signed.covers);
    let warnings = match mode {
        Mode::Policy => cfsign::lint::lint_policy(
            &policy,
            None,
            config.policy.options.now(),
            Some(config.signer.key_type()),
        ),
        Mode::Urls => Vec::new(),
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        let manifest_text =
            String::from_utf8(rewritten.text).context("the rewritten manifest is not UTF-8")?;
        let value = serde_json::json!({
            "manifest": manifest_text,
            "format": rewritten.report.format.as_str(),
            "mode": match mode { Mode::Policy => "policy", Mode::Urls => "urls" },
            "resource": covers.as_str(),
            "expires": policy.date_less_than().get(),
            "expires_at": iso(policy.date_less_than()),
            "key_pair_id": config.signer.key_pair_id().as_str(),
            "hash_algorithm": config.signer.hash_algorithm().as_param(),
            "signed": rewritten.report.signed,
            // An object, as in the Python and Node packages' results.
            "signed_by_place": rewritten.report.signed_by_place.iter()
                .map(|(place, n)| ((*place).to_owned(), serde_json::json!(n)))
                .collect::<serde_json::Map<_, _>>(),
            "left_alone": rewritten.report.left_alone.iter()
                .map(|l| serde_json::json!({"line": l.line, "place": l.place, "uri": l.uri, "reason": l.reason.to_string()}))
                .collect::<Vec<_>>(),
            "warnings": warnings_json(&warnings),
        });
        writeln!(out, "{}", crate::commands::with_schema(value)).context("writing to stdout")?;
    } else {
        print_warnings(&warnings);
        out.write_all(&rewritten.text)
            .context("writing to stdout")?;
        out.flush().context("writing to stdout")?;
        print_summary(&rewritten.report, &covers);
    }
    Ok(())
}

/// `--mode url-query`: DASH's UrlQueryInfo in every AdaptationSet; nothing signed.
fn url_query(args: &ManifestArgs) -> Result<()> {
    let s = &args.signing;
    let p = &s.policy;
    if s.private_key.is_some()
        || s.kms_key_id.is_some()
        || s.hash.is_some()
        || p.expires.is_some()
        || p.expires_in.is_some()
        || p.not_before.is_some()
        || p.ip.is_some()
        || p.resource.is_some()
        || p.policy.is_some()
    {
        return Err(anyhow!(
            "--mode url-query signs nothing (the player appends the signed MPD URL's query to its \
             requests): drop the signing flags here and give them to `cfsign url` for the MPD URL"
        ));
    }
    let url = cfsign::SignableUrl::parse(&args.url).context("MANIFEST_URL")?;
    let input = read_manifest(&args.input)?;
    let prepared = manifest::url_query(&input).with_context(|| input_name(&args.input))?;
    let folder = manifest::stream_resource(&url).context("MANIFEST_URL")?;
    let mut out = std::io::stdout().lock();
    if args.json {
        let value = serde_json::json!({
            "manifest": String::from_utf8(prepared.text).context("the MPD is not UTF-8")?,
            "format": "DASH",
            "mode": "url-query",
            "adaptation_sets": prepared.adaptation_sets,
            "resource": folder.as_str(),
        });
        writeln!(out, "{}", crate::commands::with_schema(value)).context("writing to stdout")?;
    } else {
        out.write_all(&prepared.text).context("writing to stdout")?;
        out.flush().context("writing to stdout")?;
        eprintln!(
            "DASH: UrlQueryInfo added to {} AdaptationSet{}; dash.js 5+ and Shaka Player 4.11+ append the MPD \
             URL's query to every segment request (Media3/ExoPlayer does not). Hand out the MPD URL signed \
             with a custom policy for its folder:\n  cfsign url '{url}' --resource '{folder}' \
             --key-pair-id ID --private-key private_key.pem --expires-in 6h",
            prepared.adaptation_sets,
            if prepared.adaptation_sets == 1 {
                ""
            } else {
                "s"
            },
        );
    }
    Ok(())
}

fn read_manifest(input: &str) -> Result<Vec<u8>> {
    let bytes = if input == "-" {
        MANIFEST_FILE.read(std::io::stdin().lock(), Source::Stdin)
    } else {
        MANIFEST_FILE.read_file(Path::new(input))
    };
    bytes.context("--input")
}

/// The manifest as named in messages.
fn input_name(input: &str) -> String {
    if input == "-" {
        "the manifest on standard input".to_owned()
    } else {
        format!("the manifest {input}")
    }
}

/// What was signed and left alone, on stderr.
fn print_summary(report: &Report, covers: &Resource) {
    let mut err = std::io::stderr().lock();
    let places: Vec<String> = report
        .signed_by_place
        .iter()
        .map(|(place, n)| format!("{place}: {n}"))
        .collect();
    let _ = writeln!(
        err,
        "{}: signed {} URI{} under {covers}{}",
        report.format,
        report.signed,
        if report.signed == 1 { "" } else { "s" },
        if places.is_empty() {
            String::new()
        } else {
            format!(" ({})", places.join(", "))
        }
    );
    if !report.left_alone.is_empty() {
        let _ = writeln!(err, "left alone: {}", report.left_alone.len());
        for l in &report.left_alone {
            let _ = writeln!(
                err,
                "  line {} {}: {} ({})",
                l.line, l.place, l.uri, l.reason
            );
        }
    }
}
