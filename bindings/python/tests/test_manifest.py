"""Signer.sign_manifest: an HLS playlist and a DASH MPD signed by the core's manifest::sign,
in policy mode (one policy stamped) and urls mode (a canned policy per URI), str in str out,
bytes in bytes out, the report, the signatures checked with cryptography, and the errors."""

from __future__ import annotations

import json
import re
import threading
import urllib.parse

import pytest

import cfsign
from conftest import KEY_ID, cloudfront_b64decode, crypto_verify, signed_message, signed_parts

HOST = "https://d111111abcdef8.cloudfront.net"
PLAYLIST_URL = f"{HOST}/hls/show-7/index.m3u8"
MPD_URL = f"{HOST}/dash/show-7/manifest.mpd"

PLAYLIST = (
    "#EXTM3U\n"
    "#EXT-X-VERSION:3\n"
    "#EXT-X-TARGETDURATION:6\n"
    '#EXT-X-KEY:METHOD=AES-128,URI="keys/k1.bin"\n'
    "#EXTINF:6.0,\n"
    "seg0.ts\n"
    "#EXTINF:6.0,\n"
    "720p/seg1.ts?v=2\n"
    "#EXTINF:6.0,\n"
    "https://ads.example.net/ad.ts\n"
    "#EXT-X-ENDLIST\n"
)

MPD = """<?xml version="1.0" encoding="UTF-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT12S" minBufferTime="PT2S" profiles="urn:mpeg:dash:profile:isoff-on-demand:2011">
  <Period>
    <AdaptationSet mimeType="video/mp4">
      <Representation id="v0" bandwidth="800000">
        <SegmentList duration="6">
          <Initialization sourceURL="v0/init.mp4"/>
          <SegmentURL media="v0/1.m4s"/>
          <SegmentURL media="v0/2.m4s"/>
        </SegmentList>
      </Representation>
    </AdaptationSet>
  </Period>
</MPD>
"""

MPD_TEMPLATE = """<?xml version="1.0"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT12S" minBufferTime="PT2S" profiles="urn:mpeg:dash:profile:isoff-live:2011">
  <Period>
    <AdaptationSet mimeType="video/mp4">
      <SegmentTemplate initialization="init-$RepresentationID$.mp4" media="chunk-$RepresentationID$-$Number$.m4s" startNumber="1" duration="6"/>
      <Representation id="v0" bandwidth="800000"/>
    </AdaptationSet>
  </Period>
</MPD>
"""

SIGNING = ("Policy", "Signature", "Key-Pair-Id", "Expires", "Hash-Algorithm")


@pytest.fixture(scope="module")
def signer(ec_pem: bytes) -> cfsign.Signer:
    return cfsign.Signer(KEY_ID, ec_pem)


def playlist_uris(text: str) -> list[str]:
    """The URI lines and quoted URI= attributes of an HLS playlist."""
    uris = re.findall(r'URI="([^"]*)"', text)
    uris += [line for line in text.splitlines() if line and not line.startswith("#")]
    return uris


def mpd_uris(text: str) -> list[str]:
    return [u.replace("&amp;", "&") for u in re.findall(r'(?:sourceURL|media)="([^"]*)"', text)]


def params_of(uri: str) -> dict[str, str]:
    return signed_parts(uri)[1]


def policy_json(uri: str) -> dict[str, object]:
    decoded: dict[str, object] = json.loads(cloudfront_b64decode(params_of(uri)["Policy"]))
    return decoded


def test_hls_policy_mode_stamps_the_covered_uris_and_reports_the_rest(
    signer: cfsign.Signer, ec_public_pem: bytes
) -> None:
    signed = signer.sign_manifest(PLAYLIST, PLAYLIST_URL, expires=4070908800)
    assert isinstance(signed, cfsign.SignedManifest)
    assert isinstance(signed.manifest, str)
    assert signed.format == "HLS"
    assert signed.mode == "policy"
    assert signed.resource == f"{HOST}/hls/show-7/*"
    assert signed.expires == 4070908800
    assert signed.signed == 3
    assert signed.signed_by_place == {"EXT-X-KEY URI": 1, "URI line": 2}
    assert list(signed.signed_by_place) == ["EXT-X-KEY URI", "URI line"]
    assert signed.left_alone == [
        {
            "line": 10,
            "place": "URI line",
            "uri": "https://ads.example.net/ad.ts",
            "reason": "https://ads.example.net/ad.ts is outside the signed resource",
        }
    ]

    key, seg0, seg1, ad = playlist_uris(signed.manifest)
    # Relative URIs stay relative; a URI with a query gets `&`; the same parameters on each.
    assert key.startswith("keys/k1.bin?Policy=")
    assert seg0.startswith("seg0.ts?Policy=")
    assert seg1.startswith("720p/seg1.ts?v=2&Policy=")
    assert ad == "https://ads.example.net/ad.ts"
    assert params_of(key) == params_of(seg0) == params_of(seg1)
    assert set(params_of(seg0)) == {"Policy", "Signature", "Key-Pair-Id"}
    assert params_of(seg0)["Key-Pair-Id"] == KEY_ID
    # Every other byte is the input's.
    unsigned = re.sub(r"[?&]Policy=[^&\"\n]*&Signature=[^&\"\n]*&Key-Pair-Id=" + KEY_ID, "", signed.manifest)
    assert unsigned == PLAYLIST

    # The stamped policy: the folder and below, the expiry given; signed with the key.
    assert policy_json(seg0) == {
        "Statement": [
            {
                "Resource": f"{HOST}/hls/show-7/*",
                "Condition": {"DateLessThan": {"AWS:EpochTime": 4070908800}},
            }
        ]
    }
    message, signature, hash_name = signed_message(f"{HOST}/hls/show-7/{seg0}")
    crypto_verify(ec_public_pem, message, signature, hash_name)
    verifier = cfsign.Verifier({KEY_ID: ec_public_pem})
    for uri in (key, seg0, seg1):
        assert verifier.verify(urllib.parse.urljoin(PLAYLIST_URL, uri)).allowed, uri

    text = repr(signed)
    assert text.startswith('SignedManifest(format="HLS", mode="policy"')
    assert "signed=3" in text and "left_alone=1" in text
    assert params_of(seg0)["Signature"] not in text and "Policy=" not in text


def test_bytes_in_bytes_out_and_the_same_text(signer: cfsign.Signer) -> None:
    as_bytes = signer.sign_manifest(PLAYLIST.encode(), PLAYLIST_URL, expires=4070908800)
    as_text = signer.sign_manifest(PLAYLIST, PLAYLIST_URL, expires=4070908800)
    assert isinstance(as_bytes.manifest, bytes)
    assert isinstance(as_text.manifest, str)
    # ECDSA signatures differ per call: compare without them.
    strip = re.compile(r"Signature=[^&\"\n]*")
    assert isinstance(as_bytes.manifest, bytes) and isinstance(as_text.manifest, str)
    assert strip.sub("", as_bytes.manifest.decode()) == strip.sub("", as_text.manifest)
    assert as_bytes.signed_by_place == as_text.signed_by_place
    # Non-ASCII text and CRLF line endings survive both ways.
    crlf = "#EXTM3U\r\n#EXTINF:6,Zürich\r\nseg0.ts\r\n"
    out = signer.sign_manifest(crlf, PLAYLIST_URL, expires_in="1h").manifest
    assert isinstance(out, str) and out.startswith("#EXTM3U\r\n#EXTINF:6,Zürich\r\nseg0.ts?Policy=")
    assert out.endswith("\r\n")
    raw = signer.sign_manifest(crlf.encode(), PLAYLIST_URL, expires_in="1h").manifest
    assert isinstance(raw, bytes) and "Zürich".encode() in raw


def test_dash_policy_mode(signer: cfsign.Signer) -> None:
    for mpd in (MPD, MPD_TEMPLATE):
        signed = signer.sign_manifest(mpd, MPD_URL, expires_in=600)
        assert signed.format == "DASH"
        assert signed.resource == f"{HOST}/dash/show-7/*"
        assert signed.left_alone == []
        assert isinstance(signed.manifest, str)
        uris = mpd_uris(signed.manifest)
        assert uris and all("?Policy=" in u for u in uris), uris
        # In XML the `&` between the parameters is written `&amp;`.
        assert "&amp;Signature=" in signed.manifest
        assert policy_json(uris[0])["Statement"][0]["Resource"] == f"{HOST}/dash/show-7/*"  # type: ignore[index]
    listed = signer.sign_manifest(MPD, MPD_URL, expires_in=600)
    assert listed.signed == 3
    assert listed.signed_by_place == {"Initialization@sourceURL": 1, "SegmentURL@media": 2}
    templated = signer.sign_manifest(MPD_TEMPLATE, MPD_URL, expires_in=600)
    assert templated.signed == 2
    assert set(templated.signed_by_place) == {"SegmentTemplate@initialization", "SegmentTemplate@media"}


def test_a_resource_or_a_policy_decides_what_is_signed(signer: cfsign.Signer) -> None:
    narrow = signer.sign_manifest(PLAYLIST, PLAYLIST_URL, expires_in="1h", resource=f"{HOST}/hls/show-7/720p/*")
    assert narrow.resource == f"{HOST}/hls/show-7/720p/*"
    assert narrow.signed == 1
    assert [entry["uri"] for entry in narrow.left_alone] == ["keys/k1.bin", "seg0.ts", "https://ads.example.net/ad.ts"]
    (seg1,) = [u for u in playlist_uris(narrow.manifest) if "Policy=" in u]  # type: ignore[arg-type]
    assert policy_json(seg1)["Statement"][0]["Resource"] == f"{HOST}/hls/show-7/720p/*"  # type: ignore[index]

    custom = signer.sign_manifest(
        PLAYLIST, PLAYLIST_URL, expires=4070908800, ip="203.0.113.0/24", not_before=4070908000
    )
    condition = policy_json(playlist_uris(custom.manifest)[1])["Statement"][0]["Condition"]  # type: ignore[arg-type,index]
    assert condition["IpAddress"] == {"AWS:SourceIp": "203.0.113.0/24"}
    assert condition["DateGreaterThan"] == {"AWS:EpochTime": 4070908000}

    policy = json.dumps(
        {"Statement": [{"Resource": f"{HOST}/hls/*", "Condition": {"DateLessThan": {"AWS:EpochTime": 4070908800}}}]},
        separators=(",", ":"),
    )
    given = signer.sign_manifest(PLAYLIST.encode(), PLAYLIST_URL, policy=policy)
    assert given.resource == f"{HOST}/hls/*"
    assert given.expires == 4070908800
    stamped = params_of(playlist_uris(given.manifest.decode())[1])["Policy"]  # type: ignore[union-attr]
    assert cloudfront_b64decode(stamped).decode() == policy


def test_urls_mode_signs_each_uri_with_its_own_canned_policy(
    signer: cfsign.Signer, ec_public_pem: bytes
) -> None:
    signed = signer.sign_manifest(PLAYLIST, PLAYLIST_URL, mode="urls", expires=4070908800)
    assert signed.mode == "urls"
    assert signed.expires == 4070908800
    assert signed.signed == 3
    assert signed.resource == f"{HOST}/hls/show-7/*"
    assert isinstance(signed.manifest, str)
    key, seg0, seg1, ad = playlist_uris(signed.manifest)
    assert ad == "https://ads.example.net/ad.ts"
    verifier = cfsign.Verifier({KEY_ID: ec_public_pem})
    signatures = set()
    for uri in (key, seg0, seg1):
        params = params_of(uri)
        assert params["Expires"] == "4070908800", uri
        assert "Policy" not in params
        signatures.add(params["Signature"])
        absolute = urllib.parse.urljoin(PLAYLIST_URL, uri)
        message, signature, hash_name = signed_message(absolute)
        crypto_verify(ec_public_pem, message, signature, hash_name)
        assert verifier.verify(absolute).allowed, absolute
    assert len(signatures) == 3
    assert seg1.startswith("720p/seg1.ts?v=2&Expires=4070908800&Signature=")

    dash = signer.sign_manifest(MPD.encode(), MPD_URL, mode="urls", expires_in="10m")
    assert isinstance(dash.manifest, bytes)
    assert all("?Expires=" in u for u in mpd_uris(dash.manifest.decode()))


def test_errors(signer: cfsign.Signer) -> None:
    # A malformed playlist: the line and what is wrong.
    broken = '#EXTM3U\n#EXTINF:6,\nseg0.ts\n#EXT-X-KEY:METHOD=AES-128,URI="k.bin\n'
    with pytest.raises(cfsign.ManifestError, match=r"^manifest: line 4: the quoted value of attribute URI in EXT-X-KEY"):
        signer.sign_manifest(broken, PLAYLIST_URL, expires_in=60)
    with pytest.raises(cfsign.ManifestError, match=r"line 1: the manifest is neither an HLS playlist"):
        signer.sign_manifest("<html></html>", PLAYLIST_URL, expires_in=60)
    with pytest.raises(cfsign.ManifestError, match=r"line 3: the MPD is not well-formed XML"):
        signer.sign_manifest('<MPD xmlns="urn:mpeg:dash:schema:mpd:2011">\n<Period>\n</MPD>\n', MPD_URL, expires_in=60)
    with pytest.raises(cfsign.ManifestError, match=r"line 2: the manifest is not UTF-8"):
        signer.sign_manifest(b"#EXTM3U\nseg\xff.ts\n", PLAYLIST_URL, expires_in=60)
    # A DASH template cannot be signed URI by URI.
    with pytest.raises(cfsign.ManifestError, match=r"SegmentTemplate@\w+ is the template"):
        signer.sign_manifest(MPD_TEMPLATE, MPD_URL, mode="urls", expires_in=60)
    assert issubclass(cfsign.ManifestError, cfsign.Error) and issubclass(cfsign.ManifestError, ValueError)

    # urls mode signs canned policies: no IP range, start time or whole policy.
    with pytest.raises(cfsign.PolicyError, match=r'^mode="urls": each URI is signed with a canned policy'):
        signer.sign_manifest(PLAYLIST, PLAYLIST_URL, mode="urls", expires_in=60, ip="203.0.113.7")
    with pytest.raises(cfsign.PolicyError, match="canned policy"):
        signer.sign_manifest(PLAYLIST, PLAYLIST_URL, mode="urls", expires_in=60, not_before=4070908000)
    # policy mode stamps one custom policy: an exact resource would make it canned.
    with pytest.raises(cfsign.PolicyError, match=r"^resource: a canned policy covers one exact URL"):
        signer.sign_manifest(PLAYLIST, PLAYLIST_URL, expires_in=60, resource=f"{HOST}/hls/show-7/seg0.ts")

    # The options and the URL are refused as everywhere else.
    with pytest.raises(cfsign.TimeError, match="an expiry is required"):
        signer.sign_manifest(PLAYLIST, PLAYLIST_URL)
    with pytest.raises(cfsign.TimeError):
        signer.sign_manifest(PLAYLIST, PLAYLIST_URL, expires=1000)
    with pytest.raises(cfsign.UrlError, match=r"^manifest_url: .*position"):
        signer.sign_manifest(PLAYLIST, f"{HOST}/hls/a b/index.m3u8", expires_in=60)
    with pytest.raises(cfsign.Error, match='mode "playlist"'):
        signer.sign_manifest(PLAYLIST, PLAYLIST_URL, mode="playlist", expires_in=60)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="manifest must be the playlist or MPD as str or bytes, not list"):
        signer.sign_manifest([PLAYLIST], PLAYLIST_URL, expires_in=60)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        signer.sign_manifest(PLAYLIST, PLAYLIST_URL, "urls", expires_in=60)  # type: ignore[call-arg]


def test_a_callable_key_and_threads(ec_pem: bytes, ec_public_pem: bytes) -> None:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = serialization.load_pem_private_key(ec_pem, password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    calls: list[int] = []

    def sign(message: bytes) -> bytes:
        calls.append(len(message))
        return key.sign(message, ec.ECDSA(hashes.SHA1()))

    # The GIL is released around the core call; the callable takes it back to sign.
    signer = cfsign.Signer.from_callable(KEY_ID, sign, key_type="ecdsa", hash="sha1")
    results: list[cfsign.SignedManifest] = []
    threads = [
        threading.Thread(target=lambda: results.append(signer.sign_manifest(PLAYLIST, PLAYLIST_URL, mode="urls", expires_in="1h")))
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4 and len(calls) == 12
    verifier = cfsign.Verifier({KEY_ID: ec_public_pem})
    for r in results:
        assert isinstance(r.manifest, str)
        for uri in playlist_uris(r.manifest)[:3]:
            assert verifier.verify(urllib.parse.urljoin(PLAYLIST_URL, uri)).allowed


def test_dash_url_query_adds_the_descriptor_and_signs_nothing() -> None:
    mpd = (
        '<?xml version="1.0"?>\n<MPD xmlns="urn:mpeg:dash:schema:mpd:2011">\n<Period>\n'
        '<AdaptationSet id="0"><SegmentTemplate media="v-$Number$.m4s"/></AdaptationSet>\n'
        '<AdaptationSet id="1"><SegmentTemplate media="a-$Number$.m4s"/></AdaptationSet>\n'
        "</Period>\n</MPD>\n"
    )
    out = cfsign.dash_url_query(mpd)
    assert isinstance(out, str)
    descriptor = (
        '<EssentialProperty schemeIdUri="urn:mpeg:dash:urlparam:2014" '
        'xmlns:up="urn:mpeg:dash:schema:urlparam:2014"><up:UrlQueryInfo '
        'queryTemplate="$querypart$" useMPDUrlQuery="true"/></EssentialProperty>'
    )
    assert out.count(descriptor) == 2
    assert out.replace(descriptor, "") == mpd
    assert "Signature=" not in out
    assert cfsign.dash_url_query(mpd.encode()) == out.encode()
    # Applying it twice adds nothing.
    assert cfsign.dash_url_query(out) == out
    with pytest.raises(cfsign.ManifestError, match=r"^mpd: line 1: this is an HLS playlist"):
        cfsign.dash_url_query("#EXTM3U\nseg.ts\n")
