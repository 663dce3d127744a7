"""The instructor guide covers every notebook and the misconceptions the course promises to address."""
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_instructor_guide_covers_every_notebook_and_misconception():
    guide = (ROOT / "docs" / "instructor_guide.md").read_text(encoding="utf-8")
    for nb in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        assert f"### {nb.name[:2]} " in guide, f"the guide has no section for {nb.name}"
    for topic in ("which layer", "softmax against logits", "all-zero or nan", "nested base model",
                  "blindness to the class", "cam against grad-cam"):
        assert topic in guide.lower(), topic
    assert "python -m course_utils.student" in guide
