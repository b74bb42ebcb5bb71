"""Application logging: a rotating log file in the user's log folder, with PHI redaction.

The rule is never to log a patient's name, ID or birth date. :class:`PhiRedactionFilter` is
the safety net if one ever reaches a log call anyway (a pydicom dataset repr, a DICOM JSON
dict, an exception message quoting a header): the value is replaced by ``[REDACTED]``.
It recognises values next to an attribute name or tag, and DICOM person names
(``Family^Given``); a bare name in free text cannot be told from other words, so the rule
stands.

The folder is ``platformdirs.user_log_dir("coloc-viewer")`` (for example
``~/.local/state/coloc-viewer/log`` on Linux, ``%LOCALAPPDATA%\\coloc-viewer\\Logs`` on
Windows, ``~/Library/Logs/coloc-viewer`` on macOS), or ``$COLOC_VIEWER_LOG_DIR``.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import platform
import re
import sys
from pathlib import Path

import platformdirs

__all__ = [
    "LOG_FILE_NAME",
    "PhiRedactionFilter",
    "configure_logging",
    "log_dir",
    "redact_phi",
]

LOG_FILE_NAME = "coloc-viewer.log"
REDACTED = "[REDACTED]"
_HANDLER_MARK = "_coloc_viewer_handler"

# Attribute names and descriptions of the identifying patient attributes (group 0010), plus
# Study ID and Accession Number, which sites often fill with patient identifiers (both are
# removed by the DICOM PS3.15 Basic Application Level Confidentiality Profile).
_KEYWORD = (
    r"(?:other[ _]?)?patient(?:'s|s)?[ _]?"
    r"(?:name|id|ids|names|birth[ _]?date|birth[ _]?name|address|telephone[ _]?numbers"
    r"|mother'?s?[ _]?birth[ _]?name)"
    r"|other[ _]?patient[ _]?(?:ids|names)"
    r"|birth[ _]?date|date[ _]of[ _]birth|\bdob\b|\bstudy[ _]?id\b|accession[ _]?number"
)
# Their tags: (0010,0010) name, (0010,0020) ID, (0010,0030) birth date, (0010,1000) other IDs,
# (0010,1001) other names, (0010,1005) birth name, (0010,1040) address,
# (0010,1060) mother's birth name, (0010,2154) telephone numbers; (0020,0010) Study ID,
# (0008,0050) Accession Number.
_ELEMENTS = r"(?:0010(?:0010|0020|0030|1000|1001|1005|1040|1060|2154)|00200010|00080050)"
_TAG = (
    r"(?:\(\s*(?:0010\s*,\s*(?:0010|0020|0030|1000|1001|1005|1040|1060|2154)"
    r"|0020\s*,\s*0010|0008\s*,\s*0050)\s*\)"
    rf"|\b(?:0x)?{_ELEMENTS}\b)"
)
# DICOM JSON model (or its dict repr): "00100010": {"vr": "PN", "Value": [...]}
_JSON_ELEMENT = re.compile(
    rf"(['\"]{_ELEMENTS}['\"]\s*:\s*)"
    r"\{\s*['\"]vr['\"]\s*:\s*['\"][A-Z]{2}['\"]\s*,\s*['\"]Value['\"]\s*:\s*\[[^\]]*\]\s*\}",
    re.IGNORECASE,
)
# key, separator (quotes, optional VR, ':' or '=' or a space before a quoted value), value.
_KEY_VALUE = re.compile(
    rf"((?:{_KEYWORD}|{_TAG})['\"]?\s*(?:\b[A-Z]{{2}}\b\s*)?(?:[:=]|(?=b?['\"]))"
    rf"(?!\s*{re.escape(REDACTED)})\s*)(b?'[^'\n]*'|b?\"[^\"\n]*\"|[^,;\n)}}\]]+)",
    re.IGNORECASE,
)
# A DICOM person name (family^given^middle^prefix^suffix) anywhere in the text.
_PERSON_NAME = re.compile(  # (the lookbehind anchors it at token starts: linear time)
    r"(?<![^\s'\"^,;:=(){}\[\]/\\])[^\s'\"^,;:=(){}\[\]/\\]+\^[^\s'\",;(){}\[\]/\\]*")


def redact_phi(text: str) -> str:
    """``text`` with anything that looks like a patient name, ID or birth date replaced."""
    text = _JSON_ELEMENT.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    text = _KEY_VALUE.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    return _PERSON_NAME.sub(REDACTED, text)


class PhiRedactionFilter(logging.Filter):
    """Redacts patient identifiers from a record's message, traceback and stack text."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_phi(message)
        if redacted != message or record.args:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_phi(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_phi(record.stack_info)
        return True


def log_dir() -> Path:
    """The folder the log file goes to (``$COLOC_VIEWER_LOG_DIR`` wins)."""
    env = os.environ.get("COLOC_VIEWER_LOG_DIR")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_log_dir("coloc-viewer", appauthor=False))


def _remove_previous(root: logging.Logger) -> None:
    for handler in list(root.handlers):
        if getattr(handler, _HANDLER_MARK, False):
            root.removeHandler(handler)
            handler.close()


#: libraries whose INFO log is kept out of ours (their warnings still come through):
#: highdicom wrote ~16 lines per DICOM SEG/SR sent, with source UIDs
QUIET_LIBRARIES = ("highdicom",)


def configure_logging(level: int = logging.INFO, *, max_bytes: int = 1_000_000,
                      backup_count: int = 5, console: bool = False) -> Path | None:
    """Log to a rotating file (``max_bytes`` each, ``backup_count`` old files kept).

    Safe to call again (the previous handlers are replaced). Returns the log file, or None
    when the folder cannot be written (the app still runs; a warning goes to stderr).
    """
    root = logging.getLogger()
    _remove_previous(root)
    root.setLevel(level)
    for name in QUIET_LIBRARIES:  # their INFO lines narrate every object (with its UIDs)
        library = logging.getLogger(name)
        if library.level == logging.NOTSET:
            library.setLevel(logging.WARNING)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handlers: list[logging.Handler] = []
    path: Path | None = log_dir() / LOG_FILE_NAME
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.handlers.RotatingFileHandler(
            path, maxBytes=max_bytes, backupCount=backup_count, encoding="utf-8"))
    except OSError as err:
        print(f"coloc-viewer: warning: no log file ({path.parent}: {err.strerror or err})",
              file=sys.stderr)
        path = None
    if console:
        handlers.append(logging.StreamHandler(sys.stderr))
    for handler in handlers:
        setattr(handler, _HANDLER_MARK, True)
        handler.setLevel(level)
        handler.setFormatter(fmt)
        handler.addFilter(PhiRedactionFilter())
        root.addHandler(handler)
    logging.captureWarnings(True)
    from coloc_viewer import __version__

    logging.getLogger("coloc_viewer").info(
        "coloc-viewer %s, Python %s, %s, %s", __version__, platform.python_version(),
        platform.platform(terse=True), "frozen bundle" if getattr(sys, "frozen", False)
        else "source/installed package")
    return path
