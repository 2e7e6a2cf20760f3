"""The secret key: how strong production needs it to be, and the one development makes for
itself (kept in the data directory) when none is configured."""

from __future__ import annotations

import math
import os
import secrets
from collections import Counter
from pathlib import Path

# The secret used when none is configured outside production. Production refuses it.
DEV_SECRET_KEY = "dev-insecure-secret-key-change-me"  # noqa: S105 - a known, refused default
MIN_SECRET_LENGTH = 32
MIN_SECRET_BITS = 128


def unsafe_secret(secret: str) -> bool:
    """A secret production refuses: the development default, too short, or too regular."""
    return (
        secret == DEV_SECRET_KEY
        or len(secret) < MIN_SECRET_LENGTH
        or estimated_bits(secret) < MIN_SECRET_BITS
    )


def estimated_bits(secret: str) -> float:
    """A rough upper bound of a secret's entropy: its length times the Shannon entropy of its
    characters. 40 times "a" gives 0; 64 random hex digits about 256. It catches keyboard runs
    and repeated words, not a cleverly chosen bad secret."""
    counts = Counter(secret)
    total = len(secret)
    per_char = -sum(n / total * math.log2(n / total) for n in counts.values())
    return per_char * total


def development_secret(data_dir: Path) -> str:
    """Outside production with no SECRET_KEY: a random key made on first start and kept in
    the data directory (0600), so signed links and sessions survive restarts but nobody can
    forge them with a key printed in the source."""
    path = data_dir / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    draft = data_dir / f".secret_key.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    try:
        os.link(draft, path)  # atomic: a worker starting alongside reads a whole key
    except FileExistsError:
        key = path.read_text().strip()
    finally:
        draft.unlink()
    return key
