#!/usr/bin/env bash
# Build the Linux bundle dist/coloc-viewer/ (PyInstaller, one folder) and the Debian package
# dist/coloc-viewer_<version>_<arch>.deb from it. Run from anywhere; see docs/packaging.md.
#
#   packaging/build_linux.sh [--skip-bundle] [--skip-deb]
#
# Environment: PYTHON (default .venv/bin/python, with pyinstaller installed), DIST_DIR
# (default dist), WORK_DIR (default build/pyinstaller), DEB_COMPRESSION (zstd|gzip|xz|none;
# default zstd: 7x faster than gzip here and smaller, and every system the bundle runs on
# (glibc >= 2.34) has a dpkg that reads it; docs/packaging.md has the figures), DEB_LEVEL,
# PYI_CLEAN=0 (reuse PyInstaller's cache). Prints times and sizes as one JSON line at the end.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
PY=${PYTHON:-$ROOT/.venv/bin/python}
DIST=${DIST_DIR:-$ROOT/dist}
WORK=${WORK_DIR:-$ROOT/build/pyinstaller}
COMPRESS=${DEB_COMPRESSION:-zstd}
case "$COMPRESS" in
    gzip) LEVEL=${DEB_LEVEL:-6} ;;
    xz) LEVEL=${DEB_LEVEL:-6} ;;
    zstd) LEVEL=${DEB_LEVEL:-3} ;;
    none) LEVEL=0 ;;
    *) echo "DEB_COMPRESSION must be gzip, xz, zstd or none" >&2; exit 2 ;;
esac
BUILD_BUNDLE=1
BUILD_DEB=1
for arg in "$@"; do
    case "$arg" in
        --skip-bundle) BUILD_BUNDLE=0 ;;
        --skip-deb) BUILD_DEB=0 ;;
        *) echo "usage: $0 [--skip-bundle] [--skip-deb]" >&2; exit 2 ;;
    esac
done

NAME=coloc-viewer
VERSION=$("$PY" -c 'import coloc_viewer; print(coloc_viewer.__version__)')
ARCH=$(dpkg --print-architecture 2>/dev/null || echo amd64)
BUNDLE=$DIST/$NAME
DEB=$DIST/${NAME}_${VERSION}_${ARCH}.deb
now() { date +%s.%N; }
secs() { python3 -c "print(round($2 - $1, 1))"; }

bundle_s=0
if [ "$BUILD_BUNDLE" = 1 ]; then
    echo "== PyInstaller bundle -> $BUNDLE"
    "$PY" -c 'import PyInstaller' 2>/dev/null || {
        echo "PyInstaller is missing: $PY -m pip install pyinstaller" >&2; exit 2; }
    [ -f resources/icons/coloc-viewer.png ] || "$PY" packaging/make_icon.py
    t0=$(now)
    clean=--clean
    [ "${PYI_CLEAN:-1}" = 0 ] && clean=  # reuse PyInstaller's cache (quick rebuilds)
    "$PY" -m PyInstaller --noconfirm $clean --log-level WARN \
        --distpath "$DIST" --workpath "$WORK" packaging/coloc_viewer.spec
    bundle_s=$(secs "$t0" "$(now)")
fi
[ -x "$BUNDLE/$NAME" ] || { echo "no bundle at $BUNDLE" >&2; exit 1; }

deb_s=0
if [ "$BUILD_DEB" = 1 ]; then
    echo "== Debian package -> $DEB ($COMPRESS)"
    t0=$(now)
    STAGE=$WORK/deb/$NAME
    rm -rf "$STAGE"
    mkdir -p "$STAGE/DEBIAN" "$STAGE/opt" "$STAGE/usr/bin" "$STAGE/usr/share/applications" \
        "$STAGE/usr/share/mime/packages" "$STAGE/usr/share/doc/$NAME"
    # hard links when the build folder and dist share a file system (no 5 GB copy)
    cp -al "$BUNDLE" "$STAGE/opt/$NAME" 2>/dev/null || cp -a "$BUNDLE" "$STAGE/opt/$NAME"
    install -m 755 packaging/linux/coloc-viewer.sh "$STAGE/usr/bin/$NAME"
    install -m 644 packaging/linux/coloc-viewer.desktop "$STAGE/usr/share/applications/$NAME.desktop"
    install -m 644 packaging/linux/coloc-viewer-mime.xml "$STAGE/usr/share/mime/packages/$NAME.xml"
    for size in 16 24 32 48 64 128 256 512; do
        dir=$STAGE/usr/share/icons/hicolor/${size}x${size}/apps
        mkdir -p "$dir"
        install -m 644 "resources/icons/$NAME-$size.png" "$dir/$NAME.png"
    done
    install -m 644 packaging/linux/copyright "$STAGE/usr/share/doc/$NAME/copyright"
    install -m 755 packaging/linux/postinst packaging/linux/postrm "$STAGE/DEBIAN/"
    # files are installed as root: everyone must be able to read them (a model file written
    # with mode 600 would otherwise be unreadable for the clinician's account). Hard links
    # share modes with dist/, so this fixes the bundle too.
    chmod -R u+rwX,go+rX,go-w "$STAGE"
    installed_kb=$(du -sk --apparent-size "$STAGE" | cut -f1)
    # Depends/Recommends/Suggests: the libraries the bundle takes from the system (ldd)
    echo "   scanning the bundle's system libraries"
    "$PY" packaging/linux/system_deps.py "$BUNDLE" > "$WORK/relations.txt"
    python3 - "$WORK/relations.txt" "$STAGE/DEBIAN/control" "$VERSION" "$ARCH" "$installed_kb" <<'PYEOF'
import sys
relations, out, version, arch, size = sys.argv[1:]
text = open("packaging/linux/control.in").read()
text = text.replace("@VERSION@", version).replace("@ARCH@", arch)
text = text.replace("@INSTALLED_SIZE@", size)
text = text.replace("@RELATIONS@", open(relations).read().strip())
open(out, "w").write(text)
PYEOF
    # written under another name and renamed when complete: a build that fails (a full disk)
    # leaves no truncated .deb that a later run could take for a fresh one
    rm -f "$DEB" "$DEB.part"
    if [ "$COMPRESS" = none ]; then
        dpkg-deb --build --root-owner-group -Znone "$STAGE" "$DEB.part" >/dev/null
    else
        dpkg-deb --build --root-owner-group "-Z$COMPRESS" "-z$LEVEL" "$STAGE" "$DEB.part" \
            >/dev/null
    fi
    mv -f "$DEB.part" "$DEB"
    rm -rf "$STAGE"  # hard links into dist/ (a full copy where they could not be made)
    deb_s=$(secs "$t0" "$(now)")
fi

bundle_mb=$(du -sm "$BUNDLE" | cut -f1)
deb_mb=0
[ -f "$DEB" ] && deb_mb=$(python3 -c "import os; print(round(os.path.getsize('$DEB') / 2**20))")
echo "bundle: $BUNDLE ($bundle_mb MB)"
[ -f "$DEB" ] && echo "deb:    $DEB ($deb_mb MB)"
printf '{"bundle": "%s", "bundle_mb": %s, "bundle_seconds": %s, "deb": "%s", "deb_mb": %s, "deb_seconds": %s, "deb_compression": "%s"}\n' \
    "$BUNDLE" "$bundle_mb" "$bundle_s" "$DEB" "$deb_mb" "$deb_s" "$COMPRESS"
