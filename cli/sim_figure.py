"""``xnas-sim figure`` (filled in by the analysis work)."""

COMMANDS: list = []
