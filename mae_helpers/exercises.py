"""Lesson exercises: a check that fails a wrong answer, and solutions that never overwrite the learner's.

An exercise cell defines the learner's function (raising NotImplementedError until it is done), a
`check_...()` function of asserts, and ends with `exercises.check("Exercise 1", check_...)`. The
hidden solution cell decorates its function of the same name with `@exercises.solution` and runs the
same check. After *Run All* the name calls the learner's function, and the solution only while the
learner's still raises NotImplementedError.
"""

from __future__ import annotations

import functools
from collections.abc import Callable


def check(name: str, test: Callable[[], object]) -> None:
    """Run `test()` and say whether it passed; a note while the exercise is not done; a wrong answer raises."""
    try:
        test()
    except NotImplementedError as err:
        print(f"{name}: not done yet ({err}); until it is, the cells below use the hidden solution.")
    except AssertionError as err:
        raise AssertionError(f"{name}, not right yet: {err}") from err
    else:
        print(f"{name}: check passed.")


def solution(function: Callable) -> Callable:
    """Decorate a solution: its name keeps calling the learner's function, and the solution stands in for it
    only while that raises NotImplementedError (or when there is none)."""
    learner = function.__globals__.get(function.__name__)
    learner = getattr(learner, "learner", learner)  # a solution cell run twice wraps the learner's, not itself
    if not callable(learner):
        return function

    @functools.wraps(function)
    def answer(*args, **kwargs):
        try:
            return learner(*args, **kwargs)
        except NotImplementedError:
            return function(*args, **kwargs)

    answer.learner, answer.solution = learner, function
    return answer
