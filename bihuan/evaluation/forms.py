"""Page forms of evaluation: edge validation (types, lengths, ranges, control characters)."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from bihuan.core import registry
from bihuan.core.forms import StyledMixin
from bihuan.core.text import has_control

from .models import IndicatorKind, NominationState, PeerGroup, PeriodKind, SelectionKind, StarMode, TargetKind

INDICATOR_ROWS = 8


def no_control_chars(value: str) -> None:
    if has_control(value):
        raise ValidationError(_("Control characters are not allowed."))


def _text(label, max_length, required=True, **kw):
    return forms.CharField(label=label, max_length=max_length, required=required, validators=[no_control_chars], **kw)


class SetForm(StyledMixin, forms.Form):
    """An indicator set with up to ``INDICATOR_ROWS`` indicators (empty rows are left out)."""

    name = _text(_("Name"), 120)
    period_kind = forms.ChoiceField(label=_("Period"), choices=PeriodKind.choices, initial=PeriodKind.HALF)
    target_kind = forms.ChoiceField(label=_("Targets"), choices=TargetKind.choices, initial=TargetKind.VILLAGE)
    star_mode = forms.ChoiceField(label=_("Stars"), choices=StarMode.choices)
    star_thresholds = _text(_("Least score for 5, 4, 3, 2 stars"), 40, initial="90,80,70,60")
    five_star_quota = forms.IntegerField(label=_("Five-star quota (% of the peer group)"), min_value=1,
                                         max_value=100, initial=10)
    notice_days = forms.IntegerField(label=_("Public notice (working days)"), min_value=1, max_value=30, initial=5)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        sources = [("", "—")] + [(n, f"{s.label} ({n})") for n, s in sorted(registry.SOURCES.items())]
        for i in range(1, INDICATOR_ROWS + 1):
            self.fields[f"i{i}_name"] = _text(_("Indicator %(n)d") % {"n": i}, 80, required=False)
            self.fields[f"i{i}_kind"] = forms.ChoiceField(label=_("kind"), choices=IndicatorKind.choices,
                                                          required=False)
            self.fields[f"i{i}_source"] = forms.ChoiceField(label=_("source"), choices=sources, required=False)
            self.fields[f"i{i}_weight"] = forms.DecimalField(label=_("weight"), min_value=0, max_value=100,
                                                             decimal_places=2, required=False)
            self.fields[f"i{i}_floor"] = forms.DecimalField(label=_("floor"), min_value=-999999, max_value=999999,
                                                            decimal_places=2, required=False)
            self.fields[f"i{i}_target"] = forms.DecimalField(label=_("target"), min_value=-999999,
                                                             max_value=999999, decimal_places=2, required=False)
            self.fields[f"i{i}_penalty"] = forms.DecimalField(
                label=_("off per incident / stars at most"), min_value=0, max_value=100, decimal_places=2,
                required=False)
            for f in ("kind", "source", "weight", "floor", "target", "penalty"):
                self.fields[f"i{i}_{f}"].widget.attrs["aria-label"] = f"{i} {self.fields[f'i{i}_{f}'].label}"
        for name, field in self.fields.items():
            if name[:1] == "i" and name[1:2].isdigit():
                sel = isinstance(field.widget, forms.Select)
                field.widget.attrs["class"] = "form-select form-select-sm" if sel else "form-control form-control-sm"

    def rows(self):
        return [[self[f"i{i}_{f}"] for f in ("name", "kind", "source", "weight", "floor", "target", "penalty")]
                for i in range(1, INDICATOR_ROWS + 1)]

    def indicators(self) -> list[dict]:
        d = self.cleaned_data
        out = []
        for i in range(1, INDICATOR_ROWS + 1):
            if not d.get(f"i{i}_name"):
                continue
            kind = d.get(f"i{i}_kind") or "auto"
            row = {"name": d[f"i{i}_name"], "kind": kind, "source": d.get(f"i{i}_source") or "",
                   "weight": d.get(f"i{i}_weight"), "floor": d.get(f"i{i}_floor"), "target": d.get(f"i{i}_target")}
            if kind == IndicatorKind.DEDUCT:  # points off per incident; "target" is read as the most off
                row.update(penalty=d.get(f"i{i}_penalty"), max_penalty=d.get(f"i{i}_target"))
            elif kind == IndicatorKind.VETO:
                row["star_cap"] = int(d.get(f"i{i}_penalty") or 1)
            out.append(row)
        return out


class RunForm(StyledMixin, forms.Form):
    period = _text(_("Period (e.g. 2026H1, 2026Q3, 2026)"), 8)


class CorrectForm(StyledMixin, forms.Form):
    reason = _text(_("Reason for the correction"), 500, widget=forms.Textarea(attrs={"rows": 2}))


class ObjectionForm(StyledMixin, forms.Form):
    reason = _text(_("Your objection"), 1000, widget=forms.Textarea(attrs={"rows": 3}))


class ResultFilterForm(StyledMixin, forms.Form):
    peer_group = forms.ChoiceField(label=_("Peer group"), choices=[("", _("all"))] + PeerGroup.choices,
                                   required=False)


class ScoreForm(StyledMixin, forms.Form):
    indicator = forms.TypedChoiceField(label=_("Indicator"), coerce=int)
    unit = forms.TypedChoiceField(label=_("Unit assessed"), coerce=int)
    period = _text(_("Period"), 8)
    value = forms.DecimalField(label=_("Score (0–100)"), min_value=0, max_value=100, decimal_places=2)
    comment = _text(_("Comment"), 500, required=False)
    evidence = _text(_("Evidence"), 200, required=False)

    def __init__(self, *args, indicators=(), units=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["indicator"].choices = [(i.pk, f"{i.set.name} · {i.name}") for i in indicators]
        self.fields["unit"].choices = [(u.pk, u.name) for u in units]


class IncidentForm(StyledMixin, forms.Form):
    """An incident behind a deduction or a veto (一票否决), with evidence."""

    indicator = forms.TypedChoiceField(label=_("Deduction or veto"), coerce=int)
    unit = forms.TypedChoiceField(label=_("Unit assessed"), coerce=int)
    occurred_on = forms.DateField(label=_("Occurred on"), widget=forms.DateInput(attrs={"type": "date"}))
    description = _text(_("What happened"), 500, widget=forms.Textarea(attrs={"rows": 2}))
    evidence = _text(_("Evidence"), 200)

    def __init__(self, *args, indicators=(), units=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["indicator"].choices = [(i.pk, f"{i.set.name} · {i.name}") for i in indicators]
        self.fields["unit"].choices = [(u.pk, u.name) for u in units]


class AwardForm(StyledMixin, forms.Form):
    rule = forms.TypedChoiceField(label=_("Behaviour"), coerce=int)
    quantity = forms.IntegerField(label=_("Times (or hours)"), min_value=1, max_value=100, initial=1)
    evidence = _text(_("Evidence"), 200, required=False)
    note = _text(_("Note"), 200, required=False)

    def __init__(self, *args, rules=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["rule"].choices = [(r.pk, str(r)) for r in rules]


class RedeemForm(StyledMixin, forms.Form):
    item = forms.TypedChoiceField(label=_("Item"), coerce=int)
    quantity = forms.IntegerField(label=_("Quantity"), min_value=1, max_value=100, initial=1)

    def __init__(self, *args, items=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["item"].choices = [(i.pk, f"{i.name} · {i.price} · {i.stock}") for i in items]


class ReverseForm(StyledMixin, forms.Form):
    reason = _text(_("Reason"), 200)


class SelectionRoundForm(StyledMixin, forms.Form):
    kind = forms.ChoiceField(label=_("Selection"), choices=SelectionKind.choices)
    name = _text(_("Name"), 120)
    quota = forms.IntegerField(label=_("Quota (empty: 150 先锋, 100 优秀书记, 100 先进党组织)"), min_value=1,
                               max_value=10000, required=False)
    nominate_until = forms.DateField(label=_("Nominations until"), widget=forms.DateInput(attrs={"type": "date"}))
    notice_days = forms.IntegerField(label=_("Public notice (working days)"), min_value=1, max_value=30, initial=5)


class NominationForm(StyledMixin, forms.Form):
    unit = forms.TypedChoiceField(label=_("Nominating unit"), coerce=int)
    nominee = _text(_("Nominee (party member)"), 120, required=False)
    party_org = forms.TypedChoiceField(label=_("Party organisation"), coerce=int, required=False, empty_value=None)
    deeds = _text(_("Deeds"), 1000, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, units=(), orgs=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].choices = [(u.pk, u.name) for u in units]
        if orgs is None:
            del self.fields["party_org"]
        else:
            del self.fields["nominee"]
            self.fields["party_org"].choices = [(o.pk, o.name) for o in orgs]
            self.fields["party_org"].required = True


class ReviewForm(StyledMixin, forms.Form):
    accept = forms.TypedChoiceField(label=_("Decision"), coerce=lambda v: v == "1",
                                    choices=[("1", _("accept")), ("0", _("do not accept"))])
    citation = _text(_("Citation (when accepted)"), 500, required=False)
    note = _text(_("Note (when not accepted)"), 500, required=False)


class NominationFilterForm(StyledMixin, forms.Form):
    state = forms.ChoiceField(label=_("State"), choices=[("", _("all"))] + NominationState.choices, required=False)
