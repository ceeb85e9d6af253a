"""What data-error verification gives the workflow runtime."""

from __future__ import annotations

from engine.quality.verification import close_verification, file_verification
from engine.workflow.handlers import Handlers

HANDLERS = Handlers(
    actions={"file_verification": file_verification, "close_verification": close_verification},
    key_prefixes={"data_error_verification": "JY"},
)
