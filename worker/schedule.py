"""The beat schedule: periodic work, each entry a task that is safe to run twice."""


def beat_schedule(config) -> dict:
    return {
        # Starts due campaigns (one conditional UPDATE each, so overlapping beats are
        # harmless) and revives sends that lost their worker.
        "dispatch-campaigns": {
            "task": "campaign.campaigns.tasks.dispatch_campaigns",
            "schedule": config["DISPATCH_INTERVAL_SECONDS"],
        },
    }
