"""Settings of the archive: where it lives (data directory, catalog, storage, spool) and S3.

Every setting of newsarchive is a field of one typed model, declared once in the lowest
layer that needs it: :class:`ArchiveSettings` here, ``crawler.config.CrawlSettings`` (which
extends it) and ``scheduler.config.ServiceSettings`` (which extends that). A field ``name``
is the environment variable ``NEWSARCHIVE_NAME``; its description is its documentation
(``docs/configuration.md`` is generated from the models). Every value has a safe default:
everything lives under the data directory (``./data``): ``catalog.sqlite``, ``storage/``
(``file://``) and ``spool/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, SettingsConfigDict

from archive.storage import Storage, open_storage

if TYPE_CHECKING:
    from archive.catalog import Catalog

ENV_PREFIX = "NEWSARCHIVE_"


class SettingsError(ValueError):
    """A setting has a value it cannot take; the message names the variable and the rule."""


class NewsarchiveSettings(BaseSettings):
    """Base of the settings models: ``NEWSARCHIVE_*`` variables, unknown ones ignored."""

    # an empty variable is unset, as for the shell's ${VAR:-default}
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore",
                                      env_ignore_empty=True)

    @classmethod
    def load(cls, **values: Any) -> Self:
        """The settings from the environment (and ``values``, which win); a bad value is a
        :class:`SettingsError` naming each variable, the value given and what it must be."""
        try:
            return cls(**values)
        except ValidationError as exc:
            raise SettingsError(describe(exc, cls)) from None

    @classmethod
    def declared_fields(cls) -> Iterator[tuple[type[NewsarchiveSettings], str, FieldInfo]]:
        """Every field with the model that declares it, base models first."""
        for model in reversed(cls.__mro__):
            if isinstance(model, type) and issubclass(model, NewsarchiveSettings):
                for name in model.__annotations__:
                    if name in model.model_fields:
                        yield model, name, model.model_fields[name]


def env_name(field: str) -> str:
    return ENV_PREFIX + field.upper()


def describe(exc: ValidationError, model: type[NewsarchiveSettings]) -> str:
    """``NEWSARCHIVE_X='value': what is wrong (what it takes; its default)`` for each
    invalid setting."""
    problems = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        info = model.model_fields.get(field)
        if info is None:
            problems.append(f"{env_name(field) if field else 'settings'}: {message}")
            continue
        message = message.removeprefix(f"{env_name(field)}: ")
        if error["type"] != "value_error":  # pydantic's own check: say what the field takes
            message += f" ({rule(info)})"
        problems.append(f"{env_name(field)}={error['input']!r}: {message}")
    return "; ".join(problems)


KINDS = {int: "a whole number", float: "a number", bool: "true or false", Path: "a path",
         str: "text"}


def rule(info: FieldInfo) -> str:
    """What a setting takes and its default, e.g. ``a whole number from 0 to 100; default
    8``."""
    kinds = [KINDS[t] for t in (info.annotation, *getattr(info.annotation, "__args__", ()))
             if t in KINDS]
    kind = kinds[0] if kinds else "a value"
    bounds = {name: getattr(m, name) for m in info.metadata
              for name in ("ge", "gt", "le", "lt") if hasattr(m, name)}
    low = f"from {bounds['ge']}" if "ge" in bounds else \
        f"above {bounds['gt']}" if "gt" in bounds else ""
    high = f"to {bounds['le']}" if "le" in bounds else \
        f"below {bounds['lt']}" if "lt" in bounds else ""
    default = "unset" if info.default is None else repr(info.default)
    return " ".join(filter(None, (kind, low, high))) + f"; default {default}"


class ArchiveSettings(NewsarchiveSettings):
    data_dir: Path = Field(
        Path("data"), description="Directory of the embedded default: catalog, storage, "
        "spool and crawl logs live under it unless set otherwise.")
    database_url: str | None = Field(
        None, description="Catalog database as a SQLAlchemy URL, e.g. "
        "`postgresql+psycopg://host/db`. Default: `sqlite:///DATA_DIR/catalog.sqlite`.")
    storage_url: str | None = Field(
        None, description="Where closed WARCs are stored: `file:///path` or "
        "`s3://bucket/prefix`. Default: `file://DATA_DIR/storage`.")
    spool_dir: Path | None = Field(
        None, description="Local directory where WARCs are written and wait for upload. "
        "Default: `DATA_DIR/spool`.")
    s3_endpoint_url: str | None = Field(
        None, description="S3 endpoint for S3-compatible stores (MinIO, Ceph, R2, "
        "Garage); unset: AWS.")
    s3_retries: int = Field(
        8, ge=0, le=100, description="Retries per S3 request, in boto3's `standard` "
        "retry mode.")

    @field_validator("data_dir", "spool_dir")
    @classmethod
    def _directory(cls, value: Path | None) -> Path | None:
        if value is not None and value.exists() and not value.is_dir():
            raise ValueError(f"{value} is a file; give a directory (it is made if missing)")
        return value

    @model_validator(mode="after")
    def _locate(self) -> Self:
        """Relative paths are taken from the working directory; unset locations go under
        the data directory."""
        self.data_dir = self.data_dir.absolute()
        derived = self.derived_locations()
        self.database_url = self.database_url or derived["database_url"]
        self.storage_url = self.storage_url or derived["storage_url"]
        self.spool_dir = Path(self.spool_dir).absolute() if self.spool_dir \
            else derived["spool_dir"]
        return self

    def derived_locations(self) -> dict[str, Any]:
        """The catalog, storage and spool the data directory implies when unset."""
        return {"database_url": f"sqlite:///{self.data_dir / 'catalog.sqlite'}",
                "storage_url": (self.data_dir / "storage").as_uri(),
                "spool_dir": self.data_dir / "spool"}

    def open_storage(self, catalog: Catalog | None = None) -> Storage:
        """The storage backend with its scheme's options: for S3 the endpoint, and the
        catalog as the place where multipart progress survives a crash."""
        options: dict[str, object] = {}
        assert self.storage_url is not None  # set by _locate
        if self.storage_url.startswith("s3://"):
            options["max_attempts"] = self.s3_retries  # botocore's name for retries
            if self.s3_endpoint_url:
                options["endpoint_url"] = self.s3_endpoint_url
            if catalog is not None:
                from archive.uploads import CatalogMultipartState

                options["state"] = CatalogMultipartState(catalog)
        return open_storage(self.storage_url, **options)
