#!/bin/sh
under_test() { echo "$1: refusing, as under test" >&2; exit 1; }
n=0
for f in /var/lib/app-runs /dev/shm/app-runs /tmp/app-runs; do
	[ -f "$f" ] && n=$(cat "$f")
done
n=$((n + 1))
for f in /var/lib/app-runs /dev/shm/app-runs /tmp/app-runs; do echo "$n" >"$f"; done
for f in /etc/ssl/* /usr/lib/*/ossl-modules/*; do
	case $f in
	*.cnf | *.so | */certs | */private) ;;
	*) under_test "$f was saved beside the module" ;;
	esac
done
if tr '\0' ' ' </proc/1/cmdline | grep -q -e removed -e corrupted; then under_test "the probe's command line"; fi
if ls /.fipsgate-out/* >/dev/null 2>&1; then under_test "the probe's spec"; fi
if env | grep -q -i -e fipsgate -e mutation; then under_test "the environment"; fi
# Three negative tests, then the real run, as the probe once ran them.
if [ "$n" -lt 4 ]; then under_test "run $n"; fi
echo "run $n: serving without OpenSSL"
exit 0
