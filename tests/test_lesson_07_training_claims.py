"""Lesson 07: the numbers its corrected prose states, and its reasoning exercise.

* `train-explained`: what followed "the cat" in the 50 training sentences, the retrained
  layer's distribution at step 100, the peak of p(sat | the cat), and the contrast with a
  lookup table (one-hot context features) that does reach the data's 2/7 and 1/7;
* `finite-differences`: the digits a float32 central difference keeps with h = 1e-5 and with
  h = eps^(1/3);
* `optimum-explained`: the shipped model's training is full-batch Adam (utils/lm/train.py);
* `07.predict_step_signs`: its reference follows from the gradient p - y, the notebook's
  answer passes, and the stub is "not attempted".
"""

from __future__ import annotations

import nbformat
import numpy as np
import pytest
from notebook_code import SOLUTIONS, solution_namespace

import utils
from utils import check, exercises, lm
from utils.exercises import lesson07
from utils.lm import train

NOTEBOOK = "07_training_signal.ipynb"
WORDS = ("sat", "slept", "was", "chased")


@pytest.fixture(scope="module")
def notebook():
    return nbformat.read(SOLUTIONS / NOTEBOOK, as_version=4)


def markdown(notebook, cell_id: str) -> str:
    (cell,) = [cell for cell in notebook.cells if cell.get("id") == cell_id]
    return " ".join(cell.source.split())


@pytest.fixture(scope="module")
def training_data():
    model = lm.load()
    sentences = lm.corpus.sample_sentences(50, np.random.default_rng(20))
    contexts = [model.context_window(ids[:t]) for ids in sentences for t in range(1, len(ids))]
    targets = np.array([ids[t] for ids in sentences for t in range(1, len(ids))])
    return model, np.array(contexts), targets


def trained(features, targets, learning_rate, steps, watched_features, words):
    """p(words | watched) after each step of lesson07's reference sgd_step, from zero."""
    weights = np.zeros((features.shape[1], 78))
    bias = np.zeros(78)
    history = [utils.softmax(watched_features @ weights + bias)[words]]
    for _ in range(steps):
        weights, bias = lesson07.sgd_step_reference(weights, bias, features, targets, learning_rate)
        history.append(utils.softmax(watched_features @ weights + bias)[words])
    return np.array(history)


def test_train_explained_counts_and_step_100(notebook, training_data):
    model, contexts, targets = training_data
    watched = model.context_window("the cat")
    followers = [model.vocab[t] for t in targets[np.all(contexts == watched, axis=1)]]
    counts = {word: followers.count(word) for word in WORDS}
    assert counts == {"sat": 2, "slept": 2, "was": 2, "chased": 1}
    text = markdown(notebook, "train-explained")
    assert "sat 2, slept 2, was 2, chased 1 (of 7)" in text
    assert "2 of 7 each" not in text
    assert "never seen" not in text
    words = [model.vocab.index(word) for word in WORDS]
    history = trained(model.features(contexts), targets, 0.1, 100, model.features("the cat"), words)
    at_100 = dict(zip(WORDS, history[100].round(3).tolist(), strict=True))
    assert at_100 == {"sat": 0.288, "slept": 0.2, "was": 0.117, "chased": 0.127}
    assert "sat .288, slept .200, chased .127, was .117" in text
    # "a point on the way": p(sat) peaks near 0.31 (step 46), then falls
    assert round(float(history[:, 0].max()), 3) == 0.308
    assert int(np.argmax(history[:, 0])) == 46


def test_lookup_table_reaches_the_data_and_shared_features_do_not(notebook, training_data):
    model, contexts, targets = training_data
    words = [model.vocab.index(word) for word in WORDS]
    data = np.array([2, 2, 2, 1]) / 7
    distinct, row = np.unique(contexts, axis=0, return_inverse=True)
    assert len(distinct) == 209  # "one feature per distinct context (209 of them)"
    assert len(targets) == 364
    one_hot = np.eye(len(distinct))[row.ravel()]
    watched_row = np.all(distinct == model.context_window("the cat"), axis=1).astype(float)
    lookup = trained(one_hot, targets, 10.0, 1000, watched_row, words)[-1]
    assert np.max(np.abs(lookup - data)) < 0.01  # heads for 2/7, 2/7, 2/7, 1/7
    shared = trained(model.features(contexts), targets, 0.1, 1000, model.features("the cat"), words)
    # "no closer to them than at step 100"
    assert np.abs(shared[1000] - data).sum() >= np.abs(shared[100] - data).sum()
    assert shared[1000][3] > data[3]
    assert shared[1000][0] < data[0]
    assert np.max(np.abs(shared[1000] - data)) > 0.05
    at_1000 = dict(zip(WORDS, shared[1000].round(3).tolist(), strict=True))
    assert at_1000 == {"sat": 0.226, "slept": 0.243, "was": 0.186, "chased": 0.249}
    text = markdown(notebook, "lookup-table-explained")
    assert "sat .226, slept .243, was .186, chased .249" in text
    assert "209 of them" in markdown(notebook, "lookup-table")


def test_finite_difference_digits_in_float32(notebook):
    namespace = solution_namespace(NOTEBOOK)
    z = np.array([2.0, 1.0, 0.0])
    exact = utils.softmax(z) - np.eye(3)[1]

    def loss(logits):
        return utils.logsumexp(logits) - logits[1]

    def digits(dtype, h):
        numeric = namespace["numerical_gradient"](loss, z, h, dtype=dtype)
        assert numeric.dtype == dtype
        return -np.log10(np.max(np.abs(numeric - exact)))

    eps = float(np.finfo(np.float32).eps)
    assert 1.5 < digits(np.float32, 1e-5) < 2.5  # "about two"
    assert 4.5 < digits(np.float32, eps ** (1 / 3)) < 5.5  # "about five"
    assert digits(np.float64, 1e-5) > 9.5  # "about ten"
    text = markdown(notebook, "finite-differences")
    assert "about two correct digits" in text
    assert "only about five" in text
    assert "about three" not in text


def test_optimum_names_the_shipped_models_training(notebook):
    assert "full-batch Adam" in (train.__doc__ or "")
    assert train.TrainingConfig().steps == 300
    assert train.TrainingConfig().sentences == 50_000
    text = markdown(notebook, "optimum-explained")
    assert "full-batch Adam" in text
    assert "300 steps on 50,000 sentences" in text
    assert "trained the same way" not in text
    assert "property" in markdown(notebook, "optimum")


def _answer_cell(notebook, grade_id: str) -> str:
    (cell,) = [
        cell
        for cell in notebook.cells
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id
    ]
    return cell.source


def test_predict_step_signs_follows_from_the_gradient(notebook):
    spec = exercises.get("07.predict_step_signs")
    logits = np.tile(lesson07.STEP_SIGNS_BIAS, (2, 1))
    gradient = lesson07.cross_entropy_gradient_reference(logits, lesson07.STEP_SIGNS_TARGETS)
    bias_gradient = gradient.sum(axis=0)
    assert spec.reference() == tuple(np.sign(-bias_gradient))
    assert spec.reference() == (-1.0, 1.0, -1.0)  # a target ("cat") falls
    values: dict = {}
    exec(_answer_cell(notebook, spec.grade_id), values)
    assert check(spec.id, values[spec.answer_name]).status == "passed"
    text = markdown(notebook, "optimum-explained")
    assert "$b = (2, 1, 0)$" in text
    assert "(0.665, 0.245, 0.090)" in text
    assert tuple(utils.softmax(lesson07.STEP_SIGNS_BIAS).round(3)) == (0.665, 0.245, 0.09)


def test_predict_step_signs_unanswered_is_not_attempted():
    # The student notebook leaves `predicted_signs = None` when the stub raises.
    spec = exercises.get("07.predict_step_signs")
    assert spec.kind == "value"
    assert spec.points == 2
    assert check(spec.id, None).status == "not_attempted"
