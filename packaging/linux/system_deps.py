"""What a PyInstaller bundle still takes from the system: the Debian dependencies of the .deb.

PyInstaller copies most shared libraries into the bundle but deliberately leaves out the
ones that must match the machine (glibc, libGL/libEGL, libxcb, ...). This script runs
``ldd`` on every shared library of the bundle (with the bundle's folders first on the
search path), keeps the libraries found outside the bundle or not at all, and maps them to
Debian packages (``dpkg -S`` where the library is installed, else the Debian naming rule
``libfoo.so.N`` -> ``libfooN``). It also finds the newest ``GLIBC_x.y`` symbol version the
bundle uses, the glibc a workstation needs.

    python3 packaging/linux/system_deps.py dist/coloc-viewer [--json]

Libraries needed only by optional parts (the Wayland and GTK platform plugins, CUDA) become
Recommends/Suggests instead of Depends.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

# Parts of the bundle the program runs without (other platform plugins, GPU code paths).
OPTIONAL = re.compile(r"plugins/(platformthemes|wayland|egldeviceintegrations|platforms/libq"
                      r"(wayland|eglfs|vnc|linuxfb|minimalegl|vkkhrdisplay))|libQt6(Wayland|Wl|EglFs)"
                      r"|/nvidia/|cuda|cudnn|nccl|cusparse|cublas|nvrtc|nvjpeg|image_stable")
# Provided by the NVIDIA driver, never by a package the bundle can depend on by name.
DRIVER = {"libcuda.so.1", "libnvidia-ml.so.1"}
# glibc's own libraries: covered by the libc6 version dependency.
GLIBC_LIBS = {"libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1",
              "libutil.so.1", "libresolv.so.2", "ld-linux-x86-64.so.2", "libanl.so.1",
              "ld-linux-aarch64.so.1", "linux-vdso.so.1"}
# Not installed on the build machine, and not named by the libfoo.so.N -> libfooN rule.
KNOWN_PACKAGES = {"libgdk-3.so.0": "libgtk-3-0", "libgtk-3.so.0": "libgtk-3-0",
                  "libGLX.so.0": "libglx0", "libGLdispatch.so.0": "libglvnd0"}
# What Qt's xcb platform plugin needs at run time (Qt names them when they are missing):
# always declared, also when the build host had them and PyInstaller copied them into the
# bundle, so a workstation's window never depends on what the build machine happened to have.
WINDOW_DEPENDS = ("libxcb-cursor0", "libxcb-icccm4", "libxcb-keysyms1", "libxcb-image0",
                  "libxcb-render-util0", "libxkbcommon-x11-0", "libxcb-xkb1", "libxcb-randr0",
                  "libxcb-shape0", "libxcb-shm0", "libxcb-sync1", "libxcb-xfixes0",
                  "libx11-xcb1", "libfontconfig1")
# Wheel-vendored libraries (auditwheel renames them with a hash): must be in the bundle.
VENDORED = re.compile(r"[.-][0-9a-f]{8}\.so")
LDD_LINE = re.compile(r"^\s*(\S+)\s+=>\s+(not found|\S+)")
GLIBC_VERSION = re.compile(rb"GLIBC_(\d+)\.(\d+)")


def shared_objects(bundle: Path) -> list[Path]:
    exe = [p for p in bundle.iterdir() if p.is_file() and os.access(p, os.X_OK)]
    return exe + sorted(p for p in bundle.rglob("*.so*") if p.is_file() and not p.is_symlink())


def ldd(path: Path, search: str) -> list[tuple[str, str | None]]:
    env = {**os.environ, "LD_LIBRARY_PATH": search}
    out = subprocess.run(["ldd", str(path)], capture_output=True, text=True, env=env).stdout
    found = []
    for line in out.splitlines():
        m = LDD_LINE.match(line)
        if m:
            found.append((m.group(1), None if m.group(2) == "not found" else m.group(2)))
    return found


def debian_package(soname: str, resolved: str | None) -> str:
    """The package that ships ``soname``: dpkg's answer, else the naming convention."""
    if resolved:
        for candidate in {resolved, os.path.realpath(resolved)}:
            out = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
            if out.returncode == 0 and ":" in out.stdout:
                return out.stdout.split(":")[0].strip()
    if soname in KNOWN_PACKAGES:
        return KNOWN_PACKAGES[soname]
    m = re.match(r"^(lib.+?)\.so\.(\d+)", soname)
    if not m:
        return soname
    name, version = m.group(1).lower().replace("_", "-"), m.group(2)
    return f"{name}{'-' if name[-1].isdigit() else ''}{version}"


def newest_glibc(files: list[Path]) -> tuple[int, int]:
    """The newest GLIBC_x.y symbol version any of ``files`` requires (readelf -V)."""
    newest = (2, 17)
    for path in files:
        out = subprocess.run(["readelf", "-V", "--wide", str(path)], capture_output=True)
        for major, minor in GLIBC_VERSION.findall(out.stdout):
            newest = max(newest, (int(major), int(minor)))
    return newest


def analyse(bundle: Path) -> dict[str, object]:
    bundle = bundle.resolve()
    files = shared_objects(bundle)
    search = ":".join(sorted({str(p.parent) for p in files}))
    needed: dict[str, dict[str, object]] = {}
    for path in files:
        rel = str(path.relative_to(bundle))
        for soname, resolved in ldd(path, search):
            if soname in GLIBC_LIBS or (resolved and resolved.startswith(str(bundle))):
                continue
            entry = needed.setdefault(soname, {"resolved": resolved, "required_by": []})
            entry["required_by"].append(rel)
    depends, recommends, suggests = set(), set(), set()
    missing = sorted(s for s, e in needed.items() if VENDORED.search(s) and not e["resolved"])
    for soname, entry in needed.items():
        users = entry["required_by"]
        if soname in missing:
            continue
        if soname in DRIVER:
            suggests.add("nvidia-driver | nvidia-driver-libs")
            continue
        package = debian_package(soname, entry["resolved"])  # type: ignore[arg-type]
        entry["package"] = package
        if all(OPTIONAL.search(u) for u in users):
            recommends.add(package)
        else:
            depends.add(package)
    depends.update(WINDOW_DEPENDS)
    major, minor = newest_glibc(files)
    glibc = f"{major}.{minor}"
    return {"glibc": glibc, "depends": [f"libc6 (>= {glibc})", *sorted(depends)],
            "recommends": sorted(recommends - depends), "suggests": sorted(suggests),
            "missing_from_bundle": missing, "libraries": needed}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--json", action="store_true", help="everything, as JSON")
    args = parser.parse_args(argv)
    result = analyse(args.bundle)
    if result["missing_from_bundle"]:
        print("error: wheel-vendored libraries missing from the bundle: "
              + ", ".join(result["missing_from_bundle"]), file=sys.stderr)  # type: ignore[arg-type]
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print("Depends: " + ", ".join(result["depends"]))  # type: ignore[arg-type]
        if result["recommends"]:
            print("Recommends: " + ", ".join(result["recommends"]))  # type: ignore[arg-type]
        if result["suggests"]:
            print("Suggests: " + ", ".join(result["suggests"]))  # type: ignore[arg-type]
    return 1 if result["missing_from_bundle"] else 0


if __name__ == "__main__":
    sys.exit(main())
