"""What a trend source answers for all periods at once must equal its answer period by period."""

from bihuan.core import registry


def one_by_one(code: str, units, *, starts, end, now) -> dict:
    """``registry.compute(code)`` for each period of ``starts`` (the last ending at ``end``), as
    ``compute_series`` returns it: {unit id: [value per period]}."""
    bounds = [*starts, end]
    periods = [registry.compute(code, units, start=bounds[i], end=bounds[i + 1], now=now) for i in range(len(starts))]
    return {u.pk: [p[u.pk] for p in periods] for u in units}
