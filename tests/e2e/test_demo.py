"""`scep-lab demo`, the README's first command: every party in one process on a fresh folder; a
device enrols through Intune, an impersonation is refused; the trace shows both across every
party, and holds no secret."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from lab.home import load_state
from shared.trace import read_events, timeline, transactions
from tests.support.labproc import scep_lab

pytestmark = pytest.mark.e2e
LONG_BASE64 = re.compile(r"[A-Za-z0-9+/]{120,}={0,2}")


def test_demo_enrols_refuses_and_traces_every_party(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    ran = scep_lab("demo", "--data", data, timeout=300)
    assert ran.returncode == 0, ran.stdout[-4000:] + ran.stderr[-2000:]
    out = ran.stdout
    assert "PASS device-certificate" in out and "PASS intune-impersonation" in out
    assert "SubjectNameMismatch" in out and "PASS:" in out

    events = read_events(data / "trace")
    good, attack = transactions([e for e in events if e.party == "ndes"])[-2:]
    enrolment = timeline(events, good)
    assert {e.party for e in enrolment} >= {
        "device", "ndes", "policy-module", "connector", "cloud", "ca"
    }  # fmt: skip
    pki = next(e for e in enrolment if e.party == "ndes" and e.operation == "PKIOperation")
    assert pki.summary["csr"]["subject"] == "CN=LAB-LAPTOP-01"
    assert pki.summary["reply"]["status"] == "SUCCESS"
    assert pki.summary["cms"]["enveloped_data"]["cipher"].startswith("aes")
    refused = timeline(events, attack)
    decision = next(e for e in refused if e.party == "cloud" and e.operation == "validateRequest")
    assert decision.outcome == "refused"
    assert decision.reason["intune_code"] == "SubjectNameMismatch"
    assert decision.summary["challenge"]["expected_subject"] == "CN=LAB-LAPTOP-01"
    assert not any(e.party == "ca" and e.operation == "submit" for e in refused)

    # no secret in any party's trace: passwords, tokens, keys, challenges, CSRs, bodies
    state = load_state(data)
    assert state is not None and state.tenant is not None
    secrets = [state.ca_admin_token, state.ndes_admin_password, state.tenant.admin_password]
    for path in (data / "trace").glob("*.jsonl"):
        text = path.read_text()
        assert all(json.loads(line) for line in text.splitlines())
        for secret in secrets:
            assert not secret or secret not in text, f"{path.name} holds a secret"
        assert "PRIVATE KEY" not in text and "challengeId" not in text
        assert "Bearer" not in text and "authorization" not in text.lower()
        assert not LONG_BASE64.search(text), f"{path.name} holds a payload"


def test_demo_refuses_a_folder_that_is_not_fresh(tmp_path: Path) -> None:
    (tmp_path / "something").write_text("x")
    ran = scep_lab("demo", "--data", tmp_path, timeout=60)
    assert ran.returncode == 2
    assert "not empty" in " ".join(ran.stdout.split())  # rich wraps long paths
