<?php
// Dashboard: blocks filled client-side by AJAX (timeline, calendar, recently accessed items).
declare(strict_types=1);
require_once __DIR__ . '/../../lib/setup.php';

lms_session_start();
lms_require_login();
lms_db_exec('UPDATE mdl_user SET lastaccess = ? WHERE id = ? AND lastaccess < ?', [time(), lms_userid(), time() - 60]);

lms_page_start(['title' => 'Dashboard', 'bodyid' => 'page-my-index',
    'bodyclass' => 'limitedwidth path-my chrome dir-ltr', 'heading' => 'Dashboard']);
$uid = lms_userid();
echo "<div class=\"block_timeline block\" data-block=\"timeline\" role=\"region\"><h5 class=\"card-title\">Timeline</h5>"
    . "<div data-region=\"timeline\" data-userid=\"$uid\" data-methodname=\"core_calendar_get_action_events_by_timesort\">"
    . "<div data-region=\"event-list-container\" data-limit=\"5\" data-days-limit=\"30\"></div></div></div>\n"
    . "<div class=\"block_recentlyaccesseditems block\" data-block=\"recentlyaccesseditems\" role=\"region\">"
    . "<h5 class=\"card-title\">Recently accessed items</h5><div data-region=\"recentlyaccesseditems-view\""
    . " data-userid=\"$uid\" data-noitemsimgurl=\"" . lms_h(lms_url('/theme/image.php/boost/block_recentlyaccesseditems/1/items')) . "\">"
    . "</div></div>\n"
    . "<div class=\"block_calendar_month block\" data-block=\"calendar_month\"><h5 class=\"card-title\">Calendar</h5>"
    . "<div class=\"calendarwrapper\" data-courseid=\"1\" data-context-id=\"2\" data-month=\"" . date('n') . "\" data-year=\"" . date('Y') . "\">";
echo '<table class="minicalendar calendartable"><tbody>';
for ($week = 0; $week < 5; $week++) {
    echo '<tr data-region="month-view-week">';
    for ($day = 1; $day <= 7; $day++) {
        $n = $week * 7 + $day;
        echo "<td class=\"day text-center\" data-day=\"$n\" data-region=\"day\"><span class=\"day-number\">$n</span></td>";
    }
    echo "</tr>\n";
}
echo "</tbody></table></div></div>\n";
lms_page_end(130);
lms_finish();
