"""Log lines for both processes: plain text, or one JSON object a line when LOG_FORMAT=json."""

import json
import logging
from logging.handlers import RotatingFileHandler
from pathlib import Path

import settings


class JsonFormatter(logging.Formatter):
    """One JSON object a line, for log collectors."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line)


def configure(*, level: str = settings.LOG_LEVEL, fmt: str = settings.LOG_FORMAT,
              log_file: Path | None = None) -> None:
    """Send this process's logs to stderr; with `log_file`, send them there and only warnings to stderr."""
    console = logging.StreamHandler()
    handlers = [console]
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        # Rotated: the demo's sandbox logs every request, and a laptop runs it for days.
        handlers.append(RotatingFileHandler(log_file, maxBytes=10_000_000, backupCount=3, encoding="utf-8"))
        console.setLevel(logging.WARNING)
    for handler in handlers:
        handler.setFormatter(JsonFormatter() if fmt == "json" else
                             logging.Formatter("%(asctime)s %(levelname)-5s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
