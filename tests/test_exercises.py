"""mae_helpers.exercises: checks fail a wrong answer; a solution keeps a right answer, stands in for one not done,
and is adopted when its own cell's check finds the learner's answer wrong."""

import pytest

from mae_helpers import exercises

NOT_DONE = '''
def double(x):
    raise NotImplementedError("complete double")
'''
DONE = '''
def double(x):
    return x + x
'''
WRONG = '''
def double(x):
    return x * 3
'''
BROKEN = '''
def double(x):
    return x.nothing
'''
CHECK = '''
def check_double():
    assert double(4) == 8, "double(4) should be 8"
'''
EXERCISE_CHECK = 'exercises.check("Exercise 1", check_double)'
SOLUTION = '''
@exercises.solution
def double(x):
    """Twice x."""
    return 2 * x
'''
SOLUTION_CELL = SOLUTION + EXERCISE_CHECK  # as in the notebooks: the solution cell ends with the same check


def notebook(*cells):
    """A namespace as a kernel's, after running `cells` in order."""
    namespace = {"exercises": exercises}
    for cell in cells:
        exec(cell, namespace)
    return namespace


def exercise(answer):
    """The exercise cell: the learner's answer, the check, and the call that runs it."""
    return answer + CHECK + EXERCISE_CHECK


def test_check_passes_a_right_answer(capsys):
    notebook(exercise(DONE))
    assert capsys.readouterr().out == "Exercise 1: check passed.\n"


def test_check_notes_an_exercise_not_done_and_lets_run_all_go_on(capsys):
    notebook(exercise(NOT_DONE))
    assert "Exercise 1: not done yet (complete double)" in capsys.readouterr().out


def test_check_fails_a_wrong_answer_and_names_the_exercise():
    with pytest.raises(AssertionError, match=r"Exercise 1, not right yet: double\(4\) should be 8"):
        notebook(exercise(WRONG))


def test_solution_stands_in_while_the_learner_has_not_answered(capsys):
    namespace = notebook(exercise(NOT_DONE), SOLUTION_CELL)
    assert namespace["double"](4) == 8 and namespace["double"].__doc__ == "Twice x."
    assert capsys.readouterr().out.endswith("Exercise 1: check passed.\n")


def test_solution_keeps_a_right_answer(capsys):
    namespace = notebook(DONE + CHECK, SOLUTION_CELL)
    assert namespace["double"].learner(4) == 8 and not namespace["double"].adopted
    assert capsys.readouterr().out == "Exercise 1: check passed.\n"


def test_solution_cell_after_a_wrong_answer_adopts_the_solution_and_keeps_the_learners(capsys):
    namespace = {"exercises": exercises}
    with pytest.raises(AssertionError):
        exec(exercise(WRONG), namespace)  # the exercise cell stops: the learner sees what is wrong
    exec(SOLUTION_CELL, namespace)  # a stuck learner runs the solution cell: it passes now
    out = capsys.readouterr().out
    assert "your answer did not pass (double(4) should be 8); from here on `double` is the solution" in out
    assert "yours is kept as `double.learner`" in out and out.endswith("check passed with the solution.\n")
    assert namespace["double"](4) == 8  # the cells below use the solution
    assert namespace["double"].learner(4) == 12  # the learner's version is still there


def test_solution_cell_adopts_the_solution_when_the_learners_code_raises(capsys):
    namespace = notebook(BROKEN + CHECK, SOLUTION_CELL)
    assert namespace["double"](4) == 8
    assert "your answer did not pass (AttributeError:" in capsys.readouterr().out


def test_learner_answering_again_is_used_from_then_on():
    namespace = notebook(WRONG + CHECK, SOLUTION_CELL, exercise(DONE))  # the exercise cell edited and run again
    assert namespace["double"](4) == 8 and not hasattr(namespace["double"], "learner")
    namespace = notebook(exercise(NOT_DONE), SOLUTION_CELL, WRONG)  # an answer written after Run All
    assert namespace["double"](4) == 12


def test_solution_cell_run_twice_does_not_wrap_itself():
    namespace = notebook(exercise(NOT_DONE), SOLUTION_CELL, SOLUTION_CELL)
    assert namespace["double"].learner.__doc__ is None  # the learner's own function, not the first wrapper
    assert namespace["double"](4) == 8
    namespace = notebook(WRONG + CHECK, SOLUTION_CELL, SOLUTION_CELL)
    assert namespace["double"](4) == 8 and namespace["double"].learner(4) == 12


def test_a_broken_solution_still_fails_its_check():
    broken = SOLUTION.replace("2 * x", "2 * x + 1") + EXERCISE_CHECK
    with pytest.raises(AssertionError, match="the solution fails its own check too"):
        notebook(WRONG + CHECK, broken)


def test_a_solution_left_unchecked_is_not_adopted_by_another_exercise():
    """A solution cell stopped before its check leaves nothing for a later check to adopt under another name."""
    namespace = notebook(NOT_DONE + CHECK, SOLUTION)  # no check ran in the solution cell
    other = '''
def triple(x):
    return x * 4
def check_triple():
    assert triple(1) == 3, "triple(1) should be 3"
'''
    with pytest.raises(AssertionError, match="Exercise 2, not right yet"):
        exec(other + 'exercises.check("Exercise 2", check_triple)', namespace)


def test_solution_without_a_learners_function_is_the_solution():
    namespace = notebook(SOLUTION)
    assert namespace["double"](4) == 8 and not hasattr(namespace["double"], "learner")
