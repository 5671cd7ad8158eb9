"""A minimal SCEP server for tests: the codec plus a test CA, nothing more.

It proves that what `shared.scep` builds is what real clients accept. It checks a static
challenge on PKCSReq, issues with the CSR's subject and key, accepts RenewalReq signed by a
certificate it issued, and answers everything else with a signed CertRep FAILURE. The real NDES
(ndes_plugin) is a separate party; this is only a harness.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from shared import scep
from shared.pki import CertProfile, inspect_csr, issue_certificate, new_serial

from .recorder import RecordedRequest
from .testpki import RaSetup

LEAF = CertProfile(
    validity=dt.timedelta(days=30),
    key_usage=frozenset({"digital_signature", "key_encipherment"}),
    ekus=("1.3.6.1.5.5.7.3.2",),
)


@dataclass
class MinimalScepServer:
    """`respond` plugs into ScepRecorder(pki_responder=...)."""

    ra: RaSetup
    challenge: str
    issued: list[x509.Certificate] = field(default_factory=list)
    replies: list[scep.CertRepResult | str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _issue(self, csr_der: bytes) -> x509.Certificate:
        info = inspect_csr(csr_der)
        cert = issue_certificate(
            subject=info.subject,
            public_key=info.public_key,
            issuer_cert=self.ra.ca_cert,
            issuer_key=self.ra.ca_key,
            serial=new_serial(),
            not_before=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1),
            profile=LEAF,
        )
        with self._lock:
            self.issued.append(cert)
        return cert

    def _fail(self, ctx: scep.ReplyContext, fail_info: scep.FailInfo, why: str) -> bytes:
        with self._lock:
            self.replies.append(f"FAILURE {fail_info.name}: {why}")
        return scep.build_failure(
            ctx, fail_info, ra_cert=self.ra.ra_sign_cert, ra_key=self.ra.ra_sign_key, text=why
        )

    def answer(self, body: bytes) -> bytes:
        try:
            request = scep.open_request(
                body, certificate=self.ra.ra_enc_cert, key=self.ra.ra_enc_key
            )
        except scep.ScepError as exc:
            if exc.context is None:
                raise
            return self._fail(exc.context, exc.fail_info, str(exc))
        ctx = request.message.reply_context
        if request.message_type is scep.MessageType.PKCS_REQ:
            if inspect_csr(request.csr_der).challenge_password != self.challenge:
                return self._fail(ctx, scep.FailInfo.BAD_REQUEST, "wrong challenge password")
        elif request.message_type is scep.MessageType.RENEWAL_REQ:
            if request.message.signer not in self.issued:
                return self._fail(ctx, scep.FailInfo.BAD_CERT_ID, "renewal signer not ours")
        else:
            return self._fail(ctx, scep.FailInfo.BAD_REQUEST, "operation not supported here")
        cert = self._issue(request.csr_der)
        with self._lock:
            self.replies.append(f"SUCCESS {cert.serial_number:x}")
        return scep.build_success(
            ctx,
            certificates=[cert, self.ra.ca_cert],
            ra_cert=self.ra.ra_sign_cert,
            ra_key=self.ra.ra_sign_key,
            cipher=scep.reply_cipher(request.cipher),
        )

    def respond(self, req: RecordedRequest) -> tuple[int, str, bytes]:
        if req.message is None:
            return 400, "text/plain", b"no message\n"
        try:
            return 200, scep.PKI_MESSAGE, self.answer(req.message)
        except scep.ScepError as exc:
            return 400, "text/plain", f"{exc}\n".encode()

    def ca_pem(self) -> bytes:
        return self.ra.ca_cert.public_bytes(serialization.Encoding.PEM)
