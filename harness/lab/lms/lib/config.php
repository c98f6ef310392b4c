<?php
// Configuration of the lab LMS: only from the web server's environment (Apache SetEnv), so the
// same document root serves every web node and the lab owns no config file per node.
declare(strict_types=1);

/** One setting from Apache SetEnv ($_SERVER) or the process environment; '' counts as unset. */
function lms_env(string $name, ?string $default = null): ?string
{
    $value = $_SERVER[$name] ?? getenv($name);
    if ($value === false || $value === null || $value === '') {
        return $default;
    }
    return (string) $value;
}

/**
 * The settings of this request, read once.
 *
 * @return array{dbhost:string,dbport:int,dbname:string,dbuser:string,dbpass:string,node:string,wwwroot:string}
 */
function lms_config(): array
{
    static $config = null;
    if ($config !== null) {
        return $config;
    }
    $wwwroot = lms_env('LMS_WWWROOT');
    if ($wwwroot === null) {
        // Without LMS_WWWROOT, answer with the host the client asked for (no redirect rule).
        $scheme = (!empty($_SERVER['HTTPS']) && $_SERVER['HTTPS'] !== 'off') ? 'https' : 'http';
        $host = $_SERVER['HTTP_HOST'] ?? ($_SERVER['SERVER_NAME'] ?? 'localhost');
        $wwwroot = $scheme . '://' . $host;
    }
    $config = [
        'dbhost' => lms_env('LMS_DB_HOST', '127.0.0.1'),
        'dbport' => (int) lms_env('LMS_DB_PORT', '3306'),
        'dbname' => lms_env('LMS_DB_NAME', 'moodle'),
        'dbuser' => lms_env('LMS_DB_USER', 'moodle'),
        'dbpass' => lms_env('LMS_DB_PASSWORD', ''),
        'node' => lms_env('LMS_NODE', (string) gethostname()),
        'wwwroot' => rtrim($wwwroot, '/'),
    ];
    return $config;
}

/** Seconds to wait for a database connection: short, so a dead DB VIP answers 503 fast. */
const LMS_DB_CONNECT_TIMEOUT = 3;
/** Seconds a query may block reading (covers the session lock wait below). */
const LMS_DB_READ_TIMEOUT = 40;
/** Seconds a request waits for its session's lock (Moodle waits up to 120 s by default). */
const LMS_SESSION_LOCK_TIMEOUT = 30;
/** Anonymous sessions untouched this long are garbage (health checks create one per probe). */
const LMS_ANON_SESSION_LIFETIME = 900;
/** Logged-in sessions untouched this long are garbage (Moodle's default sessiontimeout). */
const LMS_SESSION_LIFETIME = 28800;
