#!/bin/sh
# Container entry point: a RunPod serverless worker when RunPod's job variables are present, else the OpenAI
# server. A podserve subcommand given as the first argument (e.g. `download`) runs as is.
set -eu

case "${1:-}" in
  serve|worker|download|endpoint|--help|-h|--version|-V) exec podserve "$@" ;;
esac

if [ -n "${RUNPOD_WEBHOOK_GET_JOB:-}" ]; then
  exec podserve worker "$@"
fi
exec podserve serve "$@"
