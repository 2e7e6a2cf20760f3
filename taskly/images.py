"""Pictures people upload: the only module that calls Pillow.

Nothing uploaded is served as sent. The type is decided from the bytes (PNG, JPEG or WebP
signatures), never the file name or the client's content type; the declared size is checked
before a pixel is decoded (Image.MAX_IMAGE_PIXELS and our own, lower, limit); EXIF orientation
is applied; the picture is cropped to a centred square, resized, and re-encoded as WebP with no
metadata at all. An animated WebP gives its first frame.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import struct
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps

MAX_BYTES = 2 * 1024 * 1024
# 16 MP (4000 × 4000, a phone's default photo): decoding one costs up to ~64 MB as RGBA, and
# one picture is decoded at a time per process (see avatar_from_upload), so a burst of uploads
# cannot take a small machine's memory. A 978-byte WebP may declare 16 MP: the limit is on
# pixels, not bytes.
MAX_PIXELS = 16_000_000
MAX_SIDE = 12_000
LARGE, SMALL = 256, 64
Image.MAX_IMAGE_PIXELS = 2 * MAX_PIXELS  # Pillow's own guard (ours, with the size, comes first)

_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
)


TOO_MANY_PIXELS = (
    f"That picture has too many pixels: use one of at most {MAX_PIXELS // 10**6} megapixels"
)


class ImageError(ValueError):
    """Why a picture cannot be used, in words for the person who uploaded it."""


@dataclass(frozen=True, slots=True)
class Avatar:
    large: bytes  # LARGE × LARGE WebP
    small: bytes  # SMALL × SMALL WebP
    digest: str  # of the large picture: part of its URL, so it can be cached forever


def picture_type(data: bytes) -> str | None:
    """'PNG', 'JPEG' or 'WEBP' from the file's first bytes; None for anything else."""
    for signature, kind in _SIGNATURES:
        if data.startswith(signature):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def make_avatar(data: bytes) -> Avatar:
    """Decode, check, square, resize and re-encode an uploaded picture. CPU-bound: callers run
    it in a thread. Raises ImageError with a message for the person."""
    if len(data) > MAX_BYTES:
        raise ImageError("That picture is larger than 2 MB. Choose a smaller one.")
    kind = picture_type(data)
    if kind is None:
        raise ImageError("Use a PNG, JPEG or WebP picture.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[kind]) as opened:
                width, height = opened.size  # from the header: nothing is decoded yet
                if width * height > MAX_PIXELS or max(width, height) > MAX_SIDE:
                    raise ImageError(f"{TOO_MANY_PIXELS} ({width} × {height})")
                if kind == "JPEG":
                    opened.draft("RGB", (LARGE * 2, LARGE * 2))  # decode at a reduced scale
                opened.seek(0)  # an animated WebP: its first frame
                opened.load()
                # Down to a working size at once, in place: every later step (orientation,
                # mode, crop) copies the picture, and a full-size copy is what costs memory.
                opened.thumbnail((LARGE * 4, LARGE * 4), Image.Resampling.BILINEAR)
                picture = _upright(opened)
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(TOO_MANY_PIXELS) from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageError("That picture is damaged or incomplete.") from exc
    mode = (
        "RGBA" if picture.mode in ("RGBA", "LA", "PA") or "transparency" in picture.info else "RGB"
    )
    square = ImageOps.fit(picture.convert(mode), (LARGE, LARGE), Image.Resampling.LANCZOS)
    large = _webp(square)
    small = _webp(square.resize((SMALL, SMALL), Image.Resampling.LANCZOS))
    return Avatar(large, small, hashlib.sha256(large).hexdigest()[:32])


_DECODING = asyncio.Semaphore(1)


async def avatar_from_upload(data: bytes) -> Avatar:
    """make_avatar in a thread, one at a time per process: decoding is where the memory goes."""
    async with _DECODING:
        return await asyncio.to_thread(make_avatar, data)


def _upright(picture: Image.Image) -> Image.Image:
    """Turned as its EXIF orientation says; a picture whose EXIF cannot be read is shown as
    stored (its pixels are fine, and the EXIF is dropped anyway)."""
    try:
        return ImageOps.exif_transpose(picture)
    except (SyntaxError, ValueError, OSError, KeyError, TypeError, struct.error):
        return picture


def _webp(picture: Image.Image) -> bytes:
    out = io.BytesIO()
    picture.save(out, "WEBP", quality=85, method=4)  # no exif=, no icc_profile=: no metadata
    return out.getvalue()
