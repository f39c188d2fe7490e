"""``sessionary sessions autoname``: name every unnamed session of a store."""

from __future__ import annotations

import json
import sys

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from sessionary.models.base import Model
from sessionary.naming.batch import BatchReport, autoname_many, find_candidates
from sessionary.naming.pipeline import default_policy
from sessionary.plugins.manager import get_plugin_host
from sessionary.resolve import get_model
from sessionary_cli.errors import ExitCode, handle_errors
from sessionary_cli.options import db_option, json_option, open_store

__all__ = ["autoname"]


@click.command("autoname")
@db_option
@click.option(
    "--model",
    "model_spec",
    metavar="PROVIDER:ID",
    help="Ask this model for names, e.g. openai:gpt-5-mini. Without it the offline "
    "fallbacks name the sessions.",
)
@click.option("--user", "user_id", help="Only this user's sessions.")
@click.option(
    "--all",
    "include_named",
    is_flag=True,
    help="Also rename sessions named by a model or a fallback (manual names are always kept).",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 64),
    default=4,
    show_default=True,
    help="Sessions named at once.",
)
@click.option(
    "--max-model-failures",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    metavar="N",
    help="Stop when the model failed this many times before it named any session.",
)
@json_option
@handle_errors
def autoname(
    db_url: str | None,
    model_spec: str | None,
    user_id: str | None,
    include_named: bool,
    concurrency: int,
    max_model_failures: int,
    as_json: bool,
) -> None:
    """Name the unnamed sessions of a store, with a progress bar and a summary.

    Each session is named from its first messages through the naming pipeline (the
    installed guardrails and fallbacks). A name a person gave is always kept, and one a
    model gave is replaced only by the model's new answer, never by a fallback's: when
    the model fails, it is kept and the failure reported. A batch whose model fails
    --max-model-failures times before it named anything stops. The exit code is 1 if
    any session failed, or (with --model) could not be named by the model. Run twice,
    the second run finds nothing left to name.
    """
    model: Model | None = get_model(model_spec) if model_spec else None
    pipeline = default_policy().resolve()
    events = get_plugin_host().hook
    out = Console()
    err = Console(stderr=True)
    with open_store(db_url) as store:
        candidates = find_candidates(store, user_id=user_id, include_named=include_named)
        if not candidates:
            if as_json:
                click.echo(json.dumps(BatchReport().as_dict(), indent=2))
            else:
                out.print("Nothing to name: every session already has a name.")
            return
        source = f"model {model.label}" if model is not None else "the offline fallbacks"
        err.print(
            f"Naming {len(candidates)} session(s) with {source}, {concurrency} at a time.",
            highlight=False,
        )
        progress = Progress(
            TextColumn("naming"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=False,
        )
        with progress:
            task = progress.add_task("naming", total=len(candidates))
            report = autoname_many(
                store,
                candidates,
                model=model,
                pipeline=pipeline,
                user_id=user_id,
                include_named=include_named,
                concurrency=concurrency,
                events=events,
                on_done=lambda _sid, _result: progress.advance(task),
                stop_after_model_failures=max_model_failures if model is not None else None,
            )
    if as_json:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        out.print(summary_table(report))
    for reason, count in report.model_failure_reasons.most_common(3):
        err.print(f"model answer not used ({count}x): {reason}", highlight=False, markup=False)
    for failure in report.failures:
        err.print(f"failed: {failure.session_id}: {failure.error}", highlight=False, markup=False)
    if report.not_attempted:
        err.print(
            f"stopped: the model failed {report.model_failures} time(s) before it named any "
            f"session; {report.not_attempted} session(s) not attempted",
            highlight=False,
            markup=False,
        )
    model_failed = model is not None and (report.model_failures or report.not_attempted)
    if report.failures or model_failed:
        sys.exit(int(ExitCode.ERROR))


def summary_table(report: BatchReport) -> Table:
    """The batch summary: sessions named by each source, then everything else."""
    table = Table(title=f"Named {sum(report.named.values())} of {report.total} session(s)")
    table.add_column("outcome")
    table.add_column("sessions", justify="right")
    for name_source, count in sorted(report.named.items(), key=lambda kv: (-kv[1], kv[0])):
        table.add_row(f"named by {name_source}", str(count))
    rows: list[tuple[str, int]] = [
        ("model answer not used, fell back", report.model_fallbacks),
        ("model answer not used, kept the model's earlier name", report.kept),
        ("not attempted (stopped: the model kept failing)", report.not_attempted),
        ("unchanged (same name again)", report.unchanged),
        ("skipped (named meanwhile)", report.skipped),
        ("kept a rename made meanwhile", report.superseded),
        ("no acceptable name", report.unnamed),
        ("failed", len(report.failures)),
    ]
    for label, count in rows:
        if count:
            table.add_row(label, str(count))
    return table
