"""Type stubs of the native module ``cfsign._cfsign`` (re-exported by ``cfsign``)."""

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Literal, Optional, TypedDict, TypeVar, Union, final, overload

__version__: str
__all__ = [
    "Error",
    "UrlError",
    "PolicyError",
    "TimeError",
    "KeyFormatError",
    "SignError",
    "CookieError",
    "ManifestError",
    "Signer",
    "SignedPolicy",
    "SignedManifest",
    "SignedCookies",
    "Warning",
    "Verifier",
    "Decision",
    "Explanation",
    "Finding",
    "CloudFrontSigner",
    "keygen",
    "dash_url_query",
    "encode_url",
    "__version__",
]

_T = TypeVar("_T")
_Manifest = TypeVar("_Manifest", str, bytes)

_Instant = Union[datetime, int, str]
"""An instant: an aware ``datetime`` (a naive one is UTC), whole epoch seconds, or text
such as ``"2030-01-01T00:00:00Z"`` / ``"2030-01-01"``."""

_Span = Union[timedelta, int, str]
"""A duration from now: a ``timedelta``, whole seconds, or text such as ``"15m"``, ``"1h30m"``."""

_KeyMaterial = Union[bytes, str]
"""A key as PEM (``str`` or ``bytes``) or DER (``bytes``)."""

_HashName = str
"""``"sha1"`` (CloudFront's default) or ``"sha256"``, any letter case, ``-`` optional."""
_KeyTypeName = Literal["rsa", "ecdsa"]

class Error(ValueError):
    """Any input cfsign refuses; the message names the input and the fix."""

class UrlError(Error):
    """A URL or resource that breaks the encoding contract (the character, its position, the fix).

    >>> import cfsign
    >>> private_pem, _ = cfsign.keygen("ecdsa")
    >>> cfsign.Signer("K1", private_pem).sign_url("https://x.net/a b.jpg", expires_in=60)
    Traceback (most recent call last):
    cfsign.UrlError: character ' ' (space) at position 15 in the path is not sent as-is by HTTP clients; percent-encode it as %20 ...
    """

class PolicyError(Error):
    """A policy that cannot be built or parsed, an IP range that is not IPv4, a resource
    that does not cover the URL, or parts that do not fit together."""

class TimeError(Error):
    """A time refused: milliseconds, before 1970, after 2262, in the past, unparseable."""

class KeyFormatError(Error):
    """A key that cannot be used: wrong format, wrong type (RSA-4096, P-384), the public half."""

class SignError(Error):
    """A bad key-pair ID or hash name, or a private-key operation that failed."""

class CookieError(Error):
    """Cookie attributes browsers would refuse (``SameSite=None`` without ``Secure``, ...)."""

class ManifestError(Error):
    """An HLS playlist or DASH MPD that cannot be signed: not either format, malformed (the
    line and what is wrong), over a limit, or a DASH template with ``mode="urls"``.

    >>> import cfsign
    >>> signer = cfsign.Signer("K1", cfsign.keygen("ecdsa")[0])
    >>> signer.sign_manifest('#EXTM3U\\n#EXT-X-KEY:METHOD=AES-128,URI="k.bin\\n', "https://x.net/v/i.m3u8", expires_in=60)
    Traceback (most recent call last):
    cfsign.ManifestError: manifest: line 2: the quoted value of attribute URI in EXT-X-KEY is not closed with `"`
    """

class _LeftAloneUri(TypedDict):
    """A URI that ``sign_manifest`` left as it was."""

    line: int
    """1-based line of the manifest."""
    place: str
    """``URI line``, ``EXT-X-KEY URI``, ``BaseURL``, ``SegmentURL@media``, ..."""
    uri: str
    """The URI as written."""
    reason: str
    """Why it was not signed."""

@final
class Signer:
    """Signs CloudFront URLs and cookies with one key; thread-safe, the key parsed once.

    ``private_key`` is PEM (``str`` or ``bytes``; PKCS#1, PKCS#8 or SEC1) or DER ``bytes``,
    RSA-2048 or ECDSA P-256. ``hash`` is ``"sha1"`` (CloudFront's default) or ``"sha256"``
    (adds ``Hash-Algorithm=SHA256``).

    >>> import cfsign
    >>> private_pem, public_pem = cfsign.keygen("rsa")
    >>> signer = cfsign.Signer("K2JCJMDEHXQW5F", private_pem, hash="sha256")
    >>> url = signer.sign_url("https://d111111abcdef8.cloudfront.net/a.mp4", expires_in=900)
    >>> url.endswith("&Key-Pair-Id=K2JCJMDEHXQW5F&Hash-Algorithm=SHA256")
    True
    """

    def __new__(cls, key_pair_id: str, private_key: _KeyMaterial, *, hash: _HashName = "sha1") -> "Signer": ...
    @staticmethod
    def from_file(path: Union[str, os.PathLike[str]], *, key_pair_id: str, hash: _HashName = "sha1") -> "Signer":
        """A signer whose private key is read from ``path`` (PEM or DER)."""
    @staticmethod
    def from_env(*, hash: _HashName = "sha1") -> "Signer":
        """A signer from ``CFSIGN_KEY_PAIR_ID`` and ``CFSIGN_PRIVATE_KEY`` (a path) or
        ``CFSIGN_PRIVATE_KEY_PEM`` (the PEM itself), the CLI's variables."""
    @staticmethod
    def from_callable(
        key_pair_id: str,
        sign: Callable[[bytes], bytes],
        *,
        key_type: _KeyTypeName,
        hash: _HashName,
    ) -> "Signer":
        """A signer whose private-key operation is ``sign(policy_bytes) -> signature``:
        AWS KMS through boto3, an HSM, or botocore's ``rsa_signer``. ``hash`` is the hash
        the callable signs with; ``key_type`` the type of its key.

        >>> import cfsign
        >>> from cryptography.hazmat.primitives import hashes, serialization
        >>> from cryptography.hazmat.primitives.asymmetric import ec
        >>> key = ec.generate_private_key(ec.SECP256R1())
        >>> def sign(message: bytes) -> bytes:
        ...     return key.sign(message, ec.ECDSA(hashes.SHA256()))
        >>> signer = cfsign.Signer.from_callable("K1", sign, key_type="ecdsa", hash="sha256")
        >>> "Hash-Algorithm=SHA256" in signer.sign_url("https://x.net/a", expires_in=60)
        True
        """
    @property
    def key_pair_id(self) -> str: ...
    @property
    def hash_algorithm(self) -> Literal["SHA1", "SHA256"]: ...
    @property
    def key_type(self) -> Literal["RSA-2048", "ECDSA P-256"]: ...
    def sign_url(
        self,
        url: str,
        *,
        expires: Optional[_Instant] = None,
        expires_in: Optional[_Span] = None,
        not_before: Optional[_Instant] = None,
        ip: Optional[str] = None,
        resource: Optional[str] = None,
        policy: Union[str, bytes, None] = None,
    ) -> str:
        """``url`` (exactly as the client will request it) with the signing parameters.

        The policy is canned when only an expiry is given; a start time, an IPv4 range
        or a ``resource`` (a wildcard covering ``url``) make it custom; ``policy`` signs
        that JSON exactly as written.

        >>> import cfsign
        >>> signer = cfsign.Signer("K1", cfsign.keygen("ecdsa")[0])
        >>> signer.sign_url("https://x.net/v/1.ts", expires_in="1h", resource="https://x.net/v/*")[:36]
        'https://x.net/v/1.ts?Policy=eyJTdGF0'
        """
    def sign_urls(
        self,
        urls: Sequence[str],
        *,
        expires: Optional[_Instant] = None,
        expires_in: Optional[_Span] = None,
        not_before: Optional[_Instant] = None,
        ip: Optional[str] = None,
        resource: Optional[str] = None,
        policy: Union[str, bytes, None] = None,
        threads: Optional[int] = None,
    ) -> list[str]:
        """Signs many URLs in order on ``threads`` threads (default: every core), without
        the GIL. With ``resource`` the policy is signed once and stamped on every URL.
        The first bad URL raises, its index in the message (``urls[3]: ...``)."""
    def sign_policy(
        self,
        resource: Optional[str] = None,
        *,
        expires: Optional[_Instant] = None,
        expires_in: Optional[_Span] = None,
        not_before: Optional[_Instant] = None,
        ip: Optional[str] = None,
        policy: Union[str, bytes, None] = None,
    ) -> "SignedPolicy":
        """Signs one policy for ``resource`` (a wildcard) to stamp on many URLs.

        >>> import cfsign
        >>> signer = cfsign.Signer("K1", cfsign.keygen("ecdsa")[0])
        >>> stamp = signer.sign_policy("https://x.net/album/*", expires_in=3600)
        >>> stamp.apply_to("https://x.net/album/7.jpg").startswith("https://x.net/album/7.jpg?Policy=")
        True
        """
    def sign_cookies(
        self,
        resource: Optional[str] = None,
        *,
        expires: Optional[_Instant] = None,
        expires_in: Optional[_Span] = None,
        not_before: Optional[_Instant] = None,
        ip: Optional[str] = None,
        policy: Union[str, bytes, None] = None,
        domain: Optional[str] = None,
        path: str = "/",
        secure: bool = True,
        http_only: bool = True,
        same_site: str = "Lax",
        max_age: Optional[_Span] = None,
    ) -> "SignedCookies":
        """Signed cookies for ``resource`` (usually a wildcard), with the ``Set-Cookie``
        values and the CLI's warnings (canned cookie, cookie path, lifetime).

        >>> import cfsign
        >>> signer = cfsign.Signer("K1", cfsign.keygen("ecdsa")[0])
        >>> cookies = signer.sign_cookies("https://x.net/course/*", expires_in="4h", path="/course/")
        >>> sorted(cookies)
        ['CloudFront-Key-Pair-Id', 'CloudFront-Policy', 'CloudFront-Signature']
        >>> cookies.set_cookie_headers[2]
        'CloudFront-Key-Pair-Id=K1; Path=/course/; Secure; HttpOnly; SameSite=Lax'
        """
    def sign_manifest(
        self,
        manifest: Union[str, bytes],
        manifest_url: str,
        *,
        mode: Literal["policy", "urls"] = "policy",
        expires: Optional[_Instant] = None,
        expires_in: Optional[_Span] = None,
        not_before: Optional[_Instant] = None,
        ip: Optional[str] = None,
        resource: Optional[str] = None,
        policy: Union[str, bytes, None] = None,
    ) -> "SignedManifest":
        """An HLS playlist or DASH MPD fetched from ``manifest_url``, with every URI under
        ``resource`` (default: the manifest's folder and below) signed, as ``cfsign manifest``.

        ``mode="policy"``: one custom policy signed once and stamped on every covered URI
        (HLS and DASH, templates included); ``resource`` must be a wildcard. ``mode="urls"``:
        each covered URI signed with its own canned policy (an expiry only: no ``not_before``,
        ``ip`` or ``policy``; no DASH templates). Relative URIs stay relative; URIs outside the
        resource, with another scheme or already signed are left alone and listed. The GIL is
        released while it signs.

        >>> import cfsign
        >>> signer = cfsign.Signer("K1", cfsign.keygen("ecdsa")[0])
        >>> playlist = "#EXTM3U\\n#EXTINF:6,\\nseg0.ts\\n#EXTINF:6,\\nhttps://ads.example/ad.ts\\n"
        >>> signed = signer.sign_manifest(playlist, "https://x.net/v/1/index.m3u8", expires_in="1h")
        >>> signed.format, signed.resource, signed.signed, signed.signed_by_place
        ('HLS', 'https://x.net/v/1/*', 1, {'URI line': 1})
        >>> signed.manifest.splitlines()[2][:15]
        'seg0.ts?Policy='
        >>> signed.left_alone[0]["reason"]
        'https://ads.example/ad.ts is outside the signed resource'
        """

@final
class SignedPolicy:
    """One signed policy; ``apply_to`` stamps it on every URL it covers."""

    def apply_to(self, url: str) -> str: ...
    @property
    def query_parameters(self) -> str: ...
    @property
    def policy(self) -> str:
        """The policy JSON that was signed."""
    @property
    def form(self) -> Literal["canned", "custom"]: ...
    @property
    def expires(self) -> int: ...

@final
class SignedManifest:
    """A manifest signed by ``Signer.sign_manifest`` and its report (the fields of
    ``cfsign manifest --json``). Its ``repr`` holds no signature."""

    @property
    def manifest(self) -> Union[str, bytes]:
        """The manifest with every covered URI signed: ``str`` if given ``str``, else ``bytes``."""
    @property
    def format(self) -> Literal["HLS", "DASH"]: ...
    @property
    def mode(self) -> Literal["policy", "urls"]: ...
    @property
    def resource(self) -> str:
        """The resource that decided which URIs were signed."""
    @property
    def expires(self) -> int:
        """When access ends, epoch seconds."""
    @property
    def signed(self) -> int:
        """How many URIs were signed."""
    @property
    def signed_by_place(self) -> dict[str, int]:
        """How many URIs were signed per place, in the order the places first appeared."""
    @property
    def left_alone(self) -> list[_LeftAloneUri]:
        """Every URI left as it was, in document order."""

@final
class Warning:
    """A lint finding: ``code`` (stable, e.g. ``"canned-cookie"``) and ``message`` (with the fix)."""

    @property
    def code(self) -> str: ...
    @property
    def message(self) -> str: ...

@final
class SignedCookies(Mapping[str, str]):
    """Cookie name to value (a read-only mapping), plus the ``Set-Cookie`` values."""

    def __getitem__(self, key: str, /) -> str: ...
    def __iter__(self) -> Iterator[str]: ...
    def __len__(self) -> int: ...
    @overload
    def get(self, key: str, /) -> Optional[str]: ...
    @overload
    def get(self, key: str, default: _T, /) -> Union[str, _T]: ...
    def to_dict(self) -> dict[str, str]: ...
    @property
    def set_cookie_headers(self) -> list[str]:
        """One ``Set-Cookie`` header value per cookie (without ``Set-Cookie: ``)."""
    @property
    def cookie_header(self) -> str:
        """A ``Cookie`` request header carrying the cookies."""
    @property
    def warnings(self) -> list[Warning]: ...
    @property
    def policy(self) -> str: ...
    @property
    def form(self) -> Literal["canned", "custom"]: ...
    @property
    def expires(self) -> int: ...

@final
class Decision:
    """CloudFront's answer: ``allowed``, the HTTP ``status``, and for a denial the
    CloudFront ``code`` and ``message`` and the precise ``reason``. True when allowed."""

    @property
    def allowed(self) -> bool: ...
    @property
    def status(self) -> int: ...
    @property
    def code(self) -> Optional[str]: ...
    @property
    def message(self) -> Optional[str]: ...
    @property
    def reason(self) -> Optional[str]: ...
    @property
    def key_pair_id(self) -> Optional[str]: ...
    @property
    def policy_form(self) -> Optional[str]: ...
    @property
    def hash_algorithm(self) -> Optional[str]: ...
    @property
    def expires(self) -> Optional[int]: ...
    @property
    def policy(self) -> Optional[str]: ...
    @property
    def forward_url(self) -> Optional[str]: ...
    def __bool__(self) -> bool: ...
    def to_dict(self) -> dict[str, object]: ...

@final
class Finding:
    """One likely cause of a denial: ``code``, ``summary`` and ``fix``."""

    @property
    def code(self) -> str: ...
    @property
    def summary(self) -> str: ...
    @property
    def fix(self) -> str: ...

@final
class Explanation:
    """The diagnosis ``cfsign explain`` prints; ``str()`` gives the same text."""

    @property
    def decision(self) -> Optional[Decision]: ...
    @property
    def facts(self) -> list[tuple[str, str]]: ...
    @property
    def findings(self) -> list[Finding]: ...
    @property
    def not_checked(self) -> list[str]: ...

@final
class Verifier:
    """Decides requests as CloudFront would, trusting ``keys`` (key-pair ID to public key).

    >>> import cfsign
    >>> private_pem, public_pem = cfsign.keygen("ecdsa")
    >>> url = cfsign.Signer("K1", private_pem).sign_url("https://x.net/a", expires_in=60)
    >>> verifier = cfsign.Verifier({"K1": public_pem})
    >>> verifier.verify(url).allowed
    True
    >>> decision = verifier.verify(url.replace("/a?", "/b?"))
    >>> (decision.status, decision.code)
    (403, 'AccessDenied')
    """

    def __new__(cls, keys: Mapping[str, _KeyMaterial]) -> "Verifier": ...
    @property
    def key_ids(self) -> list[str]: ...
    def verify(
        self,
        url: str,
        *,
        cookies: Union[str, Mapping[str, str], None] = None,
        client_ip: Optional[str] = None,
        now: Optional[_Instant] = None,
    ) -> Decision: ...
    def explain(
        self,
        url: str,
        *,
        cookies: Union[str, Mapping[str, str], None] = None,
        client_ip: Optional[str] = None,
        now: Optional[_Instant] = None,
    ) -> Explanation:
        """The decision plus the cause and fix (a re-encoded URL, a missing
        ``Hash-Algorithm``, the wrong key, ...). With no keys, decodes only."""

@final
class CloudFrontSigner:
    """botocore's ``CloudFrontSigner``, same methods and arguments, output byte-identical.

    ``signer_or_private_key`` is the private key (PEM) or botocore's ``rsa_signer``
    callable. Beyond botocore: ``hash_algorithm="SHA256"`` and ``generate_signed_cookies``.

    >>> import datetime, cfsign
    >>> signer = cfsign.CloudFrontSigner("K1", cfsign.keygen("rsa")[0])
    >>> later = datetime.datetime(2099, 1, 1)
    >>> signer.build_policy("https://x.net/*", later, ip_address="192.0.2.7")
    '{"Statement":[{"Resource":"https://x.net/*","Condition":{"DateLessThan":{"AWS:EpochTime":4070908800},"IpAddress":{"AWS:SourceIp":"192.0.2.7/32"}}}]}'
    """

    def __new__(
        cls,
        key_id: str,
        signer_or_private_key: Union[_KeyMaterial, Callable[[bytes], bytes]],
        *,
        hash_algorithm: _HashName = "SHA1",
        key_type: _KeyTypeName = "rsa",
    ) -> "CloudFrontSigner": ...
    @property
    def key_id(self) -> str: ...
    @property
    def hash_algorithm(self) -> Literal["SHA1", "SHA256"]: ...
    def generate_presigned_url(
        self,
        url: str,
        date_less_than: Optional[_Instant] = None,
        policy: Union[str, bytes, None] = None,
    ) -> str: ...
    def build_policy(
        self,
        resource: str,
        date_less_than: _Instant,
        date_greater_than: Optional[_Instant] = None,
        ip_address: Optional[str] = None,
    ) -> str: ...
    def generate_signed_cookies(
        self,
        url: str,
        date_less_than: Optional[_Instant] = None,
        policy: Union[str, bytes, None] = None,
    ) -> dict[str, str]: ...

def keygen(key_type: _KeyTypeName) -> tuple[str, str]:
    """A new key pair ``(private_pem, public_pem)``: RSA-2048 or ECDSA P-256 (PKCS#8 and SPKI PEM).

    >>> import cfsign
    >>> private_pem, public_pem = cfsign.keygen("ecdsa")
    >>> public_pem.startswith("-----BEGIN PUBLIC KEY-----")
    True
    """

def dash_url_query(mpd: _Manifest) -> _Manifest:
    """A DASH MPD with ``UrlQueryInfo`` in every AdaptationSet (DASH's own URL parameters,
    ISO/IEC 23009-1 Annex I), as ``str`` or ``bytes`` like the input. Players that support it
    (dash.js 5+, Shaka Player 4.11+; not Media3/ExoPlayer) append the MPD URL's query to
    their segment requests, so one MPD URL signed for its folder signs the segments too.
    Nothing is signed: the MPD is the same for every viewer.

    >>> import cfsign
    >>> mpd = '<MPD><Period><AdaptationSet><SegmentTemplate media="$Number$.m4s"/></AdaptationSet></Period></MPD>'
    >>> "urn:mpeg:dash:urlparam:2014" in cfsign.dash_url_query(mpd)
    True
    """

def encode_url(url: str) -> str:
    """``url`` percent-encoded as clients send it (valid ``%XX`` escapes kept); sign the result.

    >>> import cfsign
    >>> cfsign.encode_url("https://x.net/Résumé 2026.pdf")
    'https://x.net/R%C3%A9sum%C3%A9%202026.pdf'
    """
