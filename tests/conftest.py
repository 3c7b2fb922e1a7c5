"""Shared test settings.

Under CI (the CI environment variable is set), Hypothesis runs derandomized:
the same examples every run, so a red build points at a change, not at luck.
Locally each run draws new examples, which is how property tests find bugs.
"""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
