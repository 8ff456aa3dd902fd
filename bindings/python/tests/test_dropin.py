"""The drop-in CloudFrontSigner passes the behaviours botocore documents and tests for its own:
policy JSON key order, /32 on a bare IP, canned vs custom selection, errors for conflicting
arguments; plus SHA-256 and signed cookies, which botocore lacks."""

from __future__ import annotations

import datetime as dt

import pytest
from botocore.signers import CloudFrontSigner as BotocoreSigner

import cfsign
from conftest import KEY_ID, crypto_verify, query_value, rsa_signer_for, signed_message

LATER = dt.datetime(2099, 1, 1)
EARLIER = dt.datetime(2098, 6, 1)
URL = "https://d111111abcdef8.cloudfront.net/images/image.jpg?size=small"


@pytest.fixture()
def both(rsa_pem: bytes) -> tuple[BotocoreSigner, cfsign.CloudFrontSigner]:
    return BotocoreSigner(KEY_ID, rsa_signer_for(rsa_pem)), cfsign.CloudFrontSigner(KEY_ID, rsa_pem)


def test_policy_json_key_order_is_botocores(both: tuple[BotocoreSigner, cfsign.CloudFrontSigner]) -> None:
    botocore, dropin = both
    policy = dropin.build_policy("https://x.net/*", LATER, EARLIER, "12.34.56.78/9")
    assert policy == (
        '{"Statement":[{"Resource":"https://x.net/*","Condition":{'
        '"DateLessThan":{"AWS:EpochTime":4070908800},'
        '"IpAddress":{"AWS:SourceIp":"12.34.56.78/9"},'
        '"DateGreaterThan":{"AWS:EpochTime":4052419200}}}]}'
    )
    assert policy == botocore.build_policy("https://x.net/*", LATER, EARLIER, "12.34.56.78/9")


def test_a_bare_ip_gets_slash_32(both: tuple[BotocoreSigner, cfsign.CloudFrontSigner]) -> None:
    botocore, dropin = both
    policy = dropin.build_policy("https://x.net/*", LATER, ip_address="12.34.56.78")
    assert '"AWS:SourceIp":"12.34.56.78/32"' in policy
    assert policy == botocore.build_policy("https://x.net/*", LATER, ip_address="12.34.56.78")


def test_canned_with_date_less_than_custom_with_policy(both: tuple[BotocoreSigner, cfsign.CloudFrontSigner]) -> None:
    botocore, dropin = both
    canned = dropin.generate_presigned_url(URL, date_less_than=LATER)
    assert canned.startswith(URL + "&Expires=4070908800&Signature=")
    assert canned.endswith("&Key-Pair-Id=" + KEY_ID)
    assert "Policy=" not in canned
    assert canned == botocore.generate_presigned_url(URL, date_less_than=LATER)
    policy = dropin.build_policy(URL, LATER)
    custom = dropin.generate_presigned_url(URL, policy=policy)
    assert "&Policy=" in custom and "Expires=" not in custom
    assert custom == botocore.generate_presigned_url(URL, policy=policy)


@pytest.mark.parametrize("arguments", [{}, {"date_less_than": LATER, "policy": '{"Statement":[]}'}])
def test_conflicting_or_missing_arguments_raise_value_error(
    both: tuple[BotocoreSigner, cfsign.CloudFrontSigner], arguments: dict[str, object]
) -> None:
    botocore, dropin = both
    with pytest.raises(ValueError):
        botocore.generate_presigned_url(URL, **arguments)  # type: ignore[arg-type]
    with pytest.raises(ValueError) as raised:
        dropin.generate_presigned_url(URL, **arguments)  # type: ignore[arg-type]
    assert isinstance(raised.value, cfsign.Error)


def test_both_date_and_policy_names_the_conflict(rsa_pem: bytes) -> None:
    dropin = cfsign.CloudFrontSigner(KEY_ID, rsa_pem)
    policy = dropin.build_policy(URL, LATER)
    with pytest.raises(cfsign.PolicyError, match="a whole policy was given"):
        dropin.generate_presigned_url(URL, date_less_than=LATER, policy=policy)
    with pytest.raises(cfsign.TimeError, match="an expiry is required"):
        dropin.generate_presigned_url(URL)


def test_the_second_argument_is_a_key_or_an_rsa_signer(rsa_pem: bytes) -> None:
    from_key = cfsign.CloudFrontSigner(KEY_ID, rsa_pem.decode())
    from_callable = cfsign.CloudFrontSigner(KEY_ID, rsa_signer_for(rsa_pem))
    assert from_key.key_id == KEY_ID
    assert from_key.generate_presigned_url(URL, date_less_than=LATER) == from_callable.generate_presigned_url(
        URL, date_less_than=LATER
    )
    with pytest.raises(TypeError):
        cfsign.CloudFrontSigner(KEY_ID, 42)  # type: ignore[arg-type]


def test_sha256_beyond_botocore(rsa_pem: bytes, rsa_public_pem: bytes) -> None:
    dropin = cfsign.CloudFrontSigner(KEY_ID, rsa_pem, hash_algorithm="SHA256")
    url = dropin.generate_presigned_url(URL, date_less_than=LATER)
    assert url.endswith("&Hash-Algorithm=SHA256")
    crypto_verify(rsa_public_pem, *signed_message(url))
    # An rsa_signer that signs SHA-256, declared as such:
    with_callable = cfsign.CloudFrontSigner(KEY_ID, rsa_signer_for(rsa_pem, sha256=True), hash_algorithm="SHA256")
    assert with_callable.generate_presigned_url(URL, date_less_than=LATER) == url


def test_signed_cookies_beyond_botocore(rsa_pem: bytes, rsa_public_pem: bytes) -> None:
    dropin = cfsign.CloudFrontSigner(KEY_ID, rsa_pem)
    cookies = dropin.generate_signed_cookies("https://d111111abcdef8.cloudfront.net/images/*", date_less_than=LATER)
    assert sorted(cookies) == ["CloudFront-Key-Pair-Id", "CloudFront-Policy", "CloudFront-Signature"]
    verifier = cfsign.Verifier({KEY_ID: rsa_public_pem})
    assert verifier.verify(URL, cookies=cookies, now=dt.datetime(2098, 1, 1)).allowed
    policy = dropin.build_policy("https://d111111abcdef8.cloudfront.net/images/*", LATER)
    assert dict(dropin.generate_signed_cookies("ignored", policy=policy)) == {
        **cookies,
        "CloudFront-Policy": cookies["CloudFront-Policy"],
    }


def test_sub_second_start_times_round_up_unlike_botocore(both: tuple[BotocoreSigner, cfsign.CloudFrontSigner]) -> None:
    """The one documented difference: botocore truncates DateGreaterThan, cfsign rounds it up
    so that access never starts earlier than asked (whole seconds are identical)."""
    botocore, dropin = both
    start = dt.datetime(2098, 6, 1, 0, 0, 0, 500_000)
    assert '"DateGreaterThan":{"AWS:EpochTime":4052419201}' in dropin.build_policy("https://x.net/*", LATER, start)
    assert '"DateGreaterThan":{"AWS:EpochTime":4052419200}' in botocore.build_policy("https://x.net/*", LATER, start)


def test_what_botocore_would_sign_but_cloudfront_denies_is_refused(
    both: tuple[BotocoreSigner, cfsign.CloudFrontSigner],
) -> None:
    botocore, dropin = both
    # botocore signs the raw space; a browser then sends %20 and CloudFront answers 403.
    assert " " in botocore.generate_presigned_url("https://x.net/a b.jpg", date_less_than=LATER)
    with pytest.raises(cfsign.UrlError, match="%20"):
        dropin.generate_presigned_url("https://x.net/a b.jpg", date_less_than=LATER)
    # A policy for another path would be signed by botocore and denied by CloudFront.
    policy = dropin.build_policy("https://x.net/videos/*", LATER)
    with pytest.raises(cfsign.PolicyError, match="does not cover"):
        dropin.generate_presigned_url("https://x.net/images/a.jpg", policy=policy)
    assert query_value(botocore.generate_presigned_url("https://x.net/images/a.jpg", policy=policy), "Key-Pair-Id") == KEY_ID
