"""Where a card's weights may come from (DESIGN §6, issue 14 item 4).

``weights`` is resolved (symlinks first) and must land inside the card's folder, the
bundled models folder, or a folder listed in ``$COLOC_VIEWER_MODELS_PATH``
(``os.pathsep``-separated), and must be a regular file. Nothing outside is opened, so
``/etc/passwd``, ``../`` escapes, symlinks pointing out and ``/proc/self/environ`` are
refused before a byte is read.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from coloc_viewer.errors import ModelError
from coloc_viewer.resources import models_dir

ENV_MODELS_PATH = "COLOC_VIEWER_MODELS_PATH"
#: Pseudo file systems never read as weights, even inside a configured folder.
_PSEUDO_ROOTS = (Path("/proc"), Path("/sys"), Path("/dev"))


def configured_model_folders() -> list[Path]:
    """Folders the user configured for models: ``$COLOC_VIEWER_MODELS_PATH`` entries
    (absolute ones only) plus the bundled models folder, resolved."""
    folders = [models_dir()]
    for entry in os.environ.get(ENV_MODELS_PATH, "").split(os.pathsep):
        if entry.strip() and os.path.isabs(entry.strip()):
            folders.append(Path(entry.strip()))
    out: list[Path] = []
    for folder in folders:
        try:
            resolved = folder.resolve()
        except (OSError, RuntimeError):
            continue
        if resolved not in out:
            out.append(resolved)
    return out


def _card_folders(card_path: str | os.PathLike[str] | None) -> list[Path]:
    if card_path is None:
        return [Path.cwd().resolve()]
    card = Path(card_path).absolute()
    folders = [card.parent.resolve()]
    try:
        real = card.resolve().parent
    except (OSError, RuntimeError):
        real = folders[0]
    return folders if real in folders else [*folders, real]


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def allowed_folders(card_path: str | os.PathLike[str] | None) -> list[Path]:
    """Every folder a card at ``card_path`` may take its weights from."""
    out = _card_folders(card_path)
    out += [f for f in configured_model_folders() if f not in out]
    return [f for f in out if not any(_inside(f, p) for p in _PSEUDO_ROOTS) and f != Path("/")]


def resolve_weights(weights: str, card_path: str | os.PathLike[str] | None) -> Path:
    """The card's weights file, resolved and checked; ``ModelError`` naming the file if it
    escapes the allowed folders, does not exist, or is not a regular file."""
    if not isinstance(weights, str) or not weights.strip() or "\x00" in weights:
        raise ModelError("the card's weights must name a file", card_path)
    base = _card_folders(card_path)[0]
    raw = Path(os.path.expanduser(weights))
    target = raw if raw.is_absolute() else base / raw
    try:
        resolved = target.resolve(strict=False)
    except (OSError, RuntimeError) as err:  # a symlink loop
        raise ModelError(f"weights path cannot be resolved ({err})", target) from None
    folders = allowed_folders(card_path)
    if any(_inside(resolved, p) for p in _PSEUDO_ROOTS) or \
            not any(_inside(resolved, f) for f in folders):
        raise ModelError(
            "refused: the weights file must be inside the card's folder or a configured "
            f"models folder (${ENV_MODELS_PATH}), and {resolved} is not", target)
    try:
        st = resolved.stat()
    except FileNotFoundError:
        raise ModelError("weights file not found", target) from None
    except OSError as err:
        raise ModelError(f"weights file cannot be read ({err.strerror or err})",
                         target) from None
    if not stat.S_ISREG(st.st_mode):
        raise ModelError("weights must be a regular file (not a folder, device or pipe)",
                         target)
    return resolved
