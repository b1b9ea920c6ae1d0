"""``python -m alsmeds.simstudy``: the simulation study's command line (:func:`alsmeds.simstudy.cli.main`)."""

from alsmeds.simstudy.cli import main

if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
