#!/usr/bin/env python3
"""A SimPy discrete-event model of a rehearse plan, for the side-by-side
speed comparison of issue #21 (`rehearse estimate --threads 1` against SimPy).

It reads the scenario TOML itself (default: the AX 2012 data upgrade in a
development environment) and simulates N independent runs, one SimPy
environment each: every step is a SimPy process that waits on the events of
its predecessors (start or end, plus the lag), draws its duration, may be
struck by a fault part-way through, waits for the recovery's reaction and fix,
and tries again (retry) or runs again from an earlier step (rerun). A run ends
when every top-level step has completed (or a recovery's budget is spent and
it aborts). It reports runs/s and the downtime's P50/P90/P99 over the
committed runs, the measure `rehearse estimate` reports.

The semantics follow rehearse's own code (core/src/dist.rs,
core/src/scenario/model.rs, sim/src/engine/{mod,sites,recovery,rerun}.rs); see
benches/simpy/README.md for the mapping and what is left out. Anything in the
file this model does not implement is refused with a message, not ignored.

    pip3 install simpy        # 4.x
    python3 benches/simpy/data_upgrade.py --runs 20000 [--seed 0] [--json]
"""

import argparse
import json
import math
import random
import re
import sys
import time
import tomllib
from pathlib import Path

try:
    import simpy
except ImportError:
    sys.exit("data_upgrade.py: the simpy package is not installed; install it with `pip3 install simpy` (4.x)")

HERE = Path(__file__).resolve().parent
DEFAULT_SCENARIO = HERE.parent.parent / "scenarios" / "ax2012-data-upgrade-dev.toml"

# core/src/dist.rs and core/src/scenario/model.rs
Z_90 = 1.2815515655446004
MAX_SPAN = 30 * 86_400_000  # ms: the longest a step, lag or draw may be
FACTOR_UNIT = 1_000_000.0  # a driver's factor is drawn in millionths
DEFAULT_MAX_ATTEMPTS = 3  # core/src/scenario/validate/faults.rs
# core/src/fault.rs CATALOG: whether a catalogue fault persists until fixed.
CATALOG_PERSISTENT = {
    "dvt-mrprocessservice": False,
    "ttscommit": False,
    "package-deployment-failed": True,
    "prepare-could-not-start": True,
    "staging-deployment-failed": True,
    "runbook-step-failed": False,
    "upgrade-script-error": True,
    "services-left-running": True,
    "wrong-collation": True,
    "record-counts-differ": False,
    "snapshot-waiting": True,
    "validation-failed": True,
}
# Recovery actions that try the step again (core/src/fault.rs Action::retries).
RETRYING = {"resume", "retry", "rerun", "rollback-package"}


class Unsupported(Exception):
    pass


# ---------------------------------------------------------------- durations

_UNITS = {"d": 86_400_000, "h": 3_600_000, "m": 60_000, "s": 1000, "ms": 1}
_RANK = {"d": 0, "h": 1, "m": 2, "s": 3, "ms": 4}
_PART = re.compile(r"([0-9_]+(?:\.[0-9]+)?)(ms|d|h|m|s)")


def parse_duration(text):
    """`1h8m27.215s`, `137ms`, `2m` -> ms (SimDuration::parse, unit form)."""
    s = text.strip()
    if ":" in s:
        raise Unsupported(f"clock-form duration {text!r}")
    pos, total, last = 0, 0, -1
    while pos < len(s):
        m = _PART.match(s, pos)
        if not m or _RANK[m.group(2)] <= last:
            raise ValueError(f"malformed duration {text!r}")
        last = _RANK[m.group(2)]
        total += round(float(m.group(1).replace("_", "")) * _UNITS[m.group(2)])
        pos = m.end()
    if pos == 0:
        raise ValueError(f"malformed duration {text!r}")
    return total


def round_ms(v):
    """Half up, as rehearse's round_ms (0 for v <= 0)."""
    return int(v + 0.5) if v > 0 else 0


class Dist:
    """A distribution of ms (core/src/dist.rs). `draw(rng)` is unrounded,
    `sample(rng)` rounded and kept within [.., max] and MAX_SPAN."""

    def __init__(self, kind, draw, hi):
        self.kind = kind
        self.draw = draw
        self.hi = MAX_SPAN if hi is None else min(hi, MAX_SPAN)
        self.fixed = None

    def sample(self, rng):
        if self.fixed is not None:
            return self.fixed
        v = round_ms(self.draw(rng))
        return v if v < self.hi else self.hi


def fixed_dist(ms):
    d = Dist("fixed", lambda r: float(ms), ms)
    d.fixed = ms
    return d


def make_dist(value, what, to_ms=parse_duration, allow_instant=True):
    """`"45m"`, `"instant"`, or a one-key table: uniform, triangular, pert,
    lognormal, empirical."""
    if isinstance(value, str):
        if value == "instant" and allow_instant:
            return fixed_dist(0)
        return fixed_dist(to_ms(value))
    if not (isinstance(value, dict) and len(value) == 1):
        raise Unsupported(f"{what}: distribution {value!r}")
    (kind, p), = value.items()
    if kind == "uniform":
        a, b = (to_ms(x) for x in p)
        w = b - a
        return Dist(kind, lambda r: a + w * r.random(), b)
    if kind == "triangular":
        a, c, b = (to_ms(x) for x in p)
        fc = (c - a) / (b - a)
        k1, k2 = (b - a) * (c - a), (b - a) * (b - c)

        def tri(r):
            u = r.random()
            return a + math.sqrt(u * k1) if u < fc else b - math.sqrt((1.0 - u) * k2)

        return Dist(kind, tri, b)
    if kind == "pert":
        a, m, b = (to_ms(x) for x in p)
        alpha = 1.0 + 4.0 * (m - a) / (b - a)
        beta = 1.0 + 4.0 * (b - m) / (b - a)
        w = b - a
        # rehearse draws two gammas (Marsaglia-Tsang) and takes x / (x + y):
        # a Beta(alpha, beta) draw, which is what betavariate returns.
        return Dist(kind, lambda r: a + w * r.betavariate(alpha, beta), b)
    if kind == "lognormal":
        med, p90 = to_ms(p["median"]), to_ms(p["p90"])
        sigma = math.log(p90 / med) / Z_90
        # rehearse inverts the normal CDF of one uniform (Acklam); any
        # standard normal gives the same distribution.
        return Dist(kind, lambda r: med * math.exp(sigma * r.gauss(0.0, 1.0)), None)
    if kind == "empirical":
        obs = sorted(to_ms(x) for x in p)
        n = len(obs)

        def emp(r):
            if n == 1:
                return float(obs[0])
            pos = r.random() * (n - 1)
            i = min(int(pos), n - 2)
            return obs[i] + (pos - i) * (obs[i + 1] - obs[i])

        return Dist(kind, emp, obs[-1])
    raise Unsupported(f"{what}: distribution kind {kind!r}")


def factor_ms(v):
    """A driver factor's number, in millionths (as rehearse reads it)."""
    if isinstance(v, (int, float)):
        return round(float(v) * FACTOR_UNIT)
    raise Unsupported(f"driver factor value {v!r}")


class StepDuration:
    """A base plus per-GB part (StepDuration::sample): the base rounded and
    capped, the scaled part unrounded (>= 0) times the units, the sum rounded,
    at most MAX_SPAN."""

    def __init__(self, base, per_gb, units):
        self.base, self.per_gb, self.units = base, per_gb, units

    def sample(self, rng):
        if self.per_gb is None:
            return self.base.sample(rng) if self.base is not None else 0
        ms = float(self.base.sample(rng)) if self.base is not None else 0.0
        ms += max(self.per_gb.draw(rng), 0.0) * self.units
        return min(round_ms(ms), MAX_SPAN)


# --------------------------------------------------------------------- model


class Model:
    """The scenario, compiled: flat per-step lists indexed in file order."""

    def __init__(self, path):
        with open(path, "rb") as fh:
            doc = tomllib.load(fh)
        for key in ("resource", "decision", "replication", "readiness"):
            if doc.get(key):
                raise Unsupported(f"[{key}] is not modelled")
        raw_steps = doc.get("step", [])
        self.n = n = len(raw_steps)
        self.ids = [s["id"] for s in raw_steps]
        index = {sid: i for i, sid in enumerate(self.ids)}
        size_gb = doc.get("database", {}).get("size_gb")
        self.drivers = []
        driver_index = {}
        for d in doc.get("driver", []):
            driver_index[d["id"]] = len(self.drivers)
            self.drivers.append(make_dist(d["factor"], f"driver {d['id']}", to_ms=factor_ms, allow_instant=False))

        self.parent = [None] * n
        self.children = [[] for _ in range(n)]
        self.incoming = [[] for _ in range(n)]  # (source, anchor is start, lag ms | (lo, hi))
        self.duration = [None] * n  # StepDuration, or None for a group
        self.finish_lag = [0] * n
        self.scale_by = [()] * n
        self.begins = self.ends = None
        for i, s in enumerate(raw_steps):
            sid = s["id"]
            for key in ("needs", "not_before", "data", "replication", "per_million_rows", "milestone_by"):
                if key in s:
                    raise Unsupported(f"step {sid}: `{key}` is not modelled")
            if "parent" in s:
                p = index[s["parent"]]
                self.parent[i] = p
                self.children[p].append(i)
                self.incoming[i].append((p, True, 0))  # a sub-step waits for its parent's start
            for dep in s.get("after", []):
                if isinstance(dep, str):
                    dep = {"step": dep}
                anchor = dep.get("from", "finish")
                if anchor not in ("start", "finish"):
                    raise Unsupported(f"step {sid}: after.from = {anchor!r}")
                lag = dep.get("lag", "0ms")
                if isinstance(lag, dict):
                    lag = (parse_duration(lag["at_least"]), parse_duration(lag["up_to"]))
                else:
                    lag = parse_duration(lag)
                self.incoming[i].append((index[dep["step"]], anchor == "start", lag))
            mark = s.get("downtime")
            if mark == "begins":
                if self.begins is not None:
                    raise Unsupported("more than one step where downtime begins")
                self.begins = i
            elif mark == "ends":
                if self.ends is not None:
                    raise Unsupported("more than one step where downtime ends")
                self.ends = i
            elif mark is not None:
                raise Unsupported(f"step {sid}: downtime = {mark!r}")
            self.scale_by[i] = tuple(driver_index[d] for d in s.get("scale_by", []))
            self.finish_lag[i] = parse_duration(s["finish_lag"]) if "finish_lag" in s else 0
            base = make_dist(s["duration"], f"step {sid}") if "duration" in s else None
            per_gb = make_dist(s["per_gb"], f"step {sid} per_gb", allow_instant=False) if "per_gb" in s else None
            if per_gb is not None and size_gb is None:
                raise Unsupported(f"step {sid}: per_gb without database.size_gb")
            self.duration[i] = (base, per_gb)
        for i in range(n):
            base, per_gb = self.duration[i]
            if self.children[i]:
                if base is not None or per_gb is not None:
                    raise Unsupported(f"step {self.ids[i]}: a group with its own duration")
                self.duration[i] = None
            else:
                self.duration[i] = StepDuration(base, per_gb, float(size_gb or 0.0))
        self.roots = [i for i in range(n) if self.parent[i] is None]
        # Edges with a lag drawn per run: their lag in `edges` is ~k, k the
        # place of (at_least, up_to) in `ranged`.
        self.ranged = []
        self.edges = []
        for i in range(n):
            out = []
            for src, from_start, lag in self.incoming[i]:
                if isinstance(lag, tuple):
                    out.append((src, from_start, ~len(self.ranged)))
                    self.ranged.append(lag)
                else:
                    out.append((src, from_start, lag))
            self.edges.append(tuple(out))
        # Steps whose start something waits for (a sub-step, a start-to-start
        # dependency): only these need a start event.
        self.start_waited = [False] * n
        for i in range(n):
            for src, from_start, _ in self.incoming[i]:
                if from_start:
                    self.start_waited[src] = True
        if self.begins is None or self.ends is None:
            raise Unsupported("the plan must mark where downtime begins and ends")

        # Recovery policies.
        raw_pol = doc.get("recovery", {})
        self.policies = {}
        for name, p in raw_pol.items():
            action = p.get("action", name)
            if action not in ("retry", "rerun", "abort"):
                raise Unsupported(f"recovery.{name}: action {action!r} (only retry, rerun and abort are modelled)")
            for key in ("verify", "duration", "deadline", "past_deadline"):
                if key in p:
                    raise Unsupported(f"recovery.{name}: `{key}` is not modelled")
            self.policies[name] = {
                "action": action,
                "reaction": make_dist(p["reaction"], f"recovery.{name}.reaction") if "reaction" in p else None,
                "fix": make_dist(p["fix"], f"recovery.{name}.fix") if "fix" in p else None,
                "max_attempts": p.get("max_attempts", DEFAULT_MAX_ATTEMPTS),
                "then": p.get("then"),
                "from": index[p["from"]] if "from" in p else None,
            }

        # Faults, and the sites (fault on a leaf step) of each step, in fault file order.
        self.faults = []
        self.sites = [[] for _ in range(n)]
        for k, f in enumerate(doc.get("fault", [])):
            if f.get("unknown_outcome"):
                raise Unsupported(f"fault {f['id']}: unknown_outcome is not modelled")
            if "persistent" in f:
                persistent = bool(f["persistent"])
            elif f.get("catalog") in CATALOG_PERSISTENT:
                persistent = CATALOG_PERSISTENT[f["catalog"]]
            else:
                raise Unsupported(f"fault {f['id']}: persistence unknown (catalog {f.get('catalog')!r})")
            rec = f.get("recovery") or raise_(Unsupported(f"fault {f['id']}: no recovery named"))
            if rec not in self.policies:
                raise Unsupported(f"fault {f['id']}: recovery {rec!r} is not a [recovery.*] of the file")
            at = tuple(f.get("at", (0.0, 1.0)))
            self.faults.append({"id": f["id"], "persistent": persistent, "recovery": rec})
            for sid in f["steps"]:
                i = index[sid]
                if self.duration[i] is None:
                    continue  # sites on groups never fire (sites.rs)
                self.sites[i].append((k, float(f["probability"]), float(at[0]), float(at[1] - at[0])))

        # The rerun sets (rerun.rs rerun_set), for every (policy, step it can strike).
        self.rerun_sets = {}
        for i in range(n):
            for k, *_ in self.sites[i]:
                for name in self._hand_overs(self.faults[k]["recovery"]):
                    pol = self.policies[name]
                    if pol["action"] == "rerun":
                        src = pol["from"] if pol["from"] is not None else i
                        self.rerun_sets[(src, i)] = self._rerun_set(src, i)

    def _hand_overs(self, name):
        out, todo = [], [name]
        while todo:
            p = todo.pop()
            if p in out:
                continue
            out.append(p)
            if self.policies[p]["then"]:
                todo.append(self.policies[p]["then"])
        return out

    def _graph_out(self):
        out = [[] for _ in range(2 * self.n)]
        for i in range(self.n):
            out[2 * i].append(2 * i + 1)
            p = self.parent[i]
            if p is not None:
                out[2 * p].append(2 * i)
                out[2 * i + 1].append(2 * p + 1)
            for src, from_start, _ in self.incoming[i][(1 if p is not None else 0):]:
                out[2 * src + (0 if from_start else 1)].append(2 * i)
        return out

    def _reach(self, out, node):
        seen, stack = set(), [node]
        while stack:
            v = stack.pop()
            if v not in seen:
                seen.add(v)
                stack.extend(out[v])
        return seen

    def _rerun_set(self, src, failed):
        """`src`, the steps beside it on the way to the failed step, and
        everything inside them."""
        top = failed
        while self.parent[top] != self.parent[src]:
            top = self.parent[top]
            if top is None:
                raise Unsupported(f"rerun from {self.ids[src]} does not reach {self.ids[failed]}")
        siblings = self.children[self.parent[src]] if self.parent[src] is not None else self.roots
        out = self._graph_out()
        after_src = self._reach(out, 2 * src)
        chosen = []
        for s in siblings:
            if s == src or s == top or (2 * s in after_src and 2 * top in self._reach(out, 2 * s)):
                todo = [s]
                while todo:
                    x = todo.pop()
                    chosen.append(x)
                    todo.extend(self.children[x])
        return sorted(chosen)


def raise_(e):
    raise e


# ----------------------------------------------------------------------- run

COMMITTED, ABORTED = "committed", "aborted"


class Run:
    """One run in its own SimPy environment."""

    def __init__(self, model, rng):
        self.m = m = model
        self.rng = rng
        self.env = env = simpy.Environment()
        n = m.n
        self.start_ev = [env.event() if w else None for w in m.start_waited]
        self.end_ev = [env.event() for _ in range(n)]
        self.t_start = [0] * n
        self.t_end = [0] * n
        self.attempt = [0] * n
        self.base = [0] * n  # attempts before the step was last reset by a rerun
        self.strikes = [0] * len(m.faults)
        self.persist = set()  # (step, fault) sites struck by a persistent fault, until fixed
        self.downtime_began = None
        self.outcome = None
        # Drawn once per run: each driver's factor, each ranged lag.
        self.factor = [max(d.draw(rng), 0.0) / FACTOR_UNIT for d in m.drivers]
        self.lags = [lo + min(round_ms(rng.random() * (hi - lo)), hi - lo) for lo, hi in m.ranged]
        self.proc = [env.process(self.step(i)) for i in range(n)]
        self.finish = env.event()
        env.process(self.watch())

    def simulate(self):
        self.env.run(until=self.finish)
        return self.outcome, self.t_end[self.m.ends] - self.downtime_began

    def watch(self):
        """The run is done when every top-level step is."""
        m = self.m
        while True:
            waiting = [self.end_ev[r] for r in m.roots if not self.end_ev[r].triggered]
            if not waiting:
                break
            yield self.env.all_of(waiting)
        if not self.finish.triggered:
            self.outcome = COMMITTED
            self.finish.succeed()

    def duration(self, i):
        ms = self.m.duration[i].sample(self.rng)
        f = 1.0
        for d in self.m.scale_by[i]:
            f *= self.factor[d]
        if f != 1.0:
            ms = min(round_ms(ms * f), MAX_SPAN)
        return ms

    def first_strike(self, i, dur):
        """Of the sites that fire on this attempt, the one that strikes first
        (ties: fault file order). Returns (ms into the attempt, fault) or None."""
        best = None
        rnd = self.rng.random
        for k, prob, at0, width in self.m.sites[i]:
            if (i, k) in self.persist or rnd() < prob:
                lost = round_ms(dur * (at0 + width * rnd()))
                if best is None or lost < best[0]:
                    best = (lost, k)
        return best

    def resolve(self, name, i):
        """The policy that applies (recovery.rs resolve): a retrying policy
        whose budget is spent hands over to its `then`, else the run aborts."""
        pols = self.m.policies
        for _ in range(len(pols) + 1):
            pol = pols[name]
            if pol["action"] in RETRYING and self.attempt[i] >= self.base[i] + pol["max_attempts"]:
                if pol["then"]:
                    name = pol["then"]
                    continue
                return None
            return pol
        return None

    def step(self, i):
        m, env, rng = self.m, self.env, self.rng
        try:
            # Wait for every incoming edge; a predecessor reset by a rerun
            # before this step started is waited for again.
            edges = m.edges[i]
            start_ev, end_ev, t_start, t_end = self.start_ev, self.end_ev, self.t_start, self.t_end
            while True:
                # One event at a time (cheaper in SimPy than an all_of
                # condition), looking again after each.
                waiting = None
                for src, from_start, _ in edges:
                    ev = start_ev[src] if from_start else end_ev[src]
                    if not ev.triggered:
                        waiting = ev
                        break
                if waiting is not None:
                    yield waiting
                    continue
                ready = env.now
                for src, from_start, lag in edges:
                    if lag < 0:
                        lag = self.lags[~lag]
                    t = (t_start[src] if from_start else t_end[src]) + lag
                    if t > ready:
                        ready = t
                if ready > env.now:
                    yield env.timeout(ready - env.now)
                    continue  # check again: a rerun may have reset a predecessor meanwhile
                break

            self.t_start[i] = env.now
            if i == m.begins and self.downtime_began is None:
                self.downtime_began = env.now
            if start_ev[i] is not None:
                start_ev[i].succeed()

            if m.duration[i] is None:  # a group: its sub-steps, then its finish lag
                kids = m.children[i]
                while True:
                    for c in kids:
                        while not end_ev[c].triggered:
                            yield end_ev[c]
                    # A rerun may have reset a sub-step already waited for.
                    if all(end_ev[c].triggered for c in kids):
                        break
                if m.finish_lag[i]:
                    yield env.timeout(m.finish_lag[i])
            else:
                while True:
                    self.attempt[i] += 1
                    dur = self.duration(i)
                    strike = self.first_strike(i, dur) if m.sites[i] else None
                    if strike is None:
                        if dur:
                            yield env.timeout(dur)
                        break
                    lost, k = strike
                    if lost:
                        yield env.timeout(lost)
                    fault = m.faults[k]
                    self.strikes[k] += 1
                    if fault["persistent"]:
                        self.persist.add((i, k))
                    pol = self.resolve(fault["recovery"], i)
                    if pol is None or pol["action"] == "abort":
                        self.abort()
                        return
                    wait = 0
                    if pol["reaction"] is not None:
                        wait += pol["reaction"].sample(rng)
                    if pol["fix"] is not None:
                        wait += pol["fix"].sample(rng)
                    if wait:
                        yield env.timeout(wait)
                    if pol["fix"] is not None:
                        self.persist.discard((i, k))
                    if pol["action"] == "rerun":
                        src = pol["from"] if pol["from"] is not None else i
                        self.rerun(m.rerun_sets[(src, i)], i)
                        return
                    # retry: the step again from its start, a fresh draw
            self.t_end[i] = env.now
            self.end_ev[i].succeed()
        except simpy.Interrupt:
            return  # abandoned by a rerun

    def rerun(self, members, failed):
        """Run again from an earlier step (rerun.rs): abandon what runs in the
        set, forget what it completed, and start its steps afresh."""
        env = self.env
        for j in members:
            p = self.proc[j]
            if j != failed and p.is_alive:
                p.interrupt()
            if j != failed:
                self.base[j] = self.attempt[j]  # the failed step keeps counting its budget
            if self.start_ev[j] is not None and self.start_ev[j].triggered:
                self.start_ev[j] = env.event()
            if self.end_ev[j].triggered:
                self.end_ev[j] = env.event()
        for j in members:
            self.proc[j] = env.process(self.step(j))

    def abort(self):
        if not self.finish.triggered:
            self.outcome = ABORTED
            self.finish.succeed()


# ---------------------------------------------------------------------- main


def quantile(sorted_values, q):
    """Nearest rank, as rehearse's estimate."""
    if not sorted_values:
        return None
    rank = min(max(math.ceil(q * len(sorted_values)), 1), len(sorted_values))
    return sorted_values[rank - 1]


def hms(ms):
    if ms is None:
        return "-"
    s, ms = divmod(ms, 1000)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("scenario", nargs="?", default=str(DEFAULT_SCENARIO))
    ap.add_argument("--runs", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    args = ap.parse_args(argv)
    try:
        model = Model(args.scenario)
    except Unsupported as e:
        sys.exit(f"data_upgrade.py: {args.scenario}: not modelled: {e}")
    seeds = random.Random(args.seed)
    committed, outcomes = [], {COMMITTED: 0, ABORTED: 0}
    t0, c0 = time.perf_counter(), time.process_time()
    runs_struck, strikes = [0] * len(model.faults), [0] * len(model.faults)
    for _ in range(args.runs):
        run = Run(model, random.Random(seeds.getrandbits(64)))
        outcome, downtime = run.simulate()
        for k, c in enumerate(run.strikes):
            if c:
                runs_struck[k] += 1
                strikes[k] += c
        outcomes[outcome] += 1
        if outcome == COMMITTED:
            committed.append(downtime)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    committed.sort()
    q = {name: quantile(committed, p) for name, p in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99))}
    result = {
        "scenario": args.scenario,
        "simpy": simpy.__version__,
        "python": sys.version.split()[0],
        "runs": args.runs,
        "seed": args.seed,
        "steps": model.n,
        "faults": len(model.faults),
        "seconds": elapsed,
        "runs_per_s": args.runs / elapsed if elapsed > 0 else None,
        "cpu_seconds": cpu,
        "runs_per_cpu_s": args.runs / cpu if cpu > 0 else None,
        "outcomes": outcomes,
        "downtime_ms": q,
        "mean_ms": sum(committed) / len(committed) if committed else None,
        "faults_struck": [
            {"id": f["id"], "runs_struck": runs_struck[k], "strikes": strikes[k]} for k, f in enumerate(model.faults)
        ],
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{args.runs} runs in {elapsed:.2f} s ({cpu:.2f} s CPU): {result['runs_per_s']:.0f} runs/s "
              f"(SimPy {simpy.__version__}, Python {result['python']}, {model.n} steps, {len(model.faults)} faults)")
        print(f"committed {outcomes[COMMITTED]}, aborted {outcomes[ABORTED]}")
        print("downtime (committed runs): " + ", ".join(f"{k.upper()} {hms(v)}" for k, v in q.items()))
        for f in result["faults_struck"]:
            print(f"fault {f['id']}: struck {f['runs_struck']} runs, {f['strikes']} strikes")


if __name__ == "__main__":
    main()
