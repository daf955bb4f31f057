#!/usr/bin/env python3
"""Self-check of ocpp_charger.py against a small Python CSMS (not part of the test suite).

Makes a CA, a server certificate for 127.0.0.1/localhost and a client certificate with
`cryptography`, serves an `ocpp.v201.ChargePoint` CSMS (BootNotification,
StatusNotification, TransactionEvent, Heartbeat) on 127.0.0.1 over TLS behind Basic auth,
and runs the peer in a subprocess:
  good (with a client certificate, --linger 2: the CSMS sends CostUpdated and
    SetChargingProfile after the Ended event): every OCMF record verifies, the registers
    match --expect, the summary is complete and the events were flagged offline;
  forged: exactly one record fails verification (the second);
  a wrong password: exit 2 with {"error": ...HTTP 401...};
  no --ca (untrusted server certificate): exit 2 with {"error": ...certificate...}.
Prints `ok` and exits 0, or raises.

Usage: .venv/bin/python tests/peers/ocpp_charger_check.py
"""
import asyncio
import base64
import datetime
import ipaddress
import json
import os
import ssl
import sys
import tempfile
from http import HTTPStatus

import websockets
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from ocpp.routing import after, on
from ocpp.v201 import ChargePoint, call, call_result
from websockets.asyncio.server import serve

HERE = os.path.dirname(os.path.abspath(__file__))
PEER = os.path.join(HERE, "ocpp_charger.py")
STATION, PASSWORD = "STATION-1", "correct horse battery staple"
T0, K, W0, SEED = 1_700_000_100, 3, 1_000_000, 1


def pem_write(path, data):
    with open(path, "wb") as f:
        f.write(data)
    return path


def key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def make_pki(d):
    now = datetime.datetime.now(datetime.timezone.utc)

    def cert(subject_cn, key, issuer_name, issuer_key, ca=False, san=None, eku=None):
        b = (x509.CertificateBuilder()
             .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject_cn)]))
             .issuer_name(issuer_name).public_key(key.public_key())
             .serial_number(x509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(minutes=5))
             .not_valid_after(now + datetime.timedelta(days=1))
             .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if san:
            b = b.add_extension(x509.SubjectAlternativeName(san), critical=False)
        if eku:
            b = b.add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
        if ca:
            b = b.add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        return b.sign(issuer_key, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sealgrid check CA")])
    ca = cert("sealgrid check CA", ca_key, ca_name, ca_key, ca=True)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = cert("127.0.0.1", server_key, ca_name, ca_key,
                  san=[x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")],
                  eku=ExtendedKeyUsageOID.SERVER_AUTH)
    client_key = ec.generate_private_key(ec.SECP256R1())
    client = cert(STATION, client_key, ca_name, ca_key, eku=ExtendedKeyUsageOID.CLIENT_AUTH)
    pem = lambda c: c.public_bytes(serialization.Encoding.PEM)  # noqa: E731
    return {
        "ca": pem_write(os.path.join(d, "ca.pem"), pem(ca)),
        "server_cert": pem_write(os.path.join(d, "server.pem"), pem(server)),
        "server_key": pem_write(os.path.join(d, "server.key"), key_pem(server_key)),
        "client_cert": pem_write(os.path.join(d, "client.pem"), pem(client)),
        "client_key": pem_write(os.path.join(d, "client.key"), key_pem(client_key)),
    }


def verify_record(record_b64, public_key_b64):
    """(ok, payload dict) for one OCMF record; ok is whether the signature verifies."""
    text = base64.b64decode(record_b64).decode()
    assert text.startswith("OCMF|"), text
    payload, _, signature = text[len("OCMF|"):].rpartition("|")
    sig = json.loads(signature)
    assert sig["SA"] == "ECDSA-secp256r1-SHA256", sig
    key = serialization.load_der_public_key(base64.b64decode(public_key_b64))
    try:
        key.verify(bytes.fromhex(sig["SD"]), payload.encode(), ec.ECDSA(hashes.SHA256()))
        ok = True
    except InvalidSignature:
        ok = False
    return ok, json.loads(payload), payload


class Csms(ChargePoint):
    def __init__(self, station, connection, log):
        super().__init__(station, connection)
        self.log = log  # list of (action, payload) as received

    async def _handle_call(self, msg):
        self.log.append((msg.action, msg.payload))
        return await super()._handle_call(msg)

    @on("BootNotification")
    def on_boot(self, charging_station, reason, **_):
        return call_result.BootNotification(
            current_time=datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z"),
            interval=300, status="Accepted")

    @on("StatusNotification")
    def on_status(self, **_):
        return call_result.StatusNotification()

    @on("Heartbeat")
    def on_heartbeat(self, **_):
        return call_result.Heartbeat(
            current_time=datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z"))

    @on("TransactionEvent")
    def on_transaction_event(self, event_type, seq_no, **_):
        if event_type == "Started":
            return call_result.TransactionEvent(id_token_info={"status": "Accepted"})
        return call_result.TransactionEvent(total_cost=0.25 * seq_no)

    @after("TransactionEvent")
    async def after_transaction_event(self, event_type, transaction_info, **_):
        if event_type != "Ended":
            return
        try:  # a station that does not linger may be gone already
            await self.call(call.CostUpdated(total_cost=1.23, transaction_id=transaction_info["transaction_id"]))
            await self.call(call.SetChargingProfile(evse_id=1, charging_profile={
                "id": 7, "stack_level": 0, "charging_profile_purpose": "TxDefaultProfile",
                "charging_profile_kind": "Absolute",
                "charging_schedule": [{"id": 1, "charging_rate_unit": "W",
                                       "charging_schedule_period": [{"start_period": 0, "limit": 7400.0}]}]}))
        except (websockets.exceptions.ConnectionClosed, asyncio.TimeoutError):
            pass


async def run_peer(*args):
    proc = await asyncio.create_subprocess_exec(
        sys.executable, PEER, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    lines = out.decode().splitlines()
    assert len(lines) == 1, f"expected one stdout line, got {lines!r}; stderr:\n{err.decode()}"
    return proc.returncode, json.loads(lines[0]), err.decode()


async def main():
    with tempfile.TemporaryDirectory() as d:
        pki = make_pki(d)
        signing_key = os.path.join(d, "signing.pem")
        proc = await asyncio.create_subprocess_exec(sys.executable, PEER, "--gen-key", signing_key,
                                                    stdout=asyncio.subprocess.PIPE)
        spki_hex = (await proc.communicate())[0].decode().strip()
        assert proc.returncode == 0 and oct(os.stat(signing_key).st_mode & 0o777) == "0o600"
        good_pw = pem_write(os.path.join(d, "pw"), (PASSWORD + "\n").encode())
        bad_pw = pem_write(os.path.join(d, "bad-pw"), b"wrong\n")

        sessions = {}  # station connection index -> received log
        peer_certs = []

        def process_request(connection, request):
            station = request.path.rstrip("/").rsplit("/", 1)[-1]
            expected = "Basic " + base64.b64encode(f"{station}:{PASSWORD}".encode()).decode()
            if not request.path.startswith("/ocpp/") or request.headers.get("Authorization") != expected:
                return connection.respond(HTTPStatus.UNAUTHORIZED, "bad station credentials\n")
            return None

        async def handler(connection):
            station = connection.request.path.rstrip("/").rsplit("/", 1)[-1]
            peer_certs.append(connection.transport.get_extra_info("peercert"))
            log = sessions.setdefault(len(sessions), [])
            try:
                await Csms(station, connection, log).start()
            except websockets.exceptions.ConnectionClosed:
                pass

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(pki["server_cert"], pki["server_key"])
        ctx.load_verify_locations(pki["ca"])
        ctx.verify_mode = ssl.CERT_OPTIONAL  # Security Profile 3 when the station presents one
        async with serve(handler, "127.0.0.1", 0, ssl=ctx, subprotocols=["ocpp2.0.1"],
                         process_request=process_request) as server:
            port = server.sockets[0].getsockname()[1]
            url = f"wss://127.0.0.1:{port}/ocpp/{STATION}"
            common = ["--url", url, "--ca", pki["ca"], "--password-file", good_pw, "--key", signing_key,
                      "--start", str(T0), "--intervals", str(K), "--start-wh", str(W0), "--seed", str(SEED)]

            rc, expect, _ = await run_peer("--expect", "--start", str(T0), "--intervals", str(K),
                                           "--start-wh", str(W0), "--seed", str(SEED))
            assert rc == 0
            registers = [wh for _, wh in expect["boundaries"]]

            # good, with a client certificate and lingering for the CSMS's calls
            rc, summary, err = await run_peer(*common, "--client-cert", pki["client_cert"],
                                              "--client-key", pki["client_key"], "--linger", "2")
            assert rc == 0, (summary, err)
            assert summary["station"] == STATION and summary["boot"] == "Accepted", summary
            assert summary["sent"] == K + 2 and summary["records"] == K + 2, summary
            assert summary["answers"][0] == {"idTokenInfo": {"status": "Accepted"}}, summary
            assert summary["answers"][1:] == [{"totalCost": 0.25 * i} for i in range(1, K + 2)], summary
            assert summary["cost_updates"] == [{"totalCost": 1.23, "transactionId": f"tx-{SEED}"}], summary
            assert len(summary["charging_profiles"]) == 1 and summary["charging_profiles"][0]["evseId"] == 1
            subject = dict(x[0] for x in peer_certs[-1]["subject"])
            assert subject["commonName"] == STATION, peer_certs[-1]
            good = check_session(sessions[0], registers, spki_hex)
            assert good == [True] * (K + 2), good

            # forged: the second record's RV was raised after signing
            rc, summary, err = await run_peer(*common, "--scenario", "forged")
            assert rc == 0 and summary["sent"] == K + 2, (summary, err)
            forged = check_session(sessions[1], registers, spki_hex, forged_index=1)
            assert forged == [True, False] + [True] * K, forged

            # wrong password: HTTP 401, exit 2
            rc, summary, err = await run_peer(*[a if a != good_pw else bad_pw for a in common])
            assert rc == 2 and "401" in summary["error"] and "Traceback" not in err, (rc, summary, err)
            refused_401 = summary["error"]

            # untrusted server certificate: TLS handshake refused by the station, exit 2
            no_ca = [a for i, a in enumerate(common) if a != "--ca" and common[i - 1] != "--ca"]
            rc, summary, err = await run_peer(*no_ca)
            assert rc == 2 and "certificate" in summary["error"] and "Traceback" not in err, (rc, summary, err)
            refused_tls = summary["error"]
            assert len(sessions) == 2, sessions
    print(f"wrong password -> {refused_401}", file=sys.stderr)
    print(f"no --ca -> {refused_tls}", file=sys.stderr)
    print("ok")


def check_session(log, registers, spki_hex, forged_index=None):
    """Checks the received calls; returns whether each record's signature verified."""
    actions = [a for a, _ in log]
    assert actions == ["BootNotification", "StatusNotification"] + ["TransactionEvent"] * (K + 2), actions
    events = [p for a, p in log if a == "TransactionEvent"]
    results, pages = [], []
    for i, ev in enumerate(events):
        assert ev["seqNo"] == i and ev["offline"] is True, ev
        assert ev["eventType"] == ("Started" if i == 0 else "Ended" if i == K + 1 else "Updated"), ev
        (mv,) = ev["meterValue"]
        (sv,) = mv["sampledValue"]
        assert mv["timestamp"] == ev["timestamp"], ev
        smv = sv["signedMeterValue"]
        assert smv["publicKey"] == base64.b64encode(bytes.fromhex(spki_hex)).decode()
        ok, payload, text = verify_record(smv["signedMeterData"], smv["publicKey"])
        results.append(ok)
        wh = registers[min(i, K)] + (1000 if i == forged_index else 0)
        assert sv["value"] == wh, (sv, wh)
        rv = f"{wh // 1000}.{wh % 1000:03d}"
        assert f'"RV":{rv},' in text, (text, rv)
        (rd,) = payload["RD"]
        assert rd["TX"] == ("B" if i == 0 else "E" if i == K + 1 else "C"), rd
        stamp = datetime.datetime.strptime(rd["TM"], "%Y-%m-%dT%H:%M:%S,%f%z S")
        iso = datetime.datetime.fromisoformat(mv["timestamp"].replace("Z", "+00:00"))
        assert stamp == iso, (rd["TM"], mv["timestamp"])
        pages.append(payload["PG"])
    assert pages == [f"T{1 + i}" for i in range(K + 2)], pages
    return results


if __name__ == "__main__":
    asyncio.run(main())
