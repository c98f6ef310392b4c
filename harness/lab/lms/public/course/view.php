<?php
// Course page (topics format). Missing course: 404; anonymous: 303 to the login page.
declare(strict_types=1);
require_once __DIR__ . '/../../lib/setup.php';

lms_session_start();
$id = (int) ($_GET['id'] ?? 0);
// Like Moodle, the record is fetched (MUST_EXIST) before require_login.
$course = $id > 1 ? lms_course($id) : null;
if ($course === null) {
    lms_error_page(404, "Can't find data record in database table course.", 'invalidrecord');
}
lms_require_login();
if (!lms_is_enrolled(lms_userid(), $id)) {
    lms_error_page(403, 'You cannot enrol yourself in this course.', 'notenrolled');
}
$cms = lms_db_rows(
    'SELECT cm.id AS cmid, cm.section, f.id AS forumid, f.name, f.intro FROM mdl_course_modules cm'
    . " JOIN mdl_modules m ON m.id = cm.module AND m.name = 'forum' JOIN mdl_forum f ON f.id = cm.instance"
    . ' WHERE cm.course = ? AND cm.visible = 1 ORDER BY cm.section, cm.id',
    [$id]
);

lms_page_start(['title' => 'Course: ' . $course['fullname'], 'bodyid' => 'page-course-view-topics',
    'bodyclass' => 'format-topics limitedwidth path-course path-course-view chrome dir-ltr',
    'courseid' => $id, 'contextid' => 100 + $id, 'heading' => $course['fullname']]);
echo '<div class="course-content"><ul class="topics" data-for="course_sectionlist">' . "\n";
for ($section = 0; $section <= 10; $section++) {
    $name = $section === 0 ? 'General' : "Topic $section";
    echo "<li id=\"section-$section\" class=\"section course-section main clearfix\" data-sectionid=\"$section\""
        . " data-for=\"section\" data-id=\"" . (10 * $id + $section) . "\" data-number=\"$section\">"
        . "<div class=\"course-section-header d-flex\"><h3 class=\"sectionname course-content-item\">" . lms_h($name)
        . "</h3></div><div class=\"content course-content-item-content\"><ul class=\"section m-0 p-0 img-text\" data-for=\"cmlist\">";
    foreach ($cms as $cm) {
        if ((int) $cm['section'] !== $section) {
            continue;
        }
        echo '<li class="activity activity-wrapper forum modtype_forum" id="module-' . (int) $cm['cmid'] . '" data-for="cmitem" data-id="'
            . (int) $cm['cmid'] . '"><div class="activity-item"><div class="activityname"><a href="'
            . lms_h(lms_url('/mod/forum/view.php', ['id' => (int) $cm['cmid']])) . '" class="aalink stretched-link">'
            . '<span class="instancename">' . lms_h($cm['name']) . ' <span class="accesshide">Forum</span></span></a></div>'
            . '<div class="activity-altcontent">' . lms_h((string) $cm['intro']) . "</div></div></li>\n";
    }
    for ($label = 1; $label <= 3; $label++) {
        echo "<li class=\"activity label modtype_label\" data-for=\"cmitem\"><div class=\"activity-item\">"
            . "<div class=\"contentwithoutlink\"><div class=\"no-overflow\"><p>Reading $section.$label: lecture notes, "
            . "slides and exercises for this part of the course are shown here as a label, as they would be in a "
            . "typical topics-format course page.</p></div></div></div></li>";
    }
    echo "</ul></div></li>\n";
}
echo "</ul></div>\n";
lms_page_end(150);
lms_finish();
