<?php
// Database access: one PDO connection per request, the same one that holds the session lock,
// so a web node that dies releases its locks at once (the connection drops).
declare(strict_types=1);

/** The database (through the DB VIP) cannot be reached or failed mid-request: answer 503. */
final class LmsDbUnavailable extends RuntimeException
{
}

/** This request's connection, opened on first use. */
function lms_db(): PDO
{
    static $pdo = null;
    if ($pdo !== null) {
        return $pdo;
    }
    $c = lms_config();
    // mysqlnd's read timeout defaults to a day: a frozen DB node would hang the worker.
    ini_set('mysqlnd.net_read_timeout', (string) LMS_DB_READ_TIMEOUT);
    $dsn = sprintf('mysql:host=%s;port=%d;dbname=%s;charset=utf8mb4', $c['dbhost'], $c['dbport'], $c['dbname']);
    try {
        $pdo = new PDO($dsn, $c['dbuser'], $c['dbpass'], [
            PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION,
            PDO::ATTR_TIMEOUT => LMS_DB_CONNECT_TIMEOUT,
            PDO::ATTR_EMULATE_PREPARES => false,
            PDO::ATTR_DEFAULT_FETCH_MODE => PDO::FETCH_ASSOC,
            PDO::ATTR_PERSISTENT => false,
        ]);
    } catch (PDOException $e) {
        throw new LmsDbUnavailable(sprintf(
            'cannot connect to database %s on %s:%d as %s: %s',
            $c['dbname'], $c['dbhost'], $c['dbport'], $c['dbuser'], $e->getMessage()
        ), 0, $e);
    }
    return $pdo;
}

/** First row of a query, or null. */
function lms_db_row(string $sql, array $params = []): ?array
{
    $st = lms_db()->prepare($sql);
    $st->execute($params);
    $row = $st->fetch();
    return $row === false ? null : $row;
}

/** All rows of a query. */
function lms_db_rows(string $sql, array $params = []): array
{
    $st = lms_db()->prepare($sql);
    $st->execute($params);
    return $st->fetchAll();
}

/** Run a statement; returns the number of affected rows. */
function lms_db_exec(string $sql, array $params = []): int
{
    $st = lms_db()->prepare($sql);
    $st->execute($params);
    return $st->rowCount();
}
