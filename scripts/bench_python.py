#!/usr/bin/env python3
"""The Python package's speed, printed as a table and the ratios issue 10 sets.

Measured in this interpreter (the wheel installed into .venv by scripts/bench-python):
  - cfsign.Signer.sign_url from a Python loop, RSA-2048 and ECDSA P-256 (SHA-1, canned policy,
    the URL of crates/cfsign/benches/sign.rs), and the drop-in cfsign.CloudFrontSigner;
  - botocore's CloudFrontSigner with a cryptography RSA-2048 key loaded once;
  - Signer.sign_urls on 1 and on 2 threads.
The in-process Rust figures (criterion medians) are given with --criterion NAME=NANOSECONDS.
Each figure is the median of --runs runs.

    python3 scripts/bench_python.py --keys crates/cfsign/tests/data/keys \\
        --criterion rsa2048-sha1=245360 --criterion ecdsa-p256-sha1=16049
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import time
from pathlib import Path
from typing import Callable

from botocore.signers import CloudFrontSigner as BotocoreSigner
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

import cfsign

URL = "https://d111111abcdef8.cloudfront.net/media/file-42.mp4?v=42"
KEY_ID = "K2JCJMDEHXQW5F"
EXPIRES = 4070908800  # 2099-01-01


def per_call(fn: Callable[[], object], calls: int, runs: int) -> float:
    """Median seconds per call over `runs` runs of `calls` calls (after a warm-up run)."""
    for _ in range(max(1, calls // 10)):
        fn()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        samples.append((time.perf_counter() - start) / calls)
    return statistics.median(samples)


def once(fn: Callable[[], object], runs: int) -> float:
    fn()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def us(seconds: float) -> str:
    return f"{seconds * 1e6:,.1f} µs"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keys", type=Path, required=True, help="crates/cfsign/tests/data/keys")
    ap.add_argument("--criterion", action="append", default=[], help="NAME=NANOSECONDS (criterion median)")
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    criterion = {k: float(v) / 1e9 for k, v in (c.split("=", 1) for c in args.criterion)}

    rsa_pem = (args.keys / "rsa2048.pkcs8.pem").read_bytes()
    ec_pem = (args.keys / "ec-p256.pkcs8.pem").read_bytes()
    rsa = cfsign.Signer(KEY_ID, rsa_pem)
    ec = cfsign.Signer(KEY_ID, ec_pem)
    dropin = cfsign.CloudFrontSigner(KEY_ID, rsa_pem)
    key = serialization.load_pem_private_key(rsa_pem, password=None)

    def rsa_signer(message: bytes) -> bytes:
        return key.sign(message, padding.PKCS1v15(), hashes.SHA1())  # type: ignore[union-attr,call-arg]

    botocore = BotocoreSigner(KEY_ID, rsa_signer)
    when = datetime.datetime.fromtimestamp(EXPIRES, datetime.timezone.utc).replace(tzinfo=None)
    assert rsa.sign_url(URL, expires=EXPIRES) == botocore.generate_presigned_url(URL, date_less_than=when)

    runs = args.runs
    cf_rsa = per_call(lambda: rsa.sign_url(URL, expires=EXPIRES), 2000, runs)
    cf_dropin = per_call(lambda: dropin.generate_presigned_url(URL, date_less_than=when), 2000, runs)
    boto = per_call(lambda: botocore.generate_presigned_url(URL, date_less_than=when), 2000, runs)
    cf_ec = per_call(lambda: ec.sign_url(URL, expires=EXPIRES), 20000, runs)
    urls = [f"https://d111111abcdef8.cloudfront.net/media/file-{i}.mp4" for i in range(4000)]
    one = once(lambda: rsa.sign_urls(urls, expires=EXPIRES, threads=1), max(3, runs // 2))
    two = once(lambda: rsa.sign_urls(urls, expires=EXPIRES, threads=2), max(3, runs // 2))

    print(f"cfsign {cfsign.__version__}, {os.cpu_count()} CPUs, median of {runs} runs\n")
    print("| What | Per URL | URLs/s |")
    print("|---|---:|---:|")
    rows = [
        ("`Signer.sign_url`, RSA-2048 SHA-1 (Python loop)", cf_rsa),
        ("`CloudFrontSigner.generate_presigned_url` (cfsign drop-in), RSA-2048", cf_dropin),
        ("botocore `CloudFrontSigner` + cryptography, RSA-2048 (key loaded once)", boto),
        ("`Signer.sign_url`, ECDSA P-256 SHA-1 (Python loop)", cf_ec),
        ("`Signer.sign_urls`, RSA-2048, 4,000 URLs, 1 thread", one / len(urls)),
        ("`Signer.sign_urls`, RSA-2048, 4,000 URLs, 2 threads", two / len(urls)),
    ]
    if "rsa2048-sha1" in criterion:
        rows.insert(0, ("Rust in process (criterion `sign_url/canned/rsa2048-sha1`)", criterion["rsa2048-sha1"]))
    if "ecdsa-p256-sha1" in criterion:
        rows.append(("Rust in process (criterion `sign_url/canned/ecdsa-p256-sha1`)", criterion["ecdsa-p256-sha1"]))
    for label, seconds in rows:
        print(f"| {label} | {us(seconds)} | {1 / seconds:,.0f} |")
    print("\n| Ratio (throughput) | Value | Target |")
    print("|---|---:|---:|")
    if "rsa2048-sha1" in criterion:
        print(f"| RSA-2048: Python loop ÷ Rust in process | {criterion['rsa2048-sha1'] / cf_rsa:.3f} | ≥ 0.9 |")
    if "ecdsa-p256-sha1" in criterion:
        print(f"| ECDSA P-256: Python loop ÷ Rust in process | {criterion['ecdsa-p256-sha1'] / cf_ec:.3f} | |")
    print(f"| RSA-2048: `Signer.sign_url` ÷ botocore + cryptography | {boto / cf_rsa:.3f} | ≥ 1.0 |")
    print(f"| RSA-2048: drop-in ÷ botocore + cryptography | {boto / cf_dropin:.3f} | |")
    print(f"| ECDSA P-256 `Signer.sign_url` ÷ botocore RSA-2048 | {boto / cf_ec:.1f} | (botocore has no ECDSA) |")
    print(f"| `sign_urls`: 2 threads ÷ 1 thread | {one / two:.3f} | ≥ 1.8 |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
