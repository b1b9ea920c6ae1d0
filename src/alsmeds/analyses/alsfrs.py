"""alsfrs analyses (being written; see alsmeds.analyses)."""
