"""Self-check quizzes: multiple choice (one or several right answers) and numeric answers.

Quizzes are for the learner's own check at the end of a lesson; graded
answers stay in code cells with `check(...)`. Grading is done by the pure
functions `grade_choice` and `grade_number`; the widgets only collect the
answer and show the feedback after "Check".

Question and explanation texts are plain text in which `code` spans are
shown as code and $math$ is typeset; anything else that looks like HTML
(``<s>``, ``</s>``) is shown as written.

>>> q = quiz("Adding 5 to every score ...", ["changes nothing", "sharpens"],
...          correct="changes nothing",
...          explanations=["softmax is shift-invariant.", "Scaling sharpens; shifting does not."])
>>> q.options.value = "sharpens"
>>> q.check_button.click()
>>> q.state["status"]
'incorrect'
"""

from __future__ import annotations

import html
import math
import numbers
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

import ipywidgets as widgets

from utils.widgets._display import CourseWidget, html_record, rich_text

__all__ = [
    "NumericQuiz",
    "Quiz",
    "QuizFeedback",
    "grade_choice",
    "grade_number",
    "numeric_quiz",
    "quiz",
]

_MARKS = {True: "✔", False: "✘"}


@dataclass(frozen=True)
class QuizFeedback:
    """The verdict on one answer: `status` and a `message` for the learner.

    status: "unanswered", "invalid" (not a number), "correct", "partial"
    (some but not all right options, nothing wrong), "incorrect",
    "too_high" / "too_low" (numeric answers).
    """

    status: str
    message: str

    @property
    def correct(self) -> bool:
        return self.status == "correct"


# --- grading (pure) ------------------------------------------------------------------------------
def grade_choice(selected, correct, *, multiple: bool = False) -> QuizFeedback:
    """Grade a multiple-choice answer: `selected` and `correct` are sets of option indices.

    >>> grade_choice({0, 2}, {0, 2}, multiple=True).status
    'correct'
    >>> grade_choice({0}, {0, 2}, multiple=True).message
    'Almost: 1 of the 2 right answers chosen, none wrong. Look again.'
    """
    selected, correct = set(selected), set(correct)
    if not selected:
        return QuizFeedback(
            "unanswered", "Choose an answer first." if not multiple else "Tick your answers first."
        )
    if selected == correct:
        return QuizFeedback("correct", "Correct!")
    right, wrong = len(selected & correct), len(selected - correct)
    if not multiple:
        return QuizFeedback("incorrect", "Not quite. Read the explanations below, then try again.")
    if wrong == 0:
        return QuizFeedback(
            "partial",
            f"Almost: {right} of the {len(correct)} right answers chosen, none wrong. Look again.",
        )
    return QuizFeedback(
        "incorrect",
        f"Not quite: {right} of the {len(correct)} right answers chosen, "
        f"{wrong} wrong one{'s' if wrong > 1 else ''}. Read the explanations below.",
    )


def parse_number(text: str) -> float | None:
    """A number typed by a learner: 0.25, -1e-3, 1/3 or 2/3; None if it is not one."""
    cleaned = text.strip().replace(" ", "").replace("−", "-")
    if not cleaned:
        return None
    try:
        if re.fullmatch(r"[-+]?\d+/\d+", cleaned):
            return float(Fraction(cleaned))
        return float(cleaned)
    except (ValueError, ZeroDivisionError):
        return None


def grade_number(text, answer: float, tolerance: float) -> QuizFeedback:
    """Grade a typed numeric answer: correct when |value - answer| <= tolerance.

    >>> grade_number("0.66", 2 / 3, 0.01).status, grade_number("0.5", 2 / 3, 0.01).status
    ('correct', 'too_low')
    >>> grade_number("two thirds", 2 / 3, 0.01).message
    "'two thirds' is not a number: type digits such as 0.25, 1e-3 or 2/3."
    """
    typed = str(text)
    if not typed.strip():
        return QuizFeedback("unanswered", "Type a number first.")
    value = parse_number(typed)
    if value is None or not math.isfinite(value):
        return QuizFeedback(
            "invalid", f"{typed.strip()!r} is not a number: type digits such as 0.25, 1e-3 or 2/3."
        )
    if abs(value - answer) <= tolerance:
        return QuizFeedback("correct", f"Correct! ({value:g} is within ±{tolerance:g}.)")
    direction = "high" if value > answer else "low"
    return QuizFeedback(f"too_{direction}", f"Not quite: {value:g} is too {direction}. Try again.")


# --- argument checks -----------------------------------------------------------------------------
def _check_text(value, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise TypeError(f"{name} must be a non-empty string, got {value!r}.")
    return value


def _option_index(answer, options: list[str]) -> int:
    if isinstance(answer, str):
        if answer not in options:
            raise ValueError(f"correct answer {answer!r} is not one of the options {options}.")
        return options.index(answer)
    if isinstance(answer, numbers.Integral) and not isinstance(answer, bool):
        if not 0 <= answer < len(options):
            raise ValueError(
                f"correct index {answer} is out of range for {len(options)} options "
                f"(use 0 to {len(options) - 1}, or the option's text)."
            )
        return int(answer)
    raise TypeError(f"correct must name an option (its text or index), got {answer!r}.")


def _check_quiz(question, options, correct, explanations, multiple):
    _check_text(question, "question")
    if isinstance(options, str) or not isinstance(options, Sequence) or len(options) < 2:
        raise ValueError(f"options must be a list of at least two answers, got {options!r}.")
    options = [_check_text(option, "each option") for option in options]
    if len(set(options)) != len(options):
        raise ValueError(f"options must be distinct, got {options}.")
    if multiple:
        if isinstance(correct, str | numbers.Integral):
            correct = [correct]
        right = {_option_index(answer, options) for answer in correct}
        if not right:
            raise ValueError("correct is empty; a multiple-answer quiz needs at least one.")
    else:
        if not isinstance(correct, str | numbers.Integral):
            raise TypeError(
                "correct must be one option (its text or index) for a single-answer quiz; "
                "pass multiple=True for several right answers."
            )
        right = {_option_index(correct, options)}
    if isinstance(explanations, Mapping):
        missing = [option for option in options if option not in explanations]
        extra = [key for key in explanations if key not in options]
        if missing or extra:
            raise ValueError(
                f"explanations must explain every option and only those; missing {missing}, "
                f"unknown {extra}."
            )
        texts = [explanations[option] for option in options]
    elif isinstance(explanations, Sequence) and not isinstance(explanations, str):
        if len(explanations) != len(options):
            raise ValueError(
                f"explanations has {len(explanations)} entries for {len(options)} options; "
                "give one explanation per option, in the same order."
            )
        texts = list(explanations)
    else:
        raise TypeError(
            "explanations must be a list (one per option) or a dict {option: explanation}."
        )
    texts = [_check_text(text, "each explanation") for text in texts]
    return options, right, texts


# --- widgets -------------------------------------------------------------------------------------
class Quiz(CourseWidget):
    """A multiple-choice self-check: RadioButtons (one answer) or Checkboxes (several)."""

    css_class = "quiz"

    def __init__(self, question, options, correct, explanations, *, multiple=False):
        self.question = question
        self.option_texts, self.correct, self.explanations = _check_quiz(
            question, options, correct, explanations, multiple
        )
        self.multiple = bool(multiple)
        if self.multiple:
            self.checkboxes = [
                widgets.Checkbox(
                    value=False, description=text, indent=False, layout=widgets.Layout(width="auto")
                )
                for text in self.option_texts
            ]
            self.options = None
            choices = widgets.VBox(self.checkboxes)
            hint = "Tick every right answer, then Check."
        else:
            self.checkboxes = []
            self.options = widgets.RadioButtons(
                options=self.option_texts, value=None, layout=widgets.Layout(width="auto")
            )
            choices = self.options
            hint = "Pick one answer (arrow keys move between them), then Check."
        self.check_button = widgets.Button(
            description="Check", button_style="primary", tooltip="Check your answer"
        )
        out = widgets.Output()
        heading = widgets.HTMLMath(f"<b>{rich_text(question)}</b><br><small>{hint}</small>")
        super().__init__(
            widgets.VBox([heading, choices, self.check_button, out]),
            out,
            f"{question!r}, {len(self.option_texts)} options",
        )
        self.state = {"selected": [], "status": "unanswered", "attempts": 0, "checked": False}
        self.check_button.on_click(self._on_change)

    def static_text(self) -> str:
        """The question and its options, for a reader without a kernel (no answer given away)."""
        options = "\n".join(
            f"  ({chr(ord('a') + index)}) {text}" for index, text in enumerate(self.option_texts)
        )
        how = "tick every right answer" if self.multiple else "pick one answer"
        return (
            f"{self!r}\n(an interactive quiz: run the notebook to answer it)\n"
            f"{self.question}\n{options}\n({how}, then Check)"
        )

    def selected_indices(self) -> set[int]:
        if self.multiple:
            return {index for index, box in enumerate(self.checkboxes) if box.value}
        if self.options.value is None:
            return set()
        return {self.option_texts.index(self.options.value)}

    def refresh(self) -> dict:
        """Grade the current answer and show the feedback (what "Check" does)."""
        selected = self.selected_indices()
        feedback = grade_choice(selected, self.correct, multiple=self.multiple)
        attempts = self.state["attempts"] + (feedback.status != "unanswered")
        self.state = {
            "selected": [self.option_texts[index] for index in sorted(selected)],
            "status": feedback.status,
            "attempts": attempts,
            "checked": True,
            "message": feedback.message,
        }
        self.out.outputs = (self._feedback_record(feedback, selected),)
        return self.state

    def _feedback_record(self, feedback: QuizFeedback, selected: set[int]) -> dict:
        css = "quiz-correct" if feedback.correct else "quiz-try-again"
        lines = [f'<div class="quiz-verdict {css}"><b>{html.escape(feedback.message)}</b></div>']
        text = [feedback.message]
        if feedback.status != "unanswered":
            items, text_items = [], []
            for index, (option, explanation) in enumerate(
                zip(self.option_texts, self.explanations, strict=True)
            ):
                right = index in self.correct
                verdict = "right answer" if right else "not right"
                chosen = " (your choice)" if index in selected else ""
                items.append(
                    f"<li>{_MARKS[right]} <b>{html.escape(option)}</b>: {verdict}{chosen}. "
                    f"{rich_text(explanation)}</li>"
                )
                text_items.append(f"{_MARKS[right]} {option}: {verdict}{chosen}. {explanation}")
            lines.append(f'<ul class="quiz-explanations">{"".join(items)}</ul>')
            text += text_items
        return html_record("".join(lines), "\n".join(text))


def quiz(question, options, correct, explanations, *, multiple=False) -> Quiz:
    """A multiple-choice self-check with an explanation for every option.

    Parameters
    ----------
    question : str
    options : list of str (at least two, distinct)
    correct : the right option (its text or index); with ``multiple=True``
        a list of them.
    explanations : list of str, one per option (same order), or a dict
        {option: explanation}. All are shown after "Check", each marked
        right or not right, so the learner sees why.
    multiple : bool
        Several right answers (checkboxes) instead of one (radio buttons).

    Returns a `Quiz`: `.widget`, `.options` (RadioButtons; None when
    multiple), `.checkboxes` (list; empty unless multiple), `.check_button`,
    `.out`, `.state` (`selected`, `status`, `attempts`).

    >>> q = quiz("Which are probabilities?", ["0.2", "-0.1", "1.0"], correct=["0.2", "1.0"],
    ...          explanations=["In [0, 1].", "Negative.", "In [0, 1]."], multiple=True)
    >>> q.checkboxes[0].value = q.checkboxes[2].value = True
    >>> q.check_button.click()
    >>> q.state["status"]
    'correct'
    """
    return Quiz(question, options, correct, explanations, multiple=multiple)


class NumericQuiz(CourseWidget):
    """A numeric self-check: type a number, Check, get told too high / too low / correct."""

    css_class = "quiz"

    def __init__(self, question, answer, tolerance, explanation, *, reveal_after=3):
        _check_text(question, "question")
        for name, value in (("answer", answer), ("tolerance", tolerance)):
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise TypeError(f"{name} must be a number, got {value!r}.")
            if not math.isfinite(value):
                raise ValueError(f"{name} must be finite, got {value}.")
        if tolerance < 0:
            raise ValueError(f"tolerance must be >= 0 (an absolute error), got {tolerance}.")
        if isinstance(reveal_after, bool) or not isinstance(reveal_after, numbers.Integral):
            raise TypeError(
                f"reveal_after must be a whole number of attempts, got {reveal_after!r}."
            )
        if reveal_after < 1:
            raise ValueError(f"reveal_after must be >= 1, got {reveal_after}.")
        self.question = question
        self.answer = float(answer)
        self.tolerance = float(tolerance)
        self.explanation = _check_text(explanation, "explanation")
        self.reveal_after = int(reveal_after)
        self.answer_box = widgets.Text(
            value="",
            placeholder="a number, e.g. 0.25 or 2/3",
            description="Your answer:",
            style={"description_width": "initial"},
            continuous_update=False,
        )
        self.check_button = widgets.Button(
            description="Check", button_style="primary", tooltip="Check your answer"
        )
        out = widgets.Output()
        heading = widgets.HTMLMath(
            f"<b>{rich_text(question)}</b><br><small>Type a number (within ±{tolerance:g}), "
            "then Check.</small>"
        )
        super().__init__(
            widgets.VBox([heading, widgets.HBox([self.answer_box, self.check_button]), out]),
            out,
            f"{question!r}",
        )
        self.widget.add_class("numeric-quiz")
        self._tolerance_text = f"{tolerance:g}"
        self.state = {"typed": "", "status": "unanswered", "attempts": 0, "checked": False}
        self.check_button.on_click(self._on_change)

    def static_text(self) -> str:
        """The question, for a reader without a kernel (no answer given away)."""
        return (
            f"{self!r}\n(an interactive quiz: run the notebook to answer it)\n"
            f"{self.question}\n(type a number, within ±{self._tolerance_text}, then Check)"
        )

    def refresh(self) -> dict:
        """Grade the typed answer and show the feedback (what "Check" does)."""
        feedback = grade_number(self.answer_box.value, self.answer, self.tolerance)
        attempts = self.state["attempts"] + (feedback.status not in ("unanswered", "invalid"))
        revealed = feedback.correct or attempts >= self.reveal_after
        self.state = {
            "typed": self.answer_box.value,
            "status": feedback.status,
            "attempts": attempts,
            "checked": True,
            "revealed": revealed,
            "message": feedback.message,
        }
        css = "quiz-correct" if feedback.correct else "quiz-try-again"
        markup = f'<div class="quiz-verdict {css}"><b>{html.escape(feedback.message)}</b></div>'
        text = feedback.message
        if revealed:
            prefix = "" if feedback.correct else f"The answer is {self.answer:g}. "
            explanation = html.escape(prefix) + rich_text(self.explanation)
            markup += f'<p class="quiz-explanations">{explanation}</p>'
            text += "\n" + prefix + self.explanation
        self.out.outputs = (html_record(markup, text),)
        return self.state


def numeric_quiz(question, answer, tolerance, explanation, *, reveal_after=3) -> NumericQuiz:
    """A self-check with a numeric answer, correct within an absolute `tolerance`.

    Wrong answers are told "too high" or "too low"; the `explanation` is
    shown once the answer is right, or with the answer after `reveal_after`
    wrong attempts. Returns a `NumericQuiz`: `.widget`, `.answer_box` (Text),
    `.check_button`, `.out`, `.state`.

    >>> q = numeric_quiz("P(first) for softmax([0, 0])?", 0.5, 0.01, "Equal scores, equal shares.")
    >>> q.answer_box.value = "1/2"
    >>> q.check_button.click()
    >>> q.state["status"]
    'correct'
    """
    return NumericQuiz(question, answer, tolerance, explanation, reveal_after=reveal_after)
