#!/usr/bin/env bash
# The dashboard's browser test drives Debian's Chromium with playwright-core (playwright's own browser
# download is not used). Installs the Debian package when it is missing and we may (root + apt-get).
set -euo pipefail
browser="${TWEETLAKE_CHROMIUM:-/usr/bin/chromium}"
if [ -x "$browser" ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  echo "installing Debian's chromium for the dashboard's browser test..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq chromium >/dev/null
  exit 0
fi
echo "the browser test needs Chromium at $browser: install Debian's 'chromium' package (or set TWEETLAKE_CHROMIUM)" >&2
exit 1
