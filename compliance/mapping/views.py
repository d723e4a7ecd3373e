"""Pages for controls and mappings."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("mapping", __name__)
