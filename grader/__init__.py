"""racelab: a race-condition teaching lab and its grader.

The grader's data flows one way: cli → runner → engines → checks → outcomes → reporters.
"""

__version__ = "0.1.0"
