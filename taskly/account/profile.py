"""The profile: first name, last name, time zone, the date and time format (a locale) and a
picture.

The picture goes through taskly.images (decoded from its bytes under a pixel limit, squared,
re-encoded without metadata) and is stored in PostgreSQL, never on local disk. It is served
only to its owner, at a URL carrying its digest, cached for a year.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from markupsafe import escape
from quart import Blueprint, Response, abort, flash, g, redirect, request, url_for
from quart.typing import ResponseReturnValue

from taskly.auth.routes import name_errors
from taskly.dates import locale_choices, parse_locale
from taskly.db import connection, queries, transaction
from taskly.guard import body_limit
from taskly.images import MAX_BYTES, Avatar, ImageError, avatar_from_upload
from taskly.ratelimit import Limit, by_account, rate_limited
from taskly.reminders.model import ZONES, reschedule_repeats
from taskly.templating import locale_example
from taskly.web import login_required, render

blueprint = Blueprint("profile", __name__, url_prefix="/account")
DIGEST = re.compile(r"[0-9a-f]{32}")
SORTED_ZONES = sorted(ZONES)
# A picture and a few fields: the body may be this large on the profile form (guard.py).
UPLOAD_LIMIT = MAX_BYTES + 64 * 1024
TOO_LARGE = "That picture is larger than 2 MB. Choose a smaller one."


async def _read_picture(errors: dict[str, str]) -> Avatar | None:
    """The uploaded picture, made into an avatar; None if none was chosen (or on error)."""
    if g.get("body_too_large"):
        errors["picture"] = TOO_LARGE
        return None
    upload = (await request.files).get("picture")
    if upload is None or not upload.filename:
        return None
    data = upload.read(MAX_BYTES + 1)  # the file name and the client's type are not used
    try:
        return await avatar_from_upload(data)
    except ImageError as exc:
        errors["picture"] = str(exc)
        return None


@blueprint.route("/profile", methods=["GET", "POST"])
@login_required
@body_limit(UPLOAD_LIMIT)
@rate_limited(Limit(30, timedelta(hours=1), by_account))
async def edit() -> ResponseReturnValue:
    user = g.user
    form: dict[str, Any] = {
        "first_name": user.first_name,
        "last_name": user.last_name,
        "time_zone": user.time_zone,
        "locale": user.locale,
    }
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        if not g.get("body_too_large"):  # else nothing was read: the form keeps its values
            posted = await request.form
            # A page opened before the format field existed keeps the saved format.
            form = {
                key: posted.get(key, form[key] if key == "locale" else "").strip() for key in form
            }
        errors = name_errors(form)
        if form["time_zone"] not in ZONES:
            errors["time_zone"] = "Choose a time zone from the list, e.g. Europe/Berlin."
        if (locale := parse_locale(form["locale"])) is None:
            errors["locale"] = "Choose a format from the list, e.g. en-US or de-DE."
        else:
            form["locale"] = locale
        avatar = await _read_picture(errors)
        if not errors:
            async with transaction() as conn:
                await queries.update_profile(
                    conn,
                    user_id=user.id,
                    first_name=form["first_name"],
                    last_name=form["last_name"],
                    time_zone=form["time_zone"],
                    locale=form["locale"],
                )
                if form["time_zone"] != user.time_zone:
                    await reschedule_repeats(conn, user.id, form["time_zone"])
                if avatar is not None:
                    await queries.upsert_avatar(
                        conn,
                        user_id=user.id,
                        digest=avatar.digest,
                        large=avatar.large,
                        small=avatar.small,
                    )
            await flash("Profile saved.", "success")
            return redirect(url_for("profile.edit"))
        status = 413 if g.get("body_too_large") else 422
    return await render(
        "pages/profile.html",
        form=form,
        errors=errors,
        zones=SORTED_ZONES,
        locales=locale_choices(),
        status=status,
    )


@blueprint.route("/profile/date-example")
@login_required
async def date_example() -> ResponseReturnValue:
    """The profile's live example for the format being typed (htmx, as the field changes)."""
    locale = parse_locale(request.args.get("locale", ""))
    return str(escape(locale_example(locale) if locale else "choose a format from the list"))


@blueprint.route("/profile/picture/delete", methods=["POST"])
@login_required
async def remove_picture() -> ResponseReturnValue:
    async with connection() as conn:
        await queries.delete_avatar(conn, user_id=g.user.id)
    await flash("Picture removed: your initials show instead.", "success")
    return redirect(url_for("profile.edit"))


@blueprint.route("/avatar/<digest>-<int:size>.webp")
@login_required
async def avatar(digest: str, size: int) -> ResponseReturnValue:
    if size not in (64, 256) or not DIGEST.fullmatch(digest):
        abort(404)
    async with connection() as conn:
        data = await queries.select_avatar(conn, user_id=g.user.id, digest=digest, small=size == 64)
    if data is None:
        abort(404)
    response = Response(data, mimetype="image/webp")
    # The URL changes with the picture, so it never goes stale; private: only its owner sees it.
    response.headers["Cache-Control"] = "private, max-age=31536000, immutable"
    return response
