"""``python -m alsmeds``: see :mod:`alsmeds.pipeline.cli`."""

from alsmeds.pipeline.cli import main

raise SystemExit(main())
