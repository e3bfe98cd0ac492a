"""The words of support measures: the 20 regions, firm sizes and sectors, with their aliases, and
recognising them in a question's free text."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.measures import places
from bot.measures.text import fold

# The 20 ISTAT regions, spelled as incentivi.gov.it writes them (the bilingual names included).
REGIONS: tuple[str, ...] = (
    "Abruzzo", "Basilicata", "Calabria", "Campania", "Emilia-Romagna", "Friuli-Venezia Giulia", "Lazio",
    "Liguria", "Lombardia", "Marche", "Molise", "Piemonte", "Puglia", "Sardegna", "Sicilia", "Toscana",
    "Trentino-Alto Adige/Südtirol", "Umbria", "Valle d'Aosta/Vallée d'Aoste", "Veneto",
)
# A measure open in every region is stored with this one marker instead of the 20 names.
NATIONAL = "Tutta Italia"

# Other names people and catalogues use for a region. The autonomous provinces of Bolzano and Trento
# map to their region: the catalogue itself lists them both as "Trentino-Alto Adige/Südtirol".
_REGION_ALIASES: dict[str, tuple[str, ...]] = {
    "Abruzzo": ("abruzzi",),
    "Basilicata": ("lucania",),
    "Emilia-Romagna": ("emilia romagna", "emilia", "romagna"),
    "Friuli-Venezia Giulia": ("friuli venezia giulia", "friuli", "fvg", "venezia giulia"),
    "Lazio": ("latium",),
    "Lombardia": ("lombardy",),
    "Piemonte": ("piedmont",),
    "Puglia": ("puglie", "apulia"),
    "Sardegna": ("sardinia",),
    "Sicilia": ("sicily",),
    "Toscana": ("tuscany",),
    "Trentino-Alto Adige/Südtirol": (
        "trentino alto adige", "trentino alto adige sudtirol", "trentino sudtirol", "trentino", "alto adige",
        "sudtirol", "sud tirol", "south tyrol", "provincia autonoma di bolzano", "provincia autonoma di trento",
        "provincia di bolzano", "provincia di trento", "bolzano", "bozen", "trento", "p a bolzano", "p a trento",
    ),
    "Valle d'Aosta/Vallée d'Aoste": ("valle d aosta", "vallee d aoste", "val d aosta", "aosta valley"),
}
_NATIONAL_ALIASES = ("tutta italia", "italia", "italy", "nazionale", "national", "tutto il territorio nazionale",
                     "all of italy", "whole of italy")

_REGION_LOOKUP: dict[str, str] = {fold(name): name for name in REGIONS}
_REGION_LOOKUP.update({fold(alias): name for name, aliases in _REGION_ALIASES.items() for alias in aliases})
_REGION_LOOKUP.update({fold(alias): NATIONAL for alias in _NATIONAL_ALIASES})


def region(name: str) -> str | None:
    """The canonical name of a region (any case, accents or common alias), NATIONAL, or None."""
    return _REGION_LOOKUP.get(fold(name))


@dataclass(frozen=True)
class Size:
    """A firm size: canonical id, labels, and what people call it."""

    id: str
    it: str
    en: str
    aliases: tuple[str, ...]


# The EU size classes as the catalogue names them. The catalogue's "Non classificabile/classificato"
# (public bodies, research institutes, associations: applicants with no firm size) is kept as its own
# id rather than dropped, because it tells who else may apply.
SIZES: tuple[Size, ...] = (
    Size("micro", "Microimpresa", "Micro-enterprise",
         ("microimpresa", "microimprese", "micro impresa", "micro imprese", "micro", "micro enterprise",
          "microenterprise", "micro business", "micro company")),
    Size("piccola", "Piccola impresa", "Small enterprise",
         ("piccola impresa", "piccole imprese", "piccola", "piccola impresa escluse microimprese", "small",
          "small enterprise", "small business", "small company")),
    Size("media", "Media impresa", "Medium-sized enterprise",
         ("media impresa", "medie imprese", "media", "medium", "medium sized", "medium enterprise",
          "medium sized enterprise")),
    Size("grande", "Grande impresa", "Large enterprise",
         ("grande impresa", "grandi imprese", "grande", "large", "large enterprise", "large company")),
    Size("non-classificabile", "Non classificabile (soggetti senza dimensione d'impresa)",
         "Not classifiable (applicants with no firm size)",
         ("non classificabile", "non classificabile classificato", "non classificato",
          "non classificabile soggetto pubblico", "not classifiable", "non classificabile")),
)
SIZE_IDS: tuple[str, ...] = tuple(s.id for s in SIZES)
# PMI / SME: the EU definition (Recommendation 2003/361) includes micro-enterprises.
SME: frozenset[str] = frozenset({"micro", "piccola", "media"})

_SIZE_LOOKUP: dict[str, str] = {fold(s.id): s.id for s in SIZES}
_SIZE_LOOKUP.update({fold(alias): s.id for s in SIZES for alias in (s.it, s.en, *s.aliases)})


def size(name: str) -> str | None:
    """The canonical id of a firm size ('Microimpresa', 'small', 'Piccola Impresa'...), or None."""
    return _SIZE_LOOKUP.get(fold(name))


def size_label(size_id: str, lang: str = "it") -> str:
    """The label of a size id in Italian or English (the id itself if unknown)."""
    found = next((s for s in SIZES if s.id == size_id), None)
    if found is None:
        return size_id
    return found.en if lang == "en" else found.it


# The catalogue's sectors (zm_field_activity_sector_value), verbatim, with the words that point to
# them in a question. Patterns are regular expressions over folded text (see `fold`).
# Only words that name what a business *does*: "software" or "rifiuti" more often name what it wants
# to buy or fix, and a sector read wrongly would hide measures from the answer.
SECTORS: dict[str, tuple[str, ...]] = {
    "Agricoltura, silvicoltura e pesca": (
        r"agricol[aoei]", r"agricoltura", r"agricoltor[ei]", r"silvicoltura", r"pesca", r"pescator[ei]",
        r"allevament[oi]", r"agriculture", r"farm(?:s|ing|ers?)?", r"fishing", r"forestry"),
    "Agroalimentare": (r"agroalimentar[ei]", r"(?:settore|industria|prodotti|impres[ae]|aziend[ae]) alimentar[ei]",
                       r"agrifood", r"agri food", r"food"),
    "Alberghiero": (r"alberg(?:o|hi|hier[oaei])", r"hotels?", r"strutture? ricettiv[ae]", r"bed and breakfast",
                    r"b b"),
    "Altri servizi": (r"altri servizi",),
    "Artigianato": (r"artigian[oaei]", r"artigianato", r"artigianal[ei]", r"crafts?", r"artisans?"),
    "Autoveicoli e altri mezzi di trasporto": (r"autoveicol[oi]", r"automotive"),
    "Chimica e Farmaceutica": (r"chimic[aoih]e?", r"farmaceutic[aoih]e?", r"pharma\w*", r"chemicals?"),
    "Commercio": (r"commercio", r"commerciant[ei]", r"negozi(?:o)?", r"negoziett[oi]", r"retail(?:ers?)?", r"shops?"),
    "Cultura": (r"cultura(?:le|li)?", r"cultural", r"spettacol[oi]", r"cinema", r"musei?", r"museums?"),
    "Edilizia": (r"edilizia", r"edil[ei]", r"costruzioni", r"construction"),
    "Elettronica": (r"elettronic[aoh]e?", r"electronics?"),
    "Fornitura Energia, Acqua e gestione Rifiuti": (
        r"multiutility", r"utilit(?:y|ies)", r"settore (?:dei )?rifiuti", r"fornitura di (?:energia|acqua)"),
    "ICT": (r"ict", r"software house", r"(?:aziend[ae]|impres[ae]|settore|societa) informatic[aoh]e?",
            r"telecomunicazioni"),
    "Meccanica": (r"meccanic[aoh]e?", r"metalmeccanic[aoh]e?", r"mechanics?", r"mechanical"),
    "Metallurgia": (r"metallurgi[ac]\w*", r"siderurgi[ac]\w*", r"metalmeccanic[aoh]e?", r"steel", r"metallurgy"),
    "Mobili, Legno e Carta": (r"mobili", r"arredamento", r"arredo", r"legno", r"cartari[aoe]", r"furniture",
                              r"wood"),
    "Moda e Tessile": (r"moda", r"tessil[ei]", r"abbigliamento", r"calzatur\w*", r"fashion", r"textiles?",
                       r"clothing"),
    "Ristorazione": (r"ristorazione", r"ristorant[ei]", r"ristorator[ei]", r"bar", r"pizzeri[ae]",
                     r"restaurants?", r"catering"),
    "Salute": (r"salute", r"sanita", r"sanitari[oaei]", r"health(?:care)?", r"medical"),
    "Turismo": (r"turismo", r"turistic[aoh]e?", r"tourism", r"tourist"),
    "Servizi di trasporto": (r"trasport[oi]", r"autotrasport[oi]", r"logistica", r"logistics", r"transport"),
}
_SECTOR_LOOKUP: dict[str, str] = {fold(name): name for name in SECTORS}

# Who applies, when it is not a firm on its own: the catalogue's applicant types
# (zm_field_subject_type_value), verbatim, with the words that name them in a question. A freelancer
# is no "Impresa" to most calls, and a network of firms applies as one ("contratto di rete").
# Most of these words also name others than the user ("i professionisti del brevetto", "in
# collaborazione con l'università", "la mia associazione di categoria"), so they count only as the
# user's own description: at the start of the message, or after "sono", "siamo", "come", "per", "we
# are", "as a", "for"… Patterns are regular expressions over folded text.
_AS_SELF = (r"(?:^|(?:sono|siamo|come|in qualita di|per|we are|we re|i am|i m|as|for) "
            r"(?:(?:un|una|uno|l|la|il|le|i|gli|a|an|the) )?)")
APPLICANTS: dict[str, tuple[str, ...]] = {
    "Professionista": (r"liber[oaie] professionist[aie]", r"lavorator[ei] autonom[oi]",
                       _AS_SELF + r"(?:professionist[aie]|freelancer?s?|self employed)"),
    "Rete d'impresa": (r"ret[ei] d impres[ae]", r"ret[ei] di (?:\d+ |\w+ )?imprese", r"contratt[oi] di rete",
                       r"networks? of (?:\d+ |\w+ )?(?:firms|companies|businesses|enterprises)",
                       r"business networks?"),
    "Consorzio": (_AS_SELF + r"(?:consorzi[oa]?|consortium|consortia)",),
    "Cooperative/Associazioni Non Profit": (
        _AS_SELF + r"(?:cooperativ[ae]|associazion[ei]|onlus|ente del terzo settore|non profit|cooperatives?"
                   r"|associations?|charit(?:y|ies))",),
    "Università/Ente di Ricerca": (
        _AS_SELF + r"(?:universita|ent[ei] di ricerca|universit(?:y|ies)"
                   r"|research (?:institutes?|centres?|centers?|organisations?))",),
}


def sector(name: str) -> str | None:
    """The catalogue's name of a sector written in any case or accents, or None."""
    return _SECTOR_LOOKUP.get(fold(name))


# --- Recognising them in a question -------------------------------------------------------------

# Adjectives and a few cities (regional capitals, and the Tuscan provinces: Sportello serves Tuscany)
# pointing to a region. Words that are also common nouns ("potenza", "aquila", "massa") are left out.
_REGION_WORDS: dict[str, tuple[str, ...]] = {
    "Abruzzo": (r"abruzzes[ei]", r"pescara", r"l aquila"),
    "Basilicata": (r"lucan[oaei]", r"matera"),
    "Calabria": (r"calabres[ei]", r"calabrian", r"catanzaro", r"reggio calabria", r"cosenza"),
    "Campania": (r"campan[oaei]", r"campanian", r"napoli", r"naples", r"napoletan[oaei]", r"salerno", r"caserta"),
    "Emilia-Romagna": (r"emilian[oaei]?", r"romagnol[oaei]", r"bologna", r"modena", r"parma", r"rimini"),
    "Friuli-Venezia Giulia": (r"friulan[oaei]", r"friulian", r"trieste", r"udine", r"pordenone", r"gorizia"),
    "Lazio": (r"lazial[ei]", r"roma", r"rome", r"roman[oaei]"),
    "Liguria": (r"ligur[ei]", r"ligurian", r"genova", r"genoa", r"la spezia", r"savona"),
    "Lombardia": (r"lombard[oaei]", r"lombard", r"milano", r"milan", r"milanes[ei]", r"bergamo", r"brescia"),
    "Marche": (r"marchigian[oaei]", r"ancona", r"pesaro", r"macerata"),
    "Molise": (r"molisan[oaei]", r"campobasso", r"isernia"),
    "Piemonte": (r"piemontes[ei]", r"piedmontese", r"torino", r"turin", r"torines[ei]", r"cuneo"),
    "Puglia": (r"puglies[ei]", r"apulian", r"bari", r"lecce", r"foggia", r"taranto", r"brindisi"),
    "Sardegna": (r"sard[oaei]", r"sardinian", r"cagliari", r"sassari"),
    "Sicilia": (r"sicilian[oaei]", r"sicilian", r"palermo", r"catania", r"messina"),
    "Toscana": (r"toscan[oaei]", r"tuscan", r"firenze", r"florence", r"fiorentin[oaei]", r"arezzo",
                r"grosseto", r"livorno", r"lucca", r"massa carrara", r"carrara", r"pisa", r"pistoia", r"prato",
                r"siena"),
    # Both autonomous provinces' names are in _REGION_ALIASES; here their people and main towns, in
    # Italian and German ("Südtiroler", "Meran"), since many firms there write German.
    "Trentino-Alto Adige/Südtirol": (r"trentin[oaei]", r"alto ?atesin[oaei]", r"sud ?tirol(?:o|ese|esi|er|ern)",
                                     r"rovereto", r"merano", r"meran", r"bressanone", r"brixen"),
    "Umbria": (r"umbr[oaei]", r"umbrian", r"perugia", r"terni"),
    "Valle d'Aosta/Vallée d'Aoste": (r"valdostan[oaei]", r"aostan[oaei]", r"aosta"),
    "Veneto": (r"venet[oaei]", r"venetian", r"venezia", r"venice", r"padova", r"padua", r"verona", r"vicenza", r"treviso"),
}
_NATIONAL_WORDS = (r"tutta italia", r"nazional[ei]", r"national", r"nationwide", r"all of italy",
                   r"whole of italy", r"tutto il territorio nazionale")


def _alternation(patterns: list[str]) -> re.Pattern[str]:
    # Longest first, so "emilia romagna" wins over "emilia"; \b keeps words whole.
    ordered = sorted(set(patterns), key=len, reverse=True)
    return re.compile(r"\b(?:" + "|".join(ordered) + r")\b")


# One scan over every region word, longest alternative first, so "friuli venezia giulia" is read
# whole and its "venezia" never counts for Veneto.
_REGION_WORD_LIST: list[tuple[str, str]] = sorted(
    [(re.escape(fold(name)), name) for name in REGIONS]
    + [(re.escape(fold(alias)), name) for name, aliases in _REGION_ALIASES.items() for alias in aliases]
    + [(word, name) for name, words in _REGION_WORDS.items() for word in words]
    + [(word, NATIONAL) for word in _NATIONAL_WORDS],
    key=lambda pair: len(pair[0]), reverse=True,
)
_REGION_SCAN = re.compile(r"\b(?:" + "|".join(f"({word})" for word, _ in _REGION_WORD_LIST) + r")\b")
# "Marche" is also "brands" and, in "marche da bollo", revenue stamps.
_NOT_A_REGION = re.compile(r"\bmarche da bollo\b|\bmarche (?:e|o) brevetti\b|\bregistrare (?:le )?marche\b")

_SIZE_PATTERNS: dict[str, re.Pattern[str]] = {
    # "Very small enterprise" is the EU's English for a micro-enterprise; "tiny firm" says the same.
    "micro": _alternation([r"micro ?impres[ae]", r"micro ?aziend[ae]", r"micro", r"micro ?enterprises?",
                           r"micro ?business(?:es)?", r"micro ?compan(?:y|ies)", r"micro ?firms?",
                           r"piccolissim[ae] ?(?:impres[ae]|aziend[ae])",
                           r"(?:very small|tiny) (?:business(?:es)?|compan(?:y|ies)|firms?|enterprises?)"]),
    "piccola": _alternation([r"piccol[ae] ?(?:impres[ae]|aziend[ae])", r"piccol[ae] e micro impres[ae]",
                             r"(?<!very )small (?:business(?:es)?|compan(?:y|ies)|firms?|enterprises?)"]),
    "media": _alternation([r"medi[ae] ?(?:impres[ae]|aziend[ae])",
                           r"medium(?: sized)? (?:business(?:es)?|compan(?:y|ies)|firms?|enterprises?)"]),
    "grande": _alternation([r"grand[ei] ?(?:impres[ae]|aziend[ae])",
                            r"large (?:business(?:es)?|compan(?:y|ies)|firms?|enterprises?)"]),
}
# A headcount names a size too ("ho 4 dipendenti", "we have 120 employees"): the EU definition
# (Recommendation 2003/361, art. 2) puts fewer than 10 persons in a micro-enterprise, fewer than 50 in
# a small one and fewer than 250 in a medium-sized one. Turnover counts too, and the question does not
# say it, so the headcount only says which class the firm is in by staff, as a user naming it would.
# From two: "un dipendente", "a worker" are as often the user ("sono un dipendente") as a headcount.
# Number words in both languages, by value: the headcount below reads them, and the word bridge
# (bot/search/bridge.py) turns an English one into the Italian one ("ten years" -> "dieci anni").
NUMBERS_ITALIAN: dict[str, int] = {
    **{w: n for n, w in enumerate("zero uno due tre quattro cinque sei sette otto nove dieci undici dodici tredici "
                                  "quattordici quindici sedici diciassette diciotto diciannove venti".split())},
    "trenta": 30, "quaranta": 40, "cinquanta": 50, "cento": 100, "mille": 1000,
}
NUMBERS_ENGLISH: dict[str, int] = {
    **{w: n for n, w in enumerate("zero one two three four five six seven eight nine ten eleven twelve thirteen "
                                  "fourteen fifteen sixteen seventeen eighteen nineteen twenty".split())},
    "thirty": 30, "forty": 40, "fifty": 50, "hundred": 100, "thousand": 1000,
}
_NUMBER_WORDS: dict[str, int] = {w: n for w, n in (*NUMBERS_ITALIAN.items(), *NUMBERS_ENGLISH.items())
                                 if 2 <= n <= 100}
STAFF_WORDS = r"(?:dipendent[ei]|addett[oi]|lavorator[ei]|employees?|staff|workers?|persone in organico)\b"
_HEADCOUNT = re.compile(
    r"\b(?:(assumere|assumo|assumiamo|assunzion[ei] di|hire|hiring|recruit(?:ing)?|cerco|cerchiamo|looking for) )?"
    r"(\d{1,6}|" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True)) + r") "
    r"(?:(?:full time|part time|fissi|stabili) )?" + STAFF_WORDS)
_HEADCOUNT_CLASSES = ((10, "micro"), (50, "piccola"), (250, "media"))


def headcount_size(folded: str) -> str | None:
    """The size class of the firm a question describes by its headcount ("4 dipendenti" -> "micro"),
    from folded text; None when it gives no headcount, or gives one to hire ("assumere 3 dipendenti")."""
    for match in _HEADCOUNT.finditer(folded):
        if match.group(1):
            continue
        count = int(match.group(2)) if match.group(2).isdigit() else _NUMBER_WORDS[match.group(2)]
        if count == 0:
            continue
        return next((size_id for limit, size_id in _HEADCOUNT_CLASSES if count < limit), "grande")
    return None


# "PMI" and its expansions name the three SME classes at once; "micro, piccole e medie" too.
_SME_PATTERN = _alternation([r"pmi", r"mpmi", r"smes?", r"piccole e medie", r"piccola e media",
                             r"micro piccole e medie", r"small and medium(?: sized)?"])

_SECTOR_PATTERNS: dict[str, re.Pattern[str]] = {name: _alternation(list(words)) for name, words in SECTORS.items()}
_APPLICANT_PATTERNS: dict[str, re.Pattern[str]] = {name: _alternation(list(words)) for name, words in APPLICANTS.items()}


@dataclass(frozen=True)
class Mentions:
    """Regions, firm sizes, sectors and applicant types named in a text (canonical names and ids)."""

    regions: frozenset[str] = frozenset()
    sizes: frozenset[str] = frozenset()
    sectors: frozenset[str] = frozenset()
    applicants: frozenset[str] = frozenset()


def mentions(text: str) -> Mentions:
    """Recognise regions (names, adjectives, towns), sizes, sectors and applicant types named in `text`."""
    folded = fold(text)
    plain = _NOT_A_REGION.sub(" ", folded)
    found = [match for match in _REGION_SCAN.finditer(plain) if match.lastindex]
    regions = {_REGION_WORD_LIST[match.lastindex - 1][1] for match in found}
    # Then any other town (places.py), outside what the region scan read: the "venezia" of
    # "friuli venezia giulia" is no town.
    rest, end = [], 0
    for match in found:
        rest.append(plain[end:match.start()])
        end = match.end()
    regions |= places.regions_in(" # ".join(rest + [plain[end:]]))
    sizes = {size_id for size_id, pattern in _SIZE_PATTERNS.items() if pattern.search(folded)}
    # "Piccola impresa" is how most micro-enterprises describe themselves too (a legal class is not
    # what people mean by it): a micro-enterprise call is theirs to check, and its card says for whom.
    # A headcount (below) is exact and adds only its own class.
    if "piccola" in sizes:
        sizes.add("micro")
    if _SME_PATTERN.search(folded):
        sizes |= SME
    if (by_staff := headcount_size(folded)) is not None:
        sizes.add(by_staff)
    sectors = {name for name, pattern in _SECTOR_PATTERNS.items() if pattern.search(folded)}
    applicants = {name for name, pattern in _APPLICANT_PATTERNS.items() if pattern.search(folded)}
    return Mentions(frozenset(regions), frozenset(sizes), frozenset(sectors), frozenset(applicants))


# Our areas (knowledge/areas.yaml) that a catalogue purpose (zm_field_scopes_value) falls under.
_PURPOSE_AREAS: dict[str, str] = {
    fold("Internazionalizzazione"): "internazionalizzazione",
    fold("Innovazione e ricerca"): "innovazione",
    fold("Digitalizzazione"): "innovazione",
    fold("Start up/Sviluppo d'impresa"): "nuove-imprese",
}


def areas_for_purposes(purposes: list[str]) -> list[str]:
    """Our area ids for the catalogue's purposes, in order, without repeats (may be empty)."""
    found = (_PURPOSE_AREAS.get(fold(p)) for p in purposes)
    return list(dict.fromkeys(a for a in found if a))
