"""Django end to end: a real settings module, a moto S3 bucket, the cfsign storage;
storage.url(name) gives a signed URL that `cfsign edge` (S3 origin on the same bucket)
answers with 200 and the object's bytes, and 403 once tampered with. The view helpers:
a 302 to a signed URL, and signed cookies the edge accepts."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

import cfsign
from conftest import KEY_ID, Edge, http_get, start_edge, stop

BUCKET = "cfsign-django-media"
BODY = b"%PDF-1.7 quarterly report\n" + bytes(range(256)) * 40


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, aws_client_settings: dict[str, str]) -> Iterator[Edge]:
    root = tmp_path_factory.mktemp("django-e2e")
    private_pem, public_pem = cfsign.keygen("ecdsa")
    (root / "private_key.pem").write_text(private_pem)
    (root / "public_key.pem").write_text(public_pem)
    s3: Any = boto3.client("s3", **aws_client_settings)
    s3.create_bucket(Bucket=BUCKET)
    (root / "edge.toml").write_text(
        f"""listen = "127.0.0.1:0"
[key_groups.main]
keys = [{{ id = "{KEY_ID}", public_key = "public_key.pem" }}]
[origins.bucket]
type = "s3"
bucket = "{BUCKET}"
region = "us-east-1"
endpoint = "{aws_client_settings['endpoint_url']}"
allow_http = true
[default_behavior]
origin = "bucket"
trusted_key_groups = ["main"]
default_ttl = 0
"""
    )
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
    }
    edge = start_edge(root / "edge.toml", env, root / "edge.log")
    try:
        os.environ["CFSIGN_TEST_BUCKET"] = BUCKET
        os.environ["CFSIGN_TEST_S3_ENDPOINT"] = aws_client_settings["endpoint_url"]
        os.environ["CFSIGN_TEST_EDGE_HOST"] = edge.base_url.removeprefix("http://")
        os.environ["CFSIGN_TEST_KEY_FILE"] = str(root / "private_key.pem")
        os.environ["DJANGO_SETTINGS_MODULE"] = "django_settings"
        sys.path.insert(0, str(Path(__file__).parent))
        import django

        django.setup()
        yield edge
    finally:
        stop(edge.process)


def test_storage_url_is_served_by_the_edge_and_tampering_is_refused(site: Edge) -> None:
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage, storages

    from cfsign.django import CloudFrontS3Storage

    storage = storages["default"]
    assert isinstance(storage, CloudFrontS3Storage)
    saved = storage.save("docs/report.pdf", ContentFile(BODY))
    assert saved == "docs/report.pdf"

    url = storage.url(saved)
    assert url.startswith(f"{site.base_url}/docs/report.pdf?Expires=")
    assert url.endswith(f"&Key-Pair-Id={KEY_ID}&Hash-Algorithm=SHA256")
    status, body = http_get(url)
    assert (status, body) == (200, BODY)

    # The same signature on another object, or a changed signature: CloudFront's 403.
    status, body = http_get(url.replace("report.pdf", "report.pdX"))
    assert status == 403 and b"<Code>AccessDenied</Code>" in body
    signature = url.split("Signature=")[1].split("&")[0]
    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    status, body = http_get(url.replace(signature, flipped))
    assert status == 403
    unsigned, _, _ = url.partition("?")
    status, body = http_get(unsigned)
    assert status == 403 and b"MissingKey" in body

    # The key was parsed once: every storage shares one signer.
    assert default_storage.cloudfront_signer is storage.cloudfront_signer
    assert CloudFrontS3Storage().cloudfront_signer is storage.cloudfront_signer


def test_view_helpers_redirect_and_cookies(site: Edge) -> None:
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from django.test import Client

    name = default_storage.save("docs/notes.txt", ContentFile(b"lecture notes"))
    client = Client()
    assert client.get(f"/download/{name}").status_code == 403
    response = client.get(f"/download/{name}?user=paid")
    assert response.status_code == 302
    assert response["Cache-Control"] == "private, no-store"
    location = response["Location"]
    assert location.startswith(f"{site.base_url}/docs/notes.txt?Expires=")
    assert http_get(location) == (200, b"lecture notes")

    host = site.base_url.removeprefix("http://")
    response = client.get(f"/course?host={host}")
    assert response.status_code == 200
    cookies = {name: morsel.value for name, morsel in response.cookies.items()}
    assert sorted(cookies) == [
        "CloudFront-Hash-Algorithm", "CloudFront-Key-Pair-Id", "CloudFront-Policy", "CloudFront-Signature"
    ]
    morsel = response.cookies["CloudFront-Policy"]
    assert (morsel["path"], morsel["secure"], morsel["httponly"], morsel["samesite"]) == ("/docs/", True, True, "Lax")
    header = "; ".join(f"{k}={v}" for k, v in cookies.items())
    assert http_get(f"{site.base_url}/docs/notes.txt", {"Cookie": header}) == (200, b"lecture notes")
    assert http_get(f"{site.base_url}/docs/report.pdf", {"Cookie": header})[0] == 200
    assert http_get(f"{site.base_url}/other.txt", {"Cookie": header})[0] == 403
