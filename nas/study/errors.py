"""The study's one error: bad study input or a folder that does not fit (one-line message).

Its own module so that the study's door to the backend (:mod:`.backend`) and the study's
settings (:mod:`.config`) can both raise it without importing each other."""

__all__ = ["StudyError"]


class StudyError(ValueError):
    """Bad study input or a folder that does not fit (one-line message)."""
