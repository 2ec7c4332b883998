"""The beat schedule: periodic work, each entry a task that is safe to run twice."""

BEAT_SCHEDULE: dict = {}
