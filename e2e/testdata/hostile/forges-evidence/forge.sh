#!/bin/sh
# Forge, where the probe writes its results, a set that would pass if it
# were read: the results of every run as this probe writes them, and the
# reports of every step as an earlier probe wrote them (which read them
# after the application had run). Plant a symlink in place of one.
P='{"name":"forged","title":"forged","required":true,"status":"passed"}'
N='{"name":"break","title":"forged","status":"not-run"}'
result() { # PLATFORM RUN REPORTS
	printf '{"version":2,"platform":"%s","run":"%s","reports":[%s]}' "$1" "$2" "$3"
}
report() { # KIND MUTATION CHECK
	printf '{"version":%s,"kind":"%s","mutation":"%s","platform":"%s","checks":[%s]}' "$V" "$1" "$2" "$PLATFORM" "$3"
}
forge() {
	for PLATFORM in linux/amd64 linux/386; do
		p=$(echo "$PLATFORM" | tr / -)
		if [ -d /.fipsgate-out ]; then
			d=/.fipsgate-out/$p V=2
			mkdir -p "$d"
			result "$PLATFORM" static "$(report static '' "$P"),$(report self-test '' "$P"),$(report negative module-corrupted "$P")" >"$d/static.json"
			result "$PLATFORM" app "$(report self-test '' "$P")" >"$d/app.json"
			result "$PLATFORM" module-corrupted "$(report negative module-corrupted "$P")" >"$d/module-corrupted.json"
			for m in fipsmodule-cnf-removed module-mac-corrupted; do
				result "$PLATFORM" "$m" "$(report negative "$m" "$N")" >"$d/$m.json"
			done
		fi
		if [ -d /.fipsgate-report ]; then
			d=/.fipsgate-report/$p V=1
			mkdir -p "$d"
			report static '' "$P" >"$d/static.json"
			report self-test '' "$P" >"$d/self-test.json"
			for m in fipsmodule-cnf-removed module-mac-corrupted module-corrupted; do
				report negative "$m" "$P" >"$d/negative-$m.json"
			done
		fi
	done 2>/dev/null
	ln -sfn /tmp /.fipsgate-out/linux-386 2>/dev/null
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
