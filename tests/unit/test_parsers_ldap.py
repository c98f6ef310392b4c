"""OpenLDAP client output (ldapsearch -LLL, ldapwhoami), from text captured off slapd 2.5.13.

Captured on this machine from Debian bookworm's slapd (mdb, syncprov, serverID 1 then 2),
ldap-utils 2.5.13: the samples are byte for byte what ldapsearch printed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import ParseError
from harness.parsers.ldap import (
    Csn,
    context_csns_agree,
    parse_context_csns,
    parse_csn,
    parse_ldif,
    parse_whoami,
)

SAMPLES = Path(__file__).parent / "samples"


def _sample(name: str) -> str:
    return (SAMPLES / name).read_text()


def test_one_servers_context_csn_is_keyed_by_its_server_id() -> None:
    csns = parse_context_csns(_sample("ldapsearch_contextcsn_one_sid.ldif"))
    assert csns == {1: Csn("20261203200153.635150Z", 0, 1, 0, "20261203200153.635150Z#000000#001#000000")}


def test_two_server_ids_give_two_csns_and_a_later_change_orders_after() -> None:
    csns = parse_context_csns(_sample("ldapsearch_contextcsn_two_sids.ldif"))
    assert sorted(csns) == [1, 2]
    assert csns[2].text == "20261203200200.528265Z#000000#002#000000"
    assert csns[2] > csns[1]


def test_providers_agree_only_on_the_same_csn_for_every_server_id() -> None:
    one = parse_context_csns(_sample("ldapsearch_contextcsn_one_sid.ldif"))
    two = parse_context_csns(_sample("ldapsearch_contextcsn_two_sids.ldif"))
    assert context_csns_agree(two, dict(two))
    assert not context_csns_agree(one, two)        # the second server's change not yet seen
    assert not context_csns_agree({}, {})          # nothing read is nothing known


def test_base64_values_are_decoded_and_folded_lines_joined() -> None:
    [entry] = parse_ldif(_sample("ldapsearch_userpassword_base64.ldif"))
    assert entry["dn"] == ["uid=student01,ou=people,dc=lab,dc=test"]
    assert entry["userpassword"] == ["{SSHA}AC9a6bt0lhx2ssTSiLTknxoyMUL2mgSx"]
    folded = "dn: dc=lab,dc=test\ncontextCSN: 20261203200153.635150Z#0000\n 00#001#000000\n"
    assert parse_context_csns(folded)[1].text == "20261203200153.635150Z#000000#001#000000"


def test_an_entry_without_context_csn_is_empty_and_comments_are_skipped() -> None:
    assert parse_context_csns("# search result\ndn: dc=lab,dc=test\n\n") == {}
    assert parse_context_csns("") == {}


@pytest.mark.parametrize("text, why", [
    ("dn: dc=lab,dc=test\ncontextCSN: 2026-12-03#x\n", "not a CSN"),
    ("dn: dc=lab,dc=test\nnot ldif at all\n", "not an LDIF"),
    ("dn: dc=lab,dc=test\nuserPassword:: !!!\n", "bad base64"),
    ("dn: dc=lab,dc=test\ncontextCSN: 20261203200153.635150Z#000000#001#000000\n"
     "contextCSN: 20261203200154.000000Z#000000#001#000000\n", "two contextCSN values for serverID 1"),
])
def test_bad_output_is_a_parse_error_naming_the_command(text: str, why: str) -> None:
    with pytest.raises(ParseError, match=why) as caught:
        parse_context_csns(text, command="ldap1: ldapsearch -s base contextCSN")
    assert str(caught.value).startswith("ldap1: ldapsearch")


def test_whoami_gives_the_bound_dn_or_empty_for_anonymous() -> None:
    assert parse_whoami("dn:uid=student01,ou=people,dc=lab,dc=test\n") == "uid=student01,ou=people,dc=lab,dc=test"
    assert parse_whoami("anonymous\n") == ""
    with pytest.raises(ParseError, match="ldapwhoami"):
        parse_whoami("ldap_bind: Invalid credentials (49)\n")


def test_a_csn_string_alone() -> None:
    assert parse_csn(" 20261203200200.528265Z#00000a#002#000000\n").count == 10
    with pytest.raises(ParseError):
        parse_csn("20261203200200.528265Z#000000#02#000000")
