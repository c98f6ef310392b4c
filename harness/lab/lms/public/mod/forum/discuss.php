<?php
// One discussion with its first post.
declare(strict_types=1);
require_once __DIR__ . '/../../../lib/setup.php';

lms_session_start();
$d = (int) ($_GET['d'] ?? 0);
$disc = $d > 0 ? lms_db_row(
    'SELECT d.id, d.forum, d.course, d.name, p.subject, p.message, p.created, u.firstname, u.lastname'
    . ' FROM mdl_forum_discussions d JOIN mdl_forum_posts p ON p.id = d.firstpost LEFT JOIN mdl_user u ON u.id = p.userid'
    . ' WHERE d.id = ?',
    [$d]
) : null;
if ($disc === null) {
    lms_error_page(404, "Can't find data record in database table forum_discussions.", 'invalidrecord');
}
lms_require_login();
lms_page_start(['title' => $disc['name'], 'bodyid' => 'page-mod-forum-discuss',
    'bodyclass' => 'format-topics path-mod path-mod-forum chrome dir-ltr', 'courseid' => (int) $disc['course'],
    'heading' => $disc['name']]);
echo '<article id="p' . (int) $disc['id'] . '" class="forum-post-container mb-2" data-region="post" data-post-id="' . (int) $disc['id'] . '">'
    . '<header class="mb-2"><h3 class="h6 font-weight-bold mb-0" data-region-content="forum-post-core-subject">'
    . lms_h((string) $disc['subject']) . '</h3><div class="mb-3">by ' . lms_h(trim(($disc['firstname'] ?? '') . ' ' . ($disc['lastname'] ?? '')))
    . ' - ' . date('l, j F Y, g:i A', (int) $disc['created']) . '</div></header>'
    . '<div class="post-content-container">' . lms_h((string) $disc['message']) . "</div></article>\n"
    . '<div class="discussion-nav"><a href="' . lms_h(lms_url('/mod/forum/view.php', ['f' => (int) $disc['forum']])) . '">Back to forum</a></div>' . "\n";
lms_page_end(120);
lms_finish();
