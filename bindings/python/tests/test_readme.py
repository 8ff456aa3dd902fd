"""The Python examples: the ```python block of the README's Python section, and every ```python
block of docs/python.md, in order, in one namespace (in a scratch folder with private_key.pem, and
KMS on the moto server)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import boto3
import pytest

import cfsign
from conftest import REPO


def blocks_of(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def readme_blocks() -> list[str]:
    readme = (REPO / "README.md").read_text()
    section = readme.split("\n## Python\n", 1)[1].split("\n## ", 1)[0]
    return blocks_of(section)


def docs_blocks() -> list[str]:
    return blocks_of((REPO / "docs" / "python.md").read_text())


def python_blocks() -> list[str]:
    return readme_blocks() + docs_blocks()


def test_the_pages_have_their_examples() -> None:
    assert len(readme_blocks()) == 1
    assert "cfsign.Signer(" in readme_blocks()[0] and "cfsign.Verifier(" in readme_blocks()[0]
    blocks = docs_blocks()
    assert len(blocks) == 5
    text = "\n".join(blocks)
    for needle in ("cfsign.Signer(", "CloudFrontSigner(", "cfsign.django.CloudFrontS3Storage", "from_callable"):
        assert needle in text


def test_the_examples_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, aws_client_settings: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    kms: Any = boto3.client("kms", **aws_client_settings)
    key = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/cloudfront-signing", TargetKeyId=key)
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_client_settings["endpoint_url"])
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "private_key.pem").write_text(cfsign.keygen("rsa")[0])

    namespace: dict[str, Any] = {"__name__": "readme"}
    for block in python_blocks():
        exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102 - the README's own code
    out = capsys.readouterr().out
    assert "https://d111111abcdef8.cloudfront.net/videos/intro.mp4?Expires=" in out  # the README's block
    assert out.count("Set-Cookie: CloudFront-") == 4
    assert "403 AccessDenied" in out and "url-encoding-changed" in out
    assert "non-ASCII character 'é'" in out and "%C3%A9" in out
    assert "https://d111111abcdef8.cloudfront.net/R%C3%A9sum%C3%A9.pdf" in out
    assert len(namespace["segments"]) == 3 and len(namespace["pages"]) == 1000
    assert namespace["STORAGES"]["default"]["BACKEND"] == "cfsign.django.CloudFrontS3Storage"
    verifier = cfsign.Verifier({"K2JCJMDEHXQW5F": bytes(kms.get_public_key(KeyId=key)["PublicKey"])})
    assert verifier.verify(namespace["kms_url"]).allowed
    assert namespace["cookie_values"]["CloudFront-Hash-Algorithm"] == "SHA256"
