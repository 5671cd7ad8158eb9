# intune-scep-lab: every party and the `scep-lab` command line in one image; the command chooses
# what runs (`python -m cloud_sim`, `ca_sim`, `connector`, `ndes_plugin`, `device_sim`, or
# `scep-lab ...`). docker-compose.yml runs one party per service.
#
# On a network that inspects TLS, give the build the inspecting CA's certificates (PEM text),
# trusted by pip during the build and by the image:
#   docker-compose build --build-arg EXTRA_CA_CERTS="$(cat corporate-root.pem)"
#   (or LAB_EXTRA_CA_CERTS="$(cat corporate-root.pem)" docker-compose build)
FROM python:3.11-slim

ARG EXTRA_CA_CERTS=""
RUN if [ -n "$EXTRA_CA_CERTS" ]; then \
        printf '%s\n' "$EXTRA_CA_CERTS" > /usr/local/share/ca-certificates/extra-ca.crt \
        && update-ca-certificates; \
    fi

ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    XDG_DATA_HOME=/data

# /data/intune-scep-lab is the lab's data folder (`scep-lab` finds it through XDG_DATA_HOME:
# lab.json, the lab PKI, the trace); /data/<party> each party's own state. Volumes mounted there
# start out owned by the user the parties run as.
RUN useradd --system --user-group --uid 10001 --home-dir /data --no-create-home scep-lab \
    && mkdir -p /data/intune-scep-lab /data/cloud /data/ndes /data/ndes-general \
        /data/connector \
    && chown -R scep-lab:scep-lab /data

# the dependencies first, in a layer that changes only with pyproject.toml
COPY pyproject.toml /tmp/src/
RUN python -m venv /opt/venv \
    && python -c "import tomllib; print('\n'.join(tomllib.load(open('/tmp/src/pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY . /tmp/src/
RUN pip install --no-deps /tmp/src \
    && install -m 0755 /tmp/src/scripts/compose/entrypoint.sh /usr/local/bin/scep-lab-entrypoint \
    && rm -rf /tmp/src

USER scep-lab
WORKDIR /data

ENTRYPOINT ["scep-lab-entrypoint"]
CMD ["scep-lab", "--help"]
