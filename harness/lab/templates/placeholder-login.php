<?php
// Placeholder served until harness/lab/lms/public exists: answers like a login page and names
// the node. It never touches the database, so health checks stay cheap.
$node = getenv('LMS_NODE') ?: gethostname();
header('Content-Type: text/html; charset=utf-8');
echo "<html><body id=\"page-login-index\"><p>lab placeholder on " . htmlspecialchars($node) . "</p></body></html>\n";
