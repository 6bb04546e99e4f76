"""The code's own contract, checked with every test run (so CI fails on a violation): the
layering (the layers of docs/code.md, no import cycle, no domain importing another domain's
service or queries; pyproject.toml [tool.importlinter]), lint and layout (ruff check and ruff
format, [tool.ruff]) and types (mypy, [tool.mypy]: strict flags on the layers below the domains).

Types are a ratchet: mypy's findings of today are listed in tests/mypy-baseline.txt (path,
code and message, without line numbers); a finding that is not in that list fails the test,
so no new type error gets in while the old ones are worked off. Regenerate the list after
fixing some: `python -m tests.ops.test_code_contract > tests/mypy-baseline.txt`."""

from __future__ import annotations

import collections
import re
import subprocess
import sys
from pathlib import Path

from tests.support.common import ROOT

BIN = Path(sys.executable).parent
BASELINE = ROOT / "tests" / "mypy-baseline.txt"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_layering_contract_holds():
    r = _run(str(BIN / "lint-imports"), "--no-cache")
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]


def test_ruff_finds_nothing():
    r = _run(str(BIN / "ruff"), "check", "app", "tests", "bench", "migrations", "--output-format", "concise")
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]


def test_the_code_is_as_ruff_format_writes_it():
    """One layout for every file, so a diff shows what changed and nothing of who wrote it:
    `ruff format app tests bench migrations` before committing."""
    r = _run(str(BIN / "ruff"), "format", "--check", "app", "tests", "bench", "migrations")
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]


def test_the_layers_below_the_domains_have_no_type_finding_left():
    """The ratchet's list may hold the domains' old findings, never one of the layers every
    domain leans on (docs/code.md): those are checked with mypy's strict flags and kept clean."""
    lower = ("app/core/", "app/infra/", "app/security/", "app/record/", "app/reporting/", "app/web/")
    left = [line for line in BASELINE.read_text().splitlines() if line.startswith(lower)]
    assert not left, "\n".join(left)


def test_the_environment_is_read_in_settings_only():
    """Every environment variable is a documented setting: app.core.settings reads them all
    (the CLI only writes some for the worker processes it starts), and the README's
    configuration table lists each one."""
    readers = []
    for path in sorted((ROOT / "app").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel == "app/core/settings.py":
            continue
        for no, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"os\.environ\.get|os\.getenv|os\.environ\[[^]]+\](?!\s*=)", line):
                readers.append(f"{rel}:{no}: {line.strip()}")
    assert not readers, "read the environment in app/core/settings.py:\n" + "\n".join(readers)
    names = set(re.findall(r"\b(KUMKM_[A-Z_]+|DATABASE_[A-Z_]+)", (ROOT / "app/core/settings.py").read_text()))
    readme = (ROOT / "README.md").read_text()
    undocumented = sorted(n for n in names if n not in readme)
    assert not undocumented, f"add to the README's configuration table: {undocumented}"


def mypy_findings() -> list[str]:
    r = _run(str(BIN / "mypy"), "app", "--no-error-summary", "--hide-error-context", "--no-pretty", "--cache-dir", "/dev/null")
    assert "error: " in r.stdout or r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    out = []
    for line in r.stdout.splitlines():
        m = re.match(r"^(app/[^:]+):\d+(?::\d+)?: error: (.*)$", line)
        if m:
            out.append(f"{m.group(1)}: {m.group(2)}")
    return sorted(out)


# Findings that are bugs whatever the baseline says: a name or a module attribute of our own
# code that does not exist (a function moved without its callers) fails at once.
ALWAYS = re.compile(r"\[name-defined\]$|Module has no attribute|Module \"app\.[^\"]*\" has no attribute")


def test_no_new_type_errors():
    known = collections.Counter(line for line in BASELINE.read_text().splitlines() if line.strip() and not ALWAYS.search(line))
    found = collections.Counter(mypy_findings())
    new = found - known
    assert not new, "new mypy errors (fix them; the baseline only shrinks):\n" + "\n".join(sorted(new.elements()))


if __name__ == "__main__":
    print("\n".join(mypy_findings()))
