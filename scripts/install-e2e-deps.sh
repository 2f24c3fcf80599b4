#!/usr/bin/env bash
# Installs what the end-to-end test (npm run test:e2e) needs and nothing else:
#   * Debian packages chromium (the browser), ripgrep (VS Code's search binary) and
#     libkrb5-dev (to compile code-server's kerberos addon), only those missing;
#   * code-server 4.100.3 (a real VS Code 1.100.3, web build; the last release for Node 20)
#     into .e2e/code-server (git-ignored, outside node_modules), skipped when its marker
#     file says that version is already there.
# A plain `npm install code-server` cannot work offline (its postinstall downloads rg and
# node headers), so this follows the order in the repo's notes: install without scripts,
# then rebuild the native addons against local headers, then recreate postinstall.sh's links.
# Idempotent, non-interactive; needs root or sudo only when a Debian package is missing.
set -euo pipefail

CODE_SERVER_VERSION=4.100.3
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${ANYAD_E2E_DIR:-$ROOT/.e2e}/code-server"
MARKER="$DEST/installed-version"
export CI=true DEBIAN_FRONTEND=noninteractive

start=$(date +%s)
log() { echo "[install-e2e-deps] $*"; }

# --- Debian packages -------------------------------------------------------------------
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -x /usr/bin/rg ] || need+=(ripgrep)
dpkg -s libkrb5-dev >/dev/null 2>&1 || need+=(libkrb5-dev)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo -n"
  log "apt-get install ${need[*]}"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# --- code-server -------------------------------------------------------------------------
if [ -f "$MARKER" ] && [ "$(cat "$MARKER")" = "$CODE_SERVER_VERSION" ] \
  && [ -x "$DEST/node_modules/.bin/code-server" ]; then
  log "code-server $CODE_SERVER_VERSION already installed in $DEST"
  exit 0
fi

if [ "$(node -p 'process.versions.node.split(".")[0]')" != 20 ]; then
  echo "code-server $CODE_SERVER_VERSION needs Node 20 (found $(node --version))" >&2
  exit 1
fi

# A half-finished earlier attempt leaves no marker: start from scratch.
rm -rf "$DEST"
mkdir -p "$DEST"
echo '{ "private": true }' >"$DEST/package.json"

# Every native rebuild compiles against the installed Node's headers and never prompts.
export npm_config_nodedir=/usr npm_config_yes=true npm_config_unsafe_perm=true
export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false
NPM_QUIET=(--no-progress --loglevel=error)

log "npm install code-server@$CODE_SERVER_VERSION (scripts off)"
(cd "$DEST" && npm install "code-server@$CODE_SERVER_VERSION" --ignore-scripts "${NPM_QUIET[@]}")
(cd "$DEST" && npm rebuild argon2 "${NPM_QUIET[@]}")

VSCODE="$DEST/node_modules/code-server/lib/vscode"
log "VS Code dependencies"
(cd "$VSCODE" && npm install --omit=dev --ignore-scripts "${NPM_QUIET[@]}")
# @vscode/ripgrep's postinstall downloads rg unless bin/ exists: give it Debian's.
mkdir -p "$VSCODE/node_modules/@vscode/ripgrep/bin"
ln -sf /usr/bin/rg "$VSCODE/node_modules/@vscode/ripgrep/bin/rg"
(cd "$VSCODE" && npm rebuild "${NPM_QUIET[@]}")

# The links code-server's own postinstall.sh would have made.
ln -sfn node_modules "$VSCODE/node_modules.asar"
ln -sfn code-linux.sh "$VSCODE/bin/remote-cli/code-server"
ln -sfn browser-linux.sh "$VSCODE/bin/helpers/browser.sh"

log "built-in extensions' dependencies"
(cd "$VSCODE/extensions" && npm install --omit=dev "${NPM_QUIET[@]}")

"$DEST/node_modules/.bin/code-server" --version >/dev/null
echo "$CODE_SERVER_VERSION" >"$MARKER"
log "code-server $CODE_SERVER_VERSION installed in $DEST ($(du -sh "$DEST" | cut -f1), $(( $(date +%s) - start )) s)"
