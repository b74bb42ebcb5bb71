#!/bin/sh
# /usr/bin/coloc-viewer: start the bundle installed under <root>/opt/coloc-viewer. The path
# is found relative to this script, so an unpacked package (dpkg -x into any folder) runs too.
here=$(dirname "$(readlink -f "$0")")
exec "$here/../../opt/coloc-viewer/coloc-viewer" "$@"
