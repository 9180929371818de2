"""Generated data: every backend gives exactly the expected cells, and they agree on what is malformed."""

from __future__ import annotations

import pathlib
import random

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ndjson_to_parquet_converter import (
    MalformedRecord,
    _backend,
    batch_from_buffer,
    convert_files,
    keys_from_buffer,
)

Expected = dict  # decoded key -> cell text or None

SIMPLE_ESCAPES = {
    '\\"': '"',
    "\\\\": "\\",
    "\\/": "/",
    "\\b": "\b",
    "\\f": "\f",
    "\\n": "\n",
    "\\r": "\r",
    "\\t": "\t",
}
RAW_CHARACTERS = ["é", "ß", "中", "😀", "\u2028", "\x7f", "'", "{", "}", "[", ":", ","]
KEYS = [  # (as written, decoded): escaped and raw spellings of one key are one column
    ('"id"', "id"),
    ('"amount"', "amount"),
    ('"caf\\u00e9"', "café"),
    ('"café"', "café"),
    ('"with \\"quote\\""', 'with "quote"'),
    ('"nested"', "nested"),
    ('"list"', "list"),
    ('"flag"', "flag"),
    ('"\\ud83d\\ude00"', "😀"),
    ('""', ""),
    ('"sparse_1"', "sparse_1"),
    ('"sparse_2"', "sparse_2"),
]


def whitespace(rng: random.Random) -> str:
    return rng.choice(["", "", "", " ", "  ", "\t", " \r ", "\r"])


def string(rng: random.Random) -> tuple[str, str]:
    written, decoded = [], []
    for _ in range(rng.randrange(0, 8)):
        kind = rng.randrange(6)
        if kind == 0:
            run = "".join(rng.choice("abcxyz019 -_.") for _ in range(rng.randrange(1, 30)))
            written.append(run)
            decoded.append(run)
        elif kind == 1:
            char = rng.choice(RAW_CHARACTERS)
            written.append(char)
            decoded.append(char)
        elif kind == 2:
            escape = rng.choice(list(SIMPLE_ESCAPES))
            written.append(escape)
            decoded.append(SIMPLE_ESCAPES[escape])
        elif kind == 3:
            code = rng.choice([0, 0x1F, 0x41, 0xE9, 0x7FF, 0x800, 0x4E2D, 0xD7FF, 0xE000, 0xFFFF])
            written.append(f"\\u{code:04x}" if rng.random() < 0.5 else f"\\u{code:04X}")
            decoded.append(chr(code))
        elif kind == 4:
            code = rng.choice([0x10000, 0x1F600, 0x10FFFF, 0x2A6D6])
            high, low = 0xD800 + ((code - 0x10000) >> 10), 0xDC00 + ((code - 0x10000) & 0x3FF)
            written.append(f"\\u{high:04x}\\u{low:04X}")
            decoded.append(chr(code))
        else:
            written.append("x" * rng.randrange(100, 3000))
            decoded.append(written[-1])
    return '"' + "".join(written) + '"', "".join(decoded)


def number(rng: random.Random) -> str:
    text = rng.choice(["", "", "-"])
    text += rng.choice(
        [
            "0",
            str(rng.randrange(1, 10))
            + "".join(rng.choice("0123456789") for _ in range(rng.randrange(0, 40))),
        ]
    )
    if rng.random() < 0.5:
        text += "." + "".join(rng.choice("0123456789") for _ in range(rng.randrange(1, 30)))
    if rng.random() < 0.3:
        text += rng.choice("eE") + rng.choice(["", "+", "-"]) + str(rng.randrange(0, 400))
    return text


def value(rng: random.Random, depth: int = 0) -> tuple[str, str | None, bool]:
    """(JSON text, expected cell, is a string) for a random value."""
    kind = rng.randrange(8 if depth < 4 else 5)
    if kind in (0, 1):
        written, decoded = string(rng)
        return written, decoded, True
    if kind == 2:
        text = number(rng)
        return text, text, False
    if kind == 3:
        literal = rng.choice(["true", "false"])
        return literal, literal, False
    if kind == 4:
        return "null", None, False
    if kind in (5, 6):
        items = [
            whitespace(rng) + value(rng, depth + 1)[0] + whitespace(rng) for _ in range(rng.randrange(0, 5))
        ]
        text = "[" + ",".join(items) + "]" if items else "[" + whitespace(rng) + "]"
        return text, text, False
    members = [
        whitespace(rng)
        + string(rng)[0]
        + whitespace(rng)
        + ":"
        + whitespace(rng)
        + value(rng, depth + 1)[0]
        + whitespace(rng)
        for _ in range(rng.randrange(0, 4))
    ]
    text = "{" + ",".join(members) + "}" if members else "{" + whitespace(rng) + "}"
    return text, text, False


def record(rng: random.Random) -> tuple[str, Expected]:
    members, expected = [], {}
    for _ in range(rng.randrange(0, 9)):
        key_written, key = rng.choice(KEYS)
        text, cell, _ = value(rng)
        members.append(
            whitespace(rng) + key_written + whitespace(rng) + ":" + whitespace(rng) + text + whitespace(rng)
        )
        expected[key] = cell  # a repeated key: the last value, at the first one's position
    line = whitespace(rng) + "{" + (",".join(members) if members else whitespace(rng)) + "}" + whitespace(rng)
    return line, expected


def dataset(seed: int, count: int) -> tuple[bytes, list[Expected], list[str]]:
    rng = random.Random(seed)
    lines, expected, order = [], [], {}
    for _ in range(count):
        line, cells = record(rng)
        lines.append(line + rng.choice(["\n", "\n", "\r\n"]) + ("\n" if rng.random() < 0.05 else ""))
        expected.append(cells)
        order.update(dict.fromkeys(cells))
    return "".join(lines).encode("utf-8"), expected, list(order)


def use(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setattr(_backend, "_active", _backend.Backend(name))


@pytest.mark.usefixtures("native_library")
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_generated_records_come_out_exactly_on_every_backend(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, backend_names: list[str], seed: int
) -> None:
    data, expected, columns = dataset(seed, 600)
    source = tmp_path / "gen.ndjson"
    source.write_bytes(data)
    want = [{column: cells.get(column) for column in columns} for cells in expected]
    tables = {}
    for name in backend_names:
        use(monkeypatch, name)
        assert keys_from_buffer(data) == columns
        result = convert_files(
            [source],
            tmp_path / name,
            basename="g",
            chunk_bytes=random.Random(seed).choice([97, 4096, 1 << 20]),
        )
        assert result.columns == columns
        tables[name] = pa.concat_tables([pq.read_table(path) for path in result.files])
        assert tables[name].to_pylist() == want, name
    assert all(table.equals(tables["native"]) for table in tables.values())


def mutate(rng: random.Random, line: bytes) -> bytes:
    """A small random edit: most results are malformed, some are still valid."""
    data = bytearray(line)
    for _ in range(rng.randrange(1, 3)):
        position = rng.randrange(len(data) + 1)
        action = rng.randrange(4)
        junk = rng.choice(
            [
                b'"',
                b"\\",
                b"{",
                b"}",
                b"[",
                b"]",
                b",",
                b":",
                b"0",
                b"-",
                b".",
                b"e",
                b"+",
                b"u",
                b"\\u",
                b"\xff",
                b"\xc3",
                b"\xe2\x82",
                b"\x00",
                b"\t",
                b" ",
                b"n",
                b"\\ud800",
            ]
        )
        if action == 0 and data:
            del data[min(position, len(data) - 1)]
        elif action == 1:
            data[position:position] = junk
        elif action == 2 and data:
            data[min(position, len(data) - 1) : min(position, len(data) - 1) + 1] = junk
        else:
            del data[position:]
    return bytes(data).replace(b"\n", b" ")


@pytest.mark.usefixtures("native_library")
def test_backends_agree_on_what_is_malformed(
    monkeypatch: pytest.MonkeyPatch, backend_names: list[str]
) -> None:
    rng = random.Random(7)
    lines = dataset(11, 400)[0].splitlines()
    lines = [line for line in lines if line.strip()]
    verdicts = {name: [] for name in backend_names}
    for _ in range(3000):
        candidate = b"\n" + mutate(rng, rng.choice(lines)) + b"\n"
        for name in backend_names:
            use(monkeypatch, name)
            try:
                keys = keys_from_buffer(candidate, first_line=5)
                outcome: object = batch_from_buffer(candidate, keys, first_line=5).to_pylist()
            except MalformedRecord as error:
                outcome = ("malformed", error.line_number)
            verdicts[name].append((candidate, outcome))
    for name in backend_names:
        for (candidate, native), (_, other) in zip(verdicts["native"], verdicts[name]):
            assert native == other, (name, candidate)
    malformed = sum(1 for _, outcome in verdicts["native"] if isinstance(outcome, tuple))
    assert 0.3 < malformed / 3000 < 0.98  # the mutations really exercise both outcomes
    assert all(outcome == ("malformed", 6) for _, outcome in verdicts["native"] if isinstance(outcome, tuple))


def test_structural_first_pass_finds_the_same_keys(native_library: pathlib.Path) -> None:
    """convert_files' first pass skips values unchecked: same keys on valid input, safe on broken input."""
    native = _backend.Backend("native")

    def fast_keys(buf: bytes) -> list[str]:
        collector = native.key_collector(validate=False)
        collector.feed(buf, None, "x", 1)
        return collector.keys()

    for seed in (1, 2, 3):
        data, _, columns = dataset(seed, 600)
        assert fast_keys(data) == columns
    rng = random.Random(8)
    lines = [line for line in dataset(12, 300)[0].splitlines() if line.strip()]
    for _ in range(3000):
        candidate = mutate(rng, rng.choice(lines)) + b"\n" + rng.choice(lines)
        keys = fast_keys(candidate)  # never raises, never reads outside the buffer
        strict = native.key_collector()
        try:
            strict.feed(candidate, None, "x", 1)
        except MalformedRecord:
            continue
        assert keys == strict.keys(), candidate
