"""Lesson exercises: a check that fails a wrong answer, and solutions a learner can adopt.

An exercise cell defines the learner's function (raising NotImplementedError until it is done), a
`check_...()` function of asserts, and ends with `exercises.check("Exercise 1", check_...)`. The
hidden solution cell decorates its function of the same name with `@exercises.solution` and runs the
same check. What the name then calls:

* the learner's function while it passes the check (a right answer is never replaced);
* the solution while the learner's still raises NotImplementedError (so *Run All* goes on);
* the solution from then on, when the solution cell's check finds the learner's answer wrong: a
  stuck learner adopts the solution by running its cell. One printed line says so, and the
  learner's version stays reachable as `NAME.learner`. Running the exercise cell again (a new
  answer) makes the learner's function the one in use again.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

# Solutions decorated since the last check: the solution cell's own check may adopt them.
_PENDING: list[Callable] = []


def check(name: str, test: Callable[[], object]) -> None:
    """Run `test()` and say whether it passed; a note while the exercise is not done; a wrong answer raises.

    In a solution cell (after `@solution`), a wrong answer instead makes the solution the function in use,
    says so in one line, and runs the check again on it.
    """
    pending = [answer for answer in _PENDING  # the solutions in force under a name the check uses
               if getattr(test, "__globals__", {}).get(answer.__name__) is answer and _refers_to(test, answer.__name__)]
    _PENDING.clear()
    try:
        test()
    except NotImplementedError as err:
        print(f"{name}: not done yet ({err}); until it is, the cells below use the hidden solution.")
    except Exception as err:  # a learner's wrong code may raise anything, not only a failed assert
        wrong = err if isinstance(err, AssertionError) else f"{type(err).__name__}: {err}"
        if not pending:  # the exercise cell itself: the learner sees what is wrong
            if isinstance(err, AssertionError):
                raise AssertionError(f"{name}, not right yet: {err}") from err
            raise
        for answer in pending:
            answer.adopted = True
        names = " and ".join(f"`{answer.__name__}`" for answer in pending)
        kept = " and ".join(f"`{answer.__name__}.learner`" for answer in pending)
        print(f"{name}: your answer did not pass ({wrong}); from here on {names} is the solution (yours is kept "
              f"as {kept}; run your exercise cell again to use yours).")
        try:
            test()
        except AssertionError as again:
            raise AssertionError(f"{name}: the solution fails its own check too: {again}") from again
        print(f"{name}: check passed with the solution.")
    else:
        print(f"{name}: check passed.")


def _refers_to(test: Callable, name: str) -> bool:
    """Whether `test`'s code (nested functions and generator expressions included) names the global `name`."""
    codes = [getattr(test, "__code__", None)]
    while codes:
        code = codes.pop()
        if code is None:
            continue
        if name in code.co_names:
            return True
        codes += [const for const in code.co_consts if hasattr(const, "co_names")]
    return False


def solution(function: Callable) -> Callable:
    """Decorate a solution: its name keeps calling the learner's function while that is right, and the solution
    stands in while the learner's raises NotImplementedError, or for good once the solution cell's check has
    found the learner's answer wrong (module docstring). Without a learner's function it is the solution."""
    learner = function.__globals__.get(function.__name__)
    learner = getattr(learner, "learner", learner)  # a solution cell run twice wraps the learner's, not itself
    if not callable(learner):
        return function

    @functools.wraps(function)
    def answer(*args, **kwargs):
        if answer.adopted:
            return function(*args, **kwargs)
        try:
            return learner(*args, **kwargs)
        except NotImplementedError:
            return function(*args, **kwargs)

    answer.learner, answer.solution, answer.adopted = learner, function, False
    _PENDING.append(answer)
    return answer
