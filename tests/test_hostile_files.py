"""Files the course writes: atomically, never through a link, only inside the folder the user named
(issue 19's data loss), and the shared argument checks of ``course_utils.validation``."""
from __future__ import annotations

import math
import os
import re
import stat
from pathlib import Path

import nbformat
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from course_utils import evaluation, files, student, validation
from course_utils.validation import CourseError, CourseValueError

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "04_class_activation_maps.ipynb"


def _fingerprint(path: Path) -> bytes:
    return path.read_bytes()


@pytest.fixture
def notebooks(tmp_path):
    """A copy of one real course notebook in its own folder (the 'originals' a link could point at)."""
    src = tmp_path / "notebooks"
    src.mkdir()
    (src / NOTEBOOK.name).write_bytes(NOTEBOOK.read_bytes())
    return src


@pytest.mark.parametrize("kind", ["symlink", "hardlink"])
def test_student_copies_replace_a_planted_link_and_never_write_through_it(notebooks, tmp_path, kind):
    original = notebooks / NOTEBOOK.name
    before = _fingerprint(original)
    out = tmp_path / "student"
    out.mkdir()
    planted = out / NOTEBOOK.name
    (os.symlink if kind == "symlink" else os.link)(original, planted)
    student.main(["--notebooks", str(notebooks), "--out", str(out)])
    assert _fingerprint(original) == before, "the original notebook was overwritten through the link"
    assert not planted.is_symlink() and planted.stat().st_ino != original.stat().st_ino
    copy = nbformat.read(planted, as_version=4)
    assert any("exercise" in c.metadata.get("tags", []) for c in copy.cells)
    assert not any(student.BEGIN in c.source for c in copy.cells)
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")], "a temporary file was left behind"


def test_student_output_folder_that_is_a_link_to_the_notebooks_is_refused(notebooks, tmp_path):
    before = _fingerprint(notebooks / NOTEBOOK.name)
    link = tmp_path / "student"
    os.symlink(notebooks, link)
    with pytest.raises(SystemExit, match="must differ"):
        student.main(["--notebooks", str(notebooks), "--out", str(link)])
    assert _fingerprint(notebooks / NOTEBOOK.name) == before


def test_student_output_folder_that_is_a_file_or_read_only_is_a_clear_error(notebooks, tmp_path):
    a_file = tmp_path / "student.txt"
    a_file.write_text("not a folder")
    with pytest.raises(SystemExit, match="is a file, not a folder"):
        student.main(["--notebooks", str(notebooks), "--out", str(a_file)])
    read_only = tmp_path / "ro"
    read_only.mkdir()
    read_only.chmod(stat.S_IRUSR | stat.S_IXUSR)
    real_access = os.access
    # root may write anywhere; ask as an ordinary user would be answered
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(os, "access", lambda p, m: False if Path(p) == read_only.resolve() else real_access(p, m))
        with pytest.raises(SystemExit, match="read-only"):
            student.main(["--notebooks", str(notebooks), "--out", str(read_only)])
    read_only.chmod(stat.S_IRWXU)


def test_a_notebook_that_is_not_json_is_a_clear_error(tmp_path):
    bad = tmp_path / "nb"
    bad.mkdir()
    (bad / "03_broken.ipynb").write_text("{ this is not JSON")
    with pytest.raises(SystemExit, match="is not a notebook"):
        student.main(["--notebooks", str(bad), "--out", str(tmp_path / "out")])


def test_write_atomic_replaces_links_and_stays_inside_its_folder(tmp_path):
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    out = tmp_path / "out"
    out.mkdir()
    os.symlink(target, out / "result.json")
    files.write_atomic(out / "result.json", "{}", inside=out)
    assert target.read_text() == "keep me"
    assert (out / "result.json").read_text() == "{}" and not (out / "result.json").is_symlink()
    with pytest.raises(files.UnsafePathError, match="outside"):
        files.write_atomic(out / ".." / "escaped.json", "{}", inside=out)
    assert not (tmp_path / "escaped.json").exists()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.symlink(elsewhere, out / "sub")
    with pytest.raises(files.UnsafePathError, match="outside"):
        files.write_atomic(out / "sub" / "x.json", "{}", inside=out)
    assert not list(elsewhere.iterdir())
    assert isinstance(files.UnsafePathError("x"), CourseError)


def test_evaluation_quick_writes_into_a_private_new_folder(monkeypatch, tmp_path):
    """--quick used to write /tmp/evaluation_07_quick.json and follow a link planted there."""
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    planted_target = tmp_path / "victim.txt"
    planted_target.write_text("keep me")
    os.symlink(planted_target, tmp_path / "evaluation_07_quick.json")
    written = {}

    def fake_run(n, m, out):
        files.write_atomic(out, "{}")
        written["out"] = Path(out)
        return {"about": {"total_seconds": 0.0}}

    monkeypatch.setattr(evaluation, "run", fake_run)
    monkeypatch.setattr("course_utils.setup", lambda **kw: None)
    evaluation.main(["--quick"])
    out = written["out"]
    assert planted_target.read_text() == "keep me"
    assert out.parent != tmp_path and out.parent.parent == tmp_path
    assert stat.S_IMODE(out.parent.stat().st_mode) == 0o700


# --- the shared checks --------------------------------------------------------------------------------------

@given(st.integers(min_value=1, max_value=10**9))
def test_positive_int_accepts_positive_ints(n):
    assert validation.positive_int(n, "n") == n
    assert validation.positive_int(np.int64(n), "n") == n


@given(st.one_of(st.booleans(), st.integers(max_value=0), st.floats(), st.text(max_size=3), st.none(),
                 st.lists(st.integers(), max_size=2)))
def test_positive_int_refuses_everything_else_with_the_course_error(value):
    with pytest.raises(CourseValueError, match="n must be"):
        validation.positive_int(value, "n")


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_fraction_is_never_clamped(x):
    if math.isfinite(x) and 0 <= x <= 1:
        assert validation.fraction(x, "f") == x
    else:
        with pytest.raises(CourseValueError):
            validation.fraction(x, "f")


@settings(max_examples=50)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), min_size=1, max_size=20))
def test_finite_array_refuses_nan_and_inf(values):
    arr = np.array(values, dtype=np.float32)
    if np.isfinite(arr).all():
        assert np.array_equal(validation.finite_array(arr, "m"), arr)
    else:
        with pytest.raises(CourseValueError, match="NaN or infinite"):
            validation.finite_array(arr, "m")


@given(st.one_of(st.integers(min_value=-20, max_value=20), st.booleans(), st.floats()))
def test_class_index_never_wraps_around(value):
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10:
        assert validation.class_index(value, 10) == value
    else:
        with pytest.raises(CourseValueError):
            validation.class_index(value, 10)


def test_class_names_must_match_the_number_of_classes():
    assert validation.class_names(("a", "b"), 2) == ["a", "b"]
    with pytest.raises(CourseValueError, match="3 entries but the model has 10"):
        validation.class_names(["a", "b", "c"], 10)
    with pytest.raises(CourseValueError, match="list of 10 strings"):
        validation.class_names("airplane", 10)


def test_messages_clip_long_values():
    with pytest.raises(CourseValueError) as info:
        validation.positive_int("x" * 10_000, "steps")
    assert len(str(info.value)) < 200


def test_saved_atomically_replaces_a_link_and_leaves_the_old_file_after_an_error(tmp_path):
    victim = tmp_path / "victim.keras"
    victim.write_text("old")
    out = tmp_path / "out"
    out.mkdir()
    os.symlink(victim, out / "model.keras")
    with pytest.raises(RuntimeError), files.saved_atomically(out / "model.keras") as tmp:
        tmp.write_text("half")
        raise RuntimeError("the library failed halfway")
    assert (out / "model.keras").is_symlink() and victim.read_text() == "old"
    assert sorted(p.name for p in out.iterdir()) == ["model.keras"], "the temporary file was left behind"
    with files.saved_atomically(out / "model.keras") as tmp:
        assert tmp.suffix == ".keras" and tmp.parent == out
        tmp.write_text("new")
    assert victim.read_text() == "old" and (out / "model.keras").read_text() == "new"


@pytest.mark.parametrize("flags, message", [
    (["--epochs", "0"], "--epochs must be a positive int"),
    (["--batch-size", "-1"], "--batch-size must be a positive int"),
    (["--peak-lr", "nan"], "--peak-lr must be a finite number"),
    (["--peak-lr", "0"], "--peak-lr must be > 0"),
    (["--weight-decay=-1e-4"], "--weight-decay must be >= 0"),
    (["--label-smoothing", "1.5"], "fraction in \\[0, 1\\]"),
    (["--limit", "-5"], "--limit must be an int >= 0"),
    (["--limit", "100", "--batch-size", "256"], "not one full batch"),
])
def test_training_refuses_settings_that_would_train_nothing(flags, message, capsys):
    from course_utils import train

    with pytest.raises(SystemExit) as info:
        train.main(flags)
    assert info.value.code == 2
    assert re.search(message, capsys.readouterr().err)
