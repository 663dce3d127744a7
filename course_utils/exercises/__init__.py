"""Checkers for the "Your turn" exercises.

Each checker compares the learner's answer with the course's reference and returns a :class:`Feedback`
that prints either a clear pass or a hint that names what is off (a wrong shape, a sum where a mean was
meant, a missing ReLU, another rule of backpropagation ...). They never raise on a wrong answer, only on
an answer that is not an array at all.

The shared machinery (Feedback, "Not yet" for the stub ``...``, the closeness helpers) is in ``_core``;
each notebook's checkers are in the module named for it (``nb04_class_activation_maps`` ...). Every name
is re-exported here, so notebooks call ``cu.exercises.check_cam(...)`` and need not know the layout.
"""

from __future__ import annotations

from ._core import NOT_YET, AnswerTypeError, Feedback, answer_or, answered, check_choice
from .nb01_saliency_and_attention import check_centre_surround, check_next_fixation
from .nb02_cifar10_on_disk import _round_to_bits as _round_to_bits  # for the tests
from .nb02_cifar10_on_disk import check_channel_means, check_image_to_row, check_round_bfloat16
from .nb03_a_cnn_with_gap import check_l2_minimum, check_l2_penalty, l2_toy_minimum
from .nb04_class_activation_maps import check_cam, check_gap
from .nb05_grad_cam import check_alpha, check_gradcam, check_prob_alpha
from .nb06_guided_backprop import check_guided_gradcam_of, check_guided_relu
from .nb07_evaluating_explanations import check_linear_fill, check_tile_of_max
from .nb08_explain_your_own_image import check_centre_crop, check_top3
from .nb09_when_explanations_go_wrong import _bgr01_batch as _bgr01_batch  # for the tests
from .nb09_when_explanations_go_wrong import check_binary_alpha, check_preprocessing_fix, check_to_uint8
from .nb10_cam_family import CAM_RELATIVES, check_cam_relatives, check_pp_weights
from .nb11_pixel_methods import check_riemann_rule, riemann_rule

__all__ = [
    "CAM_RELATIVES",
    "NOT_YET",
    "AnswerTypeError",
    "Feedback",
    "answer_or",
    "answered",
    "check_alpha",
    "check_binary_alpha",
    "check_cam",
    "check_cam_relatives",
    "check_centre_crop",
    "check_centre_surround",
    "check_channel_means",
    "check_choice",
    "check_gap",
    "check_gradcam",
    "check_guided_gradcam_of",
    "check_guided_relu",
    "check_image_to_row",
    "check_l2_minimum",
    "check_l2_penalty",
    "check_linear_fill",
    "check_next_fixation",
    "check_pp_weights",
    "check_preprocessing_fix",
    "check_prob_alpha",
    "check_riemann_rule",
    "check_round_bfloat16",
    "check_tile_of_max",
    "check_to_uint8",
    "check_top3",
    "l2_toy_minimum",
    "riemann_rule",
]
