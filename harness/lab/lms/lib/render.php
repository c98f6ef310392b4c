<?php
// HTML in Moodle's shape, where a load-test client looks: body ids, M.cfg with the sesskey,
// hidden inputs whose attribute order varies, logout links. Pages are padded to tens of KB with
// static markup (like Moodle's templates and JS config) that costs microseconds to produce.
declare(strict_types=1);

function lms_h(string $s): string
{
    return htmlspecialchars($s, ENT_QUOTES | ENT_SUBSTITUTE, 'UTF-8');
}

/** A hidden input; Moodle's attribute order is not fixed, so neither is ours. */
function lms_hidden(string $name, string $value, string $extra = ''): string
{
    $n = 'name="' . lms_h($name) . '"';
    $t = 'type="hidden"';
    $v = 'value="' . lms_h($value) . '"';
    $attrs = random_int(0, 1) === 0 ? "$n $t $v" : "$t $n $v";
    return '<input ' . ($extra !== '' ? $extra . ' ' : '') . $attrs . '>';
}

/** Static bulk standing in for Moodle's templates, icons and JS config; built once per request. */
function lms_filler(string $kind, int $items): string
{
    $out = "<div class=\"lab-filler d-none\" data-kind=\"" . lms_h($kind) . "\">\n";
    for ($i = 1; $i <= $items; $i++) {
        $out .= "<div class=\"list-group-item list-group-item-action\" data-key=\"{$kind}-{$i}\" "
            . "data-isexpandable=\"0\" data-indent=\"1\" data-showdivider=\"0\" data-type=\"30\" "
            . "data-nodetype=\"1\" data-collapse=\"0\" data-forceopen=\"0\" data-isactive=\"0\" "
            . "data-hidden=\"0\" data-preceedwithhr=\"0\"><div class=\"ml-1\"><div class=\"media\">"
            . "<span class=\"media-left\"><i class=\"icon fa fa-folder-o fa-fw\" aria-hidden=\"true\"></i>"
            . "</span><span class=\"media-body\">Navigation item {$i} of the {$kind} drawer</span>"
            . "</div></div></div>\n";
    }
    return $out . "</div>\n";
}

/** The M.cfg script Moodle prints in every page head. */
function lms_mcfg(int $courseid, int $contextid): string
{
    $cfg = [
        'wwwroot' => lms_config()['wwwroot'],
        'homeurl' => new stdClass(),
        'sesskey' => lms_sesskey(),
        'sessiontimeout' => (string) LMS_SESSION_LIFETIME,
        'sessiontimeoutwarning' => 1200,
        'themerev' => '1700000000',
        'slasharguments' => 1,
        'theme' => 'boost',
        'iconsystemmodule' => 'core/icon_system_fontawesome',
        'jsrev' => '1700000000',
        'admin' => 'admin',
        'svgicons' => true,
        'usertimezone' => 'Europe/London',
        'language' => 'en',
        'courseId' => $courseid,
        'courseContextId' => $contextid,
        'contextid' => $contextid,
        'contextInstanceId' => $courseid,
        'langrev' => 1700000000,
        'templaterev' => 1700000000,
        'developerdebug' => false,
    ];
    return '<script>//<![CDATA[' . "\n" . 'var M = {}; M.yui = {};' . "\n"
        . 'M.pageloadstarttime = new Date();' . "\n"
        . 'M.cfg = ' . json_encode($cfg) . ";\n//]]>\n</script>\n";
}

/**
 * Page head and navigation.
 *
 * @param array{title:string,bodyid:string,bodyclass?:string,courseid?:int,contextid?:int,heading?:string} $p
 */
function lms_page_start(array $p): void
{
    $courseid = $p['courseid'] ?? 1;
    $contextid = $p['contextid'] ?? 2;
    $title = lms_h($p['title']);
    $bodyid = lms_h($p['bodyid']);
    $bodyclass = lms_h($p['bodyclass'] ?? '');
    $node = lms_h(lms_config()['node']);
    echo "<!DOCTYPE html>\n<html dir=\"ltr\" lang=\"en\" xml:lang=\"en\">\n<head>\n<title>$title</title>\n"
        . "<meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\" />\n"
        . "<meta name=\"keywords\" content=\"moodle, $title\" />\n"
        . "<meta name=\"generator\" content=\"lab-lms on $node\" />\n"
        . lms_mcfg($courseid, $contextid)
        . "</head>\n<body  id=\"$bodyid\"  class=\"$bodyclass lang-en theme-boost pagelayout-standard course-$courseid context-$contextid jsenabled\">\n"
        . "<div class=\"toast-wrapper mx-auto py-0 fixed-top\" role=\"status\" aria-live=\"polite\"></div>\n"
        . "<div id=\"page-wrapper\" class=\"d-print-block\">\n<nav class=\"navbar fixed-top navbar-light bg-white navbar-expand\" aria-label=\"Site navigation\">\n"
        . "<a href=\"" . lms_h(lms_url('/')) . "\" class=\"navbar-brand d-none d-md-flex align-items-center m-0 mr-4 p-0 aabtn\">Lab LMS</a>\n"
        . "<ul class=\"navbar-nav\"><li class=\"nav-item\"><a class=\"nav-link\" href=\"" . lms_h(lms_url('/')) . "\">Home</a></li>"
        . "<li class=\"nav-item\"><a class=\"nav-link\" href=\"" . lms_h(lms_url('/my/')) . "\">Dashboard</a></li>"
        . "<li class=\"nav-item\"><a class=\"nav-link\" href=\"" . lms_h(lms_url('/my/courses.php')) . "\">My courses</a></li></ul>\n";
    if (lms_isloggedin()) {
        $u = $_SESSION['USER'];
        $logout = lms_h(lms_url('/login/logout.php', ['sesskey' => lms_sesskey()]));
        echo "<div id=\"usernavigation\" class=\"navbar-nav ml-auto\"><div class=\"usermenu\">"
            . "<span class=\"userbutton\"><span class=\"usertext\">" . lms_h($u['firstname'] . ' ' . $u['lastname'])
            . "</span></span><div class=\"dropdown-menu\" id=\"user-action-menu\">"
            . "<a href=\"" . lms_h(lms_url('/user/profile.php', ['id' => lms_userid()])) . "\" class=\"dropdown-item\">Profile</a>"
            . "<a href=\"$logout\" class=\"dropdown-item\">Log out</a></div></div>\n"
            . "<form class=\"d-none\" method=\"post\" action=\"" . lms_h(lms_url('/user/preferences.php')) . "\">"
            . lms_hidden('sesskey', lms_sesskey()) . lms_hidden('userid', (string) lms_userid()) . "</form></div>\n";
    } else {
        echo "<div class=\"navbar-nav ml-auto\"><span class=\"login pl-2\"><a href=\""
            . lms_h(lms_url('/login/index.php')) . "\">Log in</a></span></div>\n";
    }
    echo "</nav>\n<div id=\"page\" data-region=\"mainpage\" class=\"drawers\">\n<div class=\"main-inner\">\n"
        . "<header id=\"page-header\" class=\"header-maxwidth d-print-none\"><h1 class=\"h2\">"
        . lms_h($p['heading'] ?? $p['title']) . "</h1></header>\n"
        . "<div id=\"page-content\" class=\"pb-3 d-print-block\"><div id=\"region-main-box\">"
        . "<section id=\"region-main\" aria-label=\"Content\">\n";
    if (!empty($_SESSION['notification'])) {
        echo "<div class=\"alert alert-success alert-block fade in  alert-dismissible\" role=\"alert\" data-aria-autofocus=\"true\">"
            . lms_h((string) $_SESSION['notification']) . "</div>\n";
        unset($_SESSION['notification']);
    }
}

/** Page tail: drawers, footer, padding, the JS init Moodle prints last. */
function lms_page_end(int $filler = 120): void
{
    echo "</section></div></div>\n</div>\n" . lms_filler('primary', $filler)
        . "<footer id=\"page-footer\" class=\"footer-popover bg-white\"><div class=\"footer-content-popover container\">"
        . "<div class=\"logininfo\">";
    if (lms_isloggedin()) {
        $u = $_SESSION['USER'];
        echo 'You are logged in as <a href="' . lms_h(lms_url('/user/profile.php', ['id' => lms_userid()])) . '">'
            . lms_h($u['firstname'] . ' ' . $u['lastname']) . '</a> (<a href="'
            . lms_h(lms_url('/login/logout.php', ['sesskey' => lms_sesskey()])) . '">Log out</a>)';
    } else {
        echo 'You are not logged in. (<a href="' . lms_h(lms_url('/login/index.php')) . '">Log in</a>)';
    }
    echo "</div><div class=\"tool_usertours-resettourcontainer\"></div>"
        . "<div class=\"purgecaches\">Served by " . lms_h(lms_config()['node']) . "</div></div></footer>\n"
        . "</div>\n</div>\n<script>//<![CDATA[\nM.util.js_pending('core/first'); require(['core/first'], function() {"
        . " M.util.js_complete('core/first'); });\n//]]>\n</script>\n</body>\n</html>\n";
}

/** A Moodle-style error page with full chrome (Moodle's print_error), e.g. 404. */
function lms_error_page(int $status, string $message, string $debug = ''): never
{
    while (ob_get_level() > 1) {
        ob_end_clean();
    }
    ob_clean();
    http_response_code($status);
    lms_page_start(['title' => 'Error', 'bodyid' => 'page-error', 'bodyclass' => 'path-error']);
    echo "<div class=\"box errorbox alert alert-danger\" data-rel=\"fatalerror\"><p class=\"errormessage\">"
        . lms_h($message) . "</p>";
    if ($debug !== '') {
        echo "<p class=\"errorcode\">" . lms_h($debug) . "</p>";
    }
    echo "<div class=\"continuebutton\"><a href=\"" . lms_h(lms_url('/')) . "\">Continue</a></div></div>\n";
    lms_page_end(40);
    lms_finish();
}

/** Course row or null. */
function lms_course(int $id): ?array
{
    return lms_db_row('SELECT id, fullname, shortname, summary, startdate, enddate, visible FROM mdl_course WHERE id = ?', [$id]);
}

/** Whether the user has an active enrolment in the course. */
function lms_is_enrolled(int $userid, int $courseid): bool
{
    return lms_db_row(
        'SELECT ue.id FROM mdl_user_enrolments ue JOIN mdl_enrol e ON e.id = ue.enrolid'
        . ' WHERE e.courseid = ? AND ue.userid = ? AND ue.status = 0 AND e.status = 0',
        [$courseid, $userid]
    ) !== null;
}

/** The courses a user is enrolled in, ordered by full name. */
function lms_enrolled_courses(int $userid): array
{
    return lms_db_rows(
        'SELECT DISTINCT c.id, c.fullname, c.shortname, c.summary, c.startdate, c.enddate, c.visible'
        . ' FROM mdl_course c JOIN mdl_enrol e ON e.courseid = c.id JOIN mdl_user_enrolments ue ON ue.enrolid = e.id'
        . ' WHERE ue.userid = ? AND ue.status = 0 AND e.status = 0 ORDER BY c.fullname, c.id',
        [$userid]
    );
}

/** Length in characters (mbstring is not always installed; iconv is part of PHP's core set). */
function lms_strlen(string $s): int
{
    if (function_exists('mb_strlen')) {
        return mb_strlen($s, 'UTF-8');
    }
    $n = iconv_strlen($s, 'UTF-8');
    return $n === false ? strlen($s) : $n;
}
