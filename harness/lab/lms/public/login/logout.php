<?php
// Logout: with the right sesskey, 303 to / and a new anonymous session (new cookie);
// without it, Moodle's 200 confirmation page.
declare(strict_types=1);
require_once __DIR__ . '/../../lib/setup.php';

lms_session_start();

if (!lms_isloggedin()) {
    lms_logout();
    lms_redirect('/');
}
$given = isset($_REQUEST['sesskey']) ? (string) $_REQUEST['sesskey'] : null;
if (lms_confirm_sesskey($given)) {
    lms_logout();
    lms_redirect('/');
}
lms_page_start(['title' => 'Lab LMS: Log out', 'bodyid' => 'page-login-logout', 'bodyclass' => 'path-login']);
echo '<div id="modal-header"><h4>Confirm</h4></div><div class="modal-body"><p>Do you really want to log out?</p></div>'
    . '<div class="modal-footer"><form method="post" action="' . lms_h(lms_url('/login/logout.php')) . '">'
    . lms_hidden('sesskey', lms_sesskey()) . '<button type="submit" class="btn btn-primary">Continue</button></form>'
    . '<a class="btn btn-secondary" href="' . lms_h(lms_url('/')) . '">Cancel</a></div>' . "\n";
lms_page_end(40);
lms_finish();
