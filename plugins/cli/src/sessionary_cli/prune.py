"""``sessionary sessions prune``: delete old sessions, or old runs of long sessions."""

from __future__ import annotations

import json
import re
import time

import click
from rich.console import Console
from rich.progress import Progress

from sessionary.errors import ConflictError
from sessionary_cli.errors import ExitCode, fail, handle_errors
from sessionary_cli.options import db_option, json_option, open_store
from sessionary_cli.transfer import iter_infos

__all__ = ["parse_duration", "prune"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"^(\d+)([smhdw])$")


def parse_duration(text: str) -> float:
    """``30d`` -> seconds. Units: s, m, h, d, w."""
    match = _DURATION.match(text.strip())
    if not match:
        raise click.BadParameter(f"{text!r} is not a duration like 30d, 12h, 2w")
    return int(match.group(1)) * _UNITS[match.group(2)]


@click.command()
@db_option
@click.option(
    "--older-than",
    "older_than",
    metavar="DURATION",
    help="Delete sessions with no run for this long (30d, 12h, 2w): the last run's time.",
)
@click.option(
    "--keep-last-runs",
    type=click.IntRange(min=0),
    metavar="N",
    help="Keep only the last N runs of every session.",
)
@click.option("--user", "user_id", help="Only this user's sessions.")
@click.option("--agent", "agent_id", help="Only this agent's sessions.")
@click.option("--team", "team_id", help="Only this team's sessions.")
@click.option("--dry-run", is_flag=True, help="List what would go, change nothing.")
@json_option
@handle_errors
def prune(
    db_url: str | None,
    older_than: str | None,
    keep_last_runs: int | None,
    user_id: str | None,
    agent_id: str | None,
    team_id: str | None,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Delete sessions idle for longer than --older-than, and trim runs to --keep-last-runs.

    With --dry-run, lists each session it would delete or trim (with --json, as JSON),
    and changes nothing.
    """
    if older_than is None and keep_last_runs is None:
        fail(
            "say what to prune: --older-than DURATION and/or --keep-last-runs N", ExitCode.BAD_INPUT
        )
    cutoff = None if older_than is None else time.time() - parse_duration(older_than)
    actions: list[dict[str, object]] = []  # what was (or would be) done, session by session
    skipped = 0
    with open_store(db_url) as store:
        infos = list(iter_infos(store, user_id=user_id, agent_id=agent_id, team_id=team_id))
        with Progress(transient=True, disable=not Console(stderr=True).is_terminal) as progress:
            task = progress.add_task("pruning", total=len(infos))
            for info in infos:
                progress.advance(task)
                entry: dict[str, object] = {"session_id": info.session_id, "user_id": info.user_id}
                # Idle since the last run (renames, names, trims are no activity);
                # a session without runs since its creation.
                active = info.created_at if info.last_run_at is None else info.last_run_at
                if cutoff is not None and active < cutoff:
                    try:
                        # Only if still at the version listed: a run appended since
                        # (a user who came back) keeps the session.
                        if dry_run or store.delete_session(
                            info.session_id, user_id=info.user_id, expected_version=info.version
                        ):
                            actions.append({**entry, "action": "delete", "runs": info.run_count})
                    except ConflictError:
                        skipped += 1
                    continue
                if keep_last_runs is not None and info.run_count > keep_last_runs:
                    removed = info.run_count - keep_last_runs
                    if not dry_run:
                        try:
                            # Only the runs listed: a session written to since is skipped.
                            removed = store.trim_runs(
                                info.session_id,
                                keep_last=keep_last_runs,
                                user_id=info.user_id,
                                expected_version=info.version,
                            )
                        except ConflictError:
                            skipped += 1
                            continue
                    if removed:
                        actions.append({**entry, "action": "trim", "runs": removed})
    _report(actions, skipped, dry_run=dry_run, as_json=as_json)


def _report(
    actions: list[dict[str, object]], skipped: int, *, dry_run: bool, as_json: bool
) -> None:
    deleted = [a for a in actions if a["action"] == "delete"]
    trimmed = [a for a in actions if a["action"] == "trim"]
    trimmed_runs = sum(int(str(a["runs"])) for a in trimmed)
    if as_json:
        summary = {
            "dry_run": dry_run,
            "deleted_sessions": len(deleted),
            "trimmed_sessions": len(trimmed),
            "trimmed_runs": trimmed_runs,
            "skipped": skipped,
            "sessions": actions,
        }
        click.echo(json.dumps(summary, ensure_ascii=False, indent=2))
        return
    if dry_run:
        for action in actions:
            what = "delete" if action["action"] == "delete" else f"trim {action['runs']} run(s) of"
            click.echo(f"would {what} {action['session_id']} (user {action['user_id'] or '-'})")
        click.echo(
            f"would delete {len(deleted)} session(s); would trim {trimmed_runs} run(s) "
            f"from {len(trimmed)} session(s)"
        )
        return
    click.echo(
        f"deleted {len(deleted)} session(s); trimmed {trimmed_runs} run(s) "
        f"from {len(trimmed)} session(s)"
        + (f"; skipped {skipped} session(s) that changed since listed" if skipped else "")
    )
