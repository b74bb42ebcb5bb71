"""A real X session for tests that must see what only a real window shows: Xvfb on a free
display, xdotool to find windows, ImageMagick's ``import`` for screenshots.

``make test`` and ``make package`` install these where they may
(``tools/install_system_deps.sh window``); a test using them is skipped with the missing
program named otherwise.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

PROGRAMS = ("Xvfb", "xdotool", "import")
SCREEN = "1600x1000x24"


def require_x_tools() -> None:
    missing = [p for p in PROGRAMS if shutil.which(p) is None]
    if missing:
        pytest.skip(f"missing {', '.join(missing)}: tools/install_system_deps.sh window")


@dataclass
class XSession:
    display: str
    server: subprocess.Popen

    def env(self) -> dict[str, str]:
        return {"DISPLAY": self.display}

    def windows(self, name_pattern: str) -> list[str]:
        """Titles of the mapped windows whose name matches ``name_pattern`` (a regex)."""
        out = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", name_pattern,
                              "getwindowname", "%@"], capture_output=True, text=True,
                             env={**os.environ, "DISPLAY": self.display}, timeout=10)
        return [line for line in out.stdout.splitlines() if line.strip()]

    def wait_for_window(self, name_pattern: str, timeout_s: float) -> tuple[list[str], float]:
        """The matching titles and the seconds it took; empty titles after the timeout."""
        start = time.monotonic()
        while time.monotonic() - start < timeout_s:
            titles = self.windows(name_pattern)
            if titles:
                return titles, time.monotonic() - start
            time.sleep(0.25)
        return [], time.monotonic() - start

    def screenshot(self, path: Path) -> Path:
        """The whole screen as a PNG (what a person at this display sees)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["import", "-display", self.display, "-window", "root", str(path)],
                       check=True, timeout=30, capture_output=True)
        return path


@contextmanager
def x_session() -> Iterator[XSession]:
    """Xvfb on the first free display (``-displayfd``), stopped afterwards."""
    require_x_tools()
    read_fd, write_fd = os.pipe()
    # -noreset: a desktop always has a session client; without one the server resets each
    # time its last client (xdotool's polling) disconnects, and a program connecting during
    # the reset is refused
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", SCREEN,
                               "-nolisten", "tcp", "-noreset"], pass_fds=(write_fd,),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_fd)
    try:
        with os.fdopen(read_fd) as pipe:
            number = pipe.readline().strip()
        if not number:
            pytest.fail("Xvfb did not start")
        yield XSession(f":{number}", server)
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()


def screen_colours(png: Path) -> dict[str, float]:
    """Simple facts about a screenshot: how many colours, and the share of warm overlay
    pixels (the inferno/hot colour maps' orange and yellow) on it."""
    import numpy as np
    from PIL import Image

    rgb = np.asarray(Image.open(png).convert("RGB")).astype(int)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    warm = (r > 180) & (g > 60) & (b < 120) & (r - b > 100)
    flat = rgb.reshape(-1, 3)
    colours = np.unique(flat[:, 0] * 65536 + flat[:, 1] * 256 + flat[:, 2]).size
    return {"colours": float(colours), "warm_share": float(warm.mean())}


def desktop_env(home: Path, display: str) -> dict[str, str]:
    """What a desktop session gives a program started from its menu entry: no Python or Qt
    variables, a fresh HOME, the display."""
    home.mkdir(parents=True, exist_ok=True)
    return {"HOME": str(home), "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
            "USER": "clinician", "DISPLAY": display}


def watch_launch(session: XSession, command: list[str], home: Path, shot: Path,
                 title_pattern: str = "coloc_viewer", study_pattern: str = "case-01",
                 window_timeout_s: float = 30,
                 alive_s: float = 20, analysis_timeout_s: float = 240) -> dict[str, object]:
    """Start ``command`` as a desktop entry does and watch it as a user would: the seconds
    until its window maps, its title, whether it still runs after ``alive_s``, the log's
    lines, a screenshot once the demo's analysis is shown, and what it printed."""
    log_file = home / ".local" / "state" / "coloc-viewer" / "log" / "coloc-viewer.log"
    start = time.monotonic()
    proc = subprocess.Popen(command, env=desktop_env(home, session.display), cwd=home,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    facts: dict[str, object] = {}
    try:
        titles, seconds = session.wait_for_window(title_pattern, window_timeout_s)
        facts["window_seconds"] = round(seconds, 2)
        if titles and study_pattern:
            left = window_timeout_s - (time.monotonic() - start)
            titles, _ = session.wait_for_window(f"{study_pattern}.*{title_pattern}", left)
            facts["study_title_seconds"] = round(time.monotonic() - start, 2) if titles else None
        facts["titles"] = titles
        time.sleep(max(0.0, alive_s - (time.monotonic() - start)))
        facts["alive_after_s"] = round(time.monotonic() - start, 1)
        facts["alive"] = proc.poll() is None
        deadline = time.monotonic() + analysis_timeout_s
        shown = False
        while facts["alive"] and time.monotonic() < deadline and not shown:
            text = log_file.read_text() if log_file.exists() else ""
            shown = "analysis shown:" in text
            if " ERROR " in text:
                break
            time.sleep(0.5)
        facts["analysis_seconds"] = round(time.monotonic() - start, 1) if shown else None
        time.sleep(1.0)  # let the score table and overlay paint
        facts["screenshot"] = str(session.screenshot(shot)) if proc.poll() is None else None
    finally:
        proc.terminate()
        try:
            out, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    facts["output"] = out
    facts["log"] = log_file.read_text() if log_file.exists() else ""
    return facts


def assert_real_window(facts: dict[str, object], study_word: str = "case-01") -> None:
    """The checks of issue 18: the window maps within 30 s with the study in its title, the
    program keeps running, no offscreen fallback, and the demo's overlay and scores show."""
    detail = f"facts: { {k: v for k, v in facts.items() if k != 'log'} }\nlog:\n{facts['log']}"
    titles = facts["titles"]
    assert titles, f"no window titled coloc_viewer mapped within 30 s\n{detail}"
    assert any(study_word in t and "coloc_viewer" in t for t in titles), detail
    assert facts["alive"], f"the program exited before {facts['alive_after_s']} s\n{detail}"
    assert "offscreen" not in str(facts["output"]), detail
    assert "no usable display" not in str(facts["output"]), detail
    assert "window on the Qt xcb platform" in str(facts["log"]), detail
    assert facts["analysis_seconds"] is not None, f"the demo's analysis never showed\n{detail}"
    seen = screen_colours(Path(str(facts["screenshot"])))
    assert seen["colours"] > 2000, f"the screen looks blank: {seen}"
    assert seen["warm_share"] > 0.002, f"no overlay colours on the screen: {seen}"
