"""utils.lm: the corpus process and its true probabilities, the shipped model, and the
bit-for-bit reproducible training."""

from __future__ import annotations

import doctest
import hashlib
import json
import zipfile
from collections import defaultdict

import numpy as np
import pytest
import scipy.stats

import utils.lm.corpus
import utils.lm.model
import utils.lm.train
from utils import lm
from utils.lm import corpus
from utils.lm.__main__ import main as command_line
from utils.lm.train import (
    TrainingConfig,
    _exact_matmul,
    _exp_nonpositive,
    parameters_sha256,
    train,
    weights_file_bytes,
)

ID = {word: i for i, word in enumerate(corpus.VOCAB)}


def ids(text: str) -> list[int]:
    return [ID[word] for word in text.split()]


@pytest.fixture(scope="module")
def model():
    return lm.load()


# --- the process ---------------------------------------------------------------------------------
def test_every_state_is_a_distribution_and_the_vocabulary_is_small():
    assert 50 <= len(corpus.VOCAB) <= 300
    assert len(set(corpus.VOCAB)) == len(corpus.VOCAB)
    live = [i for i, name in enumerate(corpus.STATE_NAMES) if name != "end"]
    np.testing.assert_allclose(corpus.EMISSION[live].sum(axis=1), 1.0, rtol=0, atol=1e-12)
    # Every word of the vocabulary can be produced (except <s>, which only starts).
    assert (corpus.EMISSION.sum(axis=0)[2:] > 0).all()


def test_true_probabilities_of_hand_checked_contexts():
    start = corpus.true_next_token_probs(ids("<s>"))
    assert start[ID["the"]] == 0.65
    assert start[ID["a"]] == 0.35
    after_cat = corpus.true_next_token_probs(ids("the cat"))
    assert after_cat[ID["sat"]] == 0.34
    assert after_cat[ID["slept"]] == 0.26
    assert corpus.true_next_token_probs(ids("the cat slept"))[ID["soundly"]] == 0.8
    # "the" after <s>: adjective (0.25 in all) or noun (0.75 * its weight).
    after_the = corpus.true_next_token_probs(ids("the"))
    assert after_the[ID["big"]] == pytest.approx(0.25 * 0.20)
    assert after_the[ID["cat"]] == pytest.approx(0.75 * 0.16)


def test_the_built_in_greedy_trap_holds_in_the_true_process():
    p_sat, p_slept = 0.34, 0.26
    p_on = corpus.true_next_token_probs(ids("the cat sat"))[ID["on"]]
    p_soundly = corpus.true_next_token_probs(ids("the cat slept"))[ID["soundly"]]
    assert p_sat > p_slept
    assert p_slept * p_soundly > p_sat * p_on


def test_leading_start_tokens_change_nothing_and_batches_work():
    np.testing.assert_array_equal(
        corpus.true_next_token_probs(ids("the cat")),
        corpus.true_next_token_probs(ids("<s> <s> the cat")),
    )
    batch = np.array([ids("the cat sat"), ids("a dog ran"), ids("<s> the bird")])
    result = corpus.true_next_token_probs(batch[None])
    assert result.shape == (1, 3, len(corpus.VOCAB))
    np.testing.assert_array_equal(result[0, 1], corpus.true_next_token_probs(ids("a dog ran")))


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ("cat sat", "'cat' never follows '<s>'"),
        ("the cat sat mat", "'mat' never follows 'sat'"),
        ("the cat slept </s>", "no token follows"),
        ("the cat slept </s> the", "already ended"),
    ],
)
def test_impossible_contexts_are_explained(context, message):
    with pytest.raises(ValueError, match=message):
        corpus.true_next_token_probs(ids(context))


def test_empty_and_malformed_contexts_are_errors():
    with pytest.raises(ValueError, match="empty"):
        corpus.true_next_token_probs(np.zeros((2, 0), dtype=int))
    with pytest.raises(ValueError, match="token ids run from 0"):
        corpus.true_next_token_probs([2, 999])
    with pytest.raises(TypeError, match="integer token ids"):
        corpus.true_next_token_probs(["the", "cat"])


def test_the_last_three_tokens_decide_the_state():
    # The grammar's promise: a model that sees three tokens can learn the truth exactly.
    sentences = corpus.sample_sentences(3000, np.random.default_rng(11))
    states_of_window = defaultdict(set)
    for sentence in sentences:
        padded = [ID["<s>"]] * 2 + sentence.tolist()
        for position in range(1, len(sentence)):
            window = tuple(padded[position - 1 : position + 2])
            states_of_window[window].add(int(corpus.states_after(sentence[:position])))
    assert all(len(states) == 1 for states in states_of_window.values())


def test_sampled_sentences_follow_the_process():
    sentences = corpus.sample_sentences(20_000, np.random.default_rng(3))
    assert all(s[0] == ID["<s>"] and s[-1] == ID["</s>"] for s in sentences)
    assert all(np.isfinite(corpus.sentence_log_prob(s)) for s in sentences[:200])
    # Second words against the true distribution after <s> the / <s> a: a chi-square test.
    second = np.array([s[2] for s in sentences if s[1] == ID["the"]])
    expected = corpus.true_next_token_probs(ids("the"))
    counts = np.bincount(second, minlength=len(corpus.VOCAB))
    support = expected > 0
    assert counts[~support].sum() == 0
    assert scipy.stats.chisquare(counts[support], expected[support] * len(second)).pvalue > 1e-3


def test_sentence_log_prob_is_the_chain_rule():
    sentence = ids("<s> the cat slept soundly </s>")
    expected = np.log([0.65, 0.75 * 0.16, 0.26, 0.8, 0.85]).sum()
    assert corpus.sentence_log_prob(sentence) == pytest.approx(expected)
    assert corpus.sentence_log_prob(ids("the cat the </s>")) == -np.inf


def test_sampling_sentences_is_reproducible():
    first = corpus.sample_sentences(50, np.random.default_rng(5))
    second = corpus.sample_sentences(50, np.random.default_rng(5))
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    with pytest.raises(TypeError, match="Generator"):
        corpus.sample_sentences(5, 0)


# --- the shipped model ---------------------------------------------------------------------------
def test_encode_and_decode_round_trip(model):
    assert isinstance(model.vocab, list)
    assert all(isinstance(word, str) for word in model.vocab)
    encoded = model.encode("the cat sat on the mat")
    assert encoded.dtype == np.int64
    assert model.decode(encoded) == "the cat sat on the mat"
    assert model.decode([model.bos_id, *encoded, model.eos_id], skip_special_tokens=True) == (
        "the cat sat on the mat"
    )
    assert model.decode([[2, 16], [3, 17]]) == ["the cat", "a dog"]
    assert (model.bos_id, model.eos_id) == (ID["<s>"], ID["</s>"])


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        ("the cta sat", ValueError, "unknown word 'cta'.*'cat'"),
        ("The cat", ValueError, "unknown word 'The'.*'the'"),
        ("the mat.", ValueError, "unknown word 'mat.'.*'mat'"),
        ("the zebra", ValueError, "unknown word 'zebra'.*model.vocab"),
        ("   ", ValueError, "text is empty"),
        (["the", "cat"], TypeError, "must be a str"),
    ],
)
def test_bad_text_gets_a_helpful_error(model, text, error, message):
    with pytest.raises(error, match=message):
        model.encode(text)


def test_logits_are_batched_and_equal_the_softmax_layer_on_the_features(model):
    single = model.next_token_logits("the cat")
    assert single.shape == (model.vocab_size,)
    assert single.dtype == np.float64
    batch = model.next_token_logits(np.array([[ids("the cat sat"), ids("a big dog")]]))
    assert batch.shape == (1, 2, model.vocab_size)
    np.testing.assert_allclose(batch[0, 1], model.next_token_logits("a big dog"), rtol=1e-13)
    features = model.features("the cat")
    np.testing.assert_allclose(
        features @ model.output_weights + model.output_bias, single, rtol=1e-13
    )
    # A batch of texts of different lengths is left-padded with <s>, which changes nothing.
    texts = model.next_token_logits(["the cat", "a big dog sat"])
    np.testing.assert_allclose(texts[0], single, rtol=1e-13)
    np.testing.assert_array_equal(model.next_token_logits("<s> the cat"), single)


def test_weights_are_read_only(model):
    with pytest.raises(ValueError, match="read-only"):
        model.output_weights[0, 0] = 1.0


def test_empty_and_bad_contexts_are_errors(model):
    with pytest.raises(ValueError, match="empty"):
        model.next_token_logits(np.zeros((3, 0), dtype=int))
    with pytest.raises(ValueError, match="token ids run from 0"):
        model.next_token_logits([2, model.vocab_size])
    with pytest.raises(TypeError, match="left-pad"):
        model.next_token_logits([[2, 16], [3]])


def test_the_model_learned_the_process(model):
    sentences = corpus.sample_sentences(500, np.random.default_rng(99))
    divergences = []
    for sentence in sentences:
        for position in range(1, len(sentence)):
            context = sentence[:position]
            truth = model.true_next_token_probs(context)
            learned = model.next_token_probs(context)
            support = truth > 0
            divergences.append(np.sum(truth[support] * np.log(truth[support] / learned[support])))
    assert np.mean(divergences) < 0.01  # nats per token, averaged over the process's text
    assert np.max(divergences) < 0.2


def test_the_greedy_trap_holds_for_the_model(model):
    p = model.next_token_probs(["the cat", "the cat sat", "the cat slept"])
    p_sat, p_slept = p[0, ID["sat"]], p[0, ID["slept"]]
    assert p_sat > p_slept + 0.03
    assert p_slept * p[2, ID["soundly"]] > p_sat * p[1, ID["on"]] + 0.05


# --- the weights file and reproducible training --------------------------------------------------
def test_the_weights_file_is_small_and_documents_its_training(model):
    size = lm.WEIGHTS_PATH.stat().st_size
    assert size < 2 * 1024 * 1024
    metadata = model.metadata
    config = TrainingConfig()
    for name, value in vars(config).items():
        assert metadata[name] == value, name
    assert metadata["trainer"] == "python -m utils.lm train"
    parameters = {name: getattr(model, name) for name in utils.lm.train.PARAMETER_NAMES}
    assert metadata["parameters_sha256"] == parameters_sha256(parameters)
    sentences = corpus.sample_sentences(config.sentences, np.random.default_rng([config.seed, 0]))
    digest = hashlib.sha256(np.concatenate(sentences).astype("<i8").tobytes()).hexdigest()
    assert metadata["corpus_sha256"] == digest
    with np.load(lm.WEIGHTS_PATH, allow_pickle=False) as archive:
        assert json.loads(str(archive["metadata"]))["format"] == 1
        assert tuple(archive["vocab"]) == corpus.VOCAB


def test_a_short_training_run_is_bit_for_bit_reproducible():
    config = TrainingConfig(sentences=400, steps=4)
    first = weights_file_bytes(*train(config))
    second = weights_file_bytes(*train(config))
    assert first == second
    other_seed = weights_file_bytes(*train(TrainingConfig(sentences=400, steps=4, seed=1)))
    assert other_seed != first


@pytest.mark.slow
def test_the_full_training_run_rewrites_the_shipped_file_byte_for_byte():
    # A few seconds: the shipped weights are exactly what `python -m utils.lm train` writes.
    assert weights_file_bytes(*train(TrainingConfig())) == lm.WEIGHTS_PATH.read_bytes()


def test_exact_products_do_not_depend_on_the_order_of_additions():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(30, 700)), rng.normal(size=(700, 20))
    product = _exact_matmul(a, b)
    reversed_order = _exact_matmul(a[:, ::-1].copy(), b[::-1].copy())
    np.testing.assert_array_equal(product, reversed_order)
    np.testing.assert_allclose(product, a @ b, rtol=1e-4, atol=1e-4)


def test_the_portable_exp_is_accurate():
    x = -np.concatenate([np.linspace(0, 50, 10_001), [700.0, 800.0]])
    np.testing.assert_allclose(_exp_nonpositive(x[:-2]), np.exp(x[:-2]), rtol=1e-11, atol=0)
    assert 0 < _exp_nonpositive(x[-1:])[0] < 1e-300


def test_the_command_line_writes_and_checks_a_weights_file(tmp_path, capsys):
    path = tmp_path / "small.npz"
    options = ["--out", str(path), "--steps", "3", "--sentences", "300", "--quiet"]
    assert command_line(["train", *options]) == 0
    assert "wrote" in capsys.readouterr().out
    small = lm.load(path)
    assert small.metadata["steps"] == 3
    assert small.next_token_logits("the cat").shape == (small.vocab_size,)
    assert command_line(["train", *options, "--check"]) == 0
    assert command_line(["train", *options[:-1], "--seed", "5", "--check"]) == 1
    assert "DIFFERENT" in capsys.readouterr().out


def test_loading_a_missing_or_damaged_file_is_explained(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"python -m utils\.lm train"):
        lm.load(tmp_path / "missing.npz")
    damaged = tmp_path / "damaged.npz"
    with zipfile.ZipFile(lm.WEIGHTS_PATH) as source, zipfile.ZipFile(damaged, "w") as target:
        for name in source.namelist():
            data = source.read(name)
            if name == "output_bias.npy":
                data = data[:-8] + np.float64(1.0).tobytes()
            target.writestr(name, data)
    with pytest.raises(ValueError, match="damaged"):
        lm.load(damaged)


@pytest.mark.parametrize("module", [utils.lm, utils.lm.corpus, utils.lm.model, utils.lm.train])
def test_docstring_examples_run(module):
    assert doctest.testmod(module, raise_on_error=False).failed == 0
