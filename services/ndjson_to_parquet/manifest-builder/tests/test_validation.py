"""What makes a landed file valid: name, size, and the first lines of one ranged read."""

from __future__ import annotations

import pytest
from manifest_builder.validation import check_content, check_name

from ndjson_to_parquet import contract as c


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("landing/ndjson/2026-02-01/a.ndjson", None),
        ("landing/ndjson/2026-02-01/deep/er/b.JSONL", None),
        ("landing/ndjson/2026-02-01/a.json", c.BAD_EXTENSION),
        ("landing/ndjson/2026-02-01/a.ndjson.gz", c.BAD_EXTENSION),
        ("landing/ndjson/2026-02-31/a.ndjson", c.BAD_KEY),
        ("landing/ndjson/a.ndjson", c.BAD_KEY),
        ("somewhere/else.ndjson", c.BAD_KEY),
    ],
)
def test_names(key, reason):
    problem = check_name(key)
    assert (problem[0] if problem else None) == reason


@pytest.mark.parametrize(
    ("data", "reason", "detail"),
    [
        (b'{"a": 1}\n{"b": [1, 2]}\n', None, None),
        (b'{"a": 1}\r\n\r\n{"b": "\xe2\x80\xa8 inside a string"}', None, None),
        (b'{"a": 1}\n{"b": \n', c.NOT_JSON, "line 2"),
        (b'{"a": 1}\n[1, 2]\n', c.NOT_OBJECT, "line 2 is a JSON list"),
        (b'"just a string"\n', c.NOT_OBJECT, "line 1"),
        (b'{"a": NaN}\n', c.NOT_JSON, "NaN"),
        (b'{"a": "caf\xe9"}\n', c.NOT_UTF8, "byte 10"),
        (b"\n  \n\n", c.EMPTY, "blank"),
        (b'\xef\xbb\xbf{"a": 1}\n', c.NOT_JSON, "BOM"),
    ],
)
def test_content_of_a_whole_small_file(data, reason, detail):
    problem = check_content(data, complete=True, lines=5)
    assert (problem[0] if problem else None) == reason
    if detail:
        assert detail in problem[1]


def test_only_the_first_lines_are_parsed():
    data = b'{"a": 1}\n' * 5 + b"garbage\n"
    assert check_content(data, complete=True, lines=5) is None
    assert check_content(data, complete=True, lines=6)[0] == c.NOT_JSON


def test_a_cut_read_is_judged_up_to_its_last_newline():
    # The read stopped inside the third line: that fragment is not a verdict on the file.
    assert check_content(b'{"a": 1}\n{"b": 2}\n{"c": 3', complete=False, lines=5) is None
    assert check_content(b'{"a": 1}\n{"b": 2', complete=False, lines=5) is None
    # ... and a multi-byte character cut in half at the end is not invalid UTF-8 either.
    assert check_content('{"a": 1}\n{"b": "é'.encode()[:-1], complete=False, lines=5) is None


def test_a_first_line_longer_than_the_read_is_only_checked_for_encoding():
    assert check_content(b'{"a": "' + b"x" * 1000, complete=False, lines=5) is None
    assert check_content(b'{"a": "\xff' + b"x" * 1000, complete=False, lines=5)[0] == c.NOT_UTF8


@pytest.mark.parametrize(
    ("data", "detail"),
    [
        (b'{"a": "\\ud800 alone"}\n', "lone surrogate"),
        (b'{"\\udc00": 1}\n', "lone surrogate"),
        (b'{"a": ' + b"[" * 513 + b"1" + b"]" * 513 + b"}\n", "deeper than 512"),
        (b'{"a": ' + b"[" * 5000 + b"1" + b"]" * 5000 + b"}\n", "deeper than 512"),
    ],
)
def test_what_json_loads_accepts_but_the_converter_refuses_is_quarantined(data, detail):
    """Else one such line would fail the Glue run of a whole manifest instead of one file."""
    reason, text = check_content(data, lines=5, complete=True)
    assert reason == c.NOT_JSON
    assert detail in text


def test_the_deepest_nesting_the_converter_takes_passes():
    data = b'{"a": ' + b"[" * 512 + b"1" + b"]" * 512 + b', "b": "\\ud83d\\ude00"}\n'
    assert check_content(data, lines=5, complete=True) is None
