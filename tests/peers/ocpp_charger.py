#!/usr/bin/env python3
"""Simulated EV charging station (OCPP 2.0.1 charge point) for the gateway's CSMS tests.

The station is the `ocpp` package's `ocpp.v201.ChargePoint` (ocpp 2.1.0) over a `websockets`
15 client connection with subprotocol `ocpp2.0.1`. It plays one charging session whose
meter values carry OCMF records signed with an ECDSA P-256 key, then exits.

Usage
  ocpp_charger.py --url wss://127.0.0.1:PORT/ocpp/STATION --start T0 --key KEY.pem
                  [--ca CA.pem] [--client-cert CERT.pem --client-key KEY.pem]
                  [--password-file FILE] [--intervals K] [--start-wh W0] [--seed S]
                  [--serial MS] [--first-page N] [--linger SECONDS] [--timeout SECONDS]
                  [--clock-offset S] [--event-gap SECONDS]
                  [--scenario good|forged|repaginated|unsigned|error-flag|serial-change|
                              value-mismatch|future]
  ocpp_charger.py --expect --start T0 [--intervals K] [--start-wh W0] [--seed S]
  ocpp_charger.py --gen-key FILE

Connection
  The station identity is the last path segment of --url. wss:// trusts --ca (PEM; the
  system store without it); --client-cert/--client-key (PEM) are presented for OCPP Security
  Profile 3. --password-file holds the Basic-auth password (one line; a trailing newline is
  dropped): header `Authorization: Basic base64(station:password)`; without the file no
  Authorization header is sent. No secret is ever taken from argv. ws:// is accepted too
  (no TLS). The server must select subprotocol ocpp2.0.1.

Session (UTC unix seconds; everything follows from the arguments, ECDSA signatures are the
deterministic RFC 6979 kind, so the same key and arguments give the same bytes)
  e_j = 500 + (S*7919 + j*104729) % 4000 Wh for interval j = 0..K-1 (T0+300j .. T0+300(j+1));
  register R_j at boundary T0+300j = W0 + e_0 + ... + e_{j-1}.
  Calls, in order: BootNotification (SIM-AC22 / sealgrid-sim / serial MS, PowerUp);
  StatusNotification (evse 1 connector 1 Occupied at T0+17); TransactionEvent
    Started  at T0+17       seqNo 0  CablePluggedIn   Transaction.Begin  register R_0  TX B
    Updated  at T0+300j     seqNo j  MeterValueClock  Sample.Clock       register R_j  TX C  (j=1..K)
    Ended    at T0+300K+23  seqNo K+1 StopAuthorized  Transaction.End    register R_K  TX E
  (transactionId "tx-<S>", idToken 04A1B2C3/ISO14443, evse 1/1; Ended: stoppedReason Local,
  chargingState Idle; the others Charging). `offline: true` is sent when the event's
  timestamp is more than 60 s before the wall clock at sending, otherwise it is omitted.
  Each TransactionEvent has one meterValue with one sampledValue: value = register in Wh,
  measurand Energy.Active.Import.Register, unit Wh, signedMeterValue {signedMeterData =
  base64(OCMF record), signingMethod ECDSA-secp256r1-SHA256, encodingMethod OCMF,
  publicKey = base64(DER SubjectPublicKeyInfo)}; meterValue.timestamp = event timestamp
  (ISO 8601, ".000Z").
  OCMF record: `OCMF|<payload>|<signature>`, payload compact JSON in this key order
    {"FV":"1.0","GI":"sealgrid-sim","GS":"<MS>-GW","GV":"1.0","PG":"T<page>","MV":"sealgrid-sim",
     "MM":"SIM-AC22","MS":"<MS>","MF":"1.0","IS":true,"IL":"VERIFIED","IF":["RFID_PLAIN"],
     "IT":"ISO14443","ID":"04A1B2C3","RD":[{"TM":"2024-01-01T00:00:17,000+0000 S","TX":"B",
     "RV":1000.500,"RI":"1-b:1.8.0","RU":"kWh","RT":"AC","EF":"","ST":"G"}]}
  (RV = register/1000 with exactly three decimals), signature
    {"SA":"ECDSA-secp256r1-SHA256","SD":"<uppercase hex of the DER ECDSA signature>"}
  over SHA-256 of the payload's UTF-8 bytes. Pages: first-page, first-page+1, ... per record.
Scenarios change exactly one thing in the second record (seqNo 1):
  forged          RV +1.000 kWh after signing, in the record and in sampledValue.value
  repaginated     page first-page+2 instead of +1 (signed)
  unsigned        no signedMeterValue
  error-flag      "EF":"E" (signed)
  serial-change   "MS":"<MS>-X" (signed; GS unchanged)
  value-mismatch  sampledValue.value +1000 Wh; the record is correct
  future          TM, meterValue timestamp and event timestamp = wall clock + 3600 s (signed)
--event-gap S waits S seconds before each TransactionEvent after the first (calls from the
CSMS, e.g. CostUpdated, then arrive mid-transaction).
--clock-offset S sets the station's clock ("the wall clock" above) to the wall clock + S.
--linger S keeps the connection open S seconds after the Ended answer; CostUpdated and
SetChargingProfile (both answered accepted/empty) are recorded at any time.

Output (stdout; log lines go to stderr)
  one line {"station", "sent": TransactionEvent calls sent, "records": OCMF records sent,
  "boot": BootNotification status, "answers": [TransactionEvent response payloads as
  received (camelCase), or {"callError": {"code", "description", "details"}}],
  "cost_updates": [CostUpdated request payloads], "charging_profiles": [SetChargingProfile
  request payloads]}; exit 0.
  Failure: one line {"error": "<message>"}; exit 2 when the connection, TLS or WebSocket
  handshake fails (refused, certificate, HTTP 401, no ocpp2.0.1 subprotocol) or an input
  file is unusable; exit 3 when the session fails after connecting (connection closed by the
  CSMS, no answer within --timeout, an answer that violates the OCPP schema), then the line
  also has the summary fields so far.
  --expect prints {"boundaries": [[T0+300j, R_j] for j=0..K], "energies": [[(T0+300j)/300,
  e_j] for j=0..K-1]} (the true values, whatever --scenario) without connecting.
  --gen-key FILE writes a fresh P-256 PKCS#8 PEM key (mode 0600) and prints the hex of its
  DER SubjectPublicKeyInfo.
"""
import argparse
import asyncio
import base64
import itertools
import json
import logging
import os
import ssl
import sys
import time
import urllib.parse
from datetime import datetime, timezone

import websockets
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from ocpp.exceptions import OCPPError
from ocpp.messages import CallError
from ocpp.routing import on
from ocpp.v201 import ChargePoint, call, call_result, datatypes

SUBPROTOCOL = "ocpp2.0.1"
SCENARIOS = ("good", "forged", "repaginated", "unsigned", "error-flag", "serial-change",
             "value-mismatch", "future")
MODEL, VENDOR = "SIM-AC22", "sealgrid-sim"
ID_TOKEN, ID_TYPE = "04A1B2C3", "ISO14443"
SIGNING_METHOD = "ECDSA-secp256r1-SHA256"
OFFLINE_AFTER = 60  # an event older than this (s) at sending is flagged offline


def log(message):
    print(f"ocpp_charger: {message}", file=sys.stderr, flush=True)


class Fatal(Exception):
    """An error that ends the run with {"error": message} and the given exit code."""

    def __init__(self, message, code):
        super().__init__(message)
        self.code = code


# --- the energy model -------------------------------------------------------------------

def energies(seed, k):
    return [500 + (seed * 7919 + j * 104729) % 4000 for j in range(k)]


def registers(w0, seed, k):
    """Register (Wh) at boundaries 0..k."""
    out = [w0]
    for e in energies(seed, k):
        out.append(out[-1] + e)
    return out


def expectation(args):
    regs = registers(args.start_wh, args.seed, args.intervals)
    return {
        "boundaries": [[args.start + 300 * j, regs[j]] for j in range(args.intervals + 1)],
        "energies": [[args.start // 300 + j, e] for j, e in enumerate(energies(args.seed, args.intervals))],
    }


# --- OCMF -------------------------------------------------------------------------------

def ocmf_time(t):
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + ",000+0000 S"


def iso_time(t):
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + ".000Z"


def kwh(wh):
    """Wh -> the OCMF RV text, kWh with exactly three decimals (integer arithmetic)."""
    sign, wh = ("-", -wh) if wh < 0 else ("", wh)
    return f"{sign}{wh // 1000}.{wh % 1000:03d}"


def ocmf_payload(serial, gateway_serial, page, t, tx, wh, error_flag):
    """The payload text exactly as signed and sent; RV spliced in as a 3-decimal number."""
    payload = {
        "FV": "1.0", "GI": VENDOR, "GS": gateway_serial, "GV": "1.0", "PG": f"T{page}",
        "MV": VENDOR, "MM": MODEL, "MS": serial, "MF": "1.0", "IS": True, "IL": "VERIFIED",
        "IF": ["RFID_PLAIN"], "IT": ID_TYPE, "ID": ID_TOKEN,
        "RD": [{"TM": ocmf_time(t), "TX": tx, "RV": "\0", "RI": "1-b:1.8.0", "RU": "kWh",
                "RT": "AC", "EF": error_flag, "ST": "G"}],
    }
    text = json.dumps(payload, separators=(",", ":"))
    placeholder = json.dumps("\0")  # "\u0000": argv and the fixed fields cannot contain it
    assert text.count(placeholder) == 1
    return text.replace(placeholder, kwh(wh))


def sign(key, payload_text):
    try:
        algorithm = ec.ECDSA(hashes.SHA256(), deterministic_signing=True)
        der = key.sign(payload_text.encode(), algorithm)
    except Exception:  # an OpenSSL without RFC 6979: random k, still a valid signature
        der = key.sign(payload_text.encode(), ec.ECDSA(hashes.SHA256()))
    return json.dumps({"SA": SIGNING_METHOD, "SD": der.hex().upper()}, separators=(",", ":"))


def spki_der(key):
    return key.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def plan(args, key):
    """The TransactionEvent requests of the session (without `offline`, decided at sending)."""
    k, serial = args.intervals, args.serial
    regs = registers(args.start_wh, args.seed, k)
    public_key = base64.b64encode(spki_der(key)).decode()
    events = []
    for i in range(k + 2):
        if i == 0:
            kind, t, trigger, context, tx = "Started", args.start + 17, "CablePluggedIn", "Transaction.Begin", "B"
        elif i <= k:
            kind, t, trigger, context, tx = "Updated", args.start + 300 * i, "MeterValueClock", "Sample.Clock", "C"
        else:
            kind, t, trigger, context, tx = "Ended", args.start + 300 * k + 23, "StopAuthorized", "Transaction.End", "E"
        wh = regs[min(i, k)]
        second = i == 1
        scenario = args.scenario if second else "good"
        page = args.first_page + i + (1 if scenario == "repaginated" else 0)
        if scenario == "future":
            t = int(time.time()) + args.clock_offset + 3600
        record_serial = serial + "-X" if scenario == "serial-change" else serial
        error_flag = "E" if scenario == "error-flag" else ""
        signed = ocmf_payload(record_serial, serial + "-GW", page, t, tx, wh, error_flag)
        signature = sign(key, signed)
        sent_wh = wh + 1000 if scenario == "forged" else wh
        payload = signed if scenario != "forged" else ocmf_payload(
            record_serial, serial + "-GW", page, t, tx, sent_wh, error_flag)
        record = f"OCMF|{payload}|{signature}"
        value = wh + 1000 if scenario in ("forged", "value-mismatch") else wh
        signed_value = None if scenario == "unsigned" else datatypes.SignedMeterValueType(
            signed_meter_data=base64.b64encode(record.encode()).decode(),
            signing_method=SIGNING_METHOD, encoding_method="OCMF", public_key=public_key)
        sampled = datatypes.SampledValueType(
            value=value, context=context, measurand="Energy.Active.Import.Register",
            signed_meter_value=signed_value, unit_of_measure=datatypes.UnitOfMeasureType(unit="Wh"))
        events.append({
            "t": t, "signed": signed_value is not None,
            "request": call.TransactionEvent(
                event_type=kind, timestamp=iso_time(t), trigger_reason=trigger, seq_no=i,
                transaction_info=datatypes.TransactionType(
                    transaction_id=f"tx-{args.seed}",
                    charging_state="Idle" if kind == "Ended" else "Charging",
                    stopped_reason="Local" if kind == "Ended" else None),
                meter_value=[datatypes.MeterValueType(timestamp=iso_time(t), sampled_value=[sampled])],
                evse=datatypes.EVSEType(id=1, connector_id=1),
                id_token=datatypes.IdTokenType(id_token=ID_TOKEN, type=ID_TYPE) if kind == "Started" else None),
        })
    return events


# --- the charge point -------------------------------------------------------------------

class Charger(ChargePoint):
    """ocpp's v201 ChargePoint that keeps the raw payloads of what it receives."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        ids = itertools.count(1)
        self._unique_id_generator = lambda: str(next(ids))  # deterministic message ids
        self.last_response = None
        self.cost_updates, self.charging_profiles = [], []
        self._incoming = None

    async def _get_specific_response(self, unique_id, timeout):
        response = await super()._get_specific_response(unique_id, timeout)
        self.last_response = response
        return response

    async def _handle_call(self, msg):
        self._incoming = msg.payload  # the handlers below run inside this (after validation)
        return await super()._handle_call(msg)

    @on("CostUpdated")
    def on_cost_updated(self, **_):
        log(f"CostUpdated {json.dumps(self._incoming)}")
        self.cost_updates.append(self._incoming)
        return call_result.CostUpdated()

    @on("SetChargingProfile")
    def on_set_charging_profile(self, **_):
        log(f"SetChargingProfile {json.dumps(self._incoming)}")
        self.charging_profiles.append(self._incoming)
        return call_result.SetChargingProfile(status="Accepted")


def describe(exc):
    """exc and its causes as one readable line."""
    parts, seen = [], set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        text = str(exc) or type(exc).__name__
        if isinstance(exc, websockets.exceptions.InvalidStatus):
            r = exc.response
            body = r.body.decode("utf-8", "replace").strip() if r.body else ""
            text = f"HTTP {r.status_code} {r.reason_phrase}: server rejected the WebSocket upgrade" + (
                f" ({body})" if body else "")
        elif isinstance(exc, ssl.SSLError):
            text = f"TLS handshake failed: {getattr(exc, 'verify_message', None) or exc.reason or exc}"
        if text not in parts:
            parts.append(text)
        exc = exc.__cause__ or exc.__context__
    return ": ".join(parts)


def tls_context(args):
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=args.ca)
    if args.client_cert:
        ctx.load_cert_chain(args.client_cert, args.client_key)
    return ctx


async def connect(args, station, password):
    headers = {}
    if password is not None:
        token = base64.b64encode(f"{station}:{password}".encode()).decode()
        headers["Authorization"] = "Basic " + token
    options = {"subprotocols": [SUBPROTOCOL], "additional_headers": headers,
               "open_timeout": args.timeout}
    if args.url.startswith("wss://"):
        try:
            options["ssl"] = tls_context(args)
        except (OSError, ssl.SSLError) as e:
            raise Fatal(f"cannot load the TLS files: {describe(e)}", 2)
    try:
        ws = await websockets.connect(args.url, **options)
    except Exception as e:  # refused, TLS, HTTP status, timeout, bad handshake
        hint = ""
        if isinstance(e, websockets.exceptions.InvalidMessage) and "ssl" in options:
            # TLS 1.3: a server refusing the client certificate (or its absence) alerts after
            # the client's side of the handshake is done; asyncio reports only the close
            hint = (" (the server closed the TLS connection before answering: it may require a"
                    " client certificate, or refused the one given)")
        raise Fatal(f"cannot connect to {args.url}: {describe(e)}{hint}", 2)
    if ws.subprotocol != SUBPROTOCOL:
        await ws.close()
        raise Fatal(f"cannot connect to {args.url}: the server did not select subprotocol "
                    f"{SUBPROTOCOL} (got {ws.subprotocol!r})", 2)
    return ws


async def session(args, key, station, password, summary):
    events = plan(args, key)
    ws = await connect(args, station, password)
    log(f"connected to {args.url} as {station}")
    cp = Charger(station, ws, response_timeout=args.timeout)
    reader = asyncio.create_task(cp.start())

    async def request(payload):
        """cp.call(payload) -> (response dataclass or None, raw response); fails fast when
        the connection closes instead of waiting out the response timeout."""
        action = type(payload).__name__
        pending = asyncio.ensure_future(cp.call(payload))
        done, _ = await asyncio.wait({pending, reader}, return_when=asyncio.FIRST_COMPLETED)
        if pending not in done:
            pending.cancel()
            exc = reader.exception() if not reader.cancelled() else None
            raise Fatal(f"{action}: connection lost: {describe(exc) if exc else 'closed'}", 3)
        try:
            result = pending.result()
        except asyncio.TimeoutError:
            raise Fatal(f"{action}: no answer within {args.timeout} s", 3)
        except OCPPError as e:
            raise Fatal(f"{action}: {type(e).__name__}: {e.description}: {e.details}", 3)
        return result, cp.last_response

    try:
        boot, raw = await request(call.BootNotification(
            charging_station=datatypes.ChargingStationType(
                vendor_name=VENDOR, model=MODEL, serial_number=args.serial),
            reason="PowerUp"))
        summary["boot"] = boot.status if boot else f"CallError {raw.error_code}"
        log(f"BootNotification: {summary['boot']}")
        await request(call.StatusNotification(
            timestamp=iso_time(args.start + 17), connector_status="Occupied", evse_id=1, connector_id=1))
        for n, event in enumerate(events):
            if n > 0 and args.event_gap > 0:
                await asyncio.sleep(args.event_gap)
            req = event["request"]
            req.offline = True if event["t"] < time.time() + args.clock_offset - OFFLINE_AFTER else None
            summary["sent"] += 1  # counted as sent even if the answer then fails
            summary["records"] += event["signed"]
            _, raw = await request(req)
            if isinstance(raw, CallError):
                answer = {"callError": {"code": raw.error_code, "description": raw.error_description,
                                        "details": raw.error_details}}
            else:
                answer = raw.payload
            summary["answers"].append(answer)
            log(f"TransactionEvent {req.event_type} seqNo {req.seq_no}"
                f"{' offline' if req.offline else ''}: {json.dumps(answer)}")
        if args.linger > 0:
            log(f"lingering {args.linger} s")
            await asyncio.wait({reader}, timeout=args.linger)
            if reader.done() and not reader.cancelled():
                log(f"the CSMS closed the connection while lingering: {describe(reader.exception())}")
    finally:
        reader.cancel()
        await ws.close()
        summary["cost_updates"] = cp.cost_updates
        summary["charging_profiles"] = cp.charging_profiles


# --- command line -----------------------------------------------------------------------

def gen_key(path):
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        os.fchmod(f.fileno(), 0o600)
        f.write(pem)
    return spki_der(key).hex()


def load_key(path):
    try:
        with open(path, "rb") as f:
            key = serialization.load_pem_private_key(f.read(), password=None)
    except (OSError, ValueError, TypeError) as e:
        raise Fatal(f"cannot load the signing key {path}: {e}", 2)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise Fatal(f"the signing key {path} is not a P-256 (secp256r1) EC key", 2)
    return key


def read_password(path):
    if path is None:
        return None
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as e:
        raise Fatal(f"cannot read the password file {path}: {e}", 2)


def station_of(url):
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("ws", "wss"):
        raise Fatal(f"--url must be ws:// or wss://, not {url!r}", 2)
    station = urllib.parse.unquote(parts.path.rstrip("/").rsplit("/", 1)[-1])
    if not station:
        raise Fatal(f"--url {url!r} has no station identity (last path segment)", 2)
    return station


def parse_args(argv):
    p = argparse.ArgumentParser(description="Simulated OCPP 2.0.1 charging station (see the module docstring).")
    p.add_argument("--url", help="CSMS endpoint, ws[s]://HOST:PORT/PATH/STATION")
    p.add_argument("--ca", help="PEM CA certificate(s) to trust for wss://")
    p.add_argument("--client-cert", help="PEM client certificate (Security Profile 3)")
    p.add_argument("--client-key", help="PEM private key of --client-cert")
    p.add_argument("--password-file", help="file holding the Basic-auth password")
    p.add_argument("--start", type=int, help="T0, unix seconds, a multiple of 300")
    p.add_argument("--intervals", type=int, default=3, help="K, 5-minute intervals (default 3)")
    p.add_argument("--start-wh", type=int, default=1_000_000, help="register at T0, Wh (default 1000000)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--serial", default="SIM-CHG-0001", help="meter serial MS")
    p.add_argument("--key", help="PEM PKCS#8 P-256 private key signing the OCMF records")
    p.add_argument("--first-page", type=int, default=1)
    p.add_argument("--event-gap", type=float, default=0.0,
                   help="seconds between TransactionEvents (default 0)")
    p.add_argument("--clock-offset", type=int, default=0,
                   help="the station's clock is the wall clock + S seconds (a devnet's chain time)")
    p.add_argument("--scenario", choices=SCENARIOS, default="good")
    p.add_argument("--linger", type=float, default=0.0,
                   help="seconds to stay connected after the session answering CSMS calls")
    p.add_argument("--timeout", type=float, default=30.0,
                   help="seconds to wait for the connection and for each answer (default 30)")
    p.add_argument("--expect", action="store_true", help="print the expected boundaries and energies, no connection")
    p.add_argument("--gen-key", metavar="FILE", help="write a fresh P-256 key to FILE, print its SPKI DER hex")
    args = p.parse_args(argv)
    if args.gen_key:
        return args
    if args.start is None:
        p.error("--start is required")
    if args.start % 300:
        p.error("--start must be a multiple of 300 (a 5-minute boundary)")
    if args.intervals < 1:
        p.error("--intervals must be at least 1")
    if args.start_wh < 0 or args.first_page < 0 or args.linger < 0 or args.timeout <= 0:
        p.error("--start-wh, --first-page and --linger must not be negative, --timeout must be positive")
    if args.expect:
        return args
    if not args.url:
        p.error("--url is required")
    if not args.key:
        p.error("--key is required")
    if bool(args.client_cert) != bool(args.client_key):
        p.error("--client-cert and --client-key go together")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.gen_key:
        print(gen_key(args.gen_key), flush=True)
        return 0
    if args.expect:
        print(json.dumps(expectation(args)), flush=True)
        return 0
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="ocpp_charger: %(name)s: %(message)s")
    summary = {"station": None, "sent": 0, "records": 0, "boot": None, "answers": [],
               "cost_updates": [], "charging_profiles": []}
    try:
        summary["station"] = station = station_of(args.url)
        key = load_key(args.key)
        password = read_password(args.password_file)
        asyncio.run(session(args, key, station, password, summary))
    except Fatal as e:
        log(f"error: {e}")
        print(json.dumps({"error": str(e), **(summary if e.code == 3 else {})}), flush=True)
        return e.code
    except Exception as e:  # anything unforeseen after connecting: still one JSON line
        log(f"error: {type(e).__name__}: {e}")
        print(json.dumps({"error": f"{type(e).__name__}: {describe(e)}", **summary}), flush=True)
        return 3
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
