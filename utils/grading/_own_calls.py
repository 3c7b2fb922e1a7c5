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
ALWAYS = ("utils.checks", "utils.grading", "utils.exercises")
# What lessons hand out from utils.exercises as tools for an exercise (never its answer).
TOOLS = (
    "utils.exercises.lesson06.GREEDY_TRAP_CONTEXTS",
    "utils.exercises.lesson06.TableModel",
    "utils.exercises.lesson06.best_continuation_ids",
    "utils.exercises.lesson09.encode",
    "utils.exercises.lesson09.next_token_log_probs",
)

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
    "03.predict_peaked": (),  # a letter: the reasoning is not in code
    "03.temperature_for_confidence": (),  # a number; softmax(temperature=) may test a guess
    "03.predict_tie_limit": (),
    "03.entropy": _ENTROPY,
    "04.next_token_distribution": (),  # softmax over the candidates' logits is the tool
    "04.most_likely_next_word": (),
    "04.kl_learned_vs_true": (
        "scipy.stats.entropy",
        "scipy.special.rel_entr",
        "scipy.special.kl_div",
    ),
    "04.expected_calibration_error": (),  # no course function computes it
    "04.predict_restoring_temperature": (),  # a number to predict
    "05.inverse_cdf_sample": _SAMPLING,
    "05.top_k_filter": _SAMPLING,
    "05.top_p_filter": _SAMPLING,
    # The range's ends are running totals of sorted probabilities: top_p_filter can
    # only test a p, never give an end exactly, so softmax is the tool and nothing is barred.
    "05.top_p_range": (),
    "06.sequence_log_prob": _SEQUENCES,  # log_softmax allowed: scoring builds on it
    "06.length_normalized": _SEQUENCES,
    "06.best_sequence": (*_SEQUENCES, "utils.sequences.exhaustive_search"),
    # Greedy against the best continuation: both searches are the tools the text hands out.
    "06.greedy_traps": (),
    "06.beam_trap": (),  # tables to build; the course's searches may verify them
    "06.run_on_diagnosis": (),  # a letter
    "06.sequence_entropy": _ENTROPY,
    "07.cross_entropy": (*_TRAINING, "sklearn.metrics.log_loss"),  # logsumexp allowed
    "07.cross_entropy_gradient": _TRAINING,  # softmax allowed: p - y needs p
    "07.sgd_step": _TRAINING,
    "07.predict_step_signs": (),  # signs to predict
    "08.next_token_probs": _SOFTMAX_FAMILY,  # the fix is the softmax's axis
    "08.candidate_probs": (),  # the fix is which distribution; softmax is the tool
    "08.sequence_scores": _SEQUENCES,
    "08.most_confident_context": (),
    "08.log_probs_fp16": (),  # the fix is the float32 upcast; log_softmax is the tool
    "08.rank_completions": _SEQUENCES,
    "08.score_completions": _SEQUENCES,
    "08.audit_completion": (),  # softmax, ranks and entropy are its building blocks
    "08.audit_verdict": (),  # a letter
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
        self.shadow: set[str] = set()
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

    def learn_assignments(self, tree) -> None:
        """`u = utils`, `(u := utils)`, `for u in [utils]`, `with m as u`: new aliases of a
        course (or library) module or function; any other binding of a name shadows it."""
        for node in ast.walk(tree):
            pairs = []
            if isinstance(node, ast.Assign):
                pairs = [(target, node.value) for target in node.targets]
            elif isinstance(node, ast.AnnAssign | ast.NamedExpr) and node.value is not None:
                pairs = [(node.target, node.value)]
            elif isinstance(node, ast.For | ast.comprehension):
                items = node.iter.elts if isinstance(node.iter, ast.List | ast.Tuple) else []
                pairs = [(node.target, item) for item in items[:1]]
            elif isinstance(node, ast.withitem) and node.optional_vars is not None:
                pairs = [(node.optional_vars, node.context_expr)]
            for target, value in pairs:
                if not isinstance(target, ast.Name):
                    continue
                resolved = self.qualified(value)
                if resolved is None and isinstance(value, ast.Attribute):
                    root = self._root_module(value)  # get("01.softmax").reference
                    resolved = f"{root}.(...).{value.attr}" if root else None
                if resolved is not None:
                    self.aliases[target.id] = resolved
                    self.shadow.discard(target.id)
                elif target.id not in self.aliases:
                    self.shadow.add(target.id)

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
            if node.id in self.defined or node.id in self.local or node.id in self.shadow:
                return None
            return self.aliases.get(node.id)
        if isinstance(node, ast.Attribute):
            base = self.qualified(node.value)
            return None if base is None else f"{base}.{node.attr}"
        if isinstance(node, ast.NamedExpr):  # (u := utils).softmax
            return self.qualified(node.value)
        return None

    def _root_module(self, node) -> str | None:
        while isinstance(node, ast.Attribute | ast.Call | ast.Subscript):
            node = node.func if isinstance(node, ast.Call) else node.value
        return self.aliases.get(node.id) if isinstance(node, ast.Name) else None

    def learn_locals(self, tree) -> None:
        for node in ast.walk(tree):
            if isinstance(node, ast.arg):
                self.local.add(node.arg)

    def look(self, tree) -> None:
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute | ast.Name):
                name = self.qualified(node)
                if (
                    name is not None
                    and _matches(name, self.forbidden)
                    and not _matches(name, TOOLS)
                ):
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
            elif isinstance(node, ast.Import | ast.ImportFrom):
                self._look_import(node)
            if isinstance(node, ast.Subscript | ast.Attribute):
                owner = node.value
                if isinstance(node, ast.Attribute) and node.attr != "__dict__":
                    continue
                module = self.qualified(owner)
                if module is not None and _is_prefix(module, self.forbidden):
                    self.add(f"{module}.__dict__[...]")

    def _look_import(self, node) -> None:
        """An import that binds a forbidden function (`from utils import softmax`)."""
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif node.module and not node.level:
            names = [f"{node.module}.{alias.name}" for alias in node.names if alias.name != "*"]
        else:
            names = []
        for name in names:
            if _matches(name, self.forbidden) and not _matches(name, TOOLS):
                self.add(name)

    def _look_call(self, node: ast.Call) -> None:
        function = node.func
        name = self.qualified(function)
        if name is None and isinstance(function, ast.Name):
            name = function.id
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
        elif name in ("operator.attrgetter", "operator.methodcaller") and first is not None:
            self.add(f"{name}(...)")
        elif name in ("__import__", "importlib.import_module", "builtins.__import__"):
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                if _is_prefix(first.value, self.forbidden) or _matches(first.value, self.forbidden):
                    self.add(f"{name}({first.value!r})")
            else:
                self.add(f"{name}(...)")
        elif name in ("eval", "exec", "builtins.eval", "builtins.exec", "compile"):
            self.add(f"{name.split('.')[-1]}(...)")
        elif name == "vars" and first is not None:
            owner = self.qualified(first)
            if owner is not None and _is_prefix(owner, self.forbidden):
                self.add(f"vars({owner})")
        elif name == "globals" and isinstance(function, ast.Name):
            self.add("globals()")


MAX_HELPERS = 64


def _binds(statement, name: str) -> bool:
    if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return statement.name == name
    if isinstance(statement, ast.Import | ast.ImportFrom):
        return any((alias.asname or alias.name.split(".")[0]) == name for alias in statement.names)
    if isinstance(statement, ast.Assign | ast.AnnAssign | ast.AugAssign):
        targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
        return any(
            isinstance(leaf, ast.Name) and leaf.id == name
            for target in targets
            for leaf in ast.walk(target)
        )
    return False


def answer_code(all_trees: list, answer_trees: list, name: str) -> list:
    """The statements that make the answer: those of its cell(s) binding its name, and the
    top-level definitions (in any cell) of the helpers and variables they use, followed
    from use to definition. A cell that binds the name only at run time (no statement
    does it) counts whole. Demo lines beside the answer (a print, a comparison with the
    course's function) are not part of it."""
    top = [statement for tree in all_trees if tree is not None for statement in tree.body]
    code = []
    for tree in answer_trees:
        if tree is None:
            continue
        binding = [statement for statement in tree.body if _binds(statement, name)]
        code += binding or list(tree.body)
    seen, queue = {name}, list(code)
    while queue and len(code) < MAX_HELPERS:
        statement = queue.pop()
        bound = {node.arg for node in ast.walk(statement) if isinstance(node, ast.arg)}
        bound |= {
            node.id
            for node in ast.walk(statement)
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)
        }
        for node in ast.walk(statement):
            # A helper the answer calls (a function of the notebook, in any cell).
            called = node.func if isinstance(node, ast.Call) else None
            if not isinstance(called, ast.Name) or called.id in seen or called.id in bound:
                continue
            seen.add(called.id)
            for other in top:
                if (
                    other not in code
                    and isinstance(
                        other,
                        ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Assign,
                    )
                    and _binds(other, called.id)
                ):
                    code.append(other)
                    queue.append(other)
    return code


def find_own_calls(all_trees: list, answer_trees: list, forbidden, name: str = "") -> list[str]:
    """The forbidden names the answer uses (at most MAX_CALLS, in the order found).

    `all_trees`: every cell's syntax tree (None for a cell that does not parse), for the
    imports and the helpers; `answer_trees`: the cells that define the answer `name`;
    only the answer's code (`answer_code`) is searched.
    """
    forbidden = tuple(str(entry) for entry in forbidden)
    finder = _Finder(forbidden)
    for tree in [*all_trees, *answer_trees]:
        if tree is not None:
            finder.learn_imports(tree)
    for _ in range(2):  # an alias of an alias
        for tree in [*all_trees, *answer_trees]:
            if tree is not None:
                finder.learn_assignments(tree)
    code = (
        answer_code(all_trees, answer_trees, name)
        if name
        else [s for tree in answer_trees if tree is not None for s in tree.body]
    )
    for statement in code:
        finder.learn_locals(statement)
    for statement in code:
        finder.look(statement)
    # `p.softmax.__call__` is found as itself and as `p.softmax`: name the shortest.
    found = finder.found
    return [
        name
        for name in found
        if not any(other != name and name.startswith(other + ".") for other in found)
    ]


# --- reaching into the grading process itself (any cell) ---------------------------

# What a notebook needs only to reach the grader's own code, frames or objects in its
# process (the child runs the notebook and then calls its answers): such a notebook is
# not graded (`invalid`). None of it is needed by any exercise of the course.
TAMPERING_NAMES = (
    "sys.modules",
    "sys._getframe",
    "sys._current_frames",
    "sys.settrace",
    "sys.setprofile",
    "sys.addaudithook",
    "inspect.currentframe",
    "inspect.stack",
    "inspect.trace",
    "inspect.getouterframes",
    "inspect.getinnerframes",
    "gc.get_objects",
    "gc.get_referrers",
    "gc.get_referents",
    "ctypes",
    "_ctypes",
    "cffi",
    "builtins",
    "__main__",
    "utils.grading",
    "utils.checks",
    "threading.settrace",
)
TAMPERING_ALLOWED = ("utils.checks.check", "utils.checks.hint")
TAMPERING_ATTRIBUTES = frozenset(
    {"f_back", "f_globals", "f_locals", "f_builtins", "tb_frame", "gi_frame", "cr_frame"}
    | {"ag_frame", "__globals__", "_getframe", "_current_frames", "get_referrers"}
    | {"get_referents", "__builtins__", "__subclasses__", "__mro__", "__bases__"}
    | {"__traceback__"}
)
# Code built at run time can do all of the above unseen: only constant source is read.
_RUNTIME_CODE = ("exec", "eval", "compile", "__import__", "builtins.exec", "builtins.eval")
MAX_SOURCE_DEPTH = 3
_INTROSPECTED = ("sys", "gc", "inspect", "builtins", "ctypes", "__main__", "utils", "types")


def _constant_sources(trees: list, depth: int = 0) -> list:
    """The syntax trees of the constant strings given to exec/eval/compile, read too."""
    if depth >= MAX_SOURCE_DEPTH:
        return []
    found = []
    for tree in trees:
        if tree is None:
            continue
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("exec", "eval", "compile")
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                try:
                    found.append(ast.parse(node.args[0].value))
                except (SyntaxError, ValueError, RecursionError, MemoryError):
                    continue
    return found + _constant_sources(found, depth + 1) if found else []


def find_tampering(all_trees: list) -> list[str]:
    """What in the notebook reaches into the grading process (at most MAX_CALLS); code
    given to exec/eval as a constant string is read too, code built at run time counts
    as reaching in (nothing shows what it does)."""
    all_trees = [*all_trees, *_constant_sources(all_trees)]
    finder = _Finder(TAMPERING_NAMES)
    for tree in all_trees:
        if tree is not None:
            finder.learn_imports(tree)
    for _ in range(2):
        for tree in all_trees:
            if tree is not None:
                finder.learn_assignments(tree)
    found: list[str] = []

    def add(text: str) -> None:
        text = text if len(text) <= MAX_CALL_CHARS else text[: MAX_CALL_CHARS - 3] + "..."
        if text not in found and len(found) < MAX_CALLS:
            found.append(text)

    for tree in all_trees:
        if tree is None:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                modules = (
                    [alias.name for alias in node.names]
                    if isinstance(node, ast.Import)
                    else [
                        f"{node.module}.{alias.name}"
                        for alias in node.names
                        if node.module and not node.level
                    ]
                )
                for module in modules:
                    if _matches(module, TAMPERING_NAMES) and not _matches(
                        module, TAMPERING_ALLOWED
                    ):
                        add(f"import({module})")
            elif isinstance(node, ast.Attribute):
                name = finder.qualified(node)
                if name is not None and _matches(name, TAMPERING_NAMES):
                    if not _matches(name, TAMPERING_ALLOWED):
                        add(name)
                elif node.attr in TAMPERING_ATTRIBUTES:
                    add(f".{node.attr}")
            elif isinstance(node, ast.Call):
                function = node.func
                called = function.id if isinstance(function, ast.Name) else None
                first = node.args[0] if node.args else None
                runtime = finder.qualified(function) or called
                if runtime in _RUNTIME_CODE and not (
                    isinstance(first, ast.Constant) and isinstance(first.value, str)
                ):
                    add(f"{runtime.split('.')[-1]}(...)")
                if called in ("getattr", "setattr", "delattr", "vars") and first is not None:
                    owner = finder.qualified(first)
                    attribute = node.args[1] if len(node.args) > 1 else None
                    if isinstance(attribute, ast.Constant) and isinstance(attribute.value, str):
                        if attribute.value in TAMPERING_ATTRIBUTES or (
                            owner is not None
                            and _matches(f"{owner}.{attribute.value}", TAMPERING_NAMES)
                        ):
                            add(f"{called}({owner or '...'}, {attribute.value!r})")
                    elif owner is not None and owner.split(".")[0] in _INTROSPECTED:
                        add(f"{called}({owner}, ...)")
    return found
