"""The beat schedule: periodic work, each entry a task that is safe to run twice."""

from celery.schedules import crontab


def beat_schedule(config) -> dict:
    return {
        # Starts due campaigns (one conditional UPDATE each, so overlapping beats are
        # harmless) and revives sends that lost their worker.
        "dispatch-campaigns": {
            "task": "campaign.campaigns.tasks.dispatch_campaigns",
            "schedule": config["DISPATCH_INTERVAL_SECONDS"],
        },
        # Signups wake this themselves; the sweep catches a wake-up that was lost.
        "send-queued-confirmations": {
            "task": "campaign.subscribers.tasks.send_queued_confirmations",
            "schedule": 60.0,
        },
        # Confirmations wake this themselves; the sweep catches a lost wake-up.
        "send-owed-welcomes": {
            "task": "campaign.coupons.tasks.send_owed_welcomes",
            "schedule": 60.0,
        },
        # Each coupon's reminder once, as it comes due (in the clinic's daytime). At a
        # fixed minute of the hour: an interval would restart with each restart of beat.
        "send-coupon-reminders": {
            "task": "campaign.coupons.tasks.send_coupon_reminders",
            "schedule": crontab(minute=5),
        },
    }
