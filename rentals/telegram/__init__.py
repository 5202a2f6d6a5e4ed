"""Telegram: the team's bot. ``client`` is the only module that talks HTTP to the Bot API."""
