"""Answers that call the course's own implementation of their exercise.

`OWN_IMPLEMENTATIONS` says, for every exercise of lessons 00-09, which functions
(or whole modules, by prefix) do that exercise's work: the course's `utils`
function, the spec's reference (`utils.exercises`, for every exercise), and
SciPy/PyTorch's version where the exercise is to write that very function.
Everything else is allowed: the learner's own earlier functions, NumPy, and
course functions that are building blocks of a later exercise (sequence
scoring may call `utils.log_softmax`; next-token distributions may call
`utils.softmax`). `find_own_calls` reads the answer's cells' syntax trees
(before any cell runs, in the sandboxed child) and names every such call,
through aliases (`from utils import softmax as s`, `import utils.probability as
p`), plus lookups it cannot follow on those modules (`getattr(utils, name)`,
`__import__`, `importlib.import_module`, `sys.modules`, `eval`/`exec` in the
answer's cell). A deterrent, not a proof: code built at run time from pieces the
tree does not show (a function passed in from another cell through a data
structure, a module object fetched from `numpy`'s internals) is not seen.
"""

from __future__ import annotations

import ast

__all__ = ["ALWAYS", "OWN_IMPLEMENTATIONS", "find_own_calls", "own_implementations"]

MAX_CALLS = 8
MAX_CALL_CHARS = 150
# The course's checking machinery: never an answer's business (nor the spec's reference,
# added per exercise by `own_implementations`).
ALWAYS = ("utils.checks", "utils.grading", "utils.exercises._spec")

_PROBABILITY = (
    "utils.probability",
    "utils.softmax",
    "utils.log_softmax",
    "utils.logsumexp",
    "utils.naive_softmax",
    "utils.entropy",
)
_SCIPY_SOFTMAX = ("scipy.special.softmax", "scipy.special.log_softmax", "scipy.special.logsumexp")
_TORCH_SOFTMAX = (
    "torch.softmax",
    "torch.log_softmax",
    "torch.logsumexp",
    "torch.special.softmax",
    "torch.special.log_softmax",
    "torch.special.logsumexp",
    "torch.nn.functional.softmax",
    "torch.nn.functional.log_softmax",
    "torch.nn.Softmax",
    "torch.nn.LogSoftmax",
    "jax.nn.softmax",
    "jax.nn.log_softmax",
    "jax.scipy.special.logsumexp",
    "tensorflow.nn.softmax",
    "tensorflow.math.reduce_logsumexp",
)
_SOFTMAX_FAMILY = _PROBABILITY + _SCIPY_SOFTMAX + _TORCH_SOFTMAX
_SAMPLING = (
    "utils.sampling",
    "utils.top_k_filter",
    "utils.top_p_filter",
    "utils.sample_next_token",
    "utils.greedy_next_token",
    "utils.sample_decode",
)
_SEQUENCES = (
    "utils.sequences",
    "utils.sequence_log_prob",
    "utils.token_log_probs",
    "utils.length_normalized",
    "utils.beam_search",
    "utils.greedy_decode",
    "utils.sample_decode",
)
_TRAINING = ("utils.lm.train", "utils.lm.token_train", "torch.nn.functional.cross_entropy")
_ENTROPY = (
    "utils.entropy",
    "utils.probability.entropy",
    "scipy.stats.entropy",
    "scipy.special.entr",
)

# Reviewed exercise by exercise (lessons 00-09). An empty tuple: only ALWAYS applies
# (the exercise is not the job of any course function, or it builds on one on purpose).
OWN_IMPLEMENTATIONS: dict[str, tuple[str, ...]] = {
    "00.mean_score": (),  # np.mean is the point
    "00.scores_above": (),
    "01.softmax": _SOFTMAX_FAMILY,
    "01.candidate_probability": (),  # renormalizing over a subset: softmax is the tool
    "01.ordered_selection_probability": (),  # Plackett-Luce builds on softmax
    "02.stable_softmax": _SOFTMAX_FAMILY,
    "02.logsumexp": _SOFTMAX_FAMILY,
    "02.log_softmax": _SOFTMAX_FAMILY,
    "03.predict_shift": (),  # a number to predict; how it is computed is not graded
    # softmax(logits / T) is the answer; the course's own temperature= does the exercise.
    "03.apply_temperature": (
        "utils.softmax(temperature=)",
        "utils.probability.softmax(temperature=)",
        "utils.log_softmax(temperature=)",
        "utils.probability.log_softmax(temperature=)",
    ),
    "03.predict_tie_limit": (),
    "03.entropy": _ENTROPY,
    "04.next_token_distribution": (),  # softmax over the candidates' logits is the tool
    "04.most_likely_next_word": (),
    "04.kl_learned_vs_true": (
        "scipy.stats.entropy",
        "scipy.special.rel_entr",
        "scipy.special.kl_div",
    ),
    "05.inverse_cdf_sample": _SAMPLING,
    "05.top_k_filter": _SAMPLING,
    "05.top_p_filter": _SAMPLING,
    "06.sequence_log_prob": _SEQUENCES,  # log_softmax allowed: scoring builds on it
    "06.length_normalized": _SEQUENCES,
    "06.best_sequence": (*_SEQUENCES, "utils.sequences.exhaustive_search"),
    "07.cross_entropy": (*_TRAINING, "sklearn.metrics.log_loss"),  # logsumexp allowed
    "07.cross_entropy_gradient": _TRAINING,  # softmax allowed: p - y needs p
    "07.sgd_step": _TRAINING,
    "08.next_token_probs": _SOFTMAX_FAMILY,  # the fix is the softmax's axis
    "08.candidate_probs": (),  # the fix is which distribution; softmax is the tool
    "08.sequence_scores": _SEQUENCES,
    "08.most_confident_context": (),
    "08.log_probs_fp16": (),  # the fix is the float32 upcast; log_softmax is the tool
    "08.rank_completions": _SEQUENCES,
    "08.score_completions": _SEQUENCES,
    "09.word_log_prob": ("utils.lm.token_truth", "utils.lm.token_model"),
    "09.diagnose_scorer": (),
    "09.candidate_scores": ("utils.lm.token_truth", "utils.lm.token_model"),
    "09.normalized_score": (*_SEQUENCES, "utils.lm.token_truth"),
}


def own_implementations(spec) -> tuple[str, ...]:
    """Every name whose use means the answer let the course (or a library) do the
    exercise `spec`: the table's entry, the spec's reference function, and ALWAYS. An
    entry "f(kw=)" counts only a call of f with that keyword. An exercise missing from
    the table gets the reference and ALWAYS (a test checks that every one is in it)."""
    reference = spec.reference
    module, name = getattr(reference, "__module__", ""), getattr(reference, "__qualname__", "")
    own = (f"{module}.{name}",) if module and name and "<" not in name else ()
    return (*OWN_IMPLEMENTATIONS.get(spec.id, ()), *own, *ALWAYS)


def _matches(name: str, forbidden: tuple[str, ...]) -> bool:
    return any(name == entry or name.startswith(entry + ".") for entry in forbidden)


def _is_prefix(name: str, forbidden: tuple[str, ...]) -> bool:
    """A module that holds a forbidden name ("utils" holds "utils.softmax")."""
    return any(entry == name or entry.startswith(name + ".") for entry in forbidden)


class _Finder:
    def __init__(self, forbidden: tuple[str, ...]):
        self.keyword_calls = [
            tuple(entry[: -len("=)")].split("(")) for entry in forbidden if entry.endswith("=)")
        ]
        forbidden = tuple(entry for entry in forbidden if not entry.endswith("=)"))
        self.forbidden = forbidden
        self.local: set[str] = set()
        self.aliases: dict[str, str] = {}
        self.star: list[str] = []
        self.found: list[str] = []
        self.defined: set[str] = set()
        self.leaves = {entry.rsplit(".", 1)[-1] for entry in forbidden}

    def add(self, text: str) -> None:
        if len(text) > MAX_CALL_CHARS:  # a name chained on and on: its start says enough
            text = text[: MAX_CALL_CHARS - 3] + "..."
        if text not in self.found and len(self.found) < MAX_CALLS:
            self.found.append(text)

    def learn_imports(self, tree) -> None:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        self.aliases[alias.asname] = alias.name
                    else:
                        root = alias.name.split(".")[0]
                        self.aliases[root] = root
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    if alias.name == "*":
                        self.star.append(node.module)
                    else:
                        self.aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                self.defined.add(node.name)

    def qualified(self, node) -> str | None:
        """'utils.probability.softmax' for `p.softmax` after `import utils.probability as p`."""
        if isinstance(node, ast.Name):
            # A name the notebook defines itself (a function, a parameter, a variable of
            # the answer's cell) is the learner's, whatever was imported under it.
            if node.id in self.defined or node.id in self.local:
                return None
            return self.aliases.get(node.id)
        if isinstance(node, ast.Attribute):
            base = self.qualified(node.value)
            return None if base is None else f"{base}.{node.attr}"
        return None

    def _root_module(self, node) -> str | None:
        while isinstance(node, ast.Attribute | ast.Call | ast.Subscript):
            node = node.func if isinstance(node, ast.Call) else node.value
        return self.aliases.get(node.id) if isinstance(node, ast.Name) else None

    def learn_locals(self, tree) -> None:
        for node in ast.walk(tree):
            if isinstance(node, ast.arg):
                self.local.add(node.arg)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                self.local.add(node.id)

    def look(self, tree) -> None:
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute | ast.Name):
                name = self.qualified(node)
                if name is not None and _matches(name, self.forbidden):
                    self.add(name)
                elif isinstance(node, ast.Attribute) and node.attr in self.leaves:
                    root = self._root_module(node.value)  # torch.tensor(x).softmax(-1)
                    if root is not None and _matches(
                        f"{root.split('.')[0]}.{node.attr}", self.forbidden
                    ):
                        self.add(f"{root.split('.')[0]}.(...).{node.attr}")
                if (
                    isinstance(node, ast.Name)
                    and node.id in self.leaves
                    and node.id not in self.aliases
                    and node.id not in self.defined
                ):
                    for module in self.star:
                        if _matches(f"{module}.{node.id}", self.forbidden):
                            self.add(f"{module}.{node.id}")
            elif isinstance(node, ast.Call):
                self._look_call(node)
            elif isinstance(node, ast.Subscript) and self.qualified(node.value) == "sys.modules":
                self.add("sys.modules[...]")

    def _look_call(self, node: ast.Call) -> None:
        function = node.func
        name = function.id if isinstance(function, ast.Name) else self.qualified(function)
        first = node.args[0] if node.args else None
        for base, keyword in self.keyword_calls:
            if name == base and any(item.arg == keyword for item in node.keywords):
                self.add(f"{base}({keyword}=...)")
        if name == "getattr" and first is not None:
            owner = self.qualified(first)
            if owner is not None and _is_prefix(owner, self.forbidden):
                attribute = node.args[1] if len(node.args) > 1 else None
                if isinstance(attribute, ast.Constant) and isinstance(attribute.value, str):
                    if _matches(f"{owner}.{attribute.value}", self.forbidden):
                        self.add(f"{owner}.{attribute.value}")
                else:
                    self.add(f"getattr({owner}, ...)")
        elif name in ("__import__", "importlib.import_module"):
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                if _is_prefix(first.value, self.forbidden) or _matches(first.value, self.forbidden):
                    self.add(f"{name}({first.value!r})")
            else:
                self.add(f"{name}(...)")
        elif name in ("eval", "exec", "vars") and isinstance(function, ast.Name):
            self.add(f"{name}(...)")


def find_own_calls(all_trees: list, answer_trees: list, forbidden) -> list[str]:
    """The forbidden names the answer's cells use (at most MAX_CALLS, in the order found).

    `all_trees`: every cell's syntax tree (None for a cell that does not parse), for the
    imports; `answer_trees`: the cells that define the answer, the only ones searched.
    """
    forbidden = tuple(str(entry) for entry in forbidden)
    finder = _Finder(forbidden)
    for tree in [*all_trees, *answer_trees]:
        if tree is not None:
            finder.learn_imports(tree)
    for tree in answer_trees:
        if tree is not None:
            finder.learn_locals(tree)
    for tree in answer_trees:
        if tree is not None:
            finder.look(tree)
    # `p.softmax.__call__` is found as itself and as `p.softmax`: name the shortest.
    found = finder.found
    return [
        name
        for name in found
        if not any(other != name and name.startswith(other + ".") for other in found)
    ]
