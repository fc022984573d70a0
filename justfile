# tgstat tasks. `just --list` shows them all.
set shell := ["bash", "-euo", "pipefail", "-c"]

# run the whole test suite (real embedded PostgreSQL; no network needed)
test *args:
    python -m pytest {{args}}

# ruff (lint + format check), mypy (strict, src), import-linter (layering of docs/design.md 2)
lint:
    ruff check src tests bench examples
    ruff format --check src tests bench examples
    mypy
    lint-imports

# apply the database migrations to the configured database (embedded by default)
migrate:
    tgstat migrate --summary

# the main job on the embedded default
demo:
    tgstat replay examples/demo-channel.json
    tgstat report

# repository upsert throughput vs raw COPY (see README)
bench-repository rows="100000":
    python bench/repository.py --rows {{rows}}

# cost of collection vs channels and accounts, simulated clock (see README; 1,000: --hours 1)
bench-scale channels="100" *args:
    python bench/scale.py --channels {{channels}} {{args}}

# CPU and latency of one served tg-collect flow run on a real local Prefect server
bench-flow-run *args:
    python bench/flow_run.py {{args}}

# Starts a local Prefect server (UI on :4200; `just serve --port 4300`) when PREFECT_API_URL
# is unset; Ctrl-C or SIGTERM stops everything.
# serve tg-collect every 300 s and lake-etl daily
serve *args:
    tgstat serve {{args}}

# scale-out: deploy one tg-collect per session to the process work pool POOL (see README)
deploy pool *args:
    tgstat deploy --pool {{pool}} {{args}}

# one collection cycle of every configured channel, now, without Prefect
collect:
    tgstat collect
