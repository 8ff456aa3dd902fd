"""Signer.from_callable with boto3's kms.sign against a real moto server (RSA_2048 and
ECC_NIST_P256, SHA-256); URLs and cookies verified with the public key KMS returns."""

from __future__ import annotations

from typing import Any, Callable

import boto3
import pytest

import cfsign
from conftest import KEY_ID, crypto_verify, signed_message


@pytest.mark.parametrize(
    "key_spec,algorithm,key_type",
    [
        ("RSA_2048", "RSASSA_PKCS1_V1_5_SHA_256", "rsa"),
        ("ECC_NIST_P256", "ECDSA_SHA_256", "ecdsa"),
    ],
)
def test_kms_signs_urls_the_verifier_accepts(
    aws_client_settings: dict[str, str], key_spec: str, algorithm: str, key_type: str
) -> None:
    kms: Any = boto3.client("kms", **aws_client_settings)
    key_id = kms.create_key(KeySpec=key_spec, KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    calls = []

    def kms_sign(message: bytes) -> bytes:
        calls.append(message)
        response = kms.sign(KeyId=key_id, Message=message, MessageType="RAW", SigningAlgorithm=algorithm)
        return bytes(response["Signature"])

    sign: Callable[[bytes], bytes] = kms_sign
    signer = cfsign.Signer.from_callable(KEY_ID, sign, key_type=key_type, hash="sha256")  # type: ignore[arg-type]
    assert signer.hash_algorithm == "SHA256"
    public_der = bytes(kms.get_public_key(KeyId=key_id)["PublicKey"])
    verifier = cfsign.Verifier({KEY_ID: public_der})

    url = signer.sign_url("https://d111111abcdef8.cloudfront.net/report.pdf", expires_in="15m")
    assert url.endswith("&Hash-Algorithm=SHA256")
    assert verifier.verify(url).allowed
    from cryptography.hazmat.primitives import serialization

    public_pem = serialization.load_der_public_key(public_der).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    crypto_verify(public_pem, *signed_message(url))

    # Many URLs: the callable is called from worker threads (each re-acquires the GIL).
    urls = [f"https://d111111abcdef8.cloudfront.net/hls/{i}.ts" for i in range(12)]
    before = len(calls)
    signed = signer.sign_urls(urls, expires_in=600, threads=4)
    assert len(calls) - before == 12
    assert all(verifier.verify(u).allowed for u in signed)
    assert [s.split("?")[0] for s in signed] == urls

    cookies = signer.sign_cookies("https://d111111abcdef8.cloudfront.net/hls/*", expires_in=600)
    assert verifier.verify(urls[3], cookies=dict(cookies)).allowed
    tampered = url.replace("report.pdf", "report.pdF")
    assert verifier.verify(tampered).code == "AccessDenied"
