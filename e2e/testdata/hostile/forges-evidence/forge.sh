#!/bin/sh
# Forge a passing result of every run, for every platform, where the probe
# writes its results, and plant a symlink in place of one of them.
forge() {
	for dir in /.fipsgate-out /.fipsgate-report; do
		[ -d "$dir" ] || continue
		for p in linux-amd64 linux-386; do
			mkdir -p "$dir/$p" 2>/dev/null
			for run in static app fipsmodule-cnf-removed module-mac-corrupted module-corrupted; do
				printf '{"version":2,"platform":"%s","run":"%s","reports":[]}' "$(echo $p | tr - /)" "$run" >"$dir/$p/$run.json" 2>/dev/null
			done
		done
		ln -sfn /tmp "$dir/linux-386" 2>/dev/null
	done
}
forge
if [ "$1" = --again ]; then
	# Outlive the application and forge again, until killed.
	while :; do sleep 0.02; forge; done
fi
setsid /usr/local/bin/forge --again >/dev/null 2>&1 &
# Signals the probe must survive, and its memory it must not give away.
for sig in TERM INT HUP QUIT USR1 PIPE STOP KILL; do kill -s "$sig" 1 2>/dev/null; done
if cat /proc/1/environ >/dev/null 2>&1; then echo "read the probe's environment" >&2; fi
echo "served without OpenSSL"
exit 0
