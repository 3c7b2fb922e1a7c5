"""Authoring tools for the course (run from the repository root).

* `python -m tools.make_student` writes `notebooks/` from `solutions/`.
* `python -m tools.refresh_solutions` re-executes `solutions/` to store outputs.
"""
