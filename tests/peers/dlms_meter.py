#!/usr/bin/env python3
"""Simulated DLMS/COSEM revenue meter(s) for the gateway tests (IEC 62056, gurux_dlms 1.0.203).

Every meter is a real gurux `GXDLMSServer` (logical-name referencing), one server
instance per accepted TCP connection, all driven by one selector thread on 127.0.0.1.
The Python server of gurux 1.0.203 is unfinished: the pieces marked "1.0.203" below
supply the methods and fixes its request handling needs.

Usage
  dlms_meter.py [--port N] [--meters K] [--interface wrapper|hdlc] [--password SECRET]
                [--start UNIX] [--seed S] [--capture-period 300|900] [--clock-offset S]
                [--scenario normal|backwards|wrong-obis|clock-skew]
  dlms_meter.py --expect FROM TO [same generator options]     # print expected profile, no serving
On startup one line `{"ready": true, "ports": [...], "pid": N}` goes to stdout; meter i
listens on ports[i] (port+i, or a free port each when --port 0). SIGTERM/SIGINT exit 0.

Addressing (the gurux client defaults)
  wrapper (IEC 62056-47): version 1, client wPort 16 (public, no authentication) or
    17 (management, LLS, password --password), server wPort 1.
  hdlc: one-byte addresses: server address 1 (upper HDLC address 1, no physical part,
    byte 0x03), client 16 (0x21) or 17 (0x23). Max info field 128 bytes both ways and
    window size 1 (gurux defaults; a client asking for less gets less, more is clamped).
  Frames to any other server/client address are ignored (no reply), as gurux does.
  Association: client 16 must use no authentication, client 17 must use LOW (LLS) with
    the right password; anything else gets an AARE "rejected-permanent" with diagnostic
    authentication-failure (13), authentication-required (14) or mechanism-not-recognised (11).
  Max PDU size: min(client's proposal, 1024). Conformance: gurux's LN default set
    (get, set, action, selective-access, multiple-references, block transfer with
    get/set/action, access, general-protection) intersected with the AARQ's; the
    server only requires the intersection to be non-empty.

COSEM objects (per meter i; attribute 2 is computed when read)
  0.0.1.0.0.255   Clock (8): time = wall clock as octet-string(12) date-time, UTC,
                  hundredths 0, deviation 0, status 0 (+600 s for clock-skew).
  0.0.96.1.0.255  Data (1): serial, octet-string ASCII "SG%04d" % i.
  1.0.1.8.0.255   Register (3): +A import, long64-unsigned (UInt64), scaler 0, unit Wh (30).
  1.0.2.8.0.255   Register (3): -A export, same.
  1.0.99.1.0.255  Profile generic (7): capture objects [clock.2, import.2, export.2],
                  capture period P = --capture-period, sort method FIFO (ascending time),
                  entries-in-use = profile-entries = number of entries now.
                  Selective access 1: range on the clock column, from/to inclusive
                  (deviation 0x8000 taken as UTC), optional list of columns;
                  selective access 2: entries from/to (1-based, to 0 = last), columns
                  from/to (to 0 = last). Replies longer than the PDU go as
                  GET-response-with-datablock blocks (HDLC: also segmented frames).
  0.0.40.0.0.255  Association LN (15): the current association (gurux's).
Scenarios apply to meter 0 only: backwards (entry 4's import = entry 3's - 1000 Wh),
  wrong-obis (import register is 1.0.1.8.1.255, so 1.0.1.8.0.255 is undefined-object),
  clock-skew (clock attribute 2 only is 600 s ahead; profile times stay true).

Energy generator (all integers, Wh)
  splitmix64(x): z = x + 0x9E3779B97F4A7C15; z = (z ^ z>>30) * 0xBF58476D1CE4E5B9;
                 z = (z ^ z>>27) * 0x94D049BB133111EB; return z ^ z>>31   (mod 2**64)
  h(c, k) = splitmix64(seed << 48 | i << 32 | k << 1 | c)   meter i, period k >= 1, seed < 2**16
  import increment of period k = 50 + h(0, k) % 351, export increment = h(1, k) % 301
  (backwards, meter 0: the import increment of period 4 is -1000).
  Entry k (k >= 1) is at time start + k*P with import = 1_000_000 + sum of the import
  increments 1..k, export = 500_000 + sum of the export increments 1..k; totals at k = 0
  are the bases. The buffer holds entries k = 1.. with start + k*P <= now.
  A direct register read at unix second t (now, integer), k = (t - start) // P,
  r = t - start - k*P: value = total(k) + (increment(k+1) * r) // P (floor division);
  t < start reads total(0).
  --start defaults to now rounded down to a multiple of 300; --seed defaults to 1.
  --clock-offset S (default 0) sets the meter's clock to the wall clock + S seconds, for
  every use of "now" above (a devnet whose chain time runs ahead of the wall clock).
  --expect FROM TO prints {"start", "capture_period", "entries": [{"time", "import_wh",
  "export_wh"}]} for meter 0 (with --scenario) and FROM <= time <= TO, not clipped to now.
"""
import argparse
import json
import os
import resource
import selectors
import signal
import socket
import sys
import time
from datetime import datetime, timezone

from gurux_dlms import GXDateTime, GXDLMSClient, GXDLMSServer, GXServerReply
from gurux_dlms.GXDLMSLNCommandHandler import GXDLMSLNCommandHandler
from gurux_dlms.GXDLMSLongTransaction import GXDLMSLongTransaction
from gurux_dlms.GXHdlcSettings import GXHdlcSettings
from gurux_dlms.internal._GXCommon import _GXCommon
from gurux_dlms.enums import (AccessMode, Authentication, DataType, ErrorCode,
                              InterfaceType, MethodAccessMode, ObjectType,
                              SourceDiagnostic, Unit)
from gurux_dlms.objects import (GXDLMSAssociationLogicalName, GXDLMSClock, GXDLMSData,
                                GXDLMSProfileGeneric, GXDLMSRegister)

_get_request_normal = GXDLMSLNCommandHandler.getRequestNormal.__func__


def _get_request_normal_echoing_invoke(cls, settings, invoke_id, server, data, reply, xml):
    """1.0.203 answers a GET of an undefined object with invoke id 0 (it copies the request's
    id only for objects it finds); a meter echoes the request's invoke id in every answer."""
    start = len(reply)
    _get_request_normal(cls, settings, invoke_id, server, data, reply, xml)
    at = bytes(reply.array()).find(b"\xc4\x01", start)
    if at >= 0:
        reply.setUInt8((reply[at + 2] & 0xF0) | (invoke_id & 0x0F), at + 2)


GXDLMSLNCommandHandler.getRequestNormal = classmethod(_get_request_normal_echoing_invoke)

PUBLIC_CLIENT, MANAGEMENT_CLIENT, SERVER_ADDRESS = 16, 17, 1
MAX_PDU = 1024
IMPORT_BASE, EXPORT_BASE = 1_000_000, 500_000
MASK64 = (1 << 64) - 1


CLOCK_OFFSET = 0  # --clock-offset


def now():
    """The meter's clock: the wall clock plus --clock-offset, integer unix seconds."""
    return int(time.time()) + CLOCK_OFFSET


def splitmix64(x):
    z = (x + 0x9E3779B97F4A7C15) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


class Meter:
    """Deterministic energy model of meter `index` (see the module docstring)."""

    def __init__(self, index, args):
        self.index, self.seed = index, args.seed
        self.start, self.period = args.start, args.capture_period
        self.scenario = args.scenario if index == 0 else "normal"
        self.skew = 600 if self.scenario == "clock-skew" else 0
        self.import_ln = "1.0.1.8.1.255" if self.scenario == "wrong-obis" else "1.0.1.8.0.255"
        self.serial = b"SG%04d" % index
        self.totals = [(IMPORT_BASE, EXPORT_BASE)]  # cache: totals at entry k

    def increment(self, k):
        """(import, export) energy of period k, i.e. from entry k-1 to entry k."""
        key = self.seed << 48 | self.index << 32 | k << 1
        imp, exp = 50 + splitmix64(key) % 351, splitmix64(key | 1) % 301
        return (-1000 if k == 4 and self.scenario == "backwards" else imp), exp

    def total(self, k):
        while len(self.totals) <= k:
            imp, exp = self.totals[-1]
            di, de = self.increment(len(self.totals))
            self.totals.append((imp + di, exp + de))
        return self.totals[k]

    def entries_now(self, now):
        return max(0, (now - self.start) // self.period)

    def entries_between(self, lo, hi):
        """Entry numbers k >= 1 with lo <= start + k*P <= hi."""
        return range(max(1, -((self.start - lo) // self.period)), (hi - self.start) // self.period + 1)

    def reading(self, now):
        """(import, export) at unix second `now`, interpolated within the period."""
        if now < self.start:
            return self.total(0)
        k, r = divmod(now - self.start, self.period)
        (imp, exp), (di, de) = self.total(k), self.increment(k + 1)
        return imp + di * r // self.period, exp + de * r // self.period

    def entry(self, k):
        return (self.start + k * self.period,) + self.total(k)


def utc(seconds):
    return GXDateTime(datetime.fromtimestamp(seconds, timezone.utc))


def unix(octets):
    """A COSEM date-time octet string -> unix seconds; unspecified deviation = UTC."""
    value = GXDLMSClient.changeType(octets, DataType.DATETIME).value
    return int((value if value.tzinfo else value.replace(tzinfo=timezone.utc)).timestamp())


class Clock(GXDLMSClock):
    def __init__(self, meter):
        super().__init__("0.0.1.0.0.255")
        self.meter = meter

    def getValue(self, settings, e):
        if e.index == 2:
            self.time = utc(now() + self.meter.skew)
        return super().getValue(settings, e)


class EnergyRegister(GXDLMSRegister):
    def __init__(self, ln, meter, column):
        super().__init__(ln)
        self.meter, self.column = meter, column
        self.scaler, self.unit = 1, Unit.ACTIVE_ENERGY  # gurux stores the scaler as 10**scaler
        self.setDataType(2, DataType.UINT64)

    def getValue(self, settings, e):
        if e.index == 2:
            self.value = self.meter.reading(now())[self.column]
        return super().getValue(settings, e)


class LoadProfile(GXDLMSProfileGeneric):
    """Rows are generated for the requested entries only; gurux encodes them."""

    def __init__(self, meter, clock, imp, exp):
        super().__init__("1.0.99.1.0.255")
        self.meter = meter
        self.capturePeriod = meter.period
        for obj in (clock, imp, exp):
            self.addCaptureObject(obj, 2, 0)

    def getValue(self, settings, e):
        self.entriesInUse = self.profileEntries = self.meter.entries_now(now())
        if e.index != 2:
            return super().getValue(settings, e)
        count, entries, columns = self.entriesInUse, range(1, self.entriesInUse + 1), None
        if e.selector == 1:  # range_descriptor: restricting object, from, to, selected values
            restricting, lo, hi, selected = e.parameters
            if restricting[0] != ObjectType.CLOCK or bytes(restricting[1]) != bytes([0, 0, 1, 0, 0, 255]):
                e.error = ErrorCode.ACCESS_VIOLATED
                return None
            within = self.meter.entries_between(unix(lo), unix(hi))
            entries = range(within.start, min(within.stop, count + 1))
            columns = [c for c in self.captureObjects if any(
                s[0] == c[0].objectType and bytes(s[1]) == bytes(map(int, c[0].logicalName.split(".")))
                and s[2] == c[1].attributeIndex for s in selected)]
        elif e.selector == 2:  # entry_descriptor: from/to entry, from/to selected value
            from_entry, to_entry, from_col, to_col = e.parameters
            entries = range(max(1, from_entry), min(count, to_entry or count) + 1)
            columns = self.captureObjects[max(from_col, 1) - 1:to_col or None]
        rows = [self.meter.entry(k) for k in entries]
        # gurux encodes the rows (all capture objects when `columns` is empty)
        return self.getData(settings, e, [[utc(t), imp, exp] for t, imp, exp in rows], columns)


class HdlcLimits(GXHdlcSettings):
    """The meter's HDLC limits. gurux 1.0.203's server reads them from `server.hdlc` and
    copies them with `settings.hdlc.update()`, neither of which the release defines, so
    this object is both; window size is fixed at 1 (proposals are ignored)."""
    maximumInfoLengthReceive = maximumInfoLengthTransmit = GXHdlcSettings.DEFAULT_MAX_INFO_RX
    inactivityTimeout = 0
    windowSizeTX = windowSizeRX = property(lambda self: 1, lambda self, value: None)
    windowSizeReceive = windowSizeTransmit = 1

    def update(self, _limits):
        self.__init__()  # each SNRM starts from the limits, then the client's proposal


class Reply(GXServerReply):
    """Accessors gurux's handleRequest calls on its reply object (missing in 1.0.203)."""

    def setReply(self, value):
        self.reply = value

    def getConnectionInfo(self):
        return self.connectionInfo

    def getCount(self):
        return self.count

    def setCount(self, value):
        self.count = value


class Transaction(GXDLMSLongTransaction):
    """A long GET in progress; gurux's block handler calls setData, which 1.0.203 lacks."""

    def setData(self, value):
        self.data.trim()
        self.data.set(value)  # the part of the response not sent yet


class MeterSession(GXDLMSServer):
    """One association state machine (one TCP connection) of a meter."""

    def __init__(self, meter, interface, password):
        super().__init__(True, interface)
        self.password = password
        self.settings.maxServerPDUSize = MAX_PDU
        self.settings.gbtWndowSize = 1  # 1.0.203's next-block handler reads this misspelt name
        if interface == InterfaceType.HDLC:
            self.hdlc = self.settings.hdlc = HdlcLimits()
        clock = Clock(meter)
        serial = GXDLMSData("0.0.96.1.0.255")
        serial.setDataType(2, DataType.OCTET_STRING)
        serial.value = meter.serial
        imp = EnergyRegister(meter.import_ln, meter, 0)
        exp = EnergyRegister("1.0.2.8.0.255", meter, 1)
        # current association 0.0.40.0.0.255, listed by hand: 1.0.203's initialize()
        # would append the whole collection as one object
        association = GXDLMSAssociationLogicalName()
        for obj in (association, clock, serial, imp, exp, LoadProfile(meter, clock, imp, exp)):
            self.items.append(obj)
            association.objectList.append(obj)
        self.initialize()

    def feed(self, data):
        """Bytes from the client -> bytes to send back (none while a frame is incomplete)."""
        reply = Reply(data)
        self.handleRequest(reply)
        return bytes(reply.reply or b"")

    # --- repairs of gurux 1.0.203's UA info field: it writes the group length with
    # setUInt8(2, n) (value and index swapped), i.e. byte n := 2 and length byte stays 0.
    # Byte n is the 2nd byte of the trailing window-size-rx (always 00 00 00 01 here).
    def handleSnrmRequest(self, data):
        super().handleSnrmRequest(data)
        self._fix_ua_length()

    def generateDisconnectRequest(self):
        super().generateDisconnectRequest()
        self._fix_ua_length()

    def _fix_ua_length(self):
        n = len(self.replyData) - 3
        self.replyData.setUInt8(0, n)
        self.replyData.setUInt8(n, 2)

    def handleReleaseRequest(self, data):
        # 1.0.203 calls replyData.set(0, LLC) (arguments swapped): put the HDLC LLC
        # header E6 E7 00 in front of the RLRE itself.
        super().handleReleaseRequest(data)
        if self.settings.interfaceType == InterfaceType.HDLC:
            rlre = self.replyData.array()
            self.replyData.clear()
            self.replyData.set(_GXCommon.LLC_REPLY_BYTES + rlre)

    # --- gurux server callbacks ---
    def isTarget(self, serverAddress, clientAddress):
        return serverAddress == SERVER_ADDRESS and clientAddress in (PUBLIC_CLIENT, MANAGEMENT_CLIENT)

    def onValidateAuthentication(self, authentication, password):
        # Runs between AARQ parsing and AARE generation: apply the server's PDU limit
        # here (1.0.203 assigns a misspelt attribute instead of clamping).
        self.settings.maxPduSize = min(self.settings.maxPduSize, MAX_PDU)
        if self.settings.clientAddress == PUBLIC_CLIENT:
            ok = authentication == Authentication.NONE
            return SourceDiagnostic.NONE if ok else SourceDiagnostic.NOT_RECOGNISED
        if authentication == Authentication.NONE:
            return SourceDiagnostic.AUTHENTICATION_REQUIRED
        if authentication != Authentication.LOW:
            return SourceDiagnostic.NOT_RECOGNISED
        ok = bytes(password or b"") == self.password
        return SourceDiagnostic.NONE if ok else SourceDiagnostic.AUTHENTICATION_FAILURE

    def onGetAttributeAccess(self, arg):
        return AccessMode.READ

    def onGetMethodAccess(self, arg):
        return MethodAccessMode.NO_ACCESS

    def onFindObject(self, objectType, sn, ln):
        return None

    # called by 1.0.203's get handler but not defined by its server
    def getTransaction(self):
        return self.transaction

    def setTransaction(self, value):
        self.transaction = value and Transaction(value.targets, value.command, value.data)

    def notifyRead(self, *args):
        pass

    # the remaining callbacks of gurux's server interface have nothing to do here
    onPreRead = onPostRead = onPreWrite = onPostWrite = onPreAction = onPostAction = notifyRead
    onPreGet = onPostGet = onConnected = onDisconnected = onInvalidConnection = notifyRead


class Connection:
    def __init__(self, sock, session):
        self.sock, self.session, self.out = sock, session, b""

    def on_event(self, sel, mask):
        try:
            if mask & selectors.EVENT_READ:
                data = self.sock.recv(65536)
                if not data:
                    raise ConnectionResetError
                self.out += self.session.feed(data)
            if self.out:
                self.out = self.out[self.sock.send(self.out):]
        except BlockingIOError:
            pass
        except OSError:  # closed or reset by the client
            sel.unregister(self.sock)
            self.sock.close()
            return
        want = selectors.EVENT_READ | (selectors.EVENT_WRITE if self.out else 0)
        if sel.get_key(self.sock).events != want:
            sel.modify(self.sock, want, self)


def serve(meters, args):
    interface = InterfaceType.HDLC if args.interface == "hdlc" else InterfaceType.WRAPPER
    password = args.password.encode()
    sel = selectors.DefaultSelector()
    ports = []
    for i, meter in enumerate(meters):
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((args.host, args.port + i if args.port else 0))
        ls.listen(128)
        ls.setblocking(False)
        sel.register(ls, selectors.EVENT_READ, meter)
        ports.append(ls.getsockname()[1])
    print(json.dumps({"ready": True, "ports": ports, "pid": os.getpid()}), flush=True)
    while True:
        for key, mask in sel.select():
            if isinstance(key.data, Meter):
                try:
                    conn, _ = key.fileobj.accept()
                except OSError:
                    continue
                conn.setblocking(False)
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                session = MeterSession(key.data, interface, password)
                sel.register(conn, selectors.EVENT_READ, Connection(conn, session))
            else:
                key.data.on_event(sel, mask)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1", choices=["127.0.0.1"])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--meters", type=int, default=1)
    p.add_argument("--interface", choices=["wrapper", "hdlc"], default="wrapper")
    p.add_argument("--password", default="00000000")
    p.add_argument("--clock-offset", type=int, default=0)
    p.add_argument("--start", type=int)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--capture-period", type=int, choices=[300, 900], default=300)
    p.add_argument("--scenario", default="normal",
                   choices=["normal", "backwards", "wrong-obis", "clock-skew"])
    p.add_argument("--expect", nargs=2, type=int, metavar=("FROM", "TO"))
    args = p.parse_args()
    global CLOCK_OFFSET
    CLOCK_OFFSET = args.clock_offset
    if args.start is None:
        args.start = now() // 300 * 300
    if args.expect:
        meter = Meter(0, args)
        entries = [dict(zip(("time", "import_wh", "export_wh"), meter.entry(k)))
                   for k in meter.entries_between(*args.expect)]
        print(json.dumps({"start": args.start, "capture_period": args.capture_period, "entries": entries}))
        return
    for sig in (signal.SIGTERM, signal.SIGINT):  # explicit: background jobs start with SIGINT ignored
        signal.signal(sig, lambda *_: sys.exit(0))
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # a socket per meter and connection
    serve([Meter(i, args) for i in range(args.meters)], args)


if __name__ == "__main__":
    main()
