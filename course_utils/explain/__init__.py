"""Explainers for Keras image classifiers: CAM, Grad-CAM, guided backpropagation and friends.

One calling convention for the whole family::

    import course_utils as cu
    model = cu.models.load_course_model()
    gradcam = cu.explain.GradCAM(model, layer=None)    # None: the last layer with a spatial output
    maps = gradcam(images, class_index=None)           # images: (N, H, W, 3) or (H, W, 3), values 0-255
                                                       # class_index: None (predicted), an int, or one per image
    maps.shape                                         # (N, H, W) float32 in [0, 1]

    ex = gradcam.explain(images, class_index=3)        # everything a teacher wants to show:
    ex.feature_maps, ex.weights, ex.logits, ex.maps    # A (N, h, w, K), alpha (N, K), y (N, C), maps
    gradcam(images, target=lambda y: y[:, 3] - y[:, 5])  # any score of the class scores y, not only a class

Symbols follow the Grad-CAM paper (Selvaraju et al., 2017): ``A`` the feature maps of the chosen layer
(``A[..., k]`` is A^k), ``y`` the class scores (logits, before any softmax), ``Z = h * w`` the number of
positions, ``alpha_k^c = (1/Z) sum_ij dy^c / dA^k_ij`` and ``L^c = ReLU(sum_k alpha_k^c A^k)``.

The user's model is never changed. Guided backpropagation runs on a clone whose ReLUs pass gradients back
only where both the forward input and the incoming gradient are positive (Springenberg et al., 2015).

Any learner's model: a final softmax or sigmoid is found however it is written (``tf.nn.softmax``,
``keras.ops.softmax``, a ``Softmax``, ``Activation`` or ``Lambda`` layer, a Dense's activation, inside a nested
head) and the scores before it are explained (``explainer.scores`` says which). A model with one output z is
binary: class 1 is scored by z, class 0 by -z. Clones (guided backpropagation, ``models.any_size``) refresh
preprocessing state and are checked against the model on a probe batch; ReLU relatives that cannot be made
guided are named in an :class:`ExplainerWarning`. Notebook 09 shows each case.

Beyond Grad-CAM (notebooks 10 and 11), with the same convention: the CAM family on one layer (``takes_layer`` is True):
:class:`GradCAMPlusPlus`, :class:`XGradCAM`, :class:`HiResCAM`, :class:`LayerCAM` (from A and dy^c/dA, one
backward pass), :class:`ScoreCAM` (one masked forward pass per feature map, in large batches) and
:class:`EigenCAM` (no gradient, no class); and on the input pixels: :class:`IntegratedGradients`,
:class:`SmoothGrad` (also VarGrad; it averages any explainer over noisy copies) and :class:`Occlusion`. On a GAP -> linear head, dy^c/dA^k_ij = w_k^c / Z
at every position, so HiResCAM, XGrad-CAM and Grad-CAM equal CAM there (tests/test_explain_beyond.py).

Nothing silently wrong: every count, number, flag and baseline is checked when the explainer is built, before any
TensorFlow op (:mod:`course_utils.validation`: ``True`` is not a count of 1, a NaN baseline is refused, occlusion's
stride may not exceed its patch), and every call's maps pass one exit check: a NaN or infinite map (or class
score) is a :class:`~course_utils.validation.CourseValueError` naming the method and what to check; when every map
of a call is all zero, an :class:`EmptyMapWarning` says why (e.g. no positive evidence for the class at that
layer). Integrated Gradients and SmoothGrad send ``batch_size`` images at a time through the model, so their
memory does not grow with the number of images times steps or samples.

Where things live: :mod:`.graph` reads a model (layers, the logit head; :mod:`.activations` names what an activation computes), :mod:`.copies` makes the model copies
(guided, bfloat16, other input sizes), :mod:`.inputs` checks arguments, :mod:`.base` is the base class (one compiled
pass, one exit check), the methods by family in :mod:`.cam`, :mod:`.backprop`, :mod:`.path_noise` and
:mod:`.perturbation`, and :mod:`.registry` lists them all (:data:`METHODS`, :func:`make`). Every name is re-exported
here, so ``cu.explain.GradCAM`` is all a notebook needs.
"""

from __future__ import annotations

from . import registry
from .activations import RELU_LIKE
from .backprop import GuidedBackprop, GuidedGradCAM, VanillaGradient
from .base import Computed, Explanation, normalize_maps
from .cam import CAM, EigenCAM, GradCAM, GradCAMPlusPlus, HiResCAM, LayerCAM, XGradCAM
from .copies import _clone_in_bfloat16, check_same_function, finalize_state, guided_relu, make_guided_model, sized_copy
from .errors import EmptyMapWarning, ExplainerWarning
from .graph import conv_layers
from .path_noise import IntegratedGradients, SmoothGrad
from .perturbation import Occlusion, ScoreCAM
from .registry import METHODS, make

__all__ = [
    "CAM",
    "METHODS",
    "RELU_LIKE",
    "Computed",
    "EigenCAM",
    "EmptyMapWarning",
    "ExplainerWarning",
    "Explanation",
    "GradCAM",
    "GradCAMPlusPlus",
    "GuidedBackprop",
    "GuidedGradCAM",
    "HiResCAM",
    "IntegratedGradients",
    "LayerCAM",
    "Occlusion",
    "ScoreCAM",
    "SmoothGrad",
    "VanillaGradient",
    "XGradCAM",
    "_clone_in_bfloat16",
    "check_same_function",
    "conv_layers",
    "finalize_state",
    "guided_relu",
    "make",
    "make_guided_model",
    "normalize_maps",
    "registry",
    "sized_copy",
]
