"""The course's tiny language model: a corpus with known probabilities, and a model of it.

* `utils.lm.corpus`: the stochastic process (a probabilistic grammar) that
  writes the corpus, with exact next-token probabilities;
* `utils.lm.model`: the trained model (`load()`), its vocabulary, `encode`,
  `decode`, `next_token_logits` and `true_next_token_probs`;
* `utils.lm.train`: NumPy-only training, reproducible to the last bit;
  `python -m utils.lm train` rewrites the shipped weights.

>>> from utils import lm
>>> model = lm.load()
>>> model.decode(model.encode("the cat sat on the mat"))
'the cat sat on the mat'
"""

from utils.lm import corpus
from utils.lm.model import WEIGHTS_PATH, TinyLanguageModel, load

__all__ = ["WEIGHTS_PATH", "TinyLanguageModel", "corpus", "load"]
