"""survival analyses (being written; see alsmeds.analyses)."""
