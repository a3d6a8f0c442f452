"""Small template helpers of the loop pages: the light (a coloured dot with its text) and lookups."""

from __future__ import annotations

from django import template
from django.utils.html import format_html
from django.utils.translation import gettext as _

register = template.Library()

_COLOURS = {"green": "green", "yellow": "yellow", "red": "red", "none": "secondary"}


@register.simple_tag
def light(value: str):
    """A coloured dot for colour, and the word for everyone (screen readers, colour-blind users)."""
    from bihuan.loop.views.matters import LIGHT_LABELS

    value = value if value in _COLOURS else "none"
    return format_html('<span class="text-nowrap" data-light="{}"><span class="status-dot status-{} me-1" '
                       'aria-hidden="true"></span>{}</span>', value, _COLOURS[value], LIGHT_LABELS[value])


@register.filter
def get(mapping, key):
    try:
        return mapping.get(key, "")
    except AttributeError:
        return ""


@register.filter
def event_actor(event) -> str:
    """Who did it, as people know them: the account's display name (not its login name), or 系统
    for the system (sweep, public intake, seeds), whatever name the event stored at the time."""
    if event.actor_id and event.actor is not None:
        return str(event.actor)  # the display name, or the account name when it has none
    if event.actor_name in ("", "system", "sweep"):
        return _("System")
    return event.actor_name


@register.filter
def working_hours(value):
    """Remaining working time: '12.5 working hours left' or 'overdue by 3 working hours'."""
    if value is None:
        return ""
    v = float(value)
    if v >= 0:
        return _("%(h)s working hours left") % {"h": f"{v:g}"}
    return _("overdue by %(h)s working hours") % {"h": f"{-v:g}"}


@register.inclusion_tag("loop/_notification_badge.html", takes_context=True)
def notification_badge(context):
    """The bell in the top bar: the signed-in user's unread count, linking to the centre."""
    from bihuan.loop import notify

    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"show": False}
    return {"show": True, "unread": notify.unread_count(user)}


@register.simple_tag(takes_context=True)
def pii(context, text, matter):
    """A matter's free text as the viewer may see it: phone and ID numbers masked without the
    reveal permission (``loop.services.text_for``; the one rule for pages and the API)."""
    from bihuan.loop.services import text_for

    request = context.get("request")
    return text_for(getattr(request, "user", None), matter, text or "")


@register.filter
def masked(text):
    """Phone and ID numbers in ``text`` masked, for everyone (``core.protect.mask_text``)."""
    from bihuan.core.protect import mask_text

    return mask_text(text or "")
