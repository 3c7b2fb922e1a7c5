"""`python -m utils.lm train`: retrain the tiny model and write its weights file.

With the default settings this reproduces the shipped `utils/data/tiny_lm.npz`
byte for byte, on any machine (see `utils.lm.train` for how). `--check`
trains and compares with an existing file instead of writing.
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
    return parser


def main(argv=None) -> int:
    arguments = _parser().parse_args(argv)
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


if __name__ == "__main__":
    sys.exit(main())
