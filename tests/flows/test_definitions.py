"""Cheap wiring checks: the flow, its tasks and the CLI load and fit together (no run)."""

import inspect

from flows import cli
from flows.config import RunConfig
from flows.nightly import nightly_ingest


def test_flow_is_named_and_typed():
    assert nightly_ingest.name == "nightly-ingest"
    params = inspect.signature(nightly_ingest.fn).parameters
    assert list(params)[:3] == ["inbox", "data_dir", "run_date"]
    assert params["inbox"].default == "data/inbox" and params["data_dir"].default == "data"


def test_cli_options_match_the_flow_parameters():
    args = cli.build_parser().parse_args(
        ["run", "--inbox", "in", "--data-dir", "out", "--run-date", "2026-03-14"]
    )
    assert (args.inbox, args.data_dir, args.run_date) == ("in", "out", "2026-03-14")


def test_config_slices_share_one_run_id():
    cfg = RunConfig.build(inbox="i", data_dir="d", run_date="2026-03-14", workers=2)
    assert cfg.run_date == "2026-03-14"
    assert {cfg.ingest.run_id, cfg.extract.run_id, cfg.repair.run_id, cfg.dedup.run_id} == {
        cfg.run_id
    }
    assert cfg.expectations_dir.name == "expectations"


def test_bad_run_date_is_a_clear_error():
    import pytest

    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        RunConfig.build(inbox="i", data_dir="d", run_date="14/03/2026")


def test_the_deployment_is_defined_with_its_schedule_and_parameters(tmp_path):
    from flows.deployments import (
        DEFAULT_CRON,
        FULL_NAME,
        deployment_parameters,
        nightly_deployment,
    )

    params = deployment_parameters(
        inbox="in", data_dir=str(tmp_path), sources=["https://news.example/feed.xml"]
    )
    deployment = nightly_deployment(parameters=params)
    assert FULL_NAME == "nightly-ingest/nightly" and deployment.name == "nightly"
    (schedule,) = deployment.schedules
    assert schedule.schedule.cron == DEFAULT_CRON == "0 2 * * *"
    assert schedule.schedule.timezone == "UTC"
    assert deployment.parameters["data_dir"] == str(tmp_path)
    assert deployment.parameters["inbox"].endswith("/in") and "run_date" not in params
    props = deployment._parameter_openapi_schema.properties
    assert {"inbox", "sources", "data_dir", "run_date"} <= set(props)


def test_run_and_serve_take_sources_and_the_lock_wait(tmp_path):
    urls = tmp_path / "sources.txt"
    urls.write_text("https://a.example/feed.xml  # the feed\n\n# nothing\nhttps://b.example/x\n")
    argv = ["run", "--no-inbox", "--sources", "https://c.example/", "--sources-file", str(urls)]
    args = cli.build_parser().parse_args([*argv, "--lock-wait", "30"])
    assert args.inbox is None and args.lock_wait == 30.0
    assert cli._sources(args) == [
        "https://c.example/",
        "https://a.example/feed.xml",
        "https://b.example/x",
    ]
    serve = cli.build_parser().parse_args(["serve", "--cron", "30 3 * * *"])
    assert (serve.cron, serve.timezone, serve.inbox) == ("30 3 * * *", "UTC", "data/inbox")


def test_extract_command_writes_one_record_per_file(tmp_path):
    import json
    from pathlib import Path

    inbox = Path(__file__).resolve().parents[2] / "data" / "inbox"
    out = tmp_path / "out.jsonl"
    assert cli.main(["extract", "--input", str(inbox), "--out", str(out)]) == 0
    records = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    # 8 .html/.html.gz/.txt(.gz) files; the JSONL feed and the WARC are not read here.
    assert len(records) == 8
    by_id = {r["id"]: r for r in records}
    assert set(records[0]) >= {
        "id",
        "text",
        "title",
        "published_at",
        "lang",
        "source_attribution",
        "stripped",
    }
    assert by_id["truncated-upload"]["quarantined"] == "bad_gzip"
    protest = by_id["velmora-fishers-protest"]
    assert protest["source_attribution"] == "Velmora Herald" and protest["lang"] == "en"
    assert "Subscribe" not in protest["text"] and protest["stripped"]
    assert by_id["velmora-barrier-fr"]["lang"] == "fr"
