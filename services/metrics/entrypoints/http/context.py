"""What the routes need from the app: settings, engine and the clock, set by the composition root."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncEngine

from services.metrics.config import MetricsSettings
from services.metrics.domain.figures import Policy


@dataclass(frozen=True)
class ApiContext:
    settings: MetricsSettings
    engine: AsyncEngine
    today: Callable[[], date]

    @property
    def policy(self) -> Policy:
        return Policy(self.settings.inactivity_days, self.settings.annual_discount_rate)


def api_context(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.context
    return context
