<?php
// Every public script starts with this file: configuration, error handling, buffering and the
// X-Lab-Node header. Output is buffered until the session is saved, so a request whose session
// write fails answers 503 instead of a page that claims success.
declare(strict_types=1);

require_once __DIR__ . '/config.php';
require_once __DIR__ . '/db.php';
require_once __DIR__ . '/session.php';
require_once __DIR__ . '/render.php';
require_once __DIR__ . '/auth_ldap.php';

ini_set('display_errors', '0');
ini_set('log_errors', '1');
error_reporting(E_ALL);

set_error_handler(static function (int $severity, string $message, string $file, int $line): bool {
    if ($severity & (E_DEPRECATED | E_USER_DEPRECATED | E_NOTICE | E_USER_NOTICE)) {
        error_log("lms: $message at $file:$line");
        return true;
    }
    // A warning (e.g. a failed session write) is an error, never a page with a PHP warning.
    throw new ErrorException($message, 0, $severity, $file, $line);
});

set_exception_handler(static function (Throwable $e): void {
    error_log('lms: ' . get_class($e) . ': ' . $e->getMessage() . ' at ' . $e->getFile() . ':' . $e->getLine());
    $db = $e instanceof PDOException || $e instanceof LmsDbUnavailable
        || ($e instanceof ErrorException && stripos($e->getMessage(), 'session') !== false);
    if ($e instanceof LmsSessionLockTimeout) {
        lms_fail(503, 'Session lock timeout', $e->getMessage());
    } elseif ($db) {
        lms_fail(503, 'Database unavailable', 'The database could not be used: ' . $e->getMessage());
    } else {
        lms_fail(500, 'Internal error', get_class($e) . ': ' . $e->getMessage());
    }
});

header('X-Lab-Node: ' . lms_config()['node']);
// where this node keeps sessions (the lab waits on it after `harness lab sessions`)
header('X-Lab-Sessions: ' . lms_session_store());
header('Cache-Control: private, pre-check=0, post-check=0, max-age=0, no-transform');
header('Pragma: no-cache');
header('Expires: Mon, 20 Aug 1969 09:23:00 GMT');
header('Content-Type: text/html; charset=utf-8');
ob_start();

/** Absolute URL under wwwroot (Moodle's redirects and links are absolute). */
function lms_url(string $path, array $params = []): string
{
    $url = lms_config()['wwwroot'] . $path;
    if ($params) {
        $url .= (str_contains($path, '?') ? '&' : '?') . http_build_query($params);
    }
    return $url;
}

/** Save the session, then send the buffered response. */
function lms_finish(): never
{
    if (session_status() === PHP_SESSION_ACTIVE) {
        session_write_close();
    }
    ob_end_flush();
    exit;
}

/** Moodle's redirect(): 303 with a small body. */
function lms_redirect(string $pathOrUrl): never
{
    $url = preg_match('#^https?://#', $pathOrUrl) ? $pathOrUrl : lms_url($pathOrUrl);
    while (ob_get_level() > 1) {
        ob_end_clean();
    }
    ob_clean();
    http_response_code(303);
    header('Location: ' . $url);
    $h = lms_h($url);
    echo "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Redirect</title></head><body>"
        . "<div class=\"continuebutton\">This page should automatically redirect. If nothing is happening "
        . "please use the continue link below.<br /><a href=\"$h\">Continue</a></div></body></html>";
    lms_finish();
}

/** An error page that never shows PHP internals; the session is left as it was. */
function lms_fail(int $status, string $title, string $message): never
{
    if (session_status() === PHP_SESSION_ACTIVE) {
        try {
            session_abort();
        } catch (Throwable $ignored) {
        }
    }
    while (ob_get_level() > 0) {
        ob_end_clean();
    }
    if (!headers_sent()) {
        http_response_code($status);
        header_remove('Set-Cookie');
        header('Content-Type: text/html; charset=utf-8');
        header('X-Lab-Node: ' . lms_config()['node']);
    }
    $t = lms_h($title);
    $m = lms_h($message);
    echo "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>$t</title></head>"
        . "<body id=\"page-error\"><div class=\"errorbox alert alert-danger\"><h2>$t</h2>"
        . "<p class=\"errormessage\">$m</p></div></body></html>";
    exit;
}
