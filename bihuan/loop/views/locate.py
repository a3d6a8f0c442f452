"""The nearest grid to a position, for the report form's "use my location" (static/loop/locate.js).

Only places the user may report at are considered (``views.matters._report_locations``, from
``core.scope``); coordinates are checked by ``loop.geo.clean_coords`` (a bad pair is a 400)."""

from __future__ import annotations

from django.http import JsonResponse

from bihuan.core.errors import ServiceError
from bihuan.core.views import requires

from .. import geo
from .matters import _report_locations


@requires("loop.matter.create")
def nearest_grid(request):
    try:
        lat, lon = geo.clean_coords(request.GET.get("lat", "")[:32], request.GET.get("lon", "")[:32])
    except ServiceError as exc:
        return JsonResponse({"error": str(exc.message)}, status=400)
    if lat is None:
        return JsonResponse({"error": "lat and lon are required"}, status=400)
    grid, metres = geo.nearest_grid(lat, lon, _report_locations(request.user))
    if grid is None:
        return JsonResponse({})
    return JsonResponse({"id": grid.pk, "name": grid.name, "distance_m": metres})
