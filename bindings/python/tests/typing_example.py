"""An application module using cfsign's public API; `mypy --strict` checks it against the stubs."""

from __future__ import annotations

import datetime as dt

import cfsign
from cfsign.django import CloudFrontS3Storage, redirect_to_signed_url, set_signed_cookies


def sign_download(signer: cfsign.Signer, path: str) -> str:
    return signer.sign_url(f"https://d111111abcdef8.cloudfront.net/{path}", expires_in=dt.timedelta(minutes=15))


def playlist(signer: cfsign.Signer, segments: list[str]) -> list[str]:
    stamp: cfsign.SignedPolicy = signer.sign_policy("https://d111111abcdef8.cloudfront.net/hls/*", expires_in="6h")
    return [stamp.apply_to(s) for s in segments] + signer.sign_urls(segments, expires=4070908800, threads=2)


def cookie_headers(signer: cfsign.Signer) -> list[str]:
    cookies = signer.sign_cookies("https://d111111abcdef8.cloudfront.net/course/*", expires_in=3600, path="/course/")
    warnings: list[str] = [f"{w.code}: {w.message}" for w in cookies.warnings]
    values: dict[str, str] = dict(cookies)
    return cookies.set_cookie_headers + warnings + list(values)


def signed_playlist(signer: cfsign.Signer, playlist: bytes) -> tuple[bytes, dict[str, int], list[str]]:
    try:
        signed = signer.sign_manifest(
            playlist, "https://d111111abcdef8.cloudfront.net/hls/index.m3u8", mode="urls", expires_in="6h"
        )
    except cfsign.ManifestError as e:
        raise SystemExit(str(e)) from e
    manifest = signed.manifest
    assert isinstance(manifest, bytes)
    reasons = [f"line {entry['line']} {entry['place']}: {entry['uri']} ({entry['reason']})" for entry in signed.left_alone]
    return manifest, signed.signed_by_place, reasons


def check(url: str, public_pem: str) -> tuple[bool, int, str | None]:
    verifier = cfsign.Verifier({"K2JCJMDEHXQW5F": public_pem})
    decision = verifier.verify(url, client_ip="203.0.113.7", now=dt.datetime.now(dt.timezone.utc))
    report = verifier.explain(url)
    causes = [f"{f.code}: {f.summary} -> {f.fix}" for f in report.findings]
    return decision.allowed, decision.status, decision.reason or (causes[0] if causes else None)


def with_kms() -> cfsign.Signer:
    def sign(message: bytes) -> bytes:
        return message[::-1]

    return cfsign.Signer.from_callable("K2JCJMDEHXQW5F", sign, key_type="ecdsa", hash="sha256")


def botocore_style(private_pem: bytes) -> tuple[str, dict[str, str]]:
    signer = cfsign.CloudFrontSigner("K2JCJMDEHXQW5F", private_pem, hash_algorithm="SHA256")
    policy: str = signer.build_policy("https://x.net/*", dt.datetime(2099, 1, 1), ip_address="192.0.2.1")
    url: str = signer.generate_presigned_url("https://x.net/a.jpg", policy=policy)
    return url, signer.generate_signed_cookies("https://x.net/*", date_less_than=dt.datetime(2099, 1, 1))


def errors(signer: cfsign.Signer) -> str:
    try:
        return signer.sign_url("https://x.net/a b.jpg", expires_in=60)
    except cfsign.UrlError as e:
        return str(e)
    except (cfsign.TimeError, cfsign.PolicyError, cfsign.KeyFormatError, cfsign.SignError) as e:
        return repr(e)


def keys() -> cfsign.Signer:
    private_pem, _public_pem = cfsign.keygen("ecdsa")
    return cfsign.Signer("K2JCJMDEHXQW5F", private_pem, hash="sha256")


def storage_class() -> type[CloudFrontS3Storage]:
    _ = (redirect_to_signed_url, set_signed_cookies)
    return CloudFrontS3Storage
