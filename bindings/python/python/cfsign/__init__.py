"""CloudFront signed URLs and signed cookies, signed and verified by the Rust cfsign core.

The distribution is ``cfsign-rs``; the import name is ``cfsign``. Everything here is
the native module ``cfsign._cfsign``: policy building, the encoding contract, signing,
verifying and explaining are the core's, and bad input raises a :class:`cfsign.Error`
subclass with the core's message.

>>> import cfsign
>>> private_pem, public_pem = cfsign.keygen("ecdsa")
>>> signer = cfsign.Signer("K2JCJMDEHXQW5F", private_pem)
>>> url = signer.sign_url("https://d111111abcdef8.cloudfront.net/a.jpg", expires_in=300)
>>> bool(cfsign.Verifier({"K2JCJMDEHXQW5F": public_pem}).verify(url))
True
"""

from collections.abc import Mapping as _Mapping

from cfsign._cfsign import (
    CloudFrontSigner,
    CookieError,
    Decision,
    Error,
    Explanation,
    Finding,
    KeyFormatError,
    ManifestError,
    PolicyError,
    SignedCookies,
    SignedManifest,
    SignedPolicy,
    SignError,
    Signer,
    TimeError,
    UrlError,
    Verifier,
    Warning,
    __version__,
    dash_url_query,
    encode_url,
    keygen,
)

# SignedCookies implements the read-only mapping protocol natively.
_Mapping.register(SignedCookies)

__all__ = [
    "CloudFrontSigner",
    "CookieError",
    "Decision",
    "Error",
    "Explanation",
    "Finding",
    "KeyFormatError",
    "ManifestError",
    "PolicyError",
    "SignError",
    "SignedCookies",
    "SignedManifest",
    "SignedPolicy",
    "Signer",
    "TimeError",
    "UrlError",
    "Verifier",
    "Warning",
    "__version__",
    "dash_url_query",
    "encode_url",
    "keygen",
]
