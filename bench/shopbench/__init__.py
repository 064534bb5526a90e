"""shopbench: shopd measured against the peers (nginx, Express, Express + Redis, BullMQ).

Run it from the repository root as `python3 bench/run.py` (or `python3 -m bench`, or the
old `bash bench/run.sh`); see bench/README.md. Modules, by responsibility:

  settings   the environment knobs, validated into one frozen Settings
  cases      the table of cases (what is measured, against which server, for how long)
  servers    the table of servers (argv, port, readiness, environment, CPU) and ServerStack
  targets    the table of targets (ratios against a named reference) and their evaluation
  plan       the schedule of a run (which server starts and stops when, run order)
  procs      every child process: own session, bounded, stopped on exit and on signals
  wrk        wrk's command line and the parser of its output
  cpu        /proc/stat and /proc/<pid>/stat accounting
  shopd_api  the HTTP calls to shopd and the parsers of its /metrics
  pg         PostgreSQL: psql, the counters per order, pgbench's command lines and output
  measure    one HTTP run, one orders run (end to end, drained), one pgbench run
  prepare    packages, the peers' copy with node_modules, the Release build
  machine    machine, git, versions and load checks
  results    results.json: medians, writing, loading, comparing
  report     markdown: the full report, the README tables, the comparison
  runner     executes the plan
  cli        the command line
"""
