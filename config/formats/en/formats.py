# One way to write a moment across the admin, as the live SMS view, the emails and the outcome
# sentences write it (rentals/wording/formats.py): "2026-12-07 01:08 EET", in the person's timezone
# (rentals/middleware.py activates it). Everything not set here is Django's for the language.
DATETIME_FORMAT = "Y-m-d H:i T"
SHORT_DATETIME_FORMAT = DATETIME_FORMAT
DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = DATE_FORMAT
