"""A browser's User-Agent in words a person recognises ("Firefox on Linux"): for the devices
list and for the forgotten-password mail. A few lines of ordered rules cover the browsers and
systems people use; a full parser (ua-parser's regex database) would be a dependency for
detail nobody reads here. Unknown agents say so rather than guess."""

from __future__ import annotations

import re

# Order matters: Edge and Opera say "Chrome" too, Chrome says "Safari", iOS browsers say "Safari".
_BROWSERS = (
    (re.compile(r"Edg(?:e|A|iOS)?/"), "Edge"),
    (re.compile(r"OPR/|Opera"), "Opera"),
    (re.compile(r"SamsungBrowser/"), "Samsung Internet"),
    (re.compile(r"Firefox/|FxiOS/"), "Firefox"),
    (re.compile(r"Chrome/|CriOS/|Chromium/"), "Chrome"),
    (re.compile(r"Safari/"), "Safari"),
    (re.compile(r"curl/|python|Go-http|HTTPie", re.IGNORECASE), "a script"),
)
_SYSTEMS = (
    (re.compile(r"iPhone|iPod"), "iPhone"),
    (re.compile(r"iPad"), "iPad"),
    (re.compile(r"Android"), "Android"),
    (re.compile(r"CrOS"), "ChromeOS"),
    (re.compile(r"Mac OS X|Macintosh"), "macOS"),
    (re.compile(r"Windows"), "Windows"),
    (re.compile(r"Linux|X11"), "Linux"),
)


def describe_agent(user_agent: str) -> str:
    browser = next((name for rule, name in _BROWSERS if rule.search(user_agent)), None)
    system = next((name for rule, name in _SYSTEMS if rule.search(user_agent)), None)
    if browser and system:
        return f"{browser} on {system}"
    return browser or (f"A browser on {system}" if system else "An unknown browser")
