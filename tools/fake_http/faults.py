"""Deterministic fault draws: the same requests get the same faults in every run, however interleaved.

A fake names what identifies a request to retry (a page, an idempotency key, a batch's digest) and
draws the n-th attempt of it from a RNG seeded with ``(seed, key, n)``. :class:`FaultBudget` caps the
faults per key, so a client that retries ``limit + 1`` times always gets through.
"""

from __future__ import annotations

import dataclasses
import random
from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from _typeshed import DataclassInstance


def draw(seed: int, *key: object) -> float:
    """A number in [0, 1) fixed by ``seed`` and ``key``, in any process and under any PYTHONHASHSEED."""
    # String seeds go through SHA-512, not hash(): stable across processes.
    return random.Random("/".join(str(part) for part in (seed, *key))).random()  # noqa: S311


def choose(value: float, rates: Iterable[tuple[str, float]]) -> str | None:
    """The kind whose slice of [0, 1) holds ``value``, the slices laid end to end in order; or None."""
    bound = 0.0
    for kind, rate in rates:
        bound += rate
        if value < bound:
            return kind
    return None


def check_rates(rates: Sequence[float]) -> None:
    """``ValueError`` unless every rate is within 0..1 and they add up to at most 1."""
    if any(not 0 <= rate <= 1 for rate in rates) or sum(rates) > 1:
        raise ValueError("fault rates must be within 0..1 and add up to at most 1")


class FaultBudget:
    """Attempts and faults per key; not locked: the caller holds its own lock around :meth:`pick`."""

    def __init__(self) -> None:
        self.attempts: Counter[Hashable] = Counter()
        self.faults: Counter[Hashable] = Counter()

    def pick(
        self, key: tuple[object, ...], *, seed: int, rates: Iterable[tuple[str, float]], limit: int
    ) -> str | None:
        """Count one attempt of ``key``; the fault drawn for it, or None (also once ``limit`` is spent)."""
        self.attempts[key] += 1
        if self.faults[key] >= limit:
            return None
        fault = choose(draw(seed, *key, self.attempts[key]), rates)
        if fault is not None:
            self.faults[key] += 1
        return fault

    def attempt(self, key: tuple[object, ...]) -> int:
        """How many attempts of ``key`` have been counted."""
        return self.attempts[key]

    def clear(self) -> None:
        self.attempts.clear()
        self.faults.clear()


def config_from_json[C: DataclassInstance](cls: type[C], data: Any) -> C:
    """An instance of the dataclass ``cls`` from a decoded JSON object.

    ``ValueError`` on unknown fields, or a field annotated ``int``/``float`` given something else
    (booleans are not numbers here); other fields are left for the class's ``__post_init__`` to check.
    """
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    fields = {field.name: field.type for field in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ValueError(f"unknown fields {unknown}; known: {sorted(fields)}")
    for name, value in data.items():
        if fields[name] not in ("int", "float"):
            continue
        wanted = (int,) if fields[name] == "int" else (int, float)
        if isinstance(value, bool) or not isinstance(value, wanted):
            raise ValueError(f"{name} must be a number")
    return cls(**data)
