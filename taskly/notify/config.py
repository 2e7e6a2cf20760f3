"""The notification settings (issue #12): NOTIFY_*, VAPID_* and NOTIFY_KEY, read and checked.

They are fields of ``taskly.settings.Settings`` like every other setting (one frozen dataclass);
this module keeps their defaults, parsing and validation out of settings.py. It imports nothing
from Taskly at module level, so settings.py can take its constants from here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from taskly.settings import Settings

# Apprise services users may add (NOTIFY_SCHEMES; the README says why these).
DEFAULT_NOTIFY_SCHEMES = (
    "ntfy", "ntfys", "gotify", "gotifys", "signal", "signals", "json", "jsons",
    "tgram", "pover", "discord", "twilio",
)  # fmt: skip
MAX_NOTIFY_TIMEOUT = 60.0
# What push services accept as the VAPID contact (RFC 8292 section 2.1; py_vapid's own check).
VAPID_SUBJECT = re.compile(
    r"mailto:[^@\s]+@(localhost|[\w-]+(\.[\w-]+)+)|https://[\w.-]+(:\d+)?(/\S*)?"
)


def from_env(env: Mapping[str, str], defaults: Settings) -> dict[str, Any]:
    """The notification fields of Settings, from the environment."""
    from taskly.settings import _flag, _float

    return {
        "notify_schemes": parse_schemes(env.get("NOTIFY_SCHEMES"), defaults.notify_schemes),
        "notify_allow_private": _flag(env, "NOTIFY_ALLOW_PRIVATE", False),
        "notify_timeout": _float(env, "NOTIFY_TIMEOUT", defaults.notify_timeout),
        "notify_key": env.get("NOTIFY_KEY", "").strip() or None,
        "vapid_private_key": env.get("VAPID_PRIVATE_KEY", "").strip() or None,
        "vapid_subject": env.get("VAPID_SUBJECT", "").strip(),
        "notify_ca_file": env.get("NOTIFY_CA_FILE", "").strip() or None,
    }


def parse_schemes(raw: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    """A comma-separated list of URL schemes, lower-cased, in order, once each; ``none`` is the
    empty list."""
    if raw is None or raw.strip() == "":
        return default
    if raw.strip().lower() == "none":
        return ()
    names = [part.strip().lower().removesuffix("://") for part in raw.split(",")]
    return tuple(dict.fromkeys(name for name in names if name))


def validate(settings: Settings) -> None:
    """Raise SettingsError for a notification setting that is wrong, or unsafe in production."""
    from taskly.outbound import KNOWN_SCHEMES
    from taskly.settings import SettingsError, unsafe_secret

    if unknown := [s for s in settings.notify_schemes if s not in KNOWN_SCHEMES]:
        raise SettingsError(
            f"NOTIFY_SCHEMES has {', '.join(unknown)}, which Taskly cannot check; "
            f"known: {', '.join(sorted(KNOWN_SCHEMES))}"
        )
    if not 0 < settings.notify_timeout <= MAX_NOTIFY_TIMEOUT:  # also refuses nan
        raise SettingsError(
            f"NOTIFY_TIMEOUT must be more than 0 and at most {MAX_NOTIFY_TIMEOUT:g} seconds"
        )
    # A derived subject is checked in production only: MAIL_FROM is real there.
    if (settings.vapid_subject or settings.production) and not VAPID_SUBJECT.fullmatch(
        settings.vapid_contact
    ):
        raise SettingsError(
            "VAPID_SUBJECT must be mailto:you@example.com or an https:// URL "
            "(unset, it is mailto: + MAIL_FROM's address)"
        )
    if settings.vapid_private_key:
        from taskly.push import load_private_key

        try:
            load_private_key(settings.vapid_private_key)
        except ValueError as exc:
            raise SettingsError(f"VAPID_PRIVATE_KEY {exc}") from None
    if settings.notify_ca_file and not Path(settings.notify_ca_file).is_file():
        raise SettingsError("NOTIFY_CA_FILE must name a readable PEM file of CA certificates")
    if settings.notify_key and settings.production and unsafe_secret(settings.notify_key):
        raise SettingsError(
            "NOTIFY_KEY is unsafe: use a random value of at least 32 characters, "
            "e.g. `openssl rand -hex 32` (or unset it to derive the key from SECRET_KEY)"
        )
