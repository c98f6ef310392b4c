<?php
// Moodle's file pool, as its file_system_filedir keeps it: every file's content once, named by
// its SHA-1 under <dataroot>/filedir/<h[0:2]>/<h[2:4]>/<h>, and an mdl_files row per use. The
// dataroot is where a cluster shares Moodle's data (the lab's file tier mounts it there); on a
// node's own disk, a file uploaded through one web node is missing on the others.
declare(strict_types=1);

/** The data directory (Apache SetEnv LMS_DATAROOT; Moodle's $CFG->dataroot). */
function lms_dataroot(): string
{
    return rtrim((string) lms_env('LMS_DATAROOT', '/srv/moodledata'), '/');
}

/** Where the content with SHA-1 $hash lives, relative to the dataroot. */
function lms_file_relpath(string $hash): string
{
    return 'filedir/' . substr($hash, 0, 2) . '/' . substr($hash, 2, 2) . '/' . $hash;
}

/**
 * Store $content in the pool (written to a temp name, synced, renamed: a file under its final
 * name is whole) and return its SHA-1. An error of the file system is an exception: the
 * request answers 500 and the client cannot count the upload as stored.
 */
function lms_file_store(string $content): string
{
    $hash = sha1($content);
    $path = lms_dataroot() . '/' . lms_file_relpath($hash);
    if (is_file($path) && sha1_file($path) === $hash) {
        return $hash;
    }
    $dir = dirname($path);
    if (!is_dir($dir) && !mkdir($dir, 02777, true) && !is_dir($dir)) {
        throw new RuntimeException("cannot create $dir");
    }
    $tmp = $path . '.' . bin2hex(random_bytes(4)) . '.tmp';
    $fh = fopen($tmp, 'xb');
    try {
        if (fwrite($fh, $content) !== strlen($content) || !fflush($fh) || !fsync($fh)) {
            throw new RuntimeException("cannot write $tmp");
        }
    } finally {
        fclose($fh);
    }
    if (!rename($tmp, $path)) {
        throw new RuntimeException("cannot rename $tmp to $path");
    }
    return $hash;
}

/** Moodle's pathnamehash: SHA-1 of /contextid/component/filearea/itemid/filepath filename. */
function lms_pathnamehash(int $contextid, string $component, string $filearea, int $itemid, string $filename): string
{
    return sha1("/$contextid/$component/$filearea/$itemid/$filename");
}

/** The user's own context id (draft areas belong to it). */
function lms_user_contextid(int $userid): int
{
    return 5000000 + $userid;
}
