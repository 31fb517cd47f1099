#!/usr/bin/python3
"""The real smartcard stack for tests: pcscd with vpcd's reader driver and virtual PIV cards,
in a private network and mount namespace (loopback only; /run/pcscd on a private tmpfs).

  stack.py run [--keep DIR] [--pcscd-group GROUP] -- CMD ARGS...
                                             start the stack, run CMD in it, tear it down;
                                             exits with CMD's status. --pcscd-group: pcscd's
                                             socket root:GROUP 0660 in a 0750 directory, as the
                                             managed-mode pcscd.socket drop-in makes it
Inside CMD (ATTACHE_SC_STACK names this script):
  stack.py insert STATE_DIR [--reader N]     start a card process in vpcd reader N (0 or 1)
                                             and wait until pcscd has powered it
  stack.py remove [--reader N]               end that card process; wait until pcscd saw it
  stack.py restart-pcscd                     stop pcscd, start a new one (cards reconnect)
  stack.py readers                           list PC/SC readers and whether a card is in them
  stack.py pcscd-access open|GROUP           pcscd's socket open to every user (pcscd's own
                                             0777) or locked down to root and GROUP (again
                                             after every pcscd restart of this run)
  stack.py latency [--reader N] [--count K] [--sign]
                                             time GET DATA (or 9E ECDSA) round trips
Every process is started and stopped by its PID; nothing is killed by name."""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from virtpiv import pcsc  # noqa: E402

CARD = os.path.join(HERE, "virtpiv-card")
VPCD_DRIVER = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"
VPCD_PORT = 0x8C7B  # reader N listens on VPCD_PORT + N
PCSCD_DIR = "/run/pcscd"
PCSCD_SOCKET = PCSCD_DIR + "/pcscd.comm"
READER_NAME = "Virtual PCD 00 %02d"
WAIT_SECONDS = 20  # a generous bound for a loaded machine; not a timing assertion


def say(msg):
    print("stack: " + msg, file=sys.stderr, flush=True)


def run_dir():
    d = os.environ.get("ATTACHE_SC_RUN")
    if not d:
        sys.exit("stack: not inside `stack.py run` (ATTACHE_SC_RUN is not set)")
    return d


def read_pid(path):
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ")[-1][0] != "Z"
    except OSError:
        return False


def stop_pid(pid, what):
    """SIGTERM, then SIGKILL after a while; waits until the process is gone."""
    if pid is None or not alive(pid):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while alive(pid):
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        if time.monotonic() > deadline:
            say("%s (pid %d) ignored SIGTERM; killing it" % (what, pid))
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
        time.sleep(0.02)


def wait_until(pred, what, seconds=WAIT_SECONDS):
    deadline = time.monotonic() + seconds
    while not pred():
        if time.monotonic() > deadline:
            sys.exit("stack: gave up waiting for %s" % what)
        time.sleep(0.02)


# --- pcscd -------------------------------------------------------------------------------------
def start_pcscd(rd):
    log = open(os.path.join(rd, "pcscd.log"), "ab")
    proc = subprocess.Popen(["pcscd", "--foreground", "-c", os.path.join(rd, "reader.conf.d")],
                            stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                            start_new_session=True)
    with open(os.path.join(rd, "pcscd.pid"), "w") as f:
        f.write("%d\n" % proc.pid)

    def ready():
        if proc.poll() is not None:
            sys.exit("stack: pcscd exited with %s; see %s/pcscd.log" % (proc.returncode, rd))
        if not os.path.exists(PCSCD_SOCKET):
            return False
        try:
            ctx = pcsc.Context()
            names = ctx.readers()
            ctx.close()
            return any(n.startswith("Virtual PCD") for n in names)
        except pcsc.PcscError:
            return False

    wait_until(ready, "pcscd and vpcd's readers")
    # pcscd 1.9.9 chmods its socket 0777 once, when it binds it (and only then): a restarted
    # pcscd has a new, open socket, so the lockdown is applied again after every start.
    access = pcscd_access(rd)
    if access:  # (never set: pcscd's socket as pcscd made it, whoever runs the stack)
        apply_pcscd_access(access)
    return proc.pid


def pcscd_access(rd):
    try:
        with open(os.path.join(rd, "pcscd-access")) as f:
            return f.read().strip() or None
    except FileNotFoundError:
        return None


def apply_pcscd_access(group):
    """'open': as pcscd leaves it (socket 0777, directory 0755, root's). A group name: only root
    and that group reach pcscd, as with the managed-mode drop-in for pcscd.socket (SocketMode
    0660, SocketGroup); the directory is closed too, so no one else even sees the socket."""
    if group == "open":
        os.chown(PCSCD_DIR, 0, 0)
        os.chmod(PCSCD_DIR, 0o755)
        os.chown(PCSCD_SOCKET, 0, 0)
        os.chmod(PCSCD_SOCKET, 0o777)
        return
    import grp
    try:
        gid = grp.getgrnam(group).gr_gid
    except KeyError:
        sys.exit("stack: no group %r for pcscd's socket" % group)
    os.chown(PCSCD_SOCKET, 0, gid)
    os.chmod(PCSCD_SOCKET, 0o660)
    os.chown(PCSCD_DIR, 0, gid)
    os.chmod(PCSCD_DIR, 0o750)


def stop_pcscd(rd):
    stop_pid(read_pid(os.path.join(rd, "pcscd.pid")), "pcscd")


# --- cards -------------------------------------------------------------------------------------
def card_files(rd, reader):
    base = os.path.join(rd, "card-%d" % reader)
    return base + ".pid", base + ".ready", base + ".log"


def reader_has_card(reader, present):
    ctx = pcsc.Context()
    try:
        return ctx.wait_for(READER_NAME % reader, present, WAIT_SECONDS * 1000)
    finally:
        ctx.close()


def cmd_insert(args):
    rd = run_dir()
    pid_file, ready_file, log_file = card_files(rd, args.reader)
    pid = read_pid(pid_file)
    if pid and alive(pid):
        sys.exit("stack: reader %d already holds a card (pid %d)" % (args.reader, pid))
    if os.path.exists(ready_file):
        os.unlink(ready_file)
    proc = subprocess.Popen([CARD, "run", args.state, "--port", str(VPCD_PORT + args.reader),
                             "--ready-file", ready_file, "--log", log_file],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=open(log_file, "a"), start_new_session=True)
    # (No output of ours is inherited: a caller reading stack.py's output to its end, such as a
    # test's run_command, would wait for the card process to exit.)
    with open(pid_file, "w") as f:
        f.write("%d\n" % proc.pid)

    def ready():
        if proc.poll() is not None:
            sys.exit("stack: the card process exited with %s" % proc.returncode)
        return os.path.exists(ready_file)

    wait_until(ready, "vpcd to power the card")
    if not reader_has_card(args.reader, True):
        sys.exit("stack: pcscd did not report the card in reader %d" % args.reader)
    say("card %s in reader %d (pid %d)" % (args.state, args.reader, proc.pid))


def remove_card(rd, reader):
    pid_file, ready_file, _ = card_files(rd, reader)
    stop_pid(read_pid(pid_file), "card %d" % reader)
    for f in (pid_file, ready_file):
        if os.path.exists(f):
            os.unlink(f)


def cmd_remove(args):
    rd = run_dir()
    remove_card(rd, args.reader)
    if not reader_has_card(args.reader, False):
        sys.exit("stack: pcscd still reports a card in reader %d" % args.reader)
    say("reader %d is empty" % args.reader)


def cmd_restart_pcscd(args):
    rd = run_dir()
    stop_pcscd(rd)
    pid = start_pcscd(rd)
    say("pcscd restarted (pid %d)" % pid)
    for reader in (0, 1):
        pid_file, _, _ = card_files(rd, reader)
        card = read_pid(pid_file)
        if card and alive(card) and not reader_has_card(reader, True):
            sys.exit("stack: the card in reader %d did not come back" % reader)


def cmd_pcscd_access(args):
    # Kept in the run directory for restart-pcscd.
    with open(os.path.join(run_dir(), "pcscd-access"), "w") as f:
        f.write(args.access + "\n")
    apply_pcscd_access(args.access)
    say("pcscd's socket: %s" % ("open to every user" if args.access == "open"
                                else "root:%s 0660, /run/pcscd 0750" % args.access))


def cmd_readers(args):
    ctx = pcsc.Context()
    for name in ctx.readers():
        print("%s: %s" % (name, "card" if ctx.card_present(name) else "empty"))
    ctx.close()


def cmd_latency(args):
    ctx = pcsc.Context()
    card = pcsc.Card(ctx, READER_NAME % args.reader)
    if args.sign:  # ECDSA P-256 with the 9E key (no PIN): 7C 24 82 00 81 20 <digest>
        apdu = bytes.fromhex("0087119E26" "7C24" "8200" "8120") + bytes(range(32)) + b"\0"
        what = "GENERAL AUTHENTICATE (9E ECDSA P-256)"
    else:
        apdu = bytes.fromhex("00CB3FFF035C017E00")  # GET DATA discovery object (~20 bytes)
        what = "GET DATA"
    times = []
    for _ in range(args.count):
        t = time.perf_counter()
        resp = card.transmit(apdu)
        times.append(time.perf_counter() - t)
        if resp[-2:] != b"\x90\x00":
            sys.exit("stack: unexpected response %s" % resp.hex())
    card.close()
    ctx.close()
    times.sort()
    ms = [x * 1000 for x in times]
    print("APDU round trip over pcscd -> vpcd -> virtual card, %d %s: "
          "median %.3f ms, p90 %.3f ms, min %.3f ms, max %.3f ms" % (
              len(ms), what, ms[len(ms) // 2], ms[int(len(ms) * 0.9)], ms[0], ms[-1]))


# --- run: namespace, set-up, tear-down ---------------------------------------------------------
def namespace_command():
    base = ["unshare", "--net", "--mount", "--propagation", "private"]
    if os.geteuid() != 0:
        base = ["unshare", "--user", "--map-root-user", "--net", "--mount",
                "--propagation", "private"]
    probe = subprocess.run(base + ["true"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if probe.returncode == 0:
        return base, None
    return None, probe.stderr.decode(errors="replace").strip()


def cmd_run(args):
    if not args.command:
        sys.exit("stack: run wants a command after --")
    mode = os.environ.get("ATTACHE_SC_NAMESPACE")
    if mode is None:
        prefix, why = namespace_command()
        env = dict(os.environ)
        if prefix:
            env["ATTACHE_SC_NAMESPACE"] = "private"
            argv = prefix + [sys.executable, os.path.abspath(__file__)] + sys.argv[1:]
            os.execvpe(argv[0], argv, env)
        say("WARNING: no private network namespace (%s). pcscd runs in this host's namespaces: "
            "vpcd listens on all addresses, so other hosts can reach the virtual cards while "
            "the test runs." % why)
        os.environ["ATTACHE_SC_NAMESPACE"] = mode = "none"
    if mode == "private":
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        # The directory stays afterwards: removing a mount point another stack's namespace
        # still uses would detach that stack's tmpfs.
        try:
            os.makedirs(PCSCD_DIR, exist_ok=True)
        except PermissionError:
            # Not root outside the user namespace and no /run/pcscd yet: a private /run.
            subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0755,size=4m", "tmpfs", "/run"],
                           check=True)
            os.makedirs(PCSCD_DIR)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0755,size=1m", "tmpfs", PCSCD_DIR],
                       check=True)
    elif os.path.exists(PCSCD_SOCKET):
        sys.exit("stack: %s exists (a pcscd of this host?) and there is no private namespace "
                 "to start another one in" % PCSCD_SOCKET)
    rd = args.keep or tempfile.mkdtemp(prefix="attache-sc.")
    os.makedirs(os.path.join(rd, "reader.conf.d"), exist_ok=True)
    with open(os.path.join(rd, "reader.conf.d", "vpcd"), "w") as f:
        f.write('FRIENDLYNAME "Virtual PCD"\nDEVICENAME /dev/null:0x%04X\nLIBPATH %s\n'
                'CHANNELID 0x%04X\n' % (VPCD_PORT, VPCD_DRIVER, VPCD_PORT))
    with open(os.path.join(rd, "opensc.conf"), "w") as f:
        f.write("app default {\n  use_file_caching = no;\n}\n")
    os.environ.update({
        "ATTACHE_SC_RUN": rd,
        "ATTACHE_SC_STACK": os.path.abspath(__file__),
        "ATTACHE_SC_CARD": CARD,
        "PCSCLITE_CSOCK_NAME": PCSCD_SOCKET,
        "OPENSC_CONF": os.path.join(rd, "opensc.conf"),
    })
    status = 1
    try:
        started = time.monotonic()
        if args.pcscd_group:
            with open(os.path.join(rd, "pcscd-access"), "w") as f:
                f.write(args.pcscd_group + "\n")
        start_pcscd(rd)
        say("pcscd up in %.2f s (namespace: %s, run dir %s)" % (
            time.monotonic() - started, mode, rd))
        status = subprocess.run(args.command).returncode
    finally:
        for reader in (0, 1):
            remove_card(rd, reader)
        stop_pcscd(rd)
        if mode == "private":
            subprocess.run(["umount", PCSCD_DIR])
        if not args.keep:
            if status == 0:
                shutil.rmtree(rd, ignore_errors=True)
            else:
                say("kept the run directory for inspection: %s" % rd)
    sys.exit(status)


def main():
    p = argparse.ArgumentParser(prog="stack.py", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="sub", required=True)
    r = sub.add_parser("run")
    r.add_argument("--keep", metavar="DIR", help="use and keep this run directory")
    r.add_argument("--pcscd-group", metavar="GROUP",
                   help="only root and GROUP may connect to pcscd (socket root:GROUP 0660)")
    r.add_argument("command", nargs=argparse.REMAINDER)
    r.set_defaults(func=cmd_run)
    i = sub.add_parser("insert")
    i.add_argument("state")
    i.add_argument("--reader", type=int, default=0, choices=(0, 1))
    i.set_defaults(func=cmd_insert)
    m = sub.add_parser("remove")
    m.add_argument("--reader", type=int, default=0, choices=(0, 1))
    m.set_defaults(func=cmd_remove)
    sub.add_parser("restart-pcscd").set_defaults(func=cmd_restart_pcscd)
    sub.add_parser("readers").set_defaults(func=cmd_readers)
    a = sub.add_parser("pcscd-access")
    a.add_argument("access", metavar="open|GROUP")
    a.set_defaults(func=cmd_pcscd_access)
    lat = sub.add_parser("latency")
    lat.add_argument("--reader", type=int, default=0, choices=(0, 1))
    lat.add_argument("--count", type=int, default=200)
    lat.add_argument("--sign", action="store_true", help="time 9E ECDSA signatures instead")
    lat.set_defaults(func=cmd_latency)
    args = p.parse_args()
    if args.sub == "run" and args.command[:1] == ["--"]:
        args.command = args.command[1:]
    args.func(args)


if __name__ == "__main__":
    main()
