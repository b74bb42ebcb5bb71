"""Exception types shared by every layer.

Bad input raises :class:`InputError`; its message names the file and the reason in one
line, and the CLI prints exactly that message and exits with status 2.
"""

from __future__ import annotations

import os


class ColocError(Exception):
    """Base class of every error coloc_viewer reports to a user."""


class InputError(ColocError):
    """A file, folder or argument the user gave cannot be used.

    ``str(err)`` is one line: ``"<path>: <reason>"`` (or just the reason when no path applies).
    """

    def __init__(self, reason: str, path: str | os.PathLike[str] | None = None):
        self.path = None if path is None else os.fspath(path)
        self.reason = " ".join(str(reason).split())
        super().__init__(f"{self.path}: {self.reason}" if self.path else self.reason)


class ModelError(ColocError):
    """A model card or weights file cannot be used (mismatch, unsafe pickle, bad card)."""

    def __init__(self, reason: str, path: str | os.PathLike[str] | None = None):
        self.path = None if path is None else os.fspath(path)
        self.reason = " ".join(str(reason).split())
        super().__init__(f"{self.path}: {self.reason}" if self.path else self.reason)
