"""The packaged program: the PyInstaller bundle and the .deb pass the smoke test in a clean
environment (no PYTHONPATH, no venv on PATH, HOME in a temporary folder, no source tree).

Slow. With COLOC_VIEWER_PACKAGE_TESTS=1 (``make package`` sets it) it builds dist/coloc-viewer/
and the .deb with packaging/build_linux.sh unless they are fresh (newer than every source,
spec and resource file). Without it, it tests a fresh build if there is one and is skipped
otherwise, so ``make test`` never spends 20 minutes building. COLOC_VIEWER_BUNDLE /
COLOC_VIEWER_DEB name a bundle and package to test instead.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600),
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux bundle")]

ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "dist"
NAME = "coloc-viewer"
INPUTS = ("coloc_viewer", "packaging", "resources")
SMOKE_TIMEOUT_S = 900
TEST_ONLY = ("triton", "quantus", "captum", "torchcam", "pytorch_grad_cam", "sklearn",
             "nibabel", "pytest", "cv2", "dask")


def _newest_input() -> float:
    newest = 0.0
    for top in INPUTS:
        for path in (ROOT / top).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                newest = max(newest, path.stat().st_mtime)
    return newest


def _version() -> str:
    from coloc_viewer import __version__

    return __version__


def _deb_path() -> Path:
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                          check=True).stdout.strip()
    return DIST / f"{NAME}_{_version()}_{arch}.deb"


@pytest.fixture(scope="module")
def built() -> dict[str, Path]:
    """The bundle folder and the .deb: given, fresh, or built now."""
    bundle = Path(os.environ.get("COLOC_VIEWER_BUNDLE", DIST / NAME))
    deb = Path(os.environ.get("COLOC_VIEWER_DEB", _deb_path()))
    if "COLOC_VIEWER_BUNDLE" in os.environ:
        return {"bundle": bundle, "deb": deb}
    exe = bundle / NAME
    fresh = (exe.exists() and deb.exists()
             and min(exe.stat().st_mtime, deb.stat().st_mtime) > _newest_input())
    if not fresh:
        if os.environ.get("COLOC_VIEWER_PACKAGE_TESTS") != "1":
            pytest.skip("no fresh bundle: `make package` builds and tests it")
        try:
            import PyInstaller  # noqa: F401
        except ImportError:
            pytest.skip("PyInstaller is not installed; `make package` installs it and runs this")
        if shutil.which("dpkg-deb") is None:
            pytest.skip("dpkg-deb is missing")
        subprocess.run(["bash", str(ROOT / "packaging" / "build_linux.sh")], check=True,
                       env={**os.environ, "PYTHON": sys.executable})
    return {"bundle": bundle, "deb": deb}


@pytest.fixture(scope="module")
def unpacked_deb(built, tmp_path_factory):
    """The .deb unpacked once for the module (about 4.5 GB) and removed after it: three
    copies once filled the CI machine's disk. The tests only read and run it."""
    root = tmp_path_factory.mktemp("deb") / "root"
    subprocess.run(["dpkg-deb", "-x", str(built["deb"]), str(root)], check=True)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def clean_env(home: Path) -> dict[str, str]:
    """What a user's desktop session would give the program: no Python variables at all."""
    env = {"HOME": str(home), "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
           "USER": "clinician", "TMPDIR": str(home / "tmp")}
    (home / "tmp").mkdir(parents=True, exist_ok=True)
    return env


def run_smoke(program: Path, tmp: Path) -> tuple[subprocess.CompletedProcess, dict, Path]:
    home = tmp / "home"
    shot = tmp / "shots" / "smoke.png"
    proc = subprocess.run([str(program), "--smoke-test", "--screenshot", str(shot)],
                          cwd=tmp, env=clean_env(home), capture_output=True, text=True,
                          timeout=SMOKE_TIMEOUT_S)
    report_file = shot.parent / "smoke_test.json"
    report = json.loads(report_file.read_text()) if report_file.exists() else {}
    return proc, report, home


def _explain(proc: subprocess.CompletedProcess) -> str:
    return f"exit {proc.returncode}\nstdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}"


def test_bundle_passes_the_smoke_test_in_a_clean_environment(built, tmp_path):
    bundle = built["bundle"]
    proc, report, home = run_smoke(bundle / NAME, tmp_path)
    assert proc.returncode == 0, _explain(proc)
    assert "smoke-test: PASSED" in proc.stdout
    assert report["passed"] and report["failure"] is None
    facts = report["facts"]
    assert facts["frozen"] is True
    # resources and the interpreter come from the bundle, not from the source tree
    assert Path(facts["resources"]).resolve().is_relative_to(bundle.resolve())
    assert Path(facts["executable"]).resolve() == (bundle / NAME).resolve()
    assert facts["qt_platform"] == "offscreen"
    assert Path(report["screenshot"]).stat().st_size > 10_000
    # the log went to the user's XDG state folder under the (temporary) HOME
    log_file = home / ".local" / "state" / NAME / "log" / "coloc-viewer.log"
    assert Path(report["log_file"]) == log_file and log_file.stat().st_size > 0


def test_bundle_contents(built):
    internal = built["bundle"] / "_internal"
    names = {p.name for p in internal.iterdir()}
    assert not [m for m in TEST_ONLY if m in names], "test-only packages were bundled"
    plugins = internal / "PySide6" / "Qt" / "plugins" / "platforms"
    assert {"libqoffscreen.so", "libqxcb.so"} <= {p.name for p in plugins.iterdir()}
    for dist in ("pylibjpeg", "pylibjpeg_libjpeg", "pylibjpeg_openjpeg", "pylibjpeg_rle"):
        assert list(internal.glob(f"{dist}-*.dist-info/entry_points.txt")) or dist == "pylibjpeg"
    assert (internal / "resources" / "icons" / "coloc-viewer.png").is_file()


def test_bundle_runs_a_cli_subcommand(built, tmp_path):
    """``inspect`` on a pydicom test file: the CLI side of the bundle works too."""
    import pydicom

    src = Path(pydicom.__file__).parent / "data" / "test_files" / "MR_small.dcm"
    case = tmp_path / "MR_small.dcm"
    shutil.copy(src, case)
    exe = built["bundle"] / NAME
    version = subprocess.run([str(exe), "--version"], env=clean_env(tmp_path / "h"),
                             capture_output=True, text=True, timeout=300)
    assert version.returncode == 0 and _version() in version.stdout
    proc = subprocess.run([str(exe), "inspect", str(case), "--json"], cwd=tmp_path,
                          env=clean_env(tmp_path / "h"), capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, _explain(proc)
    found = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert found and found[0]["shape"] == [1, 64, 64]


def test_deb_metadata_and_files(built, unpacked_deb):
    deb = built["deb"]
    fields = subprocess.run(["dpkg-deb", "-f", str(deb), "Package", "Version", "Depends"],
                            capture_output=True, text=True, check=True).stdout
    assert f"Package: {NAME}" in fields and f"Version: {_version()}" in fields
    # every library the bundle takes from the system is declared (and none is missing)
    sys.path.insert(0, str(ROOT / "packaging" / "linux"))
    from system_deps import analyse

    found = analyse(built["bundle"])
    assert found["missing_from_bundle"] == []
    depends = fields.split("Depends:", 1)[1].strip()
    assert f"libc6 (>= {found['glibc']})" in depends
    for package in found["depends"]:
        assert package in depends
    listing = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True,
                             check=True).stdout
    assert "root/root" in listing and re.search(r"\./opt/coloc-viewer/coloc-viewer\n", listing)
    unreadable = [line for line in listing.splitlines() if line[7] != "r"]
    assert not unreadable, f"files other users cannot read: {unreadable[:3]}"
    root = unpacked_deb
    desktop = (root / "usr/share/applications/coloc-viewer.desktop").read_text()
    entry = dict(line.split("=", 1) for line in desktop.splitlines() if "=" in line)
    assert entry["Exec"].split()[0] == NAME and entry["Icon"] == NAME
    assert {"application/dicom", "image/x-nifti", "image/x-nifti-gz"} <= set(
        entry["MimeType"].strip(";").split(";"))
    mime = (root / "usr/share/mime/packages/coloc-viewer.xml").read_text()
    assert '<glob pattern="*.dcm"/>' in mime and '"*.nii.gz"' in mime
    assert (root / "usr/share/icons/hicolor/256x256/apps/coloc-viewer.png").is_file()
    assert os.access(root / "usr/bin" / NAME, os.X_OK)


def test_deb_installed_program_passes_the_smoke_test(unpacked_deb, tmp_path):
    root = unpacked_deb
    proc, report, _home = run_smoke(root / "usr" / "bin" / NAME, tmp_path)
    assert proc.returncode == 0, _explain(proc)
    assert report["passed"]
    assert Path(report["facts"]["resources"]).resolve().is_relative_to(
        (root / "opt" / NAME).resolve())


# Libraries Qt's xcb plugin cannot start without (Qt names them when they are missing).
XCB_DEPENDS = ("libxcb-cursor0", "libxcb-icccm4", "libxcb-keysyms1", "libxcb-image0",
               "libxcb-render-util0", "libxkbcommon-x11-0")


def test_deb_depends_on_the_window_libraries(built):
    depends = subprocess.run(["dpkg-deb", "-f", str(built["deb"]), "Depends"],
                             capture_output=True, text=True, check=True).stdout
    missing = [p for p in XCB_DEPENDS if p not in depends]
    assert not missing, f"Depends lacks {missing}: {depends}"


def test_deb_program_opens_its_window_in_a_real_x_session(unpacked_deb, tmp_path):
    """Issue 18: `usr/bin/coloc-viewer` from the unpacked .deb, started as the desktop entry
    starts it (no extra variables, a fresh HOME, DISPLAY of our own Xvfb): its window maps
    with the study in the title, shows the demo's overlay and scores, and keeps running."""
    from x11_session import assert_real_window, watch_launch, x_session

    root = unpacked_deb
    desktop = (root / "usr/share/applications/coloc-viewer.desktop").read_text()
    exec_line = next(line for line in desktop.splitlines() if line.startswith("Exec="))
    program = root / "usr" / "bin" / exec_line.split("=", 1)[1].split()[0]
    shot = ROOT / "artifacts" / "package_real_window.png"
    with x_session() as session:
        facts = watch_launch(session, [str(program)], tmp_path / "home", shot)
    (ROOT / "artifacts" / "package_real_window.json").write_text(
        json.dumps({k: v for k, v in facts.items() if k != "log"}, indent=2))
    assert_real_window(facts)


def test_bundle_talks_to_a_pacs(built, tmp_path):
    """The bundled CLI's PACS client: C-ECHO (pynetdicom) to a peer started here, and a
    QIDO-RS ping (dicomweb-client, requests) to a tiny DICOMweb answerer, once for a server
    with a user name, so the keyring is asked for its password inside the bundle too (no
    keyring service in this clean session: no password, no crash)."""
    import http.server
    import threading

    from pynetdicom import AE
    from pynetdicom.sop_class import Verification

    class Qido(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            body = b"[]"
            self.send_response(200)
            self.send_header("Content-Type", "application/dicom+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Qido)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    scp = AE(ae_title="BUNDLESCP")
    scp.add_supported_context(Verification)
    dimse = scp.start_server(("127.0.0.1", 0), block=False)
    url = f"http://127.0.0.1:{web.server_address[1]}/dicom-web"
    config = tmp_path / "config"
    config.mkdir()
    (config / "pacs_servers.json").write_text(json.dumps({"servers": [
        {"name": "with-user", "protocol": "dicomweb", "url": url, "username": "reader"}]}))
    env = {**clean_env(tmp_path / "h"), "COLOC_VIEWER_CONFIG_DIR": str(config)}
    exe = str(built["bundle"] / NAME)
    try:
        for server in (f"dicom://BUNDLESCP@127.0.0.1:{dimse.server_address[1]}", url,
                       "with-user"):
            proc = subprocess.run([exe, "pacs", "echo", "--server", server], cwd=tmp_path,
                                  env=env, capture_output=True, text=True, timeout=300)
            assert proc.returncode == 0 and "answers" in proc.stdout, _explain(proc)
            assert "Traceback" not in proc.stderr
    finally:
        dimse.shutdown()
        web.shutdown()
