"""Tests for crawler.extraction (article text + metadata extraction)."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import trafilatura
from lxml import html as lhtml

from crawler.extraction import (
    EXTRACTOR_VERSION,
    Article,
    _merge_chunks,
    extract_article,
    normalize_date,
    split_authors,
)

FIXTURES = Path(__file__).parent / "fixtures" / "extraction"

CASES = {
    "harbour_gazette_boilerplate.html": {
        "url": "https://www.harbourgazette.co.uk/news/local/harbour-council-approves-sea-wall",
        "title": "Harbour Council Approves £12m Sea Wall After Winter Storms",
        "authors": ["Eleanor Whitcombe"],
        "published": "2026-02-18T16:42:00+00:00",
        "modified": "2026-02-19T09:05:00+00:00",
        "language": "en",
        "site_name": "The Harbour Gazette",
        "canonical_url": (
            "https://www.harbourgazette.co.uk/news/local/harbour-council-approves-sea-wall"
        ),
        "present": [
            "Harbour councillors have approved a twelve million pound sea wall",
            "we pay for it twice: once in sandbags and once in insurance claims",
            "A public exhibition of the final design will be held at the library next month",
        ],
        "absent": [
            "We use cookies", "cookie", "Accept all cookies", "Leave a comment", "Post comment",
            "Your email address will not be published", "Donate", "Support local journalism",
            "making a contribution", "All rights reserved", "©", "Sign up to our free newsletter",
            "Related stories", "Share on Facebook", "Privacy policy", "Senior Correspondent",
        ],
    },
    "courrier_greve_fr.html": {
        "url": "https://www.courrierdumidi.fr/economie/greve-controleurs-aeriens-marseille?amp=1",
        "title": "Grève des contrôleurs aériens : des centaines de vols annulés à Marseille",
        "authors": ["Marie Dupont"],
        "published": "2026-02-09T07:45:00+01:00",
        "modified": None,
        "language": "fr",
        "site_name": "Le Courrier du Midi",
        "canonical_url": "https://www.courrierdumidi.fr/economie/greve-controleurs-aeriens-marseille",
        "present": [
            "Des centaines de vols ont été annulés lundi à l'aéroport de Marseille-Provence",
            "elle a fini par patienter au café de la gare routière voisine",
            "conformément à la réglementation européenne",
        ],
        "absent": [
            "Nous utilisons des cookies", "Tout accepter", "Tous droits réservés", "Partager",
            "Réagir à cet article", "À lire aussi",
        ],
    },
    "northfield_two_authors.html": {
        "url": "https://www.northfieldcourier.com/science/2026/hidden-aquifer-map",
        "title": "Northfield Researchers Map Hidden Aquifer Beneath Farmland",
        "authors": ["Priya Raman", "Tom O'Neill"],
        "published": "2026-01-22T18:05:00+00:00",
        "modified": "2026-01-23T10:30:00+00:00",
        "language": "en",
        "site_name": "Northfield Daily Courier",
        "canonical_url": (
            "https://www.northfieldcourier.com/science/2026/hidden-aquifer-map?utm_source=rss"
        ),
        "present": [
            "have mapped a vast freshwater aquifer lying more than two hundred metres",
            "It runs for nearly sixty kilometres without a significant break.",
            "present its findings to the agriculture committee in March",
        ],
        "absent": [
            "Staff Writer", "Science Reporter", "Subscribe for $1", "Most read",
            "Snowplough budget", "All rights reserved", "Tweet",
        ],
    },
    "valley_jsonld_date_only.html": {
        "url": "https://www.valleyrecord.com/transport/driverless-shuttle-trial/",
        "title": "Valley Transit to Trial Driverless Shuttle Buses",
        "authors": ["Jonas Reinholt"],
        "published": "2026-03-02T11:20:00+00:00",
        "modified": "2026-03-03T08:00:00+00:00",
        "language": "en",
        "site_name": "Valley Record",
        "canonical_url": None,
        "present": [
            "Valley Transit will begin a six-month trial of driverless shuttle buses",
            "We are not replacing our drivers.",
            "routes where demand is steady throughout the day",
        ],
        "absent": ["Subscribe", "unlimited access", "All rights reserved", "Weather"],
    },
    "riverside_url_date_only.html": {
        "url": "https://www.riversidepost.com/2026/03/14/city-library-reopens/",
        "title": "City Library Reopens After Two-Year Renovation",
        "authors": ["Daniel Okafor"],
        "published": "2026-03-14",
        "modified": None,
        "language": "en",
        "site_name": "Riverside Post",
        "canonical_url": "https://www.riversidepost.com/2026/03/14/city-library-reopens/",
        "present": [
            "Riverside's central library reopened to the public on Saturday",
            "They have kept the soul of the place,",
            "has been published on the city website",
        ],
        "absent": ["Join our newsletter", "By Daniel Okafor"],
    },
    "stadtanzeiger_de_no_lang.html": {
        "url": "https://www.stadtanzeiger-lindenau.de/lokales/radwegenetz-beschlossen",
        "title": "Stadtrat beschließt neues Radwegenetz für die Innenstadt",
        "authors": ["Katrin Müller"],
        "published": "2026-02-27",
        "modified": None,
        "language": "de",
        "site_name": "Stadtanzeiger Lindenau",
        "canonical_url": None,
        "present": [
            "Der Stadtrat von Lindenau hat am Donnerstagabend mit großer Mehrheit",
            "Wir wollen, dass sich auch Kinder und ältere Menschen sicher mit dem Rad",
            "im Amtsblatt und auf der Internetseite der Stadt veröffentlicht",
        ],
        "absent": [
            "Wir verwenden Cookies", "Alle akzeptieren", "Alle Rechte vorbehalten", "©",
            "Kommentar schreiben", "Teilen", "Von Katrin Müller", "Startseite",
        ],
    },
    "diario_sur_microdata_es.html": {  # microdata only (no JSON-LD), two authors
        "url": "https://www.diariodelsur.es/sociedad/sequia-riego-vega-segura",
        "title": "La sequía obliga a restringir el riego en la vega del Segura",
        "authors": ["Lucía Fernández", "Andrés Molina"],
        "published": "2026-04-07T08:15:00+02:00",
        "modified": None,
        "language": "es",
        "site_name": "Diario del Sur",
        "canonical_url": None,
        "present": [
            "ha aprobado este lunes una reducción del treinta por ciento en las dotaciones",
            "«Vamos a tener que elegir qué parcelas salvamos y cuáles dejamos secar»",
            "a través de la plataforma electrónica del organismo.",
        ],
        "absent": [
            "Utilizamos cookies", "Aceptar todas", "Suscríbete", "Comentarios",
            "Deja tu comentario", "Esto pasa por no planificar", "Te puede interesar",
            "Todos los derechos reservados", "Por Lucía Fernández", "Medio ambiente",
        ],
    },
    "metro_ledger_byline_roles.html": {  # byline with roles in the markup only, no site name
        "url": "https://www.metroledger.com/local/tram-extension-final-approval",
        "title": "Tram Line Extension Wins Final Approval",
        "authors": ["Sarah Chen", "James Okoro"],
        "published": "2026-05-11T14:20:00-04:00",
        "modified": None,
        "language": "en",
        "site_name": None,
        "canonical_url": "https://www.metroledger.com/local/tram-extension-final-approval",
        "present": [
            "The regional transit board voted 9 to 2 on Monday to approve the eastern extension",
            "Tonight we stopped studying and started building.",
            "details of which will be presented to the council in June.",
        ],
        "absent": [
            "Transportation Editor", "Data Reporter", "Subscribe today", "Most read",
            "Bridge closure extended", "Share on Facebook", "All rights reserved", "Privacy policy",
        ],
    },
    "jornal_serra_pt_utc_date.html": {  # JSON-LD time in UTC is the next day: the URL's day wins
        "url": "https://www.jornaldaserra.com.br/2026/05/20/chuvas-reabrem-cachoeiras/",
        "title": "Chuvas reabrem cachoeiras do parque estadual após dois anos",
        "authors": ["Ana Souza", "Carlos Lima"],
        "published": "2026-05-20",
        "modified": None,
        "language": "pt",
        "site_name": "Jornal da Serra",
        "canonical_url": None,
        "present": [
            "As chuvas das últimas semanas devolveram a água às principais cachoeiras",
            "Vamos manter equipes de monitoramento em todos os pontos de banho",
            "Os ingressos poderão ser comprados pela internet ou na portaria do parque.",
        ],
        "absent": [
            "Este site usa cookies", "Aceitar", "Leia também", "Festival de inverno",
            "Deixe seu comentário", "Todos os direitos reservados", "Por Ana Souza",
        ],
    },
    # WordPress: the post's own classes ("category-markt", "noprint") must not hide its byline
    # the way comment blocks hide their authors; "Veröffentlicht am" is not a name
    "kiezblog_wordpress_classes_de.html": {
        "url": "https://kiezblog-nordstadt.de/2026/04/03/wochenmarkt/",
        "title": "Der Wochenmarkt zieht um",
        "authors": ["Jana Vogt"],
        "published": "2026-04-03",
        "modified": None,
        "language": "de",
        "site_name": "Kiezblog Nordstadt",
        "canonical_url": None,
        "present": [
            "Der Wochenmarkt am Nordplatz zieht im Mai auf den Parkplatz hinter der",
            "Nur der Fischwagen steht künftig am Eingang zur Bibliothek",
            "die Umleitung für Radfahrerinnen und Radfahrer eingezeichnet sind.",
        ],
        "absent": [
            "Horst Brenner", "Elif Kaya", "Name *", "Neueste Kommentare", "Veröffentlicht am",
            "Impressum",
        ],
    },
    "fietsgids_nl_no_date.html": {  # no lang attribute, no date but a copyright year
        "url": "https://www.fietsgids-achterhoek.nl/routes/kastelen-en-beken",
        "title": "De mooiste routes langs kastelen en beken",
        "authors": [],
        "published": None,
        "modified": None,
        "language": "nl",
        "site_name": None,
        "canonical_url": None,
        "present": [
            "De Achterhoek is een van de fijnste streken van Nederland om te fietsen.",
            "De tweede route volgt de Berkel van Eibergen naar Zutphen.",
            "of een nieuw terras zijn deuren heeft geopend.",
        ],
        "absent": [
            "Populaire routes", "Slingelandroute", "Privacyverklaring", "© 2024", "Over ons",
        ],
    },
}


def load(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.fixture(scope="module", params=sorted(CASES))
def extracted(request: pytest.FixtureRequest) -> tuple[dict, Article]:
    case = CASES[request.param]
    article = extract_article(load(request.param), case["url"], encoding="utf-8")
    assert article is not None
    return case, article


@pytest.mark.parametrize(
    "field", ["title", "authors", "published", "modified", "language", "site_name", "canonical_url"]
)
def test_metadata(extracted: tuple[dict, Article], field: str) -> None:
    case, article = extracted
    assert getattr(article, field) == case[field]


def test_body_sentences_present(extracted: tuple[dict, Article]) -> None:
    case, article = extracted
    for sentence in case["present"]:
        assert sentence in article.text


def test_boilerplate_absent(extracted: tuple[dict, Article]) -> None:
    case, article = extracted
    for junk in case["absent"]:
        assert junk not in article.text, junk


def test_text_shape(extracted: tuple[dict, Article]) -> None:
    case, article = extracted
    assert article.url == case["url"]
    assert article.word_count == len(article.text.split()) >= 250
    assert not article.text.startswith(article.title)  # headline is not duplicated in text
    assert "\n\n" not in article.text


def test_to_dict_and_pickle() -> None:
    article = extract_article(load("northfield_two_authors.html"), "https://example.com/a")
    assert article is not None
    data = article.to_dict()
    assert list(data) == [
        "url", "canonical_url", "title", "authors", "published", "modified", "language",
        "description", "site_name", "text", "word_count",
    ]
    assert json.loads(json.dumps(data)) == data
    assert data["description"].startswith("A three-year survey has revealed")
    assert pickle.loads(pickle.dumps(article)) == article
    assert trafilatura.__version__ in EXTRACTOR_VERSION


def test_str_input() -> None:
    html = load("stadtanzeiger_de_no_lang.html").decode("utf-8")
    article = extract_article(html, "https://example.de/a")
    assert article is not None and "Oberbürgermeisterin Sabine Hartmann" in article.text


# --- character encodings -------------------------------------------------------------------

FRENCH_URL = "https://www.courrierdumidi.fr/economie/greve"


def test_utf8_page_with_wrong_latin1_header() -> None:
    body = load("courrier_greve_fr.html")  # UTF-8 bytes, no <meta charset>
    article = extract_article(body, FRENCH_URL, encoding="iso-8859-1")
    assert article is not None
    assert "café" in article.text and "Ã" not in article.text
    assert article.title is not None and article.title.startswith("Grève des contrôleurs")


@pytest.mark.parametrize("header", ["iso-8859-1", "windows-1252", None])
def test_legacy_encoded_page(header: str | None) -> None:
    body = load("courrier_greve_fr.html").decode("utf-8").encode("cp1252")
    article = extract_article(body, FRENCH_URL, encoding=header)
    assert article is not None
    assert "café de la gare" in article.text and "réglementation européenne" in article.text


def test_meta_charset_beats_wrong_header() -> None:
    html = load("courrier_greve_fr.html").decode("utf-8")
    body = html.replace("<head>", '<head><meta charset="windows-1252">').encode("cp1252")
    article = extract_article(body, FRENCH_URL, encoding="utf-8")
    assert article is not None and "café de la gare" in article.text


def test_utf8_bom() -> None:
    body = b"\xef\xbb\xbf" + load("courrier_greve_fr.html")
    article = extract_article(body, FRENCH_URL, encoding="iso-8859-1")
    assert article is not None and "café de la gare" in article.text


# --- rejects and robustness ----------------------------------------------------------------

PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n" * 20


@pytest.mark.parametrize(
    "body",
    [
        PDF,
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)),
        b"\x1f\x8b\x08\x00" + bytes(200),
        bytes(range(256)) * 4,
        b"",
        b"   \n\t ",
        "",
        b'{"title": "not html", "body": "<p>json</p>"}',
        b"Just a plain text file without any markup at all.",
        b"<html><head><title>Empty</title></head><body></body></html>",
        b"<html><body><nav><a href='/'>Home</a></nav></body></html>",
    ],
)
def test_returns_none_for_non_articles(body: bytes | str) -> None:
    assert extract_article(body, "https://example.com/file") is None


WEIRD = [
    b"<html><body><p>Unclosed <b>bold <i>italic <div>" + b"text " * 300,
    b"<html><body>" + b"<div>" * 3000 + b"deep text " * 100 + b"</div>" * 10,
    "<html><body><p>lone surrogate \ud800 " + "word " * 200 + "</p></body></html>",
    b"<?xml version='1.0' encoding='utf-8'?><html><body><p>" + b"xml decl " * 100 + b"</p>",
    b"<html><head><meta charset='no-such-charset'></head><body><p>" + b"x y " * 200 + b"</p>",
    b'<html><head><script type="application/ld+json">{"@type": "NewsArticle", "author": 5, '
    b'"datePublished": ["garbage"], "headline": {"x": 1}, "publisher": [[null]]}</script>'
    b'<script type="application/ld+json">{not json</script></head><body><article><p>'
    + b"Plenty of ordinary words in a paragraph. " * 40 + b"</p></article></body></html>",
    b"<html><body><p>" + b"\xff\xfe\xfa" * 300 + b"</p></body></html>",
]


@pytest.mark.parametrize("body", WEIRD)
def test_never_raises_on_weird_input(body: bytes | str) -> None:
    result = extract_article(body, "https://example.com/weird")
    assert result is None or isinstance(result, Article)


def test_malformed_but_real_article_still_extracted() -> None:
    html = load("harbour_gazette_boilerplate.html").decode("utf-8")
    broken = html.replace("</p>", "").replace("</div>", "")[: int(len(html) * 0.8)]
    article = extract_article(broken, "https://example.com/a")
    assert article is not None
    assert "Harbour councillors have approved a twelve million pound sea wall" in article.text


CHUNK_PARAGRAPHS = [
    f"Paragraph {n} of the council's budget story: the committee met on Tuesday and heard "
    f"evidence from residents about item {n}, which the finance officer called affordable."
    for n in range(1, 10)
]


def _chunked_page(between: str) -> str:
    """An article whose body is three same-class chunks, ``between`` separating them."""
    chunks = [CHUNK_PARAGRAPHS[i:i + 3] for i in (0, 3, 6)]
    grids = [
        '<div class="grid narrow"><div class="article__body">'
        + "".join(f"<p>{p}</p>" for p in chunk) + "</div><aside class='rail'></aside></div>"
        for chunk in chunks
    ]
    return ("<html lang='en'><head><title>Budget approved</title></head><body><main><article>"
            "<h1>Budget approved</h1>" + between.join(grids) + "</article></main>"
            "<footer><div class='article__body'><p>A footer paragraph that is not the "
            "article at all, written long enough to count as paragraph text.</p></div></footer>"
            "</body></html>")


def test_body_split_around_ads_is_joined_in_order() -> None:
    ad = '<div class="ad"><span class="ad-label">Advertisement</span><div></div></div>'
    article = extract_article(_chunked_page(ad), "https://example.com/budget")
    assert article is not None
    positions = [article.text.find(p) for p in CHUNK_PARAGRAPHS]
    assert -1 not in positions, article.text
    assert positions == sorted(positions)
    assert "footer paragraph" not in article.text and "Advertisement" not in article.text


@pytest.mark.parametrize(("between", "joined"), [
    ('<div class="ad"><span>Advertisement</span></div>', True),
    ("<script>var slot = 'a much longer script body than forty characters';</script>", True),
    ("<h2>What the opposition said about the spending plans</h2>", False),
    # text after a script (a tail in lxml) is visible text like any other
    ("<script>var x = 1;</script>Readers in the north of the region will see the changes.",
     False),
])
def test_chunks_are_joined_only_when_little_text_lies_between(between: str,
                                                             joined: bool) -> None:
    tree = lhtml.fromstring(_chunked_page(between))
    chunks = tree.xpath("//article//div[@class='article__body']")
    main = _merge_chunks(chunks[0], dict.fromkeys(chunks, 100))
    assert main is chunks[0]
    paragraphs = [p.text for p in main.iter("p")]
    assert paragraphs == (CHUNK_PARAGRAPHS if joined else CHUNK_PARAGRAPHS[:3])
    remaining = tree.xpath("//article//div[@class='article__body']")
    assert len(remaining) == (1 if joined else 3)  # nothing moved past the separating text


# --- helpers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("By Jane Smith", ["Jane Smith"]),
        ("Par Marie Dupont", ["Marie Dupont"]),
        ("Von Katrin Müller", ["Katrin Müller"]),
        ("By Priya Raman, Staff Writer, and Tom O'Neill, Science Reporter",
         ["Priya Raman", "Tom O'Neill"]),
        ("Ana Lima & Joe Bloggs; Jane Smith", ["Ana Lima", "Joe Bloggs", "Jane Smith"]),
        ("Jane Smith (jane@example.com), Senior Correspondent", ["Jane Smith"]),
        ("BY JOHN DOE and jane smith", ["JOHN DOE", "jane smith"]),  # the publisher's spelling
        ("Vom Krimiblogger", ["Krimiblogger"]),
        ("Author: Anna Kubišta", ["Anna Kubišta"]),
        ("Autor/in: Korinna Hennig", ["Korinna Hennig"]),  # gender-inclusive labels
        ("Autor*innen: Lea Roth und Max Graf", ["Lea Roth", "Max Graf"]),
        ("Authors: Ana Lima and Joe Bloggs", ["Ana Lima", "Joe Bloggs"]),
        ("Text: Lea Roth / Fotos: Max Graf", ["Lea Roth"]),  # photo credits are not authors
        ("Rob Picheta, @robpicheta, finanztreff.de", ["Rob Picheta"]),
        ("By Ana Lima with Joe Bloggs", ["Ana Lima", "Joe Bloggs"]),
        (["Jane Smith", "jane smith", "https://facebook.com/janesmith"], ["Jane Smith"]),
        ("Staff Reporter", []),
        ("Coast Media Solutions", []),  # a company
        ("besserwisser eG", []),
        ("Hafen Verlags AG", []),
        ("Noticias El Comercio", []),
        ("Agencies", []),
        ("Jane Smith, Abteilung Presse", ["Jane Smith"]),
        ("Ag Jansen", ["Ag Jansen"]),  # a legal form counts in its own case only
        ("Text & Fotos: Ivan Valetny", ["Ivan Valetny"]),
        ("Text und Bild: Lea Roth", ["Lea Roth"]),
        ("Eine Kolumne von Nils Pickert", ["Nils Pickert"]),
        ("Pressemitteilung von Katja Kipping", ["Katja Kipping"]),
        ("Jacobo Betancur | Publicado hace 3 horas", ["Jacobo Betancur"]),
        ("Par Marie Dupont, il y a 3 heures", ["Marie Dupont"]),
        ("Veröffentlicht von Chris Jung", ["Chris Jung"]),
        ("Erstellt von Andri Bryner", ["Andri Bryner"]),
        ("von lupa am 26/10/13, 03:48 pm", ["lupa"]),  # the date after the name
        ("By Jane Smith on 3 May 2026", ["Jane Smith"]),
        ("Zeige alle Beiträge von mywakenews →", ["mywakenews"]),
        ("Rezept von Zum Profil von jesusfreak jesusfreak", ["jesusfreak"]),  # link + tooltip
        ("von freeman1984", ["freeman1984"]),  # digits in a user name...
        ("By Jane Smith, 3 May 2026", ["Jane Smith"]),  # ... not in a date
        ("By Jane Smith Thursday, November 9, 2023 4:41AM", ["Jane Smith"]),  # weekday, month
        ("Jane Smith Sep. 3, 2026", ["Jane Smith"]),
        ("By Theresa May", ["Theresa May"]),  # a month or weekday in a name stays
        ("Theresa May 12 June 2019", ["Theresa May"]),
        ("By Jane Mayer 2 hours ago", ["Jane Mayer"]),
        ("Tom Decker 12 Mar 2024", ["Tom Decker"]),
        ("Von Jan Freitag", ["Jan Freitag"]),
        ("Wednesday Addams", ["Wednesday Addams"]),
        ("Von Anna Berg, Montag, 3. März 2024", ["Anna Berg"]),
        ("Von Jan Freitag, 3. Mai 2024", ["Jan Freitag"]),  # after one word: a surname
        ("By Thanh Le May 5, 2024", ["Thanh Le"]),  # "le" is a preposition in lower case only
        ("By Jane Smith Published May 5, 2024", ["Jane Smith"]),  # the date's label goes too
        ("Par Marie Dupont, le 1er mars 2024", ["Marie Dupont"]),
        ("Por María García, lunes 3 de marzo de 2024", ["María García"]),
        ("By Jane Smith, CNN Updated 3:00 PM EDT, Sun May 5, 2024", ["Jane Smith"]),
        ("Von Anna Berg, Mo., 04.03.2024", ["Anna Berg"]),  # a weekday left alone
        ("By Jane Smith, May 2024", ["Jane Smith"]),
        ("14.03.2026 12:30", []),
        ("Publiziert am", []),
        ("Posted on", []),
        # an editorial team is the byline when no person is named, else dropped
        ("Redaktion", ["Redaktion"]),
        ("HLNF Staff Report", ["HLNF Staff Report"]),
        ("Redaktion, Jane Smith", ["Jane Smith"]),
        ("Metro Desk and Sarah Chen", ["Sarah Chen"]),
        # so is a news agency credited beside a reporter
        ("Von David Hutzler, dpa", ["David Hutzler"]),
        ("AFP", ["AFP"]),
        ("Reuters and Jane Smith", ["Jane Smith"]),
        ("Apa Sherpa", ["Apa Sherpa"]),  # a name, not the agency
        ("Jane Smith, Sid", ["Jane Smith", "Sid"]),  # a given name, not SID
        ("Par Marie Dupont, avec AFP", ["Marie Dupont"]),
        ("Agencia EFE", ["Agencia EFE"]),  # an agency alone is the byline
        ("det/dpa", ["det", "dpa"]),  # beside initials or a section the agency is kept
        ("", []),
        (None, []),
    ],
)
def test_split_authors(raw: str | list[str] | None, expected: list[str]) -> None:
    assert split_authors(raw) == expected


def _authors(head: str, body: str) -> list[str]:
    article = extract_article(_page(head, body), "https://www.coastherald.com/news/ferry")
    assert article is not None
    return article.authors


def _ld(data: object) -> str:
    return f'<script type="application/ld+json">{json.dumps(data)}</script>'


@pytest.mark.parametrize(
    ("head", "body", "expected"),
    [
        # a markup byline that names no one ("Posted on") is skipped for the next one
        ("", '<span class="meta-prep-author">Posted on</span> <span class="author vcard">'
         '<a class="url fn">Rhona Gill</a></span>', ["Rhona Gill"]),
        # a bio under an "author" class is not a byline
        ("", '<p class="author-bio">Writes about the coast, ferries and fishing, and has '
         'lived in the harbour town for twenty years.</p>', []),
        # a theme's main column called "sidebar" still holds the article's byline...
        ("", '<div id="sidebar"><h1>Ferry fares rise</h1><span class="author">Rhona Gill'
         '</span></div>', ["Rhona Gill"]),
        # ... a real sidebar does not
        ("", '<h1>Ferry fares rise</h1><div id="sidebar"><span class="author">Rhona Gill'
         '</span></div>', []),
        # a blogger declared both Person and Organization (Yoast) is a person
        (_ld({"@graph": [
            {"@type": "BlogPosting", "headline": "Ferry fares rise",
             "author": {"@id": "#me"}},
            {"@type": ["Person", "Organization"], "@id": "#me", "name": "Rhona Gill"}]}),
         "", ["Rhona Gill"]),
        # an organisation is not an author
        (_ld({"@type": "NewsArticle", "author": {"@type": "Organization",
                                                 "name": "Harbour Media Group"}}),
         "", []),
        # an editorial team from structured data gives way to a person in the markup
        (_ld({"@type": "NewsArticle", "author": {"@type": "Person", "name": "Redaktion"}}),
         '<p class="byline">By Rhona Gill</p>', ["Rhona Gill"]),
        ('<meta name="author" content="Redaktion">', "", ["Redaktion"]),
        # any element whose class names an author (trafilatura's last resort)...
        ("", '<h5 class="field--name-field-term-author">Christian Mihatsch</h5>',
         ["Christian Mihatsch"]),
        # ... but not a label beside it
        ("", '<div><span class="AuthorBlockLabel">Quelle:</span> Livenet</div>', []),
        # a <byline> element, and one whose data-testid names a byline
        ("", "<byline>Von David Hutzler, dpa</byline>", ["David Hutzler"]),
        ("", '<div data-testid="prism-byline"><a href="/about/newsteam/j-r-stone">J.R. Stone'
         "</a> <span>Thursday, November 9, 2023 7:35AM</span></div>", ["J.R. Stone"]),
        # bylines known only by their label, in a short block
        ("", "<p><em>Von <span>Cosima Künzel</span></em></p>", ["Cosima Künzel"]),
        ("", "<p><strong>Text:</strong> Klausmartin Friedrich</p>", ["Klausmartin Friedrich"]),
        ("", '<div><span class="label">Datum:</span> 19.11.2021<br><span class="label">Autor:'
         '</span> Fritz Imhof<br><span class="label">Quelle:</span> Livenet</div>',
         ["Fritz Imhof"]),
        ("", "<h5><em>Von Leonora Holling, Quelle: Verbraucherdienst</em></h5>",
         ["Leonora Holling"]),
        # ... not a preposition in prose, a menu link, a photo credit or the site's footer
        ("", "<p>Die Fähre fährt von Helsingborg nach Göteborg.</p>", []),
        ("", "<h3>Von der Theorie</h3>", []),
        ("", '<nav><ul><li><a href="/author/s">Author: Stefanie Krügl</a></li></ul></nav>', []),
        ("", '<span class="video-credit">By Harbour Ferry Company</span>', []),
        ("", "<footer><h2>Redaktion Kyffhäuser-Kreis</h2></footer>", []),
        # the site among the authors is dropped, the person it names kept
        ('<meta property="og:site_name" content="Coast Herald">'
         '<meta name="author" content="Coast Herald and Rhona Gill">', "", ["Rhona Gill"]),
        # last of all, a link to an author's page...
        ("", '<p><a href="https://www.coastherald.com/author/rhona-gill/">Rhona Gill</a></p>',
         ["Rhona Gill"]),
        # ... or to a staff member's page, when its text is a name
        ("", '<p><a href="/staff/rhona-gill/">Rhona Gill</a></p>', ["Rhona Gill"]),
        ("", '<p><a href="/staff/our-team/">Our Team</a></p>', []),  # not a name
        ("", '<p><a href="/staff/rhona-gill/">Contact Us</a></p>', []),  # not the page's name
        ("", '<p><a href="/staff/masthead/">Masthead</a></p>', []),  # one word: a page
        ("", '<p><a href="/staff/priya-das/">Priya Das</a></p>', ["Priya Das"]),
        # ... but not one in the site's menu or footer, nor the list of all authors
        ("", '<footer><a href="/author/rhona-gill">Rhona Gill</a></footer>', []),
        ("", '<p><a href="/authors/">Our Writers</a></p>', []),
        ("", '<p><a href="/staff/directory">Staff directory</a></p>', []),
        # a login name from structured data, spelt as a later byline writes it
        ('<meta name="author" content="rhona_gill">', '<p class="byline">By Rhona Gíll</p>',
         ["Rhona Gíll"]),
        ('<meta name="author" content="rgill">', '<p class="byline">By Rhona Gill</p>',
         ["rgill"]),  # not the same letters: no guess
        ('<meta name="author" content="rhonagill, dpa">', '<p class="byline">By Rhona Gill</p>',
         ["Rhona Gill"]),  # her full name given, the agency beside it goes
        # structured data's name in the case the page shows it in
        (_ld({"@type": "NewsArticle", "author": {"@type": "Person", "name": "Rhona Gill"}}),
         '<p class="story-meta">By <a href="/staff/rhona-gill">RHONA GILL</a></p>',
         ["RHONA GILL"]),
        ('<meta name="author" content="rhona gill">', "<p>By Rhona Gill</p>", ["Rhona Gill"]),
        # a Spanish or German "autor" class; a relative date after the name is no name
        ("", '<div class="autor"><h6>Jacobo Betancur Peláez | Publicado hace 3 horas</h6></div>',
         ["Jacobo Betancur Peláez"]),
        ("", '<span class="autor">Rhona Gill, vor 2 Stunden</span>', ["Rhona Gill"]),
        # the kind of piece before the label
        ("", "<p><strong>Eine Kolumne von Nils Pickert</strong></p>", ["Nils Pickert"]),
        ("", "<p><em>A column by Rhona Gill</em></p>", ["Rhona Gill"]),
        ("", "<p><em>A column by the sea</em></p>", []),
        # a comment section with its own <h1> is still comments
        ("", '<div id="comments"><h1 class="comments-title">3 Kommentare</h1>'
         "<p>Von Hans Müller</p></div>", []),
        # a labelled name with the author's role after a comma
        ("", "<p><strong>Autorin: Uta Staschewski, Projektleiterin der HSS in Tunesien."
         "</strong></p>", ["Uta Staschewski"]),
        ("", "<p>Von Berlin, der Hauptstadt, fährt die Fähre nicht.</p>", []),
        # "Text & Fotos:" is a label, the name after it the author
        ("", '<td class="authorbold">Text &amp; Fotos: Ivan Valetny</td>', ["Ivan Valetny"]),
        # a date before the label; without a label come sections, places and calendars
        ("", "<h2>Stars <span>06.11.2023 13:30 von Olga </span></h2>", ["Olga"]),
        ("", "<p>12.03.2024 | Von Anna Berg</p>", ["Anna Berg"]),
        ("", '<div class="field-name-field-datum">25.10.2022 - Reiner Nagel</div>', []),
        ("", "<p>02.11.2022 - Placebo - Stadthalle</p>", []),
        ("", '<p class="meta">12.03.2024 | Region Hannover</p>', []),
        ("", "<p>11.12.2019 - Bad Homburg</p>", []),
        # names in comments, photo credits and quotes, in Spanish and German markup
        ("", '<p>Por Juan García</p><div class="comentarios"><span class="autor">Pepe Martínez'
         "</span></div>", ["Juan García"]),
        ("", '<p>Von Anna Schmidt</p><div class="kommentar"><span class="autor">Klaus Meier'
         "</span></div>", ["Anna Schmidt"]),
        ("", '<p>Por Juan García</p><span class="foto-autor">Marta Pérez</span>', ["Juan García"]),
        ("", '<div class="cita"><p>La imaginación es más importante que el conocimiento.</p>'
         '<span class="autor">Albert Einstein</span></div>', []),
        # prose and subjects that look like a label and a name
        ("", "<p>By Christmas Eve, the shelters in the harbour town were full again.</p>", []),
        ("", "<p><strong>Interview de Marine Le Pen</strong></p>", []),
        ("", "<h2>Analyse von Wahlumfragen</h2>", []),
        ("", "<p>Beitrag von Mitgliedern und Freunden</p>", []),
        # a sidebar with the site's title in an <h1> is still a sidebar
        ("", '<aside class="sidebar"><h1 class="site-title">Coast Herald</h1>'
         "<p>Von Peter Braun</p></aside>", []),
        # the label's own words are not taken for the next label; dates after the name go
        ("", "<p>Text &amp; Fotos: Ivan Valetny</p>", ["Ivan Valetny"]),
        ("", "<p><strong>Text und Bild:</strong> Anna Schmidt</p>", ["Anna Schmidt"]),
        ("", '<span class="byline">Par Marie Dupont il y a 3 heures</span>', ["Marie Dupont"]),
        ("", "<p>Von Anna Berg, vor 2 Stunden</p>", ["Anna Berg"]),
        ("", "<p><em>Von Anna Berg, 3. Mai 2024</em></p>", ["Anna Berg"]),
        # an author box too long for a byline: the name in its heading, not its bio
        ("", '<div class="author-bio"><h3>Martin Junker</h3><p>Martin berät seit zwanzig '
         "Jahren Unternehmen bei der Finanzierung von Firmenwagen und schreibt darüber.</p>"
         "</div>", ["Martin Junker"]),
        ("", '<div class="author-box"><h4>Unser Newsletter</h4><p>Jede Woche die besten '
         "Geschichten aus dem Hafen, den Fähren und der Fischerei direkt ins Postfach.</p>"
         "</div>", []),
        ("", '<div class="author-box"><h4>Latest Posts</h4><ul><li>Ferry fares rise again this '
         "spring</li><li>Harbour bridge reopens after repairs</li><li>Fishing quotas cut</li>"
         '</ul><a href="/posts">View All Posts</a></div>', []),
        # ... not a list of the author's posts, nor a wrapper that has an author box
        ("", '<p><em>Von Anna Schmidt</em></p><div class="more-author-posts"><h4>Hamburger '
         "Hafen</h4><p>Der Hamburger Hafen schlägt wieder mehr Container um als im Jahr davor, "
         "meldet die Hafenbehörde.</p></div>", ["Anna Schmidt"]),
        ("", '<div class="has-author-box"><p><em>Von Anna Schmidt</em></p><h2>Deutsche Bahn</h2>'
         "<p>Die Deutsche Bahn erhöht die Preise im Fernverkehr zum Fahrplanwechsel wieder, "
         "teilte das Unternehmen mit.</p></div>", ["Anna Schmidt"]),
        # co-authors with an element each, side by side (WordPress's Co-Authors Plus)...
        ("", '<p class="byline">By <span class="author vcard"><a class="url fn n" rel="author" '
         'href="/author/ana-lima/">Ana Lima</a></span> and <span class="author vcard"><a class='
         '"url fn n" rel="author" href="/author/joe-bloggs/">Joe Bloggs</a></span></p>',
         ["Ana Lima", "Joe Bloggs"]),
        ("", '<div class="byline"><span class="author-name">Ana Lima</span>, <span class='
         '"author-name">Joe Bloggs</span> und <span class="author-name">Tom Decker</span></div>',
         ["Ana Lima", "Joe Bloggs", "Tom Decker"]),
        # ... not names apart in the page, a list without separators, a category link, an
        # editor or a photographer beside the author
        ("", '<p>By <a rel="author" href="/author/ana-lima/">Ana Lima</a>, <a rel="category tag" '
         'href="/world/">World</a></p>', ["Ana Lima"]),
        ("", '<p><span class="byline">By Ana Lima</span> &amp; <span class="byline">Edited by Joe '
         "Bloggs</span></p>", ["Ana Lima"]),
        ("", '<p><span class="autor">Ana Lima</span> y <span class="autor">Fotografía: Joe Bloggs'
         "</span></p>", ["Ana Lima"]),
        ("", '<span class="author-name">Ana Lima</span><p>The ferry left at dawn.</p>'
         '<span class="author-name">Joe Bloggs</span>', ["Ana Lima"]),
        ("", '<ul class="list"><li class="author">Ana Lima</li><li class="author">Joe Bloggs</li>'
         "</ul>", ["Ana Lima"]),
        # a media licence's author is a photo credit
        ("", '<span class="media-license-author">zvg</span>', []),
    ],
)
def test_authors(head: str, body: str, expected: list[str]) -> None:
    assert _authors(head, body) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-03-14T09:30:00+01:00", "2026-03-14T09:30:00+01:00"),
        ("2026-03-14T09:30:00.123Z", "2026-03-14T09:30:00+00:00"),
        ("2026-03-14 09:30", "2026-03-14T09:30:00"),
        ("2026-03-14", "2026-03-14"),
        ("20260314", "2026-03-14"),
        ("Sat, 14 Mar 2026 09:30:00 GMT", "2026-03-14T09:30:00+00:00"),
        ("2026-03-14T25:99", "2026-03-14"),
        (["2026-01-02"], "2026-01-02"),
        ("\u09e8\u09e6\u09e8\u09e6-\u09e6\u09ee-\u09e8\u09ef", "2020-08-29"),  # Bengali digits
        ("2026-13-45", None),
        ("yesterday", None),
        (None, None),
        (1234, None),
    ],
)
def test_normalize_date(raw: object, expected: str | None) -> None:
    assert normalize_date(raw) == expected


# --- titles --------------------------------------------------------------------------------


def _page(head: str, body: str) -> str:
    prose = "<p>" + "A sentence of ordinary article prose for the extractor to keep. " * 12 + "</p>"
    return f"<html><head>{head}</head><body>{body}<article>{prose * 3}</article></body></html>"


@pytest.mark.parametrize(
    ("head", "body", "expected"),
    [
        # the <h1> is one part of "Headline | Section | Site"
        ("<title>Ferry Fares Rise Again | Local | Coast Herald</title>",
         "<h1>Ferry Fares Rise Again</h1>", "Ferry Fares Rise Again"),
        # no <h1>: the site's name (og:site_name) is cut off either end
        ('<title>Coast Herald: Ferry Fares Rise Again</title>'
         '<meta property="og:site_name" content="Coast Herald">', "", "Ferry Fares Rise Again"),
        # ... or the host's name when no site name is declared
        ("<title>Ferry Fares Rise Again - Coastherald.com</title>", "",
         "Ferry Fares Rise Again"),
        # <title> only names the site: the <h1> is the headline
        ('<title>Coast Herald</title><meta property="og:site_name" content="Coast Herald">',
         "<h1>Ferry Fares Rise Again</h1>", "Ferry Fares Rise Again"),
        # the shown headline rewords the SEO one
        ('<meta property="og:title" content="Ferry fares: operator raises prices again">',
         "<h1>Ferry operator raises fares again</h1>", "Ferry operator raises fares again"),
        # an <h1> that adds a section name to the headline does not replace it
        ("<title>Ferry Fares Rise Again</title>", "<h1>Local | Ferry Fares Rise Again</h1>",
         "Ferry Fares Rise Again"),
        # a logo in the <h1> is not a headline
        ('<title>Ferry Fares Rise Again | Coast Herald</title>',
         "<h1>Coast Herald</h1>", "Ferry Fares Rise Again"),
    ],
)
def test_title(head: str, body: str, expected: str) -> None:
    article = extract_article(_page(head, body), "https://www.coastherald.com/news/ferry")
    assert article is not None and article.title == expected


# --- publication dates ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "body", "expected"),
    [
        # a UTC timestamp written in the publisher's offset elsewhere: the publisher's day
        (_ld({"@type": "NewsArticle", "datePublished": "2023-11-09T02:11:03+00:00"}),
         '<time datetime="2023-11-08T21:11:03-05:00">Nov 8, 9:11 pm</time>',
         "2023-11-08T21:11:03-05:00"),
        # ... a different instant in another offset is not the same timestamp
        (_ld({"@type": "NewsArticle", "datePublished": "2023-11-09T02:11:03+00:00"}),
         '<time datetime="2023-11-08T20:00:00-05:00">Nov 8, 8:00 pm</time>',
         "2023-11-09T02:11:03+00:00"),
        # a local timestamp whose UTC day is htmldate's (it read a UTC <meta>) stays local
        (_ld({"@type": "NewsArticle", "datePublished": "2020-12-25T01:59:50+02:00"})
         + '<meta property="article:published_time" content="2020-12-24T23:59:50+00:00">', "",
         "2020-12-25T01:59:50+02:00"),
        # a declared timestamp (that htmldate cannot parse) beats a day found in the text
        (_ld({"@type": "NewsArticle", "datePublished": "Tue, Sep 15 2020 10:01:41 EDT"}),
         "<p>The shop has been closed since May 20, 2020.</p>", "2020-09-15T10:01:41-04:00"),
        # publication after the last modification (a scheduled post) stays the publication
        (_ld({"@type": "NewsArticle", "datePublished": "2022-01-28T08:20:11+00:00",
              "dateModified": "2022-01-27T16:58:24+00:00"}), "", "2022-01-28T08:20:11+00:00"),
    ],
)
def test_published(head: str, body: str, expected: str) -> None:
    article = extract_article(_page(head, body), "https://www.coastherald.com/news/ferry")
    assert article is not None and article.published == expected


def test_an_error_page_served_with_200_is_no_article() -> None:
    latest = "".join(f"<p>Story {n}: the council approved the harbour budget after a long "
                     "debate about ferry fares and the new port fees.</p>" for n in range(8))
    page = ("<!doctype html><html lang=en><head><title>Page not found | The Gazette</title>"
            f"</head><body><main><h1>Sorry, this page could not be found</h1>{latest}</main>"
            "</body></html>")
    assert extract_article(page, "https://gazette.example/news/gone.html") is None
    article = extract_article(page.replace("Page not found", "Harbour budget")
                              .replace("Sorry, this page could not be found", "Latest"),
                              "https://gazette.example/news/kept.html")
    assert article is not None and "harbour budget" in article.text
