"""Where Django's Ukrainian formats read wrong, and the one way the admin writes a moment. The rest come
from Django's own (django/conf/locale/uk)."""

# A day of a month, as in the admin's date drill-down: "6 грудня", the month in the genitive ("E"), not
# Django's "06 Грудень" (the nominative, which names a month on its own, as "Грудень 2026" does).
MONTH_DAY_FORMAT = "j E"

# One way to write a moment across the admin, as the live SMS view, the emails and the outcome
# sentences write it (rentals/wording/formats.py): "2026-12-07 01:08 EET", in the person's timezone
# (rentals/middleware.py activates it). Everything not set here is Django's for the language.
DATETIME_FORMAT = "Y-m-d H:i T"
SHORT_DATETIME_FORMAT = DATETIME_FORMAT
DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = DATE_FORMAT
