"""The one way the tool says no."""
from __future__ import annotations

EXIT_REFUSED = 2


class Refused(Exception):
    """The operation must not happen; the message says why and what to do instead."""
