<?php
// Sessions. By default (LMS_SESSIONS=database) database sessions shaped like Moodle's
// \core\session\database: the session lives in mdl_sessions.sessdata and a request holds GET_LOCK
// on its own connection from read() to close(), so requests of one session are serialised across
// every web node, and a node that dies mid-request frees the lock with its connection.
// LMS_SESSIONS=node: PHP file sessions in LMS_SESSION_DIR, private to the node (a session is
// known to the node that made it only, as with Moodle's file sessions on local disk).
declare(strict_types=1);

/** The session lock could not be had in time (another request of the session holds it). */
final class LmsSessionLockTimeout extends RuntimeException
{
}

final class LmsSessionHandler implements SessionHandlerInterface, SessionUpdateTimestampHandlerInterface
{
    /** Name of the GET_LOCK held by this request, if any. */
    private ?string $lock = null;
    /** timemodified of the row read, to skip needless timestamp updates. */
    private int $readTimemodified = 0;
    /** Whether a row existed for the id read. */
    private bool $rowExists = false;

    public function __construct(private readonly PDO $db, private readonly string $dbname)
    {
    }

    public function open(string $path, string $name): bool
    {
        return true;
    }

    public function close(): bool
    {
        $this->releaseLock();
        return true;
    }

    public function read(string $id): string|false
    {
        $this->acquireLock($id);
        $st = $this->db->prepare('SELECT sessdata, timemodified FROM mdl_sessions WHERE sid = ?');
        $st->execute([$id]);
        $row = $st->fetch();
        if ($row === false) {
            $this->rowExists = false;
            $this->readTimemodified = 0;
            return '';
        }
        $this->rowExists = true;
        $this->readTimemodified = (int) $row['timemodified'];
        return (string) ($row['sessdata'] ?? '');
    }

    public function write(string $id, string $data): bool
    {
        $now = time();
        $userid = (int) ($_SESSION['USER']['id'] ?? 0);
        $ip = (string) ($_SERVER['REMOTE_ADDR'] ?? '');
        $st = $this->db->prepare(
            'INSERT INTO mdl_sessions (state, sid, userid, sessdata, timecreated, timemodified, firstip, lastip)'
            . ' VALUES (0, ?, ?, ?, ?, ?, ?, ?)'
            . ' ON DUPLICATE KEY UPDATE userid = VALUES(userid), sessdata = VALUES(sessdata),'
            . ' timemodified = VALUES(timemodified), lastip = VALUES(lastip)'
        );
        $st->execute([$id, $userid, $data, $now, $now, $ip, $ip]);
        return true;
    }

    public function destroy(string $id): bool
    {
        $this->db->prepare('DELETE FROM mdl_sessions WHERE sid = ?')->execute([$id]);
        if ($this->lock === $this->lockName($id)) {
            $this->releaseLock();
        }
        return true;
    }

    public function gc(int $max_lifetime): int|false
    {
        $now = time();
        $st = $this->db->prepare(
            'DELETE FROM mdl_sessions WHERE timemodified < ? OR (userid = 0 AND timemodified < ?)'
        );
        $st->execute([$now - LMS_SESSION_LIFETIME, $now - LMS_ANON_SESSION_LIFETIME]);
        return $st->rowCount();
    }

    /** Strict mode: an id the database does not know is replaced by a fresh one. */
    public function validateId(string $id): bool
    {
        $st = $this->db->prepare('SELECT 1 FROM mdl_sessions WHERE sid = ?');
        $st->execute([$id]);
        return $st->fetchColumn() !== false;
    }

    /** Unchanged data: touch timemodified at most every 20 s (Moodle skips frequent updates too). */
    public function updateTimestamp(string $id, string $data): bool
    {
        if (!$this->rowExists) {
            return $this->write($id, $data);
        }
        if (time() - $this->readTimemodified < 20) {
            return true;
        }
        $this->db->prepare('UPDATE mdl_sessions SET timemodified = ? WHERE sid = ?')->execute([time(), $id]);
        return true;
    }

    private function lockName(string $id): string
    {
        $name = $this->dbname . '-session-' . $id;
        // GET_LOCK names are limited to 64 characters.
        return strlen($name) <= 64 ? $name : 'lms-session-' . md5($name);
    }

    private function acquireLock(string $id): void
    {
        $name = $this->lockName($id);
        if ($this->lock === $name) {
            return;
        }
        $this->releaseLock();
        $st = $this->db->prepare('SELECT GET_LOCK(?, ?)');
        $st->execute([$name, LMS_SESSION_LOCK_TIMEOUT]);
        $got = $st->fetchColumn();
        if ((string) $got !== '1') {
            throw new LmsSessionLockTimeout(sprintf(
                'could not lock session %s within %d s (another request of this session holds it)',
                substr($id, 0, 6) . '...', LMS_SESSION_LOCK_TIMEOUT
            ));
        }
        $this->lock = $name;
    }

    private function releaseLock(): void
    {
        if ($this->lock === null) {
            return;
        }
        $name = $this->lock;
        $this->lock = null;
        try {
            $this->db->prepare('SELECT RELEASE_LOCK(?)')->execute([$name]);
        } catch (PDOException $e) {
            // The connection is gone: the server has dropped the lock with it.
        }
    }
}

/** Random string in Moodle's alphabet (random_string()). */
function lms_random_string(int $length): string
{
    $chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
    $out = '';
    for ($i = 0; $i < $length; $i++) {
        $out .= $chars[random_int(0, 61)];
    }
    return $out;
}

/**
 * Where sessions live: 'database' (the default, Moodle's \core\session\database: any node
 * serves any session) or 'node' (PHP file sessions in LMS_SESSION_DIR, a directory private to
 * this web node, like Moodle's file sessions on local disk: a session lives on one node only).
 */
function lms_session_store(): string
{
    $store = lms_env('LMS_SESSIONS', 'database');
    if ($store !== 'database' && $store !== 'node') {
        throw new RuntimeException("LMS_SESSIONS=$store: use database or node");
    }
    return $store;
}

/** Start (or resume) this request's session; every session carries a sesskey from birth. */
function lms_session_start(): void
{
    if (lms_session_store() === 'node') {
        $dir = lms_env('LMS_SESSION_DIR');
        if ($dir === null || !is_dir($dir)) {
            throw new RuntimeException('LMS_SESSIONS=node needs LMS_SESSION_DIR, an existing directory');
        }
        ini_set('session.save_handler', 'files');
        ini_set('session.save_path', $dir);
    } else {
        session_set_save_handler(new LmsSessionHandler(lms_db(), lms_config()['dbname']), true);
    }
    ini_set('session.use_strict_mode', '1');
    ini_set('session.use_cookies', '1');
    ini_set('session.use_only_cookies', '1');
    ini_set('session.use_trans_sid', '0');
    ini_set('session.cache_limiter', '');
    ini_set('session.sid_length', '26');
    ini_set('session.sid_bits_per_character', '5');
    ini_set('session.gc_probability', '1');
    ini_set('session.gc_divisor', '200');
    ini_set('session.gc_maxlifetime', (string) LMS_SESSION_LIFETIME);
    ini_set('session.lazy_write', '1');
    session_name('MoodleSession');
    session_set_cookie_params(['lifetime' => 0, 'path' => '/', 'httponly' => true]);
    session_start();
    lms_session_init();
}

/** Give a fresh session its anonymous user and sesskey. */
function lms_session_init(): void
{
    if (!isset($_SESSION['sesskey'])) {
        $_SESSION['sesskey'] = lms_random_string(10);
        $_SESSION['USER'] = ['id' => 0];
        $_SESSION['created'] = time();
    }
}

function lms_userid(): int
{
    return (int) ($_SESSION['USER']['id'] ?? 0);
}

function lms_isloggedin(): bool
{
    return lms_userid() > 0;
}

function lms_sesskey(): string
{
    return (string) $_SESSION['sesskey'];
}

/** Moodle's confirm_sesskey(): the request's sesskey parameter matches the session's. */
function lms_confirm_sesskey(?string $given): bool
{
    return $given !== null && $given !== '' && hash_equals(lms_sesskey(), $given);
}

/** Moodle's require_login(): anonymous requests go to the login page (303), remembering where. */
function lms_require_login(): void
{
    if (lms_isloggedin()) {
        return;
    }
    $_SESSION['wantsurl'] = lms_config()['wwwroot'] . ($_SERVER['REQUEST_URI'] ?? '/');
    lms_redirect('/login/index.php');
}

/** The login token (32 chars), kept until it is validated once. */
function lms_login_token(): string
{
    if (empty($_SESSION['logintoken'])) {
        $_SESSION['logintoken'] = lms_random_string(32);
    }
    return (string) $_SESSION['logintoken'];
}

/** Single use: any validation, right or wrong, rotates the token. */
function lms_validate_login_token(?string $given): bool
{
    $expected = (string) ($_SESSION['logintoken'] ?? '');
    unset($_SESSION['logintoken']);
    return $expected !== '' && $given !== null && hash_equals($expected, $given);
}

/** Log in: new session id (fixation), new sesskey, fresh login token. */
function lms_complete_login(array $user): void
{
    session_regenerate_id(true);
    $wantsurl = $_SESSION['wantsurl'] ?? null;
    $_SESSION = [
        'USER' => ['id' => (int) $user['id'], 'username' => $user['username'],
            'firstname' => $user['firstname'], 'lastname' => $user['lastname']],
        'sesskey' => lms_random_string(10),
        'created' => time(),
    ];
    if ($wantsurl !== null) {
        $_SESSION['wantsurl'] = $wantsurl;
    }
    $now = time();
    lms_db_exec(
        'UPDATE mdl_user SET lastlogin = currentlogin, currentlogin = ?, lastaccess = ? WHERE id = ?',
        [$now, $now, (int) $user['id']]
    );
}

/** Log out: the session row goes, a new anonymous session (new cookie) takes its place. */
function lms_logout(): void
{
    session_destroy();
    session_id(session_create_id());
    session_start();
    $_SESSION = [];
    lms_session_init();
}
