"""What the views need, attached to the app by the factory (never built at import time)."""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from config.connections import ConnectionRegistry
from config.settings import Settings
from events.publisher import Publisher
from signing import StandardWebhooks


@dataclass
class Services:
    settings: Settings
    registry: ConnectionRegistry
    publisher: Publisher
    infoplus_verifier: StandardWebhooks | None  # None: INFOPLUS_WEBHOOK_SECRET unset, pushes are refused


def services() -> Services:
    return current_app.extensions["cartbridge"]
