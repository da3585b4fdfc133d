"""``python -m deepthinker_nb``: the same as the ``deepthinker-nb`` console script."""

from deepthinker_nb.cli import main

raise SystemExit(main())
