"""mae_helpers.exercises: checks fail a wrong answer, and a solution never overwrites the learner's answer."""

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
SOLUTION_CELL = '''
@exercises.solution
def double(x):
    """Twice x."""
    return 2 * x
'''


def notebook(*cells):
    """A namespace as a kernel's, after running `cells` in order."""
    namespace = {"exercises": exercises}
    for cell in cells:
        exec(cell, namespace)
    return namespace


def check_double(namespace):
    def test():
        assert namespace["double"](4) == 8, "double(4) should be 8"
    return test


def test_check_passes_a_right_answer(capsys):
    exercises.check("Exercise 1", check_double(notebook(DONE)))
    assert capsys.readouterr().out == "Exercise 1: check passed.\n"


def test_check_notes_an_exercise_not_done_and_lets_run_all_go_on(capsys):
    exercises.check("Exercise 1", check_double(notebook(NOT_DONE)))
    assert "Exercise 1: not done yet (complete double)" in capsys.readouterr().out


def test_check_fails_a_wrong_answer_and_names_the_exercise():
    with pytest.raises(AssertionError, match=r"Exercise 1, not right yet: double\(4\) should be 8"):
        exercises.check("Exercise 1", check_double(notebook(WRONG)))


def test_solution_stands_in_only_while_the_learner_has_not_answered():
    namespace = notebook(NOT_DONE, SOLUTION_CELL)
    assert namespace["double"](4) == 8 and namespace["double"].__doc__ == "Twice x."
    exercises.check("Exercise 1", check_double(namespace))  # passes


def test_solution_keeps_the_learners_answer_even_a_wrong_one():
    assert notebook(DONE, SOLUTION_CELL)["double"](4) == 8
    namespace = notebook(WRONG, SOLUTION_CELL)
    assert namespace["double"](4) == 12  # Run All does not hide a wrong answer: the check above it failed
    with pytest.raises(AssertionError):
        exercises.check("Exercise 1", check_double(namespace))


def test_learner_answering_after_run_all_is_used_from_then_on():
    namespace = notebook(NOT_DONE, SOLUTION_CELL, WRONG)  # the exercise cell edited and run again
    assert namespace["double"](4) == 12
    exec(SOLUTION_CELL, namespace)  # and the solution cell run again: still the learner's
    assert namespace["double"](4) == 12


def test_solution_cell_run_twice_does_not_wrap_itself():
    namespace = notebook(NOT_DONE, SOLUTION_CELL, SOLUTION_CELL)
    assert namespace["double"].learner.__doc__ is None  # the learner's own function, not the first wrapper
    assert namespace["double"](4) == 8


def test_solution_without_a_learners_function_is_the_solution():
    namespace = notebook(SOLUTION_CELL)
    assert namespace["double"](4) == 8 and not hasattr(namespace["double"], "learner")
