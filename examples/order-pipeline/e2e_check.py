#!/usr/bin/env python3
"""Checks the output of the order-pipeline end-to-end test (used by run-e2e.sh).

Every service appends one order id per processed order to its output file and
logs ``... <order-id> ... partition=P offset=O`` per order and
``assigned partitions [orders-0,...]`` per rebalance.

    e2e_check.py split   WORKDIR                 # both inventory instances own a share of the 6 partitions
    e2e_check.py lines   FILE MIN                # FILE has >= MIN lines
    e2e_check.py done    WORKDIR TOTAL           # every order reached every group (exit 1 while not)
    e2e_check.py verify  WORKDIR TOTAL VICTIM SURVIVOR SURVIVOR_LOG_FROM   # full report, exit 1 on failure

Exit status 0 = condition holds, 1 = not (yet), 2 = usage error.
"""

import collections
import os
import re
import sys

PARTITIONS = 6
ASSIGNED = re.compile(r"assigned partitions \[([^\]]*)\]")
PROCESSED = re.compile(r"(order-\d{6}).* partition=(\d+) offset=(\d+)")


def read_lines(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []


def order_ids(path):
    # A line cut by SIGKILL mid-write would not match; the services write whole lines.
    return [line for line in read_lines(path) if re.fullmatch(r"order-\d{6}", line)]


def last_assignment(log_lines):
    found = None
    for line in log_lines:
        m = ASSIGNED.search(line)
        if m:
            found = {int(p.rsplit("-", 1)[1]) for p in m.group(1).split(",") if p}
    return found


def expected_ids(total):
    return {f"order-{n:06d}" for n in range(1, total + 1)}


def cmd_split(work):
    a = last_assignment(read_lines(os.path.join(work, "inventory-1.log")))
    b = last_assignment(read_lines(os.path.join(work, "inventory-2.log")))
    ok = bool(a) and bool(b) and not (a & b) and (a | b) == set(range(PARTITIONS))
    if ok:
        print(f"inventory-1 owns {sorted(a)}, inventory-2 owns {sorted(b)}")
    return 0 if ok else 1


def cmd_lines(path, minimum):
    return 0 if len(order_ids(path)) >= int(minimum) else 1


def outputs(work):
    return {
        "inventory": order_ids(os.path.join(work, "inventory-1.txt"))
        + order_ids(os.path.join(work, "inventory-2.txt")),
        "email": order_ids(os.path.join(work, "email.txt")),
        "billing": order_ids(os.path.join(work, "billing.txt")),
    }


def cmd_done(work, total):
    want = expected_ids(int(total))
    return 0 if all(want <= set(ids) for ids in outputs(work).values()) else 1


def duplicates(ids):
    return sorted(i for i, n in collections.Counter(ids).items() if n > 1)


def cmd_verify(work, total, victim, survivor, survivor_log_from):
    want = expected_ids(int(total))
    failures = []

    for group, ids in outputs(work).items():
        got = set(ids)
        print(f"{group:9s}: {len(ids)} processed, {len(got & want)}/{len(want)} distinct orders, "
              f"{len(ids) - len(got)} duplicates")
        if got != want:
            missing, extra = sorted(want - got), sorted(got - want)
            failures.append(f"{group}: {len(missing)} orders missing {missing[:5]}, "
                            f"{len(extra)} unexpected {extra[:5]}")

    # email and billing had no failure: exactly once per group.
    for group in ("email", "billing"):
        dups = duplicates(outputs(work)[group])
        if dups:
            failures.append(f"{group}: duplicates without any failure: {dups[:10]}")

    victim_ids = order_ids(os.path.join(work, f"{victim}.txt"))
    survivor_ids = order_ids(os.path.join(work, f"{survivor}.txt"))
    for name, ids in ((victim, victim_ids), (survivor, survivor_ids)):
        dups = duplicates(ids)
        if dups:
            failures.append(f"{name}: processed the same order twice itself: {dups[:10]}")

    victim_parts = last_assignment(read_lines(os.path.join(work, f"{victim}.log"))) or set()
    after_kill = read_lines(os.path.join(work, f"{survivor}.log"))[int(survivor_log_from):]
    takeover = last_assignment(after_kill) or set()
    print(f"{victim} (SIGKILLed) owned partitions {sorted(victim_parts)} and processed "
          f"{len(victim_ids)} orders; {survivor} owns {sorted(takeover)} after the kill")
    if not victim_parts or not victim_parts <= takeover:
        failures.append(f"{survivor} did not take over {victim}'s partitions {sorted(victim_parts)} "
                        f"(its assignment after the kill: {sorted(takeover)})")
    # Partition of every order the survivor processed after the kill.
    survivor_after = {}
    for line in after_kill:
        m = PROCESSED.search(line)
        if m:
            survivor_after.setdefault(m.group(1), int(m.group(2)))
    served = {p for p in survivor_after.values()}
    if not victim_parts <= served:
        failures.append(f"{survivor} processed no order from {sorted(victim_parts - served)} after the kill")

    # At-least-once: only the victim's uncommitted tail may be processed again, by the
    # survivor, from one of the victim's partitions.
    redone = sorted(set(victim_ids) & set(survivor_ids))
    print(f"inventory: {len(redone)} orders re-processed by {survivor} after {victim}'s crash "
          f"(its uncommitted tail){': ' + ', '.join(redone[:10]) if redone else ''}")
    bad = [i for i in redone if survivor_after.get(i) not in victim_parts]
    if bad:
        failures.append(f"inventory: orders processed by both instances outside {victim}'s "
                        f"partitions after the kill: {bad[:10]}")
    # ... and per partition they must be a tail of what the victim processed there: the
    # survivor resumes at the last commit, so everything the victim did from that offset on.
    victim_done = collections.defaultdict(dict)  # partition -> offset -> order id
    for line in read_lines(os.path.join(work, f"{victim}.log")):
        m = PROCESSED.search(line)
        if m:
            victim_done[int(m.group(2))][int(m.group(3))] = m.group(1)
    redone_set = set(redone)
    for partition, done in sorted(victim_done.items()):
        again = [o for o, i in done.items() if i in redone_set]
        tail = [o for o in done if again and o >= min(again)]
        if sorted(again) != sorted(tail):
            failures.append(f"inventory: partition {partition}: re-processed offsets {sorted(again)} "
                            f"are not the tail of {victim}'s processed offsets {sorted(done)}")

    for f in failures:
        print(f"FAIL: {f}")
    return 1 if failures else 0


def main(argv):
    commands = {"split": (cmd_split, 1), "lines": (cmd_lines, 2), "done": (cmd_done, 2),
                "verify": (cmd_verify, 5)}
    if len(argv) < 2 or argv[1] not in commands or len(argv) - 2 != commands[argv[1]][1]:
        print(__doc__, file=sys.stderr)
        return 2
    fn, _ = commands[argv[1]]
    return fn(*argv[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
