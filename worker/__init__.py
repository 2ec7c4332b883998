"""Celery entry point: ``celery -A worker worker`` and ``celery -A worker beat``.

No business rules live here; tasks are defined in each feature's ``tasks.py``.
"""

from campaign import create_app
from worker.schedule import BEAT_SCHEDULE

flask_app = create_app()
celery = flask_app.extensions["celery"]
celery.conf.beat_schedule = BEAT_SCHEDULE
