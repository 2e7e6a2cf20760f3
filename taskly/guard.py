"""What a request must pass before any view, pooled connection or session lookup sees it.

Order matters, cheapest and most hostile first:
1. The Host header (production): only BASE_URL's host, so no redirect or link points elsewhere.
2. For a state-changing request, where it says it comes from (Origin, Sec-Fetch-Site): headers
   only, before a byte of the body is read.
3. Size: an anonymous client (no valid signed login cookie) may send a small form only, with
   few fields; anyone else up to MAX_BODY_BYTES and 200 fields; a view marked @body_limit (an
   upload) up to its own limit, and past it the body is not read at all: the view finds
   g.body_too_large and says so beside its field.
4. The whole body is read now, under BODY_TIMEOUT, *before* the session lookup takes a pooled
   database connection: a client that trickles or stops its body holds nothing but its own
   socket, and is cut off after BODY_TIMEOUT with a 408.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from quart import Request, current_app, g, request
from quart.formparser import FormDataParser, ParserFunc
from quart.typing import ResponseReturnValue
from quart.wrappers.request import Body
from quart_auth import current_user
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge

from taskly.csrf import SAFE_METHODS, check_origin, is_exempt

FORM_TYPES = frozenset(
    {"application/x-www-form-urlencoded", "application/x-url-encoded", "multipart/form-data"}
)
ANONYMOUS_MAX_BODY = 16 * 1024  # sign-up, login: a few short fields
ANONYMOUS_MAX_FIELDS = 20
HOST_FREE = frozenset({"core.healthz", "core.readyz"})  # the platform's checks use any Host


F = TypeVar("F", bound=Callable[..., Awaitable[ResponseReturnValue]])


def body_limit(size: int) -> Callable[[F], F]:
    def mark(view: F) -> F:
        view._body_limit = size  # type: ignore[attr-defined]
        return view

    return mark


class LimitedFormDataParser(FormDataParser):
    """Quart's parser, with the field limit applied to urlencoded forms too (Quart applies
    MAX_FORM_PARTS to multipart only: a 1 MB form of 128,843 fields took 0.3 s of the event
    loop) and undecodable bytes answered with a 400."""

    async def _parse_urlencoded(
        self: FormDataParser,
        body: Body,
        mimetype: str,
        content_length: int | None,
        options: dict[str, str],
    ) -> tuple[MultiDict[Any, Any], MultiDict[Any, Any]]:
        raw = await body
        try:
            text = raw.decode()
        except UnicodeDecodeError:
            raise BadRequest("The form is not valid UTF-8.") from None
        try:
            fields = parse_qsl(text, keep_blank_values=True, max_num_fields=self.max_form_parts)
        except ValueError:
            raise RequestEntityTooLarge("That form has too many fields.") from None
        return MultiDict(fields), MultiDict()

    def get_parse_func(self, mimetype: str, options: dict[str, str]) -> ParserFunc | None:
        # The base class maps mimetypes to its own functions: route urlencoded to the override.
        if mimetype in ("application/x-www-form-urlencoded", "application/x-url-encoded"):
            return LimitedFormDataParser._parse_urlencoded
        return super().get_parse_func(mimetype, options)


class TasklyRequest(Request):
    form_data_parser_class = LimitedFormDataParser


def _check_host() -> None:
    settings: Any = current_app.extensions["taskly.settings"]
    if not settings.production or request.endpoint in HOST_FREE:
        return
    if request.host.lower() != settings.base_host:
        raise BadRequest("This site is not served under that name.")


async def guard_request() -> None:
    _check_host()
    if any("\x00" in value for value in request.args.values()):
        raise BadRequest("The request contains a NUL character.")
    if request.method in SAFE_METHODS or request.routing_exception is not None:
        return
    if not is_exempt():
        check_origin()
    anonymous = current_user.auth_id is None  # the cookie's signature is checked, no DB
    view = current_app.view_functions.get(request.endpoint or "")
    upload_limit = None if anonymous else getattr(view, "_body_limit", None)
    settings: Any = current_app.extensions["taskly.settings"]
    limit = ANONYMOUS_MAX_BODY if anonymous else upload_limit or settings.max_body_bytes
    if anonymous:
        request.max_form_parts = ANONYMOUS_MAX_FIELDS
    try:
        if (request.content_length or 0) > limit:
            raise RequestEntityTooLarge()
        if len(await request.get_data()) > limit:  # the whole body, under BODY_TIMEOUT
            raise RequestEntityTooLarge()  # sent without a Content-Length
    except RequestEntityTooLarge:
        if upload_limit is None:
            raise
        g.body_too_large = True  # not read (further): the view says so beside its field
        return
    if request.mimetype in FORM_TYPES:
        form = await request.form  # parsed from what was read
        if any("\x00" in value for value in form.values()):
            raise BadRequest("The form contains a NUL character. Remove it and try again.")
