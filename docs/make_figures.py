"""Draw the picture README.md shows: python docs/make_figures.py (needs CIFAR10_PATH)."""
from pathlib import Path

import course_utils as cu

cu.setup(quiet=True)
(_, _), (x_test, y_test) = cu.data.load_cifar10()
model = cu.models.load_course_model()
fig = cu.viz.compare_methods(model, x_test[12])
out = Path(__file__).resolve().parent / "methods.png"
fig.savefig(out, dpi=90)
print(f"wrote {out}")
