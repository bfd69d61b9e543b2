"""Recording of requests, usage and logs (SQLite, WAL), and request traces.

Import the submodules: ``hub.Observability`` is what the server keeps (log ring, access log,
recorder, reads); ``recorder.Recorder`` is the relay observer that writes off the request path;
``queries`` serves the console, the debug routes and the CLI; ``sanitize`` decides what may be
written down; ``migrations`` and ``db`` own the file; ``bundle`` writes feedback bundles;
``traces`` keeps per-request trace files.
"""
