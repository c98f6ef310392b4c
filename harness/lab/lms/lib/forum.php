<?php
// Forum pieces shared by view.php and post.php: the forum record and the inline
// "Add discussion topic" form (id="mformforum") Moodle prints above the discussion list.
declare(strict_types=1);

/** Forum with its course module, by cmid or by forum id; null when missing. */
function lms_forum(?int $cmid, ?int $forumid): ?array
{
    $sql = 'SELECT f.id, f.course, f.name, f.intro, cm.id AS cmid FROM mdl_forum f'
        . " JOIN mdl_course_modules cm ON cm.instance = f.id JOIN mdl_modules m ON m.id = cm.module AND m.name = 'forum'";
    if ($cmid !== null) {
        return lms_db_row($sql . ' WHERE cm.id = ?', [$cmid]);
    }
    return lms_db_row($sql . ' WHERE f.id = ?', [(int) $forumid]);
}

/** The inline post form; $errors maps field => message when shown again. */
function lms_forum_form(array $forum, array $values = [], array $errors = []): string
{
    $draft = (string) random_int(100000000, 999999999);
    $attachments = (string) random_int(100000000, 999999999);  // the attachments file manager's own draft area
    $subject = (string) ($values['subject'] ?? '');
    $message = (string) ($values['message'] ?? '');
    $out = '<div class="forum-post-form"><form autocomplete="off" action="' . lms_h(lms_url('/mod/forum/post.php'))
        . '" method="post" accept-charset="utf-8" id="mformforum" class="mform" data-boost-form-errors-enhanced="1">' . "\n"
        . "<div style=\"display: none;\">"
        . lms_hidden('course', (string) $forum['course'])
        . lms_hidden('forum', (string) $forum['id'])
        . lms_hidden('discussion', '0')
        . lms_hidden('parent', '0')
        . lms_hidden('groupid', '')
        . lms_hidden('edit', '0')
        . lms_hidden('reply', '0')
        . lms_hidden('discussionsubscribe', '1')
        . lms_hidden('sesskey', lms_sesskey())
        . lms_hidden('_qf__mod_forum_post_form', '1')
        . "</div>\n<div id=\"fitem_id_subject\" class=\"mb-3 row fitem" . (isset($errors['subject']) ? ' has-danger' : '') . "\">"
        . "<label class=\"d-inline word-break\" for=\"id_subject\">Subject</label>"
        . "<input type=\"text\" class=\"form-control" . (isset($errors['subject']) ? ' is-invalid' : '') . "\" name=\"subject\" id=\"id_subject\" value=\""
        . lms_h($subject) . "\" size=\"48\" maxlength=\"255\">"
        . "<div class=\"form-control-feedback invalid-feedback\" id=\"id_error_subject\">"
        . lms_h($errors['subject'] ?? '') . "</div></div>\n"
        . "<div id=\"fitem_id_message\" class=\"mb-3 row fitem" . (isset($errors['message']) ? ' has-danger' : '') . "\">"
        . "<label for=\"id_messageeditable\">Message</label><textarea id=\"id_message\" name=\"message[text]\" rows=\"5\" cols=\"10\""
        . " class=\"form-control\">" . lms_h($message) . "</textarea>"
        . lms_hidden('message[format]', '1', 'id="menumessageformat"')
        . lms_hidden('message[itemid]', $draft)
        . lms_hidden('attachments', $attachments)
        . "<div class=\"form-control-feedback invalid-feedback\" id=\"id_error_message\">"
        . lms_h($errors['message'] ?? '') . "</div></div>\n"
        . "<div class=\"mb-3 row fitem femptylabel\"><input type=\"submit\" class=\"btn btn-primary\" name=\"submitbutton\""
        . " id=\"id_submitbutton\" value=\"Post to forum\"> <input type=\"submit\" class=\"btn btn-secondary\" name=\"advancedadddiscussion\""
        . " id=\"id_advancedadddiscussion\" value=\"Advanced\"></div>\n</form></div>\n";
    return $out;
}

/** Record a module view for the recently accessed items block (Moodle writes this on every view). */
function lms_record_access(int $courseid, int $cmid): void
{
    lms_db_exec(
        'INSERT INTO mdl_block_recentlyaccesseditems (courseid, cmid, userid, timeaccess) VALUES (?, ?, ?, ?)'
        . ' ON DUPLICATE KEY UPDATE timeaccess = VALUES(timeaccess)',
        [$courseid, $cmid, lms_userid(), time()]
    );
}
