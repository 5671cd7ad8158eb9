"""`scep-lab bench`: benchmarks measured on this machine, each beside a peer from the same run.

`bench codec` times the server's half of one SCEP round — parse, verify and decrypt a PKCSReq;
build a signed, encrypted CertRep SUCCESS — against the crypto floor of that round: the two RSA
private-key operations it cannot avoid (unwrapping the content key with the RA encryption key,
signing the CertRep with the RA signing key), timed alone. Batches alternate between the two so
that noise from a shared machine falls on both; medians are reported. `bench ndes`
(bench_enrol.py) and `bench intune` (bench_intune.py) time whole enrolments against micromdm's
scepserver driven the same way in the same run.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Annotated

import typer
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from rich.console import Console
from rich.table import Table

from shared import scep
from shared.pki import (
    CertProfile,
    CsrSpec,
    KeySpec,
    build_csr,
    build_self_signed_signer,
    generate_key,
    issue_certificate,
    new_serial,
)

bench_app = typer.Typer(help="Benchmarks, each measured beside a peer in the same run.")

CIPHERS = {
    "aes128": scep.ContentCipher.AES_128_CBC,
    "aes256": scep.ContentCipher.AES_256_CBC,
    "des3": scep.ContentCipher.DES_EDE3_CBC,
    "des": scep.ContentCipher.DES_CBC,
}


@dataclass(frozen=True)
class CodecFigures:
    round_ops: float
    floor_ops: float
    open_ops: float
    reply_ops: float
    ratio: float
    batches: int
    rounds_per_batch: int
    key_size: int
    cipher: str
    machine: str


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _rsa(size: int) -> rsa.RSAPrivateKey:
    key = generate_key(KeySpec("rsa", size))
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def _per_second(fn: Callable[[], object], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return n / (time.perf_counter() - start)


def measure_codec(
    *, batches: int, rounds: int, key_size: int, cipher: scep.ContentCipher
) -> CodecFigures:
    now = dt.datetime.now(dt.UTC)
    ca_key, ra_sign_key, ra_enc_key, device_key = (_rsa(key_size) for _ in range(4))
    ca_profile = CertProfile(validity=dt.timedelta(days=30), is_ca=True)
    leaf = CertProfile(validity=dt.timedelta(days=30))
    ca = issue_certificate(
        subject=_name("Bench CA"),
        public_key=ca_key.public_key(),
        issuer_cert=None,
        issuer_key=ca_key,
        serial=new_serial(),
        not_before=now,
        profile=ca_profile,
    )

    def issue(cn: str, key: rsa.RSAPrivateKey) -> x509.Certificate:
        return issue_certificate(
            subject=_name(cn),
            public_key=key.public_key(),
            issuer_cert=ca,
            issuer_key=ca_key,
            serial=new_serial(),
            not_before=now,
            profile=leaf,
        )

    ra_sign, ra_enc = issue("RA sign", ra_sign_key), issue("RA encrypt", ra_enc_key)
    issued = issue("device", device_key)
    signer = build_self_signed_signer(device_key, _name("device"), now)
    csr = build_csr(device_key, CsrSpec(subject=_name("device"), challenge_password="0" * 16))
    request = scep.build_request(
        scep.MessageType.PKCS_REQ,
        csr.public_bytes(serialization.Encoding.DER),
        signer=signer,
        key=device_key,
        recipients=[ra_sign, ra_enc, ca],
        transaction_id="bench",
        cipher=scep.ContentCipher.AES_128_CBC if cipher is scep.ContentCipher.DES_CBC else cipher,
    )
    opened = scep.open_request(request, certificate=ra_enc, key=ra_enc_key)
    reply_cipher = scep.reply_cipher(opened.cipher)
    wrapped_key = ra_enc.public_key().encrypt(os.urandom(16), padding.PKCS1v15())  # type: ignore[union-attr]
    attrs = os.urandom(220)  # about the size of a CertRep's signed attributes

    def server_round() -> None:
        req = scep.open_request(request, certificate=ra_enc, key=ra_enc_key)
        scep.build_success(
            req.message.reply_context,
            certificates=[issued, ca],
            ra_cert=ra_sign,
            ra_key=ra_sign_key,
            cipher=reply_cipher,
        )

    def crypto_floor() -> None:
        ra_enc_key.decrypt(wrapped_key, padding.PKCS1v15())
        ra_sign_key.sign(attrs, padding.PKCS1v15(), hashes.SHA256())

    def open_only() -> None:
        scep.open_request(request, certificate=ra_enc, key=ra_enc_key)

    def reply_only() -> None:
        scep.build_success(
            opened.message.reply_context,
            certificates=[issued, ca],
            ra_cert=ra_sign,
            ra_key=ra_sign_key,
            cipher=reply_cipher,
        )

    samples: dict[str, list[float]] = {"round": [], "floor": [], "open": [], "reply": []}
    server_round()  # warm up
    crypto_floor()
    for _ in range(batches):
        samples["round"].append(_per_second(server_round, rounds))
        samples["floor"].append(_per_second(crypto_floor, rounds))
        samples["open"].append(_per_second(open_only, rounds))
        samples["reply"].append(_per_second(reply_only, rounds))
    med = {k: statistics.median(v) for k, v in samples.items()}
    return CodecFigures(
        round_ops=med["round"],
        floor_ops=med["floor"],
        open_ops=med["open"],
        reply_ops=med["reply"],
        ratio=med["round"] / med["floor"],
        batches=batches,
        rounds_per_batch=rounds,
        key_size=key_size,
        cipher=opened.cipher.value,
        machine=f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
    )


@bench_app.command("codec")
def codec(
    batches: Annotated[int, typer.Option(min=1, help="Alternating batches; medians reported.")] = 7,
    rounds: Annotated[int, typer.Option(min=1, help="Rounds per batch.")] = 100,
    key_size: Annotated[int, typer.Option(help="RSA key size of RA, CA and device.")] = 2048,
    cipher: Annotated[str, typer.Option(help="Request cipher: aes128, aes256, des3.")] = "aes128",
    as_json: Annotated[bool, typer.Option("--json", help="Print figures as JSON.")] = False,
) -> None:
    """Server side of a SCEP round (open PKCSReq + build CertRep) against the RSA floor."""
    if cipher not in CIPHERS or cipher == "des":
        raise typer.BadParameter(f"cipher must be one of aes128, aes256, des3, not {cipher!r}")
    figures = measure_codec(
        batches=batches, rounds=rounds, key_size=key_size, cipher=CIPHERS[cipher]
    )
    if as_json:
        typer.echo(json.dumps(asdict(figures), indent=2))
        return
    table = Table(title=f"SCEP codec, RSA-{key_size}, {figures.cipher} ({figures.machine})")
    table.add_column("measure")
    table.add_column("ops/s (median)", justify="right")
    table.add_row("open PKCSReq (verify + decrypt + decode)", f"{figures.open_ops:,.0f}")
    table.add_row("build CertRep SUCCESS (sign + encrypt)", f"{figures.reply_ops:,.0f}")
    table.add_row("server round (both)", f"{figures.round_ops:,.0f}")
    table.add_row("crypto floor (RSA decrypt + RSA sign)", f"{figures.floor_ops:,.0f}")
    table.add_row("ratio round / floor", f"{figures.ratio:.2f}")
    Console().print(table)


@bench_app.command("ndes")
def ndes(
    enrolments: Annotated[int, typer.Option(min=1, help="Enrolments per round.")] = 100,
    parallel: Annotated[
        int,
        typer.Option(
            min=1, max=5, help="Concurrent clients (NDES caches at most 5 unused passwords)."
        ),
    ] = 4,
    rounds: Annotated[int, typer.Option(min=1, help="Alternating rounds; medians reported.")] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="Print figures as JSON.")] = False,
) -> None:
    """Enrolments/s: this NDES (one-time passwords) against micromdm's scepserver."""
    from .bench_enrol import machine, measure

    results = measure(enrolments=enrolments, parallel=parallel, rounds=rounds)
    med = {
        name: {
            field: statistics.median(getattr(r, field) for r in runs)
            for field in ("rate", "p50_ms", "p99_ms")
        }
        for name, runs in results.items()
    }
    ratio = med["ndes-otp"]["rate"] / med["scepserver"]["rate"]
    failed = {name: sum(r.failed for r in runs) for name, runs in results.items()}
    first = {
        name: next((r.first_failure for r in runs if r.first_failure), None)
        for name, runs in results.items()
    }
    if as_json:
        figures = {
            "median": med,
            "ratio": ratio,
            "failed": failed,
            "first_failure": first,
            "enrolments": enrolments,
            "parallel": parallel,
            "rounds": rounds,
            "machine": machine(),
        }
        typer.echo(json.dumps(figures, indent=2))
    else:
        table = Table(
            title=f"Enrolments, {enrolments} x {rounds} rounds, {parallel} parallel ({machine()})"
        )
        for column in ("server", "enrolments/s", "p50 ms", "p99 ms", "failed"):
            table.add_column(column, justify="right" if column != "server" else "left")
        for name, row in med.items():
            table.add_row(
                name,
                f"{row['rate']:.1f}",
                f"{row['p50_ms']:.0f}",
                f"{row['p99_ms']:.0f}",
                str(failed[name]),
            )
        table.add_row("ratio ndes/scepserver", f"{ratio:.2f}", "", "", "")
        console = Console()
        console.print(table)
        for name, reason in first.items():
            if reason:
                console.print(f"{name}: first failure: {reason}")
    if any(failed.values()):
        raise typer.Exit(1)


@bench_app.command("intune")
def intune(
    devices: Annotated[
        int, typer.Option(min=1, max=2000, help="Enrolments per round, on each side.")
    ] = 100,
    parallel: Annotated[
        int, typer.Option(min=1, max=128, help="Devices enrolling at once, on each side.")
    ] = 8,
    rounds: Annotated[
        int, typer.Option(min=1, help="Rounds alternating lab and scepserver; medians reported.")
    ] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="Print figures as JSON.")] = False,
) -> None:
    """Full Intune-flow enrolments/s, p50, p99 and peak memory of the lab, against micromdm's
    scepserver (static challenge) under the same driver; exits 1 if any enrolment failed."""
    from .bench_intune import measure, show

    show(measure(devices=devices, parallel=parallel, rounds=rounds), as_json=as_json)
