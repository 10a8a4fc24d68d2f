#!/usr/bin/env bash
# System packages: graphviz (`dot` draws the report's rule graph; the demo needs it) and, for the tests,
# Chromium + ChromeDriver (report test). `system-deps.sh graphviz` installs only graphviz (make demo).
# Installs them with apt when running as root and they are missing; otherwise says what is missing
# (the rule graph job then fails with this advice; browser tests skip locally and fail under CI=true).
set -euo pipefail
wanted=("${@:-graphviz chromium chromium-driver}")
missing=()
for pkg in ${wanted[*]}; do
  case "$pkg" in
    graphviz) command -v dot >/dev/null 2>&1 || missing+=(graphviz) ;;
    chromium) command -v chromium >/dev/null 2>&1 || missing+=(chromium) ;;
    chromium-driver) command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver) ;;
    *) echo "system-deps.sh: unknown package $pkg" >&2; exit 2 ;;
  esac
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing ${missing[*]} with apt-get" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "note: ${missing[*]} not installed (needs root + apt): without graphviz the report's rule graph job fails; without chromium the browser test is skipped" >&2
fi
