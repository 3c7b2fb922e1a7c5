"""Lesson 09's corpus and model: the long-tail grammar, its exact token-level truth, the
token model and its bit-for-bit reproducible training."""

from __future__ import annotations

import doctest
import hashlib
import json
import os
import subprocess
import sys
import zipfile
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest
import scipy.stats

import utils
import utils.lm.grammar
import utils.lm.token_model
import utils.lm.token_train
import utils.lm.token_truth
from utils.lm import grammar, token_train
from utils.lm.__main__ import main as command_line
from utils.lm.token_model import TOKEN_WEIGHTS_PATH, load_token_model
from utils.lm.token_train import TokenTrainingConfig, train_token_model, weights_file_bytes
from utils.tokenizer import TOKENIZER_PATH

ROOT = Path(__file__).resolve().parents[1]
UNIT = {unit: i for i, unit in enumerate(grammar.UNITS)}
# A small configuration: a few seconds to train, same code paths (two layers, several heads).
TINY = TokenTrainingConfig(
    tokenizer_sentences=3000, vocab_size=400, sentences=300, context_length=12,
    embedding_size=16, heads=2, layers=2, mlp_size=32, batch_size=4, steps=3, warmup_steps=2,
)  # fmt: skip


@pytest.fixture(scope="module")
def model():
    return load_token_model()


@pytest.fixture(scope="module")
def truth(model):
    return model.truth


@pytest.fixture(scope="module")
def tiny_tokenizer():
    return token_train.train_tokenizer(TINY)


def units(text: str) -> list[int]:
    return grammar.units_of_text(text).tolist()


# --- the grammar ---------------------------------------------------------------------------------
def test_every_state_is_a_distribution_over_a_long_tailed_lexicon():
    np.testing.assert_allclose(grammar.EMISSION.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    words = {unit.strip() for unit in grammar.UNITS} - {grammar.EOS, ".", ","}
    assert 900 <= len(words) <= 1300
    # Every unit can be produced, and every state can be reached from the start.
    assert (grammar.EMISSION.sum(axis=0) > 0).all()
    reached, frontier = {grammar.START_STATE}, [grammar.START_STATE]
    while frontier:
        following = set(grammar.TRANSITION[frontier.pop()].tolist()) - {-1} - reached
        reached |= following
        frontier.extend(following)
    assert reached == set(range(len(grammar.STATE_NAMES)))


def test_the_lexicon_is_zipf_like():
    probs = grammar.true_next_unit_probs(units("The"))
    animals = np.array([probs[UNIT[" " + word]] for word in grammar.ANIMALS])
    assert (np.diff(animals) < 0).all()  # the k-th most common first
    np.testing.assert_allclose(animals[0] / animals[9], (10 + 1) / (1 + 1))  # 1 / (rank + 1)
    assert animals[-1] < animals[0] / 50  # a long tail


def test_hand_checked_word_probabilities():
    start = grammar.true_next_unit_probs([])
    assert start[UNIT["The"]] == pytest.approx(
        0.60 * grammar.zipf(grammar.DETERMINERS, 1.6, 0.3)["the"]
    )
    after_sat = grammar.true_next_unit_probs(units("The cat sat"))
    prepositions = grammar.zipf(grammar.PREPOSITIONS, exponent=1.3)
    assert after_sat[UNIT[" on"]] == pytest.approx(prepositions["on"])
    after_object = grammar.true_next_unit_probs(units("Alice saw the dog"))
    assert after_object[UNIT[" that"]] == pytest.approx(0.50)
    assert after_object.argmax() == UNIT[" that"]  # why greedy decoding loops
    assert grammar.true_next_unit_probs(units("The cat sat on the mat."))[grammar.EOS_ID] == 1.0


def test_sentences_end_with_a_full_stop_and_the_end_of_text_token():
    sentences = grammar.sample_sentences(300, np.random.default_rng(0))
    for sentence in sentences:
        assert sentence[-2:].tolist() == [UNIT["."], grammar.EOS_ID]
        assert np.isfinite(grammar.sentence_log_prob(sentence))
    lengths = [len(sentence) for sentence in sentences]
    assert max(lengths) > 20  # relative clauses and lists make some long


def test_impossible_word_sequences_are_explained():
    with pytest.raises(ValueError, match="cannot follow"):
        grammar.true_next_unit_probs(units("The sat"))
    with pytest.raises(ValueError, match="not a unit"):
        grammar.units_of_text("The cat zzyzx")
    assert grammar.sentence_log_prob(units("The sat")) == -np.inf


# --- the exact token-level truth -----------------------------------------------------------------
def test_token_truth_is_a_distribution_after_every_prefix_of_the_corpus(truth, model):
    sentences = token_train.token_corpus(truth, 100, np.random.default_rng(3))
    stream = np.concatenate(sentences)
    along = truth.along(stream)
    np.testing.assert_allclose(along.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    assert (along[np.arange(len(stream) - 1), stream[1:]] > 0).all()
    # One position at a time gives the same rows.
    for position in (0, 5, 17, len(stream) - 2):
        np.testing.assert_allclose(truth.next_token_probs(stream[: position + 1]), along[position])
    # The text the grammar writes tokenizes to exactly these tokens.
    text = "".join(model.decode(sentence) for sentence in sentences)
    assert model.encode(text).tolist() == stream.tolist()


def test_words_probabilities_are_products_of_token_probabilities_and_a_boundary(truth, model):
    # For every prefix u_1 .. u_k of 150 sentences: the chain rule over its tokens, times the
    # probability that the next token starts a new word, is the grammar's P(u_1 .. u_k).
    # (Per word this does not hold: "The" may still become "Then" until the next token.)
    checked = 0
    for sentence in grammar.sample_sentences(150, np.random.default_rng(4)):
        tokens = [t for unit in sentence.tolist() for t in truth.unit_tokens[unit]]
        along = truth.along(np.array(tokens))
        first = truth.first_token_probs[grammar.START_STATE][tokens[0]]
        chain = np.cumsum(np.log([first, *along[np.arange(len(tokens) - 1), tokens[1:]]]))
        ends = np.cumsum([len(truth.unit_tokens[unit]) for unit in sentence.tolist()]) - 1
        for k, end in enumerate(ends.tolist()):
            # After <|endoftext|> a new text starts: any token begins a word.
            last = sentence[k] == grammar.EOS_ID
            boundary = 1.0 if last else along[end][truth.starts_unit].sum()
            expected = grammar.sentence_log_prob(sentence[: k + 1])
            assert chain[end] + np.log(boundary) == pytest.approx(expected, rel=1e-9, abs=1e-9)
            checked += 1
    assert checked > 1000


def brute_force_next_token_probs(truth, prefix: list[int]) -> np.ndarray:
    """P(next token | token prefix) by enumerating the unit sequences that fit the prefix."""
    weights = np.zeros(truth.vocab_size)

    def visit(state: int, position: int, probability: float) -> None:
        rest = prefix[position:]
        for unit in np.flatnonzero(grammar.EMISSION[state]).tolist():
            tokens = truth.unit_tokens[unit]
            weight = probability * grammar.EMISSION[state, unit]
            if not rest:
                weights[tokens[0]] += weight
            elif len(tokens) <= len(rest):
                if tuple(rest[: len(tokens)]) == tokens:
                    visit(int(grammar.TRANSITION[state, unit]), position + len(tokens), weight)
            elif tokens[: len(rest)] == tuple(rest):
                weights[tokens[len(rest)]] += weight

    visit(grammar.START_STATE, 0, 1.0)
    return weights / weights.sum()


def test_token_truth_equals_brute_force_enumeration(truth):
    # Every prefix of 12 sentences (two of them joined by <|endoftext|>), whole and partial
    # words: the automaton with its trie gives what enumerating unit sequences gives.
    sentences = token_train.token_corpus(truth, 12, np.random.default_rng(6))
    compared = 0
    for tokens in [np.concatenate(sentences[:2]), *sentences[2:]]:
        along = truth.along(tokens)
        for position in range(len(tokens)):
            expected = brute_force_next_token_probs(truth, tokens[: position + 1].tolist())
            np.testing.assert_allclose(along[position], expected, rtol=1e-10, atol=1e-15)
            compared += 1
    assert compared > 100
    # "The" may be a whole word or the start of another ("Then"): both are counted.
    the = truth.tokenizer.encode("The")
    probs = truth.next_token_probs(the)
    continuing = [t for t in np.flatnonzero(probs) if not truth.starts_unit[t]]
    np.testing.assert_allclose(probs, brute_force_next_token_probs(truth, the))
    assert 0 < probs[continuing].sum() < 0.1


def test_token_truth_matches_sampled_text(truth):
    # Seeded chi-square tests: next-token counts after the most frequent token prefixes
    # of sentence starts (whole and partial words) against the exact distributions.
    sentences = token_train.token_corpus(truth, 40_000, np.random.default_rng(5))
    following: dict[tuple, Counter] = defaultdict(Counter)
    for sentence in sentences:
        for length in (1, 2, 3, 4):
            if len(sentence) > length:
                following[tuple(sentence[:length].tolist())][int(sentence[length])] += 1
    tested = 0
    for prefix, counts in sorted(following.items(), key=lambda item: -sum(item[1].values()))[:40]:
        total = sum(counts.values())
        probs = truth.next_token_probs(list(prefix))
        assert set(counts) <= set(np.flatnonzero(probs > 0).tolist())
        tokens = np.flatnonzero(probs * total >= 5)
        if len(tokens) < 2:
            continue
        observed = np.array([counts[t] for t in tokens] + [total - sum(counts[t] for t in tokens)])
        expected = np.append(probs[tokens], max(0.0, 1 - probs[tokens].sum())) * total
        if expected[-1] < 5:  # too little left over: fold it into the last bin
            observed[-2] += observed[-1]
            expected[-2] += expected[-1]
            observed, expected = observed[:-1], expected[:-1]
        expected *= observed.sum() / expected.sum()
        assert scipy.stats.chisquare(observed, expected).pvalue > 1e-4, prefix
        tested += 1
    assert tested >= 20


def test_impossible_token_prefixes_are_explained(truth, model):
    with pytest.raises(ValueError, match="probability 0"):
        truth.next_token_probs(model.encode("cat sat"))
    # " cat" is one token: " c" + "at" is not how the corpus is tokenized.
    split = [*model.encode("The"), *model.tokenizer.encode(" c"), *model.tokenizer.encode("at")]
    assert model.tokenizer.decode(split) == "The cat"
    with pytest.raises(ValueError, match="probability 0"):
        truth.next_token_probs(split + model.encode(" sat").tolist())
    with pytest.raises(ValueError, match="empty"):
        truth.next_token_probs(np.zeros((2, 0), dtype=int))
    with pytest.raises(ValueError, match="out of range"):
        truth.next_token_probs([model.vocab_size])
    with pytest.raises(TypeError, match="integers"):
        truth.next_token_probs([1.5])
    assert truth.sequence_log_prob(split) == -np.inf


def test_leading_end_of_text_tokens_change_nothing(truth, model):
    ids = model.encode("The cat sat").tolist()
    np.testing.assert_array_equal(
        truth.next_token_probs([model.eos_id, model.eos_id, *ids]), truth.next_token_probs(ids)
    )
    assert truth.sequence_log_prob([model.eos_id, *ids]) == truth.sequence_log_prob(ids)
    sentence = units("The cat sat on the mat.")
    tokens = model.encode("The cat sat on the mat.")
    assert truth.sequence_log_prob(tokens) == pytest.approx(grammar.sentence_log_prob(sentence))


# --- the shipped model ---------------------------------------------------------------------------
def test_the_shipped_files_are_small_and_document_their_training(model):
    size = TOKEN_WEIGHTS_PATH.stat().st_size + TOKENIZER_PATH.stat().st_size
    assert size < 2 * 1024 * 1024
    metadata = model.metadata
    for name, value in vars(TokenTrainingConfig()).items():
        assert metadata[name] == value, name
    assert metadata["trainer"] == "python -m utils.lm train-tokens"
    assert metadata["parameters"] == sum(p.size for p in model.parameters.values())
    digest = hashlib.sha256(TOKENIZER_PATH.read_text(encoding="utf-8").encode()).hexdigest()
    assert metadata["tokenizer_sha256"] == digest
    assert load_token_model() is model


def test_logits_are_batched_and_read_the_last_window(model):
    ids = model.encode("Alice saw the dog that chased the cat that liked the old fox")
    assert model.next_token_logits(ids).shape == (model.vocab_size,)
    batch = np.stack([ids, ids[::-1]])
    assert model.next_token_logits(batch).shape == (2, model.vocab_size)
    assert model.next_token_logits(batch[None]).shape == (1, 2, model.vocab_size)
    np.testing.assert_allclose(model.next_token_logits(batch)[0], model.next_token_logits(ids))
    long = np.concatenate([model.encode("The cat sat on the mat.<|endoftext|>" * 5), ids])
    assert len(long) > model.context_length
    np.testing.assert_allclose(
        model.next_token_logits(long), model.next_token_logits(long[-model.context_length :])
    )
    along = model.next_token_probs_along(long)
    for position in (0, 3, model.context_length - 1, model.context_length, len(long) - 1):
        np.testing.assert_allclose(along[position], model.next_token_probs(long[: position + 1]))


def test_bad_contexts_are_explained(model):
    with pytest.raises(ValueError, match="empty"):
        model.next_token_logits("")
    for empty in ([], np.array([])):
        with pytest.raises(ValueError, match="empty"):
            model.next_token_probs(empty)
        with pytest.raises(ValueError, match="empty"):
            model.true_next_token_probs(empty)
    with pytest.raises(ValueError, match="empty"):
        model.next_token_logits(np.zeros((2, 0), dtype=int))
    with pytest.raises(ValueError, match="out of range"):
        model.next_token_logits([5, model.vocab_size])
    with pytest.raises(TypeError, match="integers"):
        model.next_token_logits([0.5, 1.0])
    with pytest.raises(TypeError, match="str"):
        model.true_next_word_probs(["The cat"])
    with pytest.raises(ValueError, match="cannot follow"):
        model.true_next_word_probs("The sat")
    # A batch of texts: each row is what the text alone gives (no attended padding).
    texts = ["A", "The cat sat on the mat that"]
    np.testing.assert_allclose(model.next_token_probs(texts)[0], model.next_token_probs("A"))
    np.testing.assert_allclose(model.next_token_logits(texts)[1], model.next_token_logits(texts[1]))
    # context_ids left-pads a batch of texts with <|endoftext|>.
    batch = model.context_ids(["The cat", "Alice saw the dog"])
    assert batch.shape == (2, len(model.encode("Alice saw the dog")))
    assert batch[0, 0] == model.eos_id
    np.testing.assert_array_equal(
        model.true_next_token_probs(["The cat", "Alice saw the dog"])[0],
        model.true_next_token_probs("The cat"),
    )


def test_inference_agrees_with_the_training_arithmetic(model):
    config = TokenTrainingConfig()
    windows = model.encode("The cat sat on the mat.<|endoftext|>Alice saw a dog")[None]
    parameters = {name: np.array(value) for name, value in model.parameters.items()}
    exact, _ = token_train._forward(parameters, windows, config)
    np.testing.assert_allclose(model._logits_all(windows), exact, rtol=0, atol=1e-4)


def test_the_model_is_close_to_the_truth_on_held_out_text(model):
    held_out = token_train.token_corpus(model.truth, 60, np.random.default_rng(11))
    figures = token_train.evaluate(model, held_out)
    assert figures["kl_truth_model"] < 0.25  # nats per token
    assert figures["model_cross_entropy"] < figures["truth_cross_entropy"] + 0.3
    low, high = figures["truth_nucleus_range"]
    assert low == 1
    assert high >= 100


def test_greedy_decoding_loops_and_sampling_does_not_have_to(model):
    greedy = utils.greedy_decode(model, "Alice saw the dog", 40)
    assert not greedy.finished
    tokens = greedy.token_ids.tolist()
    trigrams = Counter(zip(tokens, tokens[1:], tokens[2:], strict=False))
    assert max(trigrams.values()) >= 6, f"no repetition in {greedy.text!r}"
    sampled = utils.sample_decode(
        model, "Alice saw the dog", np.random.default_rng(0), max_new_tokens=60
    )
    assert sampled.token_ids.size >= 1
    beams = utils.beam_search(model, model.encode("The cat"), beam_width=3, max_new_tokens=8)
    assert len(beams) == 3
    assert beams[0].score >= beams[-1].score


def test_helpers_for_the_lesson(model):
    assert model.word_tokens(" cat") == ["Ġcat"]
    assert len(model.word_token_ids(" enthusiastically")) >= 4
    assert model.decode(model.word_token_ids(" rhino")) == " rhino"
    assert model.starts_word[model.encode(" cat")[0]]
    assert model.starts_word[model.eos_id]
    assert not model.starts_word[model.word_token_ids(" enthusiastically")[1]]
    probs = model.true_next_word_probs("The cat sat")
    assert model.words[int(probs.argmax())] == " on"
    np.testing.assert_array_equal(model.true_next_word_probs("<|endoftext|>The cat sat"), probs)
    with pytest.raises(ValueError, match="several words"):
        model.word_token_ids(" the cat")


def test_the_sampling_lab_and_the_beam_stepper_run_on_the_token_model(model):
    from utils.widgets.decoding import beam_search_stepper, sampling_lab

    lab = sampling_lab(model, context="The cat", top_p=0.9, seed=0, samples=1000)
    kept = np.isfinite(utils.top_p_filter(model.next_token_logits("The cat"), 0.9))
    assert lab.state["kept_count"] == kept.sum() > 10  # a long tail: many tokens kept
    assert all(token.startswith(" ") for token in lab.state["kept_tokens"][:5])
    lab.context.value = "The rhin"  # inside a word: the continuations, without a space
    assert lab.state["error"] == ""
    assert not lab.state["kept_tokens"][0].startswith(" ")
    stepper = beam_search_stepper(model, prefix="The cat", beam_width=2, max_new_tokens=3)
    while not stepper.state["done"]:
        stepper.next_button.click()
    expected = utils.beam_search(model, "The cat", beam_width=2, max_new_tokens=3)[0]
    assert stepper.state["best"].text == expected.text
    assert "The cat" in stepper.out.outputs[0]["text"]


# --- reproducible training -----------------------------------------------------------------------
def _plain_arithmetic(monkeypatch):
    monkeypatch.setattr(token_train, "_matmul", lambda a, b: a @ b)
    monkeypatch.setattr(token_train, "_sum_rows", lambda values: values.sum(axis=0))

    def scatter(ids, values, rows):
        out = np.zeros((rows, values.shape[1]))
        np.add.at(out, ids, values)
        return out

    monkeypatch.setattr(token_train, "_scatter_rows", scatter)


def test_the_gradients_are_the_losss_derivatives(monkeypatch, tiny_tokenizer):
    # In plain float64 (the exact products round to ~24 bits, too coarse for differences).
    _plain_arithmetic(monkeypatch)
    rng = np.random.default_rng(0)
    parameters = token_train._initial_parameters(TINY, tiny_tokenizer.vocab_size, rng)
    for name in parameters:
        parameters[name] = parameters[name] + rng.normal(scale=0.3, size=parameters[name].shape)
    windows = rng.integers(0, tiny_tokenizer.vocab_size, size=(3, TINY.context_length + 1))
    _, gradients = token_train.loss_and_gradients(parameters, windows, TINY)
    for name, values in parameters.items():
        flat = values.reshape(-1)
        for index in rng.choice(flat.size, size=min(3, flat.size), replace=False):
            original, step = flat[index], 1e-5
            flat[index] = original + step
            above, _ = token_train.loss_and_gradients(parameters, windows, TINY)
            flat[index] = original - step
            below, _ = token_train.loss_and_gradients(parameters, windows, TINY)
            flat[index] = original
            numeric = (above - below) / (2 * step)
            assert gradients[name].reshape(-1)[index] == pytest.approx(
                numeric, rel=1e-4, abs=1e-9
            ), name


def test_a_short_training_run_is_bit_for_bit_reproducible(tiny_tokenizer):
    first = weights_file_bytes(*train_token_model(TINY, tokenizer=tiny_tokenizer)[1:])
    second = weights_file_bytes(*train_token_model(TINY, tokenizer=tiny_tokenizer)[1:])
    assert first == second
    other = TokenTrainingConfig(**{**vars(TINY), "seed": 7})
    assert weights_file_bytes(*train_token_model(other, tokenizer=tiny_tokenizer)[1:]) != first


def test_training_gives_the_same_bits_on_older_cpu_paths_and_more_threads(tiny_tokenizer):
    # Another process with NumPy limited to SSE4.2 / AVX2 code and OpenBLAS's Haswell
    # kernels on two threads: what another CPU would run.
    ours = hashlib.sha256(
        weights_file_bytes(*train_token_model(TINY, tokenizer=tiny_tokenizer)[1:])
    ).hexdigest()
    script = (
        "import hashlib\n"
        "from tests.test_token_lm import TINY\n"
        "from utils.lm.token_train import train_token_model, weights_file_bytes\n"
        "print(hashlib.sha256(weights_file_bytes(*train_token_model(TINY)[1:])).hexdigest())\n"
    )
    environment = {
        **os.environ,
        "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR X86_V3",
        "OPENBLAS_CORETYPE": "Haswell",
        "OPENBLAS_NUM_THREADS": "2",
    }
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=environment, capture_output=True,
        text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split()[-1] == ours


def test_the_command_line_writes_and_checks_both_files(tmp_path, capsys):
    options = [
        "--out", str(tmp_path), "--steps", "2", "--sentences", "200", "--tokenizer-sentences",
        "2000", "--vocab-size", "300", "--held-out", "5", "--batch-size", "2",
    ]  # fmt: skip
    assert command_line(["train-tokens", *options]) == 0
    output = capsys.readouterr().out
    assert "KL(truth || model)" in output
    assert "wrote" in output
    small = load_token_model(tmp_path / "token_lm.npz")
    assert small.vocab_size == 300
    assert small.metadata["steps"] == 2
    assert small.next_token_logits("The cat").shape == (300,)
    assert command_line(["train-tokens", *options, "--quiet", "--check"]) == 0
    assert command_line(["train-tokens", *options, "--quiet", "--check", "--seed", "3"]) == 1
    assert "DIFFERENT" in capsys.readouterr().out


def test_loading_a_missing_or_damaged_file_is_explained(tmp_path):
    with pytest.raises(FileNotFoundError, match="train-tokens"):
        load_token_model(tmp_path / "missing.npz")
    with pytest.raises(ValueError, match=r"utils\.lm\.load\(\)"):
        load_token_model(utils.lm.WEIGHTS_PATH)  # the 78-word model's file
    with pytest.raises(ValueError, match="not a token model's weights file"):
        load_token_model(TOKENIZER_PATH, tokenizer_path=TOKENIZER_PATH)
    damaged = tmp_path / "token_lm.npz"
    with zipfile.ZipFile(TOKEN_WEIGHTS_PATH) as source, zipfile.ZipFile(damaged, "w") as target:
        for name in source.namelist():
            data = source.read(name)
            if name == "final_bias.npy":
                data = data[:-4] + np.float32(1.0).tobytes()
            target.writestr(name, data)
    with pytest.raises(ValueError, match="damaged"):
        load_token_model(damaged, tokenizer_path=TOKENIZER_PATH)
    other = tmp_path / "other.json"
    text = json.loads(TOKENIZER_PATH.read_text(encoding="utf-8"))
    text["model"]["merges"] = text["model"]["merges"][:-1]
    last = max(text["model"]["vocab"].values())
    text["model"]["vocab"] = {k: v for k, v in text["model"]["vocab"].items() if v != last}
    text["added_tokens"][0]["id"] = last
    other.write_text(json.dumps(text), encoding="utf-8")
    with pytest.raises(ValueError, match="another tokenizer"):
        load_token_model(TOKEN_WEIGHTS_PATH, tokenizer_path=other)


def test_the_exact_exp_is_accurate():
    x = -np.concatenate([np.linspace(0, 50, 10_001), [700.0, 800.0]])
    np.testing.assert_allclose(token_train._exp(x[:-2]), np.exp(x[:-2]), rtol=1e-9, atol=0)
    assert 0 < token_train._exp(x[-1:])[0] < 1e-300


@pytest.mark.parametrize(
    "module",
    [utils.lm.grammar, utils.lm.token_model, utils.lm.token_train, utils.lm.token_truth],
)
def test_docstring_examples_run(module):
    assert doctest.testmod(module, raise_on_error=False).failed == 0
