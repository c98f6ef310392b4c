<?php
// My courses: the course list comes from core_course_get_enrolled_courses_by_timeline_classification.
declare(strict_types=1);
require_once __DIR__ . '/../../lib/setup.php';

lms_session_start();
lms_require_login();

lms_page_start(['title' => 'My courses', 'bodyid' => 'page-my-index',
    'bodyclass' => 'limitedwidth path-my page-mycourses chrome dir-ltr', 'heading' => 'My courses']);
echo "<div class=\"block_myoverview block\" data-block=\"myoverview\" role=\"region\">"
    . "<div id=\"block-myoverview\" class=\"block-myoverview\" data-region=\"myoverview\" role=\"navigation\">"
    . "<div data-region=\"filter\" class=\"d-flex align-items-center\" aria-label=\"Course overview controls\">"
    . "<button class=\"btn btn-outline-secondary dropdown-toggle\" data-pref=\"all\">All (except removed from view)</button></div>"
    . "<div data-region=\"courses-view\" data-display=\"card\" data-grouping=\"all\" data-sort=\"fullname\""
    . " data-prev-display=\"card\" data-paging=\"12\" data-nameddisplay=\"card\" data-totalcoursecount=\"0\">"
    . "<div data-region=\"course-view-content\"></div></div></div></div>\n";
lms_page_end(120);
lms_finish();
