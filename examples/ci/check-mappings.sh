#!/usr/bin/env bash
# Checks a rosetta configuration in CI: every configuration, mapping and schema problem, then
# every mapping test case against its snapshot. Exits non-zero on the first failing step.
#
#   examples/ci/check-mappings.sh path/to/gateway.yaml
#
# `rosetta check` also verifies that the environment variables the configuration names are set
# (give CI the same ones as production, with harmless values); `rosetta test` needs none.
set -euo pipefail
config=${1:-gateway.yaml}
rosetta check -c "$config"
rosetta test -c "$config"
