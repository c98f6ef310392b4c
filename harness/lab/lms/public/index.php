<?php
// Front page (site home), for anyone.
declare(strict_types=1);
require_once __DIR__ . '/../lib/setup.php';

lms_session_start();
lms_page_start(['title' => 'Lab LMS', 'bodyid' => 'page-site-index', 'bodyclass' => 'format-site course path-site']);
echo "<div class=\"sitetopic\"><h2>Available courses</h2><div class=\"courses frontpage-course-list-all\">";
foreach (lms_db_rows('SELECT id, fullname, summary FROM mdl_course WHERE id > 1 AND visible = 1 ORDER BY sortorder') as $c) {
    echo '<div class="coursebox clearfix" data-courseid="' . (int) $c['id'] . '"><h3 class="coursename"><a href="'
        . lms_h(lms_url('/course/view.php', ['id' => (int) $c['id']])) . '">' . lms_h($c['fullname'])
        . '</a></h3><div class="summary">' . lms_h((string) $c['summary']) . "</div></div>\n";
}
echo "</div></div>\n";
lms_page_end(100);
lms_finish();
