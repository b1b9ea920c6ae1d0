"""Tests of the command line and the notebook runner, on throwaway notebooks in tmp_path."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from alsmeds import __version__
from alsmeds.pipeline import cli, runner


def _write_notebook(path: Path, cells: list[tuple[str, str]], parameters: str | None = None) -> Path:
    """Write a notebook: ``cells`` are (cell_type, source); ``parameters`` goes first, tagged."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    if parameters is not None:
        cell = nbformat.v4.new_code_cell(parameters)
        cell.metadata["tags"] = ["parameters"]
        nb.cells.append(cell)
    for kind, source in cells:
        nb.cells.append(nbformat.v4.new_markdown_cell(source) if kind == "md" else nbformat.v4.new_code_cell(source))
    nbformat.write(nb, path)
    return path


def _stdout(nb_path: Path) -> str:
    nb = nbformat.read(nb_path, as_version=4)
    return "".join(
        out.get("text", "")
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.get("output_type") == "stream" and out.get("name") == "stdout"
    )


@pytest.fixture
def nbdir(tmp_path: Path) -> Path:
    """Folder with a parameterised notebook and an unnumbered one the runner must ignore."""
    d = tmp_path / "notebooks"
    d.mkdir()
    _write_notebook(
        d / "01_alpha.ipynb",
        [("md", "# Alpha"), ("code", "print(f'x={x} seed={seed} data_dir={data_dir}')")],
        parameters="x = 1\nseed = 0\ndata_dir = None",
    )
    _write_notebook(d / "scratch.ipynb", [("code", "raise RuntimeError('must not run')")])
    return d


@pytest.fixture
def failing(nbdir: Path) -> Path:
    """Add 02_beta (raises ValueError in its fourth cell) and 03_gamma (never reached)."""
    _write_notebook(
        nbdir / "02_beta.ipynb",
        [
            ("md", "# Beta"),
            ("code", "print('before')"),
            ("code", "y = x + 1\nraise ValueError(f'boom {y}')\nprint('unreachable')"),
        ],
        parameters="x = 1",
    )
    _write_notebook(nbdir / "03_gamma.ipynb", [("code", "print('gamma ran')")])
    return nbdir


# --------------------------------------------------------------------------- selection, parameters


def test_discover_ignores_unnumbered(failing: Path) -> None:
    names = [p.name for p in runner.discover_notebooks(failing)]
    assert names == ["01_alpha.ipynb", "02_beta.ipynb", "03_gamma.ipynb"]


@pytest.mark.parametrize(
    ("only", "expected"),
    [
        (None, ["01_alpha", "02_beta", "03_gamma"]),
        (["02"], ["02_beta"]),
        (["02_beta"], ["02_beta"]),
        (["02_beta.ipynb"], ["02_beta"]),
        (["notebooks/02_beta.ipynb"], ["02_beta"]),
        (["03", "01_alpha", "03"], ["01_alpha", "03_gamma"]),  # execution order, no duplicates
    ],
)
def test_select_notebooks(failing: Path, only: list[str] | None, expected: list[str]) -> None:
    selected = runner.select_notebooks(runner.discover_notebooks(failing), only)
    assert [p.stem for p in selected] == expected


@pytest.mark.parametrize("only", [["04"], ["alpha"], ["02_bet"], ["01_alpha.py"]])
def test_select_notebooks_unknown(failing: Path, only: list[str]) -> None:
    with pytest.raises(runner.NotebookSelectionError, match="available: 01_alpha.ipynb"):
        runner.select_notebooks(runner.discover_notebooks(failing), only)


def test_declared_and_filtered_parameters(nbdir: Path) -> None:
    declared = runner.declared_parameters(nbdir / "01_alpha.ipynb")
    assert set(declared) == {"x", "seed", "data_dir"}
    candidates = {"x": 5, "seed": None, "scale": 2.0, "figures_dir": "/f"}
    assert runner.filter_parameters(candidates, declared) == {"x": 5}


def test_standard_parameters_absolute_and_without_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    params = runner.standard_parameters(data_dir="data", seed=7)
    assert params == {"data_dir": str(tmp_path / "data"), "seed": 7}
    assert runner.standard_parameters() == {}


# --------------------------------------------------------------------------- execution


def test_run_injects_only_declared_parameters(nbdir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    source_before = (nbdir / "01_alpha.ipynb").read_bytes()
    results = runner.run_notebooks(
        nbdir, out, parameters={"x": 5, "seed": 42, "scale": 3.0, "data_dir": "/abs/data"}, progress=False
    )
    assert [r.notebook.name for r in results] == ["01_alpha.ipynb"]
    assert results[0].parameters == {"x": 5, "seed": 42, "data_dir": "/abs/data"}
    assert results[0].output_path == out / "01_alpha.ipynb"
    assert _stdout(out / "01_alpha.ipynb") == "x=5 seed=42 data_dir=/abs/data\n"
    executed = nbformat.read(out / "01_alpha.ipynb", as_version=4)
    injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and "scale" not in injected[0].source
    assert (nbdir / "01_alpha.ipynb").read_bytes() == source_before  # the source is untouched


def test_run_without_parameters_keeps_defaults(nbdir: Path, tmp_path: Path) -> None:
    runner.run_notebooks(nbdir, tmp_path / "out", progress=False)
    assert _stdout(tmp_path / "out" / "01_alpha.ipynb") == "x=1 seed=0 data_dir=None\n"


def test_run_failure_report(failing: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(runner.NotebookRunError) as info:
        runner.run_notebooks(failing, out, parameters={"x": 2}, progress=False)
    err = info.value
    assert err.notebook.name == "02_beta.ipynb"
    assert (err.ename, err.evalue) == ("ValueError", "boom 3")
    assert err.cell_index == 3  # parameters, markdown, print, failing cell: index in the source notebook
    assert err.source.startswith("y = x + 1")
    # the partial copy says so in its name; under its own name a notebook is always complete
    assert err.output_path == out / "02_beta.partial.ipynb" and err.output_path.is_file()
    assert not (out / "02_beta.ipynb").exists()
    assert "boom 3" in err.output_path.read_text()
    report = err.report()
    for expected in ("02_beta.ipynb", "index 3", "y = x + 1", "raise ValueError", "ValueError: boom 3", str(out)):
        assert expected in report
    assert (out / "01_alpha.ipynb").is_file()
    assert not (out / "03_gamma.ipynb").exists()  # stopped at the failure
    assert sorted(p.name for p in out.iterdir()) == ["01_alpha.ipynb", "02_beta.partial.ipynb"]  # no temporaries


def test_inplace_writes_clean_notebooks_back(nbdir: Path, tmp_path: Path) -> None:
    results = runner.run_notebooks(nbdir, tmp_path / "out", parameters={"x": 9}, inplace=True, progress=False)
    assert results[0].inplace_path == nbdir / "01_alpha.ipynb"
    nb = nbformat.read(nbdir / "01_alpha.ipynb", as_version=4)
    assert "papermill" not in nb.metadata
    assert all("injected-parameters" not in c.metadata.get("tags", []) for c in nb.cells)
    assert all("papermill" not in c.metadata and "execution" not in c.metadata for c in nb.cells)
    assert [c.metadata.get("tags") for c in nb.cells] == [["parameters"], None, None]
    assert _stdout(nbdir / "01_alpha.ipynb") == "x=9 seed=0 data_dir=None\n"
    # the build copy keeps papermill's record
    assert "papermill" in nbformat.read(tmp_path / "out" / "01_alpha.ipynb", as_version=4).metadata


def test_inplace_leaves_failing_source_untouched(failing: Path, tmp_path: Path) -> None:
    before = (failing / "02_beta.ipynb").read_bytes()
    with pytest.raises(runner.NotebookRunError):
        runner.run_notebooks(failing, tmp_path / "out", inplace=True, progress=False)
    assert (failing / "02_beta.ipynb").read_bytes() == before


def test_clean_executed_notebook() -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["papermill"] = {"duration": 1.0, "parameters": {"x": 2}}
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    params = nbformat.v4.new_code_cell("x = 1", execution_count=1)
    params.metadata.update(tags=["parameters"], papermill={"duration": 0.1}, execution={"iopub.status.busy": "t"})
    injected = nbformat.v4.new_code_cell("# Parameters\nx = 2\n", execution_count=2)
    injected.metadata["tags"] = ["injected-parameters"]
    marker = nbformat.v4.new_markdown_cell("An Exception was encountered")
    marker.metadata["tags"] = ["papermill-error-cell-tag"]
    body = nbformat.v4.new_code_cell("print(x)", execution_count=3)
    body.outputs = [nbformat.v4.new_output("stream", name="stdout", text="2\n")]
    body.metadata.update(tags=[], papermill={"status": "completed"}, collapsed=True)
    nb.cells = [marker, params, injected, body]

    clean = runner.clean_executed_notebook(nb)

    assert [c.source for c in clean.cells] == ["x = 1", "print(x)"]
    assert "papermill" not in clean.metadata and clean.metadata["kernelspec"]["name"] == "python3"
    assert clean.cells[0].metadata == {"tags": ["parameters"]}
    assert clean.cells[1].metadata == {"collapsed": True}
    assert clean.cells[1].outputs[0].text == "2\n" and clean.cells[1].execution_count == 3
    assert len(nb.cells) == 4 and "papermill" in nb.metadata  # input not modified
    nbformat.validate(clean)


# --------------------------------------------------------------------------- command line


def test_cli_run_success(nbdir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    (tmp_path / "d").mkdir()
    argv = ["run", "--notebooks-dir", str(nbdir), "--output-dir", str(out), "--seed", "11", "--no-progress"]
    assert cli.main([*argv, "--data-dir", str(tmp_path / "d"), "--only", "01"]) == 0
    assert _stdout(out / "01_alpha.ipynb") == f"x=1 seed=11 data_dir={tmp_path / 'd'}\n"
    assert "executed 1 notebook(s)" in capsys.readouterr().out


def test_cli_run_failure_exit_code(failing: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["run", "--notebooks-dir", str(failing), "--output-dir", str(tmp_path / "out"), "--no-progress"]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert "notebook failed: 02_beta.ipynb" in err
    assert "index 3" in err and "ValueError: boom 2" in err
    assert str(tmp_path / "out" / "02_beta.partial.ipynb") in err


def test_cli_run_unknown_only(failing: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", "--notebooks-dir", str(failing), "--only", "09", "--no-progress"]) == 2
    assert "no notebook matches 09" in capsys.readouterr().err


def test_cli_run_empty_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A notebooks folder without notebooks (or a typo) is a usage error, said before anything runs."""
    assert cli.main(["run", "--notebooks-dir", str(tmp_path), "--output-dir", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"alsmeds run: no notebooks matching [0-9][0-9]_*.ipynb in {tmp_path}"
    ]
    assert cli.main(["run", "--notebooks-dir", str(tmp_path / "typo"), "--output-dir", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"alsmeds run: no such notebooks folder: {tmp_path / 'typo'}"
    ]
    assert not (tmp_path / "o").exists()


def test_cli_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"alsmeds {__version__}"


def test_cli_requires_a_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main([])
    assert info.value.code == 2


def test_python_dash_m_entry_point() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "alsmeds", "--version"], capture_output=True, text=True, check=False, timeout=60
    )
    assert proc.returncode == 0 and proc.stdout.strip() == f"alsmeds {__version__}"


def _import_or_skip(name: str):
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name == name:
            pytest.skip(f"{name} is not written yet")
        raise


def test_cli_validate_prints_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    validate = _import_or_skip("alsmeds.data.validate")
    seen: list[Path] = []

    class Report:
        def __str__(self) -> str:
            return "registry OK: patients 10 rows"

    def fake_validate(data_dir: Path) -> Report:
        seen.append(Path(data_dir))
        return Report()

    monkeypatch.setattr(validate, "validate_registry", fake_validate)
    assert cli.main(["validate", str(tmp_path)]) == 0
    assert seen == [tmp_path]
    assert "registry OK: patients 10 rows" in capsys.readouterr().out


def test_cli_validate_error_exit_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    validate = _import_or_skip("alsmeds.data.validate")

    def fake_validate(data_dir: Path) -> None:
        raise validate.RegistryValidationError(["patients.csv: column 'sex' missing"])

    monkeypatch.setattr(validate, "validate_registry", fake_validate)
    assert cli.main(["validate", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert "column 'sex' missing" in captured.err and captured.out == ""


def test_cli_validate_real_empty_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _import_or_skip("alsmeds.data.validate")
    _import_or_skip("alsmeds.data.registry")
    assert cli.main(["validate", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert captured.err.strip() and captured.out == ""  # the report goes to stderr


def test_cli_simulate_calls_write_and_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    synthetic = _import_or_skip("alsmeds.estimands.synthetic")
    calls: list[tuple] = []
    monkeypatch.setattr(
        synthetic, "write_synthetic", lambda out, seed, scale: calls.append((out, seed, scale)), raising=False
    )
    assert cli.main(["simulate", "--out", str(tmp_path)]) == 0
    assert cli.main(["simulate", "--out", str(tmp_path), "--seed", "3", "--scale", "0.5"]) == 0
    assert calls == [(tmp_path, None, None), (tmp_path, 3, 0.5)]

    from alsmeds.precision import compare_values

    passed = synthetic.SyntheticCheck([], compare_values({"x": 1.0}, {"x": 1.0 + 1e-12}, "truth.json"), n_files=2)
    monkeypatch.setattr(synthetic, "check_synthetic", lambda d: passed, raising=False)
    assert cli.main(["simulate", "--out", str(tmp_path), "--check"]) == 0
    out = capsys.readouterr().out
    assert "synthetic data verified: 2 files regenerate" in out
    assert "1 float(s) differ within tolerance" in out

    failed = synthetic.SyntheticCheck(["a.csv: checksum differs"])
    monkeypatch.setattr(synthetic, "check_synthetic", lambda d: failed, raising=False)
    assert cli.main(["simulate", "--out", str(tmp_path), "--check"]) == 1
    assert "a.csv: checksum differs" in capsys.readouterr().err

    with pytest.raises(SystemExit) as info:
        cli.main(["simulate", "--check", "--seed", "1"])
    assert info.value.code == 2


def test_ctrl_c_ends_in_one_line_not_a_traceback(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "cmd_validate", interrupted)
    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    for action in parser._subparsers._group_actions[0].choices.values():
        if action.prog.endswith("validate"):
            action.set_defaults(func=interrupted)
    assert cli.main(["validate", "somewhere"]) == cli.EXIT_INTERRUPTED
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["alsmeds validate: interrupted; nothing was half-written"]


def test_a_closed_output_pipe_ends_any_command_quietly(tmp_path: Path) -> None:
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from alsmeds.pipeline import cli\n"
        "def noisy(args):\n"
        "    for _ in range(100000):\n"
        "        print('x' * 100)\n"
        "    return 0\n"
        "cli.cmd_compare = noisy\n"
        "sys.exit(cli.main(['compare', '.']))\n"
    )
    proc = subprocess.run(
        f"'{sys.executable}' -c \"{script}\" | head -1", shell=True, capture_output=True, text=True, cwd=tmp_path
    )
    assert proc.stdout == "x" * 100 + "\n"
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr


# --------------------------------------------------------------------------- the data set of a run


@pytest.fixture
def build_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    """Point the run's data cache at tmp_path and simulate small data sets fast; returns the simulations made."""
    from alsmeds import simulate
    from alsmeds.estimands import synthetic
    from alsmeds.pipeline import datasets

    made: list[tuple] = []

    def write_small(out, seed, scale, progress):
        made.append((seed, scale))
        return simulate.generate(seed=seed, scale=0.02, truth_scale=0).write(out)

    monkeypatch.setattr(datasets, "BUILD_DATA_DIR", tmp_path / "build" / "data")
    monkeypatch.setattr(synthetic, "write_synthetic", write_small)
    return made


def _with_truth(folder: Path, seed: int, scale: float) -> Path:
    folder.mkdir(parents=True)
    (folder / "truth.json").write_text(f'{{"seed": {seed}, "scale": {scale}}}')
    return folder


def test_a_run_simulates_its_data_set_once_into_build(build_data: list[tuple], tmp_path: Path) -> None:
    from alsmeds.pipeline import datasets
    from alsmeds.simulate import DEFAULT_SEED

    prepared = datasets.prepare_run_parameters({"seed": 3, "results_dir": "/r"}, progress=False)
    folder = tmp_path / "build" / "data" / "seed-3_scale-1"
    assert prepared == {"seed": 3, "results_dir": "/r", "data_dir": str(folder)}
    assert (folder / "truth.json").is_file() and (folder.parent / "seed-3_scale-1.source.json").is_file()
    assert datasets.prepare_run_parameters({"seed": 3}, progress=False)["data_dir"] == str(folder)
    assert build_data == [(3, 1.0)]  # the second run reused the folder
    # nothing to simulate: no seed or scale, the committed seed and scale, a matching or real extract
    extract = tmp_path / "extract"
    extract.mkdir()
    matching = _with_truth(tmp_path / "matching", 5, 2.0)
    for parameters in (
        {},
        {"data_dir": "/x"},
        {"seed": DEFAULT_SEED},
        {"seed": DEFAULT_SEED, "scale": 1.0},
        {"seed": 1, "data_dir": str(extract)},  # the notebooks say why a real extract has no seed
        {"seed": 5, "scale": 2.0, "data_dir": str(matching)},
    ):
        assert datasets.prepare_run_parameters(parameters, progress=False) == parameters
    # a synthetic folder of another seed: that seed is simulated
    other = datasets.prepare_run_parameters({"seed": 6, "scale": 2.0, "data_dir": str(matching)}, progress=False)
    assert other["data_dir"] == str(tmp_path / "build" / "data" / "seed-6_scale-2")
    assert build_data == [(3, 1.0), (6, 2.0)]


def test_a_run_simulates_again_when_the_code_changed(
    build_data: list[tuple], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from alsmeds import fingerprint as cache
    from alsmeds.pipeline import datasets

    folder = datasets.materialise_synthetic(4, 0.5, progress=False)
    assert datasets.materialise_synthetic(4, 0.5, progress=False) == folder and len(build_data) == 1
    monkeypatch.setattr(cache, "code_fingerprint", lambda: "edited")
    assert datasets.materialise_synthetic(4, 0.5, progress=False) == folder and len(build_data) == 2
    (folder / "persons.csv").write_text("person_id\n")  # a damaged folder is not reused either
    datasets.materialise_synthetic(4, 0.5, progress=False)
    assert len(build_data) == 3


def test_code_fingerprint_follows_the_sources(tmp_path: Path) -> None:
    from alsmeds.fingerprint import code_fingerprint

    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "notes.txt").write_text("not code")
    first = code_fingerprint(tmp_path)
    assert len(first) == 64 and code_fingerprint(tmp_path) == first
    (tmp_path / "notes.txt").write_text("still not code")
    assert code_fingerprint(tmp_path) == first
    (tmp_path / "a.py").write_text("x = 2\n")
    assert code_fingerprint(tmp_path) != first


def test_run_passes_the_simulated_folder_to_every_notebook(build_data: list[tuple], tmp_path: Path) -> None:
    d = tmp_path / "nbs"
    d.mkdir()
    for name in ("01_a.ipynb", "02_b.ipynb"):
        _write_notebook(d / name, [("code", "print(data_dir)")], parameters="seed = None\ndata_dir = None")
    runner.run_notebooks(d, tmp_path / "out", parameters={"seed": 8}, progress=False)
    folder = tmp_path / "build" / "data" / "seed-8_scale-1"
    assert _stdout(tmp_path / "out" / "01_a.ipynb") == _stdout(tmp_path / "out" / "02_b.ipynb") == f"{folder}\n"
    assert build_data == [(8, 1.0)]


# ----------------------------------------------------------------------------- alsmeds site


def _fake_mathjax(folder: Path) -> Path:
    """A folder with the files and folders of MathJax 2 that the site copies (stubs)."""
    from alsmeds.pipeline import site

    for part in site.MATHJAX_PARTS:
        target = folder / part
        if target.suffix == ".js":
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text("/* stub */\n")
        else:
            target.mkdir(parents=True, exist_ok=True)
            (target / "stub.js").write_text("/* stub */\n")
    return folder


def test_cli_site_builds_a_small_site(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nbdir = tmp_path / "notebooks"
    nbdir.mkdir()
    _write_notebook(nbdir / "01_alpha.ipynb", [("md", "# 01 · Alpha\n\nWhat is alpha?"), ("code", "1 + 1")])
    out = tmp_path / "site"
    code = cli.main(
        [
            "site",
            "--out",
            str(out),
            "--notebooks-dir",
            str(nbdir),
            "--figures-dir",
            str(tmp_path / "none"),
            "--results-dir",
            str(tmp_path),
            "--mathjax",
            str(_fake_mathjax(tmp_path / "mathjax")),
            "--no-progress",
        ]
    )
    captured = capsys.readouterr()
    assert code == cli.EXIT_OK, captured.err
    assert "site built" in captured.out and str(out / "index.html") in captured.out
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "What is alpha?" in index and "reproduction.csv" in index and "does not exist" in index
    assert (out / "notebooks" / "01_alpha.html").is_file()
    assert (tmp_path / "site-src" / "index.md").is_file()


@pytest.mark.parametrize("problem", ["no notebooks", "not a site", "no mathjax"])
def test_cli_site_usage_errors_exit_2(problem: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nbdir = tmp_path / "notebooks"
    nbdir.mkdir()
    if problem != "no notebooks":
        _write_notebook(nbdir / "01_alpha.ipynb", [("md", "# 01 · Alpha")])
    out = tmp_path / "out"
    out.mkdir()
    if problem == "not a site":
        (out / "notes.txt").write_text("keep me")
    mathjax = tmp_path / "mathjax"
    if problem == "no mathjax":
        mathjax.mkdir()  # empty: no MathJax.js
    else:
        _fake_mathjax(mathjax)
    args = ["site", "--out", str(out), "--notebooks-dir", str(nbdir), "--mathjax", str(mathjax), "--no-progress"]
    assert cli.main(args) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    expected = {"no notebooks": "no notebooks matching", "not a site": "not written by", "no mathjax": "MathJax"}
    assert err.startswith("alsmeds site: ") and expected[problem] in err
    if problem == "not a site":
        assert (out / "notes.txt").read_text() == "keep me"


def test_cli_site_ctrl_c(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from alsmeds.pipeline import site

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(site, "build_site", interrupted)
    assert cli.main(["site"]) == cli.EXIT_INTERRUPTED
    assert "alsmeds site: interrupted" in capsys.readouterr().err


def test_simstudy_is_a_subcommand(capsys):
    """``alsmeds simstudy`` reaches the study's own argument checks (the study itself: tests/test_simstudy.py)."""
    from alsmeds.pipeline.cli import main

    assert main(["simstudy", "--reps", "0"]) == 2
    assert "--reps and --workers must be at least 1" in capsys.readouterr().err


def test_simstudy_subcommands_reach_the_simulation_study(capsys, monkeypatch):
    """``alsmeds simstudy export|calibration ...`` run the simulation study's own subcommands."""
    from alsmeds.pipeline.cli import main
    from alsmeds.simstudy import cli as simstudy_cli

    seen = []
    monkeypatch.setattr(simstudy_cli, "main", lambda argv: seen.append(list(argv)) or 0)
    assert main(["simstudy", "export", "--format", "rsimsum", "out.csv"]) == 0
    assert main(["simstudy", "calibration", "--reps", "2"]) == 0
    assert seen == [["export", "--format", "rsimsum", "out.csv"], ["calibration", "--reps", "2"]]
