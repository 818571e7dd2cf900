#!/bin/sh
# First boot of the FreePBX container (packaging/Dockerfile), run by qcb-firstboot.service:
# 1. FreePBX 17 with Sangoma's installer for Debian 12 (once; its log is in /var/log/pbx/);
# 2. the queuecallback module from the newest /dist/queuecallback-*.tgz (docker-compose.yml mounts ../dist),
#    QCB_INSTALL_WITH=
#      moduleadmin (default)  `fwconsole ma downloadinstall http://127.0.0.1/qcb-dist/<tgz>`: Module Admin's own
#                             "download and install", no shell step; the module's install() builds the Python
#                             runtime from the wheels inside the tarball;
#      install.sh             packaging/install.sh /dist (what an admin runs on a host; mounted at /qcb/packaging).
# Watch it: journalctl -fu qcb-firstboot. Done: /var/lib/qcb-firstboot/done; failed: /var/lib/qcb-firstboot/failed.
set -eu
STATE=/var/lib/qcb-firstboot
mkdir -p "$STATE"
rm -f "$STATE/failed"
trap '[ -e "$STATE/done" ] || touch "$STATE/failed"' EXIT

if [ ! -e "$STATE/freepbx" ]; then
	echo "== FreePBX 17: sng_freepbx_debian_install.sh ${SNG_INSTALLER_ARGS:-}"
	# shellcheck disable=SC2086 # the options are words
	bash /usr/local/sbin/sng_freepbx_debian_install.sh ${SNG_INSTALLER_ARGS:-}
	touch "$STATE/freepbx"
fi

TGZ=$(ls -t /dist/queuecallback-*.tgz 2>/dev/null | head -n 1)
[ -n "$TGZ" ] || { echo "error: no /dist/queuecallback-*.tgz (run: python packaging/package.py)" >&2; exit 1; }
case "${QCB_INSTALL_WITH:-moduleadmin}" in
moduleadmin)
	WEBROOT=$(sed -n 's/^AMPWEBROOT=//p' /etc/amportal.conf | tail -n 1)
	WEBROOT=${WEBROOT:-/var/www/html}
	mkdir -p "$WEBROOT/qcb-dist"
	cp "$TGZ" "$WEBROOT/qcb-dist/"
	echo "== fwconsole ma downloadinstall $(basename "$TGZ")"
	fwconsole ma downloadinstall "http://127.0.0.1/qcb-dist/$(basename "$TGZ")"
	rm -rf "$WEBROOT/qcb-dist"
	fwconsole reload
	;;
install.sh)
	sh /qcb/packaging/install.sh /dist
	;;
*)
	echo "error: QCB_INSTALL_WITH must be moduleadmin or install.sh" >&2
	exit 2
	;;
esac
fwconsole ma list | grep -E '^\| queuecallback ' || true
touch "$STATE/done"
echo "== done: http://<this host>/admin, Applications -> Queue Callback"
