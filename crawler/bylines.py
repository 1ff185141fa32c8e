"""Authors: byline strings cleaned into names, and the bylines a page shows in its markup.

:func:`split_authors` turns a byline ("By A, Staff Writer and B for The Times") into names;
:func:`markup_bylines` finds byline texts where trafilatura's author XPaths point, outside
comments, sidebars, captions and dates; :func:`labelled_bylines` and :func:`author_links`
find the ones the markup does not mark; :func:`as_shown` spells names as the page shows them.
Pure functions on an lxml tree that is not modified.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from lxml import etree
from lxml import html as lhtml

_I = re.IGNORECASE
_BYLINE = re.compile(  # "By", "Post author: by", "Texte :", "Ein Beitrag von"... before names
    r"^\s*(?:(?:post|article|story|interview)\s*:?\s+)?"
    r"(?:(?:authors?|autor(?:en|[/*:_]?in(?:nen)?)?|auteur|autore|auteure|text|texte|words)"
    r"(?:\s*(?:&|\+|/|and|und|et)\s*(?:fotos?|photos?|bild(?:er)?|pictures|images))?\b\s*:?\s*)?"
    r"(?:(?:written|reported|posted|published|words|text|story|article|artikel|ein\s+beitrag"
    r"|geschrieben|verfasst|veröffentlicht|erstellt|gepostet|publié|écrit|rédigé|escrito"
    r"|publicado|pubblicato|scritto)\s+)?"
    r"(?:(?:by|from|par|von|vom|por|door|av|af)\b[\s:]*)?", _I)
_AUTHOR_SPLIT = re.compile(
    r"\s*[,;&|/]\s*(?:(?:and|und|et|y|e|with|mit|avec|con)\s+)?"
    r"|\s+(?:and|und|et|y|e|with|mit|avec|con)\s+", _I)
# A part naming a job, a date, a photo credit or a company is not an author ("Staff Writer").
_ROLE = re.compile(
    r"\b(?:writer|reporter|correspondent|editor|contributor|contributing|columnist"
    r"|journalist|photographer|producer|analyst|chief|senior|special"
    r"|freelance|news|press|agency|journaliste|korrespondent\w*"
    r"|updated|published|posted|minutes?|read|fotos?|photos?|bilder?|illustrations?|grafik"
    r"|authors?|auteurs?|autor(?:en|in|innen)?|admin|administrator|webmaster|guest|unknown"
    r"|anonymous|anonym|interview|copyright|gmbh|inc|ltd|llc|e\.\s?v"
    r"|media|solutions|group|verlag|departement|department|ministerium|ministry|abteilung"
    r"|agencies|noticias|nachrichten|(?-i:eG|AG|KG|SE|UG|PLC)"
    r"|am|on|um|publiziert|veröffentlicht|gepostet|aktualisiert|publicad[oa]|actualizad[oa]"
    r"|publiée?|mis\s+à\s+jour|pubblicato|datum|date|fecha)\b",  # "Posted on", "Datum", "Publicado"
    _I)
# An editorial team ("Redaktion", "Metro Desk", "HLNF Staff"): the byline when no person is
# named anywhere, else dropped.
_COLLECTIVE = re.compile(
    r"\b(?:staff|desk|newsroom|bureau|rédaction|redaktion|redacción|redazione|redactie"
    r"|editorial\s+team)\b", _I)
# A news agency credited beside a reporter ("Von David Hutzler, dpa"): dropped when the
# byline names someone by first and last name; beside one word ("Ritzau / Erhverv", "det/dpa",
# a section or initials) it is kept, as the one name that is sure. Acronyms count only in
# one case ("DPA", "dpa"): "Sid", "Efe" and "Tass" are given names too.
_AGENCY_ACRONYM = re.compile(r"dpa|afp|ap|apa|efe|ansa|sda|ats|kna|epd|sid|ddp|upi|anp|tt|ntb"
                             r"|tass|pap|ctk|mti", _I)
_AGENCY_NAME = re.compile(r"reuters|ritzau|xinhua|kyodo|yonhap|belga|lusa|bloomberg|kathpress"
                          r"|dpa-afx|keystone-sda|agencia\s+efe", _I)
# The kind of piece before its author: "Eine Kolumne von X", "Pressemitteilung von X", "Une
# chronique par X" (not "de": "Interview de Marine Le Pen", "Chronique de Paris" name subjects).
_GENRE = (r"(?:beitrag|gastbeitrag|kommentar|gastkommentar|kolumne|glosse|reportage|essay"
          r"|pressemitteilung|column|commentary|chronique|tribune|columna)")
# "View all posts by X", "Zum Profil von X", "Recipe by X": a link text around the name.
_PROFILE_LINK = re.compile(
    r"^(?:[^\W\d_]+\s+){0,4}?(?:by|(?:beiträge|artikel|profil|posts|articles|stories|mehr)"
    rf"\s+(?:von|de|par|di)|{_GENRE}\s+(?:von|par|por))\s+", _I)
_AFFILIATION = re.compile(r"\s+(?:for|für|pour|para|per)\s+.*$", _I)  # "X for The Times"
# "X am 26/10/13", "X on 3 May 2022", "X 11.12.2019": the date after a name.
_DATE_PREPOSITION = r"(?:am|on|um|le|el|il|at|den|vom)"
_DATE_TAIL = re.compile(rf"\s+(?:{_DATE_PREPOSITION}\s+)?\d.*$", _I)
# "hace 3 horas", "vor 2 Stunden", "il y a 3 heures": cut before a byline is split ("y").
_RELATIVE_DATE = re.compile(r"\s*\b(?:hace|vor|il\s+y\s+a)\s+\d.*$", _I)
_MONTH = (r"(?:january|february|march|april|may|june|july|august|september|october|november"
          r"|december|januar|februar|märz|juni|juli|oktober|dezember|janvier|février|mars"
          r"|avril|mai|juin|juillet|août|septembre|octobre|novembre|décembre|enero|febrero"
          r"|marzo|abril|mayo|junio|julio|agosto|septiembre|octubre|noviembre|diciembre"
          r"|(?:jan|janv|feb|févr|mar|apr|avr|jun|jul|juil|aug|sept?|oct|nov|dec|déc)\.?)")
_WEEKDAY = (r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|montag|dienstag"
            r"|mittwoch|donnerstag|freitag|samstag|sonntag|lundi|mardi|mercredi|jeudi|vendredi"
            r"|samedi|dimanche|lunes|martes|miércoles|jueves|viernes|sábado|domingo"
            r"|(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun|mo|di|mi|do|fr|sa|so)\.?)")
# A date written out with its year, and what follows it, cut before a byline is split at its
# commas: "Thursday, November 9, 2023 4:41AM", "Published May 5, 2024", "le 1er mars 2024",
# "3 de marzo de 2024". Prepositions count in lower case only ("Thanh Le May 5, 2024").
_WRITTEN_DATE = re.compile(
    r"(?:\b(?:(?:updated|published|posted|veröffentlicht|aktualisiert|publié|modifié"
    r"|mis\s+à\s+jour|publicado|actualizado)\s*:?|stand\s*:)\s+)?"
    rf"(?:\b(?-i:{_DATE_PREPOSITION})\s+)?(?P<weekday>\b{_WEEKDAY},?\s+)?"
    rf"(?P<date>\b{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}"
    rf"|\b\d{{1,2}}(?:er|º)?\.?\s+(?:de\s+)?{_MONTH}\s+(?:de\s+)?\d{{4}}).*$", _I)
_DATE_WORD = re.compile(rf"{_MONTH}|{_WEEKDAY}", _I)  # a part left as "May" or "Mo."
_AROUND_NAME = " \t\n-\u2013\u2014:\u00b7|,\u2192\u00bb\u203a>"  # dashes, bars, arrows
_HANDLE = re.compile(r"[^\W\d_][\w.-]*")  # "freeman1984": digits in a user name, not a date
_DOMAIN_LIKE = re.compile(r"[^\W\d_]\.(?:[a-z]{2,6})\b")
# Containers whose author names are not the article's: comments and comment forms, sidebars,
# quotes, share bars; matched as whole class/id tokens, so a WordPress post's own classes
# ("post category-news", "noprint") do not hide its byline.
_DISCARD_TOKEN = re.compile(
    r"comments?|comment[-_]\S*|commentlist|comentarios?|kommentare?|commentaires?|respond"
    r"|sidebar\S*|is-hidden|(?:block)?quote|cita|zitat"
    r"|print|category|meta-date|meta-reviewer|article-(?:share|support)|embedly-instagram"
    r"|(?:photo|foto|image|img|bild|video|media)[-_]?"
    r"(?:credit|caption|licen[cs]e|copyright|author|autor)\S*"
    r"|\S*caption", _I)
_DISCARD_CLASS = frozenset({"title", "date"})  # the whole class attribute, as trafilatura's
_DISCARD_TAGS = frozenset({"time", "figure", "figcaption", "blockquote", "script", "style",
                           "noscript", "template", "button", "select", "textarea"})
# Where trafilatura's author XPaths point (trafilatura.xpaths.AUTHOR_XPATHS: specific, generic
# and last-resort paths), found in one walk over the tree: faster than the XPaths alone, whose
# regular expressions call back into Python for every element of the page.
_SPECIFIC_TAGS = frozenset({"a", "address", "div", "link", "p", "span", "strong"})
_GENERIC_TAGS = frozenset({"a", "div", "h3", "h4", "p", "span"})
_SPECIFIC_CLASS = re.compile("author-?name|AuthorName|authorName")
_GENERIC_ID = re.compile("author|zuozhe|bianji|xiaobian")
# Also the Spanish and German "autor", "nombre-autor", not a BEM element of other articles'
# teasers ("media-box__article__autor").
_GENERIC_CLASS = re.compile(
    r"author|channel-name|zuozhe|bianji|xiaobian|submitted-by|posted-by|journalist-name"
    r"|(?<![\w-])(?:[^\W_]+-)*autor(?:a|es|en)?(?![\w-])")
_LAST_ID = re.compile("[Aa]uthor")
_LAST_CLASS = re.compile("[Aa]uthor|screenname|writer|[Bb]yline")
MAX_BYLINE_CHARS = 120  # longer texts under an "author" class are bios or author lists
MAX_BYLINE_WORDS = 12  # "Jane Smith writes about ... since 2004." is a bio
MAX_MARKUP_BYLINES = 20


def split_authors(raw: str | list[str] | None, exclude: tuple[str | None, ...] = ()) -> list[str]:
    """Person names from bylines ("By A, Staff Writer and B for The Times"): no "By", roles,
    affiliations, e-mails or handles; deduplicated case-insensitively, the publisher's
    spelling kept. Names equal to an ``exclude`` value (the site's name) are dropped. A byline
    naming only an editorial team ("Redaktion") gives that team."""
    persons, teams = _split(raw, exclude)
    return persons or teams


def first_authors(bylines: Iterable[str | list[str] | None],
                  exclude: tuple[str | None, ...] = ()) -> list[str]:
    """Names from the first of ``bylines`` (best source first) that names a person, a login
    name among them spelt as a later byline writes it (:func:`_display_names`); else the
    first editorial team named."""
    team: list[str] = []
    bylines = iter(bylines)
    for byline in bylines:
        persons, teams = _split(byline, exclude)
        if persons:
            return _display_names(persons, bylines, exclude)
        team = team or teams
    return team


def _without_agencies(persons: list[str]) -> list[str]:
    """``persons`` without the news agencies among them when one of them is named by first
    and last name (:data:`_AGENCY_NAME`, :data:`_AGENCY_ACRONYM`)."""
    def agency(name: str) -> bool:
        return bool(_AGENCY_NAME.fullmatch(name) or (
            (name.isupper() or name.islower()) and _AGENCY_ACRONYM.fullmatch(name)))

    if not any(" " in p and not agency(p) for p in persons):
        return persons
    return [p for p in persons if not agency(p)]


def _display_names(persons: list[str], later: Iterator[str | list[str] | None],
                   exclude: tuple[str | None, ...]) -> list[str]:
    """``persons`` with each login name ("arianschlichenmayer", "gabor_munier") replaced by
    the same name as a later byline writes it ("Arian Schlichenmayer", "Gàbor Muniér"), or
    dropped when ``persons`` already write it so; the later bylines are read only when a
    login name is left."""
    def login(name: str) -> bool:
        return " " not in name and name.islower()

    shown = {_letters(p) for p in persons if not login(p)}
    persons = [p for p in persons if not (login(p) and _letters(p) in shown)]
    logins = {_letters(p): i for i, p in enumerate(persons) if login(p)}
    for byline in later if logins else ():
        for name in _split(byline, exclude)[0]:
            if not login(name) and (i := logins.pop(_letters(name), None)) is not None:
                persons[i] = name
        if not logins:
            break
    return _without_agencies(persons)


def _without_written_date(byline: str) -> str:
    """``byline`` up to the date written out in it (:data:`_WRITTEN_DATE`). A weekday before
    the date goes with it after a comma or a full name ("By Alex Bozarjian Thursday, November
    9, 2023"), not after one word, where it is a surname ("Von Jan Freitag, 3. Mai 2024")."""
    byline = _RELATIVE_DATE.sub("", byline)
    match = _WRITTEN_DATE.search(byline)
    if match is None:
        return byline
    head = byline[:match.start()]
    if match["weekday"] and match.start() == match.start("weekday"):
        name = _AUTHOR_SPLIT.split(head)[-1]
        if len(_BYLINE.sub("", name).split()) == 1:
            return byline[:match.start("date")]
    return head


def _letters(value: str) -> str:
    """Case- and accent-folded letters and digits: a login name and the display name it
    stands for ("gabor_munier" ~ "Gàbor Muniér") compare equal."""
    return name_key("".join(ch for ch in unicodedata.normalize("NFKD", value)
                            if not unicodedata.combining(ch)))


def _split(raw: str | list[str] | None, exclude: tuple[str | None, ...]
           ) -> tuple[list[str], list[str]]:
    """(persons, editorial teams) named in ``raw``."""
    persons: list[str] = []
    teams: list[str] = []
    site = {name_key(s) for s in exclude if s}
    for value in [raw] if isinstance(raw, str) else [v for v in raw or [] if isinstance(v, str)]:
        value = re.sub(r"\([^)]*\)|\S+@\S+|(?<!\w)@\w+|https?://\S+", " ", html.unescape(value))
        value = _without_written_date(value)
        for part in _AUTHOR_SPLIT.split(_BYLINE.sub("", value)):
            part = _AFFILIATION.sub("", _PROFILE_LINK.sub("", _BYLINE.sub("", part)))
            part = _DATE_TAIL.sub("", part)
            name = _undouble(" ".join(part.strip(_AROUND_NAME).split()))
            if _DATE_WORD.fullmatch(name):
                continue
            if (not name or len(name) > 60 or len(name.split()) > 5 or _ROLE.search(name)
                    or _DOMAIN_LIKE.search(name) or re.search(r"www\.|/|©", name)
                    or (re.search(r"\d", name) and not _HANDLE.fullmatch(name))
                    or not re.search(r"[^\W\d_]", name) or name_key(name) in site):
                continue
            found = teams if _COLLECTIVE.search(name) else persons
            if name.casefold() not in {n.casefold() for n in found}:
                found.append(name)
    return _without_agencies(persons), teams


def markup_bylines(tree: lhtml.HtmlElement) -> Iterator[str]:
    """Byline texts where trafilatura's author XPaths point (its specific, its generic, then
    its last-resort paths: any element whose class mentions an author or a byline), outside
    comments, sidebars, quotes and captions; of an author box, the name in its heading."""
    seen: set[Any] = set()
    count = 0
    elements = _author_elements(tree)
    every = {el for candidates in elements for el in candidates}
    for candidates in elements:
        for el in candidates:
            if el in seen or _in_discarded(el):
                continue
            seen.add(el)
            byline = _shown_text(el)
            if len(byline) >= MAX_BYLINE_CHARS or len(byline.split()) > MAX_BYLINE_WORDS:
                byline = _box_heading(el, byline)  # a bio or a list; a box's heading
            elif (joined := _with_coauthors(el, byline, every)) and _fits(joined[0]):
                byline = joined[0]
                seen.update(joined[1])
            if _fits(byline):
                yield byline
                count += 1
                if count >= MAX_MARKUP_BYLINES:
                    return


MAX_SHOWN_CHARS = 80  # an element whose text is a name ("By ALLY MUTNICK"), not a sentence
_BODY_TEXT = etree.XPath("string(//body)")
_HOLDING = etree.XPath("//body//text()[contains(., $name) or contains(., $upper)"
                       " or contains(., $lower) or contains(., $title)]/..")


def as_shown(tree: lhtml.HtmlElement, names: list[str]) -> list[str]:
    """``names`` in the case the page shows them in (upper, lower or title case): that of
    the first element in the body whose text is the name ("By ALLY MUTNICK" for JSON-LD's
    "Ally Mutnick")."""
    text = _BODY_TEXT(tree) if names else ""
    out = []
    for name in names:
        spellings = {"upper": name.upper(), "lower": name.lower(), "title": name.title()}
        if any(s != name and s in text for s in spellings.values()):  # cheap test first
            folded = name.lower()
            for el in _HOLDING(tree, name=name, **spellings):
                shown = " ".join(_BYLINE.sub("", el.text or "").split()).strip(_AROUND_NAME)
                if el.tag not in _DISCARD_TAGS and len(el.text or "") <= MAX_SHOWN_CHARS \
                        and shown.lower() == folded:
                    name = shown
                    break
        out.append(name)
    return out


# The first word of a text that starts a byline: "Von Cosima Künzel", "Autor: Fritz Imhof".
_LABELS = frozenset({"by", "von", "par", "por", "door", "autor", "autorin", "author", "auteur",
                     "autore", "text", "texte", "redaktion", "verfasser", "verfasserin"})
_GENRE_LABEL = re.compile(rf"(?:eine?|an?|une?)\s+{_GENRE}\s+(?:von|by|par|por)\s+", _I)
_ENDS_IN_COLON = re.compile(r"[^\W\d_]+(?:[/*_][^\W\d_]+)?\s*:")  # "Autorin:", "Autor/in:"
# "06.11.2023 13:30 von Olga": a numeric date and time before the label.
_LEADING_DATE = re.compile(r"\s*(?:\d{1,2}[./]\d{1,2}[./](?:\d{4}|\d{2})|\d{4}-\d{2}-\d{2})"
                           r"(?:,?\s+\d{1,2}[:.]\d{2}(?:\s*uhr)?)?[\s,|\u00b7-]*", _I)
_LABEL_ONLY = re.compile(r"\s*\w+\s*:?\s*")
_NEXT_LABEL = re.compile(r"\s+(?:[^\W\d_]+\s*){1,2}:\s.*$")  # "... Quelle: Livenet"
_PARTICLES = frozenset({"von", "van", "der", "den", "de", "da", "di", "du", "del", "la", "le"})
MAX_LABELLED_CHARS = 60  # "Von X" in a short block; longer ones are sentences
MAX_LABELLED_TEXT = 200


def labelled_bylines(tree: lhtml.HtmlElement) -> Iterator[str]:
    """Bylines that the markup does not mark as such, found by their label in a short block:
    "<em>Von Cosima Künzel</em>", "<strong>Text:</strong> Klausmartin Friedrich",
    "Datum: 19.11.2021 <br> Autor: Fritz Imhof <br> Quelle: Livenet", "06.11.2023 13:30 von
    Olga", "Eine Kolumne von Nils Pickert"; "Autorin: Uta Staschewski, Projektleiterin der
    HSS" gives the name before the comma."""
    body = tree.find("body")
    for block in body.iter(etree.Element) if body is not None else ():
        # the text that opens an element; a tail ("... sagte Müller von der Stadt") is prose
        text = block.text
        if not text or len(text) > MAX_LABELLED_TEXT or not text.strip():
            continue
        dated = _LEADING_DATE.match(text) if text.lstrip()[:1].isdigit() else None
        text = text[dated.end():] if dated else text
        genre = _GENRE_LABEL.match(text)
        if not genre and (not text.strip() or
                          text.split(None, 1)[0].rstrip(":").lower() not in _LABELS):
            continue
        if any(_discarded(a) or _navigation(a) for a in (block, *block.iterancestors())):
            continue
        if (_LABEL_ONLY.fullmatch(text) or _BYLINE.fullmatch(text)) and not len(block) \
                and block.getparent() is not None:
            line = f"{text} {block.tail or ''}"  # "<b>Autor:</b> Name": the label's line
        else:
            line = _line_from(block)[dated.end() if dated else 0:]
        line = " ".join(line.split())
        # the label ("Text & Fotos:", "Eine Kolumne von"; _BYLINE matches at any start, all
        # its parts being optional) and the name after it, up to the next label ("Quelle:
        # Livenet") or a date
        label = genre.end() if genre else _BYLINE.match(line).end()
        line = _without_written_date(line[:label] + _NEXT_LABEL.sub("", line[label:]))
        byline = line[label:] if genre else line
        if len(byline) <= MAX_LABELLED_CHARS and _names_only(byline):
            yield byline
        elif _ENDS_IN_COLON.match(line) and (head := line.split(",", 1)[0]) != line \
                and len(head) <= MAX_LABELLED_CHARS and len(_BYLINE.sub("", head).split()) > 1 \
                and _names_only(head):
            yield head  # "Autorin: Uta Staschewski, Projektleiterin der HSS in Tunesien."


_AUTHOR_PATH = re.compile(r"/(?:authors?|autor(?:en)?|auteurs?|autore|redakteur(?:in)?"
                          r"|journalist)/[^/?#]+/?(?:[?#]|$)", _I)
# A staff member's page ("/staff/uriel-gadessaud/"), but also "/staff/masthead/" and
# "/staff/our-team/": taken only when the link's text spells the page's name in two words or
# more, none of them a word of such pages' titles.
_STAFF_PATH = re.compile(r"/staff/([^/?#]+)/?(?:[?#]|$)", _I)
_STAFF_PAGE_WORDS = frozenset({"our", "team", "meet", "contact", "about", "staff", "directory",
                               "editorial", "editors", "jobs", "careers", "unser", "über"})


def author_links(tree: lhtml.HtmlElement) -> Iterator[str]:
    """Texts of links to an author's page ("/author/jane-smith/"), or to a staff member's
    page named as the text ("Jane Smith" for "/staff/jane-smith/"), outside comments,
    sidebars, menus and footers."""
    for link in tree.iter("a"):
        href = link.get("href") or ""
        if _AUTHOR_PATH.search(href):
            staff_name = None
        elif staff := _STAFF_PATH.search(href):
            staff_name = staff.group(1)
        else:
            continue
        if any(_discarded(a) or _navigation(a) for a in (link, *link.iterancestors())):
            continue
        text = _shown_text(link)
        words = text.lower().split()
        if 2 < len(text) < MAX_LABELLED_CHARS and (staff_name is None or (
                _letters(staff_name) == _letters(text) and len(words) > 1
                and _STAFF_PAGE_WORDS.isdisjoint(words))):
            yield text


def _navigation(el: Any) -> bool:
    """Menus and the site's footer: "Author: X" there links to a profile page."""
    return el.tag in ("nav", "footer") or any(
        t.startswith(("menu", "nav", "footer")) for t in el.get("class", "").lower().split())


def _names_only(line: str) -> bool:
    """Every word after the label is capitalised or a name particle ("Anna von Berg")."""
    parts = [p for p in _AUTHOR_SPLIT.split(_BYLINE.sub("", line)) if p.strip()]
    words = [w for p in parts for w in p.split()]
    return (0 < len(words) <= 4 * len(parts) and not line.endswith(".")
            and words[0] not in _PARTICLES and all(w[0].isupper() or w in _PARTICLES
                                                   for w in words))



def _line_from(el: Any) -> str:
    """The text of ``el`` up to its first line break."""
    parts = [el.text or ""]
    for child in el:
        if child.tag == "br":
            break
        parts += [_visible_text(child), child.tail or ""]
    return " ".join(parts)


def _author_elements(tree: lhtml.HtmlElement) -> tuple[list[Any], list[Any], list[Any]]:
    """(specific, generic, last resort): the elements trafilatura's three author XPaths
    select, in document order; also a ``<byline>`` element (specific) and one whose
    ``data-testid`` names a byline (last resort)."""
    specific: list[Any] = []
    generic: list[Any] = []
    last: list[Any] = []
    for el in tree.iter(etree.Element):
        tag, cls, id_ = el.tag, el.get("class") or "", el.get("id") or ""
        prop = el.get("itemprop") or ""
        if tag in ("author", "byline") or (tag in _SPECIFIC_TAGS and (
                "author" in (el.get("rel"), id_, cls) or prop == "author name"
                or el.get("data-testid") in ("AuthorCard", "AuthorURL")
                or _SPECIFIC_CLASS.search(cls))):
            specific.append(el)
        if tag in _GENERIC_TAGS and (
                cls in ("byline", "username", "byl", "BBL") or "author" in prop
                or _GENERIC_ID.search(id_) or _GENERIC_CLASS.search(cls)):
            generic.append(el)
        if "Byline" in (el.get("data-component") or "") or "author" in prop or \
                "byline" in (el.get("data-testid") or "").lower() or \
                _LAST_ID.search(id_) or _LAST_CLASS.search(cls):
            last.append(el)
    return specific, generic, last


def _discarded(el: Any) -> bool:
    """A comment, sidebar, quote, caption, date... whose names are not the article's."""
    if not isinstance(el.tag, str) or el.tag in _DISCARD_TAGS:
        return True
    if el.tag in ("html", "body", "main", "article"):
        return False
    if (cls := el.get("class", "").strip()) in _DISCARD_CLASS:
        return True
    return any(_DISCARD_TOKEN.fullmatch(t) for t in f"{cls} {el.get('id', '')}".split())


# What stands between co-authors' elements: "A, B and C", "A & B", "A und B" (not "/": "A /
# Reviews" is a byline's section).
_COAUTHOR_JOIN = re.compile(r"\s*(?:[,&]\s*(?:(?:and|und|et|y|e)\s*)?|(?:and|und|et|y|e)\s*)", _I)
# A part with its own label or role is no co-author: "Edited by B", "Fotografía: B".
_OWN_LABEL = re.compile(r"\s*[^\W\d_][\w-]*\s+(?:by|von|par|por)\b|[^:]{0,30}:", _I)


def _with_coauthors(el: Any, byline: str, candidates: set[Any]) -> tuple[str, list[Any]] | None:
    """``byline`` with its co-authors' and their elements, when each has an author element
    of its own (one of ``candidates``), side by side with a separator ("<span class="author">
    <a>A</a></span> and <span class="author"><a>B</a></span>": WordPress's Co-Authors Plus,
    bylines without structured data); None when there are none."""
    top = el  # the outermost element holding el alone
    while (parent := top.getparent()) is not None and len(parent) == 1 \
            and not (parent.text or "").strip() and not (top.tail or "").strip():
        top = parent
    parts, joined = [byline], []
    while (following := top.getnext()) is not None and following.tag == top.tag \
            and following.get("class") == top.get("class") \
            and _COAUTHOR_JOIN.fullmatch(top.tail or "") \
            and any(d in candidates for d in following.iter()):
        text = _shown_text(following)
        if _OWN_LABEL.match(text) or _ROLE.search(text):
            break
        parts += [(top.tail or "").strip(), text]
        joined += following.iter()
        top = following
    return (" ".join(parts), joined) if joined else None


# An author box: "author-bio", "author_box", "about-author", "authorInfo"; not a wrapper that
# has one ("has-author-box") nor a list of the author's posts ("more-author-posts").
_AUTHOR_BOX = re.compile(r"(?:about[-_]?)?author[-_]?(?:bio|box|info|card|profile|details)\w*",
                         _I)
MAX_AUTHOR_BOX_CHARS = 1500


def _box_heading(box: Any, text: str) -> str:
    """The first heading in an author box (``text`` being all of its text) when it is a
    name of two words or more whose first word the rest of the box repeats ("<h3>Martin
    Junker</h3> ... Alles von Martin Junker", "Martin berät..."), else ""."""
    if len(text) > MAX_AUTHOR_BOX_CHARS or not any(
            _AUTHOR_BOX.fullmatch(t) for t in (box.get("class") or "").split()):
        return ""
    heading = next(box.iter("h2", "h3", "h4", "h5", "h6"), None)
    name = _shown_text(heading) if heading is not None else ""
    words = name.split()
    rest = Counter(text.split()) - Counter(words)
    return name if len(name) <= MAX_LABELLED_CHARS and len(words) > 1 and rest[words[0]] \
        and _names_only(name) else ""


def _in_discarded(el: Any) -> bool:
    """``el`` is or lies in a discarded container (:func:`_discarded`) other than one that
    holds the headline: a theme's main column called "sidebar"."""
    return any(_discarded(a) and (a.tag in _DISCARD_TAGS or a.find(".//h1") is None)
               for a in (el, *el.iterancestors()))


def _fits(byline: str) -> bool:
    """A byline's length, and no label alone ("Quelle:") beside the byline."""
    return 2 < len(byline) < MAX_BYLINE_CHARS and not byline.endswith(":")


def _shown_text(el: Any) -> str:
    """:func:`_visible_text` with its whitespace collapsed, as a reader sees it."""
    return " ".join(_visible_text(el).split())


def _visible_text(el: Any) -> str:
    """Text of ``el`` without discarded descendants (a ``<time>`` after the name...)."""
    return " ".join([el.text or "", *(f"{'' if _discarded(c) else _visible_text(c)} "
                                      f"{c.tail or ''}" for c in el)])


def _undouble(name: str) -> str:
    """"Jane Smith Jane Smith" (a name in a link and its tooltip) -> "Jane Smith"."""
    words = name.split()
    half = len(words) // 2
    if half and len(words) % 2 == 0 and words[:half] == words[half:]:
        return " ".join(words[:half])
    return name


def name_key(value: str) -> str:
    """Comparison key: case-folded letters and digits only ("Battery-News.de" ~ "batterynewsde")."""
    return "".join(ch for ch in value.casefold() if ch.isalnum())
