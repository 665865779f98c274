"""Line rules that strip scraper junk from article text and move metadata lines into fields.

Input: article text as lines (a scraped `.txt` report, or what trafilatura returned for a page),
optionally with the page's link texts (to tell a link list from prose) and the lines the site
model learned to be its boilerplate. Output: `CleanText` with the text left for readers, a
headline when the first line is one, the "Source: X" / agency dateline attribution, a date and a
byline seen in the text, and `stripped`: every removed line as `"<reason>: <line>"`, so nothing
disappears unexplained. Nothing is quarantined here.

Reasons (the prefix in `stripped`): `comment_form`, `subscribe_prompt`, `back_to_top`,
`related_links` (a "read also" line or a block of teasers after a "Related" heading),
`link_line` (a short line that is nothing but a link), `share_bar`, `cookie_prompt`,
`advertisement`, `image_credit`, `contributor` (reporting credits, "write to X at"),
`copyright`, `decoration`, `nav_crumbs`, `url_line`, `duplicate_line`, `render_date`,
`date_line`, `date_prefix`, `byline` (moved to `author`), `source_line`, `agency_dateline`,
`site_blurb`, `site_boilerplate` (learned per site, see `tasks.extract.sitelines`), `headline`
(moved to `title`, not lost).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime

# Junk rules only look at short lines: a real sentence that happens to contain "subscribe" is
# longer than any widget label. 120 characters covers every label in the seeds and the
# syndication benchmark's junk lines while no article paragraph there is that short and matches.
MAX_JUNK_LINE = 120
# Calls to action ("Sign up for our newsletter ...", "Follow us on ...") run longer than labels
# but stay under 40 words; on the boilerplate benchmarks (shared part) no article paragraph that
# matched a call-to-action pattern was that short, while paywall and newsletter boxes were.
MAX_PROMPT_WORDS = 40
# A line whose characters are at least this much link text, and that is short, is a link
# (teaser, tag, menu entry), not prose. 0.6 and 15 words: the best of a grid (0.5/0.6/0.8/1.0 x
# 8/15/30 words) on the benchmarks' shared part, and a full-sentence link rarely exceeds 15 words.
LINK_LINE_RATIO = 0.6
LINK_LINE_MAX_WORDS = 15
# After a "Related"/"Read more" heading, teasers follow until prose resumes: a paragraph of this
# many words with little link text ends the block.
TEASER_MAX_WORDS = 30
# Link lists at the edges of a text (see `_mark_edge_links`): a line at the top that is at least
# this much link text is a menu entry; a run of lines at the bottom with this much is teasers.
EDGE_LINK_RATIO = 0.5
TAIL_TEASER_RATIO = 0.2
# Date and byline lines are only lifted from the first lines of a text: further down, a short
# line with a date is more likely a list item or a table cell of the article.
HEAD_ZONE = 4

_JUNK_RULES: list[tuple[str, str]] = [
    (
        "comment_form",
        r"leave a (reply|comment)|cancel reply|post (a )?comment|add (a )?comment"
        r"|please enter your (comment|name( here)?|e-?mail( address)?( here)?)"
        r"|you have entered an incorrect email address"
        r"|your e-?mail address will not be published.*|required fields are marked.*"
        r"|save my name,? e-?mail.*|notify me of (follow-up comments|new posts).*"
        r"|comments? (are )?closed|\d+ comments?|no comments( yet)?|be the first to comment"
        r"|(view|show|read|see|load) (all )?(\d+ )?comments?|comments?( \(\d+\))?"
        r"|join the (conversation|discussion)|discussion|responses?"
        r"|name \*?|e-?mail \*?|website|comment \*?"
        r"|laisser un commentaire|r[ée]pondre|commentaires?( \(\d+\))?"
        r"|votre adresse (e-?mail|de messagerie) ne sera pas publi[ée]e.*"
        r"|kommentar(e)? (hinterlassen|schreiben)|kommentare?( \(\d+\))?|\d+ kommentare?"
        r"|deja un comentario|dejar un comentario|comentarios?( \(\d+\))?"
        r"|komentarze?( \(\d+\))?|dodaj komentarz|commenti( \(\d+\))?"
        r"|tell us what you think.*|what do you think\??"
        r"|let us know (what you think|in the comments).*"
        r"|verraten sie (uns )?(gerne )?in den kommentaren.*",
    ),
    (
        "widget_message",
        r"(an )?error (has )?occurred.*|there was an error.*|sorry!?|thanks?( you)?!?"
        r"|this article has been sent to.*|please try again( later)?|loading( comments)?\.*"
        r"|javascript (is )?(disabled|required).*|please enable javascript.*",
    ),
    (
        "subscribe_prompt",
        r"subscribe( now| today| here| for free| to (our|the) newsletter)?"
        r"|sign up (for|to) (our|the) newsletter|join our newsletter|newsletter( sign-?up)?"
        r"|thanks? (you )?for signing up|sign up|log ?in|sign in|register|registrieren"
        r"|(\w+ ){0,3}newsletters?|something to consider"
        r"|abonnez-vous|s'abonner|abonnieren|jetzt abonnieren|suscr[ií]bete|suscribirse"
        r"|anmelden|einloggen|zaloguj si[ęe]|inscr[ií]bete|iniciar sesi[óo]n",
    ),
    (
        "back_to_top",
        r"back to top( button)?|scroll to top|to top|retour en haut|nach oben|zur[üu]ck nach oben"
        r"|volver arriba|zur[üu]ck( zur [üu]bersicht| zum newsroom)?|back",
    ),
    (
        "related_links",
        r"more articles|more stories|related( articles| posts| stories| news| content| topics)?"
        r"|read more|read also|see also|see more|more on this( story| topic)?"
        r"|you (may|might) also like|recommended( for you| stories| articles)?"
        r"|most (read|popular|viewed|shared)|latest (news|stories|articles)|trending( now)?"
        r"|popular (on|at) .{1,30}|more from .{1,30}|don'?t miss|also on .{1,30}|top stories"
        r"|editor'?s picks|what to read next|further reading|more (news|videos)"
        r"|lire aussi|articles similaires|[àa] lire aussi|sur le m[êe]me sujet|voir aussi"
        r"|mehr zum thema( .{1,30})?|weitere artikel( .{1,30})?|auch interessant"
        r"|das k[öo]nnte sie (auch )?interessieren|mehr themen|empfohlene (beitr[äa]ge|artikel)"
        r"|weitere (beitr[äa]ge|themen|informationen|nachrichten|meldungen)( .{1,40})?"
        r"|lesen sie auch( .{1,40})?|zum weiterlesen|verwandte (artikel|themen)"
        r"|top-themen( .{1,30})?"
        r"|meistgelesen|beliebte artikel|[äa]hnliche (beitr[äa]ge|artikel)"
        r"|art[ií]culos relacionados|lee tambi[ée]n|notas relacionadas|contenido relacionado"
        r"|noticias relacionadas|te puede interesar|le puede interesar|m[áa]s noticias"
        r"|leia tamb[ée]m|mat[ée]rias relacionadas|leggi anche|articoli correlati"
        r"|czytaj (te[żz]|tak[żz]e|wi[ęe]cej)|zobacz (te[żz]|tak[żz]e)|polecamy|lees ook",
    ),
    (
        "share_bar",
        r"share( this( article| story| post| page)?)?( on (facebook|twitter|x|whatsapp|linkedin))?"
        r"|share (via|on) .{1,20}|tweet|print( this( article| page)?)?|e-?mail( this( article)?)?"
        r"|facebook|twitter|whatsapp|linkedin|telegram|pinterest|reddit|flipboard|xing"
        r"|like this|loading\.*|wird geladen\.*|partager|teilen( mit)?|compartir|condividi"
        r"|udost[ęe]pnij|(order )?reprints?|print article|copy link|link kopieren|artikel teilen",
    ),
    (
        "tag_list",
        r"tags?|tagged( with)?|filed under|categor(y|ies)|schlagw[öo]rter|schlagworte"
        r"|stichw[öo]rter"
        r"|themen|etiquetas|temas|catégories|mots-cl[ée]s|tematy|tagi|kategorie"
        r"|(filed under|tags?|tagged|schlagw[öo]rter|etiquetas|tagi)\s*:.{0,100}",
    ),
    (
        "cookie_prompt",
        r"(we|this (site|website)) uses? cookies.*|accept( all)? cookies|cookie (policy|settings)"
        r"|manage cookies|cookies? (&|und|and) tracking|datenschutz(erkl[äa]rung)?|impressum"
        r"|privacy policy|terms of (use|service)",
    ),
    (
        "advertisement",
        r"advertisement|advertising|sponsored( content)?|publicit[ée]|anzeige|werbung|reklama"
        r"|publicidad|pubblicit[àa]",
    ),
]

_JUNK = [(reason, re.compile(rf"(?:{pattern})", re.IGNORECASE)) for reason, pattern in _JUNK_RULES]

# Headings that open a block of teasers: everything after them that looks like a teaser goes.
_TEASER_HEADINGS = {"related_links", "tag_list"}

# "Read more: <linked headline>" in many languages: the prefix, a colon or arrow, then a title.
_READ_ALSO_PREFIX = re.compile(
    r"^\s*(?:[-–•›»>]\s*)?(?:read (?:more|also|next)|see (?:also|more)|related(?: article)?"
    r"|also (?:on|read) [\w.]{1,30}|more|watch|listen|click here|check out|recommended"
    r"|lea(?: tambi[ée]n| m[áa]s| adem[áa]s)?|lee (?:tambi[ée]n|m[áa]s)|le puede interesar"
    r"|te puede interesar|puedes ver|vea tambi[ée]n|ver tambi[ée]n|mira|mire|tambi[ée]n lea"
    r"|lesen sie (?:auch|hier|mehr|weiter)|mehr (?:dazu|zum thema)|auch interessant|siehe auch"
    r"|[àa] lire (?:aussi|[ée]galement)|lire aussi|voir aussi|leia (?:tamb[ée]m|mais)"
    r"|leggi anche|czytaj (?:te[żz]|tak[żz]e|wi[ęe]cej)|zobacz (?:te[żz]|tak[żz]e)|lees ook)"
    r"\s*(?::|»|›|>|\||–|—|-)\s*(?=\S)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class _Keyed:
    """A search pattern with the lower-case substrings one of which every match contains.

    The substring test runs in C and rejects most lines before the (slow, unanchored,
    case-insensitive) regular expression has to: four times faster on benchmark text.
    """

    pattern: re.Pattern[str]
    keys: tuple[str, ...]
    _prefilter: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        literal = re.compile("|".join(re.escape(key) for key in self.keys))
        object.__setattr__(self, "_prefilter", literal)

    def search(self, line: str, lower: str) -> bool:
        return self._prefilter.search(lower) is not None and self.pattern.search(line) is not None


# Calls to action: newsletter and paywall boxes, "follow us", app downloads, donations.
_PROMPT_RE = re.compile(
    r"\b(?:sign up (?:(?:for|to) (?:our|the|my|a free) \w*\s?"
    r"(?:newsletter|e-?mails?|updates|alerts)"
    r"|here|now|today)|subscribe (?:now|today|here)|subscribers?\b.{0,40}"
    r"\b(?:log ?in|access)|to (?:view|read|continue) (?:the full|this) (?:story|article)"
    r"|(?:join|support|become) (?:us|our|a member)\b"
    r"|follow (?:us|@|\w+ on (?:twitter|facebook|instagram))|download (?:our|the) \w+ app"
    r"|get (?:the|our) (?:latest|best)\b.{0,40}\b(?:inbox|newsletter|app)"
    r"|(?:newsletter|bulletin)s?\b.{0,60}\b(?:sign|subscri|inbox|e-?mail)"
    r"|consider (?:supporting|subscribing)|if you (?:enjoyed|liked|value) (?:this|our|reading)"
    r"|\byour inbox\b|follow \S+ (?:full |live )?coverage\b|^\S+(?: \S+)? newsletters?$"
    r"|abonnieren sie|jetzt (?:anmelden|abonnieren|registrieren|unterst[üu]tzen)"
    r"|newsletter (?:abonnieren|bestellen)|melden sie sich .{0,40}newsletter an"
    r"|unterst[üu]tze[n]? (?:uns|sie)\b"
    r"|sie sind (?:aktuell |derzeit )?nicht (?:eingeloggt|angemeldet)"
    r"|abonnez-vous|inscrivez-vous|suscr[ií]bete|hazte (?:miembro|socio)|[úu]nete\b"
    r"|zapraszamy (?:te[żz] )?do subskrypcji|zaprenumeruj)",
    re.IGNORECASE,
)
_PROMPT = _Keyed(
    _PROMPT_RE,
    (
        "sign up",
        "subscri",
        "to view",
        "to read",
        "to continue",
        "join ",
        "support ",
        "become ",
        "follow ",
        "download ",
        "get the ",
        "get our ",
        "newsletter",
        "bulletin",
        "consider ",
        "if you ",
        "your inbox",
        "abonn",
        "jetzt ",
        "unterst",
        "eingeloggt",
        "angemeldet",
        "inscri",
        "suscr",
        "hazte",
        "nete",
        "zaprasz",
        "zaprenumeruj",
    ),
)

# Reporting credits and contact lines that close wire copy ("Additional reporting by ...").
_CONTRIBUTOR_RE = re.compile(
    r"^\(?(?:additional |with )?(?:reporting|writing|editing|research) by\b"
    r"|\bcontributed (?:to this (?:report|story|article)|reporting)\b"
    r"|^(?:write to|email|e-mail|contact|reach) (?:the (?:author|reporters?|writer)|[A-Z][\w.'-]+)"
    r".{0,80}(?:\S+@\S+|\bon twitter\b)"
    r"|^(?:follow|reach) (?:him|her|them|the reporters?|the author) (?:on|at)\b"
    r"|^(?:mit material von|mitarbeit:|con informaci[óo]n de|avec (?:afp|reuters|ap|agences?))\b",
    re.IGNORECASE,
)
_CONTRIBUTOR = _Keyed(
    _CONTRIBUTOR_RE,
    (
        "reporting",
        "writing",
        "editing",
        "research",
        "contributed",
        "write to",
        "mail",
        "contact",
        "reach",
        "follow",
        "mit material",
        "mitarbeit",
        "con informaci",
        "avec ",
    ),
)

# Reprint notices, affiliate disclosures, comment moderation policies: site text on every page.
_DISCLAIMER_RE = re.compile(
    r"for (?:your )?personal,? non-commercial use only|(?:may|might) (?:get|earn|receive) "
    r"(?:a share|a (?:small )?commission|compensation)|affiliate (?:links?|commission)"
    r"|\b(?:comments?|kommentare?|coment[áa]rios?|commentaires?)\b.{0,80}"
    r"\b(?:moderat\w*|moderador\w*|moderiert\w*|approved|aprovad\w*|freigeschaltet)\b"
    r"|share (?:it|this(?: story| article)?) with (?:a|your) friends?",
    re.IGNORECASE,
)
_DISCLAIMER = _Keyed(
    _DISCLAIMER_RE,
    (
        "non-commercial",
        "a share",
        "commission",
        "compensation",
        "affiliate",
        "moderat",
        "approved",
        "aprovad",
        "freigeschaltet",
        "share ",
    ),
)
# WordPress-style shortcodes left in the text ("[button link=...]").
_SHORTCODE = re.compile(r"^\[/?[a-z_]+(?:\s[^\]]*)?\]")

_IMAGE_CREDIT_RE = re.compile(
    r"^\(?(?:©|\(c\)|copyright\b|foto(?:s|grafie)?\s*:|fot\.|photos?\s*(?::|by\b|credit)"
    r"|bild(?:quelle)?\s*:|titelbild\s*:|beitragsbild\s*:|image(?:s)?\s*(?::|by\b|credit)"
    r"|credits?\s*(?::|photos?)|cr[ée]dits? photos?|picture\s*:|illustration\s*:|quelle\s*:"
    r"|abbildung \d+\s*:|grafik\s*:|video\s*:)"
    r"|(?:©|\bcredit:|\bphoto:|\bfoto:)\s*[^.]{0,80}$"
    r"|\b(?:getty images|picture[- ]alliance|shutterstock|istock(?:photo)?|imago(?: images)?"
    r"|agencja gazeta|ap photo|afp photo|reuters/|/reuters|dpa/|/dpa|epa/|/epa)\b",
    re.IGNORECASE,
)
_IMAGE_CREDIT = _Keyed(
    _IMAGE_CREDIT_RE,
    (
        "©",
        "(c)",
        "copyright",
        "foto",
        "fot.",
        "photo",
        "bild",
        "image",
        "credit",
        "crédit",
        "picture",
        "illustration",
        "quelle",
        "abbildung",
        "grafik",
        "video",
        "getty",
        "alliance",
        "shutterstock",
        "istock",
        "imago",
        "gazeta",
        "reuters",
        "dpa",
        "epa",
    ),
)
# A caption glued to its credit by the scraper: "... in New York.Reuters" (case matters).
_GLUED_CREDIT = re.compile(
    r"(?<=[a-z.)])(?:Reuters|AP|AFP|Getty Images|EPA|Shutterstock|Bloomberg|dpa)$"
)
# Image credits are short: a caption line of up to this many words.
MAX_CREDIT_WORDS = 16

_COPYRIGHT = _Keyed(
    re.compile(
        r"(?:^|\s)(?:©|\(c\)|ⓒ|copyright\b)|all rights reserved|alle rechte vorbehalten"
        r"|tous droits r[ée]serv[ée]s|todos los derechos reservados"
        r"|wszelkie prawa zastrze[żz]one|materia[łl] chroniony prawem",
        re.IGNORECASE,
    ),
    (
        "©",
        "(c)",
        "ⓒ",
        "copyright",
        "rights reserved",
        "rechte vorbehalten",
        "droits r",
        "derechos reservados",
        "prawa zastrze",
        "chroniony prawem",
    ),
)

_HAS_WORD = re.compile(r"\w", re.UNICODE)
_DIGIT = re.compile(r"\d")
_WORD = re.compile(r"\w+", re.UNICODE)

# Leading bullets and arrows widgets put before labels ("› Subscribe", "» Read more").
_LABEL_EDGE = re.compile(r"^[\s›»>•·|*\-–—→\[(]+|[\s!.:…»›→*|\])]+$")

# A lowercase letter directly followed by an uppercase one: nav labels glued by a scraper
# ("Middle EastOthersWorld News"). Names such as "McDonald" or "iPhone" give at most one.
_GLUE = re.compile(r"[a-zà-ÿ][A-ZÀ-Þ][a-zà-ÿ]")
_SENTENCE_END = re.compile(r"[.!?\"”»)]\s*$")
_NAV_SEPARATORS = re.compile(r"\s*(?:\||»|›|>|•|·)\s*|\s+/\s+")
_TABLE_ROW = re.compile(r"^\|.*\|\s*$")

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_URL_LINE = re.compile(
    r"^(?:(?:[\w-]+ ?){1,3}:\s*)?(?:https?://\S+|www\.\S+|\S+@\S+\.\w+|twitter\.com/\S+|@\w+"
    r"|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2})?(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?)$",
    re.IGNORECASE,
)

_WEEKDAYS = (
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday"
    r"|lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche"
    r"|montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonntag"
    r"|lunes|martes|mi[ée]rcoles|jueves|viernes|s[áa]bado|domingo"
    r"|segunda-feira|ter[çc]a-feira|quarta-feira|quinta-feira|sexta-feira"
)
_MONTHS_EN = "january|february|march|april|may|june|july|august|september|october|november|december"
_MONTH_ABBR = r"jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
_MONTH = rf"(?:{_MONTHS_EN}|(?:{_MONTH_ABBR})\.?)"
# Month names of the other languages the benchmarks and seeds carry (de, fr, es, pt, it, pl, nl):
# used to recognise a date line, not to parse it.
_MONTHS_OTHER = (
    r"januar|jänner|februar|märz|mai|juni|juli|oktober|dezember"
    r"|janvier|février|mars|avril|juin|juillet|août|septembre|octobre|novembre|décembre"
    r"|enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|setiembre|octubre"
    r"|noviembre|diciembre|janeiro|fevereiro|março|maio|junho|julho|setembro|outubro"
    r"|novembro|dezembro|gennaio|febbraio|aprile|maggio|giugno|luglio|settembre|ottobre"
    r"|dicembre|stycznia|lutego|marca|kwietnia|maja|czerwca|lipca|sierpnia|września"
    r"|października|listopada|grudnia|januari|februari|maart|augustus"
)
_ANY_MONTH = rf"(?:{_MONTH}|{_MONTHS_OTHER})"
_TIME = r"(?:,?\s*(?:at\s+)?\d{1,2}:\d{2}(?::\d{2})?\s*(?:[ap]\.?m\.?)?(?:\s*[A-Z]{2,4})?)?"
_DATE_BODY = (
    rf"(?:{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH},?\s+\d{{4}}"
    rf"|\d{{4}}-\d{{2}}-\d{{2}}|\d{{4}}/\d{{2}}/\d{{2}})"
)
_DATE_LINE = re.compile(
    rf"^(?P<weekday>(?:{_WEEKDAYS}),?\s+)?(?P<date>{_DATE_BODY}){_TIME}$", re.IGNORECASE
)
_WEEKDAY = re.compile(rf"\b(?:{_WEEKDAYS})\b", re.IGNORECASE)
# Any date, in any of the languages above or numeric, somewhere in a line.
_ANY_DATE = re.compile(
    rf"\b(?:\d{{1,2}}\.?\s*(?:de\s+)?{_ANY_MONTH}\.?,?\s*(?:de\s+)?\d{{2,4}}"
    rf"|{_ANY_MONTH}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}"
    r"|\d{1,2}[./-]\d{1,2}[./-]\d{2,4}|\d{4}[./-]\d{1,2}[./-]\d{1,2}"
    rf"|(?:{_WEEKDAYS})\b|\d{{1,2}}:\d{{2}}\s*(?:[ap]\.?m\.?|uhr|h)?)",
    re.IGNORECASE,
)
# Words that make a short dated line a dateline or update stamp rather than a sentence.
_STAMP_WORDS = re.compile(
    r"\b(?:published|updated|posted|last (?:updated|modified)|modified|release date|by|von|par"
    r"|por|de|publicado|actualizado|ver[öo]ffentlicht|aktualisiert|stand|mis à jour|publi[ée]"
    r"|le|am|um|at|on|às|a las|às|et|und|and|dnia|opublikowano|aktualizacja|categor(?:y|ies)"
    r"|kategorie|tags?|filed under|in|min(?:ute)?s?|read|lesezeit|lectura)\b",
    re.IGNORECASE,
)
_DATE_PREFIX = re.compile(
    r"^\s*(?:date|published|posted(?: on)?|updated|publi[ée](?: le)?)\s*:?\s*"
    r"(?P<date>\d{4}-\d{2}(?:-\d{2})?|\d{1,2}/\d{1,2}/\d{4})\s+(?=\S)",
    re.IGNORECASE,
)
# "By Jane Doe", "Von Max Muster, Berlin": a case-insensitive prefix, then a capitalised name.
_BYLINE = re.compile(
    r"^(?i:(?:written |posted |text |story |reported )?by|von|par|por|di|przez|door"
    r"|autor(?:in)?:|author:|text:)\s+"
    r"(?P<who>[A-ZÀ-Þ][\w.'’-]+"
    r"(?:\s+(?:[A-ZÀ-Þ][\w.'’-]+|de|van|von|da|di|la|le|y|and|und|et|&)){0,5})"
    r"\s*(?:[,|–—-].{0,80})?$",
)
_SOURCE_LINE = re.compile(
    r"^(?:source|sources|quelle|fuente|fonte|źródło|kaynak|источник)\s*:\s*(?P<who>\S.{0,150})$",
    re.IGNORECASE,
)
# "MNA – Iranian Minister ..." or "TEHRAN (Reuters) - ..." at the start of the first paragraph.
_AGENCY_DATELINE = re.compile(
    r"^(?:(?P<agency>[A-Z]{2,6})"
    r"|(?P<place>[A-Z][A-Za-z .'-]{1,30}?),?\s*\((?P<agency2>[^)]{2,30})\))"
    r"\s*[–—-]{1,2}\s+(?=\S)"
)
_BLURB = re.compile(
    r"\b(?:is|are) (?:mainly |primarily |mostly )?(?:concerned|dedicated|committed|devoted) "
    r"(?:with|to)\b|\b(?:its|our) (?:main |primary )?(?:objective|mission|aim|goal) is\b"
    r"|all rights reserved|^(?:©|copyright\b)|\bwas founded in \d{4}\b",
    re.IGNORECASE,
)
_HEADLINE_MAX = 200
MAX_BLURB_LINES = 2

_MONTH_NUMBERS = {name: index + 1 for index, name in enumerate(_MONTHS_EN.split("|"))}

# Takes a line, returns the share of its characters that are link text on the page (0..1) and
# whether the line starts with a link (a teaser: linked headline, then a blurb).
LinkInfo = Callable[[str], tuple[float, bool]]


@dataclass
class CleanText:
    text: str
    title: str | None = None
    source_attribution: str | None = None
    date_text: str | None = None
    published_at: datetime | None = None
    author: str | None = None
    stripped: list[str] = field(default_factory=list)


def _label(line: str) -> str:
    return " ".join(_LABEL_EDGE.sub("", line).split())


def words(line: str) -> int:
    """Words of a line, as whitespace-separated tokens (what the length thresholds count)."""
    return len(line.split())


def junk_reason(line: str, link_ratio: float = 0.0) -> str | None:
    """The reason a single line is scraper junk, or None when it may be article text.

    `link_ratio` is the share of the line that is link text on its page (0 for plain text).
    """
    stripped = line.strip()
    if not stripped:
        return None
    if not _HAS_WORD.search(stripped):
        return "decoration"
    n_words = words(stripped)
    lower = stripped.lower()
    if _may_be_url_line(stripped, lower) and (_URL_LINE.match(stripped) or _mostly_urls(stripped)):
        return "url_line"
    if n_words <= MAX_PROMPT_WORDS:
        if _READ_ALSO_PREFIX.match(stripped) and (link_ratio >= 0.3 or n_words <= 20):
            return "related_links"
        if _PROMPT.search(stripped, lower):
            return "subscribe_prompt"
        if _CONTRIBUTOR.search(stripped, lower):
            return "contributor"
        if _DISCLAIMER.search(stripped, lower):
            return "disclaimer"
        if _SHORTCODE.match(stripped):
            return "shortcode"
    if n_words <= MAX_CREDIT_WORDS:
        if _IMAGE_CREDIT.search(stripped, lower) or _GLUED_CREDIT.search(stripped):
            return "image_credit"
        if _COPYRIGHT.search(stripped, lower):
            return "copyright"
    if link_ratio >= LINK_LINE_RATIO and n_words <= LINK_LINE_MAX_WORDS:
        return "link_line"
    if len(stripped) > MAX_JUNK_LINE:
        return None
    label = _label(stripped)
    if not label:
        return "decoration"
    for reason, pattern in _JUNK:
        if pattern.fullmatch(label):
            return reason
    if is_nav_crumbs(stripped):
        return "nav_crumbs"
    return None


def _may_be_url_line(line: str, lower: str) -> bool:
    return "://" in lower or "www." in lower or "@" in line or line[:1].isdigit()


def _mostly_urls(line: str) -> bool:
    urls = _URL.findall(line)
    return bool(urls) and sum(len(url) for url in urls) >= 0.5 * len(line)


def is_nav_crumbs(line: str) -> bool:
    if len(line) > 200 or _SENTENCE_END.search(line) or _TABLE_ROW.match(line):
        return False
    tokens = line.split()
    glued = len(_GLUE.findall(line))
    if glued >= 2 and len(tokens) <= 20 and glued >= 0.3 * len(tokens):
        return True
    if "://" in line:
        return False
    parts = [p for p in _NAV_SEPARATORS.split(line) if p]
    return len(parts) >= 3 and all(len(p.split()) <= 4 for p in parts)


def parse_date(text: str) -> datetime | None:
    """A full calendar date in `text` (English month names or ISO), as UTC midnight."""
    match = re.search(
        rf"(?P<m1>{_MONTH})\s+(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y1>\d{{4}})"
        rf"|(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<m2>{_MONTH}),?\s+(?P<y2>\d{{4}})"
        r"|(?P<y3>\d{4})[-/](?P<m3>\d{2})[-/](?P<d3>\d{2})",
        text,
        re.IGNORECASE,
    )
    if not match:
        return None
    g = match.groupdict()
    try:
        if g["y3"]:
            year, month, day = int(g["y3"]), int(g["m3"]), int(g["d3"])
        else:
            name = (g["m1"] or g["m2"]).lower().rstrip(".")
            month = next(v for k, v in _MONTH_NUMBERS.items() if k.startswith(name[:3]))
            year, day = int(g["y1"] or g["y2"]), int(g["d1"] or g["d2"])
        return datetime(year, month, day, tzinfo=UTC)
    except (ValueError, StopIteration):
        return None


def is_stamp_line(line: str) -> bool:
    """A short line that is a date/time stamp, possibly with "Published"/"by X" around it."""
    n_words = words(line)
    if n_words > 14 or (_SENTENCE_END.search(line.rstrip(" |")) and n_words > 8):
        return False
    if not _DIGIT.search(line) and not _WEEKDAY.search(line):
        return False
    dates = _ANY_DATE.findall(line)
    if not dates:
        return False
    rest = _ANY_DATE.sub(" ", line)
    rest = _STAMP_WORDS.sub(" ", rest)
    leftover = [w for w in _WORD.findall(rest) if not w.isdigit()]
    # What is left besides the date and stamp words is at most a name or two ("by Jane Doe").
    return len(leftover) <= 4


def _looks_like_headline(line: str, rest: list[str]) -> bool:
    return (
        bool(rest)
        and len(line) <= _HEADLINE_MAX
        and len(line.split()) <= 30
        and not re.search(r"[.,;:]\s*$", line)
    )


def _is_teaser(line: str, ratio: float, leads: bool, has_links: bool) -> bool:
    """A line in a list of teasers: a linked headline (and blurb), or a short unlinked title."""
    if ratio >= LINK_LINE_RATIO or (leads and ratio >= TAIL_TEASER_RATIO):
        return True
    # Plain text has no link information: a short line without a full stop is a title.
    return not has_links and words(line) <= 12 and not _SENTENCE_END.search(line)


def clean_lines(
    text: str,
    *,
    title: str | None = None,
    detect_headline: bool = True,
    links: LinkInfo | None = None,
    boilerplate: Collection[int] = (),
) -> CleanText:
    """Strip junk lines from `text` and lift headline, attribution and date lines into fields.

    `title`, when given (HTML metadata), is kept, and a first line repeating it is removed.
    `links` tells how much of a line is link text on its page and whether it starts with a link
    (HTML only);
    `boilerplate` holds the keys (`tasks.extract.sitelines.line_key`) of lines the site repeats on
    many pages.
    """
    out = CleanText(text="", title=title)
    lines = [line.strip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    lines = [line for line in lines if line]
    info = [links(line) if links else (0.0, False) for line in lines]
    ratios = [ratio for ratio, _ in info]
    has_links = links is not None
    reasons: list[str | None] = [None] * len(lines)
    n_kept = 0
    in_teasers = False
    for index, line in enumerate(lines):
        ratio = ratios[index]
        reason = _site_reason(line, boilerplate) or junk_reason(line, ratio)
        if reason is None and in_teasers and _is_teaser(line, ratio, info[index][1], has_links):
            reason = "related_links"
        in_teasers = (in_teasers and reason is not None) or (
            reason in _TEASER_HEADINGS and _is_heading_label(line)
        )
        if reason is None and index > 0 and title and _is_title_line(line, title):
            reason = "title_repeat"
        if reason is None:
            reason = _metadata_reason(line, index, n_kept, out)
        reasons[index] = reason
        n_kept += reason is None
    _mark_edge_links(lines, info, reasons)

    kept = [index for index, reason in enumerate(reasons) if reason is None]
    # Trailing site blurbs: walk back from the end while paragraphs describe the site. A blurb
    # is a paragraph or two; a page about an organisation describes it at length.
    for _ in range(MAX_BLURB_LINES):
        if len(kept) > 2 and _BLURB.search(lines[kept[-1]]) and words(lines[kept[-1]]) <= 80:
            reasons[kept.pop()] = "site_blurb"

    if kept and title and _is_title_line(lines[kept[0]], title):
        reasons[kept.pop(0)] = "headline"
        _strip_head_stamps(lines, kept, reasons, out)
    elif kept and detect_headline and title is None:
        rest = [lines[index] for index in kept[1:]]
        if _looks_like_headline(lines[kept[0]], rest):
            out.title = lines[kept[0]]
            reasons[kept.pop(0)] = "headline"
            _strip_head_stamps(lines, kept, reasons, out)

    partial: list[tuple[int, str]] = []
    if kept:
        first = kept[0]
        prefix = _DATE_PREFIX.match(lines[first])
        if prefix:
            out.date_text = out.date_text or prefix.group("date")
            partial.append((first, f"date_prefix: {prefix.group(0).strip()}"))
            lines[first] = lines[first][prefix.end() :]
        dateline = _AGENCY_DATELINE.match(lines[first])
        if dateline:
            agency = (dateline.group("agency") or dateline.group("agency2") or "").strip()
            out.source_attribution = _join(agency, out.source_attribution)
            partial.append((first, f"agency_dateline: {dateline.group(0).strip()}"))
            lines[first] = lines[first][dateline.end() :]

    removed = [(i, f"{reason}: {lines[i]}") for i, reason in enumerate(reasons) if reason]
    out.stripped = [entry for _, entry in sorted(removed + partial, key=lambda item: item[0])]
    out.text = "\n".join(lines[index] for index in kept)
    return out


def _mark_edge_links(
    lines: list[str], info: list[tuple[float, bool]], reasons: list[str | None]
) -> None:
    """Link lists at the edges of the text: menus above the article, teasers below it.

    At the top, short lines that are mostly link text go until the first line of prose. At the
    bottom, a run of at least two teaser-like lines (part link, under 40 words) goes; a single
    closing line with a link is more often the article's own last sentence.
    """
    for index, line in enumerate(lines):
        if reasons[index] is not None:
            continue
        if info[index][0] >= EDGE_LINK_RATIO and words(line) <= LINK_LINE_MAX_WORDS:
            reasons[index] = "link_line"
            continue
        break
    run: list[int] = []
    for index in range(len(lines) - 1, -1, -1):
        if reasons[index] is not None:
            continue
        ratio, leads = info[index]
        teaser = ratio >= LINK_LINE_RATIO or (leads and ratio >= TAIL_TEASER_RATIO)
        if teaser and words(lines[index]) <= MAX_PROMPT_WORDS:
            run.append(index)
            continue
        break
    if len(run) >= 2:
        for index in run:
            reasons[index] = "related_links"


def _is_heading_label(line: str) -> bool:
    # A "Related articles" heading, not a "Read more: <headline>" teaser line.
    return not _READ_ALSO_PREFIX.match(line) and words(line) <= 8


def _site_reason(line: str, boilerplate: Collection[int]) -> str | None:
    if not boilerplate:
        return None
    from tasks.extract.sitelines import line_key

    return "site_boilerplate" if line_key(line) in boilerplate else None


def _metadata_reason(line: str, position: int, n_kept: int, out: CleanText) -> str | None:
    """Source lines anywhere; date, render-date and byline lines in the first lines only."""
    source = _SOURCE_LINE.match(line)
    if source:
        out.source_attribution = _join(out.source_attribution, source.group("who").strip())
        return "source_line"
    if position >= HEAD_ZONE + 2 or n_kept >= HEAD_ZONE:
        return None
    date = _DATE_LINE.match(line)
    if date and position < 3 and not n_kept:
        if date.group("weekday"):
            # A "Friday, October 7, 2022" line above the headline is the site's header clock
            # (the day the page was rendered), not the report's date.
            return "render_date"
        out.date_text = out.date_text or line
        out.published_at = out.published_at or parse_date(line)
        return "date_line"
    byline = _BYLINE.match(line)
    if byline and words(line) <= 12:
        out.author = out.author or byline.group("who").strip()
        return "byline"
    if is_stamp_line(line):
        out.date_text = out.date_text or line
        return "date_line"
    return None


def _strip_head_stamps(
    lines: list[str], kept: list[int], reasons: list[str | None], out: CleanText
) -> None:
    # Datelines and bylines right under a headline belong to it, not to the text.
    while kept:
        line = lines[kept[0]]
        byline = _BYLINE.match(line)
        if byline and words(line) <= 12:
            out.author = out.author or byline.group("who").strip()
            reasons[kept.pop(0)] = "byline"
        elif is_stamp_line(line):
            out.date_text = out.date_text or line
            reasons[kept.pop(0)] = "date_line"
        else:
            return


def _is_title_line(line: str, title: str) -> bool:
    """The line repeats the page title (which often carries a " | Site" suffix)."""
    if len(line) > len(title) + 10:
        return False  # cheap exit for paragraphs: a repeat is no longer than the title
    line_words = _WORD.findall(line.casefold())
    title_words = _WORD.findall(title.casefold())
    if not line_words or not title_words:
        return False
    if line_words == title_words:
        return True
    if len(line_words) < 3 or len(line_words) > len(title_words):
        return False
    return title_words[: len(line_words)] == line_words


def _join(first: str | None, second: str | None) -> str | None:
    if first and second and first != second:
        return f"{first}; {second}"
    return first or second


def _same_words(a: str, b: str) -> bool:
    return _WORD.findall(a.casefold()) == _WORD.findall(b.casefold())
