#!/usr/bin/env python3
"""Idle wake-ups of attache-agent on OpenSC, and how fast it sees a card pulled (issue 15).

Runs inside tests/smartcard/stack.py (private pcscd, vpcd, a virtual PIV card):
  tests/smartcard/stack.py run -- tests/bench/idle_wakeups.py --agent A --cli C [--seconds 60]
Counts the context switches (voluntary and not) of all the agent's threads over the idle
period, locked and then unlocked, and measures removal latency: from killing the card process
(the card is gone for vpcd at that moment) to `attache status` reporting it removed. Prints a
Markdown section for docs/performance.md. A measurement, not a test: it never fails on a number.
"""

import argparse
import glob
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

OPENSC = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"


def switches(pid):
    total = 0
    for status in glob.glob("/proc/%d/task/*/status" % pid):
        try:
            with open(status) as f:
                for line in f:
                    if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                        total += int(line.split()[1])
        except FileNotFoundError:
            pass  # a thread ended meanwhile
    return total


def threads(pid):
    return len(glob.glob("/proc/%d/task/*" % pid))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--agent", required=True)
    p.add_argument("--cli", required=True)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--removals", type=int, default=5)
    a = p.parse_args()
    stack, card_tool, run = (os.environ[v] for v in
                             ("ATTACHE_SC_STACK", "ATTACHE_SC_CARD", "ATTACHE_SC_RUN"))
    tmp = tempfile.mkdtemp(prefix="attache-idle.")
    card = os.path.join(tmp, "card")
    subprocess.run([card_tool, "create", card, "--provisioned"], check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run([stack, "insert", card], check=True, stderr=subprocess.DEVNULL)
    os.makedirs(os.path.join(tmp, "run"), mode=0o700)
    conf = os.path.join(tmp, "agent.toml")
    with open(conf, "w") as f:
        f.write('modules = ["%s"]\npinentry = ""\n' % OPENSC)
    admin = os.path.join(tmp, "admin.toml")
    open(admin, "w").close()
    sock = os.path.join(tmp, "run/agent.sock")
    env = dict(os.environ, HOME=tmp, ATTACHE_SOCK=sock)
    log = open(os.path.join(tmp, "agent.log"), "w")
    agent = subprocess.Popen([a.agent, "--foreground", "--config", conf, "--admin-config", admin,
                              "--socket", sock, "--ssh-socket", os.path.join(tmp, "run/ssh.sock")],
                             stdout=log, stderr=log, env=env)

    def cli(*args, extra_env=None):
        return subprocess.run([a.cli] + list(args), capture_output=True, text=True,
                              env=dict(env, **(extra_env or {})))

    def status_has(text):
        return text in cli("status").stdout

    try:
        for _ in range(500):
            if cli("status").returncode == 0:
                break
            time.sleep(0.02)
        rows = []

        def idle(label):
            time.sleep(2)  # the CLI's own connection settles
            before = switches(agent.pid)
            time.sleep(a.seconds)
            n = switches(agent.pid) - before
            rows.append((label, threads(agent.pid), n, n / a.seconds))

        idle("locked")
        u = cli("unlock", "--pin-source", "env:PIN", extra_env={"PIN": "123456"})
        if u.returncode != 0:
            sys.exit("idle_wakeups: unlock failed: " + u.stderr)
        idle("unlocked")

        latencies = []
        for _ in range(a.removals):
            with open(os.path.join(run, "card-0.pid")) as f:
                pid = int(f.read())
            t0 = time.monotonic()
            os.kill(pid, signal.SIGTERM)
            while not status_has("absent since"):
                if time.monotonic() - t0 > 10:
                    break
                time.sleep(0.005)
            latencies.append(time.monotonic() - t0)
            subprocess.run([stack, "remove"], check=True, stderr=subprocess.DEVNULL)
            subprocess.run([stack, "insert", card], check=True, stderr=subprocess.DEVNULL)
            for _ in range(500):
                if status_has("(card removed)"):
                    break
                time.sleep(0.02)
            time.sleep(0.5)

        print("### Idle wake-ups and removal on OpenSC (pcscd, vpcd, virtual PIV card)\n")
        print("Context switches of all attache-agent threads over %.0f s idle "
              "(`/proc/PID/task/*/status`):\n" % a.seconds)
        print("| state | threads | context switches | per second |")
        print("|---|---|---|---|")
        for label, nthreads, n, rate in rows:
            print("| %s | %d | %d | %.2f |" % (label, nthreads, n, rate))
        ms = sorted(x * 1000 for x in latencies)
        print("\nRemoval seen by `attache status` after the card process was killed "
              "(%d times): median %.0f ms, max %.0f ms.\n" %
              (len(ms), statistics.median(ms), ms[-1]))
    finally:
        agent.terminate()
        agent.wait()


if __name__ == "__main__":
    main()
