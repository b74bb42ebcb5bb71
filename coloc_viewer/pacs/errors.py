"""The PACS client's errors: one line naming the server and the reason (CLI exit status 2)."""

from __future__ import annotations

from coloc_viewer.errors import ColocError


class PacsError(ColocError):
    """A server cannot be reached, refuses us, or answers with a failure."""

    def __init__(self, reason: str, server: str | None = None):
        self.server = server
        self.reason = " ".join(str(reason).split())
        super().__init__(f"PACS {server}: {self.reason}" if server else self.reason)


class RetrievalCancelled(PacsError):
    """The user cancelled a retrieval; nothing partial was kept as complete."""
