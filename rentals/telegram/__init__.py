"""Telegram: the team's bot. ``client`` is the only module that talks HTTP to the Bot API; what the bot
writes is worded in ``rentals/wording/telegram.py``."""
