"""Which charsets a request may declare: text encodings only.

Python's codec registry also holds byte transforms (zlib, base64, hex, bz2, uu, quopri), rot13 and
idna, which `codecs.lookup` finds like any charset but which cannot decode bytes to text: a body or
a query string "in" one of them made Django and the webhook fail with a server error. Only the names
below, after `codecs.lookup` has normalised them, are read; a name Python does not know is ignored
(read as UTF-8, as Django does), so an odd label from the provider does not lose an SMS.
"""

from __future__ import annotations

import codecs

TEXT_CHARSETS = frozenset(
    {
        "utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be",
        "ascii", "cp866", "koi8-r", "koi8-u", "mac-cyrillic",
        *(f"iso8859-{part}" for part in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16)),
        *(f"cp125{last}" for last in range(9)),
        "cp874", "tis-620", "shift_jis", "euc_jp", "euc_kr", "gb2312", "gbk", "gb18030", "big5",
    }
)  # fmt: skip


def known_charset(name: str) -> str | None:
    """The codec's normalised name, or None when Python knows no codec by this name."""
    try:
        return codecs.lookup(name.strip().strip('"')).name
    except (LookupError, ValueError):  # ValueError: a NUL in the name
        return None


def is_refused_charset(name: str) -> bool:
    """A codec Python has that is not a text charset on the list: the request cannot be read."""
    normalised = known_charset(name)
    return normalised is not None and normalised not in TEXT_CHARSETS


def declared_charsets(content_type: str) -> list[str]:
    """Every ``charset`` parameter of a Content-Type header: a header may name several, and Django
    believes the last while a plain reading believes the first."""
    names = []
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            names.append(value.strip().strip('"'))
    return names


def refuses_charset(content_type: str) -> bool:
    return any(is_refused_charset(name) for name in declared_charsets(content_type))
