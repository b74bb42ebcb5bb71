#!/usr/bin/env bash
# Build dist/coloc-viewer.app and dist/coloc-viewer-<version>-macos-<arch>.dmg on a Mac.
# (It cannot run on Linux; see docs/packaging.md.)
#
#   packaging/macos/build_macos.sh
#
# Needs: macOS 11+, Xcode command line tools (codesign, hdiutil, xcrun), the project venv
# with pyinstaller (python3.11 -m venv .venv && .venv/bin/pip install -e . pyinstaller).
# PyTorch wheels for macOS are CPU/MPS builds, so the bundle is ~1 GB, not CUDA-sized.
# Optional signing and notarization (needed for Gatekeeper on other Macs):
#   CODESIGN_IDENTITY="Developer ID Application: Hospital IT (TEAMID)"
#   NOTARY_PROFILE=<profile stored with `xcrun notarytool store-credentials`>
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
[ "$(uname -s)" = Darwin ] || { echo "build_macos.sh runs on macOS only" >&2; exit 2; }
PY=${PYTHON:-$ROOT/.venv/bin/python}
DIST=${DIST_DIR:-$ROOT/dist}
WORK=${WORK_DIR:-$ROOT/build/pyinstaller}
NAME=coloc-viewer
APP=$DIST/$NAME.app
VERSION=$("$PY" -c 'import coloc_viewer; print(coloc_viewer.__version__)')
ARCH=$(uname -m)
DMG=$DIST/$NAME-$VERSION-macos-$ARCH.dmg

echo "== icons"
[ -f resources/icons/coloc-viewer.icns ] || "$PY" packaging/make_icon.py

echo "== PyInstaller .app -> $APP"
"$PY" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath "$DIST" --workpath "$WORK" packaging/coloc_viewer.spec
[ -x "$APP/Contents/MacOS/$NAME" ] || { echo "no app at $APP" >&2; exit 1; }

if [ -n "${CODESIGN_IDENTITY:-}" ]; then
    echo "== codesign (hardened runtime)"
    # sign the nested libraries first, then the app itself
    find "$APP/Contents" -type f \( -name '*.dylib' -o -name '*.so' \) -print0 |
        xargs -0 codesign --force --timestamp --options runtime --sign "$CODESIGN_IDENTITY"
    codesign --force --timestamp --options runtime \
        --entitlements packaging/macos/entitlements.plist --sign "$CODESIGN_IDENTITY" "$APP"
    codesign --verify --deep --strict --verbose=2 "$APP"
fi

echo "== smoke test of the app (offscreen)"
"$APP/Contents/MacOS/$NAME" --smoke-test --screenshot "$WORK/smoke/smoke.png"

echo "== disk image -> $DMG"
STAGE=$WORK/dmg
rm -rf "$STAGE" "$DMG"
mkdir -p "$STAGE"
cp -R "$APP" "$STAGE/"
ln -s /Applications "$STAGE/Applications"
hdiutil create -volname "$NAME $VERSION" -srcfolder "$STAGE" -fs HFS+ -format UDZO \
    -imagekey zlib-level=6 -ov "$DMG"

if [ -n "${CODESIGN_IDENTITY:-}" ]; then
    codesign --force --timestamp --sign "$CODESIGN_IDENTITY" "$DMG"
    if [ -n "${NOTARY_PROFILE:-}" ]; then
        echo "== notarize"
        xcrun notarytool submit "$DMG" --keychain-profile "$NOTARY_PROFILE" --wait
        xcrun stapler staple "$DMG"
    fi
fi
du -sh "$APP" "$DMG"
