"""report.py: the verdict of each metric against the spread of the two retrains."""

from mae_helpers.report import UnlearningReport


def test_two_retrains_that_agree_on_relearning_steps_still_leave_one_check_of_room():
    """A zero-width retrain spread on a count is not a verdict of "different" for every other count."""
    def report(unlearned_steps):
        blocks = [{"relearn_steps": steps} for steps in (0, unlearned_steps, 2, 2)]
        return UnlearningReport(*blocks[:3], (3,), {}, {}, blocks[3])

    assert report(2).verdict_of("relearn_steps") == "within spread"
    assert report(3).verdict_of("relearn_steps") == "within spread"  # the next check after 2
    assert report(4).verdict_of("relearn_steps") == "above spread"
    assert report(0).verdict_of("relearn_steps") == "below spread"
