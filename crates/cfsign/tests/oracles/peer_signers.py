#!/usr/bin/env python3
"""Oracle for crates/cfsign/tests/verify_interop.rs: sign URLs with other
implementations, so that cfsign's *verifier* can be checked against them.

Input (stdin): {"cases": [CASE, ...]} where CASE has
    id, signer ("botocore" | "cryptography"), url, resource,
    date_less_than (epoch s), date_greater_than (epoch s | null),
    ip (as the user gives it | null), form ("canned" | "custom"),
    key_type ("rsa" | "ecdsa"), hash ("sha1" | "sha256"),
    private_key (PEM path), key_pair_id.

Signers:
  * "botocore": botocore's CloudFrontSigner (the AWS SDK for Python / AWS CLI)
    with an RSA-SHA1 signer from `cryptography`, exactly as botocore documents
    it: generate_presigned_url(url, date_less_than=...) for canned policies,
    build_policy(resource, date_less_than, date_greater_than, ip) +
    generate_presigned_url(url, policy=...) for custom ones. RSA + SHA-1 only.
  * "cryptography": for the combinations botocore cannot emit (ECDSA, SHA-256):
    the policy bytes from botocore's build_policy, signed with `cryptography`
    (PKCS#1 v1.5 or ECDSA/DER), CloudFront base64, and the parameters in the
    older JS SDK order (Expires|Policy, Key-Pair-Id, Signature) followed by
    Hash-Algorithm=SHA256 when SHA-256 is used.

Output (stdout): one JSON object per case,
    {"id": N, "signed_url": "...", "policy": "<the policy bytes signed>"}
or {"id": N, "error": "..."}; then {"summary": {"signed": N, "failed": M}}.
Exit status 1 if any case failed. Offline: botocore and cryptography only.
"""

import base64
import json
import sys
from datetime import datetime, timezone
from functools import lru_cache

from botocore.signers import CloudFrontSigner
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding

HASHES = {"sha1": hashes.SHA1, "sha256": hashes.SHA256}


@lru_cache(maxsize=None)
def private_key(path):
    with open(path, "rb") as f:
        return serialization.load_pem_private_key(f.read(), password=None)


def utc(epoch):
    return None if epoch is None else datetime.fromtimestamp(epoch, timezone.utc)


def cloudfront_b64encode(data):
    """CloudFront's base64: standard, padding kept, then + -> -, = -> _, / -> ~."""
    text = base64.b64encode(data).decode("ascii")
    return text.replace("+", "-").replace("=", "_").replace("/", "~")


def sign_bytes(case, message):
    key = private_key(case["private_key"])
    algorithm = HASHES[case["hash"]]()
    if case["key_type"] == "rsa":
        return key.sign(message, padding.PKCS1v15(), algorithm)
    return key.sign(message, ec.ECDSA(algorithm))  # DER-encoded (r, s)


def sign_case(case):
    """Return (signed URL, policy text)."""
    url, resource = case["url"], case["resource"]
    dlt, dgt, ip = utc(case["date_less_than"]), utc(case["date_greater_than"]), case["ip"]

    if case["signer"] == "botocore":
        if case["key_type"] != "rsa" or case["hash"] != "sha1":
            raise ValueError("botocore signs RSA-SHA1 only")
        key = private_key(case["private_key"])
        signer = CloudFrontSigner(
            case["key_pair_id"],
            lambda message: key.sign(message, padding.PKCS1v15(), hashes.SHA1()),
        )
        if case["form"] == "canned":
            return signer.generate_presigned_url(url, date_less_than=dlt), signer.build_policy(url, dlt)
        policy = signer.build_policy(resource, dlt, dgt, ip)
        return signer.generate_presigned_url(url, policy=policy), policy

    # "cryptography": botocore's policy bytes, signed here.
    builder = CloudFrontSigner(case["key_pair_id"], lambda message: b"")
    if case["form"] == "canned":
        policy = builder.build_policy(url, dlt)
        first = "Expires=%d" % case["date_less_than"]
    else:
        policy = builder.build_policy(resource, dlt, dgt, ip)
        first = "Policy=" + cloudfront_b64encode(policy.encode("utf-8"))
    signature = cloudfront_b64encode(sign_bytes(case, policy.encode("utf-8")))
    separator = "&" if "?" in url else "?"
    params = [first, "Key-Pair-Id=" + case["key_pair_id"], "Signature=" + signature]
    if case["hash"] == "sha256":
        params.append("Hash-Algorithm=SHA256")
    return url + separator + "&".join(params), policy


def main():
    cases = json.load(sys.stdin)["cases"]
    failed = 0
    for case in cases:
        try:
            signed_url, policy = sign_case(case)
            print(json.dumps({"id": case["id"], "signed_url": signed_url, "policy": policy}))
        except Exception as e:  # report, never crash silently on one case
            failed += 1
            print(json.dumps({"id": case["id"], "error": f"{type(e).__name__}: {e}"}))
    print(json.dumps({"summary": {"signed": len(cases) - failed, "failed": failed}}))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
