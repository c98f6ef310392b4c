-- Seed data of the lab LMS. Idempotent (INSERT IGNORE on fixed ids): safe on every lab start.
-- Users student001..student200 (ids 101..300), all with password "LabStudent-1"
-- (bcrypt, cost 10: the hash PHP's password_hash(PASSWORD_DEFAULT) makes and password_verify reads).
-- Course id=2 "Lab course" with a manual enrolment of every student; forum id=1 = course module id=1.
USE moodle;

INSERT IGNORE INTO mdl_user (id, auth, username, password, firstname, lastname, email, timecreated)
VALUES (1, 'nologin', 'guest', 'not cached', 'Guest user', ' ', 'root@localhost', 1700000000);

INSERT IGNORE INTO mdl_user (id, auth, username, password, firstname, lastname, email, timecreated)
WITH RECURSIVE seq (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < 200)
SELECT 100 + n, 'manual', CONCAT('student', LPAD(n, 3, '0')),
       '$2y$10$BWCQhv8rXpAJB60sCzrqdumOtdKnYCquQa28tYFHE.Luew1VfOo6.',
       'Student', LPAD(n, 3, '0'), CONCAT('student', LPAD(n, 3, '0'), '@lab.invalid'), 1700000000
FROM seq;

INSERT IGNORE INTO mdl_course (id, category, sortorder, fullname, shortname, summary, format, startdate, visible, timecreated, timemodified)
VALUES (1, 0, 1, 'Lab LMS', 'lab', 'Front page of the lab LMS', 'site', 0, 1, 1700000000, 1700000000),
       (2, 1, 10001, 'Lab course', 'LAB101', 'The course every lab student is enrolled in.', 'topics', 1700000000, 1, 1700000000, 1700000000);

INSERT IGNORE INTO mdl_enrol (id, enrol, status, courseid, sortorder, roleid, timecreated, timemodified)
VALUES (1, 'manual', 0, 2, 0, 5, 1700000000, 1700000000);

INSERT IGNORE INTO mdl_user_enrolments (id, status, enrolid, userid, timestart, timecreated, timemodified)
WITH RECURSIVE seq (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < 200)
SELECT n, 0, 1, 100 + n, 0, 1700000000, 1700000000 FROM seq;

INSERT IGNORE INTO mdl_modules (id, name, visible) VALUES (1, 'forum', 1);

INSERT IGNORE INTO mdl_forum (id, course, type, name, intro, introformat, timemodified)
VALUES (1, 2, 'general', 'Lab forum', 'Post here: every discussion is a ledger write of the harness.', 1, 1700000000);

INSERT IGNORE INTO mdl_course_modules (id, course, module, instance, section, added, visible)
VALUES (1, 2, 1, 1, 1, 1700000000, 1);
