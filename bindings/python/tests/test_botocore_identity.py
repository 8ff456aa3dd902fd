"""Byte-identity with botocore's CloudFrontSigner (+ cryptography) over generated cases,
for cfsign.Signer and for the drop-in cfsign.CloudFrontSigner; SHA-256 and ECDSA checked
with cryptography; cookies checked by the verifier and by cryptography."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Optional

import pytest
from botocore.signers import CloudFrontSigner as BotocoreSigner

import cfsign
from conftest import KEY_ID, cloudfront_b64decode, crypto_verify, rsa_signer_for, signed_message

CASES = 320
HOST = "https://d111111abcdef8.cloudfront.net"
SAFE = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~"
UTC = dt.timezone.utc


@dataclass
class Case:
    kind: str
    url: str
    resource: str
    expires: dt.datetime
    start: Optional[dt.datetime]
    ip: Optional[str]


def segment(rng: random.Random) -> str:
    text = "".join(rng.choice(SAFE) for _ in range(rng.randint(1, 10)))
    if text in (".", ".."):
        text = "x" + text
    if rng.random() < 0.2:
        text += "%20" + rng.choice(["a", "%C3%A9", "%2A"])
    return text


def when(rng: random.Random, base: dt.datetime) -> dt.datetime:
    """Whole seconds, as naive UTC, UTC or another offset."""
    moment = base.replace(microsecond=0)
    style = rng.randrange(3)
    if style == 0:
        return moment.replace(tzinfo=None)
    if style == 1:
        return moment
    return moment.astimezone(dt.timezone(dt.timedelta(hours=rng.randint(-11, 13))))


def generate(seed: int = 20261201) -> list[Case]:
    rng = random.Random(seed)
    now = dt.datetime.now(UTC)
    kinds = ["canned", "custom-ip", "custom-start", "custom-both", "wildcard", "query"]
    cases = []
    for i in range(CASES):
        kind = kinds[i % len(kinds)]
        path = "/".join(segment(rng) for _ in range(rng.randint(1, 4)))
        url = f"{HOST}/{path}"
        if kind == "query" or rng.random() < 0.15:
            url += "?" + "&".join(f"{segment(rng)}={segment(rng)}" for _ in range(rng.randint(1, 3)))
        expires = when(rng, now + dt.timedelta(seconds=rng.randint(120, 40 * 86400)))
        start = None
        ip = None
        resource = url
        if kind in ("custom-start", "custom-both"):
            start = when(rng, now + dt.timedelta(seconds=rng.randint(-86400, 60)))
        if kind in ("custom-ip", "custom-both"):
            octets = ".".join(str(rng.randint(1, 254)) for _ in range(4))
            ip = octets if rng.random() < 0.5 else f"{octets}/{rng.randint(8, 32)}"
        if kind == "wildcard":
            resource = f"{HOST}/{path.split('/')[0]}/*" if "/" in path else f"{HOST}/*"
            if rng.random() < 0.3:
                resource = "https://*.cloudfront.net/" + path.split("/")[0] + "*"
        cases.append(Case(kind, url, resource, expires, start, ip))
    return cases


CASE_LIST = generate()


@pytest.fixture(scope="module")
def signers(rsa_pem: bytes) -> tuple[BotocoreSigner, cfsign.CloudFrontSigner, cfsign.CloudFrontSigner, cfsign.Signer]:
    rsa_signer = rsa_signer_for(rsa_pem)
    return (
        BotocoreSigner(KEY_ID, rsa_signer),
        cfsign.CloudFrontSigner(KEY_ID, rsa_pem),
        cfsign.CloudFrontSigner(KEY_ID, rsa_signer),
        cfsign.Signer(KEY_ID, rsa_pem),
    )


def test_the_generated_cases_cover_every_kind() -> None:
    assert len(CASE_LIST) >= 300
    kinds = {c.kind for c in CASE_LIST}
    assert kinds == {"canned", "custom-ip", "custom-start", "custom-both", "wildcard", "query"}
    assert any("?" in c.url for c in CASE_LIST if c.kind != "query")
    assert any(c.expires.tzinfo is None for c in CASE_LIST)
    assert any(c.ip and "/" not in c.ip for c in CASE_LIST)


@pytest.mark.parametrize("case", CASE_LIST, ids=lambda c: f"{c.kind}")
def test_byte_identical_to_botocore(
    case: Case,
    signers: tuple[BotocoreSigner, cfsign.CloudFrontSigner, cfsign.CloudFrontSigner, cfsign.Signer],
) -> None:
    botocore, dropin, dropin_callable, signer = signers
    if case.kind in ("canned", "query"):
        expected = botocore.generate_presigned_url(case.url, date_less_than=case.expires)
        assert "Expires=" in expected
        assert dropin.generate_presigned_url(case.url, date_less_than=case.expires) == expected
        assert dropin_callable.generate_presigned_url(case.url, date_less_than=case.expires) == expected
        assert signer.sign_url(case.url, expires=case.expires) == expected
        return
    policy = botocore.build_policy(case.resource, case.expires, case.start, case.ip)
    assert dropin.build_policy(case.resource, case.expires, case.start, case.ip) == policy
    expected = botocore.generate_presigned_url(case.url, policy=policy)
    assert "Policy=" in expected
    assert dropin.generate_presigned_url(case.url, policy=policy) == expected
    assert dropin.generate_presigned_url(case.url, policy=policy.encode()) == expected
    assert dropin_callable.generate_presigned_url(case.url, policy=policy) == expected
    assert signer.sign_url(case.url, policy=policy) == expected
    # The native API builds the same policy from its parts.
    assert (
        signer.sign_url(
            case.url,
            expires=case.expires,
            not_before=case.start,
            ip=case.ip,
            resource=None if case.resource == case.url else case.resource,
        )
        == expected
    )


@pytest.mark.parametrize("key,public,hash_name", [
    ("rsa", "rsa_pub", "sha256"),
    ("ec", "ec_pub", "sha1"),
    ("ec", "ec_pub", "sha256"),
    ("rsa", "rsa_pub", "sha1"),
])
def test_signatures_verify_with_cryptography(
    key: str, public: str, hash_name: str, rsa_pem: bytes, rsa_public_pem: bytes, ec_pem: bytes, ec_public_pem: bytes
) -> None:
    private_pem = rsa_pem if key == "rsa" else ec_pem
    public_pem = rsa_public_pem if key == "rsa" else ec_public_pem
    signer = cfsign.Signer(KEY_ID, private_pem, hash=hash_name)  # type: ignore[arg-type]
    dropin = cfsign.CloudFrontSigner(KEY_ID, private_pem, hash_algorithm=hash_name.upper())  # type: ignore[arg-type]
    for case in CASE_LIST[:60]:
        if case.kind in ("canned", "query"):
            urls = [signer.sign_url(case.url, expires=case.expires),
                    dropin.generate_presigned_url(case.url, date_less_than=case.expires)]
        else:
            urls = [signer.sign_url(case.url, expires=case.expires, not_before=case.start, ip=case.ip,
                                    resource=case.resource)]
        for url in urls:
            message, signature, announced = signed_message(url)
            assert announced == hash_name.upper()
            assert url.endswith("&Hash-Algorithm=SHA256") == (hash_name == "sha256")
            crypto_verify(public_pem, message, signature, announced)


@pytest.mark.parametrize("key,hash_name", [("rsa", "sha1"), ("rsa", "sha256"), ("ec", "sha1"), ("ec", "sha256")])
def test_cookies_verify_with_the_verifier_and_cryptography(
    key: str, hash_name: str, rsa_pem: bytes, rsa_public_pem: bytes, ec_pem: bytes, ec_public_pem: bytes
) -> None:
    private_pem = rsa_pem if key == "rsa" else ec_pem
    public_pem = rsa_public_pem if key == "rsa" else ec_public_pem
    signer = cfsign.Signer(KEY_ID, private_pem, hash=hash_name)  # type: ignore[arg-type]
    verifier = cfsign.Verifier({KEY_ID: public_pem})
    dropin = cfsign.CloudFrontSigner(KEY_ID, private_pem, hash_algorithm=hash_name.upper())  # type: ignore[arg-type]
    for case in [c for c in CASE_LIST if c.kind == "wildcard"][:15]:
        for cookies in (
            dict(signer.sign_cookies(case.resource, expires=case.expires)),
            dropin.generate_signed_cookies(case.resource, date_less_than=case.expires),
        ):
            assert ("CloudFront-Hash-Algorithm" in cookies) == (hash_name == "sha256")
            assert verifier.verify(case.url, cookies=cookies).allowed, case
            elsewhere = "https://elsewhere.example.com/x"
            assert verifier.verify(elsewhere, cookies=cookies).code == "AccessDenied"
            crypto_verify(
                public_pem,
                cloudfront_b64decode(cookies["CloudFront-Policy"]),
                cloudfront_b64decode(cookies["CloudFront-Signature"]),
                hash_name.upper(),
            )
            assert cookies["CloudFront-Key-Pair-Id"] == KEY_ID
