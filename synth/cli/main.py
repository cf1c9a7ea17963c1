"""The `synth` command line. `synth --help` (and `--help` on each command) is the manual.

Exit codes: 0 success, 1 a gate failed (the data should not be released as is),
2 a user error (bad config, data or arguments), with a one-paragraph explanation.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from synth.errors import SynthUserError

app = typer.Typer(
    name="synth",
    help="Synthetic clinical data with an honest audit: generate, audit for fidelity, utility, fairness "
    "and privacy, and write an HTML report a data steward can sign off on.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
datasets_app = typer.Typer(help="Built-in real clinical datasets.", no_args_is_help=True)
generators_app = typer.Typer(help="Installed generator plugins.", no_args_is_help=True)
audits_app = typer.Typer(help="Installed audit plugins.", no_args_is_help=True)
config_app = typer.Typer(help="The run config format.", no_args_is_help=True)
data_app = typer.Typer(help="Build tables from clinical databases.", no_args_is_help=True)
app.add_typer(datasets_app, name="datasets")
app.add_typer(generators_app, name="generators")
app.add_typer(audits_app, name="audits")
app.add_typer(config_app, name="config")
app.add_typer(data_app, name="data")

out = Console()
err = Console(stderr=True)
T = TypeVar("T")

EXIT_OK, EXIT_GATE_FAILED, EXIT_USER_ERROR = 0, 1, 2


@contextmanager
def _user_errors() -> Iterator[None]:
    """Turn a SynthUserError into its message on stderr and exit code 2 (no traceback)."""
    try:
        yield
    except SynthUserError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False, markup=True, soft_wrap=True)
        raise typer.Exit(EXIT_USER_ERROR) from None


def _with_status(fn: Callable[[Callable[[str], None]], T]) -> T:
    with err.status("starting", spinner="dots") as status:
        return fn(lambda msg: status.update(msg))


def _print_verdict(result: Any, where: Path | None) -> int:
    table = Table(title="Gates", show_lines=False)
    for col in ("gate", "observed", "result"):
        table.add_column(col)
    for g in result.gates:
        observed = "—" if g.observed is None else f"{g.observed:.4g}"
        verdict = "[green]pass[/]" if g.passed else f"[red]FAIL[/]{' (' + g.error + ')' if g.error else ''}"
        table.add_row(g.expression + (" (default)" if g.default else ""), observed, verdict)
    out.print(table)
    if where is not None:
        out.print(f"outputs in [bold]{where}[/]")
    if result.passed:
        out.print("[bold green]PASSED[/]: every gate passed.")
        return EXIT_OK
    out.print("[bold red]FAILED[/]: at least one gate failed; read the report before releasing this data.")
    return EXIT_GATE_FAILED


@app.command()
def generate(
    config: Annotated[Path, typer.Option("--config", "-c", help="YAML run config (see `synth config schema`).")],
    output_dir: Annotated[Path | None, typer.Option("--out", help="Output folder (overrides output.dir).")] = None,
) -> None:
    """Fit the configured generator, sample synthetic data, audit it and write the report.

    Writes synthetic.csv/.parquet, result.json, report.html and manifest.json into the
    output folder. Exit code 1 when a gate fails, 2 on a config or data error.
    """
    from synth.pipeline import generate as run

    with _user_errors():
        res = _with_status(lambda say: run(config, output_dir=output_dir, progress=say))
    if res.result is None:
        out.print(f"synthetic data written to [bold]{res.output_dir}[/] (auditing switched off)")
        raise typer.Exit(EXIT_OK)
    raise typer.Exit(_print_verdict(res.result, res.output_dir))


@app.command()
def audit(
    real: Annotated[str, typer.Option("--real", help="Real training table (CSV/Parquet or builtin:NAME).")],
    synthetic: Annotated[str, typer.Option("--synthetic", help="Synthetic table to audit.")],
    holdout: Annotated[str | None, typer.Option("--holdout", help="Real rows the generator never saw.")] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="Config for roles, audits and gates.")] = None,
    target: Annotated[str | None, typer.Option(help="Outcome column.")] = None,
    sensitive: Annotated[str | None, typer.Option(help="Comma-separated sensitive columns.")] = None,
    output_dir: Annotated[Path, typer.Option("--out", help="Folder for result.json, report.html, manifest.json.")] = Path(
        "synth-audit"
    ),
    seed: Annotated[int | None, typer.Option(help="Seed for the audits' randomness.")] = None,
) -> None:
    """Audit an existing synthetic table against the real training data and a holdout.

    Without gates in a config, conservative default privacy gates apply. Exit code 1
    when a gate fails, 2 on a user error.
    """
    from synth.pipeline import audit as run

    with _user_errors():
        result = _with_status(
            lambda say: run(
                real=real, synthetic=synthetic, holdout=holdout, config=config, target=target,
                sensitive=[s.strip() for s in sensitive.split(",")] if sensitive else None, seed=seed,
                output_dir=output_dir, progress=say,
            )
        )
    raise typer.Exit(_print_verdict(result, output_dir))


@app.command()
def report(
    result_json: Annotated[Path, typer.Argument(help="A result.json written by synth.")],
    output: Annotated[Path | None, typer.Option("--out", help="HTML file (default: report.html beside it).")] = None,
) -> None:
    """Render (again) the HTML report of a result.json."""
    from synth.reports import write_report

    with _user_errors():
        if not result_json.is_file():
            raise SynthUserError(f"'{result_json}' does not exist. Pass the result.json of a synth run.")
        try:
            data = json.loads(result_json.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise SynthUserError(f"'{result_json}' is not valid JSON ({exc}). Pass the result.json of a synth run.") from None
        if not isinstance(data, dict) or data.get("schema_version") != 1 or "sections" not in data:
            raise SynthUserError(
                f"'{result_json}' is not a synth result (expected schema_version 1 with 'sections'). "
                "Pass the result.json that `synth generate` or `synth audit` wrote."
            )
        target = output or result_json.with_name("report.html")
        write_report(data, target)
    out.print(f"report written to [bold]{target}[/]")


@datasets_app.command("list")
def datasets_list() -> None:
    """List the built-in real datasets (use them as data.source: builtin:NAME)."""
    from synth.data.datasets import list_datasets

    table = Table()
    table.add_column("source", no_wrap=True)
    for col in ("rows", "columns", "target", "sensitive", "title"):
        table.add_column(col)
    for d in list_datasets():
        table.add_row(f"builtin:{d.name}", str(d.rows if d.rows is not None else "—"), str(d.columns),
                      d.target or "—", ", ".join(d.sensitive) or "—", d.title)
    out.print(table)


@generators_app.command("list")
def generators_list() -> None:
    """List generator plugins with their parameters and defaults."""
    from synth.registry import generator_class, generator_names

    for name in generator_names():
        cls = generator_class(name)
        out.print(f"[bold]{name}[/]  {cls.description}")
        for pname, field in cls.Params.model_fields.items():
            default = field.default if field.default is not None or not field.is_required() else "required"
            out.print(f"    {pname} = {default!r}  {field.description or ''}", highlight=False)


@audits_app.command("list")
def audits_list() -> None:
    """List audit plugins, their parameters and the metrics gates can use."""
    from synth.audits.runner import audit_parameters
    from synth.registry import audit_class, audit_names

    for name in audit_names():
        cls = audit_class(name)
        out.print(f"[bold]{name}[/] ({cls.family})  {cls.title}")
        params = ", ".join(f"{k}={v!r}" for k, v in audit_parameters(cls).items())
        out.print(f"    parameters: {params or '(none)'}", highlight=False)
        out.print(f"    metrics: {', '.join(cls.provides) or '(none)'}", highlight=False)


@config_app.command("schema")
def config_schema() -> None:
    """Print the JSON Schema of the run config."""
    from synth.config import config_json_schema

    print(json.dumps(config_json_schema(), indent=2))


@data_app.command("mimic-iv")
def data_mimic_iv(
    root: Annotated[Path, typer.Option("--root", help="MIMIC-IV folder with hosp/ and icu/ (csv.gz as shipped).")],
    out_path: Annotated[Path, typer.Option("--out", help="Cohort Parquet file to write.")],
) -> None:
    """Extract one row per ICU stay (demographics, first-24h vitals and labs, outcomes) with DuckDB."""
    from synth.data.mimic_iv import extract_mimic_iv_cohort

    with _user_errors():
        cohort = _with_status(lambda say: (say("extracting the MIMIC-IV cohort"), extract_mimic_iv_cohort(root, out_path))[1])
    out.print(f"{len(cohort)} ICU stays x {cohort.shape[1]} columns written to [bold]{out_path}[/]")


def main() -> None:  # pragma: no cover - console-script shim
    app()
