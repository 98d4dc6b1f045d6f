"""The CLI's glue: each module carries out one command on top of the library.

``run`` (plan + run a sweep), ``plan`` (describe a plan), ``exports`` (pareto, dashboard,
report), ``commitment`` (the t_n diagnostic) and ``sample`` (sample a finished trial). The
library below (config, spec, methods, training, metrics, search, tracking, analysis) never
imports from here.
"""
