"""``python -m alsmeds``: see :mod:`alsmeds.cli`."""

from alsmeds.cli import main

raise SystemExit(main())
