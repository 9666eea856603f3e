"""GS1 rules, checked against biip where it has an opinion."""

from __future__ import annotations

import biip
import pytest
from biip.gs1_digital_link_uris import GS1DigitalLinkURI
from hypothesis import given, settings
from hypothesis import strategies as st

from tracetag.gs1.ai import GS1Error, gtin_check_digit, normalize_gtin, validate_lot
from tracetag.gs1.digital_link import (
    LinkPathError,
    digital_link,
    parse_digital_link,
    parse_link_path,
)


@pytest.mark.parametrize(
    ("given", "gtin14"),
    [
        ("96385074", "00000096385074"),  # GTIN-8
        ("036000291452", "00036000291452"),  # GTIN-12 (UPC-A)
        ("8935049500063", "08935049500063"),  # GTIN-13
        ("18935049500060", "18935049500060"),  # GTIN-14
    ],
)
def test_valid_gtins_become_gtin14_and_biip_agrees(given: str, gtin14: str) -> None:
    assert normalize_gtin(given) == gtin14
    parsed = biip.parse(given)
    assert parsed.gtin is not None and parsed.gtin.value.zfill(14) == gtin14


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("8935049500064", "check digit"),
        ("893504950006", "check digit"),
        ("12345", "8, 12, 13 or 14 digits"),
        ("89350495000６3", "digits only"),
        ("", "empty"),
        ("8935049-00063", "digits only"),
    ],
)
def test_bad_gtins(given: str, message: str) -> None:
    with pytest.raises(GS1Error, match=message):
        normalize_gtin(given)


def test_check_digit_matches_biip_on_many_numbers() -> None:
    for n in range(0, 10_000_000, 7_919):
        body = f"893{n:09d}"
        gtin = body + str(gtin_check_digit(body))
        assert biip.parse(gtin).gtin_error is None, gtin


@pytest.mark.parametrize("lot", ["A", "ST25-2026/11", "x" * 20, "!\"%&'()*+,-./:;<=>?_"])
def test_lot_in_cset82(lot: str) -> None:
    assert validate_lot(lot) == lot


@pytest.mark.parametrize(
    ("lot", "message"),
    [
        ("", "empty"),
        ("x" * 21, "at most 20"),
        ("Lô 1", "outside the GS1 set"),
        ("A#1", "'#'"),
        ("A~", "'~'"),
    ],
)
def test_lot_outside_rules(lot: str, message: str) -> None:
    with pytest.raises(GS1Error, match=message):
        validate_lot(lot)


@pytest.mark.parametrize("lot", ["ST25-2611-01", "A/B", "50%", "a b".replace(" ", "+"), "(x)*'!"])
def test_digital_link_roundtrips_through_biip(lot: str) -> None:
    gtin = "08935049500063"
    uri = digital_link("https://tracetag.test", gtin, lot)
    parsed = biip.parse(uri)
    assert parsed.gs1_digital_link_uri_error is None
    dl = parsed.gs1_digital_link_uri
    assert dl is not None
    values = {e.ai.ai: e.value for e in dl.element_strings}
    assert values == {"01": gtin, "10": lot}
    assert parse_digital_link(uri).lot == lot
    assert parse_digital_link(uri).gtin == gtin


def test_parse_digital_link_rejects_junk() -> None:
    for uri in (
        "ftp://x/01/08935049500063/10/A",
        "https://x/01/08935049500064/10/A",
        "https://x/foo",
    ):
        with pytest.raises(GS1Error):
            parse_digital_link(uri)


# Issue 6: parse_digital_link raises GS1Error and nothing else, whatever the text.


@pytest.mark.parametrize(
    "uri",
    [
        "https://[::1/01/00000000/10/",  # found by the fuzzer: ValueError "Invalid IPv6 URL"
        "http://::1]/01/08935049500063/10/A",
        "http://[x]/01/08935049500063/10/A",  # ValueError: not an IP address
        "http://ex\uff03am/01/08935049500063/10/A",  # ValueError: NFKC folds the host to "#"
        "http://@/01/08935049500063/10/A",  # no host at all
        "https://x/01/08935049500063/10/" + "A" * 5000,
        "https://x/01/" + "/01/1" * 2000,
    ],
)
def test_parse_digital_link_raises_only_gs1_error(uri: str) -> None:
    with pytest.raises(GS1Error):
        parse_digital_link(uri)


TAG = "https://x/01/08935049500063/10/A/21/7KQ2M9XA4BC3D"


@pytest.mark.parametrize(
    "query", ["8030=a&8030=b", "8030=a&8030=a", "8030=a&%38030=a", "8030=&8030", "x=1&8030&8030=a"]
)
def test_repeated_8030_is_refused(query: str) -> None:
    with pytest.raises(GS1Error, match="8030 more than once"):
        parse_digital_link(f"{TAG}?{query}")


@pytest.mark.parametrize(
    ("query", "digsig"), [("", None), ("?8030=abc", "abc"), ("?8030=", ""), ("?x=1&8030=%41", "A")]
)
def test_one_8030_is_read_and_an_empty_one_kept(query: str, digsig: str | None) -> None:
    assert parse_digital_link(TAG + query).digsig == digsig


@pytest.mark.parametrize(
    "typed", ["7kq2m9xa4bc3d", "7KQ2-M9XA-4BC3D", "7kq2%20m9xa%204bc3d", "7KQ2M9XA4BC3D"]
)
def test_a_typed_serial_reads_as_issued(typed: str) -> None:
    link = parse_digital_link(f"https://x/01/08935049500063/10/A/21/{typed}")
    assert link.serial == "7KQ2M9XA4BC3D"


def test_look_alikes_in_a_typed_serial_read_as_digits() -> None:
    link = parse_digital_link("https://x/01/08935049500063/10/A/21/7kq2m9xa4bc3o")
    assert link.serial == "7KQ2M9XA4BC30"


def test_other_ai21_serials_stay_as_given() -> None:
    # Not a tracetag serial (wrong length): kept as typed, to be looked up as it is.
    assert parse_digital_link("https://x/01/08935049500063/10/A/21/abc-1").serial == "abc-1"


@pytest.mark.parametrize("lot", ["%C3%B4", "%FF", "%E1%BB", "%00", "L%C3%B4"])
def test_lots_that_decode_outside_cset82_are_refused(lot: str) -> None:
    with pytest.raises(GS1Error, match="outside the GS1 set"):
        parse_digital_link(f"https://x/01/08935049500063/10/{lot}")


# The resolver's path parser (GS1 Digital Link URI Syntax §4.9, Resolver §2.4.1).

G = "08935049500063"


@pytest.mark.parametrize(
    "path",
    [
        f"/01/{G}",
        f"/01/{G}/10/ST25%2F11",
        f"/01/{G}/10/A/21/7KQ2M9XA4BC3D",
        f"/01/{G}/21/7KQ2M9XA4BC3D",
        f"/01/{G}/22/V-1/10/50%25/21/S",
        f"/01/{G}/235/TPX-0001",
        f"/01/{G}/10/(x)*'!",
    ],
)
def test_link_paths_read_as_biip_reads_them(path: str) -> None:
    link = parse_link_path(path)
    ours = {"01": link.gtin14, "22": link.cpv, "10": link.lot, "21": link.serial, "235": link.tpx}
    parsed = GS1DigitalLinkURI.parse("https://tracetag.test" + path)
    assert {e.ai.ai: e.value for e in parsed.element_strings} == {
        ai: v for ai, v in ours.items() if v is not None
    }
    assert parse_link_path(link.path()) == link
    assert parse_link_path(path + "/") == link  # Resolver §2.13: a trailing slash is tolerated


@pytest.mark.parametrize(
    ("path", "part"),
    [
        ("/01/08935049500064/10/A", "check-digit"),
        ("/01/0893504950006X/10/A", "gtin"),
        ("/01/123/10/A", "gtin"),
        ("/01/%2008935049500063", "gtin"),
        ("/01/123/10", "path"),
        (f"/01/{G}/21/S/10/A", "path"),
        (f"/01/{G}/10/A/10/B", "path"),
        (f"/01/{G}/17/261231", "path"),  # a data attribute belongs in the query (§4.10)
        (f"/01/{G}/10/A/foo", "path"),
        (f"/01/{G}//10/A", "path"),
        (f"/01/{G}/10/%ZZ", "lot"),
        (f"/01/{G}/10/L%C3%B4", "lot"),
        (f"/01/{G}/10/{'L' * 21}", "lot"),
        (f"/01/{G}/10/A/21/", "path"),
        (f"/01/{G}/10/A/21/%00", "serial"),
        (f"/01/{G}/22/{'V' * 21}", "CPV"),
        (f"/01/{G}/235/{'T' * 29}", "TPX"),
    ],
)
def test_bad_link_paths_name_the_part_that_is_wrong(path: str, part: str) -> None:
    with pytest.raises(LinkPathError) as caught:
        parse_link_path(path)
    assert caught.value.part == part


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(["01", "10", "21", "22", "235", G, "A", "%2F", "%", ""])))
def test_link_paths_raise_only_link_path_error(segments: list[str]) -> None:
    path = "/" + "/".join(segments)
    try:
        link = parse_link_path(path)
    except LinkPathError:
        return
    assert parse_link_path(link.path()) == link
