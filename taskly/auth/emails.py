"""Email addresses: the one rule for what Taskly accepts and the one canonical key.

An address is accepted only in ASCII (mail servers without SMTPUTF8 could take nothing else),
one address, no spaces, quotes, brackets or commas (which would change a To: header's meaning).
Its key, used for uniqueness, lookup and every rate-limit key, is the ASCII lower-case form.
ASCII is checked *before* lower-casing: Python's and PostgreSQL's case mappings disagree
outside ASCII ('İ', the Kelvin sign 'K' → 'k'), and eight spellings of one address once gave
eight separate login limits.
"""

from __future__ import annotations

import hashlib
import re

EMAIL_MAX = 254
_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+"
)


def email_error(email: str) -> str | None:
    """Why an address typed into a form cannot be used, or None."""
    if not email:
        return "Enter your email address."
    if len(email) > EMAIL_MAX or not email.isascii() or not _EMAIL.fullmatch(email):
        return "Enter an email address like name@example.com."
    return None


def email_key(email: str) -> str | None:
    """The canonical key of an address, or None if no account could have this address."""
    email = email.strip()
    if email_error(email) is not None:
        return None
    return email.lower()


def email_digest(email: str) -> str:
    """A fixed-size stand-in for whatever a client typed (rate-limit keys are stored)."""
    key = email_key(email)
    raw = key if key is not None else email.strip()
    return hashlib.sha256(raw.encode("utf-8", "replace")).hexdigest()
