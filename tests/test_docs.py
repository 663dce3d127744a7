"""The instructor guide covers every notebook and the misconceptions the course promises to address, its
plan adds up to 2 x 90 minutes, and every cross-reference it makes (notebook NN, section "...") points at a
notebook and a heading that exist."""
import json
import re
from pathlib import Path

from course_utils.notebooks import course_notebooks

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "instructor_guide.md"

# notebook 05, section "Why the logit"   |   notebook 03, section "A" and section "B"   |   notebook 09   |
# appendix A4, section "..."
REFERENCE = re.compile(r'(?:notebook|[Aa]ppendix)\s+(\d\d|A\d)\b((?:(?:,|\s+and)\s+section\s+"[^"]+")*)')
SECTION = re.compile(r'section\s+"([^"]+)"')
# README, section "Setup"
README_REFERENCE = re.compile(r'README(?:\.md)?,\s+section\s+"([^"]+)"')


def _norm(text: str) -> str:
    return " ".join(text.split()).strip().lower()


def _markdown_headings(lines) -> list[str]:
    """The headings of markdown text (not the comments inside its fenced code blocks), normalised."""
    headings, fenced = [], False
    for line in lines:
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced and (m := re.match(r"#{1,6}\s+(.*)", line)):
            headings.append(_norm(m.group(1)))
    return headings


def _notebook_headings(path: Path) -> list[str]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    lines = []
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            source = cell["source"]
            lines += ("".join(source) if isinstance(source, list) else source).splitlines()
    return _markdown_headings(lines)


def _has(headings: list[str], cited: str) -> bool:
    """A cited section matches a heading that is the same text or starts with it (a shortened title)."""
    cited = _norm(cited)
    return any(h == cited or h.startswith(cited) for h in headings)


def test_instructor_guide_covers_every_notebook_and_misconception():
    guide = GUIDE.read_text(encoding="utf-8")
    for nb in course_notebooks(ROOT / "notebooks"):
        assert f"### {nb.name[:2]} " in guide, f"the guide has no section for {nb.name}"
    for topic in ("which layer", "softmax against logits", "all-zero or nan", "nested base model",
                  "blindness to the class", "cam against grad-cam"):
        assert topic in guide.lower(), topic
    assert "python -m course_utils.student" in guide
    for stuck in ("No module named 'course_utils'", "ipykernel install", "Shut Down", "Sideways photos",
                  "stopped at an exercise"):
        assert stuck in guide, stuck


def test_every_cross_reference_names_an_existing_notebook_and_heading():
    guide = GUIDE.read_text(encoding="utf-8")
    notebooks = {p.name[:2]: p for p in course_notebooks(ROOT / "notebooks")}
    readme_headings = _markdown_headings((ROOT / "README.md").read_text(encoding="utf-8").splitlines())
    missing, found = [], 0
    for m in REFERENCE.finditer(guide):
        line = guide.count("\n", 0, m.start()) + 1
        number, sections = m.group(1), SECTION.findall(m.group(2))
        found += 1
        if number not in notebooks:
            missing.append(f"line {line}: notebook {number}: no notebooks/{number}_*.ipynb")
            continue
        headings = _notebook_headings(notebooks[number])
        for section in sections:
            if not _has(headings, section):
                missing.append(f'line {line}: notebook {number}, section "{" ".join(section.split())}": '
                               f"no markdown heading of {notebooks[number].name} starts with it")
    for m in README_REFERENCE.finditer(guide):
        found += 1
        if not _has(readme_headings, m.group(1)):
            line = guide.count("\n", 0, m.start()) + 1
            missing.append(f'line {line}: README, section "{" ".join(m.group(1).split())}": no heading of '
                           "README.md starts with it")
    assert found >= 30, f"only {found} cross-references found: is the form 'notebook 05, section \"...\"' still used?"
    assert not missing, "docs/instructor_guide.md cites what does not exist:\n" + "\n".join(missing)


NOTEBOOK_TIME = re.compile(r"\*\*Time:\*\*\s+about\s+(\d+)\s+min")
GUIDE_HEADING = re.compile(r"^### (\d\d|A\d) (.*)$", flags=re.M)


def _notebook_time(path: Path) -> int:
    """The minutes of a notebook's own ``**Time:** about N min`` line."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            source = cell["source"]
            if m := NOTEBOOK_TIME.search("".join(source) if isinstance(source, list) else source):
                return int(m.group(1))
    raise AssertionError(f"{path.name} has no '**Time:** about N min' line")


def test_the_guide_states_each_notebooks_own_time():
    """Each guide heading '### NN ...' / '### AN ...' and each core notebook's row of the plan table state the
    time of the notebook's own **Time:** line."""
    guide = GUIDE.read_text(encoding="utf-8")
    times = {p.name[:2]: _notebook_time(p) for p in course_notebooks(ROOT / "notebooks")}
    mismatches, headed = [], set()
    for m in GUIDE_HEADING.finditer(guide):
        number, title = m.group(1), m.group(2)
        if number not in times:
            continue
        headed.add(number)
        stated = re.findall(r"about (\d+)", title)
        if len(stated) != 1:
            mismatches.append(f"heading '### {number} {title}': states no single 'about N' time")
        elif int(stated[0]) != times[number]:
            mismatches.append(f"heading '### {number} {title}': about {stated[0]} min, but the notebook's "
                              f"**Time:** line says about {times[number]} min")
    plan = guide.split("## The plan", 1)[1].split("\n### ", 1)[0]
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| (\d\d) [^|]*\|[^|]*\|[^|]*\| ([^|]*)\|", plan, flags=re.M)}
    for number, minutes in times.items():
        if number[0] == "A":
            continue
        if number not in rows:
            mismatches.append(f"plan table: no row for notebook {number}")
        elif not (m := re.match(r"\s*(\d+) min", rows[number])) or int(m.group(1)) != minutes:
            mismatches.append(f"plan table, row {number}: '{rows[number].strip()}', but the notebook's **Time:** "
                              f"line says about {minutes} min")
    assert headed == set(times), f"no guide heading for {sorted(set(times) - headed)}"
    assert not mismatches, "docs/instructor_guide.md states other times than the notebooks:\n" + "\n".join(mismatches)
    core = sum(int(t) for k, t in times.items() if k[0].isdigit())
    appendices = sum(int(t) for k, t in times.items() if k.startswith("A"))
    assert f"add up to {core} minutes" in guide, f"the core notebooks' times add up to {core} minutes"
    assert f"the appendices add about" in guide and f"({appendices} minutes)" in guide, (
        f"the appendices' times add up to {appendices} minutes")


def _session_rows(guide: str, title: str) -> list[tuple[int, int, int, str]]:
    """(start, end, minutes, what) for each row of the plan table under the heading ``title``."""
    part = guide.split(title, 1)[1].split("\n### ", 1)[0]
    rows = []
    for m in re.finditer(r"^\| (\d):(\d\d)-(\d):(\d\d) \| (\d+) \| ([^|]+)\|", part, flags=re.M):
        h0, m0, h1, m1, minutes = (int(g) for g in m.groups()[:5])
        rows.append((60 * h0 + m0, 60 * h1 + m1, minutes, m.group(6).strip()))
    return rows


def test_the_plan_adds_up_to_two_sessions_of_90_minutes():
    guide = GUIDE.read_text(encoding="utf-8")
    for title in ("### Session 1", "### Session 2"):
        rows = _session_rows(guide, title)
        assert rows, f"no plan table under {title}"
        assert sum(r[2] for r in rows) == 90, (title, rows)
        assert rows[0][0] == 0 and rows[-1][1] == 90, (title, rows)
        for (start, end, minutes, what), nxt in zip(rows, rows[1:] + [None]):
            assert end - start == minutes, (title, what)
            assert nxt is None or nxt[0] == end, f"{title}: a gap or overlap after '{what}'"
        whats = " ".join(r[3] for r in rows).lower()
        assert "break" in whats and "exit quiz" in whats and "buffer" in whats, title
    for heading in ("### One 3-hour session", "### Exit quiz 1", "### Exit quiz 2", "### Answers", "Homework"):
        assert heading in guide, heading


def test_licences_citation_and_changelog_agree_on_the_version():
    import tomllib

    import yaml

    import course_utils

    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert course_utils.__version__ == version
    licence = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "MIT License" in licence and "CC BY 4.0" in licence and "course_cnn.keras" in licence
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert cff["cff-version"] == "1.2.0" and cff["message"] and cff["title"] and cff["authors"]
    assert str(cff["version"]) == version and set(cff["license"]) == {"MIT", "CC-BY-4.0"}
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    releases = re.findall(r"^## \[(\d+\.\d+\.\d+)\] - (\d{4}-\d\d-\d\d)$", changelog, flags=re.M)
    assert releases and releases[0][0] == version, "CHANGELOG.md's newest release is not the package's version"
    assert str(cff["date-released"]) == releases[0][1]
    # Keep a Changelog: "Unreleased" on top, then the newest release, which says what it brought.
    sections = re.split(r"^## ", changelog, flags=re.M)[1:]
    assert sections[0].startswith("[Unreleased]"), "CHANGELOG.md must start with an [Unreleased] section"
    assert sections[1].startswith(f"[{version}] - "), "the section after [Unreleased] must be the package's version"
    assert "### " in sections[1] and "\n- " in sections[1], f"CHANGELOG.md's section {version} lists no changes"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for text in ("CC BY 4.0", "MIT", "CITATION.cff", "CHANGELOG.md", f"v{version}", "Krizhevsky"):
        assert text in readme, text


def _guide_fields(body: str) -> dict[str, str]:
    """The bulleted fields of a notebook's section in the guide: {"Goals": ..., "Project": ..., ...}."""
    return dict(re.findall(r"^- \*\*(\w+):\*\*(.*?)(?=^- \*\*|\Z)", body, flags=re.M | re.S))


def _live_notebooks(guide: str) -> dict[str, dict[str, str]]:
    """{"01": fields, ...} for each core notebook taught live, in part ("### 01 ... (live 20 min of ...)")."""
    found = re.findall(r"^### (\d\d) [^\n]*\(live[^\n]*\n(.*?)(?=^##)", guide, flags=re.M | re.S)
    return {num: _guide_fields(body) for num, body in found}


def _sections_and_turns(path: Path) -> tuple[list[str], dict[int, str]]:
    """A notebook's ``##`` sections in order, and the section that holds each "### Your turn N"."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    sections: list[str] = []
    turns: dict[int, str] = {}
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            source = cell["source"]
            for line in ("".join(source) if isinstance(source, list) else source).splitlines():
                if m := re.match(r"## (.*)", line):
                    sections.append(_norm(m.group(1)))
                elif (m := re.match(r"### Your turn (\d+)", line)) and sections:
                    turns[int(m.group(1))] = sections[-1]
    return sections, turns


def _cites(text: str, section: str) -> bool:
    """``text`` names ``section`` (in full, or by the start of its title, as the guide shortens them)."""
    return any(section.startswith(_norm(cited)) for cited in SECTION.findall(text))


def test_every_live_segment_rests_on_what_was_taught_live_or_before():
    """The class of fault a dry run of the plan found: a live exercise or an exit-quiz question about a section
    the timeline skipped. For each notebook taught live, in part: each live exercise ("Live: 3 and 4") is in the
    timeline (**Project:**) with its section; every section before the last one taught live is either in the
    timeline or named as homework (**Homework:**, or the session's "Cut from" paragraph), never silently
    skipped; and each core notebook's section that an exit quiz's answer cites is in that notebook's timeline."""
    guide = GUIDE.read_text(encoding="utf-8")
    cut = " ".join(part.split("\n\n", 1)[0] for part in guide.split("**Cut from session")[1:])
    live = _live_notebooks(guide)
    assert set(live) == {"01", "03", "04", "05", "06", "09"}, sorted(live)
    for num, fields in live.items():
        project, homework = fields["Project"], fields.get("Homework", "")
        sections, turns = _sections_and_turns(next((ROOT / "notebooks").glob(f"{num}_*.ipynb")))
        said = re.search(r"Live: ([^;.]*)", fields["Exercises"])
        for n in map(int, re.findall(r"\d+", said.group(1) if said else "")):
            assert f"your turn {n}" in _norm(project), f"notebook {num}: live Your turn {n} has no place in the timeline"
            assert _cites(project, turns[n]), f"notebook {num}: live Your turn {n}'s section {turns[n]!r} is not live"
        taught = [i for i, section in enumerate(sections) if _cites(project, section)]
        assert taught, f"notebook {num}: its timeline names none of its sections"
        for section in sections[: max(taught)]:
            assert _cites(project, section) or _cites(homework, section) or _cites(cut, section), (
                f"notebook {num}: section {section!r} comes before what is taught live, but is neither in the "
                "timeline nor named as homework")
    answers = guide.split("### Answers", 1)[1].split("\n## ", 1)[0]
    for quiz, text in zip(("1", "2"), answers.split("Quiz 2:", 1)):
        sessions = {"1": ("01", "03", "04"), "2": ("01", "03", "04", "05", "06", "09")}[quiz]
        for m in REFERENCE.finditer(text):
            num = m.group(1)
            if num.startswith("A"):
                continue   # an appendix is further reading for the answer, never what the question needs
            assert num in sessions, f"exit quiz {quiz} cites notebook {num}, not taught live by then"
            for section in SECTION.findall(m.group(2)):
                assert _cites(live[num]["Project"], _norm(section)), (
                    f"exit quiz {quiz}'s answer cites notebook {num}, section {section!r}, which is not live")
