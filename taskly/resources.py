"""Where the top-level resource folders (templates/, static/, sql/) are.

In a checkout (editable install) they sit beside the package; a built wheel carries them
inside it as taskly/_resources (see pyproject.toml).
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
ROOT = _PACKAGE / "_resources" if (_PACKAGE / "_resources").is_dir() else _PACKAGE.parent
TEMPLATES = ROOT / "templates"
STATIC = ROOT / "static"
SQL = ROOT / "sql"
MIGRATIONS = SQL / "migrations"
QUERIES = SQL / "queries"
