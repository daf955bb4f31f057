#!/usr/bin/env python3
"""Checks dlms_meter.py with gurux's own client (GXDLMSClient over a plain socket).

Runs the simulator as a subprocess (free ports) for both interfaces, checks clock,
serial, registers and the load profile (range, entry, whole 12-hour buffer) against
`dlms_meter.py --expect`, authentication rules and the scenarios, then measures
register GETs/s over persistent associations. Prints `RESULT dlms_sim gets_per_s=N`;
exits non-zero on the first failure.  --trace prints every frame (hex) to stderr.
"""
import argparse
import json
import multiprocessing
import os
import socket
import subprocess
import sys
import time
from datetime import datetime, timezone

from gurux_dlms import GXByteBuffer, GXDLMSClient, GXDLMSException, GXReplyData
from gurux_dlms.enums import Authentication, ErrorCode, InterfaceType, SourceDiagnostic
from gurux_dlms.objects import GXDLMSClock, GXDLMSData, GXDLMSProfileGeneric, GXDLMSRegister

METER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dlms_meter.py")
PERIOD = 300
START = int(time.time()) // PERIOD * PERIOD - 12 * 3600  # a 12-hour profile: 144 entries
GEN = ["--start", str(START), "--seed", "7", "--capture-period", str(PERIOD)]
TRACE = False


def start_sim(*args):
    proc = subprocess.Popen([sys.executable, METER, *GEN, *args], stdout=subprocess.PIPE, text=True)
    ready = json.loads(proc.stdout.readline())
    assert ready["ready"] and ready["pid"] == proc.pid, ready
    return proc, ready["ports"]


def expect(lo, hi, *scenario):
    out = subprocess.run([sys.executable, METER, *GEN, *scenario, "--expect", str(lo), str(hi)],
                         check=True, capture_output=True, text=True).stdout
    return [(e["time"], e["import_wh"], e["export_wh"]) for e in json.loads(out)["entries"]]


def utc(unix):
    return datetime.fromtimestamp(unix, timezone.utc)


class Link:
    """One TCP connection driven by a gurux client."""

    def __init__(self, port, interface, client=17, password="00000000"):
        auth = Authentication.LOW if password else Authentication.NONE
        self.hdlc = interface == "hdlc"
        iface = InterfaceType.HDLC if self.hdlc else InterfaceType.WRAPPER
        self.client = GXDLMSClient(True, client, 1, auth, password, iface)
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.exchanges = 0  # request/response round trips
        self.pg = None

    def send(self, data, reply):
        if TRACE:
            print("  >", GXByteBuffer.hex(data), file=sys.stderr)
        self.sock.sendall(data)
        buf = GXByteBuffer()
        while not self.client.getData(buf, reply):
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("meter closed the connection")
            if TRACE:
                print("  <", GXByteBuffer.hex(chunk), file=sys.stderr)
            buf.set(chunk)
        self.exchanges += 1

    def request(self, frames):
        """Send a request (list of frames), follow HDLC segments / DLMS blocks, return the reply."""
        reply = GXReplyData()
        for frame in frames if isinstance(frames, list) else [frames]:
            self.send(frame, reply)
        while reply.isMoreData():
            self.send(self.client.receiverReady(reply), reply)
        return reply

    def associate(self):
        if self.hdlc:
            self.client.parseUAResponse(self.request(self.client.snrmRequest()).data)
        self.client.parseAareResponse(self.request(self.client.aarqRequest()).data)

    def read(self, obj, attr):
        """GET obj.attr; gurux stores it in obj, the decoded value is returned."""
        reply = self.request(self.client.read(obj, attr))
        if reply.error:
            raise GXDLMSException(reply.error)
        self.client.updateValue(obj, attr, reply.value)
        return reply.value

    def profile(self):
        """The load profile object with its capture objects read (gurux types the columns by them)."""
        if self.pg is None:
            self.pg = GXDLMSProfileGeneric("1.0.99.1.0.255")
            self.read(self.pg, 3)
        return self.pg

    def rows(self, request):
        """Profile rows [(unix time, import, export)] for request(profile) -> frames."""
        pg = self.profile()
        pg.buffer = []
        reply = self.request(request(pg))
        assert not reply.error, reply.error
        self.client.updateValue(pg, 2, reply.value)
        return [(int(r[0].value.timestamp()), *r[1:]) for r in pg.buffer]

    def close(self):
        self.request(self.client.releaseRequest())
        if self.hdlc:
            self.request(self.client.disconnectRequest())
        self.sock.close()


def check(cond, what):
    if not cond:
        raise SystemExit("FAIL: " + what)
    print("ok  ", what)


def expected_reading(t0, t1, column):
    """Register values a read between unix seconds t0 and t1 may return (interpolated)."""
    entries = {e[0]: e for e in expect(START, t1 + PERIOD)}
    values = set()
    for t in range(t0, t1 + 1):
        begin = START + (t - START) // PERIOD * PERIOD
        a, b = entries[begin][column], entries[begin + PERIOD][column]
        values.add(a + (b - a) * (t - begin) // PERIOD)
    return values


def check_interface(interface):
    print(f"== interface {interface}")
    proc, ports = start_sim("--meters", "3", "--interface", interface)
    try:
        link = Link(ports[0], interface)
        link.associate()
        hdlc = link.client.hdlcSettings
        check(link.client.maxReceivePDUSize == 1024
              and (hdlc.maxInfoTX, hdlc.maxInfoRX, hdlc.windowSizeRX) == (128, 128, 1),
              f"{interface}: client 17 associated with LLS, max PDU 1024"
              + (", HDLC info 128, window 1" if link.hdlc else ""))
        clock = GXDLMSClock()
        t0 = time.time()
        link.read(clock, 2)
        check(abs(clock.time.value.timestamp() - t0) < 3, f"{interface}: clock {clock.time.value} is now")
        check(link.read(GXDLMSData("0.0.96.1.0.255"), 2) == b"SG0000", f"{interface}: serial SG0000")
        for ln, column in (("1.0.1.8.0.255", 1), ("1.0.2.8.0.255", 2)):
            reg = GXDLMSRegister(ln)
            link.read(reg, 3)
            check(reg.scaler == 1 and reg.unit == 30, f"{interface}: {ln} scaler 0, unit Wh")
            t0 = int(time.time())
            value = link.read(reg, 2)
            check(value in expected_reading(t0, int(time.time()), column), f"{interface}: {ln} = {value} Wh")
        pg = link.profile()
        check([c[0].logicalName for c in pg.captureObjects] == ["0.0.1.0.0.255", "1.0.1.8.0.255", "1.0.2.8.0.255"],
              f"{interface}: capture objects")
        check(link.read(pg, 4) == PERIOD, f"{interface}: capture period {PERIOD}")
        hi = int(time.time())
        rows = link.rows(lambda p: link.client.readRowsByRange(p, utc(hi - 3600), utc(hi)))
        check(len(rows) in (12, 13) and rows == expect(hi - 3600, hi),
              f"{interface}: last hour by range ({len(rows)} rows)")
        exchanges, before = link.exchanges, int(time.time())
        rows = link.rows(lambda p: link.client.read(p, 2))
        check(rows in (expect(START, before), expect(START, int(time.time()))),
              f"{interface}: whole buffer, {len(rows)} rows in {link.exchanges - exchanges} round trips")
        rows = link.rows(lambda p: link.client.readRowsByEntry(p, 2, 3))
        check(rows == expect(START + 2 * PERIOD, START + 4 * PERIOD), f"{interface}: entries 2..4 by entry")
        link.close()
        other = Link(ports[2], interface)
        other.associate()
        check(other.read(GXDLMSData("0.0.96.1.0.255"), 2) == b"SG0002", f"{interface}: meter 2 serial SG0002")
        other.close()
        check_authentication(ports[1], interface)
    finally:
        proc.terminate()
        check(proc.wait(5) == 0, f"{interface}: simulator exits cleanly on SIGTERM")


def check_authentication(port, interface):
    for client, password, diagnostic in ((17, "wrong", SourceDiagnostic.AUTHENTICATION_FAILURE),
                                         (17, None, SourceDiagnostic.AUTHENTICATION_REQUIRED),
                                         (16, "00000000", SourceDiagnostic.NOT_RECOGNISED)):
        link = Link(port, interface, client, password)
        try:
            link.associate()
            refused = None
        except GXDLMSException as e:
            refused = e.diagnostic
        check(refused == diagnostic, f"{interface}: client {client} password {password!r} refused ({refused})")
        link.sock.close()
    public = Link(port, interface, 16, None)
    public.associate()
    check(public.read(GXDLMSRegister("1.0.1.8.0.255"), 2) > 0, f"{interface}: public client 16 without authentication reads")
    public.close()


def check_scenarios():
    print("== scenarios (wrapper)")
    for scenario in ("wrong-obis", "backwards", "clock-skew"):
        proc, ports = start_sim("--meters", "2", "--scenario", scenario)
        try:
            meter0, meter1 = Link(ports[0], "wrapper"), Link(ports[1], "wrapper")
            for link in (meter0, meter1):
                link.associate()
            if scenario == "wrong-obis":
                try:
                    meter0.read(GXDLMSRegister("1.0.1.8.0.255"), 2)
                    error = None
                except GXDLMSException as e:
                    error = e.errorCode
                check(error == ErrorCode.UNDEFINED_OBJECT, "wrong-obis: meter 0 1.0.1.8.0.255 is object-undefined")
                check(meter0.read(GXDLMSRegister("1.0.1.8.1.255"), 2) > 0, "wrong-obis: meter 0 exposes 1.0.1.8.1.255")
                check(meter1.read(GXDLMSRegister("1.0.1.8.0.255"), 2) > 0, "wrong-obis: meter 1 is normal")
            elif scenario == "backwards":
                rows = meter0.rows(lambda p: meter0.client.readRowsByEntry(p, 1, 6))
                check(rows[3][1] == rows[2][1] - 1000
                      and rows == expect(START, START + 6 * PERIOD, "--scenario", scenario),
                      "backwards: meter 0 entry 4 import = entry 3 - 1000 Wh")
                rows = meter1.rows(lambda p: meter1.client.readRowsByEntry(p, 1, 6))
                check(all(a[1] < b[1] for a, b in zip(rows, rows[1:])), "backwards: meter 1 increases")
            else:
                clocks = []
                for link in (meter0, meter1):
                    clock = GXDLMSClock()
                    link.read(clock, 2)
                    clocks.append(clock.time.value.timestamp() - time.time())
                check(abs(clocks[0] - 600) < 3 and abs(clocks[1]) < 3,
                      f"clock-skew: offsets {clocks[0]:.0f} s, {clocks[1]:.0f} s")
            meter0.close()
            meter1.close()
        finally:
            proc.terminate()
            proc.wait(5)


def check_many(meters):
    print(f"== {meters} meters in one process")
    t0 = time.time()
    proc, ports = start_sim("--meters", str(meters))
    try:
        check(len(set(ports)) == meters, f"{meters} distinct ports, ready after {time.time() - t0:.1f} s")
        link = Link(ports[-1], "wrapper")
        link.associate()
        serial = b"SG%04d" % (meters - 1)
        check(link.read(GXDLMSData("0.0.96.1.0.255"), 2) == serial, f"last meter answers with serial {serial.decode()}")
        link.close()
    finally:
        proc.terminate()
        proc.wait(5)


def bench_worker(ports, seconds, persistent, queue):
    """GETs of the import register, round-robin over the meters, for `seconds`:
    over persistent associations, or one connection + AARQ + GET + RLRQ each."""
    reg = GXDLMSRegister("1.0.1.8.0.255")
    links = {port: Link(port, "wrapper") for port in ports} if persistent else {}
    for link in links.values():
        link.associate()
    count, end = 0, time.time() + seconds
    while time.time() < end:
        for port in ports:
            if persistent:
                assert links[port].read(reg, 2) > 0
            else:
                link = Link(port, "wrapper")
                link.associate()
                assert link.read(reg, 2) > 0
                link.close()
        count += len(ports)
    queue.put(count)


def measure(ports, seconds, workers, persistent):
    """Total GETs/s of `workers` client processes sharing the meters."""
    queue = multiprocessing.Queue()
    jobs = [multiprocessing.Process(target=bench_worker, args=(ports[i::workers], seconds, persistent, queue))
            for i in range(workers)]
    for job in jobs:
        job.start()
    total = sum(queue.get(timeout=seconds + 120) for _ in jobs)
    for job in jobs:
        job.join()
    return total / seconds


def check_throughput(meters, seconds, workers):
    print(f"== throughput: {meters} meters, {workers} client processes, {seconds} s each")
    proc, ports = start_sim("--meters", str(meters))
    try:
        short = measure(ports, seconds, workers, persistent=False)
        print(f"   short connections (connect, AARQ, GET, RLRQ): {short:.0f} GETs/s")
        gets = measure(ports, seconds, workers, persistent=True)
        cpu = open(f"/proc/{proc.pid}/stat").read().split()[13:15]
        print(f"   simulator CPU time {sum(map(int, cpu)) / os.sysconf('SC_CLK_TCK'):.1f} s in total")
    finally:
        proc.terminate()
        proc.wait(5)
    print(f"RESULT dlms_sim gets_per_s={gets:.0f}")


def main():
    global TRACE
    p = argparse.ArgumentParser()
    p.add_argument("--trace", action="store_true")
    p.add_argument("--bench-meters", type=int, default=200)
    p.add_argument("--bench-seconds", type=float, default=10)
    p.add_argument("--bench-workers", type=int, default=4)
    args = p.parse_args()
    TRACE = args.trace
    for interface in ("wrapper", "hdlc"):
        check_interface(interface)
    check_scenarios()
    check_many(1000)
    TRACE = False
    check_throughput(args.bench_meters, args.bench_seconds, args.bench_workers)


if __name__ == "__main__":
    main()
