"""taskly/images.py, the only place Pillow runs: every hostile picture the accounts issue lists
is refused with a message for the person (or, for an animated WebP, reduced to its first
frame), and what comes out is a square WebP with no metadata."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from taskly.images import LARGE, SMALL, ImageError, make_avatar


def picture(fmt: str, size=(300, 200), color=(200, 30, 30), **save) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, fmt, **save)
    return out.getvalue()


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_declaring(width: int, height: int) -> bytes:
    """A PNG whose header claims width × height (a decompression bomb), with a tiny body."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
    )


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_png_jpeg_and_webp_become_square_webp_at_two_sizes(fmt):
    avatar = make_avatar(picture(fmt))
    large, small = decoded(avatar.large), decoded(avatar.small)
    assert (large.format, large.size) == ("WEBP", (LARGE, LARGE))
    assert (small.format, small.size) == ("WEBP", (SMALL, SMALL))
    red, green, blue = large.convert("RGB").getpixel((128, 128))
    assert red > 150 and green < 80 and blue < 80
    assert len(avatar.digest) == 32


def test_exif_orientation_is_applied_and_every_byte_of_metadata_dropped():
    """A phone photo stored sideways with 'rotate 90° clockwise' in its EXIF: the left half
    (red) must end up on top, and nothing of the EXIF (GPS, camera) may survive."""
    image = Image.new("RGB", (400, 200), (20, 20, 220))
    image.paste((220, 20, 20), (0, 0, 200, 200))
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° CW to display
    exif[0x010F] = "SecretCam"  # Make
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes())
    avatar = make_avatar(out.getvalue())
    result = decoded(avatar.large).convert("RGB")
    top, bottom = result.getpixel((128, 20)), result.getpixel((128, 235))
    assert top[0] > 150 and top[2] < 100, top
    assert bottom[2] > 150 and bottom[0] < 100, bottom
    for data in (avatar.large, avatar.small):
        assert b"Exif" not in data and b"SecretCam" not in data and b"ICCP" not in data


def test_several_megabytes_of_exif_are_dropped():
    exif = Image.Exif()
    exif[0x010E] = "A" * 1_800_000  # ImageDescription
    data = picture("PNG", size=(64, 64), exif=exif.tobytes())
    assert len(data) > 1_800_000
    avatar = make_avatar(data)
    assert len(avatar.large) < 20_000 and b"AAAA" not in avatar.large


def test_unreadable_exif_is_ignored_not_fatal():
    base = picture("PNG", size=(64, 64))
    broken = base[:-12] + chunk(b"eXIf", b"Exif\x00\x00" + b"A" * 5000) + base[-12:]
    avatar = make_avatar(broken)
    assert b"AAAA" not in avatar.large


def test_an_animated_webp_gives_its_first_frame():
    frames = [Image.new("RGB", (100, 100), c) for c in ((220, 20, 20), (20, 20, 220))]
    out = io.BytesIO()
    frames[0].save(out, "WEBP", save_all=True, append_images=frames[1:], duration=100, loop=0)
    result = decoded(make_avatar(out.getvalue()).large)
    assert getattr(result, "n_frames", 1) == 1
    red, _, blue = result.convert("RGB").getpixel((128, 128))
    assert red > 150 and blue < 80


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"GIF89a\x01\x00\x01\x00<html><script>alert(1)</script></html>", "PNG, JPEG or WebP"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "PNG, JPEG"),
        (b"", "PNG, JPEG or WebP"),
        (png_declaring(20000, 20000), "too many pixels: use one of at most 16 megapixels"),
        (png_declaring(6001, 4001), r"too many pixels.*\(6001 × 4001\)"),
        (png_declaring(100, 13000), r"too many pixels.*\(100 × 13000\)"),
        (picture("JPEG", size=(800, 600))[:900], "damaged or incomplete"),
        (picture("PNG")[:60], "damaged or incomplete"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "damaged or incomplete"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 garbage", "damaged or incomplete"),
        (b"\xff\xd8\xff" + b"\x00" * (2 * 1024 * 1024), "larger than 2 MB"),
    ],
    ids=[
        "gif-html-polyglot",
        "svg",
        "empty",
        "bomb",
        "over-24mp",
        "tall",
        "truncated-jpeg",
        "truncated-png",
        "png-junk",
        "webp-junk",
        "over-2mb",
    ],
)
def test_hostile_pictures_are_refused_with_a_message(data, message):
    with pytest.raises(ImageError, match=message):
        make_avatar(data)
