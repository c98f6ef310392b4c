<?php
// The directors' health check of a web node (HAProxy httpchk, keepalived HTTP_GET): Apache and
// PHP answer. No session and no database on purpose: every page that starts a session writes to
// the database, and a Galera membership change stalls writes for seconds; a check that waited
// with it would fail on every web node at once and empty the web pool (seen with LVS: "Lost
// quorum", a 7.7 s outage for a 4 s stall). The database tier has its own checks (clustercheck).
header('Content-Type: text/plain');
header('Cache-Control: no-store');
echo 'ok ', gethostname(), "\n";
