"""Where a matter is: coordinates from the reporter's phone, the nearest grid, an internal map.

* **Coordinates** (WGS-84 degrees, as the browser's geolocation gives them) are optional; when
  given, both are, and ``clean_coords`` refuses anything not finite or outside lat −90..90,
  lon −180..180 — the service calls it, so the web form, the API and Open311 refuse alike.
* **The nearest grid** is suggested from the grids that have a centre point
  (``OrgUnit.centre_lat``/``centre_lon``), among the places the user may report at (the caller
  passes them, filtered by ``core.scope``). The database orders them by an equirectangular
  distance (longitude scaled by cos(latitude)), which is exact enough within a city; only grids
  within ``NEAREST_KM`` count.
* **No outside map.** Pages show the coordinates; a map tile is shown only when the city
  configures its own tile server (``BIHUAN_TILE_URL``, e.g. ``https://tiles.example.gov.cn/{z}/{x}/{y}.png``),
  and the page's Content-Security-Policy then allows images from that origin only.
"""

from __future__ import annotations

import math
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import F
from django.utils.translation import gettext as _

from bihuan.core.errors import ServiceError
from bihuan.orgs.models import Level

NEAREST_KM = 5.0
KM_PER_DEGREE = 111.32
TILE_ZOOM = 16


def _number(value, field: str, low: float, high: float, label: str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ServiceError(_("%(label)s is not a number.") % {"label": label}, {field: _("Enter a number.")})
    if not math.isfinite(x) or not low <= x <= high:
        msg = _("%(label)s must be between %(low)s and %(high)s.") % {"label": label, "low": low, "high": high}
        raise ServiceError(msg, {field: msg})
    return x


def clean_coords(lat, lon) -> tuple[float | None, float | None]:
    """Both empty → (None, None); both valid → floats; anything else is refused."""
    empty = [v is None or (isinstance(v, str) and not v.strip()) for v in (lat, lon)]
    if all(empty):
        return None, None
    if any(empty):
        raise ServiceError(_("Give both latitude and longitude, or neither."),
                           {"lat" if empty[0] else "lon": _("This field is required.")})
    return (_number(lat, "lat", -90, 90, _("The latitude")), _number(lon, "lon", -180, 180, _("The longitude")))


def nearest_grid(lat: float, lon: float, places):
    """The grid among ``places`` (an OrgUnit queryset) whose centre is nearest, within NEAREST_KM."""
    k = math.cos(math.radians(lat))
    dlat = F("centre_lat") - lat
    dlon = (F("centre_lon") - lon) * k
    limit = (NEAREST_KM / KM_PER_DEGREE) ** 2
    grid = (places.filter(level=Level.GRID, centre_lat__isnull=False, centre_lon__isnull=False)
            .annotate(d2=dlat * dlat + dlon * dlon).filter(d2__lte=limit).order_by("d2", "path").first())
    if grid is None:
        return None, None
    return grid, round(math.sqrt(grid.d2) * KM_PER_DEGREE * 1000)


def tile_url() -> str:
    return getattr(settings, "BIHUAN_TILE_URL", "") or ""


def tile_origin() -> str:
    """The tile server's origin, for the Content-Security-Policy (empty when none is configured)."""
    parts = urlsplit(tile_url())
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else ""


def tile_for(lat: float, lon: float, zoom: int = TILE_ZOOM) -> dict | None:
    """The slippy-map tile holding the point and the point's position in it (percent), or None."""
    template = tile_url()
    if not template or not tile_origin():
        return None
    n = 2 ** zoom
    x = (lon + 180.0) / 360.0 * n
    lat_r = math.radians(max(min(lat, 85.0511), -85.0511))
    y = (1.0 - math.asinh(math.tan(lat_r)) / math.pi) / 2.0 * n
    tx, ty = int(x), int(y)
    return {"url": template.format(z=zoom, x=tx, y=ty), "left": round((x - tx) * 100, 2),
            "top": round((y - ty) * 100, 2)}
