"""The native API: key loading (file, environment, DER), sign_urls, sign_policy, cookies and
their warnings, explain, keygen, encode_url; threads and the released GIL."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Mapping
from pathlib import Path

import pytest

import cfsign
from conftest import DATA, KEY_ID, crypto_verify, signed_message

HOST = "https://d111111abcdef8.cloudfront.net"


def test_keys_from_file_bytes_text_der_and_environment(
    rsa_pem: bytes, rsa_public_pem: bytes, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = f"{HOST}/a.jpg"
    expected = cfsign.Signer(KEY_ID, rsa_pem).sign_url(url, expires=4070908800)
    assert cfsign.Signer(KEY_ID, rsa_pem.decode()).sign_url(url, expires=4070908800) == expected
    der = (DATA / "keys" / "rsa2048.pkcs1.der").read_bytes()
    assert cfsign.Signer(KEY_ID, der).sign_url(url, expires=4070908800) == expected
    path = DATA / "keys" / "rsa2048.pkcs1.pem"
    assert cfsign.Signer.from_file(path, key_pair_id=KEY_ID).sign_url(url, expires=4070908800) == expected
    assert cfsign.Signer.from_file(str(path), key_pair_id=KEY_ID, hash="sha256").hash_algorithm == "SHA256"
    with pytest.raises(cfsign.KeyFormatError, match="cannot read"):
        cfsign.Signer.from_file(tmp_path / "missing.pem", key_pair_id=KEY_ID)

    for name in ("CFSIGN_KEY_PAIR_ID", "CFSIGN_PRIVATE_KEY", "CFSIGN_PRIVATE_KEY_PEM"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(cfsign.SignError, match="CFSIGN_KEY_PAIR_ID is not set"):
        cfsign.Signer.from_env()
    monkeypatch.setenv("CFSIGN_KEY_PAIR_ID", KEY_ID)
    with pytest.raises(cfsign.KeyFormatError, match="CFSIGN_PRIVATE_KEY .* or CFSIGN_PRIVATE_KEY_PEM"):
        cfsign.Signer.from_env()
    monkeypatch.setenv("CFSIGN_PRIVATE_KEY_PEM", rsa_pem.decode().replace("\n", "\\n"))
    assert cfsign.Signer.from_env().sign_url(url, expires=4070908800) == expected
    monkeypatch.setenv("CFSIGN_PRIVATE_KEY", str(path))
    assert cfsign.Signer.from_env(hash="sha256").sign_url(url, expires=4070908800).endswith("SHA256")
    monkeypatch.setenv("CFSIGN_PRIVATE_KEY", rsa_pem.decode())
    with pytest.raises(cfsign.KeyFormatError, match="holds key contents") as raised:
        cfsign.Signer.from_env()
    assert "BEGIN" not in str(raised.value)  # the key is never echoed


def test_times_as_datetime_int_and_text_agree(rsa_pem: bytes) -> None:
    signer = cfsign.Signer(KEY_ID, rsa_pem)
    url = f"{HOST}/a.jpg"
    forms = [
        4070908800,
        "2099-01-01",
        "2099-01-01T00:00:00Z",
        "2099-01-01T02:00:00+02:00",
        dt.datetime(2099, 1, 1),
        dt.datetime(2099, 1, 1, tzinfo=dt.timezone.utc),
        dt.datetime(2098, 12, 31, 19, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
        dt.datetime(2099, 1, 1, 0, 0, 0, 999_999),  # expiry rounds down
    ]
    results = {signer.sign_url(url, expires=f) for f in forms}
    assert len(results) == 1
    assert "Expires=4070908800&" in results.pop()
    a = signer.sign_url(url, expires_in=dt.timedelta(hours=1))
    b = signer.sign_url(url, expires_in=3600)
    c = signer.sign_url(url, expires_in="1h")
    expiries = [int(u.split("Expires=")[1].split("&")[0]) for u in (a, b, c)]
    assert max(expiries) - min(expiries) <= 1
    assert abs(expiries[0] - (time.time() + 3600)) < 5


def test_sign_policy_stamps_one_signature_on_many_urls(ec_pem: bytes, ec_public_pem: bytes) -> None:
    signer = cfsign.Signer(KEY_ID, ec_pem, hash="sha256")
    stamp = signer.sign_policy(f"{HOST}/album/*", expires_in="1h", ip="192.0.2.0/24")
    assert stamp.form == "custom"
    assert '"AWS:SourceIp":"192.0.2.0/24"' in stamp.policy
    urls = [stamp.apply_to(f"{HOST}/album/{n}.jpg") for n in range(5)]
    assert len({u.split("?", 1)[1] for u in urls}) == 1
    assert urls[0].endswith(stamp.query_parameters)
    verifier = cfsign.Verifier({KEY_ID: ec_public_pem})
    assert all(verifier.verify(u, client_ip="192.0.2.7").allowed for u in urls)
    assert verifier.verify(urls[0], client_ip="198.51.100.1").code == "AccessDenied"
    with pytest.raises(cfsign.PolicyError, match="does not cover"):
        stamp.apply_to(f"{HOST}/other/1.jpg")
    whole = signer.sign_policy(policy=stamp.policy)
    assert whole.policy == stamp.policy


def test_sign_urls_matches_sign_url_in_order(rsa_pem: bytes) -> None:
    signer = cfsign.Signer(KEY_ID, rsa_pem)
    urls = [f"{HOST}/v/{i}.ts" for i in range(200)]
    many = signer.sign_urls(urls, expires=4070908800, threads=2)
    assert many == [signer.sign_url(u, expires=4070908800) for u in urls]
    stamped = signer.sign_urls(urls, expires=4070908800, resource=f"{HOST}/v/*")
    assert [s.split("?")[0] for s in stamped] == urls
    assert len({s.split("?", 1)[1] for s in stamped}) == 1
    assert signer.sign_urls([], expires_in=60) == []


def test_cookies_are_a_mapping_with_headers_and_the_clis_warnings(rsa_pem: bytes, rsa_public_pem: bytes) -> None:
    signer = cfsign.Signer(KEY_ID, rsa_pem)
    cookies = signer.sign_cookies(
        f"{HOST}/course-42/*", expires_in="4h", domain="d111111abcdef8.cloudfront.net", path="/course-42/"
    )
    assert isinstance(cookies, Mapping)
    assert len(cookies) == 3 and "CloudFront-Policy" in cookies
    assert cookies.get("CloudFront-Expires") is None
    assert cookies.to_dict() == dict(cookies.items())
    assert cookies.set_cookie_headers[0] == (
        f"CloudFront-Policy={cookies['CloudFront-Policy']}; Domain=d111111abcdef8.cloudfront.net; "
        "Path=/course-42/; Secure; HttpOnly; SameSite=Lax"
    )
    assert cookies.cookie_header.startswith("CloudFront-Policy=")
    assert cookies.warnings == [] or all(isinstance(w, cfsign.Warning) for w in cookies.warnings)
    assert [w.code for w in cookies.warnings] == []
    verifier = cfsign.Verifier({KEY_ID: rsa_public_pem})
    assert verifier.verify(f"{HOST}/course-42/intro.mp4", cookies=cookies.cookie_header).allowed
    assert verifier.verify(f"{HOST}/course-42/intro.mp4", cookies="Cookie: " + cookies.cookie_header).allowed

    canned = signer.sign_cookies(f"{HOST}/a.mp4", expires_in="1h", path="/videos/*", max_age=3600)
    codes = [w.code for w in canned.warnings]
    assert codes[:2] == ["canned-cookie", "cookie-path-wildcard"]
    assert "persistent-cookie" in codes
    assert "Max-Age=3600" in canned.set_cookie_headers[0]
    assert str(canned.warnings[0]).startswith("warning[canned-cookie]: ")


def test_explain_names_the_cause_like_the_cli(rsa_pem: bytes, rsa_public_pem: bytes) -> None:
    signer = cfsign.Signer(KEY_ID, rsa_pem, hash="sha256")
    url = signer.sign_url(f"{HOST}/a%20b.jpg", expires_in="10m")
    verifier = cfsign.Verifier({KEY_ID: rsa_public_pem})
    report = verifier.explain(url.replace("a%20b", "a+b"))
    assert report.decision is not None and not report.decision.allowed
    assert report.findings[0].code == "url-encoding-changed"
    assert "%20" in report.findings[0].summary and report.findings[0].fix
    assert str(report).startswith("verdict: 403 AccessDenied")
    dropped = verifier.explain(url.replace("&Hash-Algorithm=SHA256", ""))
    assert dropped.findings[0].code == "hash-algorithm-missing"
    decode_only = cfsign.Verifier({}).explain(url)
    assert decode_only.decision is None and decode_only.not_checked
    assert dict(decode_only.facts)["Key-Pair-Id"] == KEY_ID
    expired = verifier.verify(url, now=dt.datetime(2100, 1, 1))
    assert (expired.allowed, expired.status, expired.code, expired.message) == (
        False, 403, "AccessDenied", "Access denied"
    )
    assert expired.reason and "expired" in expired.reason
    allowed = verifier.verify(url)
    assert allowed and allowed.status == 200 and allowed.key_pair_id == KEY_ID
    assert allowed.forward_url == f"{HOST}/a%20b.jpg"
    missing = verifier.verify(f"{HOST}/a.jpg")
    assert (missing.code, missing.message) == ("MissingKey", "Missing Key-Pair-Id query parameter or cookie value")


def test_keygen_and_encode_url() -> None:
    for kind, header in (("rsa", "RSA-2048"), ("ecdsa", "ECDSA P-256")):
        private_pem, public_pem = cfsign.keygen(kind)  # type: ignore[arg-type]
        assert private_pem.startswith("-----BEGIN PRIVATE KEY-----")
        assert public_pem.startswith("-----BEGIN PUBLIC KEY-----")
        signer = cfsign.Signer("K1", private_pem)
        assert signer.key_type == header
        url = signer.sign_url("https://x.net/a", expires_in=60)
        crypto_verify(public_pem.encode(), *signed_message(url))
    assert cfsign.encode_url("https://x.net/Résumé 2026.pdf") == "https://x.net/R%C3%A9sum%C3%A9%202026.pdf"


def test_eight_threads_signing_at_once_give_verifiable_output(rsa_pem: bytes, rsa_public_pem: bytes, ec_pem: bytes) -> None:
    rsa = cfsign.Signer(KEY_ID, rsa_pem)
    ec = cfsign.Signer("KEC", ec_pem, hash="sha256")
    verifier = cfsign.Verifier({KEY_ID: rsa_public_pem, "KEC": (DATA / "keys" / "ec-p256.pub.pem").read_bytes()})
    results: dict[int, list[str]] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def work(n: int) -> None:
        try:
            start.wait()
            signer = rsa if n % 2 else ec
            results[n] = [signer.sign_url(f"{HOST}/t{n}/{i}.jpg", expires_in=600) for i in range(150)]
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(results) == 8
    for n, urls in results.items():
        for i, url in enumerate(urls):
            assert url.startswith(f"{HOST}/t{n}/{i}.jpg?Expires=")
            assert verifier.verify(url).allowed, url
    expected = rsa.sign_url(f"{HOST}/t1/0.jpg", expires=4070908800)
    assert rsa.sign_url(f"{HOST}/t1/0.jpg", expires=4070908800) == expected  # RSA is deterministic


def test_the_gil_is_released_while_signing(rsa_pem: bytes) -> None:
    """A Python thread keeps running while sign_urls signs 3,000 RSA URLs on one thread."""
    signer = cfsign.Signer(KEY_ID, rsa_pem)
    urls = [f"{HOST}/{i}.ts" for i in range(3000)]
    ticks = 0
    done = threading.Event()

    def count() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            time.sleep(0.001)

    counter = threading.Thread(target=count)
    counter.start()
    time.sleep(0.01)
    before = ticks
    started = time.monotonic()
    signer.sign_urls(urls, expires_in=60, threads=1)
    elapsed = time.monotonic() - started
    during = ticks - before
    done.set()
    counter.join()
    # With the GIL held for the whole call the counter could not tick at all.
    assert elapsed > 0.05
    assert during >= elapsed * 1000 * 0.2, (during, elapsed)


@pytest.mark.parametrize(
    "resource,cli,kwargs",
    [
        ("https://x.net/a.mp4", ["--path", "/videos/*", "--max-age", "1h"], {"path": "/videos/*", "max_age": 3600}),
        (
            "https://media.example.com/course-42/*",
            ["--domain", "media.example.com", "--path", "/course-42/", "--same-site", "Strict", "--no-http-only"],
            {"domain": "media.example.com", "path": "/course-42/", "same_site": "Strict", "http_only": False},
        ),
        ("https://x.net/hls/*", ["--ip", "192.0.2.7/24", "--path", "/other/"], {"ip": "192.0.2.7/24", "path": "/other/"}),
    ],
)
def test_cookies_match_the_cli_byte_for_byte(
    resource: str, cli: list[str], kwargs: dict[str, object], rsa_pem: bytes
) -> None:
    """The same cookies, Set-Cookie values and warnings as `cfsign cookies --json`."""
    import json
    import subprocess

    from conftest import cfsign_binary

    key = DATA / "keys" / "rsa2048.pkcs8.pem"
    out = subprocess.run(
        [str(cfsign_binary()), "cookies", resource, "--key-pair-id", KEY_ID, "--private-key", str(key),
         "--expires", "4070908800", "--json", *cli],
        capture_output=True, text=True, check=True, timeout=60,
    )
    expected = json.loads(out.stdout)
    cookies = cfsign.Signer(KEY_ID, rsa_pem).sign_cookies(resource, expires=4070908800, **kwargs)  # type: ignore[arg-type]
    assert cookies.set_cookie_headers == expected["set_cookie"]
    assert cookies.cookie_header == expected["cookie_header"]
    assert [(w.code, w.message) for w in cookies.warnings] == [(w["code"], w["message"]) for w in expected["warnings"]]
    assert cookies.warnings, "each case has at least one warning"
    assert (cookies.policy, cookies.form, cookies.expires) == (expected["policy_text"], expected["policy_form"], expected["expires"])
