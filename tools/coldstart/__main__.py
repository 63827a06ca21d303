"""Entry point for ``python -m tools.coldstart``."""

from tools.coldstart.cli import main

raise SystemExit(main())
