"""The key numbers the notebooks' prose states, computed here from code, and found in the stored outputs.

A number in the prose must be one that a stored output shows (issue 10). nbval checks that the stored outputs
are what the code gives today; these tests check that the numbers themselves are right, from an independent
computation, and that the prose says them. One section per notebook; append yours.
"""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import numpy as np
import pytest

from course_utils import exercises
from course_utils.notebooks import course_notebooks

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def _notebook(prefix: str):
    (path,) = NOTEBOOKS.glob(f"{prefix}_*.ipynb")
    return nbformat.read(path, as_version=4)


def _outputs(nb) -> str:
    """All stored text outputs of a notebook (streams and text/plain), joined."""
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if out.output_type == "stream":
                parts.append(out.text)
            elif "text/plain" in out.get("data", {}):
                parts.append(out.data["text/plain"])
    return "\n".join(parts)


def _prose(nb) -> str:
    return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


# ---------------------------------------------------------------- 03 a CNN with GAP

LAM = 0.1          # the toy loss of 03: (w1 + w2 - 1)**2 + LAM * (w1**2 + w2**2)


def _descend(lam, start, steps, lr=0.1):
    w = np.array(start, dtype=float)
    for _ in range(steps):
        w = w - lr * (2 * (w.sum() - 1) + 2 * lam * w)
    return w


def test_03_the_l2_minimum_is_1_over_2_point_1_and_appendix_a2_shows_it():
    w_star = exercises.l2_toy_minimum(LAM)                     # ridge regression's normal equations
    assert np.allclose(w_star, 1 / (2 + LAM))                  # the closed form derived by hand
    assert round(float(w_star[0]), 3) == 0.476 and round(1 / float(w_star[0]), 1) == 2.1
    assert not np.isclose(w_star[0], 1 / 2.2, atol=1e-3)       # the old, wrong value
    assert exercises.check_l2_minimum(lambda lam: 1 / (2 + lam)).passed
    assert "lr · 2λw" in _prose(_notebook("03"))                # 03 keeps the exercise and the pull
    nb = _notebook("A2")                                        # the descent figure lives in appendix A2
    out, prose = _outputs(nb), _prose(nb)
    assert "1/2.1" in out and "1/2.1 ≈ 0.476" in prose
    for text in (prose, _prose(_notebook("03"))):
        assert "2.2" not in text and "0.4545" not in text and "ridge of minima" not in text
    assert "ridge regression** (岭回归" in prose


def test_a2_gradient_descent_converges_only_after_enough_steps_as_the_prose_says():
    starts = [(-1.0, -1.0), (2.0, -1.0), (-1.0, 2.0), (2.0, 2.0)]
    after_300 = np.round([_descend(LAM, s, 300) for s in starts], 3)
    after_1000 = np.round([_descend(LAM, s, 1000) for s in starts], 3)
    assert after_300[1].tolist() == [0.48, 0.473]              # not converged across the valley floor
    assert np.all(after_1000 == 0.476)                         # converged to three decimals
    factor = 1 - 2 * 0.1 * LAM                                 # w1 - w2 shrinks by 1 - 2 lr lam per step
    assert np.isclose(abs(np.subtract(*_descend(LAM, (2.0, -1.0), 300))), 3 * factor ** 300)
    out, prose = _outputs(_notebook("A2")), _prose(_notebook("A2"))
    assert str(after_300.tolist()) in out and str(after_1000.tolist()) in out
    assert "shrinks by 0.98 per step" in out and "factor 0.98 per step" in prose
    assert "(0.48 against 0.473)" in prose and "every start ends at the same" not in prose


def test_03_parameter_counts_in_the_prose_are_the_ones_the_layers_have(course_model):
    conv4 = course_model.get_layer("conv4").output.shape[1:]               # (8, 8, 256)
    flatten, gap = int(np.prod(conv4)) * 10 + 10, conv4[-1] * 10 + 10
    assert (flatten, gap) == (163_850, 2_570) and course_model.get_layer("logits").count_params() == gap
    assert (flatten - 10) // (gap - 10) == 64
    conv2, res2a = (course_model.get_layer(n).count_params() for n in ("conv2", "res2a"))
    assert (conv2, res2a) == (3 * 3 * 32 * 64 + 64, 3 * 3 * 128 * 128 + 128)
    nb = _notebook("03")
    out, prose = _outputs(nb), _prose(nb)
    for n in (flatten, gap, course_model.count_params(), conv2, res2a):
        assert f"{n:,}" in out, n
    assert "2,570" in prose and "163,850" in prose and "64 times" in prose and "64 times as many" in out
    names = {layer.name for layer in course_model.layers}
    for name in re.findall(r"`(conv\d|res\d[ab]?|pool\d|gap|logits)`", prose):
        assert name in names, f"03 names a layer {name!r} the course model does not have"


def test_03_the_stored_test_accuracy_is_the_model_cards():
    from course_utils import models

    card = models.load_model_card()
    assert f"test accuracy measured here: {card['test_accuracy']:.4f}" in _outputs(_notebook("03"))


@pytest.mark.parametrize("prefix", [p.name.split("_")[0] for p in course_notebooks(NOTEBOOKS)])
def test_decimal_numbers_in_the_prose_appear_in_a_stored_output(prefix):
    nb = _notebook(prefix)
    out = _outputs(nb)
    prose = re.sub(r"\(\d{4}\)|\d{4}\)|, \d{4}\.|<[^>]+>", " ", _prose(nb))   # years and links are not results
    prose = re.sub(r"`[^`\n]*`", " ", prose)                  # nor file names and code (`5.4-visualizing...`)
    prose = re.sub(r"(?<!\*)\*(?!\*)[^*\n]+(?<!\*)\*(?!\*)", " ", prose)   # nor titles (*Guided Search 2.0: ...*)
    for number in set(re.findall(r"(?<![\w.])\d+\.\d+(?![\w.])", prose)):
        assert number in out, f"{prefix}: the prose says {number}, no stored output shows it"


def test_03_the_paths_and_the_residual_blocks_are_as_the_prose_says(course_model):
    starts = {"diagonal": [(-1.0, -1.0), (2.0, 2.0)], "floor": [(2.0, -1.0), (-1.0, 2.0)]}
    for start in starts["diagonal"]:                       # on w1 = w2: straight to the minimum, never off it
        w = np.array(start)
        for _ in range(50):
            w = _descend(LAM, w, 1)
            assert np.isclose(w[0], w[1])
    for start in starts["floor"]:                          # on the floor and lambda = 0: no move at all
        assert np.allclose(_descend(0.0, start, 1000), start)
    prose = _prose(_notebook("A2"))
    assert "(2, −1) and (−1, 2), already on the floor, never move" in prose
    assert "every path first drops to the" not in prose
    prose = _prose(_notebook("03"))
    # every convolution has its own ReLU, and none follows the addition of a residual block
    convs = [layer for layer in course_model.layers if type(layer).__name__ == "Conv2D"]
    assert convs and all(layer.activation.__name__ == "relu" for layer in convs)
    assert {type(course_model.get_layer(n)).__name__ for n in ("res1", "res2")} == {"Add"}
    assert "no ReLU follows the addition" in prose


# ---------------------------------------------------------------- A1 bfloat16, A2 regularisation

def test_a1_every_pixel_value_survives_bfloat16_and_257_does_not_as_the_appendix_shows():
    import ml_dtypes

    values = np.arange(1.0, 260.0)
    cast = values.astype(ml_dtypes.bfloat16).astype(np.float64)
    assert np.array_equal(cast[:255], values[:255]) and cast[256] == 256.0 and cast[258] == 260.0   # 1..255; 257, 259
    assert np.array_equal(exercises._round_to_bits(values[:255], 8), values[:255])
    nb = _notebook("A1")
    out = _outputs(nb)
    assert "exact in bfloat16: 256 of 256 integers 0 to 255" in out
    assert "257.0: 256.0" in out and "259.0: 260.0" in out and "bfloat16-rounded training statistics: True" in out
    assert "259 to 260" in out
    assert "A1_bfloat16.ipynb" in _prose(_notebook("02"))                 # 02 points to the appendix


def test_a2_adam_with_the_penalty_in_the_loss_decays_the_quiet_weight_only():
    out = _outputs(_notebook("A2"))
    rows = {line[:27].strip(): [float(v) for v in line[27:].split()] for line in out.splitlines()
            if line.startswith(("SGD,", "Adam,", "AdamW,"))}
    (sq, sb), (aq, ab), (wq, wb) = rows["SGD, penalty in the loss"], rows["Adam, penalty in the loss"], rows["AdamW, weight_decay=0.1"]
    assert aq < 0.01 < 0.5 < ab                          # Adam: the quiet weight to zero, the busy one not
    assert abs(sq - sb) < 0.05 and abs(wq - wb) < 0.05   # SGD and AdamW: about the same decay for both
    assert np.isclose(sq, (1 - 2 * 0.01 * 0.05) ** 300, atol=1e-3) and np.isclose(wq, (1 - 0.01 * 0.1) ** 300, atol=1e-3)
    assert "gradient's size x 0.100" in out and "output's size x 1.000" in out
    assert "A2_regularisation.ipynb" in _prose(_notebook("03"))           # 03 points to the appendix


# ---------------------------------------------------------------- 07 evaluating explanations

def test_07_road_puts_the_random_order_last_and_the_notebook_shows_the_stored_numbers():
    from course_utils import evaluation, metrics

    stored = evaluation.load()
    areas = stored["road"]["areas"]
    road, mean_colour = areas["linear (ROAD)"]["morf"], areas["mean colour"]["morf"]
    assert mean_colour["random order"].mean() < mean_colour["Grad-CAM"].mean()      # the paradox ...
    for name in ("Grad-CAM", "guided Grad-CAM", "vanilla gradient"):                 # ... and its cure
        assert metrics.bootstrap_interval(road["random order"] - road[name], rng=0)[0] > 0
    focus = {name: s["focus"].mean() for name, s in stored["mosaics"]["scores"].items()}
    assert max(focus.values()) < 0.95 and abs(focus["random map"] - 1 / 9) < 0.01
    out = _outputs(_notebook("07"))
    values = road["random order"]
    lo, hi = metrics.bootstrap_interval(values, rng=0)
    assert f"{values.mean():.3f} [{lo:.3f}, {hi:.3f}]" in out


# ---------------------------------------------------------------- 10 the CAM family, 11 pixel methods, A6 costs

def test_10_the_cam_relatives_part_at_res2_as_the_prose_says():
    out, prose = _outputs(_notebook("10")), _prose(_notebook("10"))
    rows = {line.split()[0]: line.split()[1:3] for line in out.splitlines()
            if line.strip().split()[:1] in (["Grad-CAM++"], ["XGrad-CAM"], ["HiResCAM"], ["LayerCAM"])
            and len(line.split()) == 3}
    assert rows["XGrad-CAM"][0] == rows["HiResCAM"][0] == "1.00", rows
    assert max(rows, key=lambda n: float(rows[n][1])) == "XGrad-CAM"
    assert min(rows, key=lambda n: float(rows[n][1])) == "Grad-CAM++"
    assert f"least for XGrad-CAM ({rows['XGrad-CAM'][1]})" in prose
    assert f"most for Grad-CAM++ ({rows['Grad-CAM++'][1]})" in prose


def test_11_every_method_is_evaluated_and_the_notebook_states_the_stored_numbers():
    from course_utils import evaluation, explain, metrics

    stored = evaluation.load(evaluation.RESULTS_11_PATH)
    assert list(evaluation.ALL_METHODS) == [*explain.METHODS, "random order"]
    assert list(stored["about"]["methods"]) == list(evaluation.ALL_METHODS)
    morf = stored["road"]["areas"]["morf"]
    focus = {name: s["focus"] for name, s in stored["mosaics"]["scores"].items()}
    sanity = {name: s["same"] - s["floor"] for name, s in stored["sanity"]["scores"].items()}
    # the identities hold in the stored numbers: these relatives are CAM's map, metric by metric
    for name in ("Grad-CAM", "XGrad-CAM", "HiResCAM"):
        assert np.allclose(morf[name], morf["CAM"], atol=2e-3) and np.allclose(focus[name], focus["CAM"], atol=1e-3)
    # ROAD: the random order is last; the CAM relatives are within noise of CAM (the prose says so)
    assert max(morf, key=lambda n: morf[n].mean()) == "random order"
    for name in ("Score-CAM", "Grad-CAM++", "guided Grad-CAM"):
        lo, hi = metrics.bootstrap_interval(morf[name] - morf["CAM"], rng=0)
        assert lo < 0 < hi, name
    assert metrics.bootstrap_interval(morf["occlusion"] - morf["CAM"], rng=0)[0] > 0
    # Focus: dropping negative evidence costs class specificity; guided Grad-CAM localises best
    assert metrics.bootstrap_interval(focus["LayerCAM"] - focus["CAM"], rng=0)[1] < 0
    # (among the course's methods; the squared control and the two baselines are not methods)
    assert max(evaluation.ALL_METHODS[:-1], key=lambda n: focus[n].mean()) == "guided Grad-CAM"
    # the sanity check: Integrated Gradients fails it most among Your turn 2's options
    options = ("Grad-CAM++", "Score-CAM", "Integrated Gradients", "occlusion")
    assert max(options, key=lambda n: sanity[n].mean()) == "Integrated Gradients"
    assert metrics.bootstrap_interval(sanity["Integrated Gradients"], rng=0)[0] > 0.2
    out, prose = _outputs(_notebook("11")), _prose(_notebook("11"))
    for values, digits in ((sanity["Integrated Gradients"], 2), (focus["LayerCAM"] - focus["CAM"], 3),
                           (morf["Score-CAM"] - morf["CAM"], 3)):
        lo, hi = metrics.bootstrap_interval(values, rng=0)
        text = f"{values.mean():.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"
        assert text in out, text
        assert text.replace("-", "\u2212") in prose or text in prose, text
    assert "largest difference from the stored areas 0.000" in out
    assert "python -m course_utils.evaluation --beyond" in prose


def test_11_road_on_the_logit_agrees_and_guided_grad_cams_focus_lead_does_not_survive_the_control():
    from course_utils import evaluation, metrics

    stored = evaluation.load(evaluation.RESULTS_11_PATH)
    p, logit = stored["road"]["areas"], stored["road"]["areas_logit"]
    scores = stored["mosaics"]["scores"]
    assert set(logit["morf"]) == set(evaluation.ALL_METHODS)
    # ROAD: the MoRF ranking is the same on p and on the logit (ties at 3 decimals kept in the table's order)
    order = {label: sorted(a["morf"], key=lambda n: round(a["morf"][n].mean(), 3)) for label, a in
             (("p", p), ("logit", logit))}
    assert order["p"] == order["logit"]
    # ... CAM's relatives (Eigen-CAM aside) within noise of CAM on both scores, Eigen-CAM and occlusion not
    for a in (p, logit):
        for name in ("Score-CAM", "Grad-CAM++", "LayerCAM", "guided Grad-CAM"):
            lo, hi = metrics.bootstrap_interval(a["morf"][name] - a["morf"]["CAM"], rng=0)
            assert lo < 0 < hi, name
        for name in ("Eigen-CAM", "occlusion"):
            assert metrics.bootstrap_interval(a["morf"][name] - a["morf"]["CAM"], rng=0)[0] > 0, name
    # ... and LeRF's two swapped pairs hold 0 on both scores
    for a in (p, logit):
        for x, y in (("SmoothGrad", "occlusion"), ("Integrated Gradients", "vanilla gradient")):
            lo, hi = metrics.bootstrap_interval(a["lerf"][x] - a["lerf"][y], rng=0)
            assert lo < 0 < hi, (x, y)
    # Focus: the squared control beats guided Grad-CAM; on ranks it ties with CAM and guided Grad-CAM trails CAM
    focus = {n: s["focus"].mean() for n, s in scores.items()}
    assert max(focus, key=focus.get) == evaluation.SQUARED_CONTROL_BEYOND
    assert np.allclose(scores[evaluation.SQUARED_CONTROL_BEYOND]["focus_rank"], scores["CAM"]["focus_rank"])
    assert metrics.bootstrap_interval(scores["guided Grad-CAM"]["focus_rank"] - scores["CAM"]["focus_rank"],
                                      rng=0)[1] < 0
    assert metrics.bootstrap_interval(scores["LayerCAM"]["focus_rank"] - scores["CAM"]["focus_rank"], rng=0)[1] < 0
    out, prose = _outputs(_notebook("11")), _prose(_notebook("11"))
    assert "MoRF ranking, p against the logit: the same" in out and "The MoRF ranking is the same on p and on the logit" in prose
    assert f"{focus[evaluation.SQUARED_CONTROL_BEYOND]:.3f}" in prose and re.search(r"does not\s+survive the control", prose)
    assert "report the logit for CAM-style maps" in prose


def test_A6_the_trapezoid_rule_is_as_good_or_better_at_the_same_steps():
    out, prose = _outputs(_notebook("A6")), " ".join(_prose(_notebook("A6")).split())
    rows = [line.split() for line in out.splitlines() if re.fullmatch(r"\d+( +\d+\.\d+%){3}", line.strip())]
    assert [int(r[0]) for r in rows] == [4, 8, 16, 32, 64], rows
    for m, trap, gl, gl_more in rows:
        assert float(trap[:-1]) <= float(gl[:-1]), m                  # the same steps: the default is no worse
    assert any(float(r[3][:-1]) < float(r[1][:-1]) for r in rows)     # the same points: the prose says mixed
    assert any(float(r[3][:-1]) > float(r[1][:-1]) for r in rows)     # ... both ways
    assert "neither rule wins at every count" in prose and "Captum's default" in prose
    # notebook 11 keeps one paragraph that states this table's result, and points here
    core = " ".join(_prose(_notebook("11")).split())
    for claim in ("Captum's default is Gauss-Legendre", "(A6_what_methods_cost.ipynb) measures both rules",
                  "as small or smaller at every count", "evaluates one point more", "neither rule wins at every count"):
        assert claim in core, claim


def test_A6_the_counted_passes_are_the_ones_the_prose_states():
    out, prose = _outputs(_notebook("A6")), _prose(_notebook("A6"))
    rows = {line[:24].strip(): line[24:].split()[:2] for line in out.splitlines()
            if line[:24].strip() in ("Score-CAM", "occlusion", "SmoothGrad", "Integrated Gradients", "Grad-CAM")
            and line[24:].split()[:1] and line[24:].split()[0].isdigit()}
    assert rows == {"Grad-CAM": ["1", "1"], "Score-CAM": ["65", "0"], "occlusion": ["50", "0"],
                    "SmoothGrad": ["26", "26"], "Integrated Gradients": ["35", "35"]}, rows
    for n in ("(65)", "(50)", "(26)", "(35)"):
        assert n in prose, n



# ---------------------------------------------------------------- 08 explain your own image, A5 more failures

def test_08_the_real_photos_get_the_answers_the_prose_states(course_model):
    import skimage.data

    from course_utils import data, images

    def top1(photo):
        y = course_model.predict(images.to_model_input(photo)[None].astype("float32"), verbose=0)[0]
        p = np.exp(y - y.max())
        p /= p.sum()
        return data.CLASS_NAMES[int(p.argmax())], float(p.max())

    cat, p_cat = top1(skimage.data.chelsea())
    rocket, _ = top1(skimage.data.rocket())
    assert (cat, rocket) == ("cat", "ship")                     # the prose and Your turn 3's solution say so
    nb = _notebook("08")
    out, prose = _outputs(nb), _prose(nb)
    assert f"the model says cat, top-1 probability {p_cat:.2f}" in out
    assert f"a cat, with a top-1 probability of {p_cat:.2f}" in prose
    assert "the rocket photo: the model says ship" in out and "Correct. the model names the class" in out
    for licence in ("CC0", "public domain"):                    # each photo's source and licence is stated
        assert licence in prose

