"""Compressing text responses (HTML pages and fragments, JSON) for browsers that accept it:
brotli when offered, else gzip. A 200-task board is ~340 KB of HTML and compresses ~20×.

Done here, after the response is built, rather than with an ASGI middleware such as
brotli-asgi: Quart sends every body as a stream (a first chunk with more_body, then an empty
end), so such a middleware compresses *every* response chunk by chunk, tiny fragments and
already-compressed pictures included, and its minimum size never applies. Here only complete
text bodies above MIN_SIZE are compressed, and streamed ones (the data export, event streams)
pass untouched.
"""

from __future__ import annotations

import gzip

import brotli
from quart import Quart, request
from quart.wrappers import Response
from quart.wrappers.response import DataBody

MIN_SIZE = 1024
TEXT_TYPES = ("text/html", "application/json", "text/plain", "text/css", "image/svg+xml")
BROTLI_QUALITY = 5  # a 340 KB page in about 3 ms; higher qualities cost far more for little


def _accepted() -> str | None:
    offered = {
        part.split(";")[0].strip().lower()
        for part in request.headers.get("Accept-Encoding", "").split(",")
    }
    return "br" if "br" in offered else "gzip" if "gzip" in offered else None


async def compress_response(response: Response) -> Response:
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
    if encoding == "br":
        packed = brotli.compress(body, mode=brotli.MODE_TEXT, quality=BROTLI_QUALITY)
    else:
        packed = gzip.compress(body, compresslevel=6)
    response.set_data(packed)
    response.headers["Content-Encoding"] = encoding
    return response


def init_app(app: Quart) -> None:
    app.after_request(compress_response)
