<?php
// New discussion (the write whose loss the harness counts). Success: 303 to view.php?f=<forum>.
// Bad or missing sesskey: 404. Empty subject or message: 200 with the form again, nothing stored.
declare(strict_types=1);
require_once __DIR__ . '/../../../lib/setup.php';
require_once __DIR__ . '/../../../lib/forum.php';
require_once __DIR__ . '/../../../lib/files.php';

lms_session_start();
$forumid = (int) ($_REQUEST['forum'] ?? 0);
if ($forumid <= 0) {
    lms_error_page(404, 'A required parameter (forum) was missing', 'missingparam');
}
$forum = lms_forum(null, $forumid);
if ($forum === null) {
    lms_error_page(404, "Can't find data record in database table forum.", 'invalidforumid');
}
lms_require_login();
$courseid = (int) $forum['course'];
if (!lms_is_enrolled(lms_userid(), $courseid)) {
    lms_error_page(403, 'You cannot enrol yourself in this course.', 'notenrolled');
}

/** The standalone form page (GET, or a POST that failed validation: status 200). */
function lms_post_form_page(array $forum, array $values, array $errors): never
{
    lms_page_start(['title' => $forum['name'] . ': Add discussion topic', 'bodyid' => 'page-mod-forum-post',
        'bodyclass' => 'format-topics path-mod path-mod-forum chrome dir-ltr', 'courseid' => (int) $forum['course'],
        'contextid' => 1000 + (int) $forum['cmid'], 'heading' => $forum['name']]);
    if ($errors) {
        echo "<div class=\"alert alert-danger\" role=\"alert\">There are required fields in this form marked.</div>\n";
    }
    echo lms_forum_form($forum, $values, $errors);
    lms_page_end(120);
    lms_finish();
}

if ($_SERVER['REQUEST_METHOD'] !== 'POST' || empty($_POST['_qf__mod_forum_post_form'])) {
    lms_post_form_page($forum, [], []);
}
if (!isset($_POST['sesskey']) || $_POST['sesskey'] === '') {
    lms_error_page(404, 'A required parameter (sesskey) was missing', 'missingparam');
}
if (!lms_confirm_sesskey((string) $_POST['sesskey'])) {
    lms_error_page(404, 'Your session has most likely timed out. Please log in again.', 'invalidsesskey');
}

$subject = is_string($_POST['subject'] ?? null) ? $_POST['subject'] : '';
$msg = $_POST['message'] ?? [];
$message = is_array($msg) && is_string($msg['text'] ?? null) ? $msg['text'] : '';
$format = is_array($msg) ? (int) ($msg['format'] ?? 1) : 1;
$errors = [];
if (trim($subject) === '') {
    $errors['subject'] = 'Required';
} elseif (lms_strlen($subject) > 255) {
    $errors['subject'] = 'Maximum of 255 characters';
}
if (trim(strip_tags($message)) === '') {
    $errors['message'] = 'Required';
}
if ($errors) {
    lms_post_form_page($forum, ['subject' => $subject, 'message' => $message], $errors);
}

$db = lms_db();
$now = time();
$uid = lms_userid();
$db->beginTransaction();
try {
    $st = $db->prepare(
        'INSERT INTO mdl_forum_discussions (course, forum, name, firstpost, userid, groupid, assessed, timemodified, usermodified)'
        . ' VALUES (?, ?, ?, 0, ?, -1, 0, ?, ?)'
    );
    $st->execute([$courseid, $forumid, $subject, $uid, $now, $uid]);
    $discussionid = (int) $db->lastInsertId();
    $st = $db->prepare(
        'INSERT INTO mdl_forum_posts (discussion, parent, userid, created, modified, subject, message, messageformat,'
        . ' messagetrust, wordcount, charcount) VALUES (?, 0, ?, ?, ?, ?, ?, ?, 0, ?, ?)'
    );
    $st->execute([$discussionid, $uid, $now, $now, $subject, $message, $format,
        str_word_count(strip_tags($message)), lms_strlen(strip_tags($message))]);
    $postid = (int) $db->lastInsertId();
    $db->prepare('UPDATE mdl_forum_discussions SET firstpost = ? WHERE id = ?')->execute([$postid, $discussionid]);
    // the files uploaded to the form's attachments draft area become the post's attachments
    $draftid = (int) ($_POST['attachments'] ?? 0);
    if ($draftid > 0) {
        $ctx = 1000 + (int) $forum['cmid'];
        $st = $db->prepare("SELECT id, filename FROM mdl_files WHERE userid = ? AND contextid = ? AND component = 'user'"
            . " AND filearea = 'draft' AND itemid = ?");
        $st->execute([$uid, lms_user_contextid($uid), $draftid]);
        $move = $db->prepare("UPDATE mdl_files SET contextid = ?, component = 'mod_forum', filearea = 'attachment',"
            . ' itemid = ?, pathnamehash = ? WHERE id = ?');
        $moved = 0;
        foreach ($st->fetchAll() as $file) {
            $move->execute([$ctx, $postid, lms_pathnamehash($ctx, 'mod_forum', 'attachment', $postid, $file['filename']),
                (int) $file['id']]);
            $moved++;
        }
        if ($moved > 0) {
            $db->prepare("UPDATE mdl_forum_posts SET attachment = '1' WHERE id = ?")->execute([$postid]);
        }
    }
    $db->commit();
} catch (Throwable $e) {
    if ($db->inTransaction()) {
        try {
            $db->rollBack();
        } catch (Throwable $ignored) {
        }
    }
    throw $e;
}
$_SESSION['notification'] = 'Your post was successfully added.';
$_SESSION['forumjustposted'] = $discussionid;
lms_redirect('/mod/forum/view.php?f=' . $forumid);
