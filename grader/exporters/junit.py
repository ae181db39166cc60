"""JUnit XML of a batch: CI dashboards and LMS importers read it.

Owns `junit.xml`: `<testsuites>` with one `<testsuite>` per student and one `<testcase>`
per exercise (`classname` the student, `name` the exercise). Every row that is not PASS
is a `<failure>` whose `type` is the outcome and whose text is the story with the replay
command -- NOT_SUBMITTED and NOT_STARTED too, since they score 0. Nothing is ever
`<skipped>` and there is no "flaky" state: one failing schedule fails the exercise. A row
the grader itself could not produce is an `<error>`. Each test case carries `properties`
for outcome, seed, schedules tried and failures seen. No `time` attributes: the file is
the same bytes for the same records.
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence

from grader import __version__
from grader.exporters import Context, by_student
from grader.exporters._text import story
from grader.outcomes import Outcome, Result

FILE = "junit.xml"
# Characters XML 1.0 cannot carry at all, even escaped (a submission's output may have them).
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _clean(text: str) -> str:
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _kind(result: Result) -> str | None:
    if result.extra.get("error") == "internal":
        return "error"
    return None if result.outcome is Outcome.PASS else "failure"


def _case(parent: ET.Element, result: Result) -> None:
    case = ET.SubElement(parent, "testcase", classname=_clean(result.student), name=result.exercise)
    props = ET.SubElement(case, "properties")
    for name, value in (("outcome", result.outcome.value), ("seed", result.seed), ("runs", result.runs),
                        ("failures", result.failures), ("score", result.score),
                        ("max_score", result.max_score)):
        ET.SubElement(props, "property", name=name, value="" if value is None else _number(value))
    kind = _kind(result)
    if kind is not None:
        node = ET.SubElement(case, kind, type=result.outcome.value,
                             message=_clean(f"{result.outcome.value}: {result.message}"))
        node.text = _clean(story(result))


def _number(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def junit_xml(results: Sequence[Result]) -> str:
    """The whole document for these records."""
    groups = by_student(results)
    kinds = [_kind(r) for r in results]
    root = ET.Element("testsuites", name=f"racelab {__version__}", tests=str(len(results)),
                      failures=str(kinds.count("failure")), errors=str(kinds.count("error")))
    for student, rows in groups.items():
        row_kinds = [_kind(r) for r in rows]
        suite = ET.SubElement(root, "testsuite", name=_clean(student), tests=str(len(rows)),
                              failures=str(row_kinds.count("failure")), errors=str(row_kinds.count("error")),
                              skipped="0")
        for r in rows:
            _case(suite, r)
    ET.indent(root, space="  ")
    buf = io.BytesIO()
    ET.ElementTree(root).write(buf, encoding="utf-8", xml_declaration=True)
    return buf.getvalue().decode("utf-8").replace("<?xml version='1.0' encoding='utf-8'?>",
                                                  '<?xml version="1.0" encoding="UTF-8"?>') + "\n"


def render(results: Sequence[Result], context: Context) -> dict[str, str]:
    return {FILE: junit_xml(results)}
