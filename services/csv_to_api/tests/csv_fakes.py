"""Fakes for the CSV to API core's tests: an object store of bytes, a scripted API, a manual clock."""

from __future__ import annotations

import csv
import io
import json
import random
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from csv_to_api.api import Answer, Response
from csv_to_api.contract import FileRef


def blocks_of(data: bytes, block: int = 7) -> Callable[[FileRef, int, int], Iterator[bytes]]:
    """A ``read_blocks`` over ``data`` in tiny blocks, so rows straddle block edges everywhere."""

    def read(_file: FileRef, start: int, end: int) -> Iterator[bytes]:
        for position in range(start, end, block):
            yield data[position : min(end, position + block)]

    return read


def ref(data: bytes, key: str = "incoming/test.csv") -> FileRef:
    return FileRef(bucket="b", key=key, etag="e" + str(len(data)), size=len(data))


def random_csv(
    rng: random.Random, rows: int, columns: int = 4, crlf: bool = False
) -> tuple[bytes, list[list[str]]]:
    """A CSV whose fields hold commas, doubled quotes and line breaks, and the rows a reader sees."""
    pieces = ["a", "b,c", 'say "hi"', "line\nbreak", "x\r\ny", "", "ünï", "end\n"]
    header = [f"col{i}" for i in range(columns)]
    table = [[rng.choice(pieces) + str(rng.randrange(1000)) for _ in range(columns)] for _ in range(rows)]
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\r\n" if crlf else "\n", quoting=csv.QUOTE_MINIMAL).writerows(
        [header, *table]
    )
    return out.getvalue().encode(), table


@dataclass
class ScriptedApi:
    """Answers from a script per idempotency key (a list of answers, the last repeating); 201 then 200
    for keys with no script. Thread-safe; records every call."""

    script: dict[str, list[Response]] = field(default_factory=dict)
    accepted: dict[str, bytes] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def post(
        self, idempotency_key: str, body: bytes, *, before_send: Callable[[], object] | None = None
    ) -> Response:
        if before_send is not None:
            before_send()
        with self.lock:
            self.calls[idempotency_key] += 1
            answers = self.script.get(idempotency_key)
            if answers:
                answer = answers.pop(0) if len(answers) > 1 else answers[0]
                if answer.answer is Answer.ALREADY_ACCEPTED:  # accepted by an earlier, unrecorded attempt
                    self.accepted.setdefault(idempotency_key, body)
                if answer.answer is not Answer.ACCEPTED:
                    return answer
            if idempotency_key in self.accepted:
                return Response(Answer.ALREADY_ACCEPTED, 200)
            json.loads(body)  # every body the caller sends is JSON
            self.accepted[idempotency_key] = body
            return Response(Answer.ACCEPTED, 201)
