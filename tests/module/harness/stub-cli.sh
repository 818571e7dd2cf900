#!/bin/sh
# A freepbx-callback stand-in for the module tests: answers the commands a test prepared and runs the real CLI
# ($QCB_REAL_CLI) for everything else.
#   dialplan ...        prints $QCB_STUB_DIALPLAN (a JSON file) or fails with $QCB_STUB_EXIT; its arguments are
#                       written to $QCB_STUB_ARGS when set
#   doctor ...          prints $QCB_STUB_DOCTOR (a JSON file) and exits $QCB_STUB_DOCTOR_EXIT (default 0)
#   queue set --help    prints $QCB_STUB_QUEUE_HELP (a text file)
#   queue delete ...    fails with $QCB_STUB_DELETE_EXIT
#   backup ...          prints $QCB_STUB_BACKUP (a JSON file) or fails with $QCB_STUB_BACKUP_EXIT
#   restore [--] FILE   copies FILE to $QCB_STUB_RESTORED
fail() { echo "error: $1 (stub)" >&2; exit "$2"; }
case "$1 $2" in
	"dialplan "*)
		[ -n "$QCB_STUB_ARGS" ] && printf '%s\n' "$@" > "$QCB_STUB_ARGS"
		[ -n "$QCB_STUB_EXIT" ] && fail "database unreachable" "$QCB_STUB_EXIT"
		[ -n "$QCB_STUB_DIALPLAN" ] && exec cat "$QCB_STUB_DIALPLAN" ;;
	"doctor "*)
		if [ -n "$QCB_STUB_DOCTOR" ]; then cat "$QCB_STUB_DOCTOR"; exit "${QCB_STUB_DOCTOR_EXIT:-0}"; fi ;;
	"queue set")
		if [ "$3" = "--help" ] && [ -n "$QCB_STUB_QUEUE_HELP" ]; then exec cat "$QCB_STUB_QUEUE_HELP"; fi ;;
	"queue delete")
		[ -n "$QCB_STUB_DELETE_EXIT" ] && fail "database unreachable" "$QCB_STUB_DELETE_EXIT" ;;
	"backup "*)
		[ -n "$QCB_STUB_BACKUP_EXIT" ] && fail "database unreachable" "$QCB_STUB_BACKUP_EXIT"
		[ -n "$QCB_STUB_BACKUP" ] && exec cat "$QCB_STUB_BACKUP" ;;
	"restore "*)
		if [ -n "$QCB_STUB_RESTORED" ]; then
			for last in "$@"; do :; done
			cp "$last" "$QCB_STUB_RESTORED" && echo "restored (stub)" && exit 0
		fi ;;
esac
exec "$QCB_REAL_CLI" "$@"
