"""The exceptions users see: bad input (exit 2), and a run stopped from outside (exit 1)."""

from __future__ import annotations


class ConfigError(ValueError):
    """Bad input, found before any work starts.

    The message names the key (``[section] key`` or the file) and the value at fault, so the
    command line can print it as one line and exit with status 2.

    Parameters
    ----------
    key : str
        The key at fault, as a user writes it (``"[network] v"``), or the file.
    value : object
        The value given (shown cut to 80 characters).
    reason : str
        Why it is refused (``"must be > 0"``).
    """

    def __init__(self, key: str, value: object, reason: str) -> None:
        self.key = key
        self.value = value
        self.reason = reason
        try:
            shown = repr(value)
        except ValueError:  # an integer too long to print (Python's 4300-digit limit)
            shown = "<a number too long to print>"
        if len(shown) > 80:
            shown = shown[:77] + "..."
        super().__init__(f"{key} = {shown}: {reason}")

    def __reduce__(self):
        # rebuilt from its parts, so it survives pickling: a worker's check of the paths it
        # builds raises it on a Dask cluster, and the client re-raises it as it is
        return type(self), (self.key, self.value, self.reason)


class RunStopped(RuntimeError):
    """A run that stopped for a reason outside its input (the Dask scheduler went away): the
    command line prints the message as one line and exits with status 1. The chunks already
    written stay in the partial file, so ``sweep run ... --resume`` continues."""


class UnfinishedResult(ConfigError, FileNotFoundError):
    """A result whose sweep has not finished, opened without asking for it by name
    (``sweep.load(path, partial=True)``, ``--partial``): the chunks not yet computed hold no
    numbers, so anything computed from it would be wrong. A ``FileNotFoundError`` too, as the
    finished result it stands for is not there yet.

    Parameters
    ----------
    key, value, reason
        As :class:`ConfigError`'s: the result's path and why it is unfinished.
    """


class PartialResultWarning(UserWarning):
    """Numbers computed from an unfinished result that was opened by name (``partial=True``):
    filter it (``warnings.simplefilter("ignore", sweep.PartialResultWarning)``) once you know.

    Parameters
    ----------
    message : str
        Which result, and how many of its chunks hold numbers.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
