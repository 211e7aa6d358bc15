"""From outcomes to results: rates and intervals, SCM taxonomies, statistics, paired tests, figures."""
