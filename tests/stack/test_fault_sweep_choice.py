"""Which faults the sweep injects (tests/stack/fault_sweep.py `choose`): pure, no local AWS."""

from __future__ import annotations

import random
from collections import Counter

from fault_sweep import KINDS, applicable, choose


def call(seq: int, write: bool, caller: str = "function") -> dict:
    return {"seq": seq, "service": "ec2", "action": f"A{seq}", "region": "r", "caller": caller, "write": write}


CALLS = [call(1, False, "stateMachine"), *[call(n, n % 3 == 0) for n in range(2, 40)], call(40, False)]


def test_given_everything_then_every_call_meets_every_kind_it_can():
    chosen = choose(CALLS, True, random.Random(1))
    assert len(chosen) == sum(len(applicable(c)) for c in CALLS)
    assert (CALLS[0], "crash") not in chosen  # the state machine's own call never crashes


def test_given_a_sample_then_the_first_the_last_three_writes_and_the_faults_always_injected_are_in_it():
    chosen = choose(CALLS, False, random.Random(1), writes=5, extra=1, always=(("crash", "ec2", "A7", "r"),))
    seqs = {c["seq"] for c, _ in chosen}
    assert {1, 40} <= seqs
    assert (CALLS[6], "crash") in chosen
    assert sum(1 for c, _ in chosen if c["write"]) == 5
    assert len(chosen) == 1 + 2 + 5 + 1
    assert set(Counter(kind for _, kind in chosen)) == set(KINDS)
    assert all(kind in applicable(c) for c, kind in chosen)


def test_given_the_same_seed_then_the_same_sample():
    assert choose(CALLS, False, random.Random(9)) == choose(CALLS, False, random.Random(9))
