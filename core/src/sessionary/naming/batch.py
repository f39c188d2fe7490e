"""Naming many sessions at once, with bounded concurrency: what ``sessions autoname`` runs.

Candidates are listed first (listing never loads runs), then named by a pool of
``concurrency`` threads. One session failing is recorded and the batch goes on.
Sessions already named are skipped, so a second run changes nothing. A name a model
gave is replaced only by another model's name: when the model fails for such a session,
its name is kept (never a fallback's), and the failure is counted. A batch whose model
keeps failing (``stop_after_model_failures`` failures before any success) stops.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

import attrs

from sessionary.domain.sessions import SessionInfo
from sessionary.models.base import Model
from sessionary.naming.pipeline import NamingPipeline
from sessionary.naming.policy import MANUAL, MODEL, NamingError
from sessionary.naming.service import AutonameOutcome, autoname_session
from sessionary.storage.base import MAX_LIST_LIMIT, Store

__all__ = ["BatchReport", "Failure", "autoname_many", "find_candidates"]


@attrs.frozen
class Failure:
    """A session the batch could not name, and the error."""

    session_id: str
    error: str


@attrs.define
class BatchReport:
    """What a batch did: names stored by source, sessions left as they were, failures."""

    total: int = 0
    named: Counter[str] = attrs.field(factory=Counter)
    unchanged: int = 0
    skipped: int = 0
    superseded: int = 0
    unnamed: int = 0
    #: Sessions whose model answer was not used (error, timeout, empty, rejected).
    model_fallbacks: int = 0
    #: Why the model's answers were not used, by reason, so a systematic failure shows.
    model_failure_reasons: Counter[str] = attrs.field(factory=Counter)
    #: Sessions named by a model before whose new model answer was not usable: kept as
    #: they were, never renamed by a fallback.
    kept: int = 0
    #: Sessions not attempted because the batch stopped (its model kept failing).
    not_attempted: int = 0
    failures: list[Failure] = attrs.field(factory=list)
    #: Guardrails and fallbacks that failed with a bug of their own, by message (which
    #: names the plugin); their tracebacks are logged on ``sessionary.naming``.
    plugin_errors: Counter[str] = attrs.field(factory=Counter)

    @property
    def model_failures(self) -> int:
        """Sessions whose model answer was not used (named by a fallback, or kept)."""
        return self.model_fallbacks + self.kept

    def as_dict(self) -> dict[str, object]:
        """The report as JSON-compatible data (``sessions autoname --json``)."""
        return {
            "total": self.total,
            "named": dict(self.named),
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "superseded": self.superseded,
            "unnamed": self.unnamed,
            "model_failures": self.model_failures,
            "model_fallbacks": self.model_fallbacks,
            "kept_after_model_failure": self.kept,
            "model_failure_reasons": dict(self.model_failure_reasons),
            "not_attempted": self.not_attempted,
            "plugin_errors": dict(self.plugin_errors),
            "failures": [{"session_id": f.session_id, "error": f.error} for f in self.failures],
        }

    def add(self, outcome: AutonameOutcome) -> None:
        """Count one session's outcome."""
        if outcome.outcome == "named" and outcome.source is not None:
            self.named[outcome.source] += 1
        elif outcome.outcome == "unchanged":
            self.unchanged += 1
        elif outcome.outcome == "skipped":
            self.skipped += 1
        elif outcome.outcome == "superseded":
            self.superseded += 1
        elif outcome.outcome == "unnamed":
            self.unnamed += 1
        for error in () if outcome.decision is None else outcome.decision.plugin_errors:
            self.plugin_errors[str(error)[:200]] += 1
        failure = None if outcome.decision is None else outcome.decision.model_failure
        if failure is not None:
            self.model_fallbacks += 1
            self.model_failure_reasons[failure[:160]] += 1


def find_candidates(
    store: Store, *, user_id: str | None = None, include_named: bool = False
) -> list[SessionInfo]:
    """Sessions to name: the unnamed ones (with ``include_named``, all but manual names)."""
    found: list[SessionInfo] = []
    cursor: str | None = None
    while True:
        page = store.list_sessions(user_id=user_id, limit=MAX_LIST_LIMIT, cursor=cursor)
        for info in page.items:
            if info.name is None or (include_named and info.name_source != MANUAL):
                found.append(info)
        cursor = page.next_cursor
        if cursor is None:
            return found


def autoname_many(
    store: Store,
    candidates: Sequence[SessionInfo],
    *,
    model: Model | None,
    pipeline: NamingPipeline,
    user_id: str | None = None,
    include_named: bool = False,
    concurrency: int = 4,
    events: object = None,
    on_done: Callable[[str, AutonameOutcome | Failure], None] | None = None,
    stop_after_model_failures: int | None = None,
) -> BatchReport:
    """Name ``candidates`` with ``concurrency`` threads; never stops for one failure.

    Manual names are never replaced, and a model's name only by a model's (see the
    module). Without ``include_named`` a session that got a name since it was listed is
    skipped. ``on_done`` is called (one at a time, in the calling thread) after each
    session, e.g. to advance a progress bar. With ``stop_after_model_failures=N``, N
    model failures before the model named any session stop the batch: the sessions not
    started yet are counted in :attr:`BatchReport.not_attempted`.
    """
    if not isinstance(concurrency, int) or isinstance(concurrency, bool) or concurrency < 1:
        raise ValueError("concurrency must be a positive int")
    report = BatchReport(total=len(candidates))

    def name_one(info: SessionInfo) -> AutonameOutcome | NamingError:
        # A model's name is replaced by a model's only: strict, so no fallback proposes.
        strict = info.name is not None and info.name_source == MODEL
        try:
            return autoname_session(
                store,
                info.session_id,
                user_id=user_id if user_id is not None else info.user_id,
                model=model,
                pipeline=pipeline,
                strict=strict,
                only_unnamed=not include_named,
                keep_manual=True,
                events=events,
            )
        except NamingError as exc:
            if not strict:
                raise
            return exc

    def stop() -> bool:
        limit = stop_after_model_failures
        return limit is not None and not report.named[MODEL] and report.model_failures >= limit

    # At most ``concurrency`` sessions in flight, the next started only after a result
    # was counted: so a stop stops exactly when the limit is reached, however the
    # threads are scheduled (submitting everything up front let a busy machine start
    # more sessions before the stop was seen).
    queue = iter(candidates)
    running: dict[Future[AutonameOutcome | NamingError], str] = {}
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="autoname") as pool:

        def fill() -> None:
            while len(running) < concurrency and not stop():
                info = next(queue, None)
                if info is None:
                    return
                running[pool.submit(name_one, info)] = info.session_id

        try:
            fill()
            while running:
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    session_id = running.pop(future)
                    result: AutonameOutcome | Failure
                    try:
                        answer = future.result()
                    except Exception as exc:
                        result = Failure(session_id, _one_line(exc))
                        report.failures.append(result)
                    else:
                        if isinstance(answer, NamingError):  # a model's name, kept as it was
                            report.kept += 1
                            cause = answer.__cause__ or answer
                            report.model_failure_reasons[_one_line(cause)[:160]] += 1
                            result = Failure(session_id, f"kept its name: {_one_line(answer)}")
                        else:
                            result = answer
                            report.add(result)
                    if on_done is not None:
                        on_done(session_id, result)
                fill()
        except BaseException:
            for future in running:
                future.cancel()
            raise
    report.not_attempted = sum(1 for _ in queue)
    report.failures.sort(key=lambda failure: failure.session_id)
    return report


def _one_line(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}".rstrip(": ")
