#!/bin/sh
# keepalived notify for lab director $host: TYPE NAME STATE PRIORITY.
# Writes /run/keepalived/NAME.state and logs each change with a timestamp (outage ground truth).
umask 022
mkdir -p /run/keepalived
printf '%s\n' "$$3" > "/run/keepalived/$$2.state.tmp" && mv -f "/run/keepalived/$$2.state.tmp" "/run/keepalived/$$2.state"
printf '%s %s %s %s %s %s\n' "$$(date +%s.%N)" "$$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)" "$host" "$$2" "$$3" "$$4" >> "$log"
