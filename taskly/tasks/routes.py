"""The dashboard."""

from __future__ import annotations

from quart import Blueprint
from quart.typing import ResponseReturnValue

from taskly.web import login_required, render

blueprint = Blueprint("tasks", __name__)


@blueprint.route("/")
@login_required
async def dashboard() -> ResponseReturnValue:
    return await render("pages/dashboard.html")
