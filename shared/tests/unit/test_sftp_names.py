"""safe_remote_name: every alert id becomes one safe, stable file name, and no two ids share one."""

from __future__ import annotations

import random
import re

import pytest

from pipelines_shared.sftp import MAX_NAME_LENGTH, safe_remote_name

SAFE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")
HASH_TAIL = re.compile(r"-[0-9a-f]{16}\.json\Z")


def assert_safe(name: str, suffix: str = ".json") -> None:
    assert SAFE_NAME.fullmatch(name), name
    assert ".." not in name
    assert len(name) <= MAX_NAME_LENGTH
    assert name.endswith(suffix)


@pytest.mark.parametrize(
    "alert_id",
    [
        "a",
        "alert-0001",
        "2024-01-02T03_04_05.123Z",
        "ALERT_abc.DEF-9",
        "550e8400-e29b-41d4-a716-446655440000",
        "x" * (MAX_NAME_LENGTH - len(".json")),
    ],
)
def test_an_id_that_is_already_safe_keeps_its_exact_spelling(alert_id: str) -> None:
    assert safe_remote_name(alert_id) == alert_id + ".json"


@pytest.mark.parametrize(
    ("alert_id", "stem"),
    [
        ("a/b", "a_b"),
        ("../../etc/passwd", "______etc_passwd"),
        ("..", "__"),
        (".", "_"),
        (".hidden", "_hidden"),
        ("-rf", "_rf"),
        ("a..b", "a__b"),
        ("a...b", "a___b"),
        ("a\\b", "a_b"),
        ("tab\there", "tab_here"),
        ("new\nline", "new_line"),
        ("nul\0byte", "nul_byte"),
        ("del\x7f", "del_"),
        ("space here", "space_here"),
        ("ümlaut", "_mlaut"),
        ("日本", "__"),
        ("emoji😀", "emoji_"),
        ("C:\\alerts\\1", "C__alerts_1"),
        ("a:b*c?d<e>f|g\"h'", "a_b_c_d_e_f_g_h_"),
        ("trailing.", "trailing_"),
        ("%2e%2e%2f", "_2e_2e_2f"),
    ],
)
def test_unsafe_characters_are_replaced_and_the_id_hash_is_appended(alert_id: str, stem: str) -> None:
    name = safe_remote_name(alert_id)
    assert_safe(name)
    assert HASH_TAIL.search(name), name
    assert name.startswith(stem + "-")
    assert name == safe_remote_name(alert_id), "not deterministic"


def test_ids_that_differ_only_in_replaced_characters_get_different_names() -> None:
    ids = ["a/b", "a\\b", "a b", "a_b", "a:b", "a\0b", "aéb", "a.b", "a..b", "a__b"]
    names = [safe_remote_name(alert_id) for alert_id in ids]
    assert len(set(names)) == len(ids), names


def test_an_id_spelled_like_the_hashed_name_of_another_id_does_not_take_that_name() -> None:
    hashed = safe_remote_name("a/b")  # "a_b-<16 hex>.json"
    lookalike = hashed.removesuffix(".json")  # a safe id that spells exactly that stem
    assert safe_remote_name(lookalike) != hashed
    assert_safe(safe_remote_name(lookalike))
    # The same holds for a long id whose truncated, hashed name another id could spell out.
    long_hashed = safe_remote_name("y" * 500)
    assert safe_remote_name(long_hashed.removesuffix(".json")) != long_hashed


def test_a_name_that_only_looks_hashed_by_chance_is_still_distinct_from_its_lookalike() -> None:
    # Upper-case hex does not match the hash pattern, so the id stays as it is.
    assert safe_remote_name("a-0123456789ABCDEF") == "a-0123456789ABCDEF.json"
    name = safe_remote_name("a-0123456789abcdef")
    assert name != "a-0123456789abcdef.json"
    assert name.startswith("a-0123456789abcdef-")


def test_long_ids_are_truncated_and_stay_distinct() -> None:
    common = "alert-" + "x" * 400
    first, second = safe_remote_name(common + "1"), safe_remote_name(common + "2")
    for name in (first, second):
        assert_safe(name)
        assert len(name) == MAX_NAME_LENGTH
        assert HASH_TAIL.search(name)
    assert first != second
    exactly_too_long = "z" * (MAX_NAME_LENGTH - len(".json") + 1)
    assert len(safe_remote_name(exactly_too_long)) <= MAX_NAME_LENGTH
    assert safe_remote_name(exactly_too_long) != exactly_too_long + ".json"


def test_a_trailing_dot_does_not_join_the_suffix_into_two_dots() -> None:
    name = safe_remote_name("alert.")
    assert_safe(name)
    assert name.startswith("alert_-")
    assert safe_remote_name("alert.", suffix="") == "alert."


@pytest.mark.parametrize("suffix", ["", ".json", ".json.gz", ".ndjson", ".v2-final_x"])
def test_other_suffixes(suffix: str) -> None:
    assert safe_remote_name("ok-1", suffix=suffix) == "ok-1" + suffix
    name = safe_remote_name("not/ok", suffix=suffix)
    assert name.endswith(suffix)
    assert SAFE_NAME.fullmatch(name)
    assert ".." not in name


@pytest.mark.parametrize("suffix", ["json", "/x", ".a/b", "..", ".json.", ". json", ".é", "." + "x" * 40])
def test_an_unsafe_suffix_is_rejected(suffix: str) -> None:
    with pytest.raises(ValueError, match="suffix"):
        safe_remote_name("a", suffix=suffix)


@pytest.mark.parametrize("alert_id", ["", None, 42, b"bytes"])
def test_an_empty_or_non_string_id_is_rejected(alert_id: object) -> None:
    with pytest.raises(ValueError, match="alert_id"):
        safe_remote_name(alert_id)  # type: ignore[arg-type]


def test_a_lone_surrogate_from_json_is_handled() -> None:
    first, second = safe_remote_name("x\ud800"), safe_remote_name("x\udc00")
    assert_safe(first)
    assert first != second


# Characters chosen to hit every rule: safe ones, dots and dashes (leading, doubled, trailing),
# separators, controls, quotes, non-ASCII, surrogates, and hex digits that can mimic the hash tail.
ALPHABET = [
    *"abcXYZ019_",
    *"..--",
    *"/\\ \t\n\0\x7f\x1b:*?\"'%~",
    *"éß日😀\u202e\ud800",
    *"0123456789abcdef",
]


def random_id(rng: random.Random) -> str:
    shape = rng.random()
    if shape < 0.05:
        return "x" * rng.randint(190, 260) + rng.choice(ALPHABET)
    if shape < 0.15:
        return rng.choice("ab") + "-" + "".join(rng.choices("0123456789abcdef", k=16))
    return "".join(rng.choices(ALPHABET, k=rng.randint(1, rng.choice((3, 12, 60, 250)))))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_ids_always_give_safe_names_and_never_collide(seed: int) -> None:
    rng = random.Random(seed)
    ids = {random_id(rng) for _ in range(6000)}
    # Adversarial ids: the stem of another id's name, which a careless scheme would hand out twice.
    ids |= {safe_remote_name(alert_id).removesuffix(".json") for alert_id in list(ids)[:2000]}
    names: dict[str, str] = {}
    for alert_id in ids:
        name = safe_remote_name(alert_id)
        assert_safe(name)
        assert name == safe_remote_name(alert_id)
        assert names.setdefault(name, alert_id) == alert_id, f"{alert_id!r} and {names[name]!r} -> {name}"
        if SAFE_NAME.fullmatch(alert_id) and ".." not in alert_id and len(alert_id) <= 195:
            looks_hashed = re.search(r"-[0-9a-f]{16}\Z", alert_id)
            if not looks_hashed and alert_id[0] not in ".-" and not alert_id.endswith("."):
                assert name == alert_id + ".json", "a safe id was changed"
