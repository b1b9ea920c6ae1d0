"""report analyses (being written; see alsmeds.analyses)."""
