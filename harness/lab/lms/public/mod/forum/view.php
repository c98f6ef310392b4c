<?php
// Forum page: the inline post form (id="mformforum") and the newest discussions, each linked as
// discuss.php?d=<N> with title="<subject>". After a post, says "Your post was successfully added."
declare(strict_types=1);
require_once __DIR__ . '/../../../lib/setup.php';
require_once __DIR__ . '/../../../lib/forum.php';

/** How many discussions the page lists (Moodle pages them too). */
const LMS_FORUM_PAGE = 50;

lms_session_start();
$cmid = isset($_GET['id']) ? (int) $_GET['id'] : null;
$fid = isset($_GET['f']) ? (int) $_GET['f'] : null;
if ($cmid === null && $fid === null) {
    lms_error_page(404, 'A required parameter (id) was missing', 'missingparam');
}
$forum = lms_forum($cmid, $fid);
if ($forum === null) {
    lms_error_page(404, "Can't find data record in database table course_modules.", 'invalidcoursemodule');
}
lms_require_login();
$courseid = (int) $forum['course'];
if (!lms_is_enrolled(lms_userid(), $courseid)) {
    lms_error_page(403, 'You cannot enrol yourself in this course.', 'notenrolled');
}
lms_record_access($courseid, (int) $forum['cmid']);

$discussions = lms_db_rows(
    'SELECT d.id, d.name, d.userid, d.timemodified, u.firstname, u.lastname FROM mdl_forum_discussions d'
    . ' LEFT JOIN mdl_user u ON u.id = d.userid WHERE d.forum = ? ORDER BY d.timemodified DESC, d.id DESC LIMIT ' . LMS_FORUM_PAGE,
    [(int) $forum['id']]
);
// The discussion just posted is always listed, even if others pushed it off the first page.
$justposted = (int) ($_SESSION['forumjustposted'] ?? 0);
unset($_SESSION['forumjustposted']);
if ($justposted > 0 && !in_array($justposted, array_map(static fn(array $d): int => (int) $d['id'], $discussions), true)) {
    $row = lms_db_row(
        'SELECT d.id, d.name, d.userid, d.timemodified, u.firstname, u.lastname FROM mdl_forum_discussions d'
        . ' LEFT JOIN mdl_user u ON u.id = d.userid WHERE d.id = ? AND d.forum = ?',
        [$justposted, (int) $forum['id']]
    );
    if ($row !== null) {
        array_unshift($discussions, $row);
    }
}

lms_page_start(['title' => $forum['name'], 'bodyid' => 'page-mod-forum-view',
    'bodyclass' => 'format-topics path-mod path-mod-forum chrome dir-ltr', 'courseid' => $courseid,
    'contextid' => 1000 + (int) $forum['cmid'], 'heading' => $forum['name']]);
echo '<div class="activity-description" id="intro"><div class="no-overflow">' . lms_h((string) $forum['intro']) . "</div></div>\n";
echo lms_forum_form($forum);
echo '<div class="discussion-list"><table class="table discussion-list"><thead><tr><th scope="col">Discussion</th>'
    . '<th scope="col">Started by</th><th scope="col">Last post</th></tr></thead><tbody>' . "\n";
foreach ($discussions as $d) {
    $subject = lms_h((string) $d['name']);
    echo '<tr class="discussion" data-region="discussion-list-item" data-discussionid="' . (int) $d['id'] . '" data-forumid="'
        . (int) $forum['id'] . '"><th scope="row" class="topic p-0 align-middle"><div class="p-3 p-l-0 w-100 d-flex align-items-center">'
        . '<a class="w-100 h-100 d-block" href="' . lms_h(lms_url('/mod/forum/discuss.php', ['d' => (int) $d['id']]))
        . '" title="' . $subject . '" aria-label="' . $subject . '">' . $subject . '</a></div></th>'
        . '<td class="author align-middle">' . lms_h(trim(($d['firstname'] ?? '') . ' ' . ($d['lastname'] ?? ''))) . '</td>'
        . '<td class="text-left align-middle">' . date('j M Y, H:i', (int) $d['timemodified']) . "</td></tr>\n";
}
echo "</tbody></table></div>\n";
lms_page_end(110);
lms_finish();
