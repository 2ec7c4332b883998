"""Celery entry point: ``celery -A worker worker`` and ``celery -A worker beat``.

No business rules live here; tasks are defined in each feature's ``tasks.py``.
"""

from campaign import create_app
from worker.schedule import beat_schedule

flask_app = create_app()
celery = flask_app.extensions["celery"]
celery.conf.beat_schedule = beat_schedule(flask_app.config)
