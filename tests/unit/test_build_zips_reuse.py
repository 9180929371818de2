"""tools/build_zips.py reuses a zip only while everything its bytes depend on is unchanged."""

from __future__ import annotations

from pathlib import Path

import build_zips


def test_the_inputs_digest_follows_every_name_and_byte(tmp_path: Path):
    deps = tmp_path / "deps"
    deps.mkdir()
    (deps / ".complete").write_text("cache-key-1")
    source = tmp_path / "handler.py"
    source.write_text("A = 1\n")
    entries = [("pkg/handler.py", source)]
    first = build_zips.inputs_digest(deps, entries)
    assert build_zips.inputs_digest(deps, entries) == first
    source.write_text("A = 2\n")
    changed_content = build_zips.inputs_digest(deps, entries)
    assert changed_content != first
    assert build_zips.inputs_digest(deps, [("pkg/other.py", source)]) != changed_content
    assert build_zips.inputs_digest(deps, [*entries, ("pkg/new.py", source)]) != changed_content
    (deps / ".complete").write_text("cache-key-2")  # other requirements or another interpreter
    assert build_zips.inputs_digest(deps, entries) != changed_content


def test_a_zip_edited_after_its_build_is_rebuilt(tmp_path: Path, monkeypatch):
    service = "example-worker"
    monkeypatch.setattr(build_zips, "OUT", tmp_path)
    path, digest = build_zips.build(service)
    assert build_zips.build(service) == (path, digest)  # reused
    path.write_bytes(b"not the zip")
    rebuilt, again = build_zips.build(service)
    assert again == digest
    assert build_zips.hashlib.sha256(rebuilt.read_bytes()).hexdigest() == digest
