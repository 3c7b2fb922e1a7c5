"""The course's shared code: every notebook imports it.

`utils` holds the reference implementations (probability, sampling, sequence
scores), the tiny language model (`utils.lm`), plots, widgets and `check(...)`,
which gives instant feedback on an exercise. The grader is `python -m utils.grading`.
"""

from utils.checks import check, hint
from utils.probability import entropy, log_softmax, logsumexp, naive_softmax, softmax
from utils.sampling import greedy_next_token, sample_next_token, top_k_filter, top_p_filter
from utils.sequences import (
    beam_search,
    greedy_decode,
    length_normalized,
    sample_decode,
    sequence_log_prob,
    token_log_probs,
)

# Plots and widgets load matplotlib and ipywidgets (about a second): they are
# imported on first use, so `import utils` stays fast for the grader and scripts.
_LAZY = {
    "plots": ("utils.plots", None),
    "widgets": ("utils.widgets", None),
    "quiz": ("utils.widgets", "quiz"),
    "numeric_quiz": ("utils.widgets", "numeric_quiz"),
    "plot_distribution": ("utils.plots", "plot_distribution"),
}

__all__ = [
    "beam_search",
    "check",
    "entropy",
    "greedy_decode",
    "greedy_next_token",
    "hint",
    "length_normalized",
    "log_softmax",
    "logsumexp",
    "naive_softmax",
    "numeric_quiz",
    "plot_distribution",
    "plots",
    "quiz",
    "sample_decode",
    "sample_next_token",
    "sequence_log_prob",
    "softmax",
    "token_log_probs",
    "top_k_filter",
    "top_p_filter",
    "widgets",
]


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'utils' has no attribute {name!r}")
    import importlib

    module_name, attribute = _LAZY[name]
    module = importlib.import_module(module_name)
    return module if attribute is None else getattr(module, attribute)
