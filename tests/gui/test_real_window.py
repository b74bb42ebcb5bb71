"""The viewer in a real X session (Xvfb), started as ``make run`` starts it: what offscreen
tests cannot see. Also the in-process display probe that replaced the re-executing one."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from x11_session import assert_real_window, desktop_env, watch_launch, x_session

from coloc_viewer.gui import display_probe

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not sys.platform.startswith("linux"),
                                                   reason="X11 session")]
PROGRAM = Path(sys.executable).parent / "coloc-viewer"


def test_make_run_opens_the_demo_in_a_real_window(tmp_path, artifacts_dir):
    """`make run` is `.venv/bin/coloc-viewer` without arguments: the window maps, shows the
    demo's overlay and score table, and keeps running."""
    with x_session() as session:
        facts = watch_launch(session, [str(PROGRAM)], tmp_path / "home",
                             artifacts_dir / "gui_real_window_make_run.png")
    assert_real_window(facts)
    (artifacts_dir / "gui_real_window_make_run.json").write_text(
        json.dumps({k: v for k, v in facts.items() if k != "log"}, indent=2))


def test_probe_accepts_a_live_display_quickly():
    with x_session() as session:
        import time

        start = time.perf_counter()
        assert display_probe.x_display_reason(session.display) is None
        assert time.perf_counter() - start < 2.0


def test_probe_names_a_display_that_does_not_exist():
    reason = display_probe.x_display_reason(":4242")
    assert reason is not None and ":4242" in reason


def test_probe_reason_without_any_display(monkeypatch):
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert display_probe.no_display_reason() == "no DISPLAY or WAYLAND_DISPLAY is set"
    monkeypatch.setenv("DISPLAY", ":4242")
    assert ":4242" in display_probe.no_display_reason()


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc to build a plugin stand-in")
def test_missing_plugin_libraries_are_named_with_their_packages(tmp_path):
    """A plugin linked against a library that is not there (built here, then the library
    removed): ldd reports it and the message names the library and its Debian package."""
    (tmp_path / "dep.c").write_text("int dep(void) { return 1; }\n")
    (tmp_path / "plug.c").write_text("int dep(void); int plug(void) { return dep(); }\n")
    lib = tmp_path / "libcolocprobe-x11.so.7"  # a name no system has
    subprocess.run(["gcc", "-shared", "-fPIC", "-Wl,-soname,libcolocprobe-x11.so.7", "-o",
                    str(lib), str(tmp_path / "dep.c")], check=True)
    plugin = tmp_path / "libqxcb.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(plugin), str(tmp_path / "plug.c"),
                    str(lib)], check=True)
    lib.unlink()
    missing = display_probe.missing_libraries(plugin)
    assert missing == ["libcolocprobe-x11.so.7"]
    message = display_probe.missing_libraries_message(missing + ["libxcb-cursor.so.0"])
    assert "missing libcolocprobe-x11.so.7, libxcb-cursor.so.0" in message
    assert "sudo apt install libcolocprobe-x11-7 libxcb-cursor0" in message


def test_package_names_follow_debian_rules():
    assert display_probe.debian_package("libxkbcommon-x11.so.0") == "libxkbcommon-x11-0"
    assert display_probe.debian_package("libxcb-icccm.so.4") == "libxcb-icccm4"
    assert display_probe.debian_package("libfoo2.so.7") == "libfoo2-7"
    assert set(display_probe.WINDOW_PACKAGES) <= set(display_probe.XCB_PACKAGES.values())


def test_smoke_test_window_mode_runs_in_a_real_window(tmp_path):
    """``--smoke-test --window``: the same checks, on the display's own platform plugin."""
    with x_session() as session:
        env = desktop_env(tmp_path / "home", session.display)
        shot = tmp_path / "smoke.png"
        proc = subprocess.run([str(PROGRAM), "--smoke-test", "--window", "--screenshot",
                               str(shot)], env=env, capture_output=True, text=True,
                              timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "main window in a real window" in proc.stdout
    report = json.loads((shot.parent / "smoke_test.json").read_text())
    assert report["passed"] and report["facts"]["qt_platform"] == "xcb"


def test_smoke_test_window_mode_fails_clearly_without_a_display(tmp_path):
    env = desktop_env(tmp_path / "home", ":4242")
    proc = subprocess.run([str(PROGRAM), "--smoke-test", "--window"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    assert "--window needs a usable display" in proc.stderr and ":4242" in proc.stderr
