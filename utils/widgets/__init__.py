"""Widgets that teach: explorers you drag, and self-check quizzes.

Each builder returns an object that displays itself when a cell ends on it,
and keeps its controls, its `.out` Output widget and its last computed
`.state` as attributes, so it can be driven from code (and tests) as well as
by hand. The maths lives in pure functions next to each widget
(`score_state`, `overflow_state`, ...), tested directly.

* `score_explorer(tokens, logits)`: one slider per score; softmax, the normalizing
  sum, the entropy; a candidate subset.
* `overflow_explorer()`: naive vs. stable softmax as the scores grow, in float16/32/64.
* `temperature_explorer(tokens, logits)`: softmax(z / T) on a log-scale slider, both limits.
* `sampling_lab(model, context)`: temperature, top-k, top-p on the tiny model; the kept
  set, the renormalized distribution, seeded samples against it.
* `beam_search_stepper(model, prefix)`: beam search one step at a time, greedy path marked.
* `gradient_explorer(tokens, logits, target)`: gradient descent on -log p(target) one Step
  at a time; p, the gradient p - y (summing to 0) and the loss curve.
* `quiz(...)`, `numeric_quiz(...)`: self-checks with an explanation for every option.
"""

from utils.widgets._display import CourseWidget
from utils.widgets.decoding import (
    BeamSearchStepper,
    SamplingLab,
    beam_search_stepper,
    beam_stepper_state,
    sampling_lab,
    sampling_state,
)
from utils.widgets.explorers import (
    OverflowExplorer,
    ScoreExplorer,
    TemperatureExplorer,
    overflow_explorer,
    overflow_state,
    score_explorer,
    score_state,
    temperature_explorer,
    temperature_state,
)
from utils.widgets.quizzes import (
    NumericQuiz,
    Quiz,
    QuizFeedback,
    grade_choice,
    grade_number,
    numeric_quiz,
    quiz,
)
from utils.widgets.training import GradientExplorer, gradient_explorer, gradient_step_state

__all__ = [
    "BeamSearchStepper",
    "CourseWidget",
    "GradientExplorer",
    "NumericQuiz",
    "OverflowExplorer",
    "Quiz",
    "QuizFeedback",
    "SamplingLab",
    "ScoreExplorer",
    "TemperatureExplorer",
    "beam_search_stepper",
    "beam_stepper_state",
    "grade_choice",
    "grade_number",
    "gradient_explorer",
    "gradient_step_state",
    "numeric_quiz",
    "overflow_explorer",
    "overflow_state",
    "quiz",
    "sampling_lab",
    "sampling_state",
    "score_explorer",
    "score_state",
    "temperature_explorer",
    "temperature_state",
]
