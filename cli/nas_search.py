"""``xnas-nas search`` and ``xnas-nas lr`` (filled in by the nas search work)."""

COMMANDS: list = []
