<?php
// Login against LDAP as Moodle's auth_ldap does it: bind as the user, trying the servers of
// LMS_LDAP_HOSTS in order (Moodle's host_url, ';'-separated) and moving on to the next only when
// a server cannot be reached. A refused password is final: the next server would say the same.
// Moodle sets no network timeout, so a server that drops packets stalls every login until TCP
// gives up; LMS_LDAP_NETWORK_TIMEOUT (seconds) adds one, to compare the two designs.
declare(strict_types=1);

/** LDAP result code of a refused password (RFC 4511 invalidCredentials). */
const LMS_LDAP_INVALID_CREDENTIALS = 49;

/**
 * The LDAP settings of this request.
 *
 * @return array{hosts:list<string>,context:string,attribute:string,network_timeout:?int}
 */
function lms_ldap_config(): array
{
    $hosts = array_values(array_filter(array_map('trim', explode(';', (string) lms_env('LMS_LDAP_HOSTS', '')))));
    $timeout = lms_env('LMS_LDAP_NETWORK_TIMEOUT');
    return [
        'hosts' => $hosts,
        'context' => (string) lms_env('LMS_LDAP_CONTEXT', ''),
        'attribute' => (string) lms_env('LMS_LDAP_USER_ATTRIBUTE', 'uid'),
        'network_timeout' => $timeout === null ? null : max(1, (int) $timeout),
    ];
}

/** The user's DN: <attribute>=<escaped username>,<context>. */
function lms_ldap_user_dn(string $username, array $cfg): string
{
    return $cfg['attribute'] . '=' . ldap_escape($username, '', LDAP_ESCAPE_DN) . ',' . $cfg['context'];
}

/**
 * Bind as the user on the first server that answers.
 *
 * @return array{ok:bool,server:?string,error:?string} server: the URL that answered (or none)
 */
function lms_ldap_authenticate(string $username, string $password): array
{
    $cfg = lms_ldap_config();
    if (!function_exists('ldap_connect')) {
        return ['ok' => false, 'server' => null, 'error' => 'PHP has no ldap extension (php-ldap)'];
    }
    if ($cfg['hosts'] === [] || $cfg['context'] === '') {
        return ['ok' => false, 'server' => null, 'error' => 'LMS_LDAP_HOSTS or LMS_LDAP_CONTEXT not set'];
    }
    if ($password === '') {  // an empty password is an anonymous bind: it would "succeed"
        return ['ok' => false, 'server' => null, 'error' => 'empty password'];
    }
    $dn = lms_ldap_user_dn($username, $cfg);
    $errors = [];
    foreach ($cfg['hosts'] as $url) {
        $conn = ldap_connect($url);  // parses the URL only: nothing is sent yet
        if ($conn === false) {
            $errors[] = "$url: not an LDAP URL";
            continue;
        }
        ldap_set_option($conn, LDAP_OPT_PROTOCOL_VERSION, 3);
        ldap_set_option($conn, LDAP_OPT_REFERRALS, 0);
        if ($cfg['network_timeout'] !== null) {
            ldap_set_option($conn, LDAP_OPT_NETWORK_TIMEOUT, $cfg['network_timeout']);
            ldap_set_option($conn, LDAP_OPT_TIMEOUT, $cfg['network_timeout']);
        }
        try {
            $bound = ldap_bind($conn, $dn, $password);
        } catch (ErrorException $e) {  // the lab's error handler turns ldap_bind's warning into this
            $bound = false;
        }
        $errno = $bound ? 0 : ldap_errno($conn);
        $error = $bound ? null : ldap_err2str($errno);
        ldap_unbind($conn);
        if ($bound) {
            return ['ok' => true, 'server' => $url, 'error' => null];
        }
        if ($errno === LMS_LDAP_INVALID_CREDENTIALS) {
            return ['ok' => false, 'server' => $url, 'error' => $error];
        }
        $errors[] = "$url: $error";
    }
    return ['ok' => false, 'server' => null, 'error' => implode('; ', $errors)];
}
