#!/usr/bin/env sh
# Register NetBuilder with the desktop for the current user (menu entry, icon, file type).
set -eu
here=$(dirname "$0")
data=${XDG_DATA_HOME:-$HOME/.local/share}
install -Dm644 "$here/netbuilder.desktop" "$data/applications/netbuilder.desktop"
install -Dm644 "$here/netbuilder.svg" "$data/icons/hicolor/scalable/apps/netbuilder.svg"
if command -v xdg-mime >/dev/null 2>&1; then
    xdg-mime install --novendor "$here/netbuilder-mime.xml"
fi
echo "NetBuilder registered in $data"
