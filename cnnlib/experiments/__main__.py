"""``python -m cnnlib.experiments``: see :mod:`cnnlib.experiments.cli`."""

import sys

from cnnlib.experiments.cli import main

sys.exit(main())
