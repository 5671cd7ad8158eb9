#!/usr/bin/env python3
"""Capture golden SCEP request vectors from the real third-party clients.

Run by hand from the repository root (needs the Debian packages ``scep`` and ``certmonger``,
and ``openssl``)::

    python tests/vectors/capture.py            # writes into tests/vectors/
    python tests/vectors/capture.py --out DIR  # somewhere else

It generates a throwaway NDES-style PKI (self-signed CA, RA signing cert with digitalSignature,
RA encryption cert with keyEncipherment; RSA-2048), serves it from the recording SCEP endpoint
(``tests/support/recorder.py``) in NDES order (RA signing, RA encryption, CA), lets each client
send one PKIOperation (answered with HTTP 500), and writes the DER messages, the keys needed to
open them, ``manifest.json`` (every observed property) and ``README.md``.

Each run makes new keys, nonces and transaction IDs: re-capturing replaces every vector at once.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402

from tests.support.clients import (  # noqa: E402
    Certmonger,
    openssl_cms_decrypt,
    openssl_cms_extract,
    openssl_cms_print,
    package_version,
    run_scepclient,
)
from tests.support.pkimsg import describe_pki_message  # noqa: E402
from tests.support.recorder import RecordedRequest, ScepRecorder  # noqa: E402
from tests.support.testpki import RaSetup, issue_cert, make_ra_setup  # noqa: E402

CHALLENGE = "0123456789ABCDEF"  # NDES-style: 16 uppercase hex characters
SCEPCLIENT_CN = "golden-scepclient"
CERTMONGER_SUBJECT = "CN=golden-certmonger,O=intune-scep-lab"

CAPS_GET = ["SHA-256", "AES", "DES3"]  # no POSTPKIOperation → scepclient uses GET
CAPS_POST = ["POSTPKIOperation", "SHA-256", "AES", "DES3"]
CAPS_RENEW = ["POSTPKIOperation", "Renewal", "SHA-256", "AES", "DES3"]
CAPS_CM_AES = ["POSTPKIOperation", "AES", "SHA-256", "SHA-1"]
# the emulator's default NDES caps (ndes-scep.md §2), in that order
CAPS_CM_NDES = ["POSTPKIOperation", "Renewal", "SHA-512", "SHA-256", "SHA-1", "DES3", "AES"]


def _pem_key(path: Path) -> None:
    """Normalise a client key file to unencrypted PKCS#8 PEM (checks it loads)."""
    key = serialization.load_pem_private_key(path.read_bytes(), None)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def _scrub(args: list[str], work: Path, url: str) -> str:
    port_url = url.replace(url.split("/")[2], "127.0.0.1:$PORT")
    text = " ".join(args).replace(str(work), "$WORK").replace(url, port_url)
    return text.replace("/usr/bin/", "").replace("/usr/sbin/", "")


def _http_facts(req: RecordedRequest) -> dict[str, Any]:
    return {
        "method": req.method,
        "message_encoding": req.message_encoding,
        "content_type": req.header("Content-Type"),
        "request_line_length": req.request_line_length,
        "query_keys": list(req.query),
        "percent_encoded": "%" in req.raw_query,
        "raw_plus_in_query": "+" in req.raw_query,
        "user_agent": req.header("User-Agent"),
        "padding": _padding(req),
    }


def _padding(req: RecordedRequest) -> str | None:
    if req.method != "GET":
        return None
    raw = next((p[8:] for p in req.raw_query.split("&") if p.startswith("message=")), "")
    tail = raw[-6:]
    if tail.endswith("%3D"):
        return "percent-encoded '=' (%3D)"
    if tail.endswith("="):
        return "literal '='"
    return f"none (DER length {len(req.message or b'')} is {len(req.message or b'') % 3} mod 3)"


def _openssl_check(der_path: Path, out: Path) -> dict[str, Any]:
    """Confirm with openssl: print the outer layer, extract + print + decrypt the envelope."""
    printed = openssl_cms_print(der_path)
    envelope = openssl_cms_extract(der_path)
    env_print = openssl_cms_print(envelope)
    inner = openssl_cms_decrypt(envelope, out / "ra-encrypt.key.pem", out / "ra-encrypt.crt.pem")
    csr = x509.load_der_x509_csr(inner)
    env_lines = env_print.splitlines()
    cipher_line = None
    for i, ln in enumerate(env_lines):
        if "contentEncryptionAlgorithm" in ln:
            cipher_line = next((x.strip() for x in env_lines[i + 1 :] if "algorithm:" in x), None)
            break
    return {
        "outer_contentType_line": next(
            (ln.strip() for ln in printed.splitlines() if "contentType:" in ln), None
        ),
        "envelope_recipient_count": env_print.count("d.ktri:"),
        "envelope_cipher_line": cipher_line,
        "decrypted_csr_subject": csr.subject.rfc4514_string(),
        "decrypted_with": "ra-encrypt.key.pem (-provider legacy -provider default)",
    }


def capture(out: Path) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    ra: RaSetup = make_ra_setup()
    ra.write_pem(out)
    (out / "challenge.txt").write_text(CHALLENGE + "\n")
    chain = ra.getcacert_chain
    known = {"ra-sign": ra.ra_sign_cert, "ra-encrypt": ra.ra_enc_cert, "ca": ra.ca_cert}
    manifest: dict[str, Any] = {
        "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "challenge": CHALLENGE,
        "getcacert_order": ["ra-sign", "ra-encrypt", "ca"],
        "getcacert_content_type": "application/x-x509-ca-ra-cert",
        "tools": {
            "scep": package_version("scep"),
            "certmonger": package_version("certmonger"),
            "openssl": package_version("openssl"),
        },
        "vectors": {},
    }

    def record(
        name: str,
        client: str,
        caps: list[str],
        command: list[str],
        rec: ScepRecorder,
        key_src: Path | None,
        seconds: float,
        extra: dict[str, Any] | None = None,
    ) -> None:
        op = rec.pki_operations[0]
        assert op.message is not None
        der_path = out / f"{name}.der"
        der_path.write_bytes(op.message)
        key_name = None
        if key_src is not None and key_src.exists():
            key_name = f"{name}.key.pem"
            shutil.copyfile(key_src, out / key_name)
            _pem_key(out / key_name)
        if op.method == "GET":
            (out / f"{name}.query.txt").write_text(op.raw_query + "\n")
        info = describe_pki_message(
            op.message,
            ra_key_pem=out / "ra-encrypt.key.pem",
            ra_cert_pem=out / "ra-encrypt.crt.pem",
            known_certs=known,
        )
        manifest["vectors"][name] = {
            "file": der_path.name,
            "client": client,
            "client_key": key_name,
            "query_file": f"{name}.query.txt" if op.method == "GET" else None,
            "caps_served": caps,
            "commands": command,
            "http_sequence": [f"{r.method} {r.operation}" for r in rec.requests],
            "http": _http_facts(op),
            "seconds": round(seconds, 2),
            "message": info,
            "openssl": _openssl_check(der_path, out),
            **(extra or {}),
        }
        print(
            f"captured {der_path.name}: {info['message_type']} {info['content_cipher']} "
            f"{op.method}/{op.message_encoding} in {seconds:.2f}s"
        )

    with tempfile.TemporaryDirectory(prefix="scep-capture-") as tmp:
        work = Path(tmp)

        # --- scepclient, GET (no POSTPKIOperation) --------------------------------------------
        def sc_run(
            name: str, caps: list[str], wd: Path, before: Callable[[], None] | None = None
        ) -> None:
            if before is not None:
                before()
            with ScepRecorder(chain, caps, keep_cert_order=True) as rec:
                res = run_scepclient(rec.url, wd, cn=SCEPCLIENT_CN, challenge=CHALLENGE)
                rec.wait_for_pki_operation(timeout=5)
                record(
                    name,
                    f"scepclient (scep {manifest['tools']['scep']})",
                    caps,
                    [_scrub(res.args, work, rec.url)],
                    rec,
                    res.key_path,
                    res.duration,
                    {
                        "client_exit": res.returncode,
                        "renewal": res.renewal,
                        "client_stdout": res.stdout.strip()[:300],
                    },
                )

        sc_run("scepclient-pkcsreq-get", CAPS_GET, work / "sc-get")
        sc_run("scepclient-pkcsreq-post", CAPS_POST, work / "sc-post")

        # --- scepclient RenewalReq: certify the POST key with the test CA, then run again ------
        def issue_for_post_key() -> None:
            wd = work / "sc-post"
            csr = x509.load_pem_x509_csr((wd / "csr.pem").read_bytes())
            cert = issue_cert(
                csr.subject,
                csr.public_key(),
                ra.ca_cert,
                ra.ca_key,  # type: ignore[arg-type]
                days=30,
            )
            pem = cert.public_bytes(serialization.Encoding.PEM)
            (wd / "cert.pem").write_bytes(pem)
            (out / "scepclient-renewal-signer.crt.pem").write_bytes(pem)

        sc_run("scepclient-renewalreq-post", CAPS_RENEW, work / "sc-post", issue_for_post_key)
        manifest["vectors"]["scepclient-renewalreq-post"]["signer_cert"] = (
            "scepclient-renewal-signer.crt.pem"
        )

        # --- certmonger ------------------------------------------------------------------------
        with Certmonger(work / "cm") as cm:
            for name, caps in (
                ("certmonger-pkcsreq", CAPS_CM_AES),
                ("certmonger-pkcsreq-des3", CAPS_CM_NDES),
            ):
                with ScepRecorder(chain, caps, keep_cert_order=True) as rec:
                    first = len(cm.commands)
                    t0 = time.monotonic()
                    cm.add_scep_ca(name, rec.url)
                    key = work / "cm" / f"{name}.key.pem"
                    req = cm.request(
                        name,
                        key,
                        work / "cm" / f"{name}.crt.pem",
                        CERTMONGER_SUBJECT,
                        CHALLENGE,
                        wait=True,
                        timeout=60,
                    )
                    rec.wait_for_pki_operation(timeout=30)
                    secs = time.monotonic() - t0
                    cmds = [
                        _scrub(c, work, rec.url)
                        for c in cm.commands[first:]
                        if len(c) > 1 and c[1] in ("add-scep-ca", "request")
                    ]
                    daemon = _scrub(cm.commands[0], work, rec.url)
                    record(
                        name,
                        f"certmonger {manifest['tools']['certmonger']}",
                        caps,
                        [daemon, *cmds],
                        rec,
                        key,
                        secs,
                        {
                            "getcert_exit": req.returncode,
                            "getcert_status": req.status,
                            "getcert_ca_error": req.ca_error,
                        },
                    )
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    (out / "README.md").write_text(render_readme(manifest))
    return manifest


# ---------------------------------------------------------------------------------------------
# README
# ---------------------------------------------------------------------------------------------

README_HEAD = """\
# Golden SCEP request vectors (captured from real clients)

Generated by `python tests/vectors/capture.py` on {generated} (do not edit by hand: re-run the
script; it rewrites every file here, with new keys, nonces and transaction IDs). Tools:
scep (micromdm `scepclient`) **{scep}**, certmonger **{certmonger}**, openssl **{openssl}**.

How they were made: a throwaway PKI (self-signed `CN=Test SCEP CA`, RA signing cert with
keyUsage digitalSignature only, RA encryption cert with keyEncipherment only, both issued by the
CA, RSA-2048) is served by `tests/support/recorder.py` on 127.0.0.1: `GetCACaps` with the caps
listed per vector (LF separated), `GetCACert` as `application/x-x509-ca-ra-cert`, a degenerate
PKCS#7 with the certificates in NDES order **RA signing, RA encryption, CA** (hand-encoded: note
that `pkcs7.serialize_certificates` DER-sorts the SET and would put the CA first). Every
PKIOperation is recorded and answered with HTTP 500, so the client stops after sending one.

These are test keys: committing them is intended. Files:

| file | what |
|---|---|
| `ca.crt.pem`, `ca.key.pem` | test CA (also issued the renewal signer) |
| `ra-sign.crt.pem`, `ra-sign.key.pem` | RA signing cert (digitalSignature) |
| `ra-encrypt.crt.pem`, `ra-encrypt.key.pem` | RA encryption cert (keyEncipherment) |
| `challenge.txt` | challenge password used by every vector (`{challenge}`) |
| `*.der` | the pkiMessage exactly as received (POST body, or the decoded GET `message=`) |
| `*.key.pem` | the client's own private key (PKCS#8, unencrypted), to check CertRep encryption |
| `*.query.txt` | raw query string of GET vectors, exactly as sent (percent-encoding included) |
| `scepclient-renewal-signer.crt.pem` | CA-issued cert for the POST key; signed the RenewalReq |
| `manifest.json` | every property below, machine-readable |

Check any vector by hand:

```sh
cd tests/vectors
openssl cms -cmsout -print -inform DER -in X.der                       # outer SignedData
openssl cms -verify -noverify -inform DER -binary -in X.der -out env.der
openssl cms -cmsout -print -inform DER -in env.der                      # EnvelopedData
openssl cms -decrypt -inform DER -binary -in env.der -inkey ra-encrypt.key.pem \\
    -recip ra-encrypt.crt.pem -provider legacy -provider default | openssl req -inform DER -text
```
"""

README_TAIL = """
## Differences from `shared/reference/clients.md`

- **scepclient transactionID is not base64(SHA-1(public key))**: it is base64 of the first
  20 bytes of **SHA-256** of the PKCS#1 `RSAPublicKey` DER (checked for every scepclient vector,
  see `transaction_id_derivation` in `manifest.json`). Still 28 base64 characters (20 bytes), and
  the same for the PKCSReq and the RenewalReq made with the same key.
- **scepclient's encryptedContent is BER constructed** (`[0]` constructed wrapping one OCTET
  STRING), not primitive: a parser that insists on a primitive `[0] IMPLICIT OCTET STRING`
  (asn1crypto's `EncryptedContentInfo` raises on access) must handle it. certmonger's is
  primitive.
- **scepclient's RecipientInfos are DER-sorted** (SET OF), not in GetCACert order: with the
  random serials of the test certs the RA encryption RecipientInfo can be first, middle or last.
  Its keyEncryptionAlgorithm `rsaEncryption` has **no NULL parameter**; certmonger's has NULL.
- **certmonger's content cipher follows the caps order**, not a preference for AES: it uses the
  first of `DES3`/`AES` listed in GetCACaps. With the emulator's default NDES list
  (`..., DES3, AES`) it sends **3DES (1.2.840.113549.3.7)**; with `AES` first, or no cipher
  keyword at all (even empty caps), AES-256-CBC. Its digest stayed SHA-256 whatever the caps
  (also with only `SHA-1`, or `SHA-512` listed first). (Seen in scratch runs beyond these two
  vectors: caps `AES, DES3, SHA-256` → AES-256; `DES3, AES, SHA-256` → 3DES; `DES3, SHA-1` → 3DES
  + SHA-256; `SHA-1` alone or empty → AES-256 + SHA-256.)
- **certmonger also sends signingTime** (clients.md mentions it only for scepclient); its
  transactionID is the decimal serial number of its own self-signed signer certificate, and its
  CSR carries friendlyName (1.2.840.113549.1.9.20) plus an extensionRequest with
  basicConstraints and subjectKeyIdentifier.
- **scepclient's RenewalReq still carries the challengePassword** (it reuses the cached
  `csr.pem`; RFC 8894 says SHOULD omit) and is signed with the CA-issued certificate (SHA-1).
- certmonger's first requests vary in order between runs (GetCACaps and GetCACert are fetched
  concurrently, GetCACaps twice).

Confirmed as in clients.md: scepclient sends GetCACert, GetCACaps, then PKIOperation; single DES
whatever the caps; SHA-1 + sha1WithRSAEncryption; signer `CN=SCEP SIGNER,O=scep-client` for
PKCSReq; one RecipientInfo per GetCACert certificate; POST with `Content-Type:
application/octet-stream` when `POSTPKIOperation` is advertised, else GET with URL-safe base64
`message=` (before `operation=`). certmonger always uses GET with standard base64,
percent-encoded (`%2B`, `%2F`, `%3D`), also when `POSTPKIOperation` is advertised; SHA-256,
`rsaEncryption` as signatureAlgorithm, a version-1 self-signed signer with the requested
subject, one RecipientInfo for the keyEncipherment RA cert (picked although it is not first),
request line about 3.6-3.9 KB.

## Timings (this capture)

Seconds from starting the client to the recorded PKIOperation (certmonger: from
`add-scep-ca` to `getcert request -w` returning; the daemon itself starts in about 0.3 s):

{timings}
"""


def _fmt_vector(name: str, v: dict[str, Any]) -> str:
    m, h, o = v["message"], v["http"], v["openssl"]
    recips = ", ".join(
        f"{r['names'] or 'unknown'} (params {r['kea_parameters']})" for r in m["recipient_infos"]
    )
    signer_certs = "; ".join(
        f"{c['subject']} (X.509 {c['version']}, "
        f"{'self-signed' if c['self_signed'] else 'CA-issued'})"
        for c in m["certificates"]
    )
    lines = [
        f"### `{v['file']}`",
        "",
        f"- made by: {v['client']}; client key: `{v['client_key']}`"
        + (f"; raw query: `{v['query_file']}`" if v["query_file"] else ""),
        "- commands:",
        *[f"  - `{c}`" for c in v["commands"]],
        f"- caps served: `{', '.join(v['caps_served']) or '(empty)'}`",
        f"- HTTP: {' → '.join(v['http_sequence'])}; PKIOperation by **{h['method']}**"
        + (
            f" (`message=` {h['message_encoding']}, percent-encoded: {h['percent_encoded']}, "
            f"raw '+': {h['raw_plus_in_query']}, padding: {h['padding']}, "
            f"query keys: {h['query_keys']})"
            if h["method"] == "GET"
            else f" (Content-Type: {h['content_type']!s})"
        )
        + f", request line {h['request_line_length']} bytes",
        f"- messageType **{m['message_type']}**; SignedData {m['signed_data_version']}, "
        f"digest `{', '.join(m['digest_algorithms'])}`, "
        f"signatureAlgorithm `{m['signature_algorithm']}`",
        f"- signer: {m['signer_subject']} — certificates: {signer_certs}",
        f"- transactionID `{m['transaction_id']}` ({m['transaction_id_format']}"
        + (f"; = {m['transaction_id_derivation']}" if m.get("transaction_id_derivation") else "")
        + ("; = signer serial" if m.get("transaction_id_equals_signer_serial") else "")
        + ")",
        f"- signed attributes (order): {', '.join(m['signed_attr_order'])}; signingTime present: "
        f"{m['signing_time_present']}; senderNonce {m['sender_nonce_len']} bytes; signature valid: "
        f"{m['signature_valid']}; messageDigest matches: {m['message_digest_matches']}",
        f"- envelope: EnvelopedData {m['enveloped_data_version']}, content cipher "
        f"**`{m['content_cipher']}`** (IV {m['content_cipher_iv_len']} bytes), encryptedContent "
        f"{m['encrypted_content_encoding']}; {len(m['recipient_infos'])} RecipientInfo(s), "
        f"in this order: {recips}",
        f"- inner CSR: `{m['csr_subject']}`, RSA-{m['csr_key_size']}, challengePassword "
        f"`{m['csr_challenge']}`, attributes {m['csr_attributes']}, extensions "
        f"{m['csr_extensions']}",
        f"- openssl check: `{o['outer_contentType_line']}`; envelope has "
        f"{o['envelope_recipient_count']} ktri; cipher `{o['envelope_cipher_line']}`; "
        f"decrypted with {o['decrypted_with']} → CSR `{o['decrypted_csr_subject']}`",
    ]
    if "getcert_status" in v:
        lines.append(
            f"- getcert exit {v['getcert_exit']}, status `{v['getcert_status']}`, ca-error "
            f"`{v['getcert_ca_error']}` (expected: the recorder answers 500)"
        )
    if "client_exit" in v:
        lines.append(f"- scepclient exit {v['client_exit']}: `{v['client_stdout']}`")
    return "\n".join(lines) + "\n"


def render_readme(manifest: dict[str, Any]) -> str:
    tools = manifest["tools"]
    head = README_HEAD.format(
        generated=manifest["generated"], challenge=manifest["challenge"], **tools
    )
    body = "\n## Vectors\n\n" + "\n".join(_fmt_vector(n, v) for n, v in manifest["vectors"].items())
    timings = "\n".join(f"- `{n}`: {v['seconds']} s" for n, v in manifest["vectors"].items())
    return head + body + README_TAIL.format(timings=timings)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = ap.parse_args()
    capture(args.out)
    print(f"wrote {args.out}/manifest.json and README.md")


if __name__ == "__main__":
    main()
