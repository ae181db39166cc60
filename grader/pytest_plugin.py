"""pytest as the harness: one item per exercise x submission, each spending its budget.

Owns the bridge between pytest and the runner. Every item (`e06_counter[alice]`) grades
one task through `grader.runner` -- the whole schedule budget runs inside that one item,
never one item per schedule -- and records the `Result`. A failing outcome fails the item
and adds a "racelab" report section (expected / happened / interleaving / replay), the way
hypothesis adds its own; NOT_SUBMITTED is a skip. pytest-timeout guards each item with a
timeout derived from the budget, and pytest-repeat's ``--count`` makes repeated items with
distinct seeds.

Two ways in:

* The racelab CLI calls `run_via_pytest(tasks, options)`, which runs ``pytest.main`` on an
  empty private directory with a `RacelabSession` plugin object holding the tasks.
* Directly: ``pytest -p grader.pytest_plugin exercises/`` (or a batch folder) collects every
  ``eNN_name.py`` it finds as a submission; the student is the folder's name. Options come
  from the command line, then ``RACELAB_*`` environment variables, then ini values.
"""

from __future__ import annotations

import contextlib
import fnmatch
import io
import os
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from grader import runner
from grader.engines.observation import Limits
from grader.outcomes import Outcome, Result

# Option names, environment variables, ini keys and help texts: shared constants.
OPTION_ENGINE, ENV_ENGINE, INI_ENGINE = "--racelab-engine", "RACELAB_ENGINE", "racelab_engine"
OPTION_BUDGET, ENV_BUDGET, INI_BUDGET = "--racelab-budget", "RACELAB_BUDGET", "racelab_budget"
OPTION_SEED, ENV_SEED, INI_SEED = "--racelab-seed", "RACELAB_SEED", "racelab_seed"
OPTION_JOBS, ENV_JOBS, INI_JOBS = "--racelab-jobs", "RACELAB_JOBS", "racelab_jobs"
OPTION_WALL, ENV_WALL, INI_WALL = "--racelab-wall-seconds", "RACELAB_WALL_SECONDS", "racelab_wall_seconds"
HELP_ENGINE = "racelab engine: explore (deterministic, default) or stress (real threads)."
HELP_BUDGET = "racelab runs per exercise (default: the exercise's budget for the engine)."
HELP_SEED = "racelab: run exactly one case with this seed (what a replay command does)."
HELP_JOBS = "racelab worker processes grading in parallel (default 1)."
HELP_WALL = "racelab real-time backstop per run, in seconds (default 5)."

#: Title of the report section a failing item carries.
SECTION = "racelab"
#: pytest-timeout allowance per item on top of the runner's own per-run backstops.
TIMEOUT_START_SECONDS = 30.0

_SETTINGS = (  # (attribute, option, env, ini, parse, help)
    ("engine", OPTION_ENGINE, ENV_ENGINE, INI_ENGINE, str, HELP_ENGINE),
    ("budget", OPTION_BUDGET, ENV_BUDGET, INI_BUDGET, int, HELP_BUDGET),
    ("seed", OPTION_SEED, ENV_SEED, INI_SEED, int, HELP_SEED),
    ("jobs", OPTION_JOBS, ENV_JOBS, INI_JOBS, int, HELP_JOBS),
    ("wall_seconds", OPTION_WALL, ENV_WALL, INI_WALL, float, HELP_WALL),
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("racelab", "racelab grading")
    for _, option, env, ini, _, help_text in _SETTINGS:
        group.addoption(option, default=None, help=f"{help_text} Environment: {env}.")
        parser.addini(ini, help=help_text, default=None)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "racelab: a racelab grading item (one exercise x submission)")
    if _session_plugin(config) is None:
        config.pluginmanager.register(RacelabSession(), "racelab-session")


def resolve_options(config: pytest.Config) -> runner.Options:
    """Options from the command line, else RACELAB_* environment, else ini, else defaults.

    Raises:
        pytest.UsageError: a value does not parse; the message says where it came from.
    """
    values: dict[str, Any] = {}
    for attribute, option, env, ini, parse, _ in _SETTINGS:
        for source, raw in ((f"option {option}", config.getoption(option.lstrip("-").replace("-", "_"))),
                            (f"environment variable {env}", os.environ.get(env)),
                            (f"ini value {ini}", config.getini(ini))):
            if raw not in (None, ""):
                try:
                    values[attribute] = parse(raw)
                except ValueError:
                    raise pytest.UsageError(f"invalid {attribute.replace('_', ' ')} {raw!r} from {source}") from None
                break
    if "engine" in values and values["engine"] not in ("explore", "stress") and ":" not in values["engine"]:
        raise pytest.UsageError(f"invalid engine {values['engine']!r}; choose explore or stress")
    wall = values.pop("wall_seconds", None)
    limits = Limits(wall_seconds=wall) if wall is not None else Limits()
    return runner.Options(limits=limits, **values)


class RacelabFailure(Exception):
    """Raised by an item whose task did not pass; carries its `Result`."""

    def __init__(self, result: Result) -> None:
        super().__init__(result.message)
        self.result = result


class RacelabItem(pytest.Item):
    """One exercise of one submission; its run grades the task through the runner."""

    def __init__(self, *, task: runner.Task, repeat: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.task = task
        self.repeat = repeat
        self.result: Result | None = None
        self.add_marker(pytest.mark.racelab)

    def runtest(self) -> None:
        plugin = _session_plugin(self.config)
        assert plugin is not None
        self.result = plugin.result_for(self)
        if self.result.outcome is Outcome.NOT_SUBMITTED:
            pytest.skip(self.result.message)
        if not self.result.outcome.passed:
            raise RacelabFailure(self.result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, RacelabFailure):
            r = excinfo.value.result
            return f"{r.exercise}[{r.student}]: {r.outcome.value}: {r.message}"
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, self.name


class RacelabFile(pytest.File):
    """A submission file found by pytest's own collection (direct use of the plugin)."""

    def collect(self) -> Iterator[RacelabItem]:
        from grader.lab import spec as spec_of
        task = runner.Task(self.path.parent.name, spec_of(self.path.stem), str(self.path))
        yield from _items(self, task, self.config)


def _items(parent: Any, task: runner.Task, config: pytest.Config) -> Iterator[RacelabItem]:
    count = int(config.getoption("count", default=None) or 1)  # pytest-repeat, if loaded
    base = f"{task.spec.stem}[{task.student}"
    for k in range(count):
        name = f"{base}]" if count == 1 else f"{base}-{k + 1}-{count}]"
        kwargs: dict[str, Any] = {"name": name, "task": task, "repeat": k}
        if isinstance(parent, pytest.Session):
            kwargs["nodeid"] = name  # not "::name": these items have no file of their own
        yield RacelabItem.from_parent(parent, **kwargs)


def _known_stems() -> set[str]:
    from grader.lab import LabError, specs
    try:
        return {s.stem for s in specs()}
    except (LabError, OSError):
        return set()


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> RacelabFile | None:
    """Submission files pytest's python plugin would not collect itself."""
    plugin = _session_plugin(parent.config)
    if plugin is None or plugin.tasks is not None or file_path.suffix != ".py":
        return None
    patterns = parent.config.getini("python_files") + ["__init__.py"]
    if parent.session.isinitpath(file_path) or any(fnmatch.fnmatch(file_path.name, p) for p in patterns):
        return None  # the python plugin asks pytest_pycollect_makemodule below instead
    return _collect(file_path, parent)


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makemodule(module_path: Path, parent: pytest.Collector) -> RacelabFile | None:
    """Never let pytest import a submission as a test module: collect it as ours."""
    plugin = _session_plugin(parent.config)
    if plugin is None or plugin.tasks is not None:
        return None
    return _collect(module_path, parent)


def _collect(path: Path, parent: pytest.Collector) -> RacelabFile | None:
    if path.stem not in _known_stems():
        return None
    return RacelabFile.from_parent(parent, path=path)


def _session_plugin(config: pytest.Config) -> "RacelabSession | None":
    for plugin in config.pluginmanager.get_plugins():
        if isinstance(plugin, RacelabSession):
            return plugin
    return None


def item_timeout(task: runner.Task, options: runner.Options) -> float:
    """pytest-timeout's limit for one item: every run may use its whole backstop."""
    runs = 1 if options.seed is not None else runner.budget_for(task.spec, options)
    return TIMEOUT_START_SECONDS + runs * runner.backstop_seconds(options.limits)


class RacelabSession:
    """The plugin object: owns the worker pool and the results of one pytest session.

    Args:
        tasks: the items to make (the CLI's way); None to collect submission files.
        options: how to run; None to resolve them from CLI / environment / ini.
        on_result: called with each `Result` as its item finishes.
    """

    def __init__(self, tasks: list[runner.Task] | None = None, options: runner.Options | None = None,
                 on_result: Callable[[Result], None] | None = None) -> None:
        self.tasks = tasks
        self.options = options
        self.on_result = on_result
        self.results: dict[str, Result] = {}
        self._pool: runner.Pool | None = None
        self._futures: dict[str, Any] = {}

    def pytest_configure(self, config: pytest.Config) -> None:
        if self.options is None:
            self.options = resolve_options(config)

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, session: pytest.Session, config: pytest.Config,
                                      items: list[pytest.Item]) -> None:
        if self.tasks is not None:
            items[:0] = [item for task in self.tasks for item in _items(session, task, config)]
        assert self.options is not None
        guard = threading.current_thread() is threading.main_thread() and (
            config.pluginmanager.hasplugin("timeout") or config.pluginmanager.hasplugin("pytest_timeout"))
        for item in items:
            if isinstance(item, RacelabItem) and guard:
                item.add_marker(pytest.mark.timeout(item_timeout(item.task, self.options)))

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        assert self.options is not None
        ours = [i for i in session.items if isinstance(i, RacelabItem)]
        if not ours:
            return
        self._pool = runner.Pool(min(self.options.jobs, len(ours)))
        if self.options.jobs > 1:  # run ahead in parallel; items collect in order
            for item in ours:
                self._futures[item.nodeid] = self._pool.grade(item.task, self.options, item.repeat)

    def result_for(self, item: RacelabItem) -> Result:
        assert self.options is not None and self._pool is not None
        future = self._futures.pop(item.nodeid, None)
        try:
            if future is not None:
                result = future.result()
            else:  # in this thread, so pytest-timeout's signal interrupts the run itself
                result = self._pool.grade_here(item.task, self.options, item.repeat)
        except Exception:
            raise
        except BaseException:  # pytest-timeout's Failed, KeyboardInterrupt: record a HANG
            self.results[item.nodeid] = self._overran(item)
            raise
        self.results[item.nodeid] = result
        if self.on_result:
            self.on_result(result)
        return result

    def _overran(self, item: RacelabItem) -> Result:
        assert self.options is not None
        limit = item_timeout(item.task, self.options)
        happened = f"grading this exercise took longer than {limit:g} s in all"
        return Result(
            student=item.task.student, exercise=item.task.spec.stem, outcome=Outcome.HANG,
            max_score=item.task.spec.points, seed=None, runs=0,
            message=f"expected the whole budget to finish in time; happened {happened}", replay=None,
            expected="the whole budget to finish in time", happened=happened, engine=self.options.engine,
        )

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
        outcome = yield
        report = outcome.get_result()
        if call.when == "call" and isinstance(item, RacelabItem) and report.failed:
            result = item.result or self.results.get(item.nodeid)
            if result is not None:
                report.sections.append((SECTION, section_text(result)))

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None


def section_text(result: Result) -> str:
    """The report section of a failing item: what happened, interleaving, reproduce."""
    lines = [f"outcome: {result.outcome.value}   seed: {result.seed}   runs: {result.runs}"]
    if result.expected:
        lines.append(f"expected: {result.expected}")
    lines.append(f"happened: {result.happened or result.message}")
    if result.interleaving:
        lines.append("interleaving:")
        lines.extend(f"  {line}" for line in result.interleaving)
    if result.replay:
        lines.append(f"replay: {result.replay}")
    return "\n".join(lines)


def run_via_pytest(tasks: list[runner.Task], options: runner.Options, quiet: bool = True,
                   on_result: Callable[[Result], None] | None = None) -> list[Result]:
    """Grade tasks as pytest items (one per task) and return their Results in task order.

    Runs ``pytest.main`` on an empty private directory with a private ini file, plugin
    autoloading off (only pytest-timeout is loaded), and pytest's output captured unless
    `quiet` is False.

    Raises:
        KeyboardInterrupt: the session was interrupted.
        RuntimeError: pytest could not run the session (its output is in the message).
    """
    if not tasks:
        return []
    session = RacelabSession(tasks, options, on_result)
    with tempfile.TemporaryDirectory(prefix="racelab-pytest-") as empty:
        ini = Path(empty) / "pytest.ini"
        ini.write_text("[pytest]\n", encoding="utf-8")
        # No conftest.py, no assertion rewriting, no cache: nothing from the folder the
        # grader runs in may execute in the grader's own process or change its results.
        args = ["-q", "-p", "no:cacheprovider", "-p", "grader.pytest_plugin", "-c", str(ini),
                "--rootdir", empty, "--noconftest", "--assert=plain", empty]
        if _importable("pytest_timeout"):
            args[1:1] = ["-p", "pytest_timeout"]
        out = io.StringIO()
        with _no_autoload(), contextlib.ExitStack() as stack:
            if quiet:
                stack.enter_context(contextlib.redirect_stdout(out))
                stack.enter_context(contextlib.redirect_stderr(out))
            code = pytest.main(args, plugins=[session])
    if code == pytest.ExitCode.INTERRUPTED:
        raise KeyboardInterrupt
    missing = [t for t in tasks if _nodeid(t) not in session.results]
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED) or missing:
        raise RuntimeError(f"pytest could not run the racelab session (exit {int(code)}):\n{out.getvalue()}")
    return [session.results[_nodeid(t)] for t in tasks]


def _nodeid(task: runner.Task) -> str:
    return f"{task.spec.stem}[{task.student}]"


def _importable(name: str) -> bool:
    import importlib.util
    return importlib.util.find_spec(name) is not None


@contextlib.contextmanager
def _no_autoload() -> Iterator[None]:
    """Installed pytest plugins stay out of grading (determinism, start-up time)."""
    old = os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)
        else:
            os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = old
