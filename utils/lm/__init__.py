"""The course's language models: corpora with known probabilities, and models of them.

Lessons 04-08 use the tiny 78-word model:

* `utils.lm.corpus`: the stochastic process (a probabilistic grammar) that
  writes the corpus, with exact next-token probabilities;
* `utils.lm.model`: the trained model (`load()`), its vocabulary, `encode`,
  `decode`, `next_token_logits` and `true_next_token_probs`;
* `utils.lm.train`: NumPy-only training, reproducible to the last bit;
  `python -m utils.lm train` rewrites the shipped weights.

Lesson 09 uses subword tokens:

* `utils.tokenizer` (a sibling package): the course's byte-level BPE;
* `utils.lm.grammar`: a grammar with a long-tailed lexicon of about 1,000 words;
* `utils.lm.token_truth`: its exact next-token probabilities over tokens;
* `utils.lm.token_model`: a tiny GPT over tokens (`load_token_model()`);
* `utils.lm.token_train`: its training, reproducible to the last bit;
  `python -m utils.lm train-tokens` rewrites the tokenizer and the weights.

>>> from utils import lm
>>> model = lm.load()
>>> model.decode(model.encode("the cat sat on the mat"))
'the cat sat on the mat'
>>> token_model = lm.load_token_model()
>>> token_model.decode(token_model.encode("The cat sat on the mat."))
'The cat sat on the mat.'
"""

from utils.lm import corpus
from utils.lm.model import WEIGHTS_PATH, TinyLanguageModel, load
from utils.lm.token_model import TOKEN_WEIGHTS_PATH, TokenLanguageModel, load_token_model

__all__ = [
    "TOKEN_WEIGHTS_PATH",
    "WEIGHTS_PATH",
    "TinyLanguageModel",
    "TokenLanguageModel",
    "corpus",
    "load",
    "load_token_model",
]
