"""Every checker answers anything a learner may type with feedback ("Not yet", or a hint), or with the course's
own error class, never with a traceback from numpy or from inside the checker (issue 19)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import course_utils.exercises as ex
from course_utils.validation import CourseError

RNG = np.random.default_rng(0)
A = RNG.random((4, 4, 3)).astype("float32")
W = RNG.normal(size=(3, 10)).astype("float32")

#: Each checker with valid context arguments, as the notebooks call it; the answer is generated.
CONTEXT = {
    "check_alpha": (RNG.normal(size=(4, 4, 3)),),
    "check_binary_alpha": (W[:, :1], 16, 0.7),
    "check_cam": (A, W[:, 3]),
    "check_cam_relatives": (["HiResCAM", "XGrad-CAM"],),
    "check_centre_crop": (RNG.integers(0, 256, (40, 60, 3)).astype("uint8"),),
    "check_centre_surround": (RNG.random((64, 64)), 2, 5),
    "check_channel_means": (RNG.integers(0, 256, (5, 8, 8, 3)).astype("uint8"),),
    "check_choice": ("a", {"a": "the first", "b": "the second"}, "because"),
    "check_gap": (A,),
    "check_gradcam": (A, RNG.normal(size=3)),
    "check_guided_relu": (RNG.normal(size=(4, 4)), RNG.normal(size=(4, 4))),
    "check_image_to_row": (RNG.integers(0, 256, (32, 32, 3)).astype("uint8"),),
    "check_l2_minimum": (),
    "check_l2_penalty": ([RNG.normal(size=(3, 3))], 0.01),
    "check_linear_fill": (),
    "check_next_fixation": (RNG.random((16, 16)),),
    "check_pp_weights": (A, W[:, 3]),
    "check_preprocessing_fix": (),
    "check_prob_alpha": (W, np.full(10, 0.1), 3, 16),
    "check_riemann_rule": (),
    "check_round_bfloat16": (RNG.random(8) + 0.5,),
    "check_tile_of_max": (RNG.random((8, 8)),),
    "check_to_uint8": (),
    "check_top3": (RNG.normal(size=10), [f"class {i}" for i in range(10)]),
}


def test_every_checker_of_the_notebooks_is_covered():
    """A new checker must be added to CONTEXT (check_guided_gradcam_of needs the course model: its own tests)."""
    checkers = {n for n in ex.__all__ if n.startswith("check_")} - {"check_guided_gradcam_of"}
    assert checkers == set(CONTEXT)


def _raises(*_):
    raise ZeroDivisionError("the learner's bug")


JUNK = st.one_of(
    st.none(), st.just(...), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5), st.lists(st.floats(allow_nan=True), max_size=4),
    hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=4, max_side=5),
               elements=st.floats(allow_nan=True, allow_infinity=True, width=64)),
    hnp.arrays(np.uint8, hnp.array_shapes(min_dims=1, max_dims=3, max_side=5)),
    st.just(_raises), st.just(lambda *a: None), st.just(lambda *a: "text"), st.just(lambda *a: np.full(3, np.nan)),
    st.just({"a": 1}),
)


@pytest.mark.parametrize("name", sorted(CONTEXT))
@settings(max_examples=40, deadline=None)
@given(answer=JUNK)
def test_any_answer_gets_feedback_or_a_course_error(name, answer):
    try:
        result = getattr(ex, name)(answer, *CONTEXT[name])
    except CourseError:
        return
    assert isinstance(result, ex.Feedback), f"{name} returned {type(result).__name__}"
    assert isinstance(result.message, str) and result.message


#: Answers that broke checkers before (ragged lists, infinities, huge ints, complex numbers, generators): every
#: checker is tried on each, as well as on the generated ones above.
KNOWN_BAD = [
    2**70, float("inf"), float("nan"), complex(1, 2), b"xx", {1, 2}, [[1, 2], [3]], [[1, [2]], [3]],
    np.array([1 + 2j, 3]), np.zeros((0, 3)), lambda *a: np.inf, lambda *a: 2**70, lambda *a: (x for x in range(3)),
    lambda *a: [[1], [2, 3]], lambda *a: [[1, [2]], [3]], lambda *a: ["a", None, 3], lambda *a: np.zeros((0, 0, 3)),
]


@pytest.mark.parametrize("name", sorted(CONTEXT))
def test_answers_that_once_broke_a_checker_get_feedback(name):
    for answer in KNOWN_BAD:
        try:
            result = getattr(ex, name)(answer, *CONTEXT[name])
        except CourseError:
            continue
        assert isinstance(result, ex.Feedback), f"{name}({answer!r}) returned {type(result).__name__}"
