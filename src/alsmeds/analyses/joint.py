"""joint analyses (being written; see alsmeds.analyses)."""
