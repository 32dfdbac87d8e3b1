"""Golden tests for `stack config`: every case under tests/compose/{valid,invalid}
runs the real binary and must print exactly the expected stdout and stderr.

A case directory holds its compose files, a case.json
({"args": [...], "env": {...}, "stdin": "...", "cwd": "sub", "exit": N}),
expected.out and/or expected.err. @DIR@ stands for the case directory's absolute
path and @HOME@ for the HOME given in the case env."""
import json
from pathlib import Path

import pytest

from conftest import SRCDIR, run_stack

CORPUS = Path(SRCDIR) / "tests" / "compose"


def _cases(kind):
    root = CORPUS / kind
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if (p / "case.json").is_file())


def _expand(text, case_dir, home):
    text = text.replace("@DIR@", str(case_dir))
    if home is not None:
        text = text.replace("@HOME@", home)
    return text


def _read(path, case_dir, home):
    if not path.is_file():
        return ""
    return path.read_text().replace("@DIR@", str(case_dir)).replace(
        "@HOME@", home if home is not None else "@HOME@")


def _run_case(case_dir):
    spec = json.loads((case_dir / "case.json").read_text())
    env = {k: _expand(v, case_dir, None) for k, v in spec.get("env", {}).items()}
    home = env.get("HOME")
    args = [_expand(a, case_dir, home) for a in spec["args"]]
    cwd = case_dir / spec["cwd"] if "cwd" in spec else case_dir
    result = run_stack(*args, cwd=cwd, env=env, input=spec.get("stdin"))
    return spec, home, result


@pytest.mark.parametrize("case_dir", _cases("valid"), ids=lambda p: p.name)
def test_valid_config_matches_golden(case_dir):
    spec, home, r = _run_case(case_dir)
    assert r.err == _read(case_dir / "expected.err", case_dir, home), r
    assert r.out == _read(case_dir / "expected.out", case_dir, home), r
    assert r.code == spec.get("exit", 0), r


@pytest.mark.parametrize("case_dir", _cases("invalid"), ids=lambda p: p.name)
def test_invalid_config_reports_every_error(case_dir):
    spec, home, r = _run_case(case_dir)
    assert r.err == _read(case_dir / "expected.err", case_dir, home), r
    assert r.out == _read(case_dir / "expected.out", case_dir, home), r
    assert r.code == spec.get("exit", 1), r
