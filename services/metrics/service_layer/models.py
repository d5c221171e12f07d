"""The current model pair as a `PredictionModel`, from the stored versions."""

from sqlalchemy.ext.asyncio import AsyncConnection

from services.metrics.adapters.models import BGNBD, GAMMA_GAMMA, ModelVersion, latest_versions
from services.metrics.domain.bgnbd import BgNbdParams
from services.metrics.domain.gamma_gamma import GammaGammaParams
from services.metrics.domain.predictions import PredictionModel


def prediction_model(
    versions: dict[str, ModelVersion], *, monthly_discount_rate: float, margin: float
) -> PredictionModel | None:
    bgnbd, gamma_gamma = versions.get(BGNBD), versions.get(GAMMA_GAMMA)
    if bgnbd is None or gamma_gamma is None:
        return None
    return PredictionModel(
        bgnbd=BgNbdParams(**bgnbd.params),
        gamma_gamma=GammaGammaParams(**gamma_gamma.params),
        bgnbd_version=bgnbd.id,
        gamma_gamma_version=gamma_gamma.id,
        time_unit_days=bgnbd.time_unit_days,
        monthly_discount_rate=monthly_discount_rate,
        margin=margin,
    )


async def current_prediction_model(
    conn: AsyncConnection, *, monthly_discount_rate: float, margin: float
) -> PredictionModel | None:
    return prediction_model(await latest_versions(conn), monthly_discount_rate=monthly_discount_rate, margin=margin)
