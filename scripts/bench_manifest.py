"""Manifest rewriting, cfsign's Python package against the peers people use today, in one
process on one core (scripts/bench-manifest builds the wheel and runs this):

- cfsign: Signer.sign_manifest (policy mode: one custom policy signed, stamped on every URI);
- m3u8: the PyPI HLS parser, loads(), every segment's uri given the same parameters, dumps();
- str.replace: the AWS blog's Lambda ("Secure and Cost-Effective Video Streaming using
  CloudFront signed URLs"): the segment extension replaced in the text, parameters appended.

Each run rewrites the same 10,000-segment VOD playlist; the medians of --runs runs are printed
in URIs per second with the ratios. The peers get the parameters cfsign signed (one policy),
so only the rewrite is compared.
"""

import argparse
import statistics
import time

import cfsign
import m3u8


def playlist(segments: int) -> str:
    head = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n"
    body = "".join(f"#EXTINF:6.006000,\nsegment_{i:05d}.ts\n" for i in range(segments))
    return head + body + "#EXT-X-ENDLIST\n"


def median_seconds(f, runs: int) -> float:
    f()  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--key", required=True)
    parser.add_argument("--segments", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()

    url = "https://d111111abcdef8.cloudfront.net/movies/42/720p/index.m3u8"
    resource = "https://d111111abcdef8.cloudfront.net/movies/42/*"
    signer = cfsign.Signer.from_file(args.key, key_pair_id="K2JCJMDEHXQW5F")
    text = playlist(args.segments)
    signed = signer.sign_manifest(text, url, resource=resource, expires_in=3600)
    assert signed.signed == args.segments, signed
    params = signed.manifest.split("segment_00000.ts?", 1)[1].split("\n", 1)[0]

    def with_m3u8() -> str:
        parsed = m3u8.loads(text)
        for segment in parsed.segments:
            segment.uri = f"{segment.uri}?{params}"
        return parsed.dumps()

    def with_replace() -> str:
        return text.replace(".ts\n", f".ts?{params}\n")

    # The three give the same segment lines.
    for peer in (with_m3u8(), with_replace()):
        got = [l for l in peer.splitlines() if not l.startswith("#")]
        want = [l for l in signed.manifest.splitlines() if not l.startswith("#")]
        assert got == want, "a peer's output differs from cfsign's"

    rows = [
        ("cfsign Signer.sign_manifest", median_seconds(lambda: signer.sign_manifest(text, url, resource=resource, expires_in=3600), args.runs)),
        ("m3u8 loads + dumps", median_seconds(with_m3u8, max(3, args.runs // 5))),
        ("str.replace (the AWS blog's Lambda)", median_seconds(with_replace, args.runs)),
    ]
    cf = rows[0][1]
    print(f"| Rewrite of a {args.segments:,}-segment playlist, one core | median ms | URIs/s | time ÷ cfsign's |")
    print("|---|---:|---:|---:|")
    for name, seconds in rows:
        print(f"| {name} | {seconds * 1000:.2f} | {args.segments / seconds:,.0f} | {seconds / cf:.2f} |")


if __name__ == "__main__":
    main()
