"""The one exception users see for bad input."""

from __future__ import annotations


class ConfigError(ValueError):
    """Bad input, found before any work starts.

    The message names the key (``[section] key`` or the file) and the value at fault, so the
    command line can print it as one line and exit with status 2.
    """

    def __init__(self, key: str, value: object, reason: str) -> None:
        self.key = key
        self.value = value
        self.reason = reason
        shown = repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        super().__init__(f"{key} = {shown}: {reason}")
