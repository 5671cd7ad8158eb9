#!/bin/sh
# The intune-scep-lab image's entry point: export the settings `scep-lab compose init` derived
# from the lab PKI (SCEP_LAB_ENV_FILE, e.g. the connector's allowed policy-module thumbprint),
# then run the command (`python -m <party>`, `scep-lab ...`).
set -e
if [ -n "${SCEP_LAB_ENV_FILE:-}" ]; then
  if [ ! -r "$SCEP_LAB_ENV_FILE" ]; then
    echo "$SCEP_LAB_ENV_FILE is missing: the init service (scep-lab compose init) makes it" >&2
    exit 2
  fi
  set -a
  . "$SCEP_LAB_ENV_FILE"
  set +a
fi
exec "$@"
