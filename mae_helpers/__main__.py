"""`python -m mae_helpers` runs the `mae-unlearn` main job."""

from .cli import main

raise SystemExit(main())
