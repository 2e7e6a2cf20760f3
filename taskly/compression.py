"""Compressing text responses (HTML pages and fragments, JSON) for browsers that accept it:
brotli when offered, else gzip. A 200-task board is ~340 KB of HTML and compresses ~20×.

Done here, after the response is built, rather than with an ASGI middleware such as
brotli-asgi: Quart sends every body as a stream (a first chunk with more_body, then an empty
end), so such a middleware compresses *every* response chunk by chunk, tiny fragments and
already-compressed pictures included, and its minimum size never applies. Here only complete
text bodies above MIN_SIZE are compressed, and streamed ones (the data export, event streams)
pass untouched.

Static files (CSS, JavaScript, SVG, the manifest) are compressed too, once per file version at
the best ratio and kept in memory: their URLs carry a content digest and they are few and
small, so each is compressed once per process, never per request.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import brotli
from quart import Quart, request
from quart.wrappers import Response
from quart.wrappers.response import DataBody, FileBody

MIN_SIZE = 1024
TEXT_TYPES = ("text/html", "application/json", "text/plain", "text/css", "image/svg+xml")
BROTLI_QUALITY = 5  # a 340 KB page in about 3 ms; higher qualities cost far more for little
FILE_TYPES = (*TEXT_TYPES, "text/javascript", "application/javascript", "application/manifest+json")
_packed_files: dict[tuple[str, int, str], bytes] = {}


def _pack(body: bytes, encoding: str, best: bool = False) -> bytes:
    if encoding == "br":
        quality = 11 if best else BROTLI_QUALITY
        packed: bytes = brotli.compress(body, mode=brotli.MODE_TEXT, quality=quality)
        return packed
    return gzip.compress(body, compresslevel=9 if best else 6)


def _packed_file(path: Path, encoding: str) -> bytes:
    """A static file compressed at the best ratio, once per version of the file."""
    key = (str(path), path.stat().st_mtime_ns, encoding)
    packed = _packed_files.get(key)
    if packed is None:
        packed = _packed_files[key] = _pack(path.read_bytes(), encoding, best=True)
    return packed


async def _compress_file(response: Response) -> Response:
    body = response.response
    assert isinstance(body, FileBody)
    if (
        response.status_code != 200
        or "Range" in request.headers
        or "Content-Encoding" in response.headers
        or response.mimetype not in FILE_TYPES
        or body.size < MIN_SIZE
    ):
        return response
    response.vary.add("Accept-Encoding")
    encoding = _accepted()
    if encoding is None:
        return response
    etag = response.get_etag()[0]
    response.set_data(_packed_file(body.file_path, encoding))
    response.headers["Content-Encoding"] = encoding
    if etag:  # a different body: a different validator
        response.set_etag(f"{etag}-{encoding}")
    return response


def _accepted() -> str | None:
    offered = {
        part.split(";")[0].strip().lower()
        for part in request.headers.get("Accept-Encoding", "").split(",")
    }
    return "br" if "br" in offered else "gzip" if "gzip" in offered else None


async def compress_response(response: Response) -> Response:
    if isinstance(response.response, FileBody) and request.method == "GET":
        return await _compress_file(response)
    if (
        not isinstance(response.response, DataBody)  # streamed, or a file: left as it is
        or "Content-Encoding" in response.headers
        or response.mimetype not in TEXT_TYPES
        or request.method == "HEAD"
    ):
        return response
    response.vary.add("Accept-Encoding")
    encoding = _accepted()
    if encoding is None:
        return response
    body = await response.get_data(as_text=False)
    if len(body) < MIN_SIZE:
        return response
    response.set_data(_pack(body, encoding))
    response.headers["Content-Encoding"] = encoding
    return response


def init_app(app: Quart) -> None:
    app.after_request(compress_response)
