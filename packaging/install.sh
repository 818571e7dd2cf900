#!/bin/sh
# Install (or update) the queuecallback module on a FreePBX host, as root, from what `make package` built:
#   sh packaging/install.sh [DIST_DIR]          (DIST_DIR holds queuecallback-<version>.tgz; default ../dist)
#
# 1. unpacks the tarball into <AMPWEBROOT>/admin/modules/queuecallback (replacing an older copy);
# 2. builds the Python runtime with the module's own lib/Runtime.php, exactly as the module's install() does
#    from Module Admin: a virtualenv in /opt/freepbx-callback/venv, made offline from the wheels inside the
#    tarball (`pip install --no-index`); our own wheel is always reinstalled (--force-reinstall --no-deps), so
#    a package rebuilt at the same version replaces the code. When this host's Python has no wheel in the
#    package (another Python version than the one that built it), mysqlclient is compiled: the packages it
#    needs (gcc pkg-config libmariadb-dev python3-dev, only those missing) are installed with apt-get first;
#    QCB_NO_APT=1 stops instead and prints the apt-get line; the module's agi-bin/qcb-*.agi get a header that exec's the
#    runtime's python (<ASTVARLIBDIR>/freepbx-callback/current/bin/python; python3 when it is missing), so
#    that Asterisk starts one interpreter per call; fwconsole reload copies them into ASTAGIDIR;
# 3. links /usr/local/bin/freepbx-callback to the runtime's CLI;
# 4. fwconsole ma install queuecallback (this module only; never `ma installlocal`, which installs every
#    module lying in admin/modules), then fwconsole reload.
# Environment: AMPWEBROOT, ASTVARLIBDIR, AMPASTERISKWEBUSER/AMPASTERISKWEBGROUP (default: /etc/amportal.conf,
#              else /var/www/html, /var/lib/asterisk, asterisk), QCB_PREFIX (default /opt/freepbx-callback),
#              QCB_PYTHON3 (the base interpreter; default python3.X matching the wheels, else python3),
#              QCB_BINDIR (default /usr/local/bin), QCB_NO_APT=1 (never run apt-get).
set -eu

DIST=${1:-$(cd "$(dirname "$0")/.." && pwd)/dist}
PREFIX=${QCB_PREFIX:-/opt/freepbx-callback}
BINDIR=${QCB_BINDIR:-/usr/local/bin}
RAWNAME=queuecallback

fail() { echo "error: $*" >&2; exit 1; }
setting() { # setting NAME DEFAULT: the environment, else /etc/amportal.conf, else DEFAULT
	eval "v=\${$1:-}"
	if [ -z "$v" ] && [ -r /etc/amportal.conf ]; then
		v=$(sed -n "s/^$1=//p" /etc/amportal.conf | tail -n 1)
	fi
	echo "${v:-$2}"
}

[ "$(id -u)" = 0 ] || fail "run as root"
command -v fwconsole >/dev/null 2>&1 || fail "fwconsole not found: is this a FreePBX host?"
command -v php >/dev/null 2>&1 || fail "php not found: is this a FreePBX host?"
TARBALL=$(ls -t "$DIST"/$RAWNAME-*.tgz 2>/dev/null | head -n 1)
[ -n "$TARBALL" ] || fail "no $RAWNAME-*.tgz in $DIST (run: make package)"

AMPWEBROOT=$(setting AMPWEBROOT /var/www/html)
ASTVARLIBDIR=$(setting ASTVARLIBDIR /var/lib/asterisk)
WEBUSER=$(setting AMPASTERISKWEBUSER asterisk)
WEBGROUP=$(setting AMPASTERISKWEBGROUP "$WEBUSER")
OWNER=""
id "$WEBUSER" >/dev/null 2>&1 && OWNER="$WEBUSER:$WEBGROUP"
MODULES="$AMPWEBROOT/admin/modules"
[ -d "$MODULES" ] || fail "$MODULES does not exist"

echo "== module $(basename "$TARBALL") into $MODULES/$RAWNAME"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
tar -xzf "$TARBALL" -C "$TMP"
[ -f "$TMP/$RAWNAME/module.xml" ] || fail "$TARBALL has no $RAWNAME/module.xml"
[ -f "$TMP/$RAWNAME/wheels/manifest.json" ] || fail "$TARBALL carries no Python runtime (wheels/): build it with make package"
rm -rf "$MODULES/$RAWNAME.new"
mv "$TMP/$RAWNAME" "$MODULES/$RAWNAME.new"
rm -rf "$MODULES/$RAWNAME"
mv "$MODULES/$RAWNAME.new" "$MODULES/$RAWNAME"
[ -z "$OWNER" ] || chown -R "$OWNER" "$MODULES/$RAWNAME"

echo "== Python runtime (offline, from $MODULES/$RAWNAME/wheels)"
RUNTIME="$MODULES/$RAWNAME/lib/Runtime.php"
runtime() {
	php "$RUNTIME" ensure --prefix "$PREFIX" --varlib "$ASTVARLIBDIR" --owner "$OWNER" \
		${QCB_PYTHON3:+--python "$QCB_PYTHON3"}
}
set +e
CLI=$(runtime)
rc=$?
set -e
if [ "$rc" = 3 ] && [ -n "$CLI" ]; then
	PKGS=$CLI
	[ "${QCB_NO_APT:-}" != 1 ] || fail "missing Debian packages; run: apt-get install -y $PKGS (then this script again)"
	echo "== installing the Debian packages the runtime needs: $PKGS"
	DEBIAN_FRONTEND=noninteractive apt-get update -qq
	# shellcheck disable=SC2086 # one word per package
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $PKGS
	CLI=$(runtime) || fail "the Python runtime could not be built (see above)"
elif [ "$rc" != 0 ]; then
	fail "the Python runtime could not be built (see above)"
fi
mkdir -p "$BINDIR"
ln -sfn "$CLI" "$BINDIR/freepbx-callback"
"$BINDIR/freepbx-callback" --version

echo "== fwconsole ma install $RAWNAME"
fwconsole ma install "$RAWNAME"
fwconsole reload
# fwconsole run as root leaves root-owned files behind (GnuPG's sockets and locks in the web user's
# home, caches); the GUI's Apply Config, which runs as that user, then fails. FreePBX's own repair:
fwconsole chown >/dev/null

# The daemon: FastAGI on 127.0.0.1:4577 and the event-driven dialer. Under systemd it is installed, (re)started
# and health-checked here; the dialplan then routes AGI calls to it (falling back to the agi-bin scripts in
# the same call whenever it does not answer). QCB_NO_SERVICE=1 leaves it out.
UNIT="$(cd "$(dirname "$0")/.." && pwd)/contrib/freepbx-callback.service"
if [ -z "${QCB_NO_SERVICE:-}" ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1 && [ -f "$UNIT" ]; then
	echo "== the daemon: freepbx-callback.service"
	install -m 0644 "$UNIT" /etc/systemd/system/freepbx-callback.service
	systemctl daemon-reload
	systemctl enable freepbx-callback.service >/dev/null 2>&1
	systemctl restart freepbx-callback.service
	up=""
	for _ in $(seq 40); do
		if "$BINDIR/freepbx-callback" doctor --json 2>/dev/null | grep -q '"up": true'; then up=1; break; fi
		sleep 0.5
	done
	[ -n "$up" ] || fail "freepbx-callback.service did not come up: journalctl -u freepbx-callback"
	fwconsole reload >/dev/null   # route the AGI calls to the daemon
	echo "the daemon runs and ticks"
else
	echo "note: no systemd here; run \`freepbx-callback serve\` under your service manager (contrib/freepbx-callback.service)."
	echo "      Until then Asterisk runs the agi-bin scripts and FreePBX's per-minute job dials."
fi
"$BINDIR/freepbx-callback" doctor || true
echo "done: Applications -> Queue Callback"
