"""Reads the load generators' outputs for scripts/bench-edge.

    parse.py wrk OUT                   -> "rps p50_ms p99_ms non2xx"
    parse.py h2load OUT LOG SECONDS    -> "rps p50_ms p99_ms non2xx", or exit 2 with the reason
    parse.py openssl-verify OUT        -> verify/s of the one algorithm in an `openssl speed` output

A failure is a message on stderr and exit code 2: the script prints it and fails the case.
"""

import re
import sys


def fail(message):
    print(message, file=sys.stderr)
    sys.exit(2)


def wrk(out):
    text = open(out).read()

    def ms(v):
        n, u = float(re.match(r"[\d.]+", v).group()), re.sub(r"[\d.]", "", v)
        return n * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[u]

    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    p50 = re.search(r"^\s+50%\s+(\S+)", text, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", text, re.M)
    if not (rps and p50 and p99):
        fail(f"no requests/s or latency percentiles in wrk's output ({out})")
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    print(f"{float(rps.group(1)):.0f} {ms(p50.group(1)):.3f} {ms(p99.group(1)):.3f} {bad.group(1) if bad else 0}")


def h2load(out, log, seconds):
    text = open(out).read()
    req = re.search(
        r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout",
        text,
    )
    codes = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", text)
    rps = re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", text)
    if not (req and codes and rps):
        fail("h2load printed no summary: " + " | ".join(text.strip().splitlines()[-5:]))
    total, started, done, ok, failed, errored, timeout = map(int, req.groups())
    proto = re.search(r"Application protocol: (\S+)", text)
    if ok == 0:
        # An HTTP/1.1-only server: h2load's connection preface is answered with HTTP/1.1
        # (or the connection is closed), and h2load reports 0 requests and exits 0.
        fail(
            f"0 of {started} requests got an HTTP/2 response ({done} done, {failed} failed, {errored} errored, "
            f"{timeout} timed out; protocol {proto.group(1) if proto else 'none negotiated'})"
        )
    if errored or timeout:
        fail(f"{errored} of {total} HTTP/2 requests errored and {timeout} timed out (a protocol or connection error)")
    starts, lat = [], []
    for line in open(log):
        f = line.split("\t")
        if len(f) >= 3:
            starts.append(int(f[0]))
            lat.append(int(f[2]) / 1000)
    if not lat:
        fail(f"h2load's log {log} has no requests")
    # h2load does not reconnect in a timed run: a server that closes its connections
    # (GOAWAY after N requests) ends the run early without any error.
    spread = (max(starts) - min(starts)) / 1e6
    if spread < 0.8 * seconds:
        fail(
            f"h2load's clients stopped sending after {spread:.1f} s of {seconds} s: the server closed "
            "its HTTP/2 connections (GOAWAY, e.g. after a maximum number of requests per connection)"
        )
    lat.sort()

    def pct(p):
        return lat[min(len(lat) - 1, int(len(lat) * p / 100))]

    bad = int(codes.group(2)) + int(codes.group(3)) + int(codes.group(4)) + failed
    print(f"{float(rps.group(1)):.0f} {pct(50):.3f} {pct(99):.3f} {bad}")


def openssl_verify(out):
    # The results table ends the output: a header "sign verify sign/s verify/s" and
    # one line per key size, verify/s last.
    lines = open(out).read().splitlines()
    for i, line in enumerate(lines):
        if line.split()[-2:] == ["sign/s", "verify/s"] and i + 1 < len(lines):
            try:
                print(f"{float(lines[i + 1].split()[-1]):.0f}")
                return
            except ValueError:
                break
    fail(f"no verify/s column in openssl speed's output ({out})")


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "wrk":
        wrk(*args)
    elif cmd == "h2load":
        h2load(args[0], args[1], float(args[2]))
    elif cmd == "openssl-verify":
        openssl_verify(*args)
    else:
        fail(f"parse.py: unknown command {cmd}")
