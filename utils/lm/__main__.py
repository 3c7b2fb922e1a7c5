"""`python -m utils.lm train` / `train-tokens`: retrain a course model and write its files.

* `train`: the tiny 78-word model of lessons 04-08 (`utils/data/tiny_lm.npz`);
* `train-tokens`: lesson 09's tokenizer and token model
  (`utils/data/tokenizer.json`, `utils/data/token_lm.npz`), with a report of
  the model against the exact truth on held-out text.

With the default settings each reproduces the shipped files byte for byte,
on any machine (see `utils.lm.train` and `utils.lm.token_train` for how).
`--check` trains and compares with the existing files instead of writing.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

import numpy as np

from utils.lm import corpus
from utils.lm.model import WEIGHTS_PATH
from utils.lm.train import (
    TrainingConfig,
    cross_entropy,
    train,
    training_contexts,
    true_probs_for_contexts,
    weights_file_bytes,
)


def _parser() -> argparse.ArgumentParser:
    defaults = TrainingConfig()
    parser = argparse.ArgumentParser(prog="python -m utils.lm", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser("train", help="train the tiny model and write its weights")
    command.add_argument("--out", type=Path, default=WEIGHTS_PATH, help="weights file to write")
    command.add_argument("--check", action="store_true", help="compare with --out, do not write")
    command.add_argument("--seed", type=int, default=defaults.seed)
    command.add_argument("--sentences", type=int, default=defaults.sentences)
    command.add_argument("--steps", type=int, default=defaults.steps)
    command.add_argument("--learning-rate", type=float, default=defaults.learning_rate)
    command.add_argument("--quiet", action="store_true", help="print only the result")
    _token_parser(commands)
    return parser


def _token_parser(commands) -> None:
    from utils.lm.token_train import TokenTrainingConfig

    defaults = TokenTrainingConfig()
    command = commands.add_parser(
        "train-tokens", help="train lesson 09's tokenizer and token model and write them"
    )
    command.add_argument(
        "--out", type=Path, default=WEIGHTS_PATH.parent, help="folder for the two files"
    )
    command.add_argument("--check", action="store_true", help="compare with --out, do not write")
    names = ("seed", "tokenizer_sentences", "vocab_size", "sentences", "steps", "batch_size",
             "layers", "embedding_size")  # fmt: skip
    for name in names:
        command.add_argument(
            f"--{name.replace('_', '-')}", type=int, default=getattr(defaults, name)
        )
    command.add_argument("--learning-rate", type=float, default=defaults.learning_rate)
    command.add_argument(
        "--held-out", type=int, default=1000, help="sentences in the report (0: no report)"
    )
    command.add_argument("--quiet", action="store_true", help="print only the result")


def main(argv=None) -> int:
    arguments = _parser().parse_args(argv)
    if arguments.command == "train-tokens":
        return _train_tokens(arguments)
    config = TrainingConfig(
        seed=arguments.seed,
        sentences=arguments.sentences,
        steps=arguments.steps,
        learning_rate=arguments.learning_rate,
    )
    begin = time.perf_counter()

    def progress(step, probs, counts):
        if not arguments.quiet:
            print(f"step {step:5d}  corpus cross-entropy {cross_entropy(probs, counts):.5f} nats")

    parameters, metadata = train(config, progress=progress)
    data = weights_file_bytes(parameters, metadata)
    seconds = time.perf_counter() - begin
    if not arguments.quiet:
        _report(parameters, config)
    digest = hashlib.sha256(data).hexdigest()
    if arguments.check:
        existing = arguments.out.read_bytes() if arguments.out.is_file() else b""
        same = existing == data
        print(f"{'identical to' if same else 'DIFFERENT from'} {arguments.out} (sha256 {digest})")
        return 0 if same else 1
    arguments.out.parent.mkdir(parents=True, exist_ok=True)
    temporary = arguments.out.with_suffix(".tmp")
    temporary.write_bytes(data)
    temporary.replace(arguments.out)
    print(f"wrote {arguments.out} ({len(data)} bytes, sha256 {digest}) in {seconds:.1f} s")
    return 0


def _report(parameters: dict, config: TrainingConfig) -> None:
    """How close the model came to the corpus and to the true process."""
    from utils.lm.model import TinyLanguageModel

    model = TinyLanguageModel(parameters)
    sentences = corpus.sample_sentences(config.sentences, np.random.default_rng([config.seed, 0]))
    contexts, counts = training_contexts(sentences, config.context_length)
    learned = model.next_token_probs(contexts)
    truth = true_probs_for_contexts(sentences, contexts)
    weights = counts.sum(axis=1) / counts.sum()
    with np.errstate(divide="ignore"):
        terms = np.where(truth > 0, truth * np.log(np.where(truth > 0, truth, 1.0) / learned), 0.0)
    print(
        f"corpus cross-entropy: model {cross_entropy(learned, counts):.5f}, true process "
        f"{cross_entropy(truth, counts):.5f}, best possible on this corpus "
        f"{cross_entropy(counts / counts.sum(axis=1, keepdims=True), counts):.5f} nats"
    )
    print(
        f"KL(true || model) averaged over corpus positions: {weights @ terms.sum(axis=1):.5f} nats"
    )


def _train_tokens(arguments) -> int:
    from utils.lm import token_train
    from utils.lm.token_model import TokenLanguageModel
    from utils.lm.token_truth import TokenTruth

    config = token_train.TokenTrainingConfig(
        seed=arguments.seed,
        tokenizer_sentences=arguments.tokenizer_sentences,
        vocab_size=arguments.vocab_size,
        sentences=arguments.sentences,
        steps=arguments.steps,
        batch_size=arguments.batch_size,
        layers=arguments.layers,
        embedding_size=arguments.embedding_size,
        learning_rate=arguments.learning_rate,
    )
    begin = time.perf_counter()

    def progress(step, loss):
        if not arguments.quiet:
            elapsed = time.perf_counter() - begin
            print(
                f"step {step:5d}  training cross-entropy {loss:.4f} nats/token  ({elapsed:.0f} s)"
            )

    tokenizer, parameters, metadata = token_train.train_token_model(config, progress=progress)
    seconds = time.perf_counter() - begin
    files = {
        "tokenizer.json": tokenizer.to_json_string().encode("utf-8"),
        "token_lm.npz": token_train.weights_file_bytes(parameters, metadata),
    }
    if not arguments.quiet:
        print(
            f"trained in {seconds:.0f} s: {metadata['parameters']:,} parameters, vocabulary "
            f"{tokenizer.vocab_size} tokens, context {config.context_length} tokens"
        )
    if arguments.held_out and not arguments.quiet:
        model = TokenLanguageModel(
            {name: value.astype(np.float64) for name, value in parameters.items()},
            tokenizer,
            metadata,
        )
        held_out = token_train.token_corpus(
            TokenTruth(tokenizer), arguments.held_out, np.random.default_rng([config.seed, 9])
        )
        _report_tokens(token_train.evaluate(model, held_out))
    return _write_or_check(files, arguments.out, arguments.check)


def _report_tokens(figures: dict) -> None:
    print(
        f"held-out text ({figures['tokens']:,} tokens), nats per token:\n"
        f"  cross-entropy of the model    {figures['model_cross_entropy']:.4f}\n"
        f"  cross-entropy of the truth    {figures['truth_cross_entropy']:.4f}"
        f"  (its mean entropy {figures['truth_entropy']:.4f})\n"
        f"  KL(truth || model)            {figures['kl_truth_model']:.4f}\n"
        f"top-p 0.9 nucleus sizes: truth {figures['truth_nucleus_range'][0]}-"
        f"{figures['truth_nucleus_range'][1]} tokens (median {figures['truth_nucleus_median']:g}), "
        f"model {figures['model_nucleus_range'][0]}-{figures['model_nucleus_range'][1]}"
    )


def _write_or_check(files: dict, folder: Path, check: bool) -> int:
    if check:
        same = True
        for name, data in files.items():
            path = folder / name
            existing = path.read_bytes() if path.is_file() else b""
            digest = hashlib.sha256(data).hexdigest()
            verdict = "identical to" if existing == data else "DIFFERENT from"
            same &= existing == data
            print(f"{verdict} {path} (sha256 {digest})")
        return 0 if same else 1
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        temporary = folder / (name + ".tmp")
        temporary.write_bytes(data)
        temporary.replace(folder / name)
        digest = hashlib.sha256(data).hexdigest()
        print(f"wrote {folder / name} ({len(data):,} bytes, sha256 {digest})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
