"""Red team B2: the hints of 04.predict_restoring_temperature leave the prediction to the learner.

Its last hint ended on "What is left is (0.5 / T) z: choose T so that this is z itself", an
equation whose only unknown is the answer. (The answer, 0.5, also appears in the problem's own
numbers, z' = 0.5 z + 4, so a search for the answer's digits cannot test this.)
"""

from utils.exercises import get


def test_restoring_temperature_hints_do_not_set_up_the_last_equation():
    hints = get("04.predict_restoring_temperature").hints
    assert len(hints) >= 2
    text = " ".join(hints)
    assert "(0.5 / T) z" not in text
    assert "z itself" not in text
    assert "cancels" in hints[-1]  # the idea stays: the added constant changes nothing
    assert hints[-1].rstrip().endswith("?")  # it asks; the learner answers
