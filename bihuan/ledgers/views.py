"""Pages of the ledgers app: registers, their entries (list, filters, summary, chart, history),
the definition editor, XLSX import/export and collection rounds (填报).

Reads go through ``ledgers.selectors``; every change through ``ledgers.services`` with the
plumbing of ``core.views``. Out of scope is a 404, like absent.
"""

from __future__ import annotations

import io
import json

from django.contrib import messages
from django.db.models import Count
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from bihuan.core import tabular as tb
from bihuan.core.errors import NotFound, ServiceError
from bihuan.core.imports import imports_dir
from bihuan.core.scope import allows, has_anywhere, units_q
from bihuan.core.views import paginate, querystring_without, requires, submit
from bihuan.orgs.models import Level, OrgUnit

from . import fields as fl
from . import forms, selectors, services
from .models import Entry, Round, Submission
from .tabular import kind_for

VIEW = "ledgers.entry.view"
CHANGE = "ledgers.entry.change"
MANAGE = "ledgers.register.manage"
ROUND_VIEW = "ledgers.round.view"
MAX_FILTERS = 12


@requires(VIEW)
def register_list(request):
    regs = selectors.registers(request.user)
    counts = dict(Entry.objects.restrict(request.user, "view").filter(register__in=regs).order_by()
                  .values("register_id").annotate(n=Count("id")).values_list("register_id", "n"))
    page = paginate(request, regs)
    for r in page:
        r.count_in_scope = counts.get(r.pk, 0)
        r.level_label = Level(r.level).label
    return render(request, "ledgers/register_list.html", {
        "page": page, "qs": querystring_without(request, "page"),
        "can_define": has_anywhere(request.user, MANAGE),
        "can_dictionaries": _is_city_manager(request.user)})


def _filters(request, register) -> dict:
    out = {}
    for f in register.listed_fields():
        for suffix in ("", "__min", "__max"):
            v = request.GET.get(f["key"] + suffix, "")
            if v:
                out[f["key"] + suffix] = v[:100]
        if len(out) >= MAX_FILTERS:
            break
    return out


@requires(VIEW)
def register_detail(request, code: str):
    r = services.get_register(request.user, code)
    ff = forms.FilterForm(request.GET)
    ff.fields["group"].choices = selectors.level_choices(r)
    q, group, field = "", None, ""
    if ff.is_valid():
        q, group, field = ff.cleaned_data["q"], ff.cleaned_data["group"], ff.cleaned_data["field"]
    filters = _filters(request, r)
    qs = selectors.entries(request.user, r, q=q, filters=filters)
    page = paginate(request, qs)
    listed = r.listed_fields() or r.live_fields()[:5]
    rows = []
    for e in page:
        shown = dict((f["key"], v) for f, v in selectors.display(r, e.data))
        rows.append({"entry": e, "values": [shown.get(f["key"], "") for f in listed]})
    numeric = selectors.numeric_fields(r)
    if field not in {f["key"] for f in numeric}:
        field = numeric[0]["key"] if numeric else ""
    group = group or max(Level.COUNTY, min(r.level, Level.COUNTY if r.level > Level.COUNTY else r.level))
    summary = selectors.summary(request.user, r, level=group, field=field or None, q=q, filters=filters)
    fdef = r.field(field) if field else None
    chart = {"units": [s["unit_name"] for s in summary],
             "values": [s["total"] if fdef else s["count"] for s in summary],
             "label": (fdef["label"] + (f"（{fdef.get('unit')}）" if fdef.get("unit") else "")) if fdef else _("Entries")}
    filter_fields = [f for f in listed if not f["personal"] and f["type"] not in ("person",)]
    return render(request, "ledgers/register_detail.html", {
        "r": r, "page": page, "rows": rows, "listed": listed, "qs": querystring_without(request, "page"),
        "q": q, "filters": filters, "filter_fields": filter_fields, "numeric": numeric, "field": field,
        "group": group, "levels": selectors.level_choices(r), "summary": summary, "chart": chart,
        "total_count": sum(s["count"] for s in summary), "total_sum": sum(s["total"] or 0 for s in summary),
        "can_add": has_anywhere(request.user, CHANGE),
        "can_manage": allows(request.user, MANAGE, r.unit),
        "can_import": has_anywhere(request.user, "ledgers.entry.import"),
        "can_export": has_anywhere(request.user, "ledgers.entry.export"),
        "can_round": has_anywhere(request.user, "ledgers.round.manage"),
        "rounds": selectors.rounds(request.user).filter(register=r)[:10]})


@requires(MANAGE)
def register_create(request):
    form = forms.RegisterForm(request.POST or None, user=request.user)

    def call(d):
        unit = OrgUnit.objects.filter(units_q(request.user, MANAGE), pk=d["unit"]).first()
        if unit is None:
            raise NotFound()
        return services.create_register(request.user, code=d["code"], name=d["name"], level=d["level"],
                                        fields=d["definition"], description=d["description"], unit=unit)

    r = submit(request, form, call, rename=_rename_fields())
    if r is not None:
        messages.success(request, _("Register %(n)s defined.") % {"n": r.name})
        return redirect("ledgers:register_detail", code=r.code)
    return render(request, "ledgers/register_form.html", {"form": form, "title": _("Define a register"),
                                                          "types": fl.TYPE_LABELS}, status=form.status)


class _FieldsToDefinition(dict):
    """A definition's refusals (``fields.3.key``) land on the JSON box."""

    def get(self, key, default=None):
        return "definition" if str(key).startswith("fields") else default


def _rename_fields():
    return _FieldsToDefinition({"": ""})  # not empty: an empty mapping reads as "no renaming"


@requires(MANAGE)
def register_edit(request, code: str):
    r = services.get_register(request.user, code)
    if not allows(request.user, MANAGE, r.unit):
        raise Http404
    initial = {"name": r.name, "description": r.description, "version": r.version,
               "definition": json.dumps(r.live_fields(), ensure_ascii=False, indent=1)}
    form = forms.RegisterEditForm(request.POST or None, initial=initial)
    done = submit(request, form, lambda d: services.change_register(
        request.user, r, version=d["version"], name=d["name"], description=d["description"], fields=d["definition"]),
        rename=_rename_fields())
    if done is not None:
        messages.success(request, _("Version %(v)d of the register saved.") % {"v": done.version})
        return redirect("ledgers:register_detail", code=r.code)
    return render(request, "ledgers/register_form.html", {"form": form, "r": r, "title": _("Change the register"),
                                                          "types": fl.TYPE_LABELS,
                                                          "versions": r.versions.order_by("-version")[:20]},
                  status=form.status)


def _managed(request, code: str):
    r = services.get_register(request.user, code)
    if not allows(request.user, MANAGE, r.unit):
        raise Http404
    return r


def _field_errors_on(form):
    """A definition's refusal names ``fields.<n>.<attr>`` or ``fields.<key>``: put it on the input."""

    class Rename(dict):
        def get(self, key, default=None):
            key = str(key)
            if key.startswith("fields"):
                attr = key.rsplit(".", 1)[-1]
                return attr if attr in form.fields and attr != "version" else None
            return key if key in form.fields else None

    return Rename({"": ""})  # not empty: an empty mapping reads as "no renaming"


@requires(MANAGE)
def field_builder(request, code: str):
    """The definition, field by field: the fields (live and removed), add one."""
    r = _managed(request, code)
    form = forms.FieldForm(request.POST or None, initial={"version": r.version, "type": "text"})
    done = submit(request, form, lambda d: services.add_field(request.user, r, version=d["version"],
                                                              field=form.definition()),
                  rename=_field_errors_on(form))
    if done is not None:
        messages.success(request, _("Field added; version %(v)d of the register saved.") % {"v": done.version})
        return redirect("ledgers:field_builder", code=r.code)
    return render(request, "ledgers/field_builder.html", {
        "r": r, "form": form, "types": fl.TYPE_LABELS, "live": r.live_fields(),
        "removed": [f for f in r.fields if f.get("removed")],
        "versions": r.versions.order_by("-version")[:20]}, status=form.status)


@requires(MANAGE)
def field_edit(request, code: str, key: str):
    r = _managed(request, code)
    f = r.field(key)
    if f is None or f.get("removed"):
        raise Http404
    form = forms.FieldForm(request.POST or None, editing=f, initial=forms.field_initial(f, r.version))
    done = submit(request, form, lambda d: services.change_field(request.user, r, version=d["version"], key=f["key"],
                                                                 changes=form.definition()),
                  rename=_field_errors_on(form))
    if done is not None:
        messages.success(request, _("Field changed; version %(v)d of the register saved.") % {"v": done.version})
        return redirect("ledgers:field_builder", code=r.code)
    return render(request, "ledgers/field_edit.html", {"r": r, "f": f, "form": form,
                                                       "type_label": fl.TYPE_LABELS.get(f["type"], f["type"])},
                  status=form.status)


@requires(MANAGE)
@require_POST
def field_remove(request, code: str, key: str):
    r = _managed(request, code)
    try:
        done = services.remove_field(request.user, r, version=request.POST.get("version"), key=key)
    except NotFound:
        raise Http404 from None
    except ServiceError as exc:
        messages.error(request, str(exc.message))
        return redirect("ledgers:field_builder", code=r.code)
    messages.success(request, _("Field removed (its values and history are kept); version %(v)d saved.")
                     % {"v": done.version})
    return redirect("ledgers:field_builder", code=r.code)


@requires(VIEW)
def register_definition(request, code: str):
    """The definition as a file, for another deployment (``bihuan registers load FILE``)."""
    r = services.get_register(request.user, code)
    body = {"registers": [{"code": r.code, "name": r.name, "level": r.level, "description": r.description,
                           "fields": r.fields}]}
    resp = HttpResponse(json.dumps(body, ensure_ascii=False, indent=1), content_type="application/json")
    resp["Content-Disposition"] = f'attachment; filename="register-{r.code}.json"'
    return resp


@requires(CHANGE)
def entry_create(request, code: str):
    r = services.get_register(request.user, code)
    form = forms.entry_form(r, request.user, creating=True, data=request.POST or None,
                            files_data=request.FILES or None)

    def call(d):
        unit = OrgUnit.objects.filter(units_q(request.user, CHANGE), pk=d["unit"]).first()
        if unit is None:
            raise NotFound()
        return services.create_entry(request.user, r, unit=unit, values=forms.values_of(r, d))

    e = submit(request, form, call)
    if e is not None:
        messages.success(request, _("Entry saved."))
        return redirect("ledgers:register_detail", code=r.code)
    return render(request, "ledgers/entry_form.html", {"form": form, "r": r}, status=form.status)


def _entry(request, entry_id: int, action: str = "view") -> Entry:
    e = Entry.objects.restrict(request.user, action).select_related("register__unit", "unit").filter(
        pk=entry_id).first()
    if e is None:
        raise Http404
    return e


@requires(VIEW)
def entry_detail(request, ledger_entry_id: int):
    e = _entry(request, ledger_entry_id)
    r = e.register
    can_change = allows(request.user, CHANGE, e)
    form = forms.entry_form(r, request.user, creating=False, data=request.POST or None,
                            files_data=request.FILES or None, initial=forms.initial_of(r, e)) if can_change else None
    if request.method == "POST":
        if not can_change:
            raise Http404
        done = submit(request, form, lambda d: services.update_entry(request.user, e, version=d["version"],
                                                                     values=forms.values_of(r, d)))
        if done is not None:
            messages.success(request, _("Entry saved."))
            return redirect("ledgers:entry_detail", ledger_entry_id=e.pk)
    history = paginate(request, selectors.history(request.user, e), per_page=20)
    is_office = r.code == services.OFFICES
    labels = {f["key"]: f["label"] for f in r.fields}
    changes = [{"c": c, "items": [(labels.get(k, k), v[0], v[1]) for k, v in c.changes.items()]} for c in history]
    return render(request, "ledgers/entry_detail.html", {
        "e": e, "r": r, "shown": selectors.display(r, e.data), "form": form, "history": history,
        "changes": changes, "can_change": can_change, "can_reveal": allows(request.user, "ledgers.entry.reveal", e),
        "personal": [f for f in r.live_fields() if f["personal"] and f["key"] in e.protected],
        "files": [(f, e.data[f["key"]]) for f in r.live_fields() if f["type"] == "file" and e.data.get(f["key"])],
        "revealed": request.session.pop(f"ledgers-reveal-{e.pk}", None),
        "proposals": selectors.office_proposals(request.user, e) if is_office else None,
        "proposal_form": forms.ProposalForm() if is_office and can_change else None},
        status=getattr(form, "status", 200) if form is not None else 200)


@requires(VIEW)
def entry_file(request, ledger_entry_id: int, key: str):
    """A file of an entry: only through the entry, in scope (else 404); audited."""
    e = _entry(request, ledger_entry_id)
    ef = services.open_file(request.user, e, key)
    resp = FileResponse(ef.file.open("rb"), content_type=ef.content_type,
                        as_attachment=not ef.content_type.startswith("image/"), filename=ef.name)
    resp["X-Content-Type-Options"] = "nosniff"
    resp["Cache-Control"] = "private, no-store"
    return resp


@requires(CHANGE)
@require_POST
def entry_delete(request, ledger_entry_id: int):
    e = _entry(request, ledger_entry_id, "change")
    services.delete_entry(request.user, e, version=request.POST.get("version"))
    messages.success(request, _("Entry deleted; its history is kept."))
    return redirect("ledgers:register_detail", code=e.register.code)


@requires("ledgers.entry.reveal")
@require_POST
def entry_reveal(request, ledger_entry_id: int):
    e = _entry(request, ledger_entry_id)
    form = forms.RevealForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give a reason to reveal a personal value."))
        return redirect("ledgers:entry_detail", ledger_entry_id=e.pk)
    value = services.reveal(request.user, e, form.cleaned_data["field"], form.cleaned_data["reason"])
    request.session[f"ledgers-reveal-{e.pk}"] = {"field": form.cleaned_data["field"], "value": value}
    return redirect("ledgers:entry_detail", ledger_entry_id=e.pk)


@requires("ledgers.entry.export")
def entry_export(request, code: str):
    r = services.get_register(request.user, code)
    buf = io.BytesIO()
    tb.export(kind_for(r), buf, user=request.user)
    resp = HttpResponse(buf.getvalue(),
                        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    stamp = timezone.localtime().strftime("%Y%m%d")
    resp["Content-Disposition"] = f'attachment; filename="ledger-{r.code}-{stamp}.xlsx"'
    return resp


@requires("ledgers.entry.import")
def entry_import(request, code: str):
    r = services.get_register(request.user, code)
    form = forms.ImportForm(request.POST or None, request.FILES or None)
    result, error = None, None
    if request.method == "POST" and form.is_valid():
        f = form.cleaned_data["file"]
        try:
            source = tb.store_upload(f.chunks(), f.name, imports_dir(), size=f.size)
        except tb.TabularError as exc:
            error = str(exc.message)
        else:
            result = tb.run_import(kind_for(r), source, user=request.user, dry_run=request.POST.get("dry_run") == "1")
            if result.applied:
                messages.success(request, _("Imported: %(c)d new, %(u)d changed, %(n)d unchanged.") % {
                    "c": result.created, "u": result.updated, "n": result.unchanged})
                return redirect("ledgers:register_detail", code=r.code)
    status = 400 if (error or (result is not None and not result.ok)) else 200
    return render(request, "ledgers/import.html", {
        "r": r, "form": form, "result": result, "error": error or (result.file_error if result else ""),
        "errors": result.errors[:200] if result else [], "headers": kind_for(r).spec.headers}, status=status)


# --- reserve talents: the pool's age structure ------------------------------------------------------

def _talent_ages(request):
    r = services.get_register(request.user, selectors.TALENTS)
    try:
        level = int(request.GET.get("level", Level.COUNTY))
    except ValueError:
        level = Level.COUNTY
    if level not in (Level.COUNTY, Level.TOWNSHIP):
        level = Level.COUNTY
    rows = selectors.age_structure(request.user, r, level=level)
    totals = [sum(row["bands"][i] for row in rows) for i in range(len(selectors.AGE_BANDS))]
    return r, level, rows, {"total": sum(row["total"] for row in rows), "bands": totals}


@requires(VIEW)
def talent_ages(request):
    """后备人才: the pool's size and age bands per county or township, in scope."""
    r, level, rows, total = _talent_ages(request)
    bands = [label for _k, label, *_rest in selectors.AGE_BANDS]
    chart = {"units": [x["unit_name"] for x in rows], "bands": bands,
             "series": [[x["bands"][i] for x in rows] for i in range(len(bands))]}
    return render(request, "ledgers/talent_ages.html", {
        "r": r, "level": level, "levels": [(Level.COUNTY, Level.COUNTY.label), (Level.TOWNSHIP, Level.TOWNSHIP.label)],
        "page": paginate(request, rows), "total": total, "bands": bands, "chart": chart,
        "qs": querystring_without(request, "page"), "can_export": has_anywhere(request.user, "ledgers.entry.export")})


@requires("ledgers.entry.export")
def talent_ages_xlsx(request):
    r, level, rows, total = _talent_ages(request)
    from django.utils import translation

    with translation.override("zh-hans"):
        headers = [str(_("Unit")), str(_("Division code")), str(_("Pool size")),
                   *[f"{label}{_('years')}" for _k, label, *_rest in selectors.AGE_BANDS]]
        out_rows = [[x["unit_name"], x["unit_code"], x["total"], *x["bands"]] for x in rows]
        out_rows.append([str(_("Total")), "", total["total"], *total["bands"]])
    out = io.BytesIO()
    tb.write_xlsx(out, headers, out_rows, sheet_title="后备人才年龄结构", widths=[24, 16, 10] + [10] * 5)
    resp = HttpResponse(out.getvalue(),
                        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    resp["Content-Disposition"] = f'attachment; filename="talent-ages-{level}-{timezone.localtime():%Y%m%d}.xlsx"'
    return resp


# --- capacity matching: a resident's demand → a free place (block of h-ledgers2) ---------------

def _demand_matter(user, raw):
    """The loop matter ``?matter=`` in the user's scope (its township and point prefill the search)."""
    from bihuan.core.scope import get_required
    from bihuan.loop.models import Matter

    try:
        ref = int(raw)
    except (TypeError, ValueError):
        return None
    if not 0 < ref < 2**62:
        return None
    try:
        return get_required(user, "loop.matter.view", Matter.objects.select_related("location_unit"), ref)
    except ServiceError:  # out of scope (403/404) or absent: ignored, like no matter at all
        return None


def _match_params(request):
    r = services.get_register(request.user, selectors.CAPACITY)
    kind = request.GET.get("kind", "")
    kind = kind if kind in selectors.CAPACITY_KINDS else ""
    matter = _demand_matter(request.user, request.GET.get("matter")) if request.GET.get("matter") else None
    township = None
    raw = request.GET.get("unit", "")[:20]
    if raw:
        township = OrgUnit.objects.filter(units_q(request.user, VIEW), code=raw, valid_to__isnull=True,
                                          level=Level.TOWNSHIP).first()
    if township is None and matter is not None:
        township = selectors.township_of(matter.location_unit)
    return r, kind, township, matter


@requires(VIEW)
def free_places(request):
    """岗位学位床位托位: for a kind and a township, the providers with free places — the township's
    own first, then the county's other townships, nearest first; from a demand matter prefilled."""
    r, kind, township, matter = _match_params(request)
    townships = (OrgUnit.objects.filter(units_q(request.user, VIEW), level=Level.TOWNSHIP, valid_to__isnull=True)
                 .order_by("path")[:500])
    page, by_township = None, []
    if kind and township is not None:
        lat = matter.lat if matter is not None and matter.lat is not None and matter.lon is not None else None
        lon = matter.lon if lat is not None else None
        page = paginate(request, selectors.free_places(request.user, r, kind=kind, township=township, lat=lat, lon=lon))
        for e in page:
            e.shown = dict((f["key"], v) for f, v in selectors.display(r, e.data))
            e.free_n = int(e.free_places)
        by_township = selectors.free_places_by_township(request.user, r, kind=kind,
                                                        county=township.parent or township)
    return render(request, "ledgers/free_places.html", {
        "r": r, "kind": kind, "kinds": selectors.CAPACITY_KINDS, "township": township, "townships": townships,
        "matter": matter, "page": page, "by_township": by_township, "qs": querystring_without(request, "page")})


# --- shared dictionaries (字典): the city defines a list of choices once (block of h-ledgers2) ----

def _is_city_manager(user) -> bool:
    root = OrgUnit.objects.filter(parent__isnull=True, valid_to__isnull=True).order_by("id").first()
    return root is not None and allows(user, MANAGE, root)


def _city_manager(request) -> None:
    """Dictionaries are the city's: ``ledgers.register.manage`` at the root, else 404."""
    if not _is_city_manager(request.user):
        raise Http404


@requires(MANAGE)
def dictionary_list(request):
    from .models import Dictionary

    _city_manager(request)
    form = forms.DictionaryForm(request.POST or None)
    d = submit(request, form, lambda c: services.create_dictionary(request.user, code=c["code"], name=c["name"],
                                                                   choices=c["choices"]))
    if d is not None:
        messages.success(request, _("Dictionary %(n)s defined.") % {"n": d.name})
        return redirect("ledgers:dictionary_list")
    page = paginate(request, Dictionary.objects.order_by("code"))
    return render(request, "ledgers/dictionary_list.html", {"form": form, "page": page,
                                                            "qs": querystring_without(request, "page")},
                  status=form.status)


@requires(MANAGE)
def dictionary_edit(request, dict_code: str):
    from .models import Dictionary

    _city_manager(request)
    d = Dictionary.objects.filter(code=dict_code[:40]).first()
    if d is None:
        raise Http404
    form = forms.DictionaryEditForm(request.POST or None, initial={
        "name": d.name, "choices": "\n".join(d.choices), "version": d.version})
    done = submit(request, form, lambda c: services.change_dictionary(request.user, d, version=c["version"],
                                                                      name=c["name"], choices=c["choices"]))
    if done is not None:
        messages.success(request, _("Version %(v)d of the dictionary saved.") % {"v": done.version})
        return redirect("ledgers:dictionary_edit", dict_code=d.code)
    return render(request, "ledgers/dictionary_edit.html", {
        "d": d, "form": form, "using": services.registers_using(d.code),
        "versions": d.versions.select_related("by").order_by("-version")[:20]}, status=form.status)


# --- collection rounds ---------------------------------------------------------------------------

@requires(ROUND_VIEW)
def round_list(request):
    page = paginate(request, selectors.rounds(request.user))
    return render(request, "ledgers/round_list.html", {"page": page, "qs": querystring_without(request, "page")})


@requires("ledgers.round.manage")
def round_create(request, code: str):
    r = services.get_register(request.user, code)
    form = forms.RoundForm(request.POST or None, user=request.user, register=r)

    def call(d):
        within = OrgUnit.objects.filter(units_q(request.user, "ledgers.round.manage"), pk=d["within"]).first()
        if within is None:
            raise NotFound()
        return services.open_round(request.user, r, within=within, title=d["title"], due_on=d["due_on"])

    rd = submit(request, form, call)
    if rd is not None:
        messages.success(request, _("Collection round opened."))
        return redirect("ledgers:round_detail", round_id=rd.pk)
    return render(request, "ledgers/round_form.html", {"form": form, "r": r}, status=form.status)


def _round(request, round_id: int) -> Round:
    rd = selectors.rounds(request.user).filter(pk=round_id).first()
    if rd is None:
        raise Http404
    return rd


@requires(ROUND_VIEW)
def round_detail(request, round_id: int):
    rd = _round(request, round_id)
    now = timezone.now()
    form = forms.SubmitForm(request.POST or None, user=request.user, rd=rd) if has_anywhere(
        request.user, "ledgers.round.submit") else None
    if request.method == "POST" and form is not None:
        def call(d):
            unit = OrgUnit.objects.filter(units_q(request.user, "ledgers.round.submit"), pk=d["unit"]).first()
            if unit is None:
                raise NotFound()
            return services.submit(request.user, rd, unit=unit, note=d["note"])

        if submit(request, form, call) is not None:
            messages.success(request, _("Submitted."))
            return redirect("ledgers:round_detail", round_id=rd.pk)
    status = selectors.round_status(request.user, rd, now)
    return render(request, "ledgers/round_detail.html", {
        "rd": rd, "status": status, "form": form, "late": [s for s in status if s["late"]],
        "submitted": sum(1 for s in status if s["submission"] and s["submission"].state == "submitted"),
        "can_return": allows(request.user, "ledgers.round.manage", rd),
        "return_form": forms.ReturnForm()}, status=getattr(form, "status", 200) if form is not None else 200)


@requires("ledgers.round.manage")
@require_POST
def round_return(request, round_id: int):
    rd = _round(request, round_id)
    form = forms.ReturnForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the reason for returning the submission."))
        return redirect("ledgers:round_detail", round_id=rd.pk)
    s = Submission.objects.filter(round=rd, pk=form.cleaned_data["submission"]).first()
    if s is None:
        raise Http404
    services.return_submission(request.user, s, reason=form.cleaned_data["reason"])
    messages.success(request, _("Returned with the reason given."))
    return redirect("ledgers:round_detail", round_id=rd.pk)


@requires(CHANGE)
@require_POST
def office_proposal(request, ledger_entry_id: int):
    """A proposal received at a party-representative office → a loop matter of kind proposal."""
    e = _entry(request, ledger_entry_id, "change")
    form = forms.ProposalForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the representative, the proposal and its details."))
        return redirect("ledgers:entry_detail", ledger_entry_id=e.pk)
    p = services.receive_proposal(request.user, e, **form.cleaned_data)
    messages.success(request, _("Proposal received; matter #%(m)d opened.") % {"m": p.matter_id})
    return redirect("ledgers:entry_detail", ledger_entry_id=e.pk)
