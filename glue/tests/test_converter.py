"""Converter semantics, run against every backend (the C scanner and the Python fallbacks)."""

from __future__ import annotations

import json
import pathlib

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ndjson_to_parquet_converter import (
    MalformedRecord,
    batch_from_buffer,
    collect_columns,
    convert_files,
    keys_from_buffer,
)

pytestmark = pytest.mark.usefixtures("backend")


def rows(buf: bytes, columns: list[str] | None = None) -> list[dict[str, str | None]]:
    if columns is None:
        columns = keys_from_buffer(buf)
    return batch_from_buffer(buf, columns).to_pylist()


def write(path: pathlib.Path, data: bytes) -> pathlib.Path:
    path.write_bytes(data)
    return path


def read_output(files: list[pathlib.Path]) -> pa.Table:
    return pa.concat_tables([pq.read_table(path) for path in files])


# ---------------------------------------------------------------------------- values, exactly


@pytest.mark.parametrize(
    "text",
    [
        "1.50",
        "1E+300",
        "-0",
        "0",
        "-0.0e-0",
        "0.1000000000000000055511151231257827",
        "12345678901234567890.123456789",
        "123456789012345678901234567890123456789012345678901234567890",
        "1e5000",
        "true",
        "false",
        '{"a": [1, 2]}',
        '{ "b" : { "c" : [ ] } ,"d":"x" }',
        "[ 1.0 ,\t2E2 ]",
        "[]",
        "{}",
        '["\\u00e9", "\\"q\\"", "\\\\"]',
    ],
)
def test_non_string_values_keep_their_exact_text(text: str) -> None:
    line = '{"v": ' + text + "}\n"
    assert rows(line.encode()) == [{"v": text}]


@pytest.mark.parametrize(
    ("literal", "decoded"),
    [
        ('"plain"', "plain"),
        ('""', ""),
        ('"line\\nbreak"', "line\nbreak"),
        ('"tab\\there"', "tab\there"),
        ('"quote\\"d"', 'quote"d'),
        ('"back\\\\slash"', "back\\slash"),
        ('"sl\\/ash"', "sl/ash"),
        ('"\\b\\f\\r"', "\b\f\r"),
        ('"\\u00e9\\u20AC"', "\u00e9\u20ac"),
        ('"\\ud83d\\ude00 pair"', "\U0001f600 pair"),
        ('"\\u0000nul"', "\x00nul"),
        ('"raw utf-8: é € 😀 中文"', "raw utf-8: é € 😀 中文"),
        ('"\\u005c\\u0022"', '\\"'),
        ('"del \x7f ok"', "del \x7f ok"),
    ],
)
def test_strings_are_decoded_without_quotes(literal: str, decoded: str) -> None:
    line = '{"s": ' + literal + "}"
    assert rows(line.encode("utf-8")) == [{"s": decoded}]


def test_null_and_missing_keys_are_null() -> None:
    buf = b'{"a": null, "b": "x"}\n{"b": "y"}\n{"a": "z"}\n'
    assert rows(buf) == [{"a": None, "b": "x"}, {"a": None, "b": "y"}, {"a": "z", "b": None}]


def test_null_is_not_the_string_null() -> None:
    assert rows(b'{"a": "null"}\n{"a": null}') == [{"a": "null"}, {"a": None}]


def test_duplicate_key_last_one_wins_keeping_first_position() -> None:
    buf = b'{"b": 1, "a": 2, "b": "three"}\n{"a": 1, "a": null}\n{"a": null, "a": [0]}\n'
    assert keys_from_buffer(buf) == ["b", "a"]
    assert rows(buf) == [{"b": "three", "a": "2"}, {"b": None, "a": None}, {"b": None, "a": "[0]"}]


def test_keys_with_escapes_are_decoded() -> None:
    buf = '{"caf\\u00e9": 1, "a\\"b": 2, "x\\ny": 3, "\\ud83d\\ude00": 4, "": 5, "café": 6}'.encode()
    assert keys_from_buffer(buf) == ["café", 'a"b', "x\ny", "\U0001f600", ""]
    assert rows(buf) == [{"café": "6", 'a"b': "2", "x\ny": "3", "\U0001f600": "4", "": "5"}]


def test_whitespace_blank_lines_crlf_and_no_final_newline() -> None:
    buf = b'\n  \t\r\n{ "a" :\t1 , "b":"x" }\r\n\r\n   {"a":2}   \n\t\n{"b":"y"}'
    assert rows(buf) == [{"a": "1", "b": "x"}, {"a": "2", "b": None}, {"a": None, "b": "y"}]


def test_empty_objects_are_rows() -> None:
    buf = b'{}\n{"a": 1}\n{ }\n'
    assert rows(buf) == [{"a": None}, {"a": "1"}, {"a": None}]
    assert batch_from_buffer(b"{}\n{}\n", []).num_rows == 2


def test_empty_buffer_has_no_rows_and_no_keys() -> None:
    assert keys_from_buffer(b"") == []
    assert keys_from_buffer(b"\n \n") == []
    batch = batch_from_buffer(b"", ["a"])
    assert batch.num_rows == 0
    assert batch.schema == pa.schema([pa.field("a", pa.string())])


def test_batch_has_the_requested_column_order_and_string_types() -> None:
    batch = batch_from_buffer(b'{"a": 1, "b": true}\n', ["b", "zz", "a"])
    assert batch.schema.names == ["b", "zz", "a"]
    assert all(field.type == pa.string() and field.nullable for field in batch.schema)
    assert batch.to_pylist() == [{"b": "true", "zz": None, "a": "1"}]


def test_batch_refuses_a_key_outside_the_columns() -> None:
    with pytest.raises(MalformedRecord) as raised:
        batch_from_buffer(b'{"a": 1}\n{"a": 2, "new": 3}\n', ["a"], source="part.ndjson", first_line=10)
    assert (raised.value.source, raised.value.line_number) == ("part.ndjson", 11)
    assert "new" in raised.value.reason


def test_batch_refuses_repeated_column_names() -> None:
    with pytest.raises(ValueError, match="unique"):
        batch_from_buffer(b"{}", ["a", "a"])


# ---------------------------------------------------------------------------- malformed lines

MALFORMED = {
    "truncated line": b'{"a": 1, "b": [1, 2',
    "truncated after comma": b'{"a": 1,',
    "truncated string": b'{"a": "abc',
    "object split over two lines": b'{"a":\n1}',
    "trailing garbage": b'{"a": 1} x',
    "two objects on a line": b'{"a": 1}{"b": 2}',
    "bad escape": b'{"a": "\\q"}',
    "bad escape in nested": b'{"a": ["\\x41"]}',
    "bad unicode escape": b'{"a": "\\u12G4"}',
    "short unicode escape": b'{"a": "\\u12"}',
    "lone high surrogate": b'{"a": "\\ud800"}',
    "lone low surrogate": b'{"a": "\\udc00x"}',
    "high surrogate then non-low": b'{"a": "\\ud800\\u0041"}',
    "lone surrogate in key": b'{"\\ud800": 1}',
    "lone surrogate in nested": b'{"a": {"b": "\\udfff"}}',
    "leading zero": b'{"a": 01}',
    "leading zero nested": b'{"a": [01]}',
    "dot without digits": b'{"a": 1.}',
    "plus sign": b'{"a": +1}',
    "leading dot": b'{"a": .5}',
    "bare minus": b'{"a": -}',
    "empty exponent": b'{"a": 1e}',
    "signed empty exponent": b'{"a": 1E+}',
    "hex number": b'{"a": 0x10}',
    "double minus": b'{"a": --1}',
    "two dots": b'{"a": 1.2.3}',
    "NaN": b'{"a": NaN}',
    "Infinity": b'{"a": [Infinity]}',
    "minus Infinity": b'{"a": -Infinity}',
    "unterminated string": b'{"a": "abc}',
    "unterminated key": b'{"a: 1}',
    "raw tab in string": b'{"a": "a\tb"}',
    "control char in string": b'{"a": "\x01"}',
    "control char in key": b'{"a\x1f": 1}',
    "array line": b"[1, 2]",
    "string line": b'"text"',
    "number line": b"42",
    "null line": b"null",
    "true line": b"true",
    "invalid utf-8 byte": b'{"a": "\xff"}',
    "overlong utf-8": b'{"a": "\xc0\x80"}',
    "utf-8 encoded surrogate": b'{"a": "\xed\xa0\x80"}',
    "truncated utf-8 sequence": b'{"a": "\xe2\x82"}',
    "utf-8 above U+10FFFF": b'{"a": "\xf4\x90\x80\x80"}',
    "invalid utf-8 in key": b'{"\xfe": 1}',
    "invalid utf-8 in nested": b'{"a": ["ok", "\x80"]}',
    "invalid utf-8 outside strings": b'{"a": 1\xa0}',
    "missing colon": b'{"a" 1}',
    "missing value": b'{"a": }',
    "trailing comma": b'{"a": 1,}',
    "trailing comma in array": b'{"a": [1,]}',
    "single quotes": b"{'a': 1}",
    "unquoted key": b"{a: 1}",
    "literal typo": b'{"a": tru}',
    "capitalised literal": b'{"a": True}',
    "literal with suffix": b'{"a": nullx}',
    "mismatched brackets": b'{"a": [1, 2}',
    "form feed as whitespace": b'{"a":\x0c1}',
    "byte order mark": b'\xef\xbb\xbf{"a": 1}',
}


@pytest.mark.parametrize("bad", list(MALFORMED.values()), ids=list(MALFORMED))
def test_malformed_line_raises_with_its_line_number(bad: bytes) -> None:
    buf = b'{"a": "fine"}\n\n' + bad + b'\n{"a": 2}\n'
    with pytest.raises(MalformedRecord) as raised:
        keys_from_buffer(buf, source="in.ndjson")
    assert (raised.value.source, raised.value.line_number) == ("in.ndjson", 3)
    assert raised.value.reason
    assert str(raised.value).startswith("in.ndjson:3: ")
    with pytest.raises(MalformedRecord) as raised:
        batch_from_buffer(buf, ["a", "b", "a\x1f", "\ufffd"], first_line=101)
    assert raised.value.line_number == 103


def test_nesting_is_limited_to_512_levels_on_every_backend() -> None:
    def nested(depth: int) -> str:  # the top-level value is level 1; a string with brackets in between
        return '{"s": "]]}", "x": ' + "[" * (depth - 1) + "]" * (depth - 1) + "}"

    assert rows(('{"a": ' + nested(512) + "}").encode()) == [{"a": nested(512)}]
    for depth in (513, 3000):
        with pytest.raises(MalformedRecord, match="nesting deeper than 512 levels") as raised:
            rows(('{"a": 1}\n{"a": ' + nested(depth) + "}").encode())
        assert raised.value.line_number == 2


def test_malformed_record_pickles_for_spark_executors() -> None:
    import pickle

    error = MalformedRecord("s3://b/k.ndjson", 7, "invalid number at byte 6")
    again = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own object
    assert (again.source, again.line_number, again.reason) == (error.source, 7, error.reason)
    assert str(again) == "s3://b/k.ndjson:7: invalid number at byte 6"


# ---------------------------------------------------------------------------- files and chunks


def test_columns_are_the_union_over_files_in_first_appearance_order(tmp_path: pathlib.Path) -> None:
    first = write(tmp_path / "1.ndjson", b'{"b": 1, "a": 2}\n{"c": 3, "a": 4}\n')
    second = write(tmp_path / "2.ndjson", b'{"d": 5, "b": 6}\n')
    third = write(tmp_path / "3.ndjson", b'{"e": 7}\n{"a": 8, "f": 9}\n')
    assert collect_columns([first, second, third]) == ["b", "a", "c", "d", "e", "f"]
    assert collect_columns([str(third), str(first)]) == ["e", "a", "f", "b", "c"]

    result = convert_files([first, second, third], tmp_path / "out", basename="m1")
    assert result.columns == ["b", "a", "c", "d", "e", "f"]
    assert result.rows == 5
    table = read_output(result.files)
    assert table.schema.names == result.columns
    assert table.to_pylist() == [
        {"b": "1", "a": "2", "c": None, "d": None, "e": None, "f": None},
        {"b": None, "a": "4", "c": "3", "d": None, "e": None, "f": None},
        {"b": "6", "a": None, "c": None, "d": "5", "e": None, "f": None},
        {"b": None, "a": None, "c": None, "d": None, "e": "7", "f": None},
        {"b": None, "a": "8", "c": None, "d": None, "e": None, "f": "9"},
    ]


def test_output_is_snappy_and_all_string(tmp_path: pathlib.Path) -> None:
    source = write(tmp_path / "in.ndjson", b'{"n": 1.50, "b": true, "o": {"x": null}, "s": "t"}\n' * 50)
    result = convert_files([source], tmp_path / "out", basename="b1")
    assert [path.name for path in result.files] == ["b1-part-00000.parquet"]
    metadata = pq.read_metadata(result.files[0])
    assert metadata.num_rows == 50
    for group in range(metadata.num_row_groups):
        for column in range(metadata.num_columns):
            assert metadata.row_group(group).column(column).compression == "SNAPPY"
    schema = pq.read_schema(result.files[0])
    assert [field.type for field in schema] == [pa.string()] * 4
    assert pq.read_table(result.files[0]).to_pylist()[0] == {
        "n": "1.50",
        "b": "true",
        "o": '{"x": null}',
        "s": "t",
    }
    assert result.input_bytes == source.stat().st_size


def test_empty_file_and_empty_input(tmp_path: pathlib.Path) -> None:
    empty = write(tmp_path / "empty.ndjson", b"")
    blank = write(tmp_path / "blank.ndjson", b"\n \r\n")
    data = write(tmp_path / "data.ndjson", b'{"a": "x"}\n')
    result = convert_files([empty, data, blank], tmp_path / "out", basename="e")
    assert result.rows == 1
    assert read_output(result.files).to_pylist() == [{"a": "x"}]

    nothing = convert_files([empty], tmp_path / "none", basename="e")
    assert nothing.rows == 0
    assert nothing.columns == []
    assert [path.name for path in nothing.files] == ["e-part-00000.parquet"]
    assert pq.read_metadata(nothing.files[0]).num_rows == 0


def _lines(count: int) -> bytes:
    out = []
    for i in range(count):
        record = {"i": i, "s": "x" * (i % 17) + "\u00e9\n", "n": [i, {"k": None}]}
        if i % 3:
            record["sparse"] = "y"
        if i % 5 == 0:
            record[f"k{i % 7}"] = i * 1.5
        out.append(json.dumps(record, ensure_ascii=i % 2 == 0))
    return ("\r\n".join(out[:10]) + "\n\n" + "\n".join(out[10:])).encode("utf-8")


@pytest.mark.parametrize("chunk_bytes", [1, 7, 64, 1000, 1 << 20])
def test_chunk_boundaries_change_nothing(tmp_path: pathlib.Path, chunk_bytes: int) -> None:
    source = write(tmp_path / "in.ndjson", _lines(300))
    reference = convert_files([source], tmp_path / "ref", basename="r")
    result = convert_files([source], tmp_path / "out", basename="c", chunk_bytes=chunk_bytes)
    assert result.columns == reference.columns
    assert result.rows == reference.rows == 300
    assert read_output(result.files).equals(read_output(reference.files))


def test_line_longer_than_the_chunk(tmp_path: pathlib.Path) -> None:
    huge = "é\\n" * 300_000
    source = write(
        tmp_path / "in.ndjson",
        ('{"a": 1}\n{"a": "' + huge + '", "b": [' + "1," * 100_000 + "2]}\n" + '{"a": 3}').encode(),
    )
    result = convert_files([source], tmp_path / "out", basename="h", chunk_bytes=4096)
    table = read_output(result.files).to_pylist()
    assert [row["a"] for row in table] == ["1", "é\n" * 300_000, "3"]
    assert table[1]["b"] == "[" + "1," * 100_000 + "2]"


def test_error_line_numbers_count_across_chunks(tmp_path: pathlib.Path) -> None:
    lines = [b'{"a": %d}' % i for i in range(100)]
    lines[40] = b""
    lines[56] = b'{"a": 01}'
    source = write(tmp_path / "bad.ndjson", b"\r\n".join(lines))
    for chunk_bytes in (16, 100, 1 << 20):
        with pytest.raises(MalformedRecord) as raised:
            collect_columns([source], chunk_bytes=chunk_bytes)
        assert (raised.value.source, raised.value.line_number) == (str(source), 57)


def test_malformed_file_fails_before_any_output(tmp_path: pathlib.Path) -> None:
    good = write(tmp_path / "good.ndjson", b'{"a": 1}\n')
    bad = write(tmp_path / "bad.ndjson", b'{"a": 1}\n{"a": [}\n')
    out = tmp_path / "out"
    with pytest.raises(MalformedRecord) as raised:
        convert_files([good, bad], out, basename="f")
    assert (raised.value.source, raised.value.line_number) == (str(bad), 2)
    assert not out.exists() or list(out.iterdir()) == []


def test_explicit_columns_skip_the_first_pass(tmp_path: pathlib.Path) -> None:
    source = write(tmp_path / "in.ndjson", b'{"a": 1, "b": 2}\n')
    result = convert_files([source], tmp_path / "out", basename="x", columns=["b", "a", "c"])
    assert read_output(result.files).to_pylist() == [{"b": "2", "a": "1", "c": None}]
    with pytest.raises(MalformedRecord, match="not one of the columns"):
        convert_files([source], tmp_path / "out2", basename="x", columns=["a"])


# ---------------------------------------------------------------------------- parts


def test_parts_roll_by_input_bytes_and_share_one_schema(tmp_path: pathlib.Path) -> None:
    first = write(
        tmp_path / "1.ndjson", b"".join(b'{"a": %d, "pad": "%s"}\n' % (i, b"p" * 80) for i in range(400))
    )
    second = write(tmp_path / "2.ndjson", b"".join(b'{"late": %d}\n' % i for i in range(100)))
    result = convert_files(
        [first, second], tmp_path / "out", basename="roll", target_file_bytes=10_000, chunk_bytes=4_000
    )
    assert len(result.files) > 3
    assert [path.name for path in result.files] == [
        f"roll-part-{i:05d}.parquet" for i in range(len(result.files))
    ]
    schemas = {pq.read_schema(path).to_string() for path in result.files}
    assert len(schemas) == 1
    assert pq.read_schema(result.files[0]).names == ["a", "pad", "late"]
    table = read_output(result.files)
    assert table.num_rows == result.rows == 500
    assert table.column("a").to_pylist()[:3] == ["0", "1", "2"]
    assert table.column("late").to_pylist()[-1] == "99"
    for path in result.files[:-1]:
        assert pq.read_metadata(path).num_rows < 400  # every part but the last took >= 10 kB of input


def test_rerun_replaces_parts_and_deletes_stale_ones(tmp_path: pathlib.Path) -> None:
    big = write(tmp_path / "big.ndjson", b"".join(b'{"a": %d}\n' % i for i in range(2000)))
    small = write(tmp_path / "small.ndjson", b'{"a": "only"}\n')
    out = tmp_path / "out"
    out.mkdir()
    unrelated = [write(out / name, b"keep") for name in ("other-part-00009.parquet", "run-part-00001.txt")]
    many = convert_files([big], out, basename="run", target_file_bytes=2_000, chunk_bytes=1_000)
    assert len(many.files) > 3
    again = convert_files([small], out, basename="run")
    assert [path.name for path in again.files] == ["run-part-00000.parquet"]
    assert sorted(path.name for path in out.iterdir()) == sorted(
        ["run-part-00000.parquet", *(path.name for path in unrelated)]
    )
    assert read_output(again.files).to_pylist() == [{"a": "only"}]


def test_failed_rerun_keeps_the_previous_output(tmp_path: pathlib.Path) -> None:
    out = tmp_path / "out"
    source = write(tmp_path / "in.ndjson", b'{"a": 1}\n{"a": 2}\n')
    first = convert_files([source], out, basename="keep", target_file_bytes=1, chunk_bytes=9)
    assert len(first.files) == 2
    before = {path.name: path.read_bytes() for path in out.iterdir()}
    write(source, b'{"a": 1}\n{"b": 2}\n')
    with pytest.raises(MalformedRecord):
        convert_files([source], out, basename="keep", columns=["a"], target_file_bytes=1, chunk_bytes=9)
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before


@pytest.mark.parametrize("basename", ["", "a/b", ".hidden"])
def test_basename_must_be_a_plain_prefix(tmp_path: pathlib.Path, basename: str) -> None:
    with pytest.raises(ValueError, match="basename"):
        convert_files([], tmp_path, basename=basename)


def test_big_files_are_split_at_line_starts_for_the_first_pass(tmp_path: pathlib.Path) -> None:
    from ndjson_to_parquet_converter._chunks import ChunkReader, line_ranges

    lines = [b'{"k%d": "%s"}\n' % (i % 13, b"v" * (i % 50)) for i in range(500)]
    source = write(tmp_path / "big.ndjson", b"".join(lines) + b'{"last": 1}')
    ranges = line_ranges(source, 700)
    assert len(ranges) > 5
    assert ranges[0][0] == 0
    assert ranges[-1][1] == source.stat().st_size
    assert all(stop == start for (_, stop), (start, _) in zip(ranges, ranges[1:]))
    data = source.read_bytes()
    assert all(start == 0 or data[start - 1 : start] == b"\n" for start, _ in ranges)
    reader = ChunkReader(64)
    pieces = [bytes(buf[:n]) for start, stop in ranges for buf, n in reader.chunks(source, start, stop)]
    assert b"".join(pieces) == data
    assert collect_columns([source], chunk_bytes=350) == [f"k{i}" for i in range(13)] + ["last"]
