"""Can Qt show a window here? A probe that never re-executes the program.

The old probe started ``sys.executable -c ...``; in a frozen bundle ``sys.executable`` is
the bundle itself, which rejected ``-c`` and made every installed copy fall back to an
offscreen render. This probe runs in the calling process and decides in milliseconds:

1. ``QT_QPA_PLATFORM`` forced to ``offscreen``/``minimal``: no window, on purpose;
2. no ``DISPLAY`` and no ``WAYLAND_DISPLAY``: nothing to connect to;
3. X11: the libraries that Qt's ``xcb`` platform plugin needs are all found (``ldd`` on
   the plugin, the way the dynamic loader will resolve them for this process). A missing
   one is named with the Debian/Ubuntu package that provides it;
4. X11: the display answers (``xcb_connect`` through ctypes, in a thread with a deadline,
   so a dead remote display cannot hang the start).

What it cannot foresee (a plugin that loads and then fails) is caught by starting Qt with a
fallback list (:func:`platform_request`) and reading the platform Qt actually chose.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

OFFSCREEN = ("offscreen", "minimal")
PROBE_TIMEOUT_S = 2.0
# Libraries Qt's xcb plugin loads, and the Debian/Ubuntu packages that ship them.
XCB_PACKAGES = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-xinerama.so.0": "libxcb-xinerama0",
    "libxcb-xinput.so.0": "libxcb-xinput0",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-glx.so.0": "libxcb-glx0",
    "libxcb.so.1": "libxcb1",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libSM.so.6": "libsm6",
    "libICE.so.6": "libice6",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libOpenGL.so.0": "libopengl0",
    "libGLX.so.0": "libglx0",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libdbus-1.so.3": "libdbus-1-3",
    "libglib-2.0.so.0": "libglib2.0-0",
}
#: What a bare Debian/Ubuntu workstation installs for the window when running from source.
WINDOW_PACKAGES = ("libxcb-cursor0", "libxcb-icccm4", "libxcb-keysyms1", "libxcb-image0",
                   "libxcb-render-util0", "libxkbcommon-x11-0", "libxcb-xkb1", "libxcb-randr0",
                   "libxcb-shape0", "libxcb-xinerama0", "libegl1", "libgl1", "libfontconfig1",
                   "libdbus-1-3")
_LDD_MISSING = re.compile(r"^\s*(\S+)\s+=>\s+not found", re.MULTILINE)


def debian_package(soname: str) -> str:
    """The Debian/Ubuntu package that ships ``soname`` (table, else the naming rule)."""
    if soname in XCB_PACKAGES:
        return XCB_PACKAGES[soname]
    m = re.match(r"^(lib.+?)\.so\.(\d+)", soname)
    if not m:
        return soname
    name, version = m.group(1).lower().replace("_", "-"), m.group(2)
    return f"{name}{'-' if name[-1].isdigit() else ''}{version}"


def platform_plugin(name: str = "xcb") -> Path | None:
    """The file of Qt's platform plugin ``name`` (``libq<name>.so``), if installed."""
    try:
        from PySide6.QtCore import QLibraryInfo
    except ImportError:
        return None
    folder = Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath)) / "platforms"
    path = folder / f"libq{name}.so"
    return path if path.is_file() else None


def missing_libraries(plugin: Path | None) -> list[str]:
    """Shared libraries ``plugin`` needs that the loader cannot find (``ldd``), sorted."""
    ldd = shutil.which("ldd")
    if plugin is None or ldd is None:
        return []
    try:
        out = subprocess.run([ldd, str(plugin)], capture_output=True, text=True,
                             timeout=PROBE_TIMEOUT_S).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    return sorted(set(_LDD_MISSING.findall(out)))


def missing_libraries_message(missing: list[str], plugin: str = "xcb") -> str:
    """One sentence naming the missing libraries and the packages that provide them."""
    packages = sorted({debian_package(s) for s in missing})
    return (f"Qt's {plugin} platform plugin cannot load: missing {', '.join(missing)} "
            f"(Debian/Ubuntu: sudo apt install {' '.join(packages)})")


_HELD: dict[str, int] = {}  # display -> the probe's open xcb connection


def _xcb_connect(display: str) -> str | None:
    """None when the X server at ``display`` accepts a connection, else why not."""
    name = ctypes.util.find_library("xcb") or "libxcb.so.1"
    try:
        xcb = ctypes.CDLL(name)
    except OSError:
        return missing_libraries_message(["libxcb.so.1"])
    xcb.xcb_connect.restype = ctypes.c_void_p
    xcb.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
    xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
    conn = xcb.xcb_connect(display.encode(), None)
    error = xcb.xcb_connection_has_error(conn) if conn else -1
    if error != 0:
        if conn:
            xcb.xcb_disconnect(conn)
        return f"the X display {display} refused the connection"
    # Keep the connection until the process ends: an X server with no other client (a bare
    # Xvfb or xinit kiosk) resets when its last client disconnects, and Qt connecting
    # during that reset fails ("could not connect to display").
    previous = _HELD.pop(display, None)
    if previous is not None:
        xcb.xcb_disconnect(previous)
    _HELD[display] = conn
    return None


def x_display_reason(display: str, timeout_s: float = PROBE_TIMEOUT_S) -> str | None:
    """:func:`_xcb_connect` with a deadline (a remote display may never answer)."""
    result: list[str | None] = []
    thread = threading.Thread(target=lambda: result.append(_xcb_connect(display)),
                              name="display-probe", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if not result:
        return f"the X display {display} did not answer within {timeout_s:.0f} s"
    return result[0]


def _wayland_reason(name: str) -> str | None:
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    socket = Path(name) if os.path.isabs(name) else Path(runtime) / name
    return None if socket.exists() else f"the Wayland socket {socket} does not exist"


def no_display_reason() -> str | None:
    """Why Qt cannot show a window here, or None when a screen is usable."""
    forced = os.environ.get("QT_QPA_PLATFORM", "")
    first = forced.split(";")[0].split(":")[0]
    if first in OFFSCREEN:
        return f"QT_QPA_PLATFORM={forced}"
    if not sys.platform.startswith("linux") or (forced and first not in ("xcb", "wayland")):
        return None
    display, wayland = os.environ.get("DISPLAY"), os.environ.get("WAYLAND_DISPLAY")
    if not (display or wayland):
        return "no DISPLAY or WAYLAND_DISPLAY is set"
    if wayland and first != "xcb" and _wayland_reason(wayland) is None:
        return None
    if not display:
        return _wayland_reason(str(wayland))
    missing = missing_libraries(platform_plugin("xcb"))
    if missing:
        return missing_libraries_message(missing)
    return x_display_reason(display)


def platform_request() -> str:
    """The ``QT_QPA_PLATFORM`` value for a window: the user's choice, else the usual
    plugin with ``offscreen`` as Qt's own fallback, so a plugin that still fails to start
    never aborts the program (Qt tries the ``;``-separated names in order)."""
    forced = os.environ.get("QT_QPA_PLATFORM", "")
    if forced:
        return forced
    if not sys.platform.startswith("linux"):
        return ""
    wayland = os.environ.get("WAYLAND_DISPLAY")
    if wayland and _wayland_reason(wayland) is None:
        return "wayland;xcb;offscreen" if os.environ.get("DISPLAY") else "wayland;offscreen"
    return "xcb;offscreen"
