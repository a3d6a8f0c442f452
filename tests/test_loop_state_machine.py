"""Random action sequences (hypothesis) keep the loop's invariants.

* no closed matter without a passing evaluation event;
* versions strictly increase, and every matter's timeline is 1..version with no gap;
* a refused action (wrong state, stale version) changes nothing;
* the SQL metrics equal a recount in Python.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from bihuan.core.errors import ServiceError
from bihuan.loop import metrics, services
from bihuan.loop.models import Matter, MatterEvent, State

from .loop_helpers import at, make_categories, new_matter
from .test_loop import recount

ACTIONS = ["dispatch", "accept", "send_back", "report_done", "evaluate_pass", "evaluate_fail", "rate", "remind",
           "flag", "request_extension", "approve_extension", "refuse_extension", "reopen", "merge"]


@pytest.mark.django_db
def test_random_action_sequences_keep_the_invariants(tree, users):
    road, demand = make_categories()
    start = at("2026-09-01 09:00")

    class LoopMachine(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.now = start
            self.matters: list[int] = []
            self.versions: dict[int, int] = {}

        @rule(kind=st.sampled_from(["road", "demand"]))
        def register(self, kind):
            cat = road if kind == "road" else demand
            m = new_matter(users.lumiao_grid, cat, tree.lumiao_g1, self.now)
            self.matters.append(m.pk)
            self.versions[m.pk] = m.version

        @rule(hours=st.integers(min_value=1, max_value=72))
        def time_passes(self, hours):
            self.now += timedelta(hours=hours)

        @rule(data=st.data(), action=st.sampled_from(ACTIONS), stale=st.booleans())
        def act(self, data, action, stale):
            if not self.matters:
                return
            pk = data.draw(st.sampled_from(self.matters))
            m = Matter.objects.get(pk=pk)
            version = m.version - 1 if stale else m.version
            before = (m.state, m.version)
            town, village = users.liying_staff, users.lumiao_secretary
            kw = {"version": version, "now": self.now}
            try:
                if action == "dispatch":
                    services.dispatch(town, pk, handling_unit=tree.lumiao, **kw)
                elif action == "accept":
                    services.accept(village, pk, **kw)
                elif action == "send_back":
                    services.send_back(village, pk, reason="不属于本村", **kw)
                elif action == "report_done":
                    services.report_done(village, pk, comment="已办结", **kw)
                elif action == "evaluate_pass":
                    services.evaluate(town, pk, passed=True, **kw)
                elif action == "evaluate_fail":
                    services.evaluate(town, pk, passed=False, comment="不合格", **kw)
                elif action == "rate":
                    services.rate(town, pk, satisfaction=data.draw(st.sampled_from(["satisfied", "basic", "dissatisfied"])),
                                  resolved=data.draw(st.booleans()), **kw)
                elif action == "remind":
                    services.remind(town, pk, **kw)
                elif action == "flag":
                    services.flag(town, pk, **kw)
                elif action == "request_extension":
                    services.request_extension(village, pk, days=2, reason="等材料", **kw)
                elif action in ("approve_extension", "refuse_extension"):
                    services.decide_extension(town, pk, approve=action == "approve_extension", comment="决定", **kw)
                elif action == "reopen":
                    services.reopen(town, pk, reason="不满意", **kw)
                elif action == "merge":
                    others = [x for x in self.matters if x != pk]
                    if not others:
                        return
                    services.merge(town, pk, into=data.draw(st.sampled_from(others)), **kw)
            except ServiceError:
                m.refresh_from_db()
                assert (m.state, m.version) == before, "a refused action changed the matter"
                return
            assert not stale, "a stale version was accepted"

        @invariant()
        def versions_increase_and_timelines_have_no_gap(self):
            for m in Matter.objects.filter(pk__in=self.matters):
                assert m.version >= self.versions[m.pk]
                self.versions[m.pk] = m.version
                seqs = list(MatterEvent.objects.filter(matter=m).order_by("seq").values_list("seq", flat=True))
                assert seqs == list(range(1, m.version + 1))

        @invariant()
        def no_closed_matter_without_evaluation(self):
            for m in Matter.objects.filter(pk__in=self.matters, state=State.CLOSED):
                last_close = MatterEvent.objects.filter(matter=m, to_state=State.CLOSED).order_by("-seq").first()
                assert last_close is not None
                if last_close.action == "close_with":
                    assert m.merged_into.state == State.CLOSED
                else:
                    assert last_close.action == "evaluate" and last_close.data.get("passed") is True

        def teardown(self):
            begin, end = start - timedelta(days=1), self.now + timedelta(days=1)
            later = self.now + timedelta(days=30)
            for unit in (tree.liying, tree.lumiao):
                got = metrics.unit_metrics(unit, start=begin, end=end, now=later)
                want = recount(unit, begin, end, later)
                assert {k: got[k] for k in want} == want

    run_state_machine_as_test(LoopMachine, settings=settings(
        max_examples=25, stateful_step_count=25, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]))
