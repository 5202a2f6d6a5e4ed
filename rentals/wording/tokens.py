"""Plain words for every outcome people can meet, keyed by the normalised token, and the one wording of what
happened (the sentence, the token after it) that pages, notices, the bot and the CLI all use."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

MAY_HAVE_CHARGED = _(
    "The provider may have charged; it will be checked. Do not rent again for the same need until "
    "this attempt is resolved: look for the number in the SMS.online panel first."
)
# Outcomes after which nobody knows what the provider did: for a call that spends money (rent,
# extend), the explanation ends with MAY_HAVE_CHARGED; for any other call, with NOTHING_SPENT.
MAY_HAVE_CHARGED_TOKENS = {"ERROR_SQL", "SERVER_ERROR", "UNKNOWN_OUTCOME", "DUPLICATE_RENT_ID"}
NOTHING_SPENT = _("This request spends no money, so it is safe to try again.")

EXPLANATIONS = {
    "BAD_ACTION": _(
        "SMS.online did not recognise the request (bad action). Nothing was charged. "
        "This points to a change at the provider or a fault in Rentdesk: tell the Rentdesk maintainers."
    ),
    "BAD_KEY": _(
        "SMS.online rejected the account's API key. Nothing was charged. Copy the key again from "
        "the SMS.online profile (API settings) and save it on the account."
    ),
    "NO_KEY": _("SMS.online received no API key. Nothing was charged. Enter the key on the account."),
    "NOT_AUTHORIZED": _(
        "SMS.online says this key is not authorised for renting. Nothing was charged. "
        "Check the key and the account's API permissions in the SMS.online profile."
    ),
    "ERROR_SQL": _("SMS.online reported an error while handling the request (request/SQL error)."),
    "SERVER_ERROR": _("SMS.online reported a server error."),
    "BANNED": _("The SMS.online account is banned{until}. Nothing was charged. Use another account until then."),
    "ACCOUNT_INACTIVE": _(
        "The SMS.online account is not active. Nothing was charged. Activate it in the "
        "SMS.online profile, then reset the account's state in Rentdesk."
    ),
    "BAD_COUNTRY": _(
        "SMS.online does not accept this country. Nothing was charged. Check the country's id "
        "in the catalog against the provider's list, or choose another country."
    ),
    "BAD_SERVICE": _(
        "SMS.online does not accept this service. Nothing was charged. Check the service code "
        "in the catalog against the provider's list, or choose another service."
    ),
    "INVALID_TIME": _(
        "SMS.online does not accept this rent time. Nothing was charged. Choose one of "
        "4, 8, 12, 24, 72, 168, 360, 720 or 2160 hours."
    ),
    "WRONG_OPERATOR": _(
        "SMS.online does not accept this operator for the country. Nothing was charged. "
        "Choose another operator or 'any'."
    ),
    "NO_BALANCE": _(
        "The SMS.online account has no money left. Nothing was charged. Top it up on SMS.online, "
        "then check the balance or reset the account's state in Rentdesk."
    ),
    "NO_NUMBERS": _(
        "No numbers are available for this service and country right now. Nothing was charged. "
        "Try another operator or country, or try again later."
    ),
    "CHANNELS_LIMIT": _(
        "The SMS.online account is blocked. Nothing was charged. Contact SMS.online support "
        "and use another account meanwhile."
    ),
    "UNKNOWN_OUTCOME": _("No readable answer came from SMS.online."),
    "PROVIDER_UNREACHABLE": _(
        "SMS.online could not be reached, so nothing was sent and nothing was charged. "
        "Try again in a few minutes; if it persists, check the account's API URL."
    ),
    "API_KEY_UNREADABLE": _(
        "The account's API key cannot be decrypted with this server's "
        "API_KEY_ENCRYPTION_KEYS. Nothing was sent. Enter the API key on the account again."
    ),
    "API_KEY_NOT_FOR_URL": _(
        "The account's API URL now points at another scheme, host or port than the one its key was entered "
        "for, so the key was not sent. Nothing was charged. Enter the API key on the account again."
    ),
    "API_URL_REFUSED": _(
        "Rentdesk does not send API keys to the account's API URL (plain http:// where https:// is required, "
        "or a loopback, private or link-local address). Nothing was sent. Correct the account's API URL."
    ),
    "NOT_SENT": _("The request stopped before it was sent to SMS.online; nothing was charged. Submit it again."),
    "NO_ID_RENT": _("SMS.online did not receive the rent's id. Nothing was charged."),
    "INVALID_PHONE": _(
        "SMS.online does not know this rent for the account (a wrong or old id, or a rent it has dropped). "
        "Nothing was charged. Check the number in the SMS.online panel."
    ),
    "RATE_LIMITED": _(
        "SMS.online refused the request because too many were sent (HTTP 429). Nothing was charged. "
        "Rentdesk waits as long as SMS.online asks before sending again for this account; try again then."
    ),
    "EARLY_CANCEL_DENIED": _(
        "SMS.online does not allow cancelling in the first minutes after renting. Nothing was changed. "
        "Try again in a few minutes (the refund stays possible until 20 minutes after renting)."
    ),
    "RENT_DIE": _("The rent has already ended and cannot be extended. Nothing was charged."),
    "MAX_HOURS_EXCEED": _("That extension is longer than SMS.online allows for this rent. Nothing was charged."),
    "CANT_CANCEL": _("The 20-minute cancel window has passed: the rent can only be finished now."),
    "ALREADY_FINISH": _("The rent was already finished."),
    "ALREADY_CANCEL": _("The rent was already cancelled."),
    "INCORECT_STATUS": _("SMS.online refused that status change. Nothing was charged."),
    "DUPLICATE_RENT_ID": _("SMS.online returned a rent id that Rentdesk already holds for this account."),
    # Rentdesk's own refusals and the API's answers (outcomes.Token).
    "BUDGET_EXCEEDED": _(
        "Not sent, nothing charged: this would pass a monthly budget. Ask a manager to raise the budget, "
        "or wait for next month."
    ),
    "PRICE_UNKNOWN": _(
        "Not sent, nothing charged: a monthly budget applies, and SMS.online's price for this is not known yet, "
        "so it cannot be checked against it. Run the catalog sync (Periodic tasks) and try again."
    ),
    "RENTAL_ENDED": _("The rental has already ended (finished, cancelled or revoked). Nothing was sent."),
    "EXTENSION_OPEN": _(
        "An earlier extension of this rental is still in progress or has an unknown outcome: SMS.online may have "
        "charged for it. Reconciliation settles it within minutes when SMS.online's list shows the extension; "
        "if SMS.online shows it was not extended, mark it so under Extensions, then extend again."
    ),
    "RENTAL_CHANGED": _("The rental was extended meanwhile; nothing was sent."),
    "ANOTHER_PERSONS_FORM": _(
        "This form was already sent by another person, so nothing was sent. Open the form anew to make your own "
        "request."
    ),
    "PENDING": _(
        "This request is still at SMS.online. Send it again with the same Idempotency-Key after the seconds in "
        "Retry-After for its outcome; nothing more is spent."
    ),
    "BAD_ARGUMENTS": _("The request is not valid: see the fields named. Nothing was sent."),
    "NOT_AUTHENTICATED": _("Give a valid API token: Authorization: Bearer <token>. Tokens are made in the admin."),
    "PERMISSION_DENIED": _("Your account does not have the permission this needs."),
    "NOT_FOUND": _("There is nothing here, or not for your account."),
    "TOO_MANY_REQUESTS": _(
        "Too many requests from your account (all your tokens together); wait the seconds in Retry-After and try again."
    ),
    "TOO_MANY_INVALID_TOKENS": _(
        "Too many invalid tokens came from your address: every token from it is refused for now. Wait the seconds "
        "in Retry-After, then send a valid token."
    ),
    "TWO_FACTOR_REQUIRED": _(
        "Your account must sign in with two factors and has no authenticator app set up, so its tokens do not "
        "work. Sign in to the admin and set up the app; then this token works again."
    ),
    "WAIT_SLOTS_BUSY": _("Too many scripts are waiting for SMS on this server right now; try again in a second."),
    "PROVIDER_BUSY": _(
        "SMS.online was not asked: this account's requests to it are paced, or this server already has as many "
        "requests at it as it lets wait. Nothing was recorded or sent; try again after the seconds in Retry-After."
    ),
    "IDEMPOTENCY_KEY_REUSED": _(
        "This Idempotency-Key was used for a different request. Use a new key for a new request. Nothing was sent."
    ),
    "BODY_TOO_LARGE": _("The request's body is larger than Rentdesk reads. Nothing was sent."),
    # Auto-renew's own, on the extension it did not make and on the error it records (services/renewing.py).
    "AUTO_RENEW_REFUSED": _(
        "Auto-renew did not extend the rental: a condition set on it was not met (ceiling, balance, budget or "
        "who set it). Nothing was charged. Extend it by hand; the extension's details say why."
    ),
    "AUTO_RENEW_FAILED": _(
        "Auto-renew could not extend a rental before its end. Extend it by hand; the error's details say why."
    ),
    "INTERNAL_ERROR": _(
        "Rentdesk met an internal error (it is logged). Check the rental or the rent attempts before trying again."
    ),
}


def explain(token: str, *, banned_until: str | None = None, spending: bool = False) -> str:
    """The sentence staff read for ``token``, in the active language; unknown tokens are treated as
    unknown outcomes. ``spending``: the request could have spent money (getRentNumber,
    continueRentNumber), so an unknown outcome may have charged."""
    unknown_outcome = MAY_HAVE_CHARGED if spending else NOTHING_SPENT
    text = EXPLANATIONS.get(token)
    if text is None:
        unknown = gettext("SMS.online answered %(token)s, which Rentdesk does not know.") % {"token": token}
        return f"{unknown} {unknown_outcome}"
    until = gettext(" until %(date)s") % {"date": banned_until} if banned_until else ""
    sentence = str(text).format(until=until)
    return f"{sentence} {unknown_outcome}" if token in MAY_HAVE_CHARGED_TOKENS else sentence


# A sentence ends at a stop followed by a capital: not inside "SMS.online", nor after "see." ("див.").
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)")


def headline(token: str) -> str:
    """What happened, in a few words, where a list or a count has no room for what to do: the first
    sentence of the token's explanation, so that each token keeps one wording."""
    text = explain(token)
    for end in SENTENCE_END.finditer(text):
        if text[end.end()].isupper():
            return text[: end.start()]
    return text


@dataclass(frozen=True)
class WhatHappened:
    """What happened, worded one way wherever a token is shown with its explanation: the sentence first,
    what a person reads; SMS.online's (or Rentdesk's) token after it in brackets, for those who look it up.
    ``str()`` is the plain text (admin messages, mail, chat, the CLI); ``pages.what_happened_html`` only
    marks the same words up for a page."""

    sentence: str
    token: str

    def __str__(self) -> str:
        return f"{self.sentence} ({self.token})" if self.token else self.sentence


def what_happened(token: str, *, sentence: str | None = None, brief: bool = False) -> WhatHappened:
    """The outcome ``token`` in words: ``sentence`` when the caller has a fuller one (an operation's outcome,
    a notice), else the token's explanation, or only its headline where a list has no room (``brief``)."""
    if sentence is None:
        sentence = (headline(token) if brief else explain(token)) if token else ""
    return WhatHappened(sentence, token)
