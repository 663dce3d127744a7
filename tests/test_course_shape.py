"""The course's shape (issue 20): a core path of short sittings, appendices for the tangents, every explorer a
task, and every notebook ending with takeaways and a link to the next one.

These read the committed notebooks; they fail when a notebook is added, renamed or restructured without the
rest of the course following (a stale "Next:" link, an appendix nobody links to, an explorer with no question).
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from course_utils.notebooks import course_notebooks

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "notebooks"
CORE = course_notebooks(FOLDER, appendices=False)
APPENDICES = [p for p in course_notebooks(FOLDER) if p not in CORE]
TIME = re.compile(r"\*\*Time:\*\*\s*(?:about\s*)?(\d+)(?:\s*(?:to|-|–)\s*(\d+))?\s*min", re.I)
LINK = re.compile(r"\]\(((?:\d\d|A\d)_[\w-]+\.ipynb)(?:#[^)]*)?\)")
EXPLORER = re.compile(r"\b(?:Explorer|own_image_explorer|interact_figure)\(")


def _cells(path: Path):
    return nbformat.read(path, as_version=4).cells


def _markdown(path: Path) -> str:
    return "\n".join(c.source for c in _cells(path) if c.cell_type == "markdown")


def test_there_is_a_core_path_and_appendices():
    assert len(CORE) >= 12, [p.name for p in CORE]
    assert APPENDICES, "no appendix notebooks (notebooks/A1_*.ipynb ...)"
    assert not (FOLDER / "10_beyond_grad_cam.ipynb").exists(), "notebook 10 is split into two core notebooks"


@pytest.mark.parametrize("path", CORE + APPENDICES, ids=lambda p: p.name)
def test_time_is_stated_and_a_core_sitting_is_at_most_45_minutes(path):
    head = " ".join(c.source for c in _cells(path)[:3] if c.cell_type == "markdown")
    m = TIME.search(head)
    assert m, f"{path.name} states no **Time:** in its opening cells"
    if path in CORE:
        assert int(m.group(2) or m.group(1)) <= 45, f"{path.name}: {m.group(0)}"


@pytest.mark.parametrize("path", CORE + APPENDICES, ids=lambda p: p.name)
def test_every_notebook_ends_with_takeaways_and_next(path):
    """Two or three takeaways in words, then a "Next:" link: a core notebook's is the next core notebook; an
    appendix's leads back to the core path."""
    text = _markdown(path)
    assert "## Takeaways" in text, f"{path.name} has no '## Takeaways'"
    tail = text[text.index("## Takeaways") :].split("## References")[0]
    body = re.split(r"^\*\*(?:Next|Back)", tail, flags=re.M)[0]
    bullets = [line for line in body.splitlines() if line.startswith("- ")]
    assert 2 <= len(bullets) <= 4, f"{path.name}: {len(bullets)} takeaways; two or three, in words"
    if path == CORE[-1]:
        return
    if path in CORE:
        m = re.search(r"\*\*Next:\*\*\s*\[[^\]]+\]\((\d\d_[\w-]+\.ipynb)\)", tail)
        assert m, f"{path.name} ends with no '**Next:** [..](NN_....ipynb)' line"
        assert m.group(1) == CORE[CORE.index(path) + 1].name, f"{path.name}: Next: {m.group(1)}"
    else:
        m = re.search(r"\*\*Next:\*\*[^\[]*\[[^\]]+\]\((\d\d_[\w-]+\.ipynb)", tail)
        assert m, f"{path.name} ends with no '**Next:**' link back to the core path"


@pytest.mark.parametrize("path", CORE + APPENDICES, ids=lambda p: p.name)
def test_every_link_to_a_notebook_resolves(path):
    for target in LINK.findall(_markdown(path)):
        assert (FOLDER / target).is_file(), f"{path.name} links to {target}, which does not exist"


def test_every_appendix_is_linked_from_the_core_path():
    core_text = "\n".join(_markdown(p) for p in CORE)
    for appendix in APPENDICES:
        assert f"]({appendix.name}" in core_text, f"no core notebook links to {appendix.name} ('Going further')"
        title = next(line for line in _markdown(appendix).splitlines() if line.startswith("# "))
        assert title.startswith(f"# Appendix {appendix.name[:2]} "), title


@pytest.mark.parametrize("path", CORE, ids=lambda p: p.name)
def test_every_explorer_is_a_task(path):
    """An explorer cell comes after a committed prediction (a solution cell) or a question, and before a check or
    an answer (a checker call, or a markdown cell that gives the answer or says what to notice)."""
    cells = _cells(path)
    for i, cell in enumerate(cells):
        if cell.cell_type != "code" or not EXPLORER.search(cell.source):
            continue
        before = cells[max(0, i - 3) : i]
        assert any(
            "solution" in c.metadata.get("tags", []) or (c.cell_type == "markdown" and "?" in c.source) for c in before
        ), f"{path.name} cell {i}: no committed prediction or question in the three cells before the explorer"
        after = cells[i + 1 : i + 4]
        assert any(
            (c.cell_type == "code" and "check" in c.source)
            or (c.cell_type == "markdown" and re.search(r"answer|What to notice", c.source, re.I))
            for c in after
        ), f"{path.name} cell {i}: no check or stated answer in the three cells after the explorer"


def test_what_to_notice_asks_first():
    """A "What to notice" answers a question that comes first: in the same cell, or in the two cells before it."""
    for path in CORE:
        cells = _cells(path)
        for i, cell in enumerate(cells):
            if cell.cell_type != "markdown" or "What to notice" not in cell.source:
                continue
            before = cell.source.split("What to notice")[0] + "".join(
                c.source for c in cells[max(0, i - 2) : i] if c.cell_type == "markdown"
            )
            assert "?" in before, f"{path.name} cell {i}: 'What to notice' with no question before it"


def test_the_course_maps_list_every_notebook():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = _markdown(FOLDER / "00_start_here.ipynb")
    for path in CORE + APPENDICES:
        assert f"`{path.name}`" in readme, f"README's course map misses {path.name}"
        assert path.name in start, f"00's course map misses {path.name}"


def test_the_course_maps_state_each_notebooks_own_time():
    """README's and 00's Time columns say what each notebook's **Time:** line says (the notebook is the one home)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = _markdown(FOLDER / "00_start_here.ipynb")
    for path in CORE + APPENDICES:
        head = " ".join(c.source for c in _cells(path)[:3] if c.cell_type == "markdown")
        minutes = TIME.search(head).group(2) or TIME.search(head).group(1)
        assert re.search(rf"\| `{re.escape(path.name)}` \| {minutes} min \|", readme), f"README: {path.name}"
        assert re.search(rf"\]\({re.escape(path.name)}\) \| {minutes} min \|", start), f"00: {path.name}"
