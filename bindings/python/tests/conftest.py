"""Shared fixtures: the repository's test keys, botocore's signer, a moto server, the edge binary.

Nothing is skipped: a missing tool fails with the command that installs it.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Callable, Optional

import pytest

REPO = Path(__file__).resolve().parents[3]
DATA = REPO / "crates" / "cfsign" / "tests" / "data"
KEY_ID = "K2JCJMDEHXQW5F"
INSTALL_HINT = "run scripts/test-python (it builds the wheel and installs the test packages into .venv)"


def read_key(name: str) -> bytes:
    return (DATA / "keys" / name).read_bytes()


@pytest.fixture(scope="session")
def rsa_pem() -> bytes:
    return read_key("rsa2048.pkcs8.pem")


@pytest.fixture(scope="session")
def rsa_public_pem() -> bytes:
    return read_key("rsa2048.pub.pem")


@pytest.fixture(scope="session")
def ec_pem() -> bytes:
    return read_key("ec-p256.pkcs8.pem")


@pytest.fixture(scope="session")
def ec_public_pem() -> bytes:
    return read_key("ec-p256.pub.pem")


def cloudfront_b64decode(text: str) -> bytes:
    """CloudFront's base64 (``-`` for ``+``, ``_`` for ``=``, ``~`` for ``/``), decoded."""
    return base64.b64decode(text.replace("-", "+").replace("_", "=").replace("~", "/"))


def signed_parts(url: str) -> tuple[str, dict[str, str]]:
    """The URL without the signing parameters, and those parameters."""
    base, _, query = url.partition("?")
    keep, params = [], {}
    for part in query.split("&") if query else []:
        name, _, value = part.partition("=")
        if name in ("Expires", "Policy", "Signature", "Key-Pair-Id", "Hash-Algorithm"):
            params[name] = value
        else:
            keep.append(part)
    return (base + ("?" + "&".join(keep) if keep else "")), params


def signed_message(url: str) -> tuple[bytes, bytes, str]:
    """(policy bytes that were signed, signature, hash name) read back from a signed URL."""
    unsigned, params = signed_parts(url)
    if "Policy" in params:
        message = cloudfront_b64decode(params["Policy"])
    else:
        message = json.dumps(
            {"Statement": [{"Resource": unsigned, "Condition": {"DateLessThan": {"AWS:EpochTime": int(params["Expires"])}}}]},
            separators=(",", ":"),
        ).encode()
    return message, cloudfront_b64decode(params["Signature"]), params.get("Hash-Algorithm", "SHA1")


def crypto_verify(public_pem: bytes, message: bytes, signature: bytes, hash_name: str) -> None:
    """Raises unless ``signature`` is ``public_pem``'s signature of ``message`` (cryptography)."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

    key = serialization.load_pem_public_key(public_pem)
    algorithm = hashes.SHA256() if hash_name == "SHA256" else hashes.SHA1()
    if isinstance(key, rsa.RSAPublicKey):
        key.verify(signature, message, padding.PKCS1v15(), algorithm)
    elif isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(signature, message, ec.ECDSA(algorithm))
    else:
        raise AssertionError(f"unexpected key type {type(key)}")


def rsa_signer_for(private_pem: bytes, sha256: bool = False) -> Callable[[bytes], bytes]:
    """botocore's documented ``rsa_signer``: cryptography, the key loaded once."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = serialization.load_pem_private_key(private_pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    algorithm = hashes.SHA256() if sha256 else hashes.SHA1()

    def rsa_signer(message: bytes) -> bytes:
        return key.sign(message, padding.PKCS1v15(), algorithm)

    return rsa_signer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the process exited with {process.returncode}: {log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing answered on 127.0.0.1:{port} within {timeout} s: {log.read_text()}")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto's server (S3, KMS) on 127.0.0.1, from this virtual environment; stopped at the end."""
    try:
        import moto.server  # noqa: F401
    except ImportError as e:  # pragma: no cover - the failure is the report
        raise AssertionError(f"moto[server] is missing ({e}); {INSTALL_HINT}") from e
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        wait_for_port(port, process, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)


@pytest.fixture(scope="session")
def aws_client_settings(moto_endpoint: str) -> dict[str, str]:
    """boto3 client arguments for the moto server (dummy credentials, never the environment's)."""
    return {
        "endpoint_url": moto_endpoint,
        "region_name": "us-east-1",
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }


def cfsign_binary() -> Path:
    """The CLI built by cargo (``cargo build -p cfsign-cli``; scripts/test-python does it)."""
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    binary = target / "debug" / "cfsign"
    if not binary.exists():
        raise AssertionError(f"{binary} does not exist: build it with `cargo build -p cfsign-cli` ({INSTALL_HINT})")
    return binary


class Edge:
    """A running ``cfsign edge``: its base URL; stopped by the fixture."""

    def __init__(self, process: subprocess.Popen[bytes], base_url: str) -> None:
        self.process = process
        self.base_url = base_url


def start_edge(config: Path, env: dict[str, str], log: Path) -> Edge:
    """Starts ``cfsign edge --config CONFIG`` (``listen`` must be 127.0.0.1:0) and waits
    for its "listening on" line."""
    with log.open("wb") as err:
        process = subprocess.Popen(
            [str(cfsign_binary()), "edge", "--config", str(config), "--access-log", "off"],
            stdout=subprocess.DEVNULL,
            stderr=err,
            stdin=subprocess.DEVNULL,
            env=env,
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        text = log.read_text()
        for line in text.splitlines():
            if "listening on " in line and "admin" not in line:
                address = line.split("listening on ", 1)[1].split()[0]
                return Edge(process, address)
        if process.poll() is not None:
            raise AssertionError(f"cfsign edge exited with {process.returncode}: {text}")
        time.sleep(0.1)
    stop(process)
    raise AssertionError(f"cfsign edge did not start within 30 s: {log.read_text()}")


def http_get(url: str, headers: Optional[dict[str, str]] = None) -> tuple[int, bytes]:
    """(status, body) of a GET, without following redirects or raising on errors."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as e:
        return int(e.code), bytes(e.read())


def query_value(url: str, name: str) -> str:
    return urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)[name][0]
