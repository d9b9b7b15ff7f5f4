"""The publishing engine: due posts published once, never twice (see `engine`)."""
