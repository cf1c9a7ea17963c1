"""The `synth` command line. `synth --help` (and `--help` on each command) is the manual.

Exit codes: 0 success (every gate passed), 1 a gate failed (the data should not be
released as is), 2 a user error (bad config, data, paths or arguments) explained in one
paragraph, 3 an internal error (a bug in synth or a plugin: an audit that crashed, an
exception nobody expected): one paragraph and the file holding the traceback.
User text (keys, column names, paths, messages) is printed as plain text, never as
rich markup, so a ``[/x]`` in a column name prints as it is.

Output adapts to where it goes: on a terminal, a spinner shows the current stage and
listings are tables; in a pipe or a CI log, each stage is one plain line on stderr with
the elapsed time, and listings are plain lines that are never cut to a terminal width.
A closed pipe (``synth config schema | head``) ends the command quietly with exit code 0.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from synth.errors import InternalError, SynthUserError

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

class _Console(Console):
    def on_broken_pipe(self) -> None:
        """The reader went away (``synth ... | head``): stop printing, keep going, keep the exit code.

        Rich's default exits with code 1, which would turn a listing into a failure and a
        failed gate's 1 into something a pipeline cannot tell apart.
        """
        self.quiet = True
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, (sys.stderr if self.stderr else sys.stdout).fileno())


out = _Console()
err = _Console(stderr=True)
T = TypeVar("T")

EXIT_OK, EXIT_GATE_FAILED, EXIT_USER_ERROR, EXIT_INTERNAL_ERROR = 0, 1, 2, 3
EXIT_INTERRUPTED = 130  # the shell's code for SIGINT
DEBUG_ENV = "SYNTH_DEBUG"  # set to 1 to let an internal error raise with its traceback


def _error(label: str, text: str) -> None:
    """One paragraph on stderr: a red label, then ``text`` as plain text (no markup parsing)."""
    err.print(Text.assemble((f"{label}: ", "bold red"), text), highlight=False, soft_wrap=True)


def _crash_log(command: str, exc: BaseException) -> Path | None:
    """Write the traceback of ``exc`` to a private file in the temp folder; its path, or None if that failed."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    try:
        fd, name = tempfile.mkstemp(prefix=f"synth-crash-{stamp}-", suffix=".log")  # mode 0600: may hold data values
        from synth import __version__

        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(f"synth {__version__}, command: synth {command}, python {sys.version.split()[0]}\n")
            fh.write(f"argv: {sys.argv!r}\n\n")
            fh.write("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
        return Path(name)
    except OSError:
        return None


def _where_raised(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    last = frames[-1]
    return f" in {Path(last.filename).name}:{last.lineno} ({last.name})"


@contextmanager
def _guarded(command: str) -> Iterator[None]:
    """Map what escapes a command to its exit code, each with one paragraph and no traceback.

    A user mistake (:class:`SynthUserError`) exits 2 with its message. Anything else is an
    internal error: exit 3, a paragraph naming the exception type and where it was raised
    (not its message, which may quote data values), and the file holding the traceback.
    Ctrl-C exits 130.
    """
    try:
        yield
    except typer.Exit:  # a deliberate exit (click's Exit is a RuntimeError): not a crash
        raise
    except SynthUserError as exc:
        _error("error", str(exc))
        raise typer.Exit(EXIT_USER_ERROR) from None
    except KeyboardInterrupt:
        _error("interrupted", "stopped by the user (Ctrl-C); no output of this run was written.")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except Exception as exc:  # every other exception is a bug, reported as such
        if os.environ.get(DEBUG_ENV):
            raise
        log = _crash_log(command, exc)
        what = str(exc) if isinstance(exc, InternalError) else f"{type(exc).__name__}{_where_raised(exc)}"
        if isinstance(exc, MemoryError):
            what = "the machine ran out of memory (MemoryError): use fewer rows or a machine with more memory"
        details = f"The traceback is in {log}." if log else "The traceback could not be saved."
        _error(
            "internal error",
            f"synth failed: {what}. This is not a mistake in your config or data, and not a verdict on the data; "
            f"no output of this run was written. {details} Please report it with that file (rerun with "
            f"{DEBUG_ENV}=1 to see the traceback here). Exit code {EXIT_INTERNAL_ERROR}.",
        )
        raise typer.Exit(EXIT_INTERNAL_ERROR) from None


def _with_status(fn: Callable[[Callable[[str], None]], T]) -> T:
    """Run ``fn(say)``; ``say(stage)`` shows progress: a spinner on a terminal, else one line per stage.

    Long numerics (nearest-neighbour searches, bootstrap replicates) report their shards too:
    a live bar with rows/s on the status line, or a plain line every few seconds in a log.
    """
    from synth.execution.progress import BarTracker, LineTracker, use_progress

    if err.is_terminal:
        with err.status("starting", spinner="dots") as status:
            stage = ["starting"]

            def show(msg: str) -> None:
                stage[0] = msg
                status.update(Text(msg))

            def bar(label: str, total: int, shards: int) -> BarTracker:
                return BarTracker(lambda line: status.update(Text(line)), f"{stage[0]} | {label}", total, shards,
                                  restore=stage[0])

            with use_progress(bar):
                return fn(show)
    started = time.perf_counter()

    def say(msg: str) -> None:
        # Plain lines for CI logs and pipelines, which see nothing of a spinner.
        print(f"synth [{time.perf_counter() - started:7.1f} s] {msg}", file=sys.stderr, flush=True)

    with use_progress(lambda label, total, shards: LineTracker(say, label, total, shards)):
        return fn(say)


_ENGINE_HELP = ("Where the audits' heavy numerics run: local (this process) or ray (shards as Ray tasks on the "
                "cluster named by execution.address in the config; a private local one by default). Overrides "
                "execution.engine.")


@contextmanager
def _closed_pipe_is_fine() -> Iterator[None]:
    """``synth ... | head``: a reader that stops early is not an error (exit 0, no traceback)."""
    try:
        yield
    except BrokenPipeError:
        # Point stdout at /dev/null so the interpreter's final flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise typer.Exit(EXIT_OK) from None


def _show_table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """A table on a terminal; in a pipe, one tab-separated line per row (header first), never cut."""
    with _closed_pipe_is_fine():
        if out.is_terminal:
            table = Table(title=title)
            for col in columns:
                table.add_column(col, overflow="fold")
            for row in rows:
                table.add_row(*row)
            out.print(table)
            return
        for row in [list(columns), *rows]:
            print("\t".join(_plain(cell) for cell in row))
        sys.stdout.flush()


def _plain(text: str) -> str:
    """Rich markup of a table cell as plain text."""
    from rich.text import Text

    return Text.from_markup(text).plain


def _display_path(path: Path) -> str:
    """``examples/../runs/quickstart`` -> ``runs/quickstart`` (relative to here when below it)."""
    resolved = Path(os.path.abspath(path))
    try:
        return str(resolved.relative_to(Path.cwd()))
    except ValueError:
        return str(resolved)


def _print_verdict(result: Any, where: Path | None) -> int:
    rows = []
    for g in result.gates:  # cells are rich markup: user text is escaped
        observed = "—" if g.observed is None else f"{g.observed:.4g}"
        verdict = "[green]pass[/]" if g.passed else f"[red]FAIL[/]{' (' + escape(g.error) + ')' if g.error else ''}"
        rows.append([escape(g.expression) + (" (default)" if g.default else ""), observed, verdict])
    _show_table("Gates", ("gate", "observed", "result"), rows)
    if where is not None:
        out.print(Text.assemble("outputs in ", (_display_path(where), "bold")), soft_wrap=True)
    crashed = [s for s in result.sections if s.error is not None]
    if crashed:
        names = ", ".join(s.audit for s in crashed)
        _error(
            "internal error",
            f"the audit(s) {names} crashed ({crashed[0].error.splitlines()[0][:200]}). The outputs are written and "
            "the report marks the missing evidence, but this is a bug, not a verdict on the data: report it, "
            f"or run without {'that audit' if len(crashed) == 1 else 'those audits'} (audit.audits). "
            f"Exit code {EXIT_INTERNAL_ERROR}.",
        )
        return EXIT_INTERNAL_ERROR
    if result.passed:
        out.print("[bold green]PASSED[/]: every gate passed.")
        return EXIT_OK
    out.print("[bold red]FAILED[/]: at least one gate failed; read the report before releasing this data.")
    return EXIT_GATE_FAILED


@app.command()
def generate(
    config: Annotated[Path, typer.Option("--config", "-c", help="YAML run config (see `synth config schema`).")],
    output_dir: Annotated[str | None, typer.Option("--out", help="Output folder (overrides output.dir).")] = None,
    engine: Annotated[str | None, typer.Option("--engine", help=_ENGINE_HELP)] = None,
) -> None:
    """Fit the configured generator, sample synthetic data, audit it and write the report.

    Writes synthetic.csv/.parquet, result.json, report.html and manifest.json into the
    output folder. Exit code 0 when every gate passes, 1 when a gate fails, 2 on a config,
    data or path error, 3 on an internal error.
    """
    with _guarded("generate"):
        from synth.config import load_config

        load_config(config)  # config mistakes surface before the heavy imports below
        from synth.pipeline import generate as run

        _check_engine(engine)
        res = _with_status(lambda say: run(config, output_dir=output_dir, progress=say, engine=engine))
        if res.result is None:
            out.print(Text.assemble("synthetic data written to ", (_display_path(res.output_dir), "bold"),
                                    " (auditing switched off)"), soft_wrap=True)
            code = EXIT_OK
        else:
            code = _print_verdict(res.result, res.output_dir)
    raise typer.Exit(code)


@app.command()
def audit(
    real: Annotated[str, typer.Option("--real", help="Real training table (CSV/Parquet or builtin:NAME).")],
    synthetic: Annotated[str, typer.Option("--synthetic", help="Synthetic table to audit.")],
    holdout: Annotated[str | None, typer.Option(
        "--holdout",
        help="Real rows from the same population that the generator never saw (e.g. the rows you held out before "
        "training). The privacy, membership, utility and fairness audits compare against them, so the default "
        "privacy gates need them; without --holdout only the fidelity audits run, and a gate on any other metric "
        "is an error (exit 2) before the audit starts.")] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="Config for roles, audits and gates.")] = None,
    target: Annotated[str | None, typer.Option(help="Outcome column.")] = None,
    sensitive: Annotated[str | None, typer.Option(help="Comma-separated sensitive columns.")] = None,
    output_dir: Annotated[str, typer.Option("--out", help="Folder for result.json, report.html, manifest.json.")] = (
        "synth-audit"
    ),
    seed: Annotated[int | None, typer.Option(help="Seed for the audits' randomness.")] = None,
    engine: Annotated[str | None, typer.Option("--engine", help=_ENGINE_HELP)] = None,
) -> None:
    """Audit an existing synthetic table against the real training data and a holdout.

    Without gates in a config, conservative default privacy gates apply; they need
    --holdout. Exit code 0 when every gate passes, 1 when a gate fails, 2 on a user error
    (a missing holdout included), 3 on an internal error.
    """
    with _guarded("audit"):
        if config is not None:
            from synth.config import load_config

            load_config(config, require_data=False)  # config mistakes surface before the heavy imports below
        from synth.pipeline import audit as run

        _check_engine(engine)
        result = _with_status(
            lambda say: run(
                real=real, synthetic=synthetic, holdout=holdout, config=config, target=target,
                sensitive=[s.strip() for s in sensitive.split(",")] if sensitive else None, seed=seed,
                output_dir=output_dir, progress=say, engine=engine,
            )
        )
        code = _print_verdict(result, Path(output_dir))
    raise typer.Exit(code)


def _check_engine(engine: str | None) -> None:
    if engine not in (None, "local", "ray"):
        raise SynthUserError(f"--engine {engine!r} is not an engine: use local or ray.")


@app.command()
def report(
    result_json: Annotated[list[Path], typer.Argument(
        help="A result.json written by synth; give two to compare the runs side by side.", show_default=False)],
    output: Annotated[str | None, typer.Option(
        "--out", help="HTML file (default: report.html beside the result; compare.html here for two).")] = None,
    audience: Annotated[str, typer.Option(
        "--audience", help="steward: everything, including per-record results (the default). public: aggregates "
        "only, to publish with a released data set.")] = "steward",
) -> None:
    """Render (again) the HTML report of a result.json, or compare two runs.

    `synth report a/result.json b/result.json --out compare.html` puts two runs (say CTGAN
    and a Gaussian copula on the same split) side by side, metric by metric: which is
    better, and whether the intervals overlap.
    """
    with _guarded("report"):
        from synth.outputs import check_output_file
        from synth.reports import AUDIENCES, write_compare, write_report

        if audience not in AUDIENCES:
            raise SynthUserError(f"--audience {audience!r} is not known: use steward or public.")
        if len(result_json) > 2:
            raise SynthUserError(f"Give one result.json to render or two to compare; got {len(result_json)}.")
        for path in result_json:
            if not path.exists():
                raise SynthUserError(f"'{path}' does not exist. Pass the result.json of a synth run.")
        default = Path("compare.html") if len(result_json) == 2 else result_json[0].with_name("report.html")
        target = check_output_file(output if output is not None else default, "--out", inputs=result_json)
        results = [_read_result(p) for p in result_json]
        if len(results) == 2:
            if audience != "steward":
                raise SynthUserError("--audience applies to a single report; a comparison shows aggregates only.")
            write_compare(results[0], results[1], target, labels=(str(result_json[0]), str(result_json[1])))
        else:
            write_report(results[0], target, audience=audience)  # type: ignore[arg-type]
    out.print(Text.assemble(f"{'comparison' if len(results) == 2 else 'report'} written to ",
                            (_display_path(target), "bold")), soft_wrap=True)


def _read_result(path: Path) -> dict[str, Any]:
    """A result.json as a dict, checked (:func:`synth.result.load_result_json`) before anything renders it."""
    from synth.result_file import load_result_json

    return load_result_json(path)


@datasets_app.command("list")
def datasets_list() -> None:
    """List the built-in real datasets (use them as data.source: builtin:NAME)."""
    with _guarded("datasets list"):
        _datasets_table()


def _datasets_table() -> None:
    from synth.data.datasets import list_datasets

    _show_table(None, ("source", "rows", "columns", "target", "sensitive", "title"), [
        [escape(cell) for cell in (f"builtin:{d.name}", str(d.rows if d.rows is not None else "—"), str(d.columns),
                                   d.target or "—", ", ".join(d.sensitive) or "—", d.title)]
        for d in list_datasets()
    ] + [
        ["builtin:mimic-cxr-jpg", "—", "20", "—", "—", "MIMIC-CXR-JPG images (data.root: your folder)"],
        ["builtin:cxr-phantom", "—", "20", "—", "—",
         "in-silico phantom chest X-rays, made offline into data.root (data.phantom)"],
    ])


@generators_app.command("list")
def generators_list() -> None:
    """List generator plugins with their parameters and defaults."""
    from synth.registry import generator_class, generator_names

    with _guarded("generators list"), _closed_pipe_is_fine():
        for name in generator_names():
            cls = generator_class(name)
            out.print(f"[bold]{escape(name)}[/]  {escape(str(cls.description))}", soft_wrap=True)
            for pname, field in cls.Params.model_fields.items():
                # a default_factory leaves field.default as PydanticUndefined: ask pydantic for the value
                default = "required" if field.is_required() else repr(field.get_default(call_default_factory=True))
                out.print(Text(f"    {pname} = {default}  {field.description or ''}"), highlight=False,
                          soft_wrap=True)


@audits_app.command("list")
def audits_list() -> None:
    """List audit plugins, their parameters and the metrics gates can use."""
    from synth.audits.runner import audit_parameters
    from synth.registry import audit_class, audit_names

    with _guarded("audits list"), _closed_pipe_is_fine():
        for name in audit_names():
            cls = audit_class(name)
            out.print(f"[bold]{escape(name)}[/] ({escape(str(cls.family))})  {escape(str(cls.title))}", soft_wrap=True)
            params = ", ".join(f"{k}={v!r}" for k, v in audit_parameters(cls).items())
            out.print(Text(f"    parameters: {params or '(none)'}"), highlight=False, soft_wrap=True)
            out.print(Text(f"    metrics: {', '.join(cls.provides) or '(none)'}"), highlight=False, soft_wrap=True)


@config_app.command("schema")
def config_schema() -> None:
    """Print the JSON Schema of the run config."""
    from synth.config import config_json_schema

    with _guarded("config schema"), _closed_pipe_is_fine():
        print(json.dumps(config_json_schema(), indent=2))
        sys.stdout.flush()


@data_app.command("mimic-iv")
def data_mimic_iv(
    root: Annotated[Path, typer.Option("--root", help="MIMIC-IV folder with hosp/ and icu/ (csv.gz as shipped).")],
    out_path: Annotated[str, typer.Option("--out", help="Cohort Parquet file to write.")],
) -> None:
    """Extract one row per ICU stay (demographics, first-24h vitals and labs, outcomes) with DuckDB."""
    with _guarded("data mimic-iv"):
        from synth.data.mimic_iv import extract_mimic_iv_cohort
        from synth.outputs import check_output_file

        target = check_output_file(out_path, "--out")
        cohort = _with_status(
            lambda say: (say("extracting the MIMIC-IV cohort"), extract_mimic_iv_cohort(root, target))[1])
    out.print(Text.assemble(f"{len(cohort)} ICU stays x {cohort.shape[1]} columns written to ",
                            (_display_path(target), "bold")), soft_wrap=True)


@data_app.command("cxr-phantom")
def data_cxr_phantom(
    n: Annotated[int, typer.Option("--n", help="Number of images (one frontal image per study, 1-4 studies a patient).")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write (MIMIC-CXR-JPG layout); must not exist or be empty.")],
    seed: Annotated[int, typer.Option(help="Seed: the same arguments give the same bytes.")] = 0,
    size: Annotated[int, typer.Option(help="Image size in pixels.")] = 256,
    marker: Annotated[str, typer.Option(help="De-identification marker in the reports: ___ or XXXX.")] = "___",
    ap_share: Annotated[float, typer.Option("--ap-share", help="Share of AP (portable) films.")] = 0.5,
) -> None:
    """Write an in-silico phantom chest X-ray set (images, reports, CheXpert labels) offline.

    Frontal radiographs with lungs, heart, mediastinum, diaphragm, ribs and clavicles, and the
    findings cardiomegaly, pleural effusion, pneumothorax, consolidation and support devices,
    each with a radiology report; read it with data.source builtin:mimic-cxr-jpg and data.root.
    """
    from rich.progress import Progress

    from synth.data.images.phantom import make_cxr_phantom

    with _guarded("data cxr-phantom"):
        from pydantic import ValidationError

        from synth.config.model import PhantomConfig
        from synth.errors import ConfigError

        try:  # the same ranges as data.phantom in a config
            PhantomConfig(n=n, size=size, seed=seed, marker=marker, ap_share=ap_share)
        except ValidationError as exc:
            first = exc.errors()[0]
            option = "--" + str(first["loc"][0]).replace("_", "-")
            raise ConfigError(f"{option}: {first['msg']} (got {first.get('input')!r}).") from None
        with Progress(console=err, transient=True) as bar:
            task = bar.add_task("rendering phantom radiographs", total=n)
            make_cxr_phantom(out_dir, n, seed=seed, size=size, marker=marker, ap_share=ap_share,
                             progress=lambda done, total: bar.update(task, completed=done))
    out.print(f"{n} phantom chest X-rays written to [bold]{_display_path(out_dir)}[/] (MIMIC-CXR-JPG layout)",
              soft_wrap=True)


def main() -> None:  # pragma: no cover - console-script shim
    app()
