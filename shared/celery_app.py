"""The Flask docs' celery_init_app pattern: one Celery app per service, tasks run inside the app context."""

from __future__ import annotations

from celery import Celery, Task
from flask import Flask


def celery_init_app(app: Flask, service: str) -> Celery:
    class FlaskTask(Task):
        def __call__(self, *args: object, **kwargs: object) -> object:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery = Celery(app.name, task_cls=FlaskTask)
    celery.config_from_object(
        {
            "broker_url": app.config["REDIS_URL"],
            "result_backend": app.config["REDIS_URL"],
            "task_default_queue": service,
            "task_acks_late": True,  # a worker killed mid-task leaves the message for another
            "task_reject_on_worker_lost": True,
            "worker_prefetch_multiplier": 1,
            "task_ignore_result": True,
            "broker_connection_retry_on_startup": True,
            "broker_transport_options": {"visibility_timeout": 600},
            "task_always_eager": app.config.get("CELERY_ALWAYS_EAGER", False),
        }
    )
    celery.set_default()
    app.extensions["celery"] = celery
    return celery
