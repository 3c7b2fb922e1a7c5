"""utils.tokenizer: the course's byte-level BPE, against Hugging Face's `tokenizers`."""

from __future__ import annotations

import doctest
import json
from collections import Counter

import numpy as np
import pytest
import tokenizers
from hypothesis import given, settings
from hypothesis import strategies as st

import utils.tokenizer
from utils.lm import grammar
from utils.lm.token_train import TokenTrainingConfig, train_tokenizer
from utils.tokenizer import (
    EOS_TOKEN,
    TOKENIZER_PATH,
    BPETokenizer,
    bytes_to_unicode,
    load,
    pre_tokenize,
    train_bpe,
)

# The corpus alphabet, and a few characters outside it that GPT-2's rules treat specially.
CORPUS_ALPHABET = sorted({c for unit in grammar.UNITS if unit != EOS_TOKEN for c in unit})
OTHER_CHARACTERS = list("0123456789'!?;:-\n\t\r\x1c\xa0\u2003éüß東²½😀")


@pytest.fixture(scope="module")
def tokenizer():
    return load()


@pytest.fixture(scope="module")
def hugging_face():
    return tokenizers.Tokenizer.from_file(str(TOKENIZER_PATH))


def held_out_texts(count: int, seed: int) -> list[str]:
    sentences = grammar.sample_sentences(count, np.random.default_rng([seed, 7]))
    return [grammar.text_of_units(sentence) for sentence in sentences]


# --- the conventions -----------------------------------------------------------------------------
def test_the_shipped_vocabulary_follows_gpt2s_layout(tokenizer):
    assert tokenizer.vocab_size == len(tokenizer) == 1024
    assert tokenizer.eos_token == tokenizer.bos_token == "<|endoftext|>"
    assert tokenizer.eos_token_id == tokenizer.bos_token_id == tokenizer.vocab_size - 1
    # The 256 byte symbols first, in GPT-2's order, then one token per merge.
    assert tokenizer.convert_ids_to_tokens(list(range(256))) == list(bytes_to_unicode().values())
    merged = tokenizer.convert_ids_to_tokens(list(range(256, tokenizer.vocab_size - 1)))
    assert merged == [left + right for left, right in tokenizer.merges]


def test_a_leading_space_makes_a_different_token(tokenizer):
    assert tokenizer.tokenize(" cat") == ["Ġcat"]
    assert tokenizer.encode("cat") != tokenizer.encode(" cat")
    assert tokenizer.tokenize("The cat sat.") == ["The", "Ġcat", "Ġsat", "."]
    assert tokenizer.encode("The") != tokenizer.encode(" the")
    assert tokenizer.convert_tokens_to_ids(tokenizer.tokenize(" the dog")) == tokenizer.encode(
        " the dog"
    )
    assert tokenizer.token_text(tokenizer.encode(" cat")[0]) == " cat"


def test_rare_words_are_split_into_several_tokens(tokenizer):
    lengths = Counter(len(tokenizer.encode(unit)) for unit in grammar.UNITS)
    assert lengths[1] > 200  # the common words are single tokens
    assert sum(count for length, count in lengths.items() if length >= 3) > 400
    assert len(tokenizer.encode(" enthusiastically")) >= 4


def test_the_end_of_text_token_is_special(tokenizer):
    ids = tokenizer.encode("The dog ran.<|endoftext|>A cat")
    assert ids.count(tokenizer.eos_token_id) == 1
    assert tokenizer.decode(ids, skip_special_tokens=True) == "The dog ran.A cat"
    assert tokenizer.decode(ids) == "The dog ran.<|endoftext|>A cat"


def test_pre_tokenization_follows_gpt2s_pattern():
    assert pre_tokenize("The cat's 3 toys,  finally!\n\nok  ") == [
        "The", "Ġcat", "'s", "Ġ3", "Ġtoys", ",", "Ġ", "Ġfinally", "!", "Ċ", "Ċ", "ok", "ĠĠ",
    ]  # fmt: skip
    # The hand-written scanner (any Unicode) and the ASCII pattern agree on ASCII text.
    text = "It's 12 o'clock;  we'll go\t\tnow ...\n "
    pieces = utils.tokenizer._scan(text)
    assert pieces == utils.tokenizer._ASCII_PATTERN.findall(text)


# --- against Hugging Face ------------------------------------------------------------------------
def test_hugging_face_reads_the_shipped_file_and_encodes_held_out_text_identically(
    tokenizer, hugging_face
):
    assert hugging_face.get_vocab_size() == tokenizer.vocab_size
    for text in held_out_texts(300, seed=1):
        ids = tokenizer.encode(text)
        assert hugging_face.encode(text).ids == ids, text
        assert hugging_face.decode(ids, skip_special_tokens=False) == text
    assert hugging_face.token_to_id(EOS_TOKEN) == tokenizer.eos_token_id


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=CORPUS_ALPHABET + OTHER_CHARACTERS, max_size=40))
def test_hugging_face_agrees_on_any_text_of_these_characters(text):
    ours = load()
    theirs = tokenizers.Tokenizer.from_file(str(TOKENIZER_PATH))
    assert ours.encode(text) == theirs.encode(text).ids


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet=CORPUS_ALPHABET, max_size=30), min_size=1, max_size=3))
def test_encode_then_decode_gives_back_every_text_of_the_corpus_alphabet(parts):
    text = EOS_TOKEN.join(parts)
    assert load().decode(load().encode(text)) == text


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30))
def test_any_unicode_text_round_trips(text):
    assert load().decode(load().encode(text)) == text


def test_a_small_tokenizer_saved_by_the_course_loads_in_hugging_face(tmp_path):
    texts = ["The low lower lowest, newer newest.", "ah 12 345 x\n\n y", "éé東東 ü"] * 3
    small = train_bpe(texts, 290)
    path = tmp_path / "small.json"
    small.save(path)
    theirs = tokenizers.Tokenizer.from_file(str(path))
    again = BPETokenizer.from_file(path)
    assert again.merges == small.merges
    for text in [*texts, "lowest newer 7", "unseen zebra"]:
        assert theirs.encode(text).ids == small.encode(text) == again.encode(text)


# --- training ------------------------------------------------------------------------------------
def test_training_merges_the_most_frequent_pair_and_breaks_ties_by_string_order():
    # ("a", "b") and ("c", "d") occur 2 times, ("Ġ", "c") 2 times: string order decides.
    tokenizer = train_bpe(["ab cd"] * 2, 256 + 3 + 1)
    assert tokenizer.merges == [("a", "b"), ("c", "d"), ("Ġ", "cd")]
    counted = train_bpe(Counter({"ab cd": 2}), 260)
    assert counted.merges == tokenizer.merges
    # "xy" occurs 3 times, more than anything else: it is merged first.
    assert train_bpe(["ab", "ab", "xy", "xy", "xy"], 258).merges == [("x", "y")]


def test_training_stops_when_no_pair_repeats():
    assert train_bpe(["abc"], 2000).merges == []
    assert train_bpe(["abc", "abc"], 2000).merges == [("a", "b"), ("ab", "c")]


def test_the_shipped_tokenizer_is_what_training_writes():
    trained = train_tokenizer(TokenTrainingConfig())
    assert trained.to_json_string() == TOKENIZER_PATH.read_text(encoding="utf-8")


# --- errors --------------------------------------------------------------------------------------
def test_bad_input_is_explained(tokenizer, tmp_path):
    with pytest.raises(TypeError, match="must be a str"):
        tokenizer.encode(["a list"])
    with pytest.raises(ValueError, match="out of range"):
        tokenizer.decode([tokenizer.vocab_size])
    with pytest.raises(TypeError, match="integers"):
        tokenizer.decode([1.5])
    assert tokenizer.decode([100.0]) == tokenizer.decode([100])  # as the models accept them
    assert tokenizer.convert_ids_to_tokens(np.array(300)) == tokenizer.convert_ids_to_tokens(300)
    with pytest.raises(TypeError, match="token string or a list"):
        tokenizer.convert_tokens_to_ids(5)
    with pytest.raises(ValueError, match="one sequence"):
        tokenizer.decode([[1, 2]])
    with pytest.raises(ValueError, match="Ġ"):
        tokenizer.convert_tokens_to_ids(" cat")
    with pytest.raises(ValueError, match=">= 257"):
        train_bpe(["a"], 100)
    with pytest.raises(TypeError, match="not one str"):
        train_bpe("the cat sat", 300)
    with pytest.raises(TypeError, match="only str"):
        train_bpe([b"bytes"], 300)
    with pytest.raises(ValueError, match="lone surrogate"):
        tokenizer.encode("a\ud800b")
    with pytest.raises(FileNotFoundError, match="train-tokens"):
        BPETokenizer.from_file(tmp_path / "missing.json")
    data = json.loads(TOKENIZER_PATH.read_text(encoding="utf-8"))
    data["model"]["vocab"]["Ġcat"] = 5
    damaged = tmp_path / "damaged.json"
    damaged.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match="not the byte symbols"):
        BPETokenizer.from_file(damaged)
    with pytest.raises(ValueError, match="order they were learned"):
        BPETokenizer([("ab", "c")])
    for broken in ([], {"model": {"type": "BPE", "merges": ["abc"], "vocab": {}}}):
        damaged.write_text(json.dumps(broken), encoding="utf-8")
        with pytest.raises(ValueError, match=r"tokenizer file|pair of two"):
            BPETokenizer.from_file(damaged)
    damaged.write_bytes(b"\xff{not json")
    with pytest.raises(ValueError, match="not a tokenizer JSON file"):
        BPETokenizer.from_file(damaged)
    data["model"]["merges"] = ["a b c"]
    data["added_tokens"] = [{"content": EOS_TOKEN, "special": True}]
    damaged.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match="pair of two"):
        BPETokenizer.from_file(damaged)


def test_docstring_examples_run():
    assert doctest.testmod(utils.tokenizer, raise_on_error=False).failed == 0
