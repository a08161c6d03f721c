"""The distributions moved out of app/reports/survey_stats.py (app/stats/distributions.py).

The t tables themselves are checked in tests/reports/test_survey_stats.py through the
re-exported names; here the move and the normal quantile."""

import pytest

from app.reports import survey_stats
from app.stats import distributions


def test_survey_stats_still_exports_the_same_functions():
    for name in ("t_quantile", "t_two_sided_p", "incomplete_beta", "chi2_1_sf"):
        assert getattr(survey_stats, name) is getattr(distributions, name)


@pytest.mark.parametrize(("level", "z"), [(0.90, 1.644854), (0.95, 1.959964), (0.99, 2.575829)])
def test_normal_quantiles(level, z):
    assert distributions.z_two_sided(level) == pytest.approx(z, abs=1e-6)


def test_t_tends_to_the_normal():
    assert distributions.t_quantile(0.975, 1e6) == pytest.approx(1.959964, abs=1e-5)


def test_bad_level():
    with pytest.raises(ValueError, match="level must be strictly between 0 and 1"):
        distributions.z_two_sided(1.0)
