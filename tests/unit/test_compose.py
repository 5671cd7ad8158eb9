"""docker-compose.yml, .env.example and the Dockerfile agree with the code they run: each party
service runs `python -m <package>` of a package with a `__main__`, its environment variables are
fields of that party's settings class and build valid settings, its ports and health checks are
the party's, the lab's hosts are the compose services; the one-shot services run `scep-lab`
commands that exist. No docker needed (scripts/compose-e2e runs it all for real)."""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import typer
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from pydantic_settings import BaseSettings
from typer.testing import CliRunner

from ca_sim.settings import CaSettings
from cloud_sim.settings import CloudSettings
from connector.settings import ConnectorSettings
from lab.cli import app
from lab.compose_init import COMPOSE_HOSTS, write_connector_env
from lab.home import LabState, Ports, load_state, save_state
from ndes_plugin.settings import NdesSettings
from shared.pki import LabCert

ROOT = Path(__file__).resolve().parents[2]
IMAGE = "intune-scep-lab:latest"
DATA = Path("/data/intune-scep-lab")
"""The lab's data folder in the image (XDG_DATA_HOME=/data): the `lab` volume."""
SETTINGS: dict[str, type[BaseSettings]] = {
    "CLOUD_": CloudSettings,
    "CA_": CaSettings,
    "NDES_": NdesSettings,
    "CONNECTOR_": ConnectorSettings,
}
PARTIES = {
    "cloud_sim": "CLOUD_",
    "ca_sim": "CA_",
    "ndes_plugin": "NDES_",
    "connector": "CONNECTOR_",
}
"""package → the prefix of its settings."""
SERVICE_PORTS = {
    "cloud": ("cloud",),
    "ca": ("ca",),
    "ndes": ("ndes", "ndes_https"),
    "ndes-general": ("ndes_general",),
    "connector": ("connector",),
}
"""party service → the lab's ports (`Ports`) it serves."""
ONE_SHOTS = {"init": ["compose", "init"], "connector-signin": ["compose", "sign-in"]}
ENTRY_POINT_VARIABLES = {"SCEP_LAB_ENV_FILE"}
"""Read by the image's entry point (scripts/compose/entrypoint.sh), not by a party."""
DUMMY = "x1y2z3"
_VARIABLE = re.compile(r"\$\{(\w+)(?::?[-?]([^}]*))?\}")


def _load() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return document


COMPOSE = _load()
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
PARTY_SERVICES = sorted(SERVICE_PORTS)


def interpolate(value: str) -> str:
    """`${VAR}`, `${VAR:-default}`, `${VAR:?message}` as docker-compose fills them in from a .env
    that sets every required variable."""

    def fill(match: re.Match[str]) -> str:
        whole = match.group(0)
        if ":-" in whole:
            return match.group(2) or ""
        return DUMMY

    return _VARIABLE.sub(fill, value)


def environment(service: str) -> dict[str, str]:
    env = SERVICES[service].get("environment") or {}
    assert isinstance(env, dict), f"{service}: environment as a mapping"
    return {name: interpolate(str(value)) for name, value in env.items()}


def settings_class(variable: str) -> type[BaseSettings]:
    for prefix, cls in SETTINGS.items():
        if variable.startswith(prefix):
            return cls
    raise AssertionError(f"{variable}: no party's settings have this prefix")


def field_of(variable: str) -> str:
    cls = settings_class(variable)
    prefix = str(cls.model_config.get("env_prefix"))
    return variable.removeprefix(prefix).lower()


def build_settings(env: dict[str, str], prefix: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    for name in [n for n in os.environ if n.startswith(prefix)]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        if name.startswith(prefix):
            monkeypatch.setenv(name, value)
    return SETTINGS[prefix]()


def party_of(service: str) -> str:
    command = SERVICES[service]["command"]
    assert command[:2] == ["python", "-m"] and len(command) == 3, f"{service}: {command}"
    return str(command[2])


# -- commands ---------------------------------------------------------------------------------


@pytest.mark.parametrize("service", PARTY_SERVICES)
def test_a_party_service_runs_python_m_of_a_party(service: str) -> None:
    package = party_of(service)
    assert package in PARTIES
    assert importlib.util.find_spec(f"{package}.__main__") is not None
    assert SERVICES[service]["image"] == IMAGE


@pytest.mark.parametrize(
    ("service", "words"),
    [*ONE_SHOTS.items(), ("scenarios", ["scenario", "run"]), ("console", ["console"])],
)
def test_a_lab_service_runs_a_scep_lab_command_that_exists(service: str, words: list[str]) -> None:
    command = SERVICES[service]["command"]
    assert command[0] == "scep-lab"
    assert command[1 : 1 + len(words)] == words
    found = typer.main.get_command(app)
    for word in words:
        commands = getattr(found, "commands", {})  # a group's subcommands
        assert word in commands, f"scep-lab has no command {' '.join(words)}"
        found = commands[word]
    restart = "unless-stopped" if service == "console" else "no"  # the console is a server
    assert SERVICES[service]["restart"] == restart


def test_the_console_serves_the_labs_port_for_the_host_to_open() -> None:
    console = SERVICES["console"]
    assert console["command"] == ["scep-lab", "console", "--host", "0.0.0.0"]
    [mapping] = console["ports"]
    address, outside, inside = interpolate(mapping).rsplit(":", 2)
    assert address == "127.0.0.1" and int(outside) == int(inside) == Ports().console
    assert f"'http://localhost:{Ports().console}/health'" in console["healthcheck"]["test"][3]
    assert "lab:/data/intune-scep-lab" in console["volumes"]  # the trace and lab.json


def test_the_scenarios_service_runs_every_scenario_on_demand() -> None:
    scenarios = SERVICES["scenarios"]
    assert scenarios["command"] == ["scep-lab", "scenario", "run", "--all"]
    assert scenarios["profiles"] == ["scenarios"]  # not started by `up`: `run --rm scenarios`


# -- environment --------------------------------------------------------------------------------


@pytest.mark.parametrize("service", [s for s in SERVICES if SERVICES[s].get("image") == IMAGE])
def test_every_variable_is_a_field_of_its_partys_settings(service: str) -> None:
    for variable in environment(service):
        if variable in ENTRY_POINT_VARIABLES:
            continue
        cls = settings_class(variable)
        assert field_of(variable) in cls.model_fields, f"{service}: {variable} is no {cls.__name__}"


@pytest.mark.parametrize("service", PARTY_SERVICES)
def test_a_party_service_sets_only_its_own_settings(service: str) -> None:
    prefix = PARTIES[party_of(service)]
    others = [v for v in environment(service) if not v.startswith(prefix)]
    assert set(others) <= ENTRY_POINT_VARIABLES, f"{service}: {others}"


@pytest.mark.parametrize("service", PARTY_SERVICES)
def test_a_party_services_environment_makes_valid_settings(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = PARTIES[party_of(service)]
    settings = build_settings(environment(service), prefix, monkeypatch)
    assert settings.host == "0.0.0.0"  # reachable from the other containers


def test_the_init_and_sign_in_services_read_the_parties_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    init, cloud = environment("init"), environment("cloud")
    assert init["CLOUD_DATABASE_URL"] == cloud["CLOUD_DATABASE_URL"]  # it seeds that database
    assert init["CA_ADMIN_TOKEN"] == environment("ca")["CA_ADMIN_TOKEN"]
    for name in ("NDES_ADMIN_USER", "NDES_ADMIN_PASSWORD"):
        assert init[name] == environment("ndes")[name] == environment("ndes-general")[name]
    for prefix in ("CLOUD_", "CA_", "NDES_"):
        build_settings(init, prefix, monkeypatch)
    signin = environment("connector-signin")
    assert signin == {k: v for k, v in environment("connector").items() if k in signin}
    assert build_settings(signin, "CONNECTOR_", monkeypatch).data_dir == Path("/data/connector")


class _Cert:
    def fingerprint(self, algorithm: object) -> bytes:
        return bytes(range(20))


class _Pki:
    def cert(self, label: LabCert) -> _Cert:
        return _Cert()


def test_what_init_derives_for_the_connector_is_its_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_connector_env(tmp_path, _Pki())  # type: ignore[arg-type]
    written = dict(
        line.split("=", 1) for line in path.read_text().splitlines() if not line.startswith("#")
    )
    assert list(written) == ["CONNECTOR_POLICY_MODULE_THUMBPRINTS"]
    # the entry point sources the file (sh): one quoted word, which the settings read as JSON
    value = written["CONNECTOR_POLICY_MODULE_THUMBPRINTS"]
    assert value.startswith("'") and value.endswith("'")
    env = environment("connector") | {"CONNECTOR_POLICY_MODULE_THUMBPRINTS": value.strip("'")}
    settings = build_settings(env, "CONNECTOR_", monkeypatch)
    assert settings.allowed_thumbprints == {bytes(range(20)).hex().upper()}
    assert environment("connector")["SCEP_LAB_ENV_FILE"] == str(DATA / "compose" / "connector.env")


def test_the_shared_secrets_are_the_same_everywhere() -> None:
    token = environment("ca")["CA_ADMIN_TOKEN"]
    assert environment("ndes")["NDES_CA_ADMIN_TOKEN"] == token
    assert environment("ndes-general")["NDES_CA_ADMIN_TOKEN"] == token
    assert environment("connector")["CONNECTOR_CA_ADMIN_TOKEN"] == token
    raw = {s: SERVICES[s]["environment"] for s in ("cloud", "ca")}
    assert "LAB_CLOUD_DB_PASSWORD" in raw["cloud"]["CLOUD_DATABASE_URL"]
    assert "LAB_CLOUD_DB_PASSWORD" in SERVICES["cloud-db"]["environment"]["POSTGRES_PASSWORD"]
    assert "LAB_CA_DB_PASSWORD" in raw["ca"]["CA_DATABASE_URL"]
    assert "LAB_CA_DB_PASSWORD" in SERVICES["ca-db"]["environment"]["POSTGRES_PASSWORD"]


@pytest.mark.parametrize(("service", "prefix"), [("cloud", "CLOUD_"), ("ca", "CA_")])
def test_the_cloud_and_the_ca_use_their_postgresql(service: str, prefix: str) -> None:
    db = SERVICES[f"{service}-db"]
    assert db["image"].startswith("postgres:")
    url = urlsplit(environment(service)[f"{prefix}DATABASE_URL"])
    assert url.scheme == "postgresql+asyncpg"
    assert url.hostname == f"{service}-db"
    assert url.username == db["environment"]["POSTGRES_USER"]
    assert url.path == "/" + db["environment"]["POSTGRES_DB"]
    assert SERVICES[service]["depends_on"][f"{service}-db"] == {"condition": "service_healthy"}


# -- hosts, ports, health ---------------------------------------------------------------------


def compose_state() -> LabState:
    return LabState(hosts=dict(COMPOSE_HOSTS))


def test_the_labs_hosts_are_compose_services_or_their_aliases() -> None:
    names = set(SERVICES)
    for service in SERVICES.values():
        for network in (service.get("networks") or {}).values():
            names.update((network or {}).get("aliases", []))
    assert set(COMPOSE_HOSTS.values()) <= names
    assert set(COMPOSE_HOSTS) == set(vars(Ports()))


def test_the_connector_is_on_the_ndes_host() -> None:
    assert SERVICES["connector"]["network_mode"] == "service:ndes"
    assert COMPOSE_HOSTS["connector"] == COMPOSE_HOSTS["ndes_https"]
    assert COMPOSE_HOSTS["connector"] in SERVICES["ndes"]["networks"]["default"]["aliases"]
    ndes = environment("ndes")
    assert urlsplit(ndes["NDES_INTUNE_CONNECTOR_URL"]).hostname == "127.0.0.1"
    assert urlsplit(ndes["NDES_INTUNE_CONNECTOR_URL"]).port == Ports().connector


def test_urls_between_parties_are_the_labs() -> None:
    state = compose_state()
    assert environment("cloud")["CLOUD_PUBLIC_BASE_URL"] == state.url("cloud")
    assert environment("ca")["CA_PUBLIC_BASE_URL"] == state.url("ca")
    assert environment("connector")["CONNECTOR_CLOUD_URL"] == state.url("cloud")
    assert environment("connector")["CONNECTOR_CA_URL"] == state.url("ca")
    assert environment("ndes")["NDES_CA_URL"] == state.url("ca")
    assert environment("ndes-general")["NDES_CA_URL"] == state.url("ca")


@pytest.mark.parametrize(
    ("prefix", "port"),
    [("CLOUD_", "cloud"), ("CA_", "ca"), ("NDES_", "ndes"), ("CONNECTOR_", "connector")],
)
def test_the_labs_ports_are_the_parties_default_ports(prefix: str, port: str) -> None:
    assert SETTINGS[prefix].model_fields["port"].default == getattr(Ports(), port)


def served_ports(service: str) -> set[int]:
    env = environment(service)
    prefix = PARTIES[party_of(service)]
    return {int(env[name]) for name in (f"{prefix}PORT", f"{prefix}HTTPS_PORT") if name in env}


@pytest.mark.parametrize("service", PARTY_SERVICES)
def test_a_service_serves_and_publishes_the_labs_ports(service: str) -> None:
    expected = {getattr(Ports(), name) for name in SERVICE_PORTS[service]}
    assert served_ports(service) == expected
    host = "ndes" if SERVICES[service].get("network_mode") == "service:ndes" else service
    published = set()
    for mapping in SERVICES[host].get("ports", []):
        _, outside, inside = interpolate(mapping).rsplit(":", 2)
        assert outside == inside
        published.add(int(inside))
    assert expected <= published


def health_urls(service: str) -> list[str]:
    test = SERVICES[service]["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"], f"{service}: {test}"
    return re.findall(r"'(https?://[^']+)'", test[3])


@pytest.mark.parametrize("service", PARTY_SERVICES)
def test_a_health_check_asks_each_port_of_its_party_for_health(service: str) -> None:
    urls = [urlsplit(url) for url in health_urls(service)]
    assert {url.port for url in urls} == served_ports(service)
    assert all(url.path == "/health" for url in urls)
    check = SERVICES[service]["healthcheck"]["test"][3]
    for cafile in re.findall(r"cafile='([^']+)'", check):
        assert Path(cafile).parent == DATA / "pki"
    # each HTTPS one trusts the root its certificate chains to, by a name its certificate has
    if "https://localhost:8443" in check:
        assert f"cafile='{DATA}/pki/{LabCert.TLS_ROOT.value}.pem'" in check
    # the party itself, by a name its certificate holds (the connector's, by the NDES host's:
    # what the policy module reaches)
    for url in urls:
        assert url.hostname in ("localhost", "127.0.0.1", COMPOSE_HOSTS["connector"])


@pytest.mark.parametrize("service", [s for s in SERVICES if "healthcheck" in SERVICES[s]])
def test_every_service_depended_on_is_waited_for(service: str) -> None:
    for other in SERVICES.values():
        condition = (other.get("depends_on") or {}).get(service)
        if condition is not None:
            assert condition == {"condition": "service_healthy"}


def test_one_shot_services_are_waited_for_to_complete() -> None:
    waited = 0
    for other in SERVICES.values():
        for name, condition in (other.get("depends_on") or {}).items():
            if name in ONE_SHOTS:
                assert condition == {"condition": "service_completed_successfully"}
                waited += 1
    assert waited >= 2
    assert not set(ONE_SHOTS) & {s for s in SERVICES if "healthcheck" in SERVICES[s]}


def test_the_scenarios_wait_for_every_party() -> None:
    depends = SERVICES["scenarios"]["depends_on"]
    assert set(depends) == set(PARTY_SERVICES)
    assert all(c == {"condition": "service_healthy"} for c in depends.values())


# -- files and volumes ------------------------------------------------------------------------


def pki_files() -> set[str]:
    names = set()
    for label in LabCert:
        names |= {f"{label.value}.pem", f"{label.value}.key.pem", f"{label.value}-chain.pem"}
    return names


@pytest.mark.parametrize("service", [s for s in SERVICES if SERVICES[s].get("image") == IMAGE])
def test_paths_are_in_the_services_volumes(service: str) -> None:
    mounts = {m.split(":")[1] for m in SERVICES[service].get("volumes", [])}
    assert str(DATA) in mounts
    for name, value in environment(service).items():
        if not value.startswith("/"):
            continue
        path = Path(value)
        assert any(path.is_relative_to(m) for m in mounts), f"{service}: {name}={value}"
        if path.parent == DATA / "pki":
            assert path.name in pki_files(), f"{name}: no lab PKI file is called {path.name}"


def test_named_volumes_are_declared() -> None:
    used = {
        m.split(":")[0]
        for service in SERVICES.values()
        for m in service.get("volumes", [])
        if not m.startswith(("/", "."))
    }
    assert used == set(COMPOSE["volumes"])


def test_the_dockerfile_builds_from_python_and_takes_extra_ca_certificates() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", dockerfile, re.M)
    assert re.search(r"^ARG EXTRA_CA_CERTS=", dockerfile, re.M)
    assert "XDG_DATA_HOME=/data" in dockerfile  # `scep-lab` finds the lab volume by default
    assert set(COMPOSE["x-party"]["build"]["args"]) == {"EXTRA_CA_CERTS"}
    assert "PIP_CERT=/etc/ssl/certs/ca-certificates.crt" in dockerfile
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    for package in ("shared", *PARTIES, "device_sim", "lab"):
        assert f"!{package}/" in ignored


# -- .env.example ---------------------------------------------------------------------------


def env_example() -> dict[str, str]:
    values = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name] = value
    return values


def test_env_example_names_every_variable_of_the_compose_file() -> None:
    used = set(_VARIABLE.findall((ROOT / "docker-compose.yml").read_text()))
    assert {name for name, _ in used} == set(env_example())


def test_env_example_variables_are_settings_or_the_labs_own() -> None:
    for name in env_example():
        if name.startswith("LAB_"):  # docker-compose's own: passwords, addresses, build
            continue
        assert field_of(name) in settings_class(name).model_fields


def test_required_secrets_are_required() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    required = {name for name, _ in re.findall(r"\$\{(\w+):\?([^}]*)\}", text)}
    empty = {name for name, value in env_example().items() if not value}
    assert required == empty - {"LAB_EXTRA_CA_CERTS"}


# -- the init steps -------------------------------------------------------------------------


def test_lab_json_keeps_the_compose_hosts(tmp_path: Path) -> None:
    save_state(tmp_path, compose_state())
    loaded = load_state(tmp_path)
    assert loaded is not None
    assert loaded.url("connector") == f"https://{COMPOSE_HOSTS['connector']}:{Ports().connector}"
    assert loaded.url("cloud") == environment("cloud")["CLOUD_PUBLIC_BASE_URL"]


def test_init_makes_the_lab_for_the_compose_network_and_may_run_again(tmp_path: Path) -> None:
    data = tmp_path / "lab"
    env = {
        "CLOUD_DATA_DIR": str(tmp_path / "cloud"),  # SQLite there: the same steps
        "CA_ADMIN_TOKEN": "token-1",
        "NDES_ADMIN_USER": "ndes-admin",
        "NDES_ADMIN_PASSWORD": "password-1",
    }
    runner = CliRunner()
    first = runner.invoke(app, ["compose", "init", "--data", str(data)], env=env)
    assert first.exit_code == 0, first.output
    for secret in ("token-1", "password-1"):
        assert secret not in first.output
    state = load_state(data)
    assert state is not None and state.tenant is not None and state.other_tenant is not None
    assert state.tenant.admin_password is not None
    assert state.hosts == COMPOSE_HOSTS
    assert state.ca_admin_token == "token-1"
    assert state.ndes_admin_password == "password-1"
    # the cloud's TLS certificate names its service; the chain files the parties are given
    tls = x509.load_pem_x509_certificate(
        (data / "pki" / f"{LabCert.TLS_SERVER.value}.pem").read_bytes()
    )
    names = tls.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert COMPOSE_HOSTS["cloud"] in names.get_values_for_type(x509.DNSName)
    for service in ("connector", "ndes"):
        for value in environment(service).values():
            if value.startswith(f"{DATA}/pki/"):
                assert (data / "pki" / Path(value).name).is_file(), value
    thumbprint = x509.load_pem_x509_certificate(
        (data / "pki" / f"{LabCert.NDES_POLICY_MODULE.value}.pem").read_bytes()
    ).fingerprint(hashes.SHA1())
    assert thumbprint.hex().upper() in (data / "compose" / "connector.env").read_text()
    # again (`docker-compose up` after a stop): the same PKI, tenant and secrets
    again = runner.invoke(app, ["compose", "init", "--data", str(data)], env=env)
    assert again.exit_code == 0, again.output
    assert load_state(data) == state
