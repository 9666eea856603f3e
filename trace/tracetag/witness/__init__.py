"""A transparency-log witness (c2sp.org/tlog-witness) and a log monitor, kept pure.

Another organization runs the witness, so it imports formats/ and errors only: no database, no
web framework; http.py is a small WSGI layer on the standard library.
"""
