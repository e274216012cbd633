"""Pre-signed download URLs: HMAC-SHA256 over path, expiry and key-pair id."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import urlencode


class UrlSigner:
    """Signs and verifies ``?Expires=..&Signature=..&Key-Pair-Id=..`` query strings."""

    def __init__(self, secret: bytes | None = None, key_pair_id: str = "KSANDBOX0000001") -> None:
        self._secret = secret or secrets.token_bytes(32)
        self.key_pair_id = key_pair_id

    def signature(self, path: str, expires: int, key_pair_id: str | None = None) -> str:
        """Hex HMAC of ``path``, ``expires`` and the key-pair id."""
        kid = self.key_pair_id if key_pair_id is None else key_pair_id
        msg = f"{path}\n{expires}\n{kid}".encode()
        return hmac.new(self._secret, msg, hashlib.sha256).hexdigest()

    def query(self, path: str, expires: int) -> str:
        """The signed query string for ``path`` valid until ``expires`` (epoch seconds)."""
        sig = self.signature(path, expires)
        return urlencode({"Expires": expires, "Signature": sig, "Key-Pair-Id": self.key_pair_id})

    @staticmethod
    def credential_query() -> str:
        """Azure- and AWS-style credentials as extra query parameters, fresh random values
        holding ``/``, ``+`` and ``=`` (so their percent-encoded form differs from the raw)."""

        def value(size: int) -> str:
            return secrets.token_urlsafe(size) + "/+" + secrets.token_hex(4) + "=="

        return urlencode(
            {
                "sig": value(24),
                "X-Amz-Credential": "ASIA" + secrets.token_hex(8).upper() + "/20261101/eu/s3",
                "X-Amz-Security-Token": value(48),
                "X-Amz-Signature": secrets.token_hex(32),
                "token": value(16),
            }
        )

    def check(self, path: str, query: dict[str, list[str]], now: float) -> tuple[str, str] | None:
        """Return ``(code, message)`` of what is wrong with a signed request, or None."""
        values = {k: (query.get(k) or [""])[0] for k in ("Expires", "Signature", "Key-Pair-Id")}
        if not all(values.values()):
            return "AccessDenied", "Missing Expires, Signature or Key-Pair-Id"
        try:
            expires = int(values["Expires"])
        except ValueError:
            return "AccessDenied", "Malformed Expires"
        if values["Key-Pair-Id"] != self.key_pair_id:
            return "AccessDenied", "Unknown Key-Pair-Id"
        expected = self.signature(path, expires)
        if not hmac.compare_digest(expected, values["Signature"]):
            return "SignatureDoesNotMatch", "The request signature does not match"
        if now > expires:
            return "Expired", "Request has expired"
        return None
