import sys

from tools.promote.cli import main

sys.exit(main())
