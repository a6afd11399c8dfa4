#!/usr/bin/env bash
# Renders a joulebench HTML report to a PNG with headless Chromium (docs/report-screenshot.png).
#
#   scripts/screenshot.sh results.db docs/report-screenshot.png        report a database, then shoot it
#   scripts/screenshot.sh report.html out.png                          shoot an existing report
#
# Environment: JOULEBENCH (the binary; default build/bin/joulebench), CHROMIUM (default: chromium
# on PATH), WINDOW (default 1400,2400: a laptop-width page, its first two screens).
# Chromium runs with every background service off: the report is self-contained, so nothing
# should reach the network, and nothing does.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [[ $# -ne 2 ]]; then
    sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 2
fi
input=$1
png=$2
joulebench=${JOULEBENCH:-$root/build/bin/joulebench}
chromium=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)}
window=${WINDOW:-1400,2400}
if [[ -z "$chromium" ]]; then
    echo "screenshot.sh: no Chromium found (install Debian's chromium, or set CHROMIUM)" >&2
    exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
case "$input" in
    *.html | *.htm) html=$(cd "$(dirname "$input")" && pwd)/$(basename "$input") ;;
    *)
        html=$work/report.html
        "$joulebench" report "$input" -o "$html"
        ;;
esac

timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync --disable-extensions \
    --hide-scrollbars --user-data-dir="$work/profile" --window-size="$window" \
    --screenshot="$work/shot.png" "file://$html" >/dev/null 2>&1
mkdir -p "$(dirname "$png")"
mv "$work/shot.png" "$png"
echo "screenshot.sh: wrote $png ($window)" >&2
