#!/bin/sh
# Post-deploy script of every env (envs/<env>.post-deploy.sh links here): Snakemake runs it once,
# in the env it has just created, from its copy .snakemake/conda/<hash>.post-deploy.sh, so it
# cannot find the project from its own path; the Snakefile exports the checkout as DNNFI_PROJECT.
# Editable, without dependencies (the env file pins them): the env runs the checkout's current
# src/dnnfi, so a change to the package needs no new env, and the env's hash (env file and this
# script) rightly does not follow the package. One env per checkout: an env under a --conda-prefix
# shared by several checkouts runs the code of the checkout that created it.
set -eu
python -m pip install --quiet --no-deps --editable "${DNNFI_PROJECT:?not set: run this through Snakemake}"
