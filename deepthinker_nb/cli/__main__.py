import sys

from deepthinker_nb.cli import main

sys.exit(main())
