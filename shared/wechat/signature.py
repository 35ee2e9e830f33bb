"""WeChat push signatures: ``signature`` and ``msg_signature``, and their constant-time check.

Both are the lowercase hex SHA-1 of the sorted parts joined without separator: three parts
(Token, timestamp, nonce) for ``signature``, four (plus the body's ``Encrypt``) for
``msg_signature``.
"""

from __future__ import annotations

import hashlib
import hmac

from shared.errors import SignatureError


def sign(*parts: str) -> str:
    """Lowercase hex SHA-1 of ``"".join(sorted(parts))``, UTF-8 encoded."""
    joined = "".join(sorted(parts))
    # surrogatepass: a hostile nonce must make the check fail, not raise UnicodeEncodeError
    return hashlib.sha1(joined.encode("utf-8", "surrogatepass"), usedforsecurity=False).hexdigest()


def verify(expected: str | None, *parts: str, name: str = "signature") -> None:
    """Raise ``SignatureError`` unless ``expected`` is the signature of ``parts``.

    ``name`` (the query parameter) only words the error message.
    """
    if not expected:
        raise SignatureError(f"{name} missing")
    # compare_digest refuses non-ASCII str; a non-ASCII value cannot be a hex digest anyway
    if not expected.isascii() or not hmac.compare_digest(
        expected.encode("ascii"), sign(*parts).encode("ascii")
    ):
        raise SignatureError(f"{name} does not verify")
