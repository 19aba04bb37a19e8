"""Before the first line of code: a wrong Python or a missing module gets one line, not a traceback;
and the demo deletes nothing it did not make."""

from __future__ import annotations

import ast
import io
import json
import os
import re
import subprocess
import sys
import tokenize
from functools import cache
from pathlib import Path

import pytest

import demo
import peps_common as pc
import peps_preflight

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ["peps_download.py", "full_maja_process.py", "full_maja_download.py",
           "peps_maja_process.py", "peps_maja_download.py"]
ENTRY_FILES = [*SCRIPTS, "demo.py"]  # every file a user runs with `python <file>`


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PEPS_URL", "PYTHONHOME")}
    return {**env, **extra}


def run_file(name: str, *args: str, python: list[str] | None = None, cwd: Path | None = None,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*(python or [sys.executable]), str(ROOT / name), *args], cwd=cwd,
                          env=env or clean_env(), capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)


def assert_one_line(proc: subprocess.CompletedProcess[str], status: int = 2) -> str:
    """The process said one line on stderr, nothing on stdout, no traceback, and exited ``status``."""
    assert proc.returncode == status, proc.stdout + proc.stderr
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


# --- the guard itself, with fake versions and modules


def test_the_guard_exits_with_the_suites_bad_input_status():
    assert peps_preflight.BAD_INPUT == pc.ExitStatus.BAD_INPUT
    assert peps_preflight.MIN_PYTHON == (3, 9)


@pytest.mark.parametrize("version", [(2, 7, 18), (3, 4, 10), (3, 6, 15), (3, 8, 18)])
def test_an_old_python_is_told_which_python_is_needed(version):
    message = peps_preflight.problem(version)
    assert "\n" not in message
    assert "needs Python 3.9 or newer" in message
    assert "this is Python " + ".".join(map(str, version)) in message


@pytest.mark.parametrize("version", [(3, 9, 0), (3, 11, 7), (3, 14, 0), (4, 0, 0)])
def test_a_recent_python_with_the_requirements_passes(version):
    assert peps_preflight.problem(version) is None


def test_the_version_is_checked_before_the_modules():
    message = peps_preflight.problem((3, 8, 0), modules=[("peps_no_such_module", "peps-nothing")])
    assert "needs Python 3.9" in message and "peps_no_such_module" not in message


def test_a_missing_module_names_its_package_and_requirements_txt():
    message = peps_preflight.problem((3, 11, 0), modules=[("requests", "requests"),
                                                          ("peps_no_such.parser", "peps-no-such")])
    assert "\n" not in message
    assert "cannot import peps_no_such (No module named 'peps_no_such')" in message
    assert "from the package peps-no-such" in message
    assert "-m pip install -r " in message and "requirements.txt" in message


def test_check_prints_one_line_and_exits_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        peps_preflight.check((3, 7, 16))
    assert exit_info.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "needs Python 3.9 or newer" in err
    peps_preflight.check()  # this Python has what it takes: no exit


# --- the guard comes first, in syntax old Pythons can parse


def test_the_guard_module_parses_on_python_3_4_grammar():
    source = (ROOT / "peps_preflight.py").read_text(encoding="utf-8")
    tree = ast.parse(source, feature_version=(3, 4))
    # ast's feature_version misses some of it (f-strings from Python 3.12 on), so check by hand too
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.STRING or token.type == getattr(tokenize, "FSTRING_START", None):
            prefix = re.match(r"[A-Za-z]*", token.string).group()
            assert "f" not in prefix.lower(), f"f-string on line {token.start[0]}"
    for node in ast.walk(tree):
        assert not isinstance(node, (ast.AnnAssign, ast.NamedExpr, ast.AsyncFunctionDef)), node.lineno
        if isinstance(node, ast.FunctionDef):
            assert node.returns is None, node.name
            arguments = node.args.posonlyargs + node.args.args + node.args.kwonlyargs
            assert not node.args.posonlyargs and not any(arg.annotation for arg in arguments), node.name
        if isinstance(node, ast.ImportFrom):
            assert node.module != "__future__", "a __future__ import limits the Pythons that parse it"


@pytest.mark.parametrize("name", ENTRY_FILES)
def test_each_entry_file_imports_the_guard_first(name):
    source = (ROOT / name).read_text(encoding="utf-8")
    body = ast.parse(source).body
    if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    body = [node for node in body if not (isinstance(node, ast.ImportFrom) and node.module == "__future__")]
    first = body[0]
    assert isinstance(first, ast.Import) and [alias.name for alias in first.names] == ["peps_preflight"]


# --- every entry file compiles on Python 3.6 (CentOS 7's python3), so that the guard gets to run

#: The __future__ features Python 3.6 knows ("annotations" came in 3.7).
FUTURE_3_6 = {"nested_scopes", "generators", "division", "absolute_import", "with_statement",
              "print_function", "unicode_literals", "barry_as_FLUFL", "generator_stop"}


def fstrings(source: str) -> list[tuple[int, str]]:
    """(line, source text) of each f-string literal, however this Python tokenizes them."""
    starts = [0]
    for line in source.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    found, depth, start = [], 0, (0, 0)
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.STRING and "f" in re.match(r"[A-Za-z]*", token.string).group().lower():
            found.append((token.start[0], token.string))  # before 3.12: an f-string is one token
        elif token.type == getattr(tokenize, "FSTRING_START", None):  # 3.12 on: START ... END, nested
            start = token.start if depth == 0 else start
            depth += 1
        elif token.type == getattr(tokenize, "FSTRING_END", None):
            depth -= 1
            if depth == 0:
                (row, col), (end_row, end_col) = start, token.end
                found.append((row, source[starts[row - 1] + col:starts[end_row - 1] + end_col]))
    return found


def fstring_fields(body: str, i: int = 0, fields: list[str] | None = None,
                   nested: bool = False) -> tuple[int, list[str]]:
    """The expressions of the replacement fields of an f-string's ``body`` (no prefix, no quotes),
    those of the format specs included; with ``nested``, of the one format spec starting at ``i``."""
    fields = [] if fields is None else fields
    while i < len(body) and not (nested and body[i] == "}"):
        if not nested and body.startswith(("{{", "}}"), i):
            i += 2
        elif body[i] == "{":
            depth, start, quote = 0, i + 1, ""
            i += 1
            while i < len(body):
                if quote:
                    if body.startswith(quote, i):
                        i, quote = i + len(quote), ""
                        continue
                elif body[i] in "'\"":
                    quote = body[i] * 3 if body.startswith(body[i] * 3, i) else body[i]
                    i += len(quote)
                    continue
                elif body[i] in "([{":
                    depth += 1
                elif body[i] in ")]}" and depth:
                    depth -= 1
                elif depth == 0 and (body[i] in ":}" or (body[i] == "!" and body[i + 1:i + 2] != "=")):
                    break
                i += 1
            fields.append(body[start:i])
            i, _ = fstring_fields(body, i, fields, nested=True)  # conversion and format spec
            i += 1  # the closing brace
        else:
            i += 1
    return i, fields


def newer_than_python_3_6(source: str) -> list[str]:
    """What in ``source`` Python 3.6 cannot compile, as "line N: what"; empty when nothing is found.

    ast's feature_version=(3, 6) first. It lets some of it through, depending on the Python that
    runs it (3.9: walrus and /; 3.12 on: every f-string of PEP 701; all: __future__ annotations,
    relaxed decorators, bare starred tuples, continue in finally): that is looked for by hand.
    """
    try:
        tree = ast.parse(source, feature_version=(3, 6))
    except SyntaxError as error:
        return [f"line {error.lineno}: {error.msg}"]
    found = []
    tokens = [token for token in tokenize.generate_tokens(io.StringIO(source).readline)
              if token.type not in (tokenize.NL, tokenize.COMMENT)]

    def bare_starred(node: ast.AST | None) -> bool:  # `1, *a` with no parentheses around
        return (isinstance(node, ast.Tuple) and any(isinstance(elt, ast.Starred) for elt in node.elts)
                and not ast.get_source_segment(source, node).startswith("("))

    def dotted(node: ast.AST) -> bool:
        return isinstance(node, ast.Name) or (isinstance(node, ast.Attribute) and dotted(node.value))

    for node in ast.walk(tree):
        where = f"line {getattr(node, 'lineno', '?')}: "
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            found += [where + f"from __future__ import {alias.name} (3.7)" for alias in node.names
                      if alias.name not in FUTURE_3_6]
        if isinstance(node, ast.NamedExpr):
            found.append(where + "an assignment expression := (3.8)")
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) and node.args.posonlyargs:
            found.append(where + "positional-only parameters / (3.8)")
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found += [f"line {decorator.lineno}: a decorator that is not a dotted name or call (3.9)"
                      for decorator in node.decorator_list
                      if not dotted(decorator) and not (isinstance(decorator, ast.Call)
                                                        and dotted(decorator.func))]
        if isinstance(node, (ast.Return, ast.Yield)) and bare_starred(node.value):
            found.append(where + "unpacking in a bare return or yield tuple (3.8)")
        if isinstance(node, (ast.For, ast.AsyncFor)) and bare_starred(node.iter):
            found.append(where + "unpacking in a bare for tuple (3.9)")
        if isinstance(node, ast.Subscript) and (isinstance(node.slice, ast.Starred)
                                                or bare_starred(node.slice)):
            found.append(where + "unpacking in an index (3.11)")
        if isinstance(node, ast.Try):  # continue in finally, unless in a loop of its own (3.8)
            todo = list(node.finalbody)
            while todo:
                inner = todo.pop()
                if isinstance(inner, ast.Continue):
                    found.append(f"line {inner.lineno}: continue in a finally clause (3.8)")
                elif isinstance(inner, (ast.For, ast.AsyncFor, ast.While)):
                    todo += inner.orelse
                elif not isinstance(inner, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
                    todo += ast.iter_child_nodes(inner)
        if isinstance(node, (ast.With, ast.AsyncWith)):  # with (a as b, c): ... (3.9)
            index = next(n for n, token in enumerate(tokens) if token.string == "with"
                         and token.start >= (node.lineno, node.col_offset))
            if tokens[index + 1].string == "(":
                depth = 0
                for index in range(index + 1, len(tokens)):  # to the matching ")"
                    depth += {"(": 1, ")": -1}.get(tokens[index].string, 0)
                    if depth == 0:
                        break
                if tokens[index + 1].string == ":" and (len(node.items) > 1 or node.items[0].optional_vars):
                    found.append(where + "parentheses around the items of a with statement (3.9)")
    for line, literal in fstrings(source):
        where = f"line {line}: an f-string with "
        prefix = re.match(r"[A-Za-z]*", literal).group()
        quote = literal[len(prefix):len(prefix) + 3]
        quote = quote if quote in ('"""', "'''") else quote[0]
        body = literal[len(prefix) + len(quote):-len(quote)]
        i = 0
        while i < len(body):  # before 3.12, an f-string ends at its first unescaped quote
            if body[i] == "\\":
                i += 1
            elif body.startswith(quote, i):
                found.append(where + "its own quote inside (3.12)")
                break
            elif body[i] == "\n" and len(quote) == 1:
                found.append(where + "a line break between one-character quotes (3.12)")
                break
            i += 1
        for expression in fstring_fields(body)[1]:
            if "\\" in expression:
                found.append(where + "a backslash in an expression (3.12)")
            if "#" in expression:
                found.append(where + "a '#' in an expression (3.12)")
            if expression.rstrip().endswith("="):
                found.append(where + "a self-documenting {expression=} (3.8)")
    return found


#: Syntax that Python 3.6 cannot compile, each as the checker above must see it.
NEWER_THAN_3_6 = {
    "future annotations": "from __future__ import annotations\n",
    "walrus": "if (a := 1):\n    pass\n",
    "positional-only": "def f(a, /):\n    pass\n",
    "positional-only lambda": "f = lambda a, /: a\n",
    "f-string =": "f'{a=}'\n",
    "f-string =, converted": "f'{a = !r:>10}'\n",
    "f-string quote reused": "f'{d['k']}'\n",
    "f-string backslash": "f'{\"\\n\".join(a)}'\n",
    "f-string comment": "f'''{a # note\n}'''\n",
    "f-string line break": "f'{a +\n b}'\n",
    "nested f-string backslash": "f'{f\"{a!r:\\n}\"}'\n",
    "relaxed decorator": "@a[0].b\ndef f():\n    pass\n",
    "bare starred return": "def f():\n    return 1, *a\n",
    "bare starred yield": "def f():\n    yield 1, *a\n",
    "bare starred for": "for x in *a, *b:\n    pass\n",
    "starred index": "a[*b]\n",
    "parenthesized with": "with (open(a) as b, open(c) as d):\n    pass\n",
    "parenthesized with, one item": "with (open(a) as b):\n    pass\n",
    "continue in finally": ("for a in b:\n    try:\n        pass\n    finally:\n"
                            "        if a:\n            continue\n"),
    "match": "match a:\n    case 1:\n        pass\n",
}

#: Syntax that Python 3.6 compiles, near each of the above: the checker must let it through.
PYTHON_3_6 = {
    "old __future__": "from __future__ import division, generator_stop\n",
    "annotations": "x: list = []\ndef f(a, *, b: 'int' = 1, **c) -> None:\n    pass\n",
    "f-strings": "f'{a!r:>{width}} {{literal}} {d[\"k\"]} {a != b} {x:%Y-%m-%d}' f\"{ {'k': 1}['k'] }\"\n",
    "raw and multi-line f-strings": "rf'\\d{a}' Rf\"\"\"{a}\n{b['c']!s}\"\"\" 'plain'\n",
    "nested f-string": "f'{f\"{a}\"}'\n",
    "decorators": "@a.b(c)\n@d\nclass C:\n    pass\n",
    "starred tuples": "def f():\n    return (1, *a)\nfor x in (*a, *b):\n    a[(*b,)]\n",
    "with": "with (a) as b, c:\n    pass\n",
    "continue in a loop in finally": ("for a in b:\n    try:\n        pass\n    finally:\n"
                                      "        for c in d:\n            continue\n"),
    "3.6 novelties": "x = 1_000\nasync def f():\n    return [x async for x in y]\n",
}


@pytest.mark.parametrize("name", ENTRY_FILES)
def test_each_entry_file_parses_on_python_3_6_grammar(name):
    # the whole file must compile on the old Python for its first line, the guard, to run at all
    assert newer_than_python_3_6((ROOT / name).read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("snippet", NEWER_THAN_3_6.values(), ids=list(NEWER_THAN_3_6))
def test_the_3_6_checker_sees_newer_syntax(snippet):
    assert newer_than_python_3_6(snippet)


@pytest.mark.parametrize("snippet", PYTHON_3_6.values(), ids=list(PYTHON_3_6))
def test_the_3_6_checker_lets_python_3_6_syntax_through(snippet):
    assert newer_than_python_3_6(snippet) == []


def test_the_3_6_checker_agrees_with_a_real_python_3_6():
    """Both lists above, compiled by a real Python 3.6 when this machine has one (CI has none)."""
    python = dict(old_pythons()).get((3, 6))
    if python is None:
        pytest.skip("no Python 3.6 on this machine")
    script = ("import json, sys\nfor source in json.load(sys.stdin):\n    try:\n"
              "        compile(source, 'snippet', 'exec')\n        print('compiles')\n"
              "    except SyntaxError:\n        print('SyntaxError')\n")
    snippets = [*NEWER_THAN_3_6.values(), *PYTHON_3_6.values()]
    proc = subprocess.run([python, "-c", script], input=json.dumps(snippets), capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert dict(zip([*NEWER_THAN_3_6, *PYTHON_3_6], proc.stdout.split())) == {
        **dict.fromkeys(NEWER_THAN_3_6, "SyntaxError"), **dict.fromkeys(PYTHON_3_6, "compiles")}


# --- the real scripts, on a Python without the requirements


@pytest.mark.parametrize("name", ENTRY_FILES)
def test_without_requests_one_line_names_the_requirements(tmp_path, name):
    # -S: no site-packages at all, so neither the venv's requests nor the system's is importable
    if subprocess.run([sys.executable, "-S", "-c", "import requests"], capture_output=True,
                      env=clean_env()).returncode == 0:
        pytest.skip("requests is importable even without site-packages here")
    line = assert_one_line(run_file(name, "--help", python=[sys.executable, "-S"], cwd=tmp_path))
    assert line.startswith(f"{name}: error: ")
    assert "cannot import requests (No module named 'requests')" in line
    assert f"-m pip install -r {ROOT / 'requirements.txt'}" in line


@pytest.mark.parametrize("module,raised,expected", [
    ("dateutil", "ModuleNotFoundError(\"No module named 'dateutil'\", name='dateutil')",
     "cannot import dateutil (No module named 'dateutil'), from the package python-dateutil"),
    ("requests", "ImportError(\"cannot import name 'Retry' from 'urllib3.util'\")",
     "cannot import requests (cannot import name 'Retry' from 'urllib3.util')"),
])
@pytest.mark.parametrize("name", SCRIPTS)
def test_a_missing_or_broken_module_gets_one_line(tmp_path, name, module, raised, expected):
    # a package on PYTHONPATH comes before site-packages: it stands for a missing or broken install
    (tmp_path / module).mkdir()
    (tmp_path / module / "__init__.py").write_text(f"raise {raised}\n", encoding="utf-8")
    proc = run_file(name, "-h", cwd=ROOT, env=clean_env(PYTHONPATH=str(tmp_path)))
    line = assert_one_line(proc)
    assert line.startswith(f"{name}: error: ") and expected in line
    assert "install -r requirements.txt'" in line  # run from the checkout: the short path


@cache
def old_pythons() -> tuple[tuple[tuple[int, int], str], ...]:
    """Pythons older than 3.9 found on this machine (PATH, pyenv), as ((major, minor), path)."""
    candidates = [f"python3.{minor}" for minor in range(4, 9)]
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates += sorted(str(path) for path in pyenv.glob("3.[4-8].*/bin/python"))
    found: dict[tuple[int, int], str] = {}
    for candidate in candidates:
        try:
            proc = subprocess.run([candidate, "-c", "import sys; print('%d %d' % sys.version_info[:2])"],
                                  capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if proc.returncode == 0 and re.fullmatch(r"3 \d+\n", proc.stdout):
            version = tuple(int(part) for part in proc.stdout.split())
            if version < (3, 9):
                found.setdefault(version, candidate)
    return tuple(sorted(found.items()))


@pytest.mark.parametrize("name", ENTRY_FILES)
def test_a_real_old_python_gets_one_line(name):
    """With the old Pythons this machine has (none in CI: then skipped), the real thing."""
    pythons = [(version, path) for version, path in old_pythons() if version >= (3, 6)]  # f-strings
    if not pythons:
        pytest.skip("no Python from 3.6 to 3.8 on this machine")
    for version, python in pythons:
        line = assert_one_line(run_file(name, "--help", python=[python]))
        assert line.startswith(f"{name}: error: needs Python 3.9 or newer, this is Python "
                               f"{version[0]}.{version[1]}."), line


# --- the demo deletes nothing it did not make


def snapshot(folder: Path) -> dict[str, bytes | None]:
    return {str(path.relative_to(folder)): (path.read_bytes() if path.is_file() else None)
            for path in sorted(folder.rglob("*"))}


def test_demo_help_says_what_it_does_and_creates_nothing(tmp_path):
    proc = run_file("demo.py", "--help", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stderr == ""
    for words in ("about 15 seconds", "-o DIR, --output DIR", "./demo-output", ".peps-demo",
                  "6 Sentinel-2 zips", "deletes nothing it did not make"):
        assert words in " ".join(proc.stdout.split()), words
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("how", [["-o", "{dir}"], ["{dir}"], ["."]])
def test_demo_refuses_a_folder_it_did_not_make(tmp_path, how):
    folder = tmp_path / "checkout"
    (folder / ".git" / "objects").mkdir(parents=True)
    (folder / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (folder / "notes.txt").write_text("mine\n")
    (folder / "demo-output").mkdir()
    before = snapshot(folder)
    proc = run_file("demo.py", *(arg.format(dir=folder) for arg in how), cwd=folder)
    line = assert_one_line(proc)
    assert f"{folder} is not empty and is not an earlier output of the demo" in line
    assert ".peps-demo" in line and "-o DIR" in line
    assert snapshot(folder) == before


def test_demo_refuses_a_folder_whose_marker_is_not_its_own(tmp_path):
    (tmp_path / ".peps-demo").write_text("something else\n")
    (tmp_path / "data.txt").write_text("mine\n")
    before = snapshot(tmp_path)
    assert "is not an earlier output of the demo" in assert_one_line(run_file("demo.py", "-o", str(tmp_path)))
    assert snapshot(tmp_path) == before


def test_demo_refuses_a_file(tmp_path):
    file = tmp_path / "report.txt"
    file.write_text("mine\n")
    line = assert_one_line(run_file("demo.py", "-o", str(file)))
    assert f"{file} is a file, not a folder" in line
    assert file.read_text() == "mine\n"
    line = assert_one_line(run_file("demo.py", "-o", str(file / "sub")))  # a folder that cannot be made
    assert f"cannot use {file / 'sub'} for the demo's output" in line and "-o DIR" in line


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root writes into read-only folders")
def test_demo_says_in_one_line_that_it_cannot_write(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        for target in (locked, locked / "new"):
            line = assert_one_line(run_file("demo.py", "-o", str(target)))
            assert f"cannot use {target} for the demo's output (Permission denied)" in line
    finally:
        locked.chmod(0o700)


def test_demo_refuses_two_different_folders(tmp_path):
    line = assert_one_line(run_file("demo.py", "-o", str(tmp_path / "a"), str(tmp_path / "b"), cwd=tmp_path))
    assert "two output folders given" in line
    assert list(tmp_path.iterdir()) == []


def test_demo_marks_a_new_or_empty_folder_and_empties_only_its_own(tmp_path):
    """demo.prepare, which the demo runs first (the whole run is in test_first_run)."""
    new = tmp_path / "new" / "demo"
    demo.prepare(new)
    assert snapshot(new) == {".peps-demo": demo.MARKER_TEXT.encode()}
    # an earlier output: emptied, marker kept; what its symlinks point to is left alone
    outside = tmp_path / "outside"
    (outside / "keep").mkdir(parents=True)
    (outside / "keep" / "data.txt").write_text("mine\n")
    (new / "products").mkdir()
    (new / "products" / "a.zip").write_bytes(b"zip")
    (new / "peps.txt").write_text("demo@peps.example top secret\n")
    (new / "link").symlink_to(outside / "keep")
    demo.prepare(new)
    assert snapshot(new) == {".peps-demo": demo.MARKER_TEXT.encode()}
    assert (outside / "keep" / "data.txt").read_text() == "mine\n"
    # anything else: refused, untouched
    (outside / ".peps-demo").write_text("not the demo's\n")
    before = snapshot(outside)
    with pytest.raises(demo.Refused):
        demo.prepare(outside)
    assert snapshot(outside) == before
