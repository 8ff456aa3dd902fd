#!/usr/bin/env python3
"""Throughput of botocore's CloudFrontSigner (RSA-2048, SHA-1, canned policy).

The key is loaded once with `cryptography`; each URL is then signed with
`CloudFrontSigner.generate_presigned_url(url, date_less_than=...)`, the way a
Python web app signs URLs. Used by scripts/bench-peers.

    python3 scripts/bench_botocore.py --urls urls.txt --key rsa2048.pkcs8.pem [--runs 3] [--value-only]

Prints the median signs/s over the runs (with --value-only: just the number).
"""

import argparse
import datetime
import statistics
import sys
import time

from botocore.signers import CloudFrontSigner
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--urls", required=True, help="file with one URL per line")
    ap.add_argument("--key", required=True, help="RSA private key (PEM, PKCS#1 or PKCS#8)")
    ap.add_argument("--key-pair-id", default="K2JCJMDEHXQW5F")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--value-only", action="store_true", help="print only the signs/s number")
    args = ap.parse_args()

    with open(args.urls, encoding="ascii") as f:
        urls = [line.strip() for line in f if line.strip()]
    with open(args.key, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)

    def rsa_signer(message: bytes) -> bytes:
        return key.sign(message, padding.PKCS1v15(), hashes.SHA1())

    signer = CloudFrontSigner(args.key_pair_id, rsa_signer)
    expires = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)

    # Sanity check (untimed): the output has the canned-policy parameters.
    first = signer.generate_presigned_url(urls[0], date_less_than=expires)
    if "Expires=" not in first or "Signature=" not in first:
        print(f"unexpected botocore output: {first}", file=sys.stderr)
        return 1

    rates = []
    for _ in range(args.runs):
        start = time.perf_counter()
        for url in urls:
            signer.generate_presigned_url(url, date_less_than=expires)
        rates.append(len(urls) / (time.perf_counter() - start))
    rate = statistics.median(rates)
    if args.value_only:
        print(f"{rate:.1f}")
    else:
        print(f"botocore CloudFrontSigner (RSA-2048 SHA-1, canned): {rate:.0f} signs/s "
              f"(median of {args.runs} x {len(urls)} URLs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
