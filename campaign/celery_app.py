"""Celery bound to the Flask app (the pattern from Flask's own Celery guide)."""

from __future__ import annotations

from celery import Celery, Task
from flask import Flask, has_app_context


def celery_init_app(app: Flask) -> Celery:
    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            # An eager call from inside a request already has a context; pushing a
            # second one would give the task a separate, blind database session.
            if has_app_context():
                return self.run(*args, **kwargs)
            with app.app_context():
                return self.run(*args, **kwargs)

    celery = Celery(app.import_name, task_cls=FlaskTask)
    celery.config_from_object(app.config["CELERY"])
    celery.set_default()
    app.extensions["celery"] = celery
    # Importing the task modules registers their tasks with this app.
    import campaign.campaigns.tasks  # noqa: F401
    import campaign.coupons.tasks  # noqa: F401
    import campaign.staff.tasks  # noqa: F401
    import campaign.subscribers.tasks  # noqa: F401

    return celery
