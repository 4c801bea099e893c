"""Every code example of the documentation runs, and prints what the page says it prints.

* Each page of ``mkdocs.yml``'s nav: its ```python blocks run in page order in one namespace
  per page (from the repository root, so ``../shared/data`` resolves). A ```text block with
  ``title="Output"`` right after a python block is that block's standard output, compared
  exactly. Pages that read ``../shared/data`` are skipped when it is absent, the Dask page when
  dask is not installed.
* Shell blocks (```sh): ``strikegrid ...`` lines run the command line (and a following output
  block is compared); ``pip install`` lines must name extras that exist; ``make`` lines
  targets that exist. Any other shell line fails the test, so nothing shown goes unchecked.
* The docstring examples (``>>>``) of the modules the API reference renders run as doctests.
* Every page under docs/ is in the nav and the nav names no missing page (no orphans, no
  stubs); ``make docs`` builds the site with ``mkdocs build --strict``.
"""

from __future__ import annotations

import contextlib
import doctest
import importlib
import io
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
DATA = ROOT.parent / "shared" / "data" / "option_chains"

yaml = pytest.importorskip("yaml")

FENCE = re.compile(r"^```([\w-]*)([^\n]*)\n(.*?)^```[ \t]*$", re.M | re.S)


@dataclass
class Block:
    lang: str
    attrs: str
    code: str
    line: int
    end: int  # offset just after the closing fence


def blocks(text: str) -> list[Block]:
    out = []
    for m in FENCE.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        out.append(Block(m.group(1), m.group(2).strip(), m.group(3), line, m.end()))
    return out


def _flatten(nav: Any) -> list[str]:
    if isinstance(nav, str):
        return [nav]
    if isinstance(nav, dict):
        return [p for v in nav.values() for p in _flatten(v)]
    return [p for item in nav for p in _flatten(item)]


def nav_pages() -> list[str]:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    return _flatten(config["nav"])


PAGES = nav_pages()


def _is_output(block: Block) -> bool:
    return block.lang == "text" and 'title="Output"' in block.attrs


def _follows(text: str, before: Block, after: Block) -> bool:
    """True when only blank space separates the two blocks."""
    start = text.find("```", before.end)
    return start >= 0 and not text[before.end : start].strip() and after.line > before.line


def _norm(s: str) -> str:
    return "\n".join(line.rstrip() for line in s.strip("\n").splitlines())


def _strikegrid_cli() -> list[str]:
    exe = Path(sys.executable).with_name("strikegrid")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "strikegrid.cli"]


def _extras() -> set[str]:
    tomllib = pytest.importorskip("tomllib") if sys.version_info >= (3, 11) else None
    if tomllib is None:  # pragma: no cover - Python < 3.11
        text = (ROOT / "pyproject.toml").read_text()
        return set(re.findall(r"^(\w+) = \[", text, re.M))
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return set(data["project"]["optional-dependencies"])


def _make_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([\w-]+):", text, re.M))


def _check_shell(block: Block, expected: str | None, page: str) -> None:
    lines = [ln.strip() for ln in block.code.splitlines()]
    lines = [ln.split("  #")[0].strip() for ln in lines if ln and not ln.startswith("#")]
    outputs = []
    for ln in lines:
        words = shlex.split(ln)
        if words[0] == "strikegrid":
            proc = subprocess.run(
                _strikegrid_cli() + words[1:],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            assert proc.returncode == 0, f"{page}:{block.line}: {ln}\n{proc.stderr}"
            outputs.append(proc.stdout)
        elif words[:2] == ["pip", "install"]:
            for spec in words[2:]:
                m = re.fullmatch(r"strikegrid(?:\[([\w,]+)\])?", spec)
                assert m, f"{page}:{block.line}: installs {spec!r}, not strikegrid"
                for extra in (m.group(1) or "").split(","):
                    assert not extra or extra in _extras(), f"{page}: no extra {extra!r}"
        elif words[0] == "make":
            for target in words[1:]:
                if "=" not in target:
                    assert target in _make_targets(), f"{page}: no make target {target!r}"
        else:
            raise AssertionError(f"{page}:{block.line}: shell line the tests cannot check: {ln}")
    if expected is not None:
        assert _norm("".join(outputs)) == _norm(expected), f"{page}:{block.line}"


class NeedsData(Exception):
    """The rest of the page reads ../shared/data, which is absent."""


def run_page(page: str, check: bool = True) -> list[tuple[int, str]]:
    """Run a page's examples; returns (line, captured output) per python block. From the
    first block that reads ``../shared/data`` on, a page needs the data: without it the
    earlier blocks run and NeedsData is raised."""
    text = (DOCS / page).read_text(encoding="utf-8")
    found = blocks(text)
    namespace: dict[str, Any] = {"__name__": f"docs.{page}"}
    printed = []
    for i, block in enumerate(found):
        if "../shared/data" in block.code and not DATA.exists():
            raise NeedsData(f"docs/{page}:{block.line} on")
        nxt = found[i + 1] if i + 1 < len(found) else None
        expected = (
            nxt.code if nxt is not None and _is_output(nxt) and _follows(text, block, nxt) else None
        )
        if block.lang == "python":
            buf = io.StringIO()
            code = compile(block.code, f"docs/{page}:{block.line}", "exec")
            with contextlib.redirect_stdout(buf):
                exec(code, namespace)
            printed.append((block.line, buf.getvalue()))
            if expected is not None and check:
                assert _norm(buf.getvalue()) == _norm(expected), (
                    f"docs/{page}:{block.line} printed\n{buf.getvalue()}\nbut the page says\n"
                    f"{expected}"
                )
        elif block.lang in ("sh", "bash", "console"):
            _check_shell(block, expected if check else None, page)
    return printed


@pytest.mark.parametrize("page", PAGES)
def test_page_examples_run(page: str, monkeypatch: pytest.MonkeyPatch) -> None:
    text = (DOCS / page).read_text(encoding="utf-8")
    if "import strikegrid.dask" in text:
        pytest.importorskip("dask")
        pytest.importorskip("distributed")
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    try:
        run_page(page)
    except NeedsData as e:
        pytest.skip(f"../shared/data not present: {e} skipped")
    finally:
        if "matplotlib.pyplot" in sys.modules:
            sys.modules["matplotlib.pyplot"].close("all")


def test_every_page_is_in_the_nav() -> None:
    on_disk = sorted(str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md"))
    assert sorted(PAGES) == on_disk
    for page in PAGES:
        text = (DOCS / page).read_text(encoding="utf-8")
        assert "TODO" not in text and "TBD" not in text, page
        if not page.startswith("api/"):
            assert "```python" in text or page == "conventions.md", f"{page} has no example"


def test_output_blocks_follow_code() -> None:
    """An output block that follows no code would go unchecked."""
    for page in PAGES:
        text = (DOCS / page).read_text(encoding="utf-8")
        found = blocks(text)
        for i, block in enumerate(found):
            if _is_output(block):
                assert i > 0 and found[i - 1].lang in ("python", "sh"), f"{page}:{block.line}"
                assert _follows(text, found[i - 1], block), f"{page}:{block.line}"


@pytest.mark.parametrize(
    "module",
    [
        "strikegrid",
        "strikegrid.chain",
        "strikegrid.frames",
        "strikegrid.rfq",
        "strikegrid.backtest",
    ],
)
def test_docstring_examples(module: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    mod = importlib.import_module(module)
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


def test_api_reference_covers_the_public_modules() -> None:
    text = "\n".join((DOCS / p).read_text(encoding="utf-8") for p in PAGES if p.startswith("api/"))
    for module in (
        "strikegrid.pricing",
        "strikegrid.implied",
        "strikegrid.american",
        "strikegrid.chain",
        "strikegrid.surface",
        "strikegrid.package",
        "strikegrid.strategies",
        "strikegrid.screening",
        "strikegrid.rfq",
        "strikegrid.book",
        "strikegrid.backtest",
        "strikegrid.frames",
        "strikegrid.batch",
        "strikegrid.progress",
        "strikegrid.dask",
        "strikegrid.exceptions",
    ):
        assert f"::: {module}" in text, module


if __name__ == "__main__":  # authoring aid: python tests/test_docs.py docs/guides/x.md
    os.chdir(ROOT)
    for arg in sys.argv[1:]:
        page = str(Path(arg).resolve().relative_to(DOCS))
        for line, out in run_page(page, check=False):
            print(f"--- {page}:{line}")
            print(out, end="")
