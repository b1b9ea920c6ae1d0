"""alsmeds: the analysis package of the ALS psychiatric-medication reproducibility bundle."""

__version__ = "0.1.0"
