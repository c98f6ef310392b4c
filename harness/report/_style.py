"""The report page's stylesheet, inlined into its <style> element (the page fetches nothing)."""

CSS = """
:root{--ok:#2f9e5b;--fail:#d7263d;--info:#f0a202;--fault:#5b4fcf;--ink:#1f2933;--muted:#6b7785;--line:#e3e7ec;--bg:#f6f7f9}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:14px/1.45 -apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1290px;margin:0 auto;padding:20px 22px 60px}
header.run{background:#17202b;color:#f3f5f7;padding:18px 22px 16px;border-radius:10px;margin-bottom:16px}
header.run h1{margin:0 0 4px;font-size:21px;font-weight:650}
header.run .meta{color:#b7c2cf;font-size:13px}
header.run .meta b{color:#f3f5f7;font-weight:600}
.mono,code{font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,monospace;font-size:12.5px}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(190px,1fr));gap:12px;margin:0 0 16px}
.card{background:#fff;border:1px solid var(--line);border-radius:9px;padding:12px 14px}
.card .k{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.card .v{font-size:26px;font-weight:650;margin-top:2px;font-variant-numeric:tabular-nums}
.card .s{color:var(--muted);font-size:12.5px}
.card.bad{border-color:#f3b4bd;background:#fff6f7}.card.bad .v{color:var(--fail)}
.card.good .v{color:var(--ok)}
section{background:#fff;border:1px solid var(--line);border-radius:10px;padding:16px 18px;margin:0 0 16px}
section.test{border-left:6px solid var(--ok)}
section.test.failed,section.test.error{border-left-color:var(--fail)}
section.test.skipped,section.test.unknown,section.test.no-result{border-left-color:#aab4bf}
h2{font-size:17px;margin:0 0 10px}
h3{font-size:13.5px;margin:18px 0 6px;color:#3a4653;text-transform:uppercase;letter-spacing:.04em}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{font-size:12px;color:var(--muted);font-weight:600;background:#fafbfc}
td.num,th.num{text-align:right;white-space:nowrap}
tr.hot td{background:#fff3f4}
td.nw{white-space:nowrap}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:650;color:#fff;background:#8a96a3;text-transform:uppercase;letter-spacing:.03em;white-space:nowrap}
.badge.passed,.badge.valid{background:var(--ok)}
.badge.failed,.badge.invalid,.badge.error{background:var(--fail)}
.badge.unknown{background:var(--info);color:#2b2100}
.badge.waived{background:#c4cad1;color:#2f3740;text-transform:none}
.tag{display:inline-block;padding:0 7px;border-radius:4px;background:#eef1f5;color:#3a4653;font-size:12px;margin-right:4px}
.tag.neg{background:#efe9fb;color:#4b2a8f}
.nodeid{overflow-wrap:anywhere}
.tag.fault{background:#ebe8fb;color:var(--fault)}
.title-row{display:flex;align-items:center;gap:10px;flex-wrap:wrap;margin-bottom:4px}
.title-row h2{margin:0}
.node{color:var(--muted);margin-bottom:8px;overflow-wrap:anywhere}
.err{background:#fff3f4;border:1px solid #f3b4bd;color:#8f1526;border-radius:7px;padding:8px 10px;white-space:pre-wrap;margin:8px 0}
.stats{display:flex;flex-wrap:wrap;gap:22px;margin:6px 0 10px}
.stat .k{color:var(--muted);font-size:12px}.stat .v{font-size:18px;font-weight:650;font-variant-numeric:tabular-nums}
.stat.bad .v{color:var(--fail)}.stat.good .v{color:var(--ok)}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:18px}
@media (max-width:1000px){.grid2{grid-template-columns:1fr}}
.ledger{display:flex;flex-wrap:wrap;gap:10px}
.ledger>div{min-width:108px;border:1px solid var(--line);border-radius:8px;padding:6px 10px}
.ledger .k{font-size:12px;color:var(--muted)}.ledger .v{font-size:20px;font-weight:650;font-variant-numeric:tabular-nums}
.ledger>.bad{border-color:#f3b4bd;background:#fff6f7}.ledger .bad .v{color:var(--fail)}
.legend{display:flex;gap:14px;flex-wrap:wrap;color:var(--muted);font-size:12.5px;margin:2px 0 6px}
.sw{display:inline-block;width:11px;height:11px;border-radius:2px;vertical-align:-1px;margin-right:4px}
svg{max-width:100%;height:auto;display:block}
svg text{font-family:-apple-system,"Segoe UI",Roboto,Arial,sans-serif;fill:#1f2933}
svg .lbl{font-size:12px;font-weight:600}
svg .sub{font-size:10.5px;fill:#6b7785}
svg .tick{font-size:10.5px;fill:#6b7785}
svg .ph{font-size:10px;fill:#3a4653}
svg .flt{font-size:11px;font-weight:650;fill:#5b4fcf}
svg .odur{font-size:11px;font-weight:700;fill:#b0142a}
svg .leg{font-size:10.5px}
svg .val{font-size:11.5px;font-weight:600}
svg .hn{font-size:12.5px;font-weight:650}
details summary{cursor:pointer;color:#3a4653}
pre.ex{background:#f6f7f9;border:1px solid var(--line);border-radius:6px;padding:6px 8px;white-space:pre-wrap;word-break:break-all;max-height:220px;overflow:auto;margin:4px 0}
a{color:#1f6fd1;text-decoration:none}a:hover{text-decoration:underline}
.muted{color:var(--muted)}
footer{color:var(--muted);font-size:12px;text-align:center}
.soak{border:1px solid var(--line);border-radius:9px;padding:10px 14px 12px;margin:8px 0 14px;background:#fbfcfd}
.soak h3:first-child{margin-top:4px}
td.problems{font-size:12.5px;color:#8f1526}
tr.notrun td{color:var(--muted)}
@media print{body{background:#fff}section,.card{break-inside:avoid}}
"""
