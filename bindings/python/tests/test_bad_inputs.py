"""The CLI's bad-input corpus (crates/cfsign/tests/data/bad_inputs.json) through the Python API:
each case raises the cfsign exception of its kind with the core's message; random input never
panics and never comes back changed."""

from __future__ import annotations

import datetime as dt
import json
import random
from typing import Any

import pytest

import cfsign
from conftest import DATA, KEY_ID

CORPUS = json.loads((DATA / "bad_inputs.json").read_text())["cases"]
KINDS: dict[str, type[cfsign.Error]] = {
    "url": cfsign.UrlError,
    "policy": cfsign.PolicyError,
    "time": cfsign.TimeError,
    "key": cfsign.KeyFormatError,
    "sign": cfsign.SignError,
}


def test_the_corpus_is_the_clis() -> None:
    assert len(CORPUS) >= 25
    assert {c["kind"] for c in CORPUS} == set(KINDS)


@pytest.mark.parametrize("case", CORPUS, ids=[c["name"] for c in CORPUS])
def test_corpus_case_raises_its_kind_with_the_core_message(case: dict[str, Any]) -> None:
    options = dict(case["options"])
    hash_name = options.pop("hash", "sha1")
    key = (DATA / case.get("key", "keys/rsa2048.pkcs1.pem")).read_bytes()
    with pytest.raises(cfsign.Error) as raised:
        signer = cfsign.Signer(case.get("key_pair_id", "K1"), key, hash=hash_name)
        signer.sign_url(case["url"], **options)
    assert type(raised.value) is KINDS[case["kind"]], (type(raised.value), str(raised.value))
    assert case["message"] in str(raised.value)
    assert isinstance(raised.value, ValueError)


def test_wrong_python_types_are_type_errors(rsa_pem: bytes) -> None:
    signer = cfsign.Signer(KEY_ID, rsa_pem)
    url = "https://x.net/a"
    for kwargs in (
        {"expires": 1.5e9},
        {"expires": True},
        {"expires": dt.date(2099, 1, 1)},
        {"expires_in": 1.5},
        {"expires_in": [60]},
        {"not_before": object()},
        {"expires_in": 60, "policy": 42},
    ):
        with pytest.raises(TypeError):
            signer.sign_url(url, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        cfsign.Signer(KEY_ID, 12345)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        cfsign.Verifier(["not", "a", "mapping"])  # type: ignore[arg-type]


def test_argument_conflicts_and_bad_attributes(rsa_pem: bytes) -> None:
    signer = cfsign.Signer(KEY_ID, rsa_pem)
    with pytest.raises(cfsign.TimeError, match="either an expiry time or a duration"):
        signer.sign_url("https://x.net/a", expires=4070908800, expires_in=60)
    with pytest.raises(cfsign.TimeError, match="is not in the future"):
        signer.sign_url("https://x.net/a", expires_in=dt.timedelta(seconds=-5))
    with pytest.raises(cfsign.PolicyError, match="nothing to sign"):
        signer.sign_cookies(expires_in=60)
    with pytest.raises(cfsign.CookieError, match="SameSite=None requires Secure"):
        signer.sign_cookies("https://x.net/*", expires_in=60, same_site="None", secure=False)
    with pytest.raises(cfsign.CookieError, match="Lax, Strict, None"):
        signer.sign_cookies("https://x.net/*", expires_in=60, same_site="sometimes")  # type: ignore[arg-type]
    with pytest.raises(cfsign.Error, match="key type"):
        cfsign.keygen("dsa")  # type: ignore[arg-type]
    with pytest.raises(cfsign.Error, match="threads"):
        signer.sign_urls(["https://x.net/a"], expires_in=60, threads=0)
    with pytest.raises(cfsign.UrlError, match=r"urls\[1\]: .*%20"):
        signer.sign_urls(["https://x.net/a", "https://x.net/a b"], expires_in=60)
    with pytest.raises(cfsign.Error, match="not an IP address"):
        cfsign.Verifier({}).verify("https://x.net/a", client_ip="nope")
    with pytest.raises(cfsign.KeyFormatError, match="public key K1: .*private key"):
        cfsign.Verifier({"K1": rsa_pem})


def test_a_failing_callable_is_a_sign_error() -> None:
    def broken(message: bytes) -> bytes:
        raise RuntimeError("HSM offline")

    signer = cfsign.Signer.from_callable("K1", broken, key_type="rsa", hash="sha1")
    with pytest.raises(cfsign.SignError, match="HSM offline"):
        signer.sign_url("https://x.net/a", expires_in=60)
    wrong = cfsign.Signer.from_callable("K1", lambda m: "text", key_type="rsa", hash="sha1")  # type: ignore[arg-type,return-value]
    with pytest.raises(cfsign.SignError, match="not the signature as bytes"):
        wrong.sign_url("https://x.net/a", expires_in=60)
    kms_like = cfsign.Signer.from_callable("K1", lambda m: b"x", key_type="ecdsa", hash="sha256")
    assert kms_like.hash_algorithm == "SHA256"


def random_text(rng: random.Random) -> str:
    alphabet = "ab/:%?#&=*. \t\x00é日-_~+;@[]\"'\\" + "".join(chr(c) for c in range(0x20, 0x7F))
    prefix = rng.choice(["https://x.net/", "http://", "", "https://X.NET", "https://x.net:99999/", "*://"])
    return prefix + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))


def test_random_input_never_panics_and_never_comes_back_changed(rsa_pem: bytes, rsa_public_pem: bytes) -> None:
    rng = random.Random(7)
    signer = cfsign.Signer(KEY_ID, rsa_pem)
    verifier = cfsign.Verifier({KEY_ID: rsa_public_pem})
    signed = 0
    for _ in range(3000):
        text = random_text(rng)
        try:
            url = signer.sign_url(text, expires_in=60)
        except cfsign.Error:
            pass
        else:
            signed += 1
            assert url.startswith(text + ("&" if "?" in text else "?"))
            assert verifier.verify(url).allowed
        for call in (
            lambda: cfsign.encode_url(text),
            lambda: signer.sign_url("https://x.net/a", expires_in=60, resource=text),
            lambda: signer.sign_url("https://x.net/a", expires_in=60, ip=text),
            lambda: signer.sign_url("https://x.net/a", policy=text),
            lambda: signer.sign_url("https://x.net/a", expires=text),
            lambda: signer.sign_url("https://x.net/a", expires_in=text),
            lambda: cfsign.Signer(text or "K", rsa_pem),
        ):
            try:
                call()
            except cfsign.Error:
                pass
        decision = verifier.verify(text, cookies=text)
        assert decision.allowed in (True, False)
        verifier.explain(text)
    assert signed > 20  # some random URLs are valid and were signed unchanged
