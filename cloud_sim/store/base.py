"""The cloud's ORM base: every table of the cloud hangs off `Base.metadata`, one module per area
(identity, management, challenges, connectors, reports). Datetimes are aware UTC everywhere."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import DeclarativeBase

from shared.db import UtcDateTime


class Base(DeclarativeBase):
    type_annotation_map = {dt.datetime: UtcDateTime}  # noqa: RUF012
