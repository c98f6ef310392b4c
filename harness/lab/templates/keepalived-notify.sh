#!/bin/sh
# keepalived notify for lab director $host: TYPE NAME STATE PRIORITY.
# Logs each change and writes /run/keepalived/NAME.state. The log line is the outage ground
# truth (harness.parsers.keepalived_notify): its timestamp is taken first, by one `date` for
# both forms (epoch with nanoseconds, then UTC ISO 8601), before any other process is started
# (a fork costs tens of milliseconds in a UML guest).
now=$$(date -u '+%s.%N %Y-%m-%dT%H:%M:%S.%NZ')
umask 022
printf '%s %s %s %s %s\n' "$$now" "$host" "$$2" "$$3" "$$4" >> "$log"
[ -d /run/keepalived ] || mkdir -p /run/keepalived
# a copy the harness reads over SSH (services.keepalived.transitions) where $$log is the console
[ -z "$copy" ] || printf '%s %s %s %s %s\n' "$$now" "$host" "$$2" "$$3" "$$4" >> "$copy"
printf '%s\n' "$$3" > "/run/keepalived/$$2.state.tmp" && mv -f "/run/keepalived/$$2.state.tmp" "/run/keepalived/$$2.state"
