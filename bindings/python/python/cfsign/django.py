"""Django integration: a django-storages storage that signs with cfsign, and view helpers.

Switching the backend is the whole change::

    STORAGES = {
        "default": {"BACKEND": "cfsign.django.CloudFrontS3Storage"},
        ...
    }
    AWS_S3_CUSTOM_DOMAIN = "d111111abcdef8.cloudfront.net"
    AWS_CLOUDFRONT_KEY_ID = "K2JCJMDEHXQW5F"
    AWS_CLOUDFRONT_KEY = open("private_key.pem", "rb").read()  # RSA-2048 or ECDSA P-256
    AWS_CLOUDFRONT_HASH_ALGORITHM = "SHA256"                   # optional; SHA1 by default

``storage.url(name)`` then returns a CloudFront signed URL. The key is parsed once per
process (per key, key ID and hash), whatever the number of storages and requests.

The view helpers replace nginx's ``X-Accel-Redirect`` for media behind CloudFront: check
the user in the view, then :func:`redirect_to_signed_url` (a 302 to a fresh signed URL)
or :func:`set_signed_cookies` (signed cookies for a path, e.g. a video's segments).
"""

from __future__ import annotations

import threading
from typing import Any, Optional, Union

from django.conf import settings
from django.core.files.storage import Storage, default_storage
from django.http import HttpResponse, HttpResponseRedirect
from storages.backends.s3 import S3Storage
from storages.utils import setting

from cfsign._cfsign import CloudFrontSigner, SignedCookies, Signer

__all__ = ["CloudFrontS3Storage", "redirect_to_signed_url", "set_signed_cookies", "signer_from_settings"]

_lock = threading.Lock()
_signers: dict[tuple[str, Union[str, bytes], str], CloudFrontSigner] = {}
_native: dict[tuple[str, Union[str, bytes], str], Signer] = {}


class CloudFrontS3Storage(S3Storage):  # type: ignore[misc]
    """django-storages' ``S3Storage`` whose CloudFront URLs are signed by cfsign.

    Settings are django-storages' (``AWS_CLOUDFRONT_KEY_ID``, ``AWS_CLOUDFRONT_KEY``,
    ``AWS_S3_CUSTOM_DOMAIN``, ``AWS_QUERYSTRING_EXPIRE``, ...) plus
    ``AWS_CLOUDFRONT_HASH_ALGORITHM`` (``"SHA1"`` or ``"SHA256"``; option
    ``cloudfront_hash_algorithm``). The key may be RSA-2048 or ECDSA P-256, PEM or DER.
    """

    def get_default_settings(self) -> dict[str, Any]:
        defaults: dict[str, Any] = super().get_default_settings()
        defaults["cloudfront_hash_algorithm"] = setting("AWS_CLOUDFRONT_HASH_ALGORITHM", "SHA1")
        return defaults

    def get_cloudfront_signer(self, key_id: str, key: Union[str, bytes]) -> CloudFrontSigner:
        hash_algorithm = str(self.cloudfront_hash_algorithm)
        cache_key = (key_id, key, hash_algorithm)
        with _lock:
            signer = _signers.get(cache_key)
            if signer is None:
                signer = CloudFrontSigner(key_id, key, hash_algorithm=hash_algorithm)
                _signers[cache_key] = signer
        return signer


def signer_from_settings() -> Signer:
    """The native :class:`cfsign.Signer` for ``AWS_CLOUDFRONT_KEY_ID``,
    ``AWS_CLOUDFRONT_KEY`` and ``AWS_CLOUDFRONT_HASH_ALGORITHM`` (parsed once per process)."""
    key_id = str(getattr(settings, "AWS_CLOUDFRONT_KEY_ID", ""))
    key: Union[str, bytes] = getattr(settings, "AWS_CLOUDFRONT_KEY", "")
    hash_algorithm = str(getattr(settings, "AWS_CLOUDFRONT_HASH_ALGORITHM", "SHA1"))
    cache_key = (key_id, key, hash_algorithm)
    with _lock:
        signer = _native.get(cache_key)
        if signer is None:
            signer = Signer(key_id, key, hash=hash_algorithm)
            _native[cache_key] = signer
    return signer


def redirect_to_signed_url(
    name: str, *, storage: Optional[Storage] = None, expire: Optional[int] = None
) -> HttpResponseRedirect:
    """A 302 to a fresh signed URL for the stored file ``name`` (``storage.url(name)``,
    the default storage unless given), marked ``Cache-Control: private, no-store`` so that
    no shared cache hands the signed URL to another user.

    ``expire`` is the lifetime in seconds (django-storages' ``AWS_QUERYSTRING_EXPIRE`` by default).
    """
    store = storage if storage is not None else default_storage
    url = store.url(name, expire=expire) if expire is not None else store.url(name)
    response = HttpResponseRedirect(url)
    response["Cache-Control"] = "private, no-store"
    return response


def set_signed_cookies(
    response: HttpResponse,
    resource: str,
    *,
    expires_in: Union[int, str, Any],
    path: str = "/",
    domain: Optional[str] = None,
    secure: bool = True,
    http_only: bool = True,
    same_site: str = "Lax",
    signer: Optional[Signer] = None,
) -> SignedCookies:
    """Sets CloudFront signed cookies for ``resource`` (a wildcard such as
    ``https://media.example.com/course-42/*``) on ``response`` and returns them (their
    ``warnings`` say when they will not work: a canned cookie, a path outside the resource).

    The cookies are signed and their attributes checked by cfsign; Django writes the
    ``Set-Cookie`` headers with the same attributes. ``signer`` defaults to
    :func:`signer_from_settings`.
    """
    use = signer if signer is not None else signer_from_settings()
    cookies = use.sign_cookies(
        resource,
        expires_in=expires_in,
        path=path,
        domain=domain,
        secure=secure,
        http_only=http_only,
        same_site=same_site,
    )
    for name, value in cookies.items():
        response.set_cookie(
            name,
            value,
            path=path,
            domain=domain,
            secure=secure,
            httponly=http_only,
            samesite=same_site,
        )
    response["Cache-Control"] = "private, no-store"
    return cookies
