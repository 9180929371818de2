"""Each kind of bad row gets its reason; good rows become the API body with the file's exact text."""

from __future__ import annotations

import json

import pytest
from csv_to_api.feeds import FeedConfigError, parse_feeds
from csv_to_api.rows import HeaderError, Rejected, check_row, parse_header
from csv_to_api.scan import Record

FEEDS = parse_feeds(
    {
        "feeds": [
            {
                "name": "orders",
                "prefix": "incoming/orders/",
                "max_field_bytes": 64,
                "columns": [
                    {"name": "id", "type": "integer", "required": True},
                    {"name": "amount", "type": "decimal"},
                    {"name": "email", "pattern": "[^@]+@[^@]+", "max_length": 40},
                    {"name": "status", "allowed": ["new", "paid"]},
                    {"name": "day", "type": "date"},
                    {"name": "vip", "type": "boolean"},
                ],
            },
            {"name": "latin", "prefix": "incoming/latin/", "encoding": "latin-1"},
        ]
    }
)
ORDERS = parse_header(b"id,amount,email,status,day,vip", FEEDS.by_name("orders"))
PLAIN = parse_header(b"a,b", FEEDS.for_key("incoming/other.csv"))


def row(data: bytes) -> Record:
    return Record(offset=10, data=data)


def test_the_longest_prefix_picks_the_feed_and_other_keys_get_structural_checks() -> None:
    assert FEEDS.for_key("incoming/orders/2026/x.csv").name == "orders"
    assert FEEDS.for_key("incoming/x.csv").name == "default"
    assert not FEEDS.for_key("incoming/x.csv").has_schema


def test_values_go_as_text_exactly_as_in_the_file_without_a_schema() -> None:
    body = check_row(PLAIN, row(b'" 007 ","a ""q""\nb"'))
    assert isinstance(body, bytes)
    assert json.loads(body) == {"a": " 007 ", "b": 'a "q"\nb'}


def test_typed_columns_are_coerced_without_losing_digits() -> None:
    body = check_row(ORDERS, row(b"42,12345678901234567890.123456789,a@b.c,paid,2026-01-31,TRUE"))
    assert isinstance(body, bytes)
    assert b'"amount":12345678901234567890.123456789' in body
    assert json.loads(body) | {"amount": None} == {
        "id": 42, "amount": None, "email": "a@b.c", "status": "paid", "day": "2026-01-31", "vip": True,
    }  # fmt: skip


def test_empty_optional_typed_values_are_null_and_required_ones_are_rejected() -> None:
    body = check_row(ORDERS, row(b"1,,,,,"))
    assert isinstance(body, bytes)
    assert json.loads(body) == {"id": 1, "amount": None, "email": "", "status": "", "day": None, "vip": None}
    rejected = check_row(ORDERS, row(b",1,,,,"))
    assert isinstance(rejected, Rejected)
    assert rejected.reason == "missing_required"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"x,1,,,,", "invalid_type"),
        (b"1,01.5,,,,", "invalid_type"),
        (b"1,1,nope,,,", "pattern_mismatch"),
        (b"1,1," + b"a" * 30 + b"@" + b"b" * 20 + b",,,", "too_long"),
        (b"1,1,,gone,,", "not_allowed"),
        (b"1,1,,,2026-02-30,", "invalid_type"),
        (b"1,1,,,,maybe", "invalid_type"),
        (b"1,2,3", "wrong_field_count"),
        (b"1,1,,,,,", "wrong_field_count"),
        (b"", "blank_row"),
        (b"1,\xff\xfe,,,,", "invalid_encoding"),
        (b'1,"1"x,,,,', "malformed_quotes"),
        (b"1,1," + b"a" * 70 + b",,,", "field_too_long"),
    ],
)
def test_each_bad_row_gets_its_reason(data: bytes, reason: str) -> None:
    rejected = check_row(ORDERS, row(data))
    assert isinstance(rejected, Rejected), rejected
    assert rejected.reason == reason


def test_an_unterminated_quote_record_is_rejected() -> None:
    rejected = check_row(PLAIN, Record(offset=0, data=b'a,"b', unterminated_quote=True))
    assert isinstance(rejected, Rejected)
    assert rejected.reason == "unterminated_quote"


def test_a_declared_encoding_decodes_the_row() -> None:
    header = parse_header(b"a,b", FEEDS.for_key("incoming/latin/x.csv"))
    assert json.loads(check_row(header, row(b"caf\xe9,1"))) == {"a": "café", "b": "1"}  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (b"id,amount,email,status,day", "header_mismatch"),
        (b"id,amount,email,status,day,vip,extra", "header_mismatch"),
        (b"id,id,amount,email,status,day,vip", "header_duplicate"),
        (b"\xff,b", "header_invalid"),
    ],
)
def test_a_header_that_does_not_match_the_feed_rejects_the_file(header: bytes, reason: str) -> None:
    with pytest.raises(HeaderError) as caught:
        parse_header(header, FEEDS.by_name("orders"))
    assert caught.value.reason == reason


def test_the_header_order_may_differ_from_the_schema() -> None:
    header = parse_header(b"vip,day,status,email,amount,id", FEEDS.by_name("orders"))
    body = check_row(header, row(b"false,,new,,,7"))
    assert isinstance(body, bytes)
    assert list(json.loads(body)) == ["vip", "day", "status", "email", "amount", "id"]


@pytest.mark.parametrize(
    "document",
    [
        {"feeds": [{"name": "Bad Name"}]},
        {"feeds": [{"name": "a", "encoding": "utf-16"}]},
        {"feeds": [{"name": "a", "columns": [{"name": "x", "type": "float"}]}]},
        {"feeds": [{"name": "a", "prefix": "p/"}, {"name": "b", "prefix": "p/"}]},
        {"feeds": [{"name": "a", "columns": [{"name": "x", "pattern": "("}]}]},
        {"feeds": [{"name": "a", "surprise": 1}]},
    ],
)
def test_a_wrong_feeds_document_is_refused_with_where(document: dict[str, object]) -> None:
    with pytest.raises(FeedConfigError):
        parse_feeds(document)
