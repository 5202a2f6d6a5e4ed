"""Every text Rentdesk makes for people, grouped by who reads it, in the reader's language.

- ``pages``: people at Rentdesk's pages, its command line and its API: an operation's outcome (the admin's
  message, the CLI's line, the API's ``message``), an outcome on a page, the dashboard's health lines.
- ``attention``: a rental's attention note, kept as codes and worded for whoever opens the rental.
- ``notices``: people by email and in the team's chat channels (reminders, alerts, forwarded SMS), in the
  team's language; ``rentals.notice_sending`` sends them.
- ``telegram``: a person in their chat with the team's Telegram bot (HTML, Telegram's parse mode).
- ``tokens``: shared by all of them: what each SMS.online or Rentdesk token means, and the one wording of
  what happened (the sentence, the token after it).
- ``formats``: shared by all of them: money, times, time left, a person's name, the team's language.

Services return facts and tokens; the words are made here, never in a service, an admin or a task.
"""
