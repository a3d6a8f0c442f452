"""``{% map_tile lat lon as tile %}``: the internal tile server's tile for a point (loop.geo)."""

from django import template

from .. import geo

register = template.Library()


@register.simple_tag
def map_tile(lat, lon):
    if lat is None or lon is None:
        return None
    return geo.tile_for(lat, lon)
