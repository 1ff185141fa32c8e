"""What the benchmarks share; each ``benchmarks/*.py`` file is one measurement.

One module per job:

- ``runs``: one invocation's scratch directory, the order of modes in a round, the one
  ``percentile`` definition, ``median``, and a snapshot of the project's code.
- ``procstat``: CPU and RSS of processes, process trees and the whole machine, from /proc.
- ``tools``: programs from outside the project: Debian packages (nginx, wrk), installed
  when missing and running as root, and peer projects in their own virtualenvs (pywb).
- ``servers``: free loopback ports, a plain HTTP GET, and a server subprocess that is
  started, waited for until it answers, measured and stopped (``newsarchive serve``, pywb's
  ``wayback``, ``moto_server``).
- ``load``: HTTP load against such a server: wrk with a Lua script rotating paths, or an
  httpx loop in a child process where wrk is missing.
- ``pyspy``: py-spy sampling a server, and a summary of where its time goes.
- ``newssite``: generated news content: the Bench Courier site (article pages, sitemap,
  robots.txt) and news-like URLs of several hosts for catalogs.
- ``nginx``: nginx with a generated config serving a directory on 127.0.0.1.

Benchmarks run as scripts (``.venv/bin/python benchmarks/X.py``), so this package is
imported as ``support`` from the directory beside them.
"""
