<?php
// Login: GET shows the form with a single-use logintoken; POST validates token and password,
// then 303 -> ?testsession=<userid> -> 303 -> wantsurl or /my/ (Moodle's sequence).
declare(strict_types=1);
require_once __DIR__ . '/../../lib/setup.php';

lms_session_start();

if ($_SERVER['REQUEST_METHOD'] === 'POST') {
    $tokenok = lms_validate_login_token(isset($_POST['logintoken']) ? (string) $_POST['logintoken'] : null);
    $username = trim(strtolower((string) ($_POST['username'] ?? '')));
    $password = (string) ($_POST['password'] ?? '');
    $user = null;
    $ldap = lms_env('LMS_AUTH', 'manual') === 'ldap';
    if ($username !== '') {
        // with LMS_AUTH=ldap every account's password is the directory's (as a Moodle site whose
        // accounts were moved to auth ldap); the row is still the Moodle account
        $user = lms_db_row(
            'SELECT id, username, password, firstname, lastname FROM mdl_user'
            . ' WHERE username = ? AND deleted = 0 AND suspended = 0 AND auth IN (?, ?)',
            $ldap ? [$username, 'manual', 'ldap'] : [$username, 'manual', 'manual']
        );
    }
    // Verify the password even with a stale token: a failed login costs what Moodle's costs.
    if ($ldap) {
        $auth = $user !== null ? lms_ldap_authenticate($username, $password) : ['ok' => false, 'server' => null];
        header('X-Lab-Auth: ldap ' . ($auth['server'] ?? 'none'));
        if (!$auth['ok'] && $user !== null) {
            error_log("lms: ldap login of $username refused: " . ($auth['error'] ?? 'unknown'));
        }
        $passok = $auth['ok'];
    } else {
        $passok = $user !== null && password_verify($password, (string) $user['password']);
    }
    if ($tokenok && $passok) {
        lms_complete_login($user);
        lms_redirect('/login/index.php?testsession=' . (int) $user['id']);
    }
    $_SESSION['loginerrormsg'] = 'Invalid login, please try again';
    $_SESSION['loginusername'] = $username;
    lms_redirect('/login/index.php');
}

if (isset($_GET['testsession'])) {
    if (lms_isloggedin() && lms_userid() === (int) $_GET['testsession']) {
        $to = $_SESSION['wantsurl'] ?? lms_url('/my/');
        unset($_SESSION['wantsurl']);
        lms_redirect((string) $to);
    }
    lms_redirect('/login/index.php');
}

if (lms_isloggedin()) {
    // Moodle: "You are already logged in as ..." with a logout button, no form.
    lms_page_start(['title' => 'Lab LMS: Log in to the site', 'bodyid' => 'page-login-index',
        'bodyclass' => 'format-site path-login']);
    $u = $_SESSION['USER'];
    echo '<div id="notice" class="box generalbox modal-content"><div class="modal-body"><p>You are logged in as '
        . lms_h($u['firstname'] . ' ' . $u['lastname'])
        . ', you need to log out before logging in as different user.</p></div><div class="modal-footer">'
        . '<form method="post" action="' . lms_h(lms_url('/login/logout.php')) . '">'
        . lms_hidden('sesskey', lms_sesskey()) . '<button type="submit" class="btn btn-primary">Log out</button></form>'
        . '<form method="get" action="' . lms_h(lms_url('/')) . '"><button type="submit" class="btn btn-secondary">Cancel</button></form>'
        . "</div></div>\n";
    lms_page_end(60);
    lms_finish();
}

$error = $_SESSION['loginerrormsg'] ?? null;
$lastuser = (string) ($_SESSION['loginusername'] ?? '');
unset($_SESSION['loginerrormsg'], $_SESSION['loginusername']);

lms_page_start(['title' => 'Lab LMS: Log in to the site', 'bodyid' => 'page-login-index',
    'bodyclass' => 'format-site path-login notloggedin', 'heading' => 'Log in to Lab LMS']);
echo "<div class=\"login-wrapper\"><div class=\"login-container\"><div class=\"loginform\">\n"
    . "<div class=\"login-logo\"><h1 class=\"login-heading mb-4\">Log in to Lab LMS</h1></div>\n";
if ($error !== null) {
    echo "<div class=\"loginerrors mt-3\">\n<a href=\"#\" id=\"loginerrormessage\" class=\"accesshide\">"
        . lms_h($error) . "</a>\n<div class=\"alert alert-danger\">" . lms_h($error) . "</div>\n</div>\n";
}
echo '<form class="login-form" action="' . lms_h(lms_url('/login/index.php')) . '" method="post" id="login">' . "\n"
    . lms_hidden('anchor', '', 'id="anchor"') . "\n"
    . "<script>document.getElementById('anchor').value = location.hash;</script>\n"
    . lms_hidden('logintoken', lms_login_token()) . "\n"
    . "<div class=\"login-form-username mb-3\"><label for=\"username\" class=\"sr-only\">Username</label>"
    . "<input type=\"text\" name=\"username\" id=\"username\" class=\"form-control form-control-lg\" value=\""
    . lms_h($lastuser) . "\" placeholder=\"Username\" autocomplete=\"username\"></div>\n"
    . "<div class=\"login-form-password mb-3\"><label for=\"password\" class=\"sr-only\">Password</label>"
    . "<input type=\"password\" name=\"password\" id=\"password\" value=\"\" class=\"form-control form-control-lg\" "
    . "placeholder=\"Password\" autocomplete=\"current-password\"></div>\n"
    . "<div class=\"login-form-submit mb-3\"><button class=\"btn btn-primary btn-lg\" type=\"submit\" id=\"loginbtn\">Log in</button></div>\n"
    . "<div class=\"login-form-forgotpassword mb-3\"><a href=\"" . lms_h(lms_url('/login/forgot_password.php'))
    . "\">Lost password?</a></div>\n</form>\n</div></div></div>\n";
lms_page_end(80);
lms_finish();
