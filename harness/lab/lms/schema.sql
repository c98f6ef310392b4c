-- Schema of the lab LMS: the tables it touches, shaped like Moodle's (mdl_ prefix).
-- Idempotent: safe to apply on every lab start. Every table has a primary key (Galera needs one).
CREATE DATABASE IF NOT EXISTS moodle CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
USE moodle;

CREATE TABLE IF NOT EXISTS mdl_user (
    id BIGINT NOT NULL AUTO_INCREMENT,
    auth VARCHAR(20) NOT NULL DEFAULT 'manual',
    confirmed TINYINT NOT NULL DEFAULT 1,
    deleted TINYINT NOT NULL DEFAULT 0,
    suspended TINYINT NOT NULL DEFAULT 0,
    username VARCHAR(100) NOT NULL,
    password VARCHAR(255) NOT NULL DEFAULT '',
    firstname VARCHAR(100) NOT NULL DEFAULT '',
    lastname VARCHAR(100) NOT NULL DEFAULT '',
    email VARCHAR(100) NOT NULL DEFAULT '',
    firstaccess BIGINT NOT NULL DEFAULT 0,
    lastaccess BIGINT NOT NULL DEFAULT 0,
    lastlogin BIGINT NOT NULL DEFAULT 0,
    currentlogin BIGINT NOT NULL DEFAULT 0,
    timecreated BIGINT NOT NULL DEFAULT 0,
    timemodified BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (id),
    UNIQUE KEY mdl_user_use_uix (username)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS mdl_sessions (
    id BIGINT NOT NULL AUTO_INCREMENT,
    state BIGINT NOT NULL DEFAULT 0,
    sid VARCHAR(128) NOT NULL DEFAULT '',
    userid BIGINT NOT NULL DEFAULT 0,
    sessdata LONGTEXT,
    timecreated BIGINT NOT NULL DEFAULT 0,
    timemodified BIGINT NOT NULL DEFAULT 0,
    firstip VARCHAR(45),
    lastip VARCHAR(45),
    PRIMARY KEY (id),
    UNIQUE KEY mdl_sess_sid_uix (sid),
    KEY mdl_sess_tim_ix (timemodified),
    KEY mdl_sess_use_ix (userid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS mdl_course (
    id BIGINT NOT NULL AUTO_INCREMENT,
    category BIGINT NOT NULL DEFAULT 0,
    sortorder BIGINT NOT NULL DEFAULT 0,
    fullname VARCHAR(254) NOT NULL DEFAULT '',
    shortname VARCHAR(255) NOT NULL DEFAULT '',
    idnumber VARCHAR(100) NOT NULL DEFAULT '',
    summary LONGTEXT,
    format VARCHAR(21) NOT NULL DEFAULT 'topics',
    startdate BIGINT NOT NULL DEFAULT 0,
    enddate BIGINT NOT NULL DEFAULT 0,
    visible TINYINT NOT NULL DEFAULT 1,
    timecreated BIGINT NOT NULL DEFAULT 0,
    timemodified BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS mdl_enrol (
    id BIGINT NOT NULL AUTO_INCREMENT,
    enrol VARCHAR(20) NOT NULL DEFAULT 'manual',
    status BIGINT NOT NULL DEFAULT 0,
    courseid BIGINT NOT NULL,
    sortorder BIGINT NOT NULL DEFAULT 0,
    roleid BIGINT NOT NULL DEFAULT 5,
    timecreated BIGINT NOT NULL DEFAULT 0,
    timemodified BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (id),
    KEY mdl_enro_cou_ix (courseid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS mdl_user_enrolments (
    id BIGINT NOT NULL AUTO_INCREMENT,
    status BIGINT NOT NULL DEFAULT 0,
    enrolid BIGINT NOT NULL,
    userid BIGINT NOT NULL,
    timestart BIGINT NOT NULL DEFAULT 0,
    timeend BIGINT NOT NULL DEFAULT 2147483647,
    modifierid BIGINT NOT NULL DEFAULT 0,
    timecreated BIGINT NOT NULL DEFAULT 0,
    timemodified BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (id),
    UNIQUE KEY mdl_userenro_enruse_uix (enrolid, userid),
    KEY mdl_userenro_use_ix (userid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS mdl_modules (
    id BIGINT NOT NULL AUTO_INCREMENT,
    name VARCHAR(20) NOT NULL DEFAULT '',
    visible TINYINT NOT NULL DEFAULT 1,
    PRIMARY KEY (id),
    UNIQUE KEY mdl_modu_nam_uix (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS mdl_course_modules (
    id BIGINT NOT NULL AUTO_INCREMENT,
    course BIGINT NOT NULL DEFAULT 0,
    module BIGINT NOT NULL DEFAULT 0,
    instance BIGINT NOT NULL DEFAULT 0,
    section BIGINT NOT NULL DEFAULT 0,
    idnumber VARCHAR(100),
    added BIGINT NOT NULL DEFAULT 0,
    visible TINYINT NOT NULL DEFAULT 1,
    PRIMARY KEY (id),
    KEY mdl_courmodu_cou_ix (course),
    KEY mdl_courmodu_modins_ix (module, instance)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS mdl_forum (
    id BIGINT NOT NULL AUTO_INCREMENT,
    course BIGINT NOT NULL DEFAULT 0,
    type VARCHAR(20) NOT NULL DEFAULT 'general',
    name VARCHAR(255) NOT NULL DEFAULT '',
    intro LONGTEXT,
    introformat SMALLINT NOT NULL DEFAULT 1,
    timemodified BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (id),
    KEY mdl_foru_cou_ix (course)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS mdl_forum_discussions (
    id BIGINT NOT NULL AUTO_INCREMENT,
    course BIGINT NOT NULL DEFAULT 0,
    forum BIGINT NOT NULL DEFAULT 0,
    name VARCHAR(255) NOT NULL DEFAULT '',
    firstpost BIGINT NOT NULL DEFAULT 0,
    userid BIGINT NOT NULL DEFAULT 0,
    groupid BIGINT NOT NULL DEFAULT -1,
    assessed TINYINT NOT NULL DEFAULT 1,
    timemodified BIGINT NOT NULL DEFAULT 0,
    usermodified BIGINT NOT NULL DEFAULT 0,
    timestart BIGINT NOT NULL DEFAULT 0,
    timeend BIGINT NOT NULL DEFAULT 0,
    pinned TINYINT NOT NULL DEFAULT 0,
    timelocked BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (id),
    KEY mdl_forudisc_use_ix (userid),
    KEY mdl_forudisc_for_ix (forum)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS mdl_forum_posts (
    id BIGINT NOT NULL AUTO_INCREMENT,
    discussion BIGINT NOT NULL DEFAULT 0,
    parent BIGINT NOT NULL DEFAULT 0,
    userid BIGINT NOT NULL DEFAULT 0,
    created BIGINT NOT NULL DEFAULT 0,
    modified BIGINT NOT NULL DEFAULT 0,
    mailed TINYINT NOT NULL DEFAULT 0,
    subject VARCHAR(255) NOT NULL DEFAULT '',
    message LONGTEXT NOT NULL,
    messageformat TINYINT NOT NULL DEFAULT 0,
    messagetrust TINYINT NOT NULL DEFAULT 0,
    attachment VARCHAR(100) NOT NULL DEFAULT '',
    totalscore SMALLINT NOT NULL DEFAULT 0,
    mailnow BIGINT NOT NULL DEFAULT 0,
    deleted TINYINT NOT NULL DEFAULT 0,
    privatereplyto BIGINT NOT NULL DEFAULT 0,
    wordcount BIGINT,
    charcount BIGINT,
    PRIMARY KEY (id),
    KEY mdl_forupost_use_ix (userid),
    KEY mdl_forupost_dis_ix (discussion),
    KEY mdl_forupost_par_ix (parent)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS mdl_block_recentlyaccesseditems (
    id BIGINT NOT NULL AUTO_INCREMENT,
    courseid BIGINT NOT NULL,
    cmid BIGINT NOT NULL,
    userid BIGINT NOT NULL,
    timeaccess BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (id),
    UNIQUE KEY mdl_blocrece_usecm_uix (userid, cmid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Moodle's file records (lib/files.php keeps the content under the dataroot's filedir)
CREATE TABLE IF NOT EXISTS mdl_files (
    id BIGINT NOT NULL AUTO_INCREMENT,
    contenthash VARCHAR(40) NOT NULL DEFAULT '',
    pathnamehash VARCHAR(40) NOT NULL DEFAULT '',
    contextid BIGINT NOT NULL,
    component VARCHAR(100) NOT NULL DEFAULT '',
    filearea VARCHAR(50) NOT NULL DEFAULT '',
    itemid BIGINT NOT NULL,
    filepath VARCHAR(255) NOT NULL DEFAULT '',
    filename VARCHAR(255) NOT NULL DEFAULT '',
    userid BIGINT,
    filesize BIGINT NOT NULL,
    mimetype VARCHAR(100),
    timecreated BIGINT NOT NULL,
    timemodified BIGINT NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY mdl_file_pat_uix (pathnamehash),
    KEY mdl_file_comfilite_ix (component, filearea, itemid),
    KEY mdl_file_con_ix (contenthash)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
