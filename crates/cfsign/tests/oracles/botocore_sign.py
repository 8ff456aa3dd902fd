#!/usr/bin/env python3
"""Oracle for crates/cfsign/tests/botocore_interop.rs: re-sign cfsign's cases
with botocore's CloudFrontSigner and compare the results.

Input (stdin): {"cases": [CASE, ...]} where CASE has
    id, url, resource, date_less_than (epoch s), date_greater_than (epoch s | null),
    ip (as the user gave it | null), form ("canned" | "custom", cfsign's choice),
    key_type ("rsa" | "ecdsa"), hash ("sha1" | "sha256"), private_key, public_key
    (PEM paths), key_pair_id, signed_url (cfsign's output).

Output (stdout): one JSON object per line per case,
    {"id": N, "ok": true}  or  {"id": N, "ok": false, "reason": ..., "ours": ..., "botocore": ...},
then {"summary": {"checked": N, "failed": M}}. Exit status 1 if any case failed.

Checks per case:
  * cfsign chose canned/custom as botocore/the AWS CLI would: canned iff the
    resource is the URL itself, without '*', and there is no start time and no IP.
  * RSA + SHA-1: cfsign's URL is byte-identical to botocore's (PKCS#1 v1.5 is
    deterministic).
  * Otherwise (SHA-256 and/or ECDSA; botocore emits neither): with the Signature
    value removed (and cfsign's trailing "&Hash-Algorithm=SHA256" removed), the
    URLs are identical; cfsign's signature verifies over the exact policy bytes
    botocore signs; for RSA + SHA-256 it is also byte-identical to
    cryptography's. "Hash-Algorithm=SHA256" is present iff the hash is SHA-256.

Offline: no network access, only botocore and cryptography.
"""

import base64
import json
import sys
from datetime import datetime, timezone
from functools import lru_cache

from botocore.signers import CloudFrontSigner
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding

HASH_SUFFIX = "&Hash-Algorithm=SHA256"
HASHES = {"sha1": hashes.SHA1, "sha256": hashes.SHA256}


@lru_cache(maxsize=None)
def private_key(path):
    with open(path, "rb") as f:
        return serialization.load_pem_private_key(f.read(), password=None)


@lru_cache(maxsize=None)
def public_key(path):
    with open(path, "rb") as f:
        return serialization.load_pem_public_key(f.read())


def utc(epoch):
    return None if epoch is None else datetime.fromtimestamp(epoch, timezone.utc)


def cloudfront_b64decode(value):
    """Reverse CloudFront's base64 variant (+ -> -, = -> _, / -> ~)."""
    standard = value.replace("-", "+").replace("_", "=").replace("~", "/")
    return base64.b64decode(standard, validate=True)


def strip_signature(url):
    """Return (url with the Signature value emptied, the Signature value).

    The signing parameters are appended after the caller's own query, and the
    caller's query may not contain a parameter named Signature, so the last
    "&Signature=" is ours.
    """
    start = url.rfind("&Signature=")
    if start < 0:
        raise ValueError("no &Signature= parameter")
    start += len("&Signature=")
    end = url.find("&", start)
    end = len(url) if end < 0 else end
    return url[:start] + url[end:], url[start:end]


def verify(case, policy_bytes, signature):
    """True iff `signature` is valid over `policy_bytes` with the case's public key and hash."""
    key = public_key(case["public_key"])
    algorithm = HASHES[case["hash"]]()
    try:
        if case["key_type"] == "rsa":
            key.verify(signature, policy_bytes, padding.PKCS1v15(), algorithm)
        else:
            key.verify(signature, policy_bytes, ec.ECDSA(algorithm))  # DER-encoded (r, s)
    except InvalidSignature:
        return False
    return True


def check(case):
    """Return None if the case passes, else (reason, botocore's URL)."""
    url, resource, ours = case["url"], case["resource"], case["signed_url"]
    dlt, dgt = utc(case["date_less_than"]), utc(case["date_greater_than"])
    ip = case["ip"]
    is_rsa = case["key_type"] == "rsa"

    if is_rsa:
        key = private_key(case["private_key"])
        sign = lambda message: key.sign(message, padding.PKCS1v15(), hashes.SHA1())  # noqa: E731
    else:
        # botocore only knows RSA-SHA1; its signature is stripped for ECDSA anyway.
        sign = lambda message: b"not-a-signature"  # noqa: E731
    signer = CloudFrontSigner(case["key_pair_id"], sign)

    want_custom = resource != url or "*" in url or dgt is not None or ip is not None
    if case["form"] != ("custom" if want_custom else "canned"):
        return f"cfsign chose {case['form']}, botocore/AWS CLI rule says the opposite", ""

    if case["form"] == "canned":
        expected = signer.generate_presigned_url(url, date_less_than=dlt)
        policy = signer.build_policy(url, dlt)
    else:
        policy = signer.build_policy(resource, dlt, dgt, ip)
        expected = signer.generate_presigned_url(url, policy=policy)

    if is_rsa and case["hash"] == "sha1":
        return None if ours == expected else ("URL differs from botocore's", expected)

    if case["hash"] == "sha256":
        if not ours.endswith(HASH_SUFFIX):
            return "SHA-256 URL does not end with " + HASH_SUFFIX, expected
        ours = ours[: -len(HASH_SUFFIX)]
    if "Hash-Algorithm" in ours:
        return "unexpected Hash-Algorithm parameter", expected

    try:
        ours_stripped, our_signature = strip_signature(ours)
        expected_stripped, _ = strip_signature(expected)
        signature = cloudfront_b64decode(our_signature)
    except ValueError as e:
        return f"cannot take the signature apart: {e}", expected
    if ours_stripped != expected_stripped:
        return "URL without Signature differs from botocore's", expected_stripped

    policy_bytes = policy.encode("utf-8")
    if not verify(case, policy_bytes, signature):
        return "signature does not verify over botocore's policy bytes", expected
    if is_rsa:  # RSA + SHA-256: deterministic, so the bytes must match too
        want = private_key(case["private_key"]).sign(policy_bytes, padding.PKCS1v15(), hashes.SHA256())
        if signature != want:
            return "RSA-SHA256 signature differs from cryptography's", expected
    return None


def main():
    cases = json.load(sys.stdin)["cases"]
    failed = 0
    for case in cases:
        try:
            problem = check(case)
        except Exception as e:  # report, never crash silently on one case
            problem = (f"oracle error: {type(e).__name__}: {e}", "")
        if problem is None:
            print(json.dumps({"id": case["id"], "ok": True}))
        else:
            failed += 1
            reason, theirs = problem
            print(json.dumps({"id": case["id"], "ok": False, "reason": reason,
                              "ours": case["signed_url"], "botocore": theirs}))
    print(json.dumps({"summary": {"checked": len(cases), "failed": failed}}))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
