"""Exports rendered from records (Gradescope, GitHub Classroom, JUnit, feedback Markdown),
and the Gradescope autograder bundle run the way Gradescope runs it."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest

import grader
from grader import bundle, exporters, lab
from grader.batch import render_outputs
from grader.exporters import classroom, feedback, gradescope, junit
from grader.outcomes import Outcome, Result

ROOT = Path(__file__).resolve().parents[1]
STEMS = [s.stem for s in lab.specs()]

RACE = Result("Doe, Jane", "e06_counter", Outcome.RACE, 10, 1234, 37,
              "expected value 400; happened got 371", "racelab check e06_counter --file 'b/Doe, Jane/e06_counter.py' --seed 1234",
              expected="value 400", happened="got 371: 29 increments were lost",
              interleaving=("T1 line 12 read self.value → 41", "T2 line 12 read self.value → 41"), failures=1)
PASS = Result("Doe, Jane", "e01_threads", Outcome.PASS, 10, 99, 40, "every check held in 40 schedules", None)
MISSING = Result("Doe, Jane", "e02_submit", Outcome.NOT_SUBMITTED, 10, None, 0, "no e02_submit.py was submitted", None)
STUB = Result("Zoë", "e01_threads", Outcome.NOT_STARTED, 10, 5, 1, "the stub still raises NotImplementedError", None)
# A message with backticks, markup and a control character a submission printed.
NASTY = Result("Zoë", "e02_submit", Outcome.CRASH, 10, 8, 1, "ValueError: ```\x1b[31m <b>|x|</b> at line 3",
               "racelab check e02_submit --file b/Zoë/e02_submit.py --seed 8",
               expected="the code to run without raising", happened="ValueError: ```\x1b[31m <b>|x|</b> at line 3")
INTERNAL = Result("Zoë", "e03_map", Outcome.CRASH, 10, None, 0, "internal grader error: boom", None,
                  extra={"error": "internal"})
ALL = [RACE, PASS, MISSING, STUB, NASTY, INTERNAL]
CONTEXT = exporters.Context(stems=STEMS, seconds={"Doe, Jane": 1.234})


def test_gradescope_results_have_the_documented_shape():
    files = gradescope.render(ALL, CONTEXT)
    assert sorted(files) == ["gradescope/Doe, Jane/results.json", "gradescope/Zoë/results.json"]
    obj = json.loads(files["gradescope/Doe, Jane/results.json"])
    assert list(obj) == ["score", "execution_time", "output", "tests"]
    assert obj["score"] == 10 and obj["execution_time"] == 1.23
    tests = {t["name"]: t for t in obj["tests"]}
    assert list(tests) == ["e01_threads", "e02_submit", "e06_counter"]
    for t in tests.values():
        assert {"name", "score", "max_score", "status", "output", "visibility"} <= set(t)
        assert t["visibility"] == "visible" and t["max_score"] == 10
    assert tests["e01_threads"]["status"] == "passed"
    assert tests["e02_submit"]["status"] == "failed"           # NOT_SUBMITTED is not a pass
    race = tests["e06_counter"]
    assert race["status"] == "failed" and race["score"] == 0
    for part in ("What happened", "expected value 400", "Interleaving", "1. T1 line 12", "Reproduce",
                 RACE.replay, "37 schedules tried, 1 failed"):
        assert part in race["output"]
    assert race["extra_data"] == {"outcome": "RACE", "seed": 1234, "runs": 37, "failures": 1}


def test_classroom_result_has_the_reporter_shape():
    files = classroom.render(ALL, CONTEXT)
    doe = json.loads(files["classroom/Doe, Jane.json"])
    assert list(doe) == ["version", "status", "max_score", "tests"]
    assert (doe["version"], doe["status"], doe["max_score"]) == (1, "fail", 30)
    assert all(list(t) == ["name", "status", "score", "message", "line_no"] for t in doe["tests"])
    assert [t["status"] for t in doe["tests"]] == ["pass", "fail", "fail"]
    assert RACE.replay in doe["tests"][2]["message"]
    zoe = json.loads(files["classroom/Zoë.json"])
    assert zoe["status"] == "error"                             # a row the grader could not make
    assert json.loads(classroom.render([PASS], CONTEXT)["classroom/Doe, Jane.json"])["status"] == "pass"


def test_junit_failures_are_failures_never_skips_and_the_xml_parses():
    text = junit.render(ALL, CONTEXT)["junit.xml"]
    root = ET.fromstring(text.encode("utf-8"))              # control characters were escaped
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("6", "4", "1")
    assert not root.findall(".//skipped")
    cases = {(c.get("classname"), c.get("name")): c for c in root.iter("testcase")}
    race = cases[("Doe, Jane", "e06_counter")].find("failure")
    assert race.get("type") == "RACE" and race.get("message").startswith("RACE: expected value 400")
    assert RACE.replay in race.text
    assert cases[("Doe, Jane", "e02_submit")].find("failure").get("type") == "NOT_SUBMITTED"
    assert cases[("Doe, Jane", "e01_threads")].find("failure") is None
    assert cases[("Zoë", "e03_map")].find("error") is not None
    props = {p.get("name"): p.get("value") for p in cases[("Doe, Jane", "e06_counter")].iter("property")}
    assert props == {"outcome": "RACE", "seed": "1234", "runs": "37", "failures": "1", "score": "0",
                     "max_score": "10"}
    assert "\\x1b" in cases[("Zoë", "e02_submit")].find("failure").text


def test_feedback_has_the_three_panels_and_nothing_a_student_wrote_becomes_markdown():
    files = feedback.render(ALL, CONTEXT)
    doe = files["feedback/Doe, Jane.md"]
    assert doe.startswith("# racelab feedback: Doe, Jane\n")
    assert "**10/30 points** · 1 of 3 exercises passed" in doe
    assert "| e06_counter | ❌ RACE | 0/10 | 37 |" in doe
    for part in ("## e06_counter · RACE", "### What happened", "expected value 400",
                 "happened got 371: 29 increments were lost", "### Interleaving", "1. T1 line 12 read self.value → 41",
                 "### Reproduce", f"```sh\n{RACE.replay}\n```", "seed 1234 · engine explore · 37 schedules tried, 1 failed"):
        assert part in doe, part
    zoe = files["feedback/Zoë.md"]
    # The message holds a ``` run: its block is fenced with four.
    assert "````text\nexpected the code to run without raising\nhappened ValueError: ```" in zoe
    assert "- **e01_threads**: the stub still raises NotImplementedError" in zoe


def test_the_same_records_give_the_same_bytes_in_every_format():
    a = render_outputs(ALL, STEMS, exporters.FORMATS, {"Doe, Jane": 1.234})
    b = render_outputs(list(reversed(ALL)), STEMS, exporters.FORMATS, {"Doe, Jane": 1.234})
    assert a == b
    assert {"results.json", "gradebook.csv", "junit.xml"} <= set(a)


def test_exports_a_student_reads_name_the_file_inside_the_students_own_folder():
    nested = Result("Doe, Jane", "e09_bank", Outcome.CRASH, 10, 3, 1, "SyntaxError in /data/b/Doe, Jane/hw3/e09_bank.py",
                    "racelab check e09_bank --file 'b/Doe, Jane/hw3/e09_bank.py' --seed 3",
                    happened="SyntaxError in /data/b/Doe, Jane/hw3/e09_bank.py line 2")
    context = exporters.Context(stems=STEMS, folders={"Doe, Jane": ("b/Doe, Jane", "/data/b/Doe, Jane")})
    race, crash = exporters.student_view([RACE, nested], context)
    assert race.replay == "racelab check e06_counter --file e06_counter.py --seed 1234"
    assert crash.replay == "racelab check e09_bank --file hw3/e09_bank.py --seed 3"
    assert crash.message == "SyntaxError in hw3/e09_bank.py" and crash.happened.endswith("in hw3/e09_bank.py line 2")
    assert exporters.student_view([STUB], context) == [STUB]          # no folder known: as it was
    for fmt in ("gradescope", "classroom", "feedback"):
        text = "".join(exporters.render(fmt, [RACE, nested], context).values())
        assert "--file e06_counter.py --seed 1234" in text and "b/Doe" not in text, fmt
    assert RACE.replay in exporters.render("junit", [RACE], context)["junit.xml"]   # staff keep the real path


# ---------------------------------------------------------------- the Gradescope bundle

@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "autograder.zip"
    p = subprocess.run([sys.executable, "-m", "grader.cli", "gradescope-bundle", "--out", str(out)],
                       cwd=ROOT, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert p.returncode == 0, p.stderr
    return out


def test_bundle_has_the_scripts_executable_and_no_solutions(autograder_zip, tmp_path):
    with zipfile.ZipFile(autograder_zip) as zf:
        infos = {i.filename: i for i in zf.infolist()}
    for name in ("setup.sh", "run_autograder"):
        assert stat.S_IMODE(infos[name].external_attr >> 16) == 0o755, name
    assert stat.S_IMODE(infos["requirements.txt"].external_attr >> 16) == 0o644
    assert "racelab/grader/cli.py" in infos and "racelab/lab.toml" in infos
    assert "racelab/exercises/e06_counter.py" in infos
    assert not [n for n in infos if "solutions" in n or "__pycache__" in n or n.startswith("racelab/tests")]
    for name in ("setup.sh", "run_autograder"):
        with zipfile.ZipFile(autograder_zip) as zf:
            (tmp_path / name).write_bytes(zf.read(name))
        assert subprocess.run(["bash", "-n", str(tmp_path / name)]).returncode == 0
    # Reproducible: the same source gives the same zip.
    again = tmp_path / "again.zip"
    bundle.build(again)
    assert again.read_bytes() == autograder_zip.read_bytes()


def test_run_autograder_grades_a_submission_into_results_json(autograder_zip, tmp_path):
    source = tmp_path / "source"
    with zipfile.ZipFile(autograder_zip) as zf:
        zf.extractall(source)
    run = source / "run_autograder"
    run.chmod(0o755)
    submission = tmp_path / "submission"
    (submission / "exercises").mkdir(parents=True)
    (submission / "exercises" / "e01_threads.py").write_bytes((ROOT / "solutions" / "e01_threads.py").read_bytes())
    (submission / "e06_counter.py").write_bytes((ROOT / "tests" / "mutants" / "e06_counter" / "no_lock.py").read_bytes())
    (submission / "notes.md").write_text("not copied", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(RACELAB_SOURCE_DIR=str(source), RACELAB_SUBMISSION_DIR=str(submission),
               RACELAB_RESULTS_DIR=str(tmp_path / "results"), RACELAB_WORK_DIR=str(tmp_path / "work"),
               RACELAB_PYTHON=sys.executable)
    p = subprocess.run([str(run)], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    obj = json.loads((tmp_path / "results" / "results.json").read_text(encoding="utf-8"))
    assert obj["score"] == 10
    tests = {t["name"]: t for t in obj["tests"]}
    assert len(tests) == len(STEMS)
    assert tests["e01_threads"]["status"] == "passed"
    assert tests["e06_counter"]["status"] == "failed" and "RACE" in tests["e06_counter"]["output"]
    assert "using submission/exercises/e01_threads.py" in p.stderr
    assert not (tmp_path / "work" / "batch" / "submission" / "notes.md").exists()


def test_run_autograder_still_writes_results_when_grading_cannot_start(autograder_zip, tmp_path):
    source = tmp_path / "source"
    with zipfile.ZipFile(autograder_zip) as zf:
        zf.extractall(source)
    (source / "run_autograder").chmod(0o755)
    (source / "racelab" / "lab.toml").unlink()                 # a broken install
    env = {**os.environ, "RACELAB_SOURCE_DIR": str(source), "RACELAB_SUBMISSION_DIR": str(tmp_path),
           "RACELAB_RESULTS_DIR": str(tmp_path / "results"), "RACELAB_WORK_DIR": str(tmp_path / "work"),
           "RACELAB_PYTHON": sys.executable}
    env.pop("PYTHONPATH", None)
    p = subprocess.run([str(source / "run_autograder")], env=env, cwd=ROOT, capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0
    # The bundled copy is what runs (this checkout, the current folder, is whole).
    obj = json.loads((tmp_path / "results" / "results.json").read_text(encoding="utf-8"))
    assert obj["score"] == 0 and "could not grade" in obj["output"]


#: Gradescope's `visibility` values (its autograder results specification).
VISIBILITY = {"visible", "hidden", "after_due_date", "after_published"}


def assert_gradescope_schema(obj: dict) -> None:
    """The fields Gradescope reads from results/results.json, with their types."""
    assert isinstance(obj["score"], (int, float)) and isinstance(obj["execution_time"], (int, float))
    assert isinstance(obj["output"], str) and isinstance(obj["tests"], list) and obj["tests"]
    for t in obj["tests"]:
        assert isinstance(t["name"], str) and t["name"]
        assert isinstance(t["score"], (int, float)) and isinstance(t["max_score"], (int, float))
        assert 0 <= t["score"] <= t["max_score"]
        assert t["status"] in ("passed", "failed") and (t["status"] == "passed") == (t["score"] == t["max_score"])
        assert isinstance(t["output"], str) and t["visibility"] in VISIBILITY
    assert obj["score"] == sum(t["score"] for t in obj["tests"])


@pytest.mark.timeout(60)
def test_setup_sh_then_run_autograder_in_gradescopes_layout(autograder_zip, tmp_path):
    """The real scripts in /autograder's layout (moved by RACELAB_AUTOGRADER_ROOT): setup.sh
    builds the venv and installs the bundled racelab (deps reused offline via
    RACELAB_DEPS_FROM), run_autograder runs from /autograder with nothing else set."""
    root = tmp_path / "autograder"
    source = root / "source"
    with zipfile.ZipFile(autograder_zip) as zf:
        zf.extractall(source)
    for name in ("setup.sh", "run_autograder"):
        (source / name).chmod(0o755)
    (root / "run_autograder").write_bytes((source / "run_autograder").read_bytes())  # Gradescope copies it
    (root / "run_autograder").chmod(0o755)
    bin_dir = tmp_path / "bin"           # the image's python3.11 is this interpreter
    bin_dir.mkdir()
    (bin_dir / "python3.11").symlink_to(sys.executable)
    env = {"PATH": f"{bin_dir}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
           "HOME": str(tmp_path), "LANG": "C.UTF-8", "RACELAB_AUTOGRADER_ROOT": str(root)}
    setup = subprocess.run(["bash", "./setup.sh"], cwd=source, env={**env, "RACELAB_DEPS_FROM": sys.executable},
                           capture_output=True, text=True, timeout=60)
    assert setup.returncode == 0, setup.stdout + setup.stderr
    assert setup.stdout.strip().endswith(f"racelab {grader.__version__}")
    where = subprocess.run([str(root / "venv" / "bin" / "python"), "-P", "-c", "import grader; print(grader.__file__)"],
                           cwd="/", env=env, capture_output=True, text=True, timeout=30)
    assert where.stdout.strip().startswith(str(source / "racelab" / "grader")), where.stdout + where.stderr

    submission = root / "submission"
    (submission / "exercises").mkdir(parents=True)
    (submission / "exercises" / "e01_threads.py").write_bytes((ROOT / "solutions" / "e01_threads.py").read_bytes())
    (submission / "e02_submit.py").write_bytes((ROOT / "solutions" / "e02_submit.py").read_bytes())
    (submission / "e03_map.py").write_bytes((ROOT / "exercises" / "e03_map.py").read_bytes())
    (submission / "e06_counter.py").write_bytes((ROOT / "tests" / "mutants" / "e06_counter" / "no_lock.py").read_bytes())
    run = subprocess.run([str(root / "run_autograder")], cwd=root, env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    obj = json.loads((root / "results" / "results.json").read_text(encoding="utf-8"))
    assert_gradescope_schema(obj)
    tests = {t["name"]: t for t in obj["tests"]}
    assert list(tests) == STEMS and obj["score"] == 20
    assert [tests[s]["status"] for s in ("e01_threads", "e02_submit")] == ["passed", "passed"]
    assert tests["e03_map"]["output"].startswith("NOT_STARTED")
    race = tests["e06_counter"]
    assert race["extra_data"]["outcome"] == "RACE"
    # The replay names the file as it sits in the student's upload, not the grader's copy.
    assert f"racelab check e06_counter --file e06_counter.py --seed {race['extra_data']['seed']}" in race["output"]
    assert str(root) not in json.dumps(obj)
