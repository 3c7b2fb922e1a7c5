"""`python -m utils.grading SUBMISSIONS --out OUT [...]`: see `utils.grading`."""

import sys

from utils.grading._cli import main

if __name__ == "__main__":
    sys.exit(main())
