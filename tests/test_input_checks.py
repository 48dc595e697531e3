"""Bad inputs stop `alphalab run` before anything runs (issue 16): each one exits 2 with a message naming the file and
the field or line, before Prefect starts and before the workspace is created; good inputs pass."""

from __future__ import annotations

import json
import os
import sys
import types
from pathlib import Path

import pytest

from alphalab.config import load_config
from alphalab.csv_check import check_csv, target_candidates
from alphalab.input_checks import check_inputs
from cli.main import main
from cli.run import data_checks
from harnesses.forecasting.dataset_check import check_dataset
from harnesses.forecasting.layout import generate_dataset
from harnesses.kernels.problem import BUILTIN_PROBLEMS, check_problems
from harnesses.speedrun.dataset_check import check_dataset as check_corpus

ROOT = Path(__file__).resolve().parents[1]
GOOD_PROBLEM = (BUILTIN_PROBLEMS / "relu.py").read_text()
H = 3


def series(item_id: str, n: int, **fields) -> dict:
    return {"start": "2020-01-01 00:00:00", "target": [float(i % 5) for i in range(n)], "item_id": item_id, **fields}


def dataset(root: Path, *, meta: dict | None = None, train: list | None = None, test: list | None = None) -> Path:
    """A small dataset in the GluonTS layout: two series of 20 hours, two test windows of H each."""
    meta = {"freq": "h", "prediction_length": H} if meta is None else meta
    train = [series("a", 14), series("b", 14)] if train is None else train
    test = [series("a", 17), series("b", 17), series("a", 20), series("b", 20)] if test is None else test
    for split, entries in (("train", train), ("test", test)):
        (root / split).mkdir(parents=True)
        (root / split / "data.json").write_text("".join(json.dumps(e) + "\n" for e in entries))
    (root / "metadata.json").write_text(json.dumps(meta))
    return root


def config(tmp_path: Path, data: Path, domain: str = "time_series", extra: str = "", objective: str = "o") -> Path:
    path = tmp_path / "campaign.yaml"
    path.write_text(f"name: c\ndomain: {domain}\ndata_path: {data}\nobjective: {json.dumps(objective)}\n"
                    f"workspace: {tmp_path / 'ws'}\n" + extra)
    return path


@pytest.fixture(autouse=True)
def openai_key(monkeypatch):
    """The generator's key, for the configs that give it an OpenAI model (no request is ever sent)."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-never-sent")


@pytest.fixture
def no_prefect(monkeypatch):
    """Stands in for the campaign flow: a check that let a bad input through would start it."""
    started = []
    fake = types.ModuleType("flows.campaign")
    fake.campaign = lambda **kw: started.append(kw)
    monkeypatch.setitem(sys.modules, "flows.campaign", fake)
    return started


def run_fails(tmp_path, capsys, no_prefect, cfg: Path, *expected: str) -> str:
    assert main(["run", str(cfg)]) == 2
    out = capsys.readouterr()
    for text in expected:
        assert text in out.err, out.err
    assert not no_prefect and "starting the campaign" not in out.out
    assert not (tmp_path / "ws").exists()
    return out.err


def test_an_empty_test_file_stops_the_run(tmp_path, capsys, no_prefect):
    data = dataset(tmp_path / "data", test=[])
    run_fails(tmp_path, capsys, no_prefect, config(tmp_path, data), f"{data / 'test'}: no series")


def test_an_entry_whose_freq_contradicts_the_metadata_stops_the_run(tmp_path, capsys, no_prefect):
    data = dataset(tmp_path / "data", train=[series("a", 14, freq="D"), series("b", 14)])
    run_fails(tmp_path, capsys, no_prefect, config(tmp_path, data),
              f"{data / 'train' / 'data.json'} line 1: series 'a' has freq 'D', metadata.json has 'h'")


def test_an_entry_with_the_metadata_freq_in_another_spelling_passes(tmp_path):
    assert check_dataset(dataset(tmp_path / "data", train=[series("a", 14, freq="1h"), series("b", 14)])) == []


def test_a_nan_only_series_stops_the_run(tmp_path, capsys, no_prefect):
    data = dataset(tmp_path / "data", train=[series("a", 14), {**series("b", 14), "target": [None] * 14}])
    run_fails(tmp_path, capsys, no_prefect, config(tmp_path, data),
              f"{data / 'train' / 'data.json'} line 2: series 'b': 'target' is empty or all NaN")


def test_a_series_without_start_stops_the_run(tmp_path, capsys, no_prefect):
    entries = [series("a", 17), series("b", 17), series("x", 20), series("b", 20)]
    del entries[2]["start"]
    data = dataset(tmp_path / "data", test=entries)
    run_fails(tmp_path, capsys, no_prefect, config(tmp_path, data),
              f"{data / 'test' / 'data.json'} line 3: series 'x' has no 'start'")


@pytest.mark.parametrize("meta, field, message", [
    ({"freq": "fortnightly", "prediction_length": H}, "freq", "'fortnightly' is not a pandas frequency"),
    ({"freq": "h"}, "prediction_length", "Field required"),
    ({"freq": "h", "prediction_length": 0}, "prediction_length", "Input should be greater than 0"),
])
def test_bad_metadata_stops_the_run(tmp_path, capsys, no_prefect, meta, field, message):
    data = dataset(tmp_path / "data", meta=meta)
    run_fails(tmp_path, capsys, no_prefect, config(tmp_path, data),
              f"{data / 'metadata.json'}: field `{field}`: {message}")


def test_a_test_entry_too_short_for_its_window_stops_the_run(tmp_path, capsys, no_prefect):
    data = dataset(tmp_path / "data", test=[series("a", H), series("b", 17)])
    run_fails(tmp_path, capsys, no_prefect, config(tmp_path, data),
              f"{data / 'test' / 'data.json'} line 1: series 'a': 'target' has {H} values, a test entry needs more "
              f"than prediction_length={H}")


def test_a_folder_that_is_not_a_dataset_stops_the_run(tmp_path, capsys, no_prefect):
    (tmp_path / "data").mkdir()
    run_fails(tmp_path, capsys, no_prefect, config(tmp_path, tmp_path / "data"),
              f"{tmp_path / 'data'}: not a GluonTS dataset folder")


def test_every_problem_is_reported_not_just_the_first(tmp_path, capsys, no_prefect):
    bad = [{"target": [1.0] * 20, "item_id": "x"}, {**series("y", 20), "target": []}, "oops"]
    data = dataset(tmp_path / "data", test=bad)
    (data / "train" / "data.json").write_text("")
    (tmp_path / "blocker").write_text("")
    cfg = config(tmp_path, data)
    cfg.write_text(cfg.read_text().replace(str(tmp_path / "ws"), str(tmp_path / "blocker" / "ws")))
    test_file = data / "test" / "data.json"
    err = run_fails(tmp_path, capsys, no_prefect, cfg,
                    f"{test_file} line 1: series 'x' has no 'start'",
                    f"{test_file} line 2: series 'y': 'target' is empty or all NaN",
                    f"{test_file} line 3: is not a JSON object", f"{data / 'train'}: no series",
                    f"{tmp_path / 'blocker' / 'ws'}: cannot use it as the workspace")
    assert "5 problem(s)" in err


def test_a_problem_with_a_syntax_error_stops_the_run(tmp_path, capsys, no_prefect):
    problems = tmp_path / "problems"
    problems.mkdir()
    (problems / "relu.py").write_text(GOOD_PROBLEM)
    (problems / "broken.py").write_text("import torch\n\nclass Model(:\n    pass\n")
    run_fails(tmp_path, capsys, no_prefect, config(tmp_path, problems, "cuda_kernel"),
              f"{problems / 'broken.py'} line 3: does not compile:")


def test_a_problem_without_model_stops_the_run(tmp_path, capsys, no_prefect):
    problems = tmp_path / "problems"
    (problems / "level1").mkdir(parents=True)
    (problems / "level1" / "gelu.py").write_text(GOOD_PROBLEM.replace("class Model(", "class Reference("))
    run_fails(tmp_path, capsys, no_prefect, config(tmp_path, problems, "cuda_kernel"),
              f"{problems / 'level1' / 'gelu.py'}: not a KernelBench-format problem: defines no `Model` at module "
              "level")


def test_a_workspace_under_a_file_stops_the_run(tmp_path, capsys, no_prefect):
    (tmp_path / "blocker").write_text("")
    cfg = config(tmp_path, dataset(tmp_path / "data"))
    cfg.write_text(cfg.read_text().replace(str(tmp_path / "ws"), str(tmp_path / "blocker" / "ws")))
    run_fails(tmp_path, capsys, no_prefect, cfg,
              f"{tmp_path / 'blocker' / 'ws'}: cannot use it as the workspace: its parent {tmp_path / 'blocker'} "
              "is not a folder")
    assert (tmp_path / "blocker").read_text() == ""


def test_a_read_only_workspace_location_stops_the_run(tmp_path, capsys, no_prefect, monkeypatch):
    parent = tmp_path / "ro"
    parent.mkdir()
    os.chmod(parent, 0o555)
    if os.access(parent, os.W_OK):  # root writes anyway: the check asks os.access, so ask it as a user would
        access = os.access
        monkeypatch.setattr(os, "access", lambda p, mode, **kw: Path(p) != parent and access(p, mode, **kw))
    cfg = config(tmp_path, dataset(tmp_path / "data"))
    cfg.write_text(cfg.read_text().replace(str(tmp_path / "ws"), str(parent / "ws")))
    try:
        run_fails(tmp_path, capsys, no_prefect, cfg, f"its parent {parent} is not writable")
    finally:
        os.chmod(parent, 0o755)


def test_a_free_text_domain_without_a_generator_model_stops_the_run(tmp_path, capsys, no_prefect):
    cfg = config(tmp_path, dataset(tmp_path / "data"), domain="churn prediction for a telco")
    run_fails(tmp_path, capsys, no_prefect, cfg,
              f"{cfg}: field `models`: domain 'churn prediction for a telco' is not a built-in adapter",
              "set `models.roles.generator` or `models.default`")


def test_a_role_whose_api_key_is_not_set_stops_the_run(tmp_path, capsys, no_prefect, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    models = ("models:\n  default: {provider: openai, model: gpt-5.2}\n  roles:\n"
              "    worker: {provider: anthropic, model: claude-sonnet-4-5, api_key_env: TEAM_CLAUDE_KEY}\n")
    cfg = config(tmp_path, dataset(tmp_path / "data"), extra=models)
    run_fails(tmp_path, capsys, no_prefect, cfg,
              f"{cfg}: field `models.default`: the openai model gpt-5.2 needs its API key (the customizer, explorer, "
              "builder, critic, tester, strategist, supervisor use it): set the environment variable OPENAI_API_KEY",
              f"{cfg}: field `models.roles.worker`: the anthropic model claude-sonnet-4-5 needs its API key (the "
              "worker uses it): set the environment variable TEAM_CLAUDE_KEY")


def passes(cfg: Path, workspace: Path) -> None:
    loaded = load_config(cfg)
    check_inputs(cfg, loaded, workspace, data_checks(loaded.domain_options))


def test_a_free_text_domain_passes_with_a_generator_model_or_an_adapter_to_resume(tmp_path):
    data = dataset(tmp_path / "data")
    models = "models:\n  roles:\n    generator: {provider: openai, model: gpt-5.2}\n"
    passes(config(tmp_path, data, "churn prediction", models), tmp_path / "ws")
    (tmp_path / "ws" / "adapter").mkdir(parents=True)
    (tmp_path / "ws" / "adapter" / "manifest.yaml").write_text("name: churn\n")
    passes(config(tmp_path, data, "churn prediction"), tmp_path / "ws")


def test_the_shipped_datasets_pass(tmp_path):
    # what `alphalab demo` and examples/build_monthly_dataset.py write (the repo ships their builders, not the data)
    from harnesses.forecasting.demo_data import build_demo_dataset
    from harnesses.forecasting.monthly_data import build_monthly_dataset

    assert check_dataset(build_demo_dataset(tmp_path / "pedestrian")) == []
    assert check_dataset(build_monthly_dataset(tmp_path / "monthly")) == []


def test_generated_datasets_and_the_builtin_problems_pass(tmp_path):
    assert check_dataset(generate_dataset(tmp_path / "d", n_series=3, length=200, windows=2)) == []
    assert check_problems(BUILTIN_PROBLEMS) == []
    assert check_problems(tmp_path / "d" / "metadata.json") == []  # not a folder of problems: the built-in set


def test_a_good_campaign_passes_the_checks_in_an_existing_workspace(tmp_path):
    (tmp_path / "ws").mkdir()
    passes(config(tmp_path, dataset(tmp_path / "data")), tmp_path / "ws")


def test_a_problem_set_with_a_star_import_is_not_rejected(tmp_path):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "mm.py").write_text("from reference_ops import *\n")
    assert check_problems(tmp_path / "p") == []


# --- a free-text domain's CSV data ---------------------------------------------------------------------------------

GENERATOR = "models:\n  roles:\n    generator: {provider: openai, model: gpt-5.2}\n"
REGRESSION = "predict the column `price` from the others; minimize RMSE"


def table(path: Path, header: str = "x1,x2,price", rows: list[str] | None = None) -> Path:
    """A CSV of 12 rows by default, the target `price` last."""
    rows = [f"{i},{i % 3},{2.5 * i}" for i in range(12)] if rows is None else rows
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def tabular(tmp_path: Path, data: Path, objective: str = REGRESSION) -> Path:
    return config(tmp_path, data, "house prices", GENERATOR, objective)


def test_a_csv_with_a_ragged_row_stops_the_run(tmp_path, capsys, no_prefect):
    rows = [f"{i},{i},{i}" for i in range(12)]
    rows[3], rows[7] = "3,3", "7,7,7,7"
    data = table(tmp_path / "data" / "houses.csv", rows=rows)
    run_fails(tmp_path, capsys, no_prefect, tabular(tmp_path, data),
              f"{data} line 5: 2 field(s), the header has 3 (1 more row(s) like it)")


def test_a_csv_with_no_data_rows_stops_the_run(tmp_path, capsys, no_prefect):
    data = table(tmp_path / "houses.csv", rows=[])
    err = run_fails(tmp_path, capsys, no_prefect, tabular(tmp_path, data), f"{data}: no data rows, only the header")
    assert "1 problem(s)" in err


def test_a_csv_with_too_few_rows_stops_the_run(tmp_path, capsys, no_prefect):
    data = table(tmp_path / "houses.csv", rows=["1,2,3", "4,5,6", "7,8,9"])
    run_fails(tmp_path, capsys, no_prefect, tabular(tmp_path, data),
              f"{data}: only 3 data row(s); a model fit on some rows and scored on others needs at least 10")


def test_an_objective_naming_a_target_that_is_not_a_column_stops_the_run(tmp_path, capsys, no_prefect):
    data = table(tmp_path / "houses.csv", header="a,b,c")
    cfg = tabular(tmp_path, data)
    run_fails(tmp_path, capsys, no_prefect, cfg,
              f"{cfg}: field `objective`: names the target `price`, which is not a column of {data} (columns: a, b, c)")


def test_a_target_in_another_case_is_named_in_the_message(tmp_path, capsys, no_prefect):
    data = table(tmp_path / "houses.csv", header="x1,x2,Price")
    run_fails(tmp_path, capsys, no_prefect, tabular(tmp_path, data, "Predict price from x1 and x2"),
              "names the target `price`, which is not a column of", "(columns: x1, x2, Price); did you mean `Price`?")


def test_a_target_missing_from_every_csv_of_a_folder_stops_the_run(tmp_path, capsys, no_prefect):
    table(tmp_path / "data" / "train.csv", header="a,b,c")
    table(tmp_path / "data" / "test.csv", header="a,b")
    cfg = tabular(tmp_path, tmp_path / "data", "target: price")
    run_fails(tmp_path, capsys, no_prefect, cfg,
              f"{cfg}: field `objective`: names the target `price`, which is not a column of any CSV file under "
              f"{tmp_path / 'data'} (test.csv: a, b; train.csv: a, b, c)")


def test_a_non_numeric_target_of_a_regression_stops_the_run(tmp_path, capsys, no_prefect):
    data = table(tmp_path / "houses.csv", rows=[f"{i},{i},{'cheap' if i % 2 else 'dear'}" for i in range(12)])
    run_fails(tmp_path, capsys, no_prefect, tabular(tmp_path, data),
              f"{data} line 2: column `price`, the target the objective names, has no numeric value (this row has "
              "'dear') and the objective asks for a regression")


def test_an_empty_target_column_stops_the_run(tmp_path, capsys, no_prefect):
    data = table(tmp_path / "houses.csv", rows=[f"{i},{i}," if i % 2 else f"{i},{i},NA" for i in range(12)])
    run_fails(tmp_path, capsys, no_prefect, tabular(tmp_path, data, "Predict price from x1 and x2"),
              f"{data}: column `price`, the target the objective names, is empty: no row has a value")


def test_a_csv_that_is_not_utf8_stops_the_run(tmp_path, capsys, no_prefect):
    data = tmp_path / "houses.csv"
    data.write_bytes(table(data).read_bytes().replace(b"2,2,5.0", "2,2,caf\u00e9".encode("latin-1")))
    run_fails(tmp_path, capsys, no_prefect, tabular(tmp_path, data),
              f"{data} line 4: not UTF-8 text (byte 0xe9): save it as UTF-8")


@pytest.mark.parametrize("header, message", [
    ("x1,x1,price", "line 1: column `x1` appears 2 times"),
    ("x1,,price", "line 1: column 2 has no name"),
    ("1.5,2,3", "line 1: holds only numbers (1.5,2,3): the first row must be a header naming the columns"),
])
def test_a_bad_csv_header_stops_the_run(tmp_path, capsys, no_prefect, header, message):
    data = table(tmp_path / "houses.csv", header=header)
    run_fails(tmp_path, capsys, no_prefect, tabular(tmp_path, data, "minimize RMSE"), f"{data} {message}")


def test_an_empty_csv_stops_the_run(tmp_path, capsys, no_prefect):
    data = tmp_path / "houses.csv"
    data.write_text("")
    run_fails(tmp_path, capsys, no_prefect, tabular(tmp_path, data),
              f"{data}: empty: a CSV needs a header row and data rows")


def test_good_csv_data_passes(tmp_path):
    data = table(tmp_path / "houses.csv")
    passes(tabular(tmp_path, data), tmp_path / "ws")
    assert not (tmp_path / "ws").exists()
    # the index pandas writes under an empty name, a semicolon-delimited file, a blank line, missing target values
    assert check_csv(table(tmp_path / "a.csv", header=",x1,price"), REGRESSION, tmp_path / "c.yaml") == []
    rows = [f"{i};{i};{'' if i == 3 else i}" for i in range(12)] + [""]
    assert check_csv(table(tmp_path / "b.csv", header="x1;x2;price", rows=rows), REGRESSION, tmp_path / "c.yaml") == []
    # a test file without the target, beside the training file that has it (the layout of most competitions)
    table(tmp_path / "kaggle" / "train.csv")
    table(tmp_path / "kaggle" / "test.csv", header="x1,x2", rows=["1,2"] * 12)
    assert check_csv(tmp_path / "kaggle", REGRESSION, tmp_path / "c.yaml") == []


def test_a_classification_with_word_labels_passes(tmp_path):
    data = table(tmp_path / "churn.csv", header="tenure,plan,churn",
                 rows=[f"{i},basic,{'yes' if i % 2 else 'no'}" for i in range(12)])
    assert check_csv(data, "predict `churn` from the others; maximize AUC", tmp_path / "c.yaml") == []


def test_data_that_holds_no_csv_is_not_checked_as_csv(tmp_path):
    (tmp_path / "notes.txt").write_text("x\n")
    assert check_csv(tmp_path / "notes.txt", REGRESSION, tmp_path / "c.yaml") == []
    assert check_csv(dataset(tmp_path / "gluonts"), REGRESSION, tmp_path / "c.yaml") == []


@pytest.mark.parametrize("objective, names", [
    ("predict the column `price` from the others; minimize RMSE", ["price"]),
    ("Predict y from x1..x4", ["y"]),
    ("target: price", ["price"]),
    ("the target column is `sale price`", ["sale price"]),
    ("Predict price from the others", ["price"]),
    ('predict "SalePrice" given the rest', ["SalePrice"]),
    ("Predicting sale_price for each house", ["sale_price"]),
    ("regress price on sqft", ["price"]),
    # no target named: no false alarm
    ("minimize RMSE on held-out rows", []),
    ("Predict house prices from the features", []),
    ("Forecast demand for the next 4 weeks.", []),
    ("Predict whether a customer churns", []),
    ("Forecast Q3 revenue of the iPhone line", []),
    ("Predict the customer's lifetime value", []),
    ("The target is the sale price", []),
    ("Target: minimize RMSE.", []),
    ("Use `lightgbm` to minimize RMSE", []),
    ("estimate the effect of x on y", []),
])
def test_the_target_is_read_from_the_objective(objective, names):
    assert target_candidates(objective) == names


# --- the llm_speedrun corpus -----------------------------------------------------------------------------------------

def corpus(root: Path, docs: int = 4, size: int = 20_000) -> Path:
    root.mkdir(parents=True)
    for i in range(docs):
        (root / f"{i}.txt").write_text(f"def f{i}(x):\n    return x\n" * (size // 24))
    return root


def speedrun(tmp_path: Path, data: Path, options: str = "") -> Path:
    return config(tmp_path, data, "llm_speedrun", options)


def parquet(path: Path, **columns) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), path)
    return path


def test_an_empty_corpus_folder_stops_the_run(tmp_path, capsys, no_prefect):
    (tmp_path / "corpus").mkdir()
    run_fails(tmp_path, capsys, no_prefect, speedrun(tmp_path, tmp_path / "corpus"),
              f"{tmp_path / 'corpus'}: 0 document(s) in 0 file(s), the harness needs 2 at least to hold one out")


def test_a_corpus_of_token_files_stops_the_run(tmp_path, capsys, no_prefect):
    # nanoGPT's layout: uint16 token ids, binary to the harness, which reads text
    root = tmp_path / "corpus"
    root.mkdir()
    for split in ("train", "val"):
        (root / f"{split}.bin").write_bytes(bytes([5, 0, 17, 0]) * 10_000)
    run_fails(tmp_path, capsys, no_prefect, speedrun(tmp_path, root),
              f"{root}: 0 document(s) in 2 file(s)", "skipping empty ones and binary ones (holding a NUL byte)")


def test_a_corpus_of_compressed_shards_stops_the_run(tmp_path, capsys, no_prefect):
    import gzip

    root = tmp_path / "corpus"
    root.mkdir()
    for i in range(3):
        (root / f"c4-{i}.json.gz").write_bytes(gzip.compress(b'{"text": "hello"}\n' * 5000))
    run_fails(tmp_path, capsys, no_prefect, speedrun(tmp_path, root),
              f"{root}: 0 document(s) in 3 file(s)", "gzip-compressed files are binary to it: decompress them")


def test_a_corpus_too_small_for_the_smoke_split_stops_the_run(tmp_path, capsys, no_prefect):
    root = corpus(tmp_path / "corpus", docs=3, size=2_000)
    size = sum(p.stat().st_size for p in root.iterdir())
    run_fails(tmp_path, capsys, no_prefect, speedrun(tmp_path, root),
              f"{root}: {size} bytes of text, too few: the validation split takes at most half the corpus and smoke "
              "mode scores its first 32768 bytes (`domain_options.smoke_val_bytes`), so the corpus needs 65536 at "
              "least")


def test_a_parquet_corpus_without_the_text_column_stops_the_run(tmp_path, capsys, no_prefect):
    shard = parquet(tmp_path / "corpus" / "shard-0.parquet", content=["a" * 40_000, "b" * 40_000])
    run_fails(tmp_path, capsys, no_prefect, speedrun(tmp_path, tmp_path / "corpus"),
              f"{shard}: no column `text` (columns: content): name the documents' column in "
              "`domain_options.text_column`")


def test_a_parquet_corpus_with_a_numeric_text_column_stops_the_run(tmp_path, capsys, no_prefect):
    shard = parquet(tmp_path / "corpus" / "shard-0.parquet", text=[1, 2, 3])
    run_fails(tmp_path, capsys, no_prefect, speedrun(tmp_path, tmp_path / "corpus"),
              f"{shard}: column `text` holds int64, not text")


def test_a_corrupt_parquet_file_stops_the_run(tmp_path, capsys, no_prefect):
    root = corpus(tmp_path / "corpus")
    (root / "broken.parquet").write_bytes(b"not parquet at all")
    run_fails(tmp_path, capsys, no_prefect, speedrun(tmp_path, root),
              f"{root / 'broken.parquet'}: not a readable parquet file")


def test_bad_speedrun_options_stop_the_run(tmp_path, capsys, no_prefect):
    cfg = speedrun(tmp_path, corpus(tmp_path / "corpus"), "domain_options: {val_bytes: 0}\n")
    err = run_fails(tmp_path, capsys, no_prefect, cfg,
                    "field `domain_options.val_bytes`: Input should be greater than 0")
    assert f"{cfg}: 1 problem(s)" in err


def test_good_corpora_pass(tmp_path):
    passes(speedrun(tmp_path, corpus(tmp_path / "corpus")), tmp_path / "ws")
    assert not (tmp_path / "ws").exists()
    # one large file is cut into documents; a small corpus passes once the smoke split is made as small
    big = tmp_path / "book.txt"
    big.write_text("to be or not to be\n" * 60_000)
    assert check_corpus(big) == []
    assert check_corpus(corpus(tmp_path / "tiny", docs=3, size=2_000), {"smoke_val_bytes": 1024}) == []
    parquet(tmp_path / "pq" / "shard-0.parquet", content=["a" * 40_000, "b" * 40_000])
    assert check_corpus(tmp_path / "pq", {"text_column": "content"}) == []
