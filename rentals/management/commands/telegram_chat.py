"""Write to the team's bot as a phone would, through the simulator's stand-in for Telegram (`make run`,
demos; never the real Telegram), and print what the bot answers."""

import html
import os
import re
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from rentals.simulator.control import NotASimulator, telegram

ANSWER_WAIT_SECONDS = 20
_TAG = re.compile(r"</?[a-z-]+(?:\s[^<>]*)?>")


class Command(BaseCommand):
    help = "Send a message (/start CODE, /numbers, /code X, /help) to the bot from a chat of the stand-in Telegram."

    def add_arguments(self, parser):
        parser.add_argument("text", help="What the chat writes, e.g. '/start CODE' or '/numbers'.")
        parser.add_argument("--chat", type=int, default=1000, help="The chat's id (default 1000).")
        parser.add_argument("--language", default="en", help="The language Telegram says the person uses.")

    def handle(self, *args: Any, text: str, chat: int, language: str, **options: Any) -> None:
        before = len(self._control(f"sent?chat_id={chat}"))
        self._control("message", {"chat_id": chat, "text": text, "language_code": language})
        self.stdout.write(f"chat {chat} wrote: {text}")
        deadline = time.monotonic() + ANSWER_WAIT_SECONDS
        while time.monotonic() < deadline:
            answers = self._control(f"sent?chat_id={chat}")[before:]
            if answers:
                for answer in answers:
                    self.stdout.write(f"bot answered:\n{as_shown(answer)}")
                return
            time.sleep(0.5)
        raise CommandError("No answer yet: is the worker with beat running (make run)?", returncode=1)

    def _control(self, command: str, payload: dict | None = None) -> Any:
        try:
            return telegram(stand_in_url(), command, payload)
        except NotASimulator as problem:
            raise CommandError(
                f"{problem}. This command writes only to the stand-in (make run starts one when "
                "TELEGRAM_BOT_TOKEN is not set).",
                returncode=1,
            ) from None


def stand_in_url() -> str:
    """Where the stand-in listens. `make run` gives its own processes the stand-in's token and URL
    (scripts/run_local.py), not the shell a person types this command in: there, with no bot set at
    all, it is the simulator `make run` started, on SIMULATOR_PORT."""
    if settings.TELEGRAM_BOT_TOKEN or "TELEGRAM_BOT_TOKEN" in os.environ:
        return settings.TELEGRAM_API_URL
    return f"http://127.0.0.1:{settings.SIMULATOR_PORT}"


def as_shown(message: dict[str, Any]) -> str:
    """The bot's message as the phone shows it: its HTML rendered to plain text (``&lt;`` as ``<``, the
    markup gone), and its buttons under it."""
    text = html.unescape(_TAG.sub("", message["text"]))
    rows = ((message.get("reply_markup") or {}).get("inline_keyboard")) or []
    buttons = ["  ".join(f"[{button.get('text', '')}]" for button in row) for row in rows]
    return "\n".join([text, *buttons])
