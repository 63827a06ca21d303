"""``python -m components.model``: see :mod:`components.model.cli`."""
import sys

from components.model.cli import main

sys.exit(main())
