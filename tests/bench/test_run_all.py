"""The aggregator writes every required key from the stages' outputs, and marks what is missing.

No timing is asserted: the inputs are made-up figures in the shapes the stage scripts write.
"""

import json

import pytest

from bench import run_all, signatures
from bench.gas_report import ROWS
from bench.run_all import GOALS, REQUIRED_KEYS, Goal, aggregate, evaluate

GATE_KEYS = (
    "gate.verify_rps",
    "gate.verify_p99_ms",
    "gate.checkin_rps",
    "gate.checkin_p99_ms",
    "gate.verify_rps_pg",
    "gate.verify_p99_ms_pg",
    "gate.checkin_rps_pg",
    "gate.checkin_p99_ms_pg",
)
TEXT_KEYS = {"machine.cpu_model", "machine.date"}


@pytest.fixture(scope="module")
def signature_result():
    # the real script's output shape (a few milliseconds of timing; the figures are not checked)
    return signatures.measure(seconds=0.01)


@pytest.fixture()
def results(tmp_path, signature_result):
    out = tmp_path / "results"
    out.mkdir()
    gas = {key: 40_000 + i for i, key in enumerate(k for _, total, per in ROWS for k in (total, per) if k)}
    baselines = {
        f"{p}_{k}": 50_000
        for p in ("oz_erc721", "erc721a")
        for k in (
            "mint_1",
            "mint_distinct_batch_100",
            "mint_distinct_per_ticket",
            "mint_same_holder_batch_100",
            "mint_same_holder_per_extra_ticket",
        )
    }
    backend = {
        "events": 20_100,
        "tickets_created": 20_000,
        "blocks": 104,
        "seconds": 2.5,
        "events_per_s": 8040,
        "chain_events": 20_100,
        "indexed_tokens": 20_000,
        "tickets": 20_000,
    }
    files = {
        "gas.json": {"gas": gas, "floor_new_holder": 44_000, "notes": {"method": "..."}},
        "baselines.json": {"gas": baselines, "notes": {"method": "..."}},
        "signatures.json": signature_result,
        "indexer.json": {
            "tickets": 20_000,
            "chunk_size": 200,
            "mint_s": 9.0,
            "sqlite": backend,
            "postgresql": {**backend, "events_per_s": 4_000},
        },
        "collection_10k.json": {
            "tickets": 10_000,
            "chunk_size": 200,
            "deploy_s": 0.03,
            "mint_s": 0.9,
            "total_s": 0.93,
            "gas_per_ticket": 47_354,
            "transactions": 50,
        },
        "metadata.json": {
            "metadata.json_cached_rps": 900.5,
            "metadata.json_uncached_rps": 120.0,
            "report.build_ms": 400.0,
            "report.tickets": 10_000,
            "date": "2026-12-06T11:40:42Z",
        },
        "read_cost.json": {
            "read_cost.reads": 200,
            "read_cost.cached_minstr": 1.7,
            "read_cost.uncached_minstr": 2.0,
        },
        "snapshot.json": {
            "tickets": 80_000,
            "gates": 40,
            "build_s": 1.7,
            "bytes": 5_829_685,
            "gzip_bytes": 3_793_172,
            "delta_ms": 7.2,
            "delta_changes": 100,
            "delta_tickets": 100,
            "scanner_ready_s": 2.8,
            "scanner_reload_s": 0.4,
            "offline_decision_ms": 0.2,
        },
    }
    for name, data in files.items():
        (out / name).write_text(json.dumps(data))
    return out


def _write(results, tmp_path):
    problems, sources = {}, {}
    figures = aggregate(results, problems=problems, sources=sources)
    doc = tmp_path / "benchmarks.md"
    run_all.write_outputs(figures, problems, results=results, doc=doc, sources=sources)
    return json.loads((results / "latest.json").read_text()), doc.read_text(), problems


def test_every_required_key_is_written_flat_and_numeric(results, tmp_path):
    latest, doc, problems = _write(results, tmp_path)
    assert set(REQUIRED_KEYS) <= set(latest)
    for key, value in latest.items():
        assert "." in key and not isinstance(value, (dict, list)), key
        if key not in TEXT_KEYS:
            assert isinstance(value, (int, float)) and not isinstance(value, bool), key
    assert latest["sig.recover_per_s"] > 0 and latest["sig.secp256k1_recover_per_s"] > 0
    assert latest["indexer.events_per_s"] == 8040 and latest["indexer.events_per_s_pg"] == 4_000
    assert latest["e2e.collection_10k_s"] == 0.93
    assert set(problems) == {"gate", "crowd", "chaos"}  # the load stages wrote nothing in this made-up run
    # every goal and every required key appears in the doc
    for key in REQUIRED_KEYS + tuple(g.key for g in GOALS):
        assert f"`{key}`" in doc, key


def test_without_gate_results_the_gate_goals_are_not_measured(results, tmp_path):
    latest, doc, _ = _write(results, tmp_path)
    assert not any(key.startswith("gate.") for key in latest)
    for key in GATE_KEYS:
        row = next(line for line in doc.splitlines() if line.startswith("|") and f"`{key}`" in line)
        assert row.count("not measured") == 2, row  # the value and the status
    not_measured = doc.split("## Not measured", 1)[1].split("##", 1)[0]
    assert all(f"`{key}`" in not_measured for key in GATE_KEYS)
    assert "| not met |" in doc and "| met |" in doc  # statuses derived from the figures


def test_the_doc_names_no_absolute_path(results, tmp_path):
    """Paths are the repository's, relative (results outside it: with `..`); the anchors' notes likewise."""
    _, doc, _ = _write(results, tmp_path)
    assert str(run_all.ROOT) not in doc and "no /" not in doc and "(/" not in doc
    assert f"no {run_all._relative(results / 'gate.json')}" in doc
    assert f"## Against published figures ({run_all.ANCHORS_SOURCE})" in doc


GATE = {
    "verify_rps": 2500,
    "verify_p99_ms": 30.5,
    "checkin_rps": 600,
    "checkin_p99_ms": 40,
    "verify_rps_pg": 1500,
    "verify_p99_ms_pg": 20,
    "checkin_rps_pg": 400,
    "checkin_p99_ms_pg": 60,
}


@pytest.mark.parametrize(
    "gate",
    [
        {f"gate.{k}": v for k, v in GATE.items()}
        | {"gate.label": "text is dropped"},  # bench/gate_load.py's form
        GATE,
    ],
)
def test_gate_results_are_merged(results, tmp_path, gate):
    (results / "gate.json").write_text(json.dumps(gate))
    latest, _doc, problems = _write(results, tmp_path)
    assert {k: latest[k] for k in GATE_KEYS} == {f"gate.{k}": v for k, v in GATE.items()}
    assert "gate.label" not in latest and "gate" not in problems
    statuses = {g.key: evaluate(g, latest) for g in GOALS if g.key in GATE_KEYS}
    assert statuses == {
        "gate.verify_rps": "met",
        "gate.verify_p99_ms": "not met",
        "gate.checkin_rps": "met",
        "gate.checkin_p99_ms": "met",
        "gate.verify_rps_pg": "not met",
        "gate.verify_p99_ms_pg": "met",
        "gate.checkin_rps_pg": "not met",
        "gate.checkin_p99_ms_pg": "not met",
    }


def test_a_stage_not_run_now_is_not_carried_over(results, tmp_path):
    # in a full run only the stages that succeeded are read: an old file of a failed stage is ignored
    ran = [s for s in run_all.STAGES if s.name != "indexer"]
    assert len(ran) == len(run_all.STAGES) - 1
    figures = aggregate(results, ran, machine={})
    assert not any(key.startswith("indexer.") for key in figures)
    doc = run_all.render_markdown(figures, {"indexer": "failed (exit code 1)"})
    assert "stage indexer: failed" in doc
    row = next(line for line in doc.splitlines() if "`indexer.events_per_s`" in line)
    assert "not measured" in row


def test_goal_evaluation():
    figures = {"a": 5, "b": 7}
    assert evaluate(Goal("a", "<", "b", ""), figures) == "met"
    assert evaluate(Goal("b", "<=", "a", ""), figures) == "not met"
    assert evaluate(Goal("a", ">=", 5, ""), figures) == "met"
    assert evaluate(Goal("a", "<", "missing", ""), figures) == "not measured"
    assert evaluate(Goal("missing", "<", 1, ""), figures) == "not measured"


def test_aggregate_only_from_the_command_line(results, tmp_path):
    doc = tmp_path / "docs" / "benchmarks.md"
    assert run_all.main(["--aggregate-only", "--results", str(results), "--doc", str(doc)]) == 0
    latest = json.loads((results / "latest.json").read_text())
    assert set(REQUIRED_KEYS) <= set(latest) and latest["machine.cores"] >= 1
    assert doc.read_text().startswith("# Benchmarks")


def test_a_full_run_reads_only_what_this_run_wrote(results, tmp_path, monkeypatch):
    """main() with the stage processes faked: one stage fails and its old file is ignored."""
    old = {p.name: p.read_text() for p in results.iterdir()}
    (results / "gate.json").write_text(json.dumps({f"gate.{k}": v for k, v in GATE.items()}))  # an old file

    def fake_run(command, cwd, check, **_):
        if command[0] == "git":  # run_all dates a stage file by its commit: these are not committed
            return type("Done", (), {"returncode": 1, "stdout": ""})()
        module, out = command[2], command[command.index("--out") + 1]
        if module in ("bench.indexer", "bench.gate_load", "bench.crowd", "bench.chaos"):
            return type("Done", (), {"returncode": 1})()
        name = next(s.output for s in run_all.STAGES if s.module == module)
        with open(out, "w") as handle:  # rewritten now, as the real stage would
            handle.write(old[name])
        return type("Done", (), {"returncode": 0})()

    monkeypatch.setattr(run_all.subprocess, "run", fake_run)
    monkeypatch.setattr(run_all, "_postgres_up", lambda: True)
    monkeypatch.setattr(run_all.Stage, "available", lambda self: True)
    doc = tmp_path / "benchmarks.md"
    assert run_all.main(["--results", str(results), "--doc", str(doc)]) == 1
    latest = json.loads((results / "latest.json").read_text())
    assert not any(k.startswith(("indexer.", "gate.")) for k in latest)
    assert "gas.mint_distinct_per_ticket" in latest and "sig.recover_per_s" in latest
    text = doc.read_text()
    assert "stage indexer: failed (exit code 1)" in text and "stage gate: failed (exit code 1)" in text
    assert "unreadable" not in text
