"""The beat schedule, declared once here and installed into django-celery-beat's tables.

Installing creates what is missing and never overwrites timing: once a job exists, admins own
whether and how often it runs (Periodic tasks in the admin, with "Run selected tasks" to run one
now). The code owns which task a job runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

# Polling plans each cycle around this period (selectors.rentals_due_for_poll, services.account_poll):
# an admin who changes the job's interval changes how often rentals are polled, not less.
POLL_CYCLE = timedelta(seconds=15)


@dataclass(frozen=True)
class ScheduledJob:
    name: str
    task: str
    every_seconds: int
    description: str
    # (hour, minute) in the team's time zone (DJANGO_TIME_ZONE) for a job that runs once a day at a quiet
    # hour rather than every ``every_seconds`` from when beat started.
    daily_at: tuple[int, int] | None = None


SCHEDULE = [
    ScheduledJob(
        "Poll SMS",
        "rentals.tasks.poll_sms",
        int(POLL_CYCLE.total_seconds()),
        "getRentStatus for active rentals that are due (often when fresh, rarely when idle); "
        "also processes webhook deliveries whose task never ran.",
    ),
    ScheduledJob(
        "Send expiry reminders",
        "rentals.tasks.send_expiry_reminders",
        60,
        "Email and chat the people concerned before each rental ends (once per threshold).",
    ),
    ScheduledJob("Expire rentals", "rentals.tasks.expire_rentals", 60, "Mark rentals past their end date expired."),
    ScheduledJob(
        "Resolve stuck rent attempts",
        "rentals.tasks.resolve_stale_attempts",
        5 * 60,
        "Rent attempts left pending by a stopped process become unknown (sent) or failed (not sent).",
    ),
    ScheduledJob(
        "Reconcile accounts",
        "rentals.tasks.reconcile_accounts",
        3 * 60,
        "getRentList per account: adopt rents whose answer was lost or that were made elsewhere.",
    ),
    ScheduledJob(
        "Sync catalog",
        "rentals.tasks.sync_catalog",
        6 * 3600,
        "getRentPrices per active country and rent time: prices and stock shown in the rent form.",
    ),
    ScheduledJob(
        "Auto-renew rentals",
        "rentals.tasks.auto_renew",
        10 * 60,
        "Extend rentals set to auto-renew when they come within their renewal time (once per end date).",
    ),
    ScheduledJob(
        "Read Telegram updates",
        "rentals.tasks.telegram_read_updates",
        5,
        "Answer what people wrote to the team's bot (getUpdates, a poll of 4 s at most); nothing while "
        "TELEGRAM_BOT_TOKEN is empty.",
    ),
    ScheduledJob(
        "Check balances",
        "rentals.tasks.check_balances",
        15 * 60,
        "getBalance for every account; clear passed bans; alert once on a low balance.",
    ),
    ScheduledJob(
        "Purge old records",
        "rentals.tasks.purge_old_records",
        24 * 3600,
        "Remove webhook deliveries, provider errors and SMS texts older than the RENTDESK_KEEP_* settings, "
        "in small batches, at most a minute per run.",
        daily_at=(3, 40),
    ),
    ScheduledJob(
        "Summarise spend",
        "rentals.tasks.summarise_spend",
        3600,
        "Sum each closed month's spend once, and again when a refund or a late extension changes it: the "
        "costs page and /metrics read these sums instead of every rental.",
    ),
]


def schedule_install(*, apps: object = None, using: str = "default", **kwargs: object) -> list[str]:
    """Create the missing periodic tasks; returns the names created. Safe to run any time."""
    from django.apps import apps as installed

    models = apps or installed
    try:
        models.get_model("django_celery_beat", "CrontabSchedule")
        task_model = models.get_model("django_celery_beat", "PeriodicTask")
    except LookupError:
        return []  # a partial migrate that has not reached django-celery-beat's tables yet
    created = []
    for job in SCHEDULE:
        timing = _timing(models, job, using=using)
        task, was_created = task_model.objects.using(using).get_or_create(
            name=job.name, defaults={"task": job.task, "description": job.description, **timing}
        )
        if was_created:
            created.append(job.name)
        elif task.task != job.task:
            task_model.objects.using(using).filter(pk=task.pk).update(task=job.task)
    return created


def _timing(models: object, job: ScheduledJob, *, using: str) -> dict[str, object]:
    """The schedule row a new job runs on: its crontab for a daily job, else its interval. Neither kind of
    row is unique (admins may add equal ones): any that matches is reused."""
    from django.conf import settings

    if job.daily_at is not None:
        hour, minute = job.daily_at
        same = {"minute": str(minute), "hour": str(hour), "day_of_week": "*", "day_of_month": "*",
                "month_of_year": "*", "timezone": settings.TIME_ZONE}  # fmt: skip
        crontabs = models.get_model("django_celery_beat", "CrontabSchedule").objects.using(using)
        return {"crontab": crontabs.filter(**same).first() or crontabs.create(**same)}
    same = {"every": job.every_seconds, "period": "seconds"}
    intervals = models.get_model("django_celery_beat", "IntervalSchedule").objects.using(using)
    return {"interval": intervals.filter(**same).first() or intervals.create(**same)}
