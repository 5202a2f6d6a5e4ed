"""Names shown in the reader's language that no code of ours spells out: the seeded catalog (staff may
rename an entry; a name that is not here shows as written) and the few strings of Django and its apps
that have no Ukrainian translation of their own. Listed here so that makemessages finds them."""

from django.utils.translation import gettext_noop

SEEDED_CATALOG_NAMES = [
    gettext_noop("Any sender"),
    gettext_noop("Other"),
    gettext_noop("Russia"),
    gettext_noop("Ukraine"),
    gettext_noop("Kazakhstan"),
    gettext_noop("Indonesia"),
    gettext_noop("United Kingdom"),
    gettext_noop("India"),
    gettext_noop("Germany"),
    gettext_noop("USA"),
    gettext_noop("Vodafone Ukraine"),
    gettext_noop("VKontakte"),
    gettext_noop("MTS"),
]

# Django's own Ukrainian puts the model's name in the nominative where Ukrainian needs another case
# (titles of lists and forms, filter headings): rephrased so they read right whatever the name.
REPHRASED = [
    gettext_noop("Select %s to change"),
    gettext_noop("Select %s to view"),
    gettext_noop("Change %s"),
    gettext_noop("View %s"),
    gettext_noop("Add %s"),
    gettext_noop(" By %(filter_title)s "),
]

UNTRANSLATED_ELSEWHERE = [
    # django.contrib.admin's index and lists (visually hidden accessibility labels)
    gettext_noop("Model name"),
    gettext_noop("Add link"),
    gettext_noop("Change or view list link"),
    # django-celery-beat's app and models
    gettext_noop("Periodic Tasks"),
    gettext_noop("periodic tasks"),
    gettext_noop("solar events"),
    gettext_noop("clocked"),
    gettext_noop("crontabs"),
    gettext_noop("intervals"),
    # django-axes' models
    gettext_noop("access attempts"),
    gettext_noop("access failures"),
    gettext_noop("access logs"),
    # django-simple-history's pages
    gettext_noop("View history: %s"),
]
