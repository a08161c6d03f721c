"""Statistics as pure functions of exact counts and summaries: no app, no database, no
domain. SciPy is not installed on the server, so the distributions are computed here
(`distributions`); normal quantiles come from `statistics.NormalDist`.

- `proportions`: Wilson interval of one proportion, Newcombe's hybrid score interval of a
  difference of two, relative risk with Katz's log interval.
- `means`: Welch's difference of two means.
- `power`: sample size per arm to compare two proportions, and its inverse (the minimum
  detectable effect for a given size).
- `multiplicity`: how many comparisons an experiment makes, Bonferroni and Holm.
"""
