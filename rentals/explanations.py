"""Plain words for every outcome staff can meet, keyed by the normalised token."""

from __future__ import annotations

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

MAY_HAVE_CHARGED = _(
    "The provider may have charged; it will be checked. Do not rent again for the same need until "
    "this attempt is resolved: look for the number in the SMS.online panel first."
)
# Outcomes after which money may have moved: their explanation ends with MAY_HAVE_CHARGED.
MAY_HAVE_CHARGED_TOKENS = {"ERROR_SQL", "SERVER_ERROR", "UNKNOWN_OUTCOME", "DUPLICATE_RENT_ID"}

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
    "NO_ID_RENT": _("SMS.online does not know this rent (wrong or old id). Nothing was charged."),
    "INVALID_PHONE": _("SMS.online does not know this number for the account. Nothing was charged."),
    "RENT_DIE": _("The rent has already ended and cannot be extended. Nothing was charged."),
    "MAX_HOURS_EXCEED": _("That extension is longer than SMS.online allows for this rent. Nothing was charged."),
    "CANT_CANCEL": _("The 20-minute cancel window has passed: the rent can only be finished now."),
    "ALREADY_FINISH": _("The rent was already finished."),
    "ALREADY_CANCEL": _("The rent was already cancelled."),
    "INCORECT_STATUS": _("SMS.online refused that status change. Nothing was charged."),
    "DUPLICATE_RENT_ID": _("SMS.online returned a rent id that Rentdesk already holds for this account."),
}


def explain(token: str, *, banned_until: str | None = None) -> str:
    """The sentence staff read for ``token``, in the active language; unknown tokens are treated as
    unknown outcomes."""
    text = EXPLANATIONS.get(token)
    if text is None:
        unknown = gettext("SMS.online answered %(token)s, which Rentdesk does not know.") % {"token": token}
        return f"{unknown} {MAY_HAVE_CHARGED}"
    until = gettext(" until %(date)s") % {"date": banned_until} if banned_until else ""
    sentence = str(text).format(until=until)
    return f"{sentence} {MAY_HAVE_CHARGED}" if token in MAY_HAVE_CHARGED_TOKENS else sentence
