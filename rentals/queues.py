"""Celery's two queues by urgency, and which tasks go to the urgent one (docs/operating.md, "Two queues").

What a person waiting for a code feels runs on ``urgent``, consumed by a worker of its own; everything
else, the provider's long jobs first, on ``background``. A catalog sync of 180 countries, reconciliation
or reminders then never hold up an SMS: they cannot take a slot of the urgent worker. Routed by task name
(the settings' CELERY_TASK_ROUTES), so a task sent by name goes where it belongs.

Plain constants, importable without Django: the settings read them, and so do the fault suite and the
benchmarks, which send tasks by name from outside the app.
"""

URGENT_QUEUE = "urgent"
BACKGROUND_QUEUE = "background"

URGENT_TASKS = (
    "rentals.tasks.poll_sms",  # the polling cycle itself: it only plans, in milliseconds
    "rentals.tasks.poll_awaiting_sms",  # rentals awaiting a code, a few requests each
    "rentals.tasks.process_webhook",
    "rentals.tasks.process_webhooks",
    "rentals.tasks.forward_sms",
    "rentals.tasks.store_kept_webhooks",  # webhooks kept in Redis while the database was away
    # A person waiting on the bot's answer. The read waits for Telegram up to 4 s in one slot (one
    # reader at a time); a rent confirmed in the bot waits on SMS.online as the rent form's does.
    "rentals.tasks.telegram_read_updates",
    "rentals.tasks.telegram_answer_update",
)

TASK_ROUTES = {name: {"queue": URGENT_QUEUE} for name in URGENT_TASKS}
