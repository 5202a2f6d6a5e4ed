"""Where Django's Ukrainian formats read wrong. The rest come from Django's own (django/conf/locale/uk)."""

# A day of a month, as in the admin's date drill-down: "6 грудня", the month in the genitive ("E"), not
# Django's "06 Грудень" (the nominative, which names a month on its own, as "Грудень 2026" does).
MONTH_DAY_FORMAT = "j E"
