<?php
// The file picker's upload (Moodle: repository/repository_ajax.php?action=upload): a multipart
// POST with repo_upload_file, itemid (a draft area id from the form), sesskey, repo_id. The file
// goes to the user's draft area; the post that names that draft area keeps it. Reply JSON:
// {"url": ..., "id": itemid, "file": filename}; errors are {"error": message, "errorcode": ...}
// with HTTP 200, as Moodle's, and then nothing is stored.
declare(strict_types=1);
require_once __DIR__ . '/../../lib/setup.php';
require_once __DIR__ . '/../../lib/files.php';

header('Content-Type: application/json; charset=utf-8');
lms_session_start();

function lms_upload_error(string $errorcode, string $message): never
{
    echo json_encode(['error' => $message, 'errorcode' => $errorcode]);
    lms_finish();
}

if (($_GET['action'] ?? '') !== 'upload') {
    lms_upload_error('invalidaction', 'Only action=upload is implemented here');
}
if (!lms_isloggedin()) {
    lms_upload_error('requireloginerror', 'You are not logged in');
}
if (!lms_confirm_sesskey(is_string($_POST['sesskey'] ?? null) ? $_POST['sesskey'] : null)) {
    lms_upload_error('invalidsesskey', 'Your session has most likely timed out. Please log in again.');
}
$itemid = (int) ($_POST['itemid'] ?? 0);
if ($itemid <= 0) {
    lms_upload_error('missingparam', 'A required parameter (itemid) was missing');
}
$f = $_FILES['repo_upload_file'] ?? null;
if (!is_array($f) || ($f['error'] ?? UPLOAD_ERR_NO_FILE) !== UPLOAD_ERR_OK || !is_uploaded_file((string) $f['tmp_name'])) {
    lms_upload_error('upload_error_no_file', 'No file was uploaded');
}
if ((int) $f['size'] > 1048576) {
    lms_upload_error('maxbytes', 'The file is larger than the limit (1 MB)');
}
$title = is_string($_POST['title'] ?? null) && $_POST['title'] !== '' ? $_POST['title'] : (string) $f['name'];
$filename = preg_replace('/[^A-Za-z0-9._-]/', '_', basename($title)) ?: 'upload.bin';
$content = file_get_contents((string) $f['tmp_name']);
$hash = lms_file_store($content);
$uid = lms_userid();
$ctx = lms_user_contextid($uid);
$now = time();
lms_db_exec(
    'INSERT INTO mdl_files (contenthash, pathnamehash, contextid, component, filearea, itemid, filepath, filename,'
    . ' userid, filesize, mimetype, timecreated, timemodified) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)'
    . ' ON DUPLICATE KEY UPDATE contenthash = VALUES(contenthash), filesize = VALUES(filesize), timemodified = VALUES(timemodified)',
    [$hash, lms_pathnamehash($ctx, 'user', 'draft', $itemid, $filename), $ctx, 'user', 'draft', $itemid, '/', $filename,
        $uid, strlen($content), 'application/octet-stream', $now, $now]
);
echo json_encode([
    'url' => lms_url("/draftfile.php/$ctx/user/draft/$itemid/" . rawurlencode($filename)),
    'id' => $itemid,
    'file' => $filename,
]);
lms_finish();
