"""The toml-test conformance suite (TOML 1.0.0) against build/tests/toml-decode.

Every `.toml` listed in shared/testdata/toml-test/files-toml-1.0.0 is one test: `valid/...` cases must
decode (exit 0) to tagged JSON semantically equal to the `.json` next to them; `invalid/...` cases must be
rejected with exit code 1 (never a crash) and an error naming a line. The `.json` entries of the list are
expected outputs, not cases.
"""
import json
import math
import pathlib
import re
import subprocess

import pytest

from conftest import SHARED

SUITE_REL = pathlib.Path("testdata") / "toml-test"
LIST_NAME = "files-toml-1.0.0"
TIMEOUT = 30


def _cases():
    listing = SHARED / SUITE_REL / LIST_NAME
    if not listing.is_file():
        # Reported by the shared_dir fixture / the listing test below rather than at collection.
        return []
    names = []
    for line in listing.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line.endswith(".toml"):
            names.append(line)
    return names


CASES = _cases()


def _case_id(name):
    return name[: -len(".toml")]


@pytest.fixture(scope="session")
def suite_dir(shared_dir):
    d = shared_dir / SUITE_REL
    if not (d / LIST_NAME).is_file():
        pytest.fail(f"toml-test suite not found at {d}")
    return d


@pytest.fixture(scope="session")
def decoder(build_dir):
    exe = build_dir / "tests" / "toml-decode"
    if not exe.is_file():
        pytest.fail(f"{exe} not built (run ninja -C {build_dir})")
    return exe


def test_listing_has_cases(suite_dir):
    assert CASES, "no .toml cases listed"
    for name in CASES:
        assert name.startswith(("valid/", "invalid/")), name


# --- semantic comparison of tagged JSON ------------------------------------------------------------

_DT_SEP = re.compile(r"^(\d{4}-\d{2}-\d{2})[Tt ](.*)$")
_FRAC = re.compile(r"^(.*\d{2}:\d{2}:\d{2})\.(\d+)(.*)$")


def _norm_datetime(s):
    m = _DT_SEP.match(s)
    if m:
        s = m.group(1) + "T" + m.group(2)
    if s.endswith("z"):
        s = s[:-1] + "Z"
    if s.endswith(("+00:00", "-00:00")):
        s = s[:-6] + "Z"
    m = _FRAC.match(s)
    if m:
        frac = m.group(2).rstrip("0")
        s = m.group(1) + ("." + frac if frac else "") + m.group(3)
    return s


def _parse_float(s):
    t = s.strip().lower().lstrip("+")
    if t in ("nan", "-nan"):
        return math.nan
    return float(t)


def _is_tagged(v):
    return isinstance(v, dict) and set(v) == {"type", "value"} and isinstance(v["type"], str)


def _compare(expected, actual, path="$"):
    """Returns None when equal, else a description of the first difference."""
    if _is_tagged(expected):
        if not _is_tagged(actual):
            return f"{path}: expected a {expected['type']} value, got {json.dumps(actual)[:200]}"
        et, at = expected["type"], actual["type"]
        if et != at:
            return f"{path}: expected type {et}, got {at}"
        ev, av = expected["value"], actual["value"]
        if not isinstance(av, str):
            return f"{path}: value is not a string: {av!r}"
        if et == "integer":
            ok = int(ev) == int(av)
        elif et == "float":
            fe, fa = _parse_float(ev), _parse_float(av)
            ok = (math.isnan(fe) and math.isnan(fa)) or fe == fa
        elif et in ("datetime", "datetime-local", "date-local", "time-local"):
            ok = _norm_datetime(ev) == _norm_datetime(av)
        else:
            ok = ev == av
        return None if ok else f"{path}: expected {et} {ev!r}, got {av!r}"
    if isinstance(expected, dict):
        if not isinstance(actual, dict) or _is_tagged(actual):
            return f"{path}: expected a table, got {json.dumps(actual)[:200]}"
        if set(expected) != set(actual):
            missing = sorted(set(expected) - set(actual))
            extra = sorted(set(actual) - set(expected))
            return f"{path}: keys differ: missing {missing!r}, unexpected {extra!r}"
        for k in expected:
            d = _compare(expected[k], actual[k], f"{path}.{json.dumps(k)}")
            if d:
                return d
        return None
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return f"{path}: expected an array, got {json.dumps(actual)[:200]}"
        if len(expected) != len(actual):
            return f"{path}: expected {len(expected)} elements, got {len(actual)}"
        for i, (e, a) in enumerate(zip(expected, actual)):
            d = _compare(e, a, f"{path}[{i}]")
            if d:
                return d
        return None
    return f"{path}: unexpected expected-value {expected!r}"


def _run(decoder, toml_path):
    data = toml_path.read_bytes()
    return subprocess.run([str(decoder)], input=data, capture_output=True, timeout=TIMEOUT)


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_toml_case(case, suite_dir, decoder):
    toml_path = suite_dir / case
    proc = _run(decoder, toml_path)
    stderr = proc.stderr.decode("utf-8", "replace")
    if proc.returncode < 0:
        pytest.fail(f"decoder killed by signal {-proc.returncode}\n{stderr}")

    if case.startswith("valid/"):
        assert proc.returncode == 0, f"valid document rejected (exit {proc.returncode}): {stderr}"
        expected = json.loads((suite_dir / (case[: -len(".toml")] + ".json")).read_text(encoding="utf-8"))
        try:
            actual = json.loads(proc.stdout.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            pytest.fail(f"decoder printed invalid JSON: {e}\n{proc.stdout[:500]!r}")
        diff = _compare(expected, actual)
        assert diff is None, diff
    else:
        assert proc.returncode == 1, (
            f"invalid document: expected exit 1, got {proc.returncode}\nstdout: {proc.stdout[:300]!r}\n{stderr}"
        )
        assert "line " in stderr, f"error message does not name a line: {stderr!r}"
