<?php
// Moodle's AJAX web-service endpoint: POST a JSON list of calls, get a JSON list of replies.
// Errors are HTTP 200 with "error": true and an errorcode (servicerequireslogin, invalidsesskey).
// As in Moodle, the first failing call stops the remaining ones.
declare(strict_types=1);
require_once __DIR__ . '/../../../lib/setup.php';

/** A web-service error: becomes {"error": true, "exception": {...}} in the reply. */
final class LmsWsException extends RuntimeException
{
    public function __construct(public readonly string $errorcode, string $message)
    {
        parent::__construct($message);
    }
}

header('Content-Type: application/json; charset=utf-8');
lms_session_start();

/** @return array<string, array{login: bool, fn: callable}> */
function lms_ws_functions(): array
{
    return [
        'core_course_get_enrolled_courses_by_timeline_classification' => ['login' => true, 'fn' => 'lms_ws_enrolled_courses'],
        'core_calendar_get_action_events_by_timesort' => ['login' => true, 'fn' => 'lms_ws_action_events'],
        'block_recentlyaccesseditems_get_recent_items' => ['login' => true, 'fn' => 'lms_ws_recent_items'],
        'core_courseformat_get_state' => ['login' => true, 'fn' => 'lms_ws_course_state'],
    ];
}

function lms_ws_course_record(array $c): array
{
    $viewurl = lms_url('/course/view.php', ['id' => (int) $c['id']]);
    return [
        'id' => (int) $c['id'], 'fullname' => $c['fullname'], 'shortname' => $c['shortname'], 'idnumber' => '',
        'summary' => (string) $c['summary'], 'summaryformat' => 1, 'startdate' => (int) $c['startdate'],
        'enddate' => (int) $c['enddate'], 'visible' => (bool) $c['visible'], 'showactivitydates' => true,
        'showcompletionconditions' => true, 'pdfexportfont' => '', 'fullnamedisplay' => $c['fullname'],
        'viewurl' => $viewurl, 'courseimage' => 'data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=',
        'progress' => 0, 'hasprogress' => true, 'isfavourite' => false, 'hidden' => false,
        'showshortname' => false, 'coursecategory' => 'Lab',
    ];
}

function lms_ws_enrolled_courses(array $args): array
{
    foreach (['classification'] as $required) {
        if (!isset($args[$required])) {
            throw new LmsWsException('invalidparameter', "Invalid parameter value detected ($required: Missing required key in single structure: $required)");
        }
    }
    $offset = max(0, (int) ($args['offset'] ?? 0));
    $limit = max(0, (int) ($args['limit'] ?? 0));
    $classification = (string) $args['classification'];
    $courses = lms_enrolled_courses(lms_userid());
    $now = time();
    $courses = array_values(array_filter($courses, static function (array $c) use ($classification, $now): bool {
        $started = (int) $c['startdate'] <= $now;
        $ended = (int) $c['enddate'] > 0 && (int) $c['enddate'] < $now;
        return match ($classification) {
            'past' => $ended,
            'future' => !$started,
            'inprogress' => $started && !$ended,
            'favourites', 'hidden' => false,
            default => true,
        };
    }));
    $page = array_slice($courses, $offset, $limit > 0 ? $limit : null);
    return ['courses' => array_map('lms_ws_course_record', $page), 'nextoffset' => $offset + count($page)];
}

function lms_ws_action_events(array $args): array
{
    return ['events' => [], 'firstid' => 0, 'lastid' => 0];
}

function lms_ws_recent_items(array $args): array
{
    $limit = max(1, min(100, (int) ($args['limit'] ?? 9)));
    $rows = lms_db_rows(
        'SELECT r.id, r.courseid, r.cmid, r.userid, r.timeaccess, f.name, c.fullname AS coursename'
        . ' FROM mdl_block_recentlyaccesseditems r JOIN mdl_course_modules cm ON cm.id = r.cmid'
        . ' JOIN mdl_forum f ON f.id = cm.instance JOIN mdl_course c ON c.id = r.courseid'
        . ' WHERE r.userid = ? ORDER BY r.timeaccess DESC LIMIT ' . $limit,
        [lms_userid()]
    );
    return array_map(static fn(array $r): array => [
        'id' => (int) $r['id'], 'courseid' => (int) $r['courseid'], 'cmid' => (int) $r['cmid'],
        'userid' => (int) $r['userid'], 'modname' => 'forum', 'name' => $r['name'], 'coursename' => $r['coursename'],
        'timeaccess' => (int) $r['timeaccess'],
        'viewurl' => lms_url('/mod/forum/view.php', ['id' => (int) $r['cmid']]),
        'courseviewurl' => lms_url('/course/view.php', ['id' => (int) $r['courseid']]),
        'icon' => '<img class="icon" alt="Forum" src="' . lms_h(lms_url('/theme/image.php/boost/forum/1/monologo')) . '">',
        'purpose' => 'collaboration',
    ], $rows);
}

function lms_ws_course_state(array $args): string
{
    if (!isset($args['courseid'])) {
        throw new LmsWsException('invalidparameter', 'Invalid parameter value detected (courseid: Missing required key in single structure: courseid)');
    }
    $id = (int) $args['courseid'];
    $course = $id > 1 ? lms_course($id) : null;
    if ($course === null) {
        throw new LmsWsException('invalidrecord', "Can't find data record in database table course.");
    }
    if (!lms_is_enrolled(lms_userid(), $id)) {
        throw new LmsWsException('requireloginerror', 'Course or activity not accessible. (Not enrolled)');
    }
    $sections = [];
    for ($s = 0; $s <= 10; $s++) {
        $sections[] = ['id' => (string) (10 * $id + $s), 'section' => $s, 'number' => $s,
            'title' => $s === 0 ? 'General' : "Topic $s", 'hassummary' => false, 'rawtitle' => '',
            'cmlist' => $s === 1 ? ['1'] : [], 'visible' => true, 'sectionurl' => lms_url('/course/section.php', ['id' => 10 * $id + $s]),
            'current' => false, 'indent' => 0, 'component' => null, 'itemid' => null];
    }
    $cms = [];
    foreach (lms_db_rows('SELECT cm.id, cm.section, f.name FROM mdl_course_modules cm JOIN mdl_forum f ON f.id = cm.instance WHERE cm.course = ?', [$id]) as $cm) {
        $cms[] = ['id' => (string) $cm['id'], 'anchor' => 'module-' . $cm['id'], 'name' => $cm['name'], 'visible' => true,
            'stealth' => false, 'sectionid' => (string) (10 * $id + (int) $cm['section']), 'sectionnumber' => (int) $cm['section'],
            'uservisible' => true, 'hascmrestrictions' => false, 'modname' => 'Forum', 'indent' => 0, 'module' => 'forum',
            'plugin' => 'mod_forum', 'url' => lms_url('/mod/forum/view.php', ['id' => (int) $cm['id']]), 'istrackeduser' => false];
    }
    $state = ['course' => ['id' => (string) $id, 'numsections' => 10, 'sectionlist' => array_column($sections, 'id'),
        'editmode' => false, 'highlighted' => 'Highlighted', 'maxsections' => '52', 'baseurl' => lms_url('/course/view.php', ['id' => $id]),
        'statekey' => '1700000000_' . time()], 'section' => $sections, 'cm' => $cms];
    return json_encode($state);
}

$raw = (string) file_get_contents('php://input');
$requests = json_decode($raw, true);
$responses = [];
if (!is_array($requests) || !array_is_list($requests)) {
    $responses[] = ['error' => true, 'exception' => ['message' => 'Invalid json in request: ' . json_last_error_msg(),
        'errorcode' => 'invalidjson', 'link' => lms_url('/'), 'moreinfourl' => 'https://docs.moodle.org/en/error/moodle/invalidjson']];
} else {
    $functions = lms_ws_functions();
    $sesskey = isset($_GET['sesskey']) ? (string) $_GET['sesskey'] : null;
    foreach ($requests as $pos => $request) {
        $index = is_array($request) ? (int) ($request['index'] ?? $pos) : $pos;
        try {
            $name = is_array($request) ? (string) ($request['methodname'] ?? '') : '';
            if (!isset($functions[$name])) {
                throw new LmsWsException('servicenotavailable', 'Web service is not available (it doesn\'t exist or might be disabled)');
            }
            if ($functions[$name]['login']) {
                if (!lms_isloggedin()) {
                    throw new LmsWsException('servicerequireslogin', 'Web service is not available (it requires login)');
                }
                if (!lms_confirm_sesskey($sesskey)) {
                    throw new LmsWsException('invalidsesskey', 'Your session has most likely timed out. Please log in again.');
                }
            }
            $args = is_array($request['args'] ?? null) ? $request['args'] : [];
            $responses[$index] = ['error' => false, 'data' => ($functions[$name]['fn'])($args)];
        } catch (LmsWsException $e) {
            $responses[$index] = ['error' => true, 'exception' => ['message' => $e->getMessage(), 'errorcode' => $e->errorcode,
                'link' => lms_url('/'), 'moreinfourl' => 'https://docs.moodle.org/en/error/moodle/' . $e->errorcode]];
            break;  // Moodle does not process the calls after a failed one.
        }
    }
    ksort($responses);
    $responses = array_values($responses);
}
echo json_encode($responses);
lms_finish();
