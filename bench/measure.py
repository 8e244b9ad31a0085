#!/usr/bin/env python3
"""Runs one measured command and says how busy the machine was meanwhile.

  measure.py --pids 12,34 [--focus 12] -- wrk ...

The command's output passes through; then one line is printed:
  BENCH_CPU {"elapsed_s":..,"cores":..,"ours_s":..,"foreign_s":..,"foreign_pct":..,"steal_pct":..}
where ours_s is the CPU time of the command itself plus the given processes and all their
descendants (service, nginx workers, redis...), and foreign_s is what every other process on the
machine used meanwhile: the noise of a shared machine, as a share of all cores over the run.
"""
import json
import os
import subprocess
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def machine_busy():
    """Busy and steal seconds of all CPUs since boot, from /proc/stat."""
    with open("/proc/stat") as f:
        fields = f.readline().split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq) / TICK, steal / TICK


def children_map():
    kids = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rfind(")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(entry))
    return kids


def tree(roots):
    kids = children_map()
    seen, todo = set(), list(roots)
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        todo.extend(kids.get(pid, []))
    return seen


def cpu_of(pids):
    """utime + stime (all threads) of live processes, and cutime + cstime of reaped children."""
    total = 0.0
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                stat = f.read()
        except OSError:
            continue
        rest = stat[stat.rfind(")") + 2:].split()
        total += sum(int(x) for x in rest[11:15]) / TICK
    return total


def counters(pids):
    """Minor faults (all threads) and context switches (summed over threads) of live processes."""
    faults = switches = 0
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                stat = f.read()
            faults += int(stat[stat.rfind(")") + 2:].split()[7])
            for tid in os.listdir("/proc/%d/task" % pid):
                with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                    for line in f:
                        if "ctxt_switches:" in line:  # voluntary and nonvoluntary
                            switches += int(line.split()[1])
        except OSError:
            continue
    return faults, switches


def main():
    args = sys.argv[1:]
    roots, focus_roots = [], []
    while args[:1] in (["--pids"], ["--focus"]):
        values = [int(p) for p in args[1].split(",") if p]
        (roots if args[0] == "--pids" else focus_roots).extend(values)
        args = args[2:]
    if args[:1] == ["--"]:
        args = args[1:]
    if not args:
        sys.exit("usage: measure.py [--pids P,Q] -- command...")
    pids = tree(roots + focus_roots)
    focus = tree(focus_roots)
    focus0 = (cpu_of(focus),) + counters(focus)
    ours0 = cpu_of(pids)
    busy0, steal0 = machine_busy()
    start = time.monotonic()
    child = subprocess.Popen(args)
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.monotonic() - start
    busy1, steal1 = machine_busy()
    ours1 = cpu_of(pids)  # processes that exited meanwhile are missed: only the service's tree
    focus1 = (cpu_of(focus),) + counters(focus)
    command = usage.ru_utime + usage.ru_stime
    me = os.times()
    own = me.user + me.system
    ours = (ours1 - ours0) + command + own
    foreign = max(0.0, (busy1 - busy0) - ours)
    cores = os.cpu_count() or 1
    capacity = max(elapsed * cores, 1e-9)
    record = {
        "elapsed_s": round(elapsed, 3), "cores": cores, "ours_s": round(ours, 3),
        "foreign_s": round(foreign, 3), "foreign_pct": round(100 * foreign / capacity, 1),
        "steal_pct": round(100 * (steal1 - steal0) / capacity, 1)}
    if focus_roots:
        record.update({"focus_cpu_s": round(focus1[0] - focus0[0], 3),
                       "focus_minflt": focus1[1] - focus0[1],
                       "focus_ctxsw": focus1[2] - focus0[2]})
    sys.stdout.flush()
    print("BENCH_CPU " + json.dumps(record), flush=True)
    code = os.waitstatus_to_exitcode(status)
    sys.exit(code if code >= 0 else 128 - code)


if __name__ == "__main__":
    main()
