#!/bin/sh
# Install freepbx-callback on a FreePBX host (as root), from the files `make package` put in dist/:
#   sh packaging/install.sh [DIST_DIR]
# 1. the Python package into its own virtualenv OUTSIDE the module folder (fwconsole chown rewrites modes
#    there): /opt/freepbx-callback/venv, its CLI linked to /usr/local/bin/freepbx-callback;
# 2. the module into <AMPWEBROOT>/admin/modules/queuecallback; 3. fwconsole ma installlocal + reload.
# Environment: QCB_PREFIX (default /opt/freepbx-callback), QCB_PYTHON (default python3),
#              AMPWEBROOT (default: read from /etc/amportal.conf, else /var/www/html).
set -eu

DIST=${1:-$(cd "$(dirname "$0")/.." && pwd)/dist}
PREFIX=${QCB_PREFIX:-/opt/freepbx-callback}
PYTHON=${QCB_PYTHON:-python3}

fail() { echo "error: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || fail "run as root"
command -v fwconsole >/dev/null 2>&1 || fail "fwconsole not found: is this a FreePBX host?"
TARBALL=$(ls -t "$DIST"/queuecallback-*.tgz 2>/dev/null | head -n 1)
WHEEL=$(ls -t "$DIST"/freepbx_callback-*.whl 2>/dev/null | head -n 1)
[ -n "$TARBALL" ] || fail "no queuecallback-*.tgz in $DIST (run: make package)"
[ -n "$WHEEL" ] || fail "no freepbx_callback-*.whl in $DIST (run: make package)"

if [ -z "${AMPWEBROOT:-}" ]; then
	AMPWEBROOT=$(sed -n 's/^AMPWEBROOT=//p' /etc/amportal.conf 2>/dev/null | tail -n 1)
	AMPWEBROOT=${AMPWEBROOT:-/var/www/html}
fi
MODULES="$AMPWEBROOT/admin/modules"
[ -d "$MODULES" ] || fail "$MODULES does not exist"

# mysqlclient builds against the MariaDB client headers when no wheel fits this Python.
if ! "$PYTHON" -c 'import venv' 2>/dev/null; then fail "$PYTHON has no venv module (apt-get install python3-venv)"; fi
echo "== Python package into $PREFIX/venv"
[ -x "$PREFIX/venv/bin/python" ] || "$PYTHON" -m venv "$PREFIX/venv"
"$PREFIX/venv/bin/python" -m pip install --quiet --upgrade pip
"$PREFIX/venv/bin/python" -m pip install --quiet --upgrade "$WHEEL"
ln -sf "$PREFIX/venv/bin/freepbx-callback" /usr/local/bin/freepbx-callback
/usr/local/bin/freepbx-callback --version

echo "== module into $MODULES/queuecallback"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
tar -xzf "$TARBALL" -C "$TMP"
[ -f "$TMP/queuecallback/module.xml" ] || fail "$TARBALL has no queuecallback/module.xml"
rm -rf "$MODULES/queuecallback.new"
mv "$TMP/queuecallback" "$MODULES/queuecallback.new"
rm -rf "$MODULES/queuecallback"
mv "$MODULES/queuecallback.new" "$MODULES/queuecallback"

echo "== fwconsole"
fwconsole ma installlocal
fwconsole reload
freepbx-callback doctor || true
echo "done: Applications -> Queue Callback"
