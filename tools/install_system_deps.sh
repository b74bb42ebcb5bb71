#!/usr/bin/env bash
# Install the Debian/Ubuntu system packages a group of tests or the window needs, where this
# user may (root, or password-less sudo); otherwise print one line naming the packages.
# Idempotent and quick when everything is there (dpkg -s only, no apt-get update).
#
#   tools/install_system_deps.sh window   # Qt's xcb libraries + Xvfb/xdotool/ImageMagick
#   tools/install_system_deps.sh dicom    # dicom3tools (dciodvfy)
#   tools/install_system_deps.sh pacs     # Orthanc + its DICOMweb plugin, DCMTK getscu (tests/pacs)
set -uo pipefail

declare -A PKG_GROUPS=(
    [window]="xvfb xdotool imagemagick x11-utils libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxkbcommon-x11-0 libxcb-xkb1 libxcb-randr0 libxcb-shape0 libxcb-xinerama0 libegl1 libgl1 libfontconfig1 libdbus-1-3"
    [dicom]="dicom3tools"
    [pacs]="orthanc orthanc-dicomweb dcmtk"
)
wanted=()
for group in "$@"; do
    [ -n "${PKG_GROUPS[$group]:-}" ] || { echo "unknown group $group (${!PKG_GROUPS[*]})" >&2; exit 2; }
    wanted+=(${PKG_GROUPS[$group]})
done
command -v dpkg >/dev/null || { echo "no dpkg: install by hand: ${wanted[*]}"; exit 0; }
missing=()
for pkg in "${wanted[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ]; then SUDO=; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
    echo "system packages missing (tests that need them are skipped): sudo apt-get install ${missing[*]}"
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
    $SUDO apt-get update -qq >/dev/null 2>&1
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1
} || echo "could not install ${missing[*]} (tests that need them are skipped)"
exit 0
