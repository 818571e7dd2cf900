#!/bin/sh
# A freepbx-callback stand-in for dialplan tests: `dialplan ...` prints $QCB_STUB_DIALPLAN (a JSON file) or
# fails with $QCB_STUB_EXIT; every other command runs the real CLI ($QCB_REAL_CLI).
if [ "$1" = "dialplan" ]; then
	if [ -n "$QCB_STUB_EXIT" ]; then
		echo "error: database unreachable (stub)" >&2
		exit "$QCB_STUB_EXIT"
	fi
	cat "$QCB_STUB_DIALPLAN"
	exit 0
fi
exec "$QCB_REAL_CLI" "$@"
