"""Log configuration, done only by the entry points.

Modules log with ``logging.getLogger(__name__)`` and lazy ``%s`` arguments; the
coordinates of a record or a write go in ``extra`` too, so that the JSON form
carries them as fields.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

COORDINATES = (
    "tenant",
    "topic",
    "partition",
    "offset",
    "index",
    "command_id",
    "generation",
)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in COORDINATES:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure(level: str = "INFO", json_lines: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if json_lines:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    if root.level > logging.DEBUG:
        # Their INFO lines are per-connection chatter; ours carry the context.
        logging.getLogger("aiokafka").setLevel(logging.WARNING)
        # opensearch-py logs every non-2xx answer, expected 404s included.
        logging.getLogger("opensearch").setLevel(logging.ERROR)
        # httpx logs a line per request: the health probes of the stack too.
        logging.getLogger("httpx").setLevel(logging.WARNING)
