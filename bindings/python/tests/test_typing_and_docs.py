"""The stubs are real: mypy's stubtest compares them with the built module, mypy --strict
accepts an application module using the API and refuses a wrong call; the docstring
examples in the stubs and the package run as doctests."""

from __future__ import annotations

import ast
import doctest
import subprocess
import sys
from pathlib import Path

import cfsign

HERE = Path(__file__).parent
PACKAGE = Path(cfsign.__file__).parent


def mypy(*args: str, cwd: Path = HERE) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", *args],
        cwd=cwd, capture_output=True, text=True, timeout=600,
    )


def test_stubtest_finds_the_stubs_consistent_with_the_module() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "cfsign._cfsign"], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_accepts_the_example_and_refuses_a_wrong_call(tmp_path: Path) -> None:
    ok = mypy("--strict", "typing_example.py")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    wrong = tmp_path / "wrong.py"
    wrong.write_text(
        "import cfsign\n"
        "signer = cfsign.Signer('K1', b'key')\n"
        "url: int = signer.sign_url('https://x.net/a', expires_in=60)\n"
        "signer.sign_url('https://x.net/a', expire=60)\n"
    )
    bad = mypy("--strict", str(wrong), cwd=tmp_path)
    assert bad.returncode == 1
    assert 'Incompatible types in assignment (expression has type "str", variable has type "int")' in bad.stdout
    assert 'Unexpected keyword argument "expire"' in bad.stdout


def run_doctests(text: str, name: str) -> doctest.TestResults:
    parser = doctest.DocTestParser()
    test = parser.get_doctest(text, {}, name, name, 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    return runner.summarize(verbose=False)


def docstrings(source: str) -> list[tuple[str, str]]:
    """(name, docstring) of the module, every class and every function in ``source``."""
    tree = ast.parse(source)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)):
            doc = ast.get_docstring(node, clean=True)
            if doc:
                found.append((getattr(node, "name", "module"), doc))
    return found


def test_docstring_examples_run() -> None:
    attempted = 0
    for name, doc in docstrings((PACKAGE / "_cfsign.pyi").read_text()) + [("cfsign", cfsign.__doc__ or "")]:
        result = run_doctests(doc, name)
        assert result.failed == 0, name
        attempted += result.attempted
    assert attempted >= 30
